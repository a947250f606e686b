//! What can stop an import: facts only; `diag::messages::import` words them
//! (E700-E749).

/// One node the importer cannot translate, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeProblem {
    pub node: String,
    pub op: String,
    /// What is missing or unsupported (`auto_pad = SAME_LOWER`).
    pub what: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportError {
    /// The bytes are not a (complete) ONNX protobuf.
    Malformed {
        file: String,
        offset: usize,
        context: String,
    },
    /// A tensor's data lives in another file.
    ExternalData { file: String, tensor: String },
    /// Every node that is not supported, at once.
    Unsupported {
        file: String,
        problems: Vec<NodeProblem>,
    },
    /// A graph input whose channel or spatial size is not a fixed number.
    DynamicShape {
        file: String,
        input: String,
        dims: String,
    },
    /// Float values that no quantizer follows: the nodes that need one.
    FloatRegion {
        file: String,
        nodes: Vec<NodeProblem>,
    },
    /// A scale or zero point whose shape does not fit its tensor.
    ScaleShape {
        file: String,
        node: String,
        what: String,
    },
    /// A graph input or output that is not a `[N, C, H, W]` / `[C, H, W]`
    /// tensor, a graph with no input ...
    Layout { file: String, what: String },
    /// An exact requantization or constant needs more than Convoy's 64-bit
    /// types hold.
    TooWide {
        file: String,
        node: String,
        what: String,
    },
    /// The output files exist and `--force` was not given.
    OutputExists { path: String },
    /// The script written does not check: a bug in the importer.
    ScriptRejected { file: String, diagnostics: String },
}
