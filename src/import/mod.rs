//! `convoy import`: a quantized ONNX model (QDQ, QOperator or QONNX) in, a
//! Convoy script and its `.npy` files out, with the model's exact meaning
//! (`docs/import.md`). One module per phase:
//!
//! | phase | module | input -> output |
//! |---|---|---|
//! | decode | `proto.rs` | bytes -> ONNX `Model` (hand-written protobuf reader) |
//! | values | `values.rs`, `exact.rs` | what a tensor is: codes, `(codes - zp) * scale`, an exact real, a constant; float32 scales as exact dyadic numbers |
//! | recognize | `lower.rs`, `ops.rs`, `layers.rs`, `rearrange.rs`, `quant_ops.rs` | nodes -> values and script lines, every unsupported node collected |
//! | requantize | `requant.rs` | an exact real and a scale -> the lets that round it exactly |
//! | write | `script.rs` | declarations -> script text and `.npy` bytes (then `convoy fmt`) |
//!
//! Pure: bytes in, text and bytes out; the CLI (`src/cli/import_cmd.rs`)
//! reads the model and writes the files.

mod batchnorm;
mod error;
mod exact;
mod layers;
mod lower;
mod ops;
mod proto;
mod quant_ops;
mod rearrange;
mod requant;
mod script;
mod trunc;
mod values;

pub use error::{ImportError, NodeProblem};

/// What `import` produces.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The script, formatted.
    pub script: String,
    /// `.npy` files, with paths relative to the script.
    pub files: Vec<(String, Vec<u8>)>,
}

/// Translates the ONNX model in `bytes` (read from `file`, named in errors)
/// into a pipeline called `name`, whose data files go to the folder `name/`.
pub fn import(bytes: &[u8], file: &str, name: &str) -> Result<Imported, ImportError> {
    let model = proto::decode_model(bytes).map_err(|e| ImportError::Malformed {
        file: file.to_string(),
        offset: e.offset,
        context: e.context,
    })?;
    let graph = &model.graph;
    let mut lowering = lower::Lowering::new(file, graph, name)?;
    lowering.script.comment(&format!(
        "Imported by `convoy import` from {} (exact meaning: docs/import.md).",
        file.rsplit('/').next().unwrap_or(file)
    ));
    lowering.inputs(graph)?;
    lowering.nodes(graph)?;
    lowering.outputs(graph)?;
    let text = lowering.script.render(name);
    let mut sources = crate::SourceMap::new();
    let id = sources.add(format!("{name}.cnn"), text.clone());
    let script = crate::format(&sources, id).map_err(|d| ImportError::ScriptRejected {
        file: file.to_string(),
        diagnostics: crate::diag::render(&sources, &d, false),
    })?;
    Ok(Imported {
        script,
        files: lowering.script.files,
    })
}
