//! What the editor says about each built-in stage: its parameters, a line of
//! documentation and a snippet. The checker's own signature table is private
//! to `check`; `tests/lsp_stages.rs` pins this one to it through the public
//! API (every name here is a built-in, with exactly these parameters).

/// A parameter of a built-in stage.
#[derive(Clone, Copy, Debug)]
pub struct StageParam {
    pub name: &'static str,
    pub required: bool,
    /// What an omitted optional parameter means, or the allowed words.
    pub note: &'static str,
}

#[derive(Clone, Copy, Debug)]
pub struct Stage {
    pub name: &'static str,
    pub params: &'static [StageParam],
    /// `concat` takes any number of maps.
    pub variadic: bool,
    pub doc: &'static str,
    /// Snippet body in the LSP snippet syntax (`$1`, `${2:w}`).
    pub snippet: &'static str,
}

const fn req(name: &'static str) -> StageParam {
    StageParam {
        name,
        required: true,
        note: "",
    }
}

const fn opt(name: &'static str, note: &'static str) -> StageParam {
    StageParam {
        name,
        required: false,
        note,
    }
}

const STRIDE: StageParam = opt("stride", "1; one number or (h, w)");
const PAD: StageParam = opt(
    "pad",
    "0; logical zero padding: one number, (h, w) or (top, bottom, left, right)",
);
const DILATION: StageParam = opt("dilation", "1; one number or (h, w)");
const GROUPS: StageParam = opt("groups", "1");
const OUTPUT_PAD: StageParam = opt(
    "output_pad",
    "0; extra rows / columns at the bottom / right",
);

pub const STAGES: &[Stage] = &[
    Stage {
        name: "conv",
        params: &[req("x"), req("w"), STRIDE, PAD, DILATION, GROUPS],
        variadic: false,
        doc: "2-D convolution (cross-correlation), ONNX `Conv` / PyTorch `conv2d`. \
              `x: [C, H, W]`, `w: [O, C/groups, KH, KW]` -> `[O, H', W']`.",
        snippet: "conv(${1:x}, ${2:w}${3:, pad: ${4:1}})",
    },
    Stage {
        name: "dwconv",
        params: &[req("x"), req("w"), STRIDE, PAD, DILATION],
        variadic: false,
        doc: "Depthwise convolution: `conv` with `groups` = channels. \
              `w: [C, 1, KH, KW]`.",
        snippet: "dwconv(${1:x}, ${2:w}, pad: ${3:1})",
    },
    Stage {
        name: "deconv",
        params: &[
            req("x"),
            req("w"),
            STRIDE,
            PAD,
            OUTPUT_PAD,
            DILATION,
            GROUPS,
        ],
        variadic: false,
        doc: "Transposed convolution, ONNX `ConvTranspose` / PyTorch \
              `conv_transpose2d`. `w: [C, O/groups, KH, KW]`.",
        snippet: "deconv(${1:x}, ${2:w}, stride: ${3:2}, pad: ${4:1})",
    },
    Stage {
        name: "dwdeconv",
        params: &[req("x"), req("w"), STRIDE, PAD, OUTPUT_PAD, DILATION],
        variadic: false,
        doc: "Depthwise transposed convolution: `deconv` with `groups` = channels. \
              `w: [C, 1, KH, KW]`.",
        snippet: "dwdeconv(${1:x}, ${2:w}, stride: ${3:2}, pad: ${4:1})",
    },
    Stage {
        name: "upsample",
        params: &[req("x"), req("factor"), opt("mode", "nearest | bilinear")],
        variadic: false,
        doc: "Integer-factor upsampling, ONNX `Resize`: `nearest` (asymmetric, floor) \
              or `bilinear` (half_pixel; exact in fixed point for power-of-two factors).",
        snippet: "upsample(${1:x}, ${2:2}, ${3|nearest,bilinear|})",
    },
    Stage {
        name: "maxpool",
        params: &[
            req("x"),
            req("kernel"),
            opt("stride", "the kernel size"),
            PAD,
            opt(
                "indices",
                "false; `true` also returns the flat index h * W + w of each maximum",
            ),
        ],
        variadic: false,
        doc: "Max pooling, ONNX `MaxPool` (padding never wins). With `indices: true` \
              it returns `(values, indices)`, as PyTorch's `max_pool2d(return_indices=True)`.",
        snippet: "maxpool(${1:x}, ${2:2})",
    },
    Stage {
        name: "maxunpool",
        params: &[
            req("x"),
            req("indices"),
            req("kernel"),
            opt("stride", "the kernel size"),
            PAD,
        ],
        variadic: false,
        doc: "PyTorch `max_unpool2d`: each value goes back to its index, zeros elsewhere.",
        snippet: "maxunpool(${1:x}, ${2:idx}, ${3:2})",
    },
    Stage {
        name: "relu",
        params: &[req("x")],
        variadic: false,
        doc: "`max(x, 0)`, elementwise.",
        snippet: "relu(${1:x})",
    },
    Stage {
        name: "clip",
        params: &[req("x"), req("lo"), req("hi")],
        variadic: false,
        doc: "`min(max(x, lo), hi)`, elementwise (`clip(x, 0, 6)` is relu6).",
        snippet: "clip(${1:x}, ${2:0}, ${3:6})",
    },
    Stage {
        name: "max",
        params: &[req("a"), req("b")],
        variadic: false,
        doc: "Elementwise maximum, broadcasting a `[C]` vector or a scalar.",
        snippet: "max(${1:a}, ${2:b})",
    },
    Stage {
        name: "min",
        params: &[req("a"), req("b")],
        variadic: false,
        doc: "Elementwise minimum, broadcasting a `[C]` vector or a scalar.",
        snippet: "min(${1:a}, ${2:b})",
    },
    Stage {
        name: "floor",
        params: &[req("x")],
        variadic: false,
        doc: "To an integer, toward minus infinity.",
        snippet: "floor(${1:x})",
    },
    Stage {
        name: "round",
        params: &[req("x")],
        variadic: false,
        doc: "To an integer, nearest, ties away from zero.",
        snippet: "round(${1:x})",
    },
    Stage {
        name: "trunc",
        params: &[req("x")],
        variadic: false,
        doc: "To an integer, toward zero (what assigning an `ap_fixed` to an `ap_int` does).",
        snippet: "trunc(${1:x})",
    },
    Stage {
        name: "concat",
        params: &[req("a"), req("b")],
        variadic: true,
        doc: "Concatenation along channels; heights and widths must agree.",
        snippet: "concat(${1:a}, ${2:b})",
    },
];

pub fn find(name: &str) -> Option<&'static Stage> {
    STAGES.iter().find(|s| s.name == name)
}

impl Stage {
    /// `conv(x, w, stride:, pad:, dilation:, groups:)`
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| {
                if p.required {
                    p.name.to_string()
                } else {
                    format!("{}:", p.name)
                }
            })
            .chain(self.variadic.then(|| "...".to_string()))
            .collect();
        format!("{}({})", self.name, params.join(", "))
    }

    /// Markdown: the signature, the doc and the optional parameters' defaults.
    pub fn markdown(&self) -> String {
        let mut out = format!("```convoy\n{}\n```\n{}", self.signature(), self.doc);
        let optional: Vec<String> = self
            .params
            .iter()
            .filter(|p| !p.required)
            .map(|p| format!("- `{}`: {}", p.name, p.note))
            .collect();
        if !optional.is_empty() {
            out.push_str("\n\n");
            out.push_str(&optional.join("\n"));
        }
        out
    }
}

/// Words that a stage argument may be, with what they mean.
pub const WORDS: &[(&str, &str)] = &[
    (
        "nearest",
        "`upsample` mode: nearest neighbour (ONNX asymmetric, floor)",
    ),
    ("bilinear", "`upsample` mode: bilinear (ONNX half_pixel)"),
    (
        "true",
        "`maxpool(..., indices: true)` also returns the indices",
    ),
    ("false", "`maxpool` returns only the values"),
];
