//! The built-in stages, in one table that every tool reads: the checker
//! binds arguments to these parameters, takes the defaults and the allowed
//! words from them and dispatches on [`Kind`]; the language server shows
//! them in completion, hover and signature help; `tests/it/builtins.rs` holds
//! the editor grammars to exactly these names. A stage added here without
//! an implementation in the checker does not compile (its `Kind` is matched
//! exhaustively there).

/// Which built-in a call names; the checker matches on it exhaustively.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Conv,
    DwConv,
    Deconv,
    DwDeconv,
    Upsample,
    MaxPool,
    MaxUnpool,
    Relu,
    Clip,
    Max,
    Min,
    Floor,
    Round,
    Trunc,
    Concat,
    Table,
    // Issue 14, items 2 and 4: pooling by averages, dense, channel reductions.
    AvgPool,
    GlobalAvgPool,
    Dense,
    Sum,
    ArgMax,
    // Rearrangements (issue 14 item 3).
    DepthToSpace,
    SpaceToDepth,
    Flatten,
    Reshape,
    Slice,
    Pad,
}

/// What an omitted argument means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfOmitted {
    /// The argument must be given.
    Required,
    /// This number (for a pair, both of `(h, w)`; for `pad`, every side).
    Number(usize),
    /// This word (one of the parameter's [`Param::words`]).
    Word(&'static str),
    /// Derived from the other arguments, as described.
    Derived(&'static str),
}

/// A word an argument may be (`nearest`), with what it means there.
#[derive(Clone, Copy, Debug)]
pub struct Word {
    pub word: &'static str,
    pub doc: &'static str,
}

/// A parameter of a built-in stage, in positional order.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub default: IfOmitted,
    /// The words the argument may be; empty when it is a number or a tensor.
    pub words: &'static [Word],
    /// What the argument may be, after its default in hover (`one number or (h, w)`).
    pub note: &'static str,
}

/// What a stage returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returns {
    /// One tensor.
    One,
    /// `(values, indices)` when the named parameter is `true`, else one tensor.
    PairWhen(&'static str),
}

#[derive(Clone, Copy, Debug)]
pub struct Builtin {
    pub kind: Kind,
    pub name: &'static str,
    pub params: &'static [Param],
    /// `concat` takes any number of maps after its listed parameters.
    pub variadic: bool,
    pub returns: Returns,
    /// One paragraph of Markdown.
    pub doc: &'static str,
    /// Snippet body in the LSP snippet syntax (`$1`, `${2:w}`).
    pub snippet: &'static str,
}

const fn req(name: &'static str) -> Param {
    Param {
        name,
        default: IfOmitted::Required,
        words: &[],
        note: "",
    }
}

const fn opt(name: &'static str, default: IfOmitted, note: &'static str) -> Param {
    Param {
        name,
        default,
        words: &[],
        note,
    }
}

const fn word(
    name: &'static str,
    words: &'static [Word],
    default: &'static str,
    note: &'static str,
) -> Param {
    Param {
        name,
        default: IfOmitted::Word(default),
        words,
        note,
    }
}

const STRIDE: Param = opt("stride", IfOmitted::Number(1), "one number or (h, w)");
const POOL_STRIDE: Param = opt("stride", IfOmitted::Derived("the kernel size"), "");
const PAD: Param = opt(
    "pad",
    IfOmitted::Number(0),
    "logical zero padding: one number, (h, w) or (top, bottom, left, right)",
);
const DILATION: Param = opt("dilation", IfOmitted::Number(1), "one number or (h, w)");
const GROUPS: Param = opt("groups", IfOmitted::Number(1), "");
const OUTPUT_PAD: Param = opt(
    "output_pad",
    IfOmitted::Number(0),
    "extra rows / columns at the bottom / right",
);
const MODE: Param = word(
    "mode",
    &[
        Word {
            word: "nearest",
            doc: "`upsample` mode: nearest neighbour (ONNX asymmetric, floor)",
        },
        Word {
            word: "bilinear",
            doc: "`upsample` mode: bilinear (ONNX half_pixel)",
        },
    ],
    "nearest",
    "or `bilinear` (power-of-two factors)",
);
const INDICES: Param = word(
    "indices",
    &[
        Word {
            word: "true",
            doc: "`maxpool(..., indices: true)` also returns the indices",
        },
        Word {
            word: "false",
            doc: "`maxpool` returns only the values",
        },
    ],
    "false",
    "`true` also returns the flat index h * W + w of each maximum",
);

const fn table_fn(word: &'static str, doc: &'static str) -> Word {
    Word { word, doc }
}

/// `table`'s functions (`numeric::table::TableFn`), or a user table.
const TABLE_F: Param = Param {
    name: "f",
    default: IfOmitted::Required,
    words: &[
        table_fn("sigmoid", "`table` function: 1 / (1 + e^-x)"),
        table_fn("tanh", "`table` function: hyperbolic tangent"),
        table_fn("exp", "`table` function: e^x"),
        table_fn(
            "log",
            "`table` function: natural logarithm (x > 0, else an error)",
        ),
        table_fn(
            "sqrt",
            "`table` function: square root (x >= 0, else an error)",
        ),
        table_fn(
            "reciprocal",
            "`table` function: 1 / x (x != 0, else an error)",
        ),
        table_fn("softplus", "`table` function: ln(1 + e^x)"),
        table_fn("gelu", "`table` function: x Phi(x) (exact, with erf)"),
        table_fn("silu", "`table` function: x / (1 + e^-x) (swish)"),
    ],
    note: "a function, or a param `[2^W]` of entries in the order of x's codes",
};

const BOOLEAN: &[Word] = &[
    Word {
        word: "true",
        doc: "yes",
    },
    Word {
        word: "false",
        doc: "no",
    },
];

const COUNT_PAD: Param = word(
    "count_include_pad",
    BOOLEAN,
    "false",
    "`true` divides every window by KH * KW, `false` by its real pixels (ONNX)",
);

const KEEP: Param = word(
    "keep",
    BOOLEAN,
    "false",
    "`true` or `false`: the result is `[1, H, W]` either way (ONNX keepdims)",
);
// Rearrangements (issue 14 item 3).
const SHUFFLE_MODE: Param = word(
    "mode",
    &[
        Word {
            word: "dcr",
            doc: "`depth_to_space` mode: depth, column, row (ONNX's default)",
        },
        Word {
            word: "crd",
            doc: "`depth_to_space` mode: column, row, depth (PyTorch `pixel_shuffle`)",
        },
    ],
    "dcr",
    "or `crd`",
);
const fn axis_range(name: &'static str) -> Param {
    opt(
        name,
        IfOmitted::Derived("the whole axis"),
        "a half-open range `a..b` (`a..`, `..b`)",
    )
}

/// Every built-in stage and function.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        kind: Kind::Conv,
        name: "conv",
        params: &[req("x"), req("w"), STRIDE, PAD, DILATION, GROUPS],
        variadic: false,
        returns: Returns::One,
        doc: "2-D convolution (cross-correlation), ONNX `Conv` / PyTorch `conv2d`. \
              `x: [C, H, W]`, `w: [O, C/groups, KH, KW]` -> `[O, H', W']`.",
        snippet: "conv(${1:x}, ${2:w}${3:, pad: ${4:1}})",
    },
    Builtin {
        kind: Kind::DwConv,
        name: "dwconv",
        params: &[req("x"), req("w"), STRIDE, PAD, DILATION],
        variadic: false,
        returns: Returns::One,
        doc: "Depthwise convolution: `conv` with `groups` = channels. \
              `w: [C, 1, KH, KW]`.",
        snippet: "dwconv(${1:x}, ${2:w}, pad: ${3:1})",
    },
    Builtin {
        kind: Kind::Deconv,
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
        returns: Returns::One,
        doc: "Transposed convolution, ONNX `ConvTranspose` / PyTorch \
              `conv_transpose2d`. `w: [C, O/groups, KH, KW]`.",
        snippet: "deconv(${1:x}, ${2:w}, stride: ${3:2}, pad: ${4:1})",
    },
    Builtin {
        kind: Kind::DwDeconv,
        name: "dwdeconv",
        params: &[req("x"), req("w"), STRIDE, PAD, OUTPUT_PAD, DILATION],
        variadic: false,
        returns: Returns::One,
        doc: "Depthwise transposed convolution: `deconv` with `groups` = channels. \
              `w: [C, 1, KH, KW]`.",
        snippet: "dwdeconv(${1:x}, ${2:w}, stride: ${3:2}, pad: ${4:1})",
    },
    Builtin {
        kind: Kind::Upsample,
        name: "upsample",
        params: &[req("x"), req("factor"), MODE],
        variadic: false,
        returns: Returns::One,
        doc: "Integer-factor upsampling, ONNX `Resize`: `nearest` (asymmetric, floor) \
              or `bilinear` (half_pixel; exact in fixed point for power-of-two factors).",
        snippet: "upsample(${1:x}, ${2:2}, ${3|nearest,bilinear|})",
    },
    Builtin {
        kind: Kind::MaxPool,
        name: "maxpool",
        params: &[req("x"), req("kernel"), POOL_STRIDE, PAD, INDICES],
        variadic: false,
        returns: Returns::PairWhen("indices"),
        doc: "Max pooling, ONNX `MaxPool` (padding never wins). With `indices: true` \
              it returns `(values, indices)`, as PyTorch's `max_pool2d(return_indices=True)`.",
        snippet: "maxpool(${1:x}, ${2:2})",
    },
    Builtin {
        kind: Kind::MaxUnpool,
        name: "maxunpool",
        params: &[req("x"), req("indices"), req("kernel"), POOL_STRIDE, PAD],
        variadic: false,
        returns: Returns::One,
        doc: "PyTorch `max_unpool2d`: each value goes back to its index, zeros elsewhere.",
        snippet: "maxunpool(${1:x}, ${2:idx}, ${3:2})",
    },
    Builtin {
        kind: Kind::Relu,
        name: "relu",
        params: &[req("x")],
        variadic: false,
        returns: Returns::One,
        doc: "`max(x, 0)`, elementwise.",
        snippet: "relu(${1:x})",
    },
    Builtin {
        kind: Kind::Clip,
        name: "clip",
        params: &[req("x"), req("lo"), req("hi")],
        variadic: false,
        returns: Returns::One,
        doc: "`min(max(x, lo), hi)`, elementwise (`clip(x, 0, 6)` is relu6).",
        snippet: "clip(${1:x}, ${2:0}, ${3:6})",
    },
    Builtin {
        kind: Kind::Max,
        name: "max",
        params: &[
            req("a"),
            opt(
                "b",
                IfOmitted::Derived("none: the maximum over `a`'s channels"),
                "",
            ),
        ],
        variadic: false,
        returns: Returns::One,
        doc: "Elementwise maximum, broadcasting a `[C]` vector or a scalar. With one \
              argument, the maximum over the channels of each pixel (ONNX `ReduceMax` \
              on axis 1): `[C, H, W]` -> `[1, H, W]`.",
        snippet: "max(${1:a}, ${2:b})",
    },
    Builtin {
        kind: Kind::Min,
        name: "min",
        params: &[req("a"), req("b")],
        variadic: false,
        returns: Returns::One,
        doc: "Elementwise minimum, broadcasting a `[C]` vector or a scalar.",
        snippet: "min(${1:a}, ${2:b})",
    },
    Builtin {
        kind: Kind::Floor,
        name: "floor",
        params: &[req("x")],
        variadic: false,
        returns: Returns::One,
        doc: "To an integer, toward minus infinity.",
        snippet: "floor(${1:x})",
    },
    Builtin {
        kind: Kind::Round,
        name: "round",
        params: &[req("x")],
        variadic: false,
        returns: Returns::One,
        doc: "To an integer, nearest, ties away from zero.",
        snippet: "round(${1:x})",
    },
    Builtin {
        kind: Kind::Trunc,
        name: "trunc",
        params: &[req("x")],
        variadic: false,
        returns: Returns::One,
        doc: "To an integer, toward zero (what assigning an `ap_fixed` to an `ap_int` does).",
        snippet: "trunc(${1:x})",
    },
    Builtin {
        kind: Kind::Concat,
        name: "concat",
        params: &[req("a"), req("b")],
        variadic: true,
        returns: Returns::One,
        doc: "Concatenation along channels; heights and widths must agree.",
        snippet: "concat(${1:a}, ${2:b})",
    },
    Builtin {
        kind: Kind::Table,
        name: "table",
        params: &[
            req("x"),
            TABLE_F,
            opt(
                "T",
                IfOmitted::Derived("the user table's type"),
                "the output type, required with a function",
            ),
        ],
        variadic: false,
        returns: Returns::One,
        doc: "Lookup table, elementwise: `f(x)` for each value of `x` (at most 16 bits), \
              correctly rounded to `T` with `T`'s quantization and overflow modes \
              (`table(x, sigmoid, ufixed<8, 0, rnd_conv, sat>)`), or entry `code - min` \
              of a user table `table(x, lut)` (`lut: T[2^W]`). Computed at check time; \
              a ROM in HLS.",
        snippet: "table(${1:x}, ${2|sigmoid,tanh,exp,log,sqrt,reciprocal,softplus,gelu,silu|}, ${3:ufixed<8, 0, rnd, sat>})",
    },
    // Issue 14, items 2 and 4.
    Builtin {
        kind: Kind::AvgPool,
        name: "avgpool",
        params: &[req("x"), req("kernel"), POOL_STRIDE, PAD, COUNT_PAD],
        variadic: false,
        returns: Returns::One,
        doc: "Average pooling, ONNX `AveragePool` / PyTorch `avg_pool2d`: each window's \
              sum divided by its count, rounded to the nearest value of `x`'s type, ties \
              to even (the integers of `QLinearAveragePool` with equal scales). The \
              count is KH * KW with `count_include_pad: true`, else the window's real pixels.",
        snippet: "avgpool(${1:x}, ${2:2})",
    },
    Builtin {
        kind: Kind::GlobalAvgPool,
        name: "global_avgpool",
        params: &[req("x")],
        variadic: false,
        returns: Returns::One,
        doc: "ONNX `GlobalAveragePool`: the mean of each channel, rounded to the nearest \
              value of `x`'s type, ties to even. `[C, H, W]` -> `[C, 1, 1]`.",
        snippet: "global_avgpool(${1:x})",
    },
    Builtin {
        kind: Kind::Dense,
        name: "dense",
        params: &[req("x"), req("w")],
        variadic: false,
        returns: Returns::One,
        doc: "Fully connected layer, ONNX `Flatten` + `Gemm` (`transB = 1`) / PyTorch \
              `linear`: `x: [C, H, W]` flattened in C, H, W order, `w: [O, C*H*W]` -> \
              `[O, 1, 1]` (a convolution whose kernel is the whole map).",
        snippet: "dense(${1:x}, ${2:w})",
    },
    Builtin {
        kind: Kind::Sum,
        name: "sum",
        params: &[req("x")],
        variadic: false,
        returns: Returns::One,
        doc: "The sum over the channels of each pixel, exact (ONNX `ReduceSum` on axis 1): \
              `[C, H, W]` -> `[1, H, W]`.",
        snippet: "sum(${1:x})",
    },
    Builtin {
        kind: Kind::ArgMax,
        name: "argmax",
        params: &[req("x"), KEEP],
        variadic: false,
        returns: Returns::One,
        doc: "The first channel holding each pixel's maximum (ONNX `ArgMax` on axis 1, \
              `select_last_index = 0`): `[C, H, W]` -> `[1, H, W]` of the narrowest \
              unsigned type holding C - 1.",
        snippet: "argmax(${1:x})",
    },
    // Rearrangements (issue 14 item 3).
    Builtin {
        kind: Kind::DepthToSpace,
        name: "depth_to_space",
        params: &[req("x"), req("r"), SHUFFLE_MODE],
        variadic: false,
        returns: Returns::One,
        doc: "Pixel shuffle, ONNX `DepthToSpace`: `[C, H, W]` -> `[C/r^2, H r, W r]`, \
              channels in `dcr` order (ONNX's default) or `crd` (PyTorch `pixel_shuffle`).",
        snippet: "depth_to_space(${1:x}, ${2:2})",
    },
    Builtin {
        kind: Kind::SpaceToDepth,
        name: "space_to_depth",
        params: &[req("x"), req("r")],
        variadic: false,
        returns: Returns::One,
        doc: "ONNX `SpaceToDepth`: `[C, H, W]` -> `[C r^2, H/r, W/r]`; output channel \
              `(i r + j) C + c` holds input `(c, y r + i, x r + j)`.",
        snippet: "space_to_depth(${1:x}, ${2:2})",
    },
    Builtin {
        kind: Kind::Flatten,
        name: "flatten",
        params: &[req("x")],
        variadic: false,
        returns: Returns::One,
        doc: "ONNX `Flatten`: `[C, H, W]` -> `[C H W, 1, 1]` in C order.",
        snippet: "flatten(${1:x})",
    },
    Builtin {
        kind: Kind::Reshape,
        name: "reshape",
        params: &[req("x"), req("shape")],
        variadic: false,
        returns: Returns::One,
        doc: "ONNX `Reshape`: the same elements in C order as `[C, H, W]` \
              (`reshape(x, [64, 4, 4])`); the element count must agree.",
        snippet: "reshape(${1:x}, [${2:C}, ${3:H}, ${4:W}])",
    },
    Builtin {
        kind: Kind::Slice,
        name: "slice",
        params: &[
            req("x"),
            axis_range("channels"),
            axis_range("rows"),
            axis_range("cols"),
        ],
        variadic: false,
        returns: Returns::One,
        doc: "Crop, ONNX `Slice` with steps of 1: half-open ranges per axis \
              (`slice(x, rows: 2..30, cols: 2..30)`), an omitted axis is whole.",
        snippet: "slice(${1:x}, rows: ${2:1}..${3:9}, cols: ${4:1}..${5:9})",
    },
    Builtin {
        kind: Kind::Pad,
        name: "pad",
        params: &[
            req("x"),
            opt(
                "pad",
                IfOmitted::Required,
                "one number, (h, w) or (top, bottom, left, right)",
            ),
            opt(
                "value",
                IfOmitted::Number(0),
                "a constant `x`'s type holds",
            ),
        ],
        variadic: false,
        returns: Returns::One,
        doc: "ONNX `Pad` (constant mode) on the height and width: `value` on the \
              sides, which `x`'s type must hold; the result's range includes it.",
        snippet: "pad(${1:x}, ${2:1})",
    },
];

/// An attribute written above a `let` (`@hls(pe: 16, simd: 4)`): its name,
/// the integer keys it takes and what they mean. Attributes never change a
/// value; the checker validates them and carries them in the program.
pub struct Attribute {
    pub name: &'static str,
    pub keys: &'static [AttributeKey],
    pub doc: &'static str,
}

pub struct AttributeKey {
    pub name: &'static str,
    pub doc: &'static str,
}

/// Every attribute the language knows (the editor grammars list exactly these).
pub const ATTRIBUTES: &[Attribute] = &[Attribute {
    name: "hls",
    keys: &[
        AttributeKey {
            name: "pe",
            doc: "output channels computed in parallel (processing elements); divides the stage's output channels",
        },
        AttributeKey {
            name: "simd",
            doc: "input channels of a conv or deconv's reduction consumed in parallel; divides the input channels per group",
        },
    ],
    doc: "Parallelism of the stage in the HLS design (`convoy emit hls`, `convoy estimate`); \
          `--parallel STAGE=pe:N,simd:M` overrides it. The interpreter and the JIT ignore it.",
}];

pub fn attribute(name: &str) -> Option<&'static Attribute> {
    ATTRIBUTES.iter().find(|a| a.name == name)
}

pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

pub fn is_builtin(name: &str) -> bool {
    find(name).is_some()
}

pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|b| b.name)
}

/// Every word an argument may be, each once, in table order.
pub fn words() -> Vec<&'static Word> {
    let mut out: Vec<&'static Word> = vec![];
    for w in BUILTINS.iter().flat_map(|b| b.params).flat_map(|p| p.words) {
        if !out.iter().any(|o| o.word == w.word) {
            out.push(w);
        }
    }
    out
}

/// A word that may stand alone as an argument (`nearest`, `true`).
pub fn is_word(name: &str) -> bool {
    BUILTINS
        .iter()
        .flat_map(|b| b.params)
        .flat_map(|p| p.words)
        .any(|w| w.word == name)
}

impl Builtin {
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// `conv(x, w, stride:, pad:, dilation:, groups:)`
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| {
                if p.required() {
                    p.name.to_string()
                } else {
                    format!("{}:", p.name)
                }
            })
            .chain(self.variadic.then(|| "...".to_string()))
            .collect();
        format!("{}({})", self.name, params.join(", "))
    }
}

impl Param {
    pub fn required(&self) -> bool {
        self.default == IfOmitted::Required
    }

    /// What an omitted argument means, then what it may be
    /// (`1; one number or (h, w)`); empty for a required parameter.
    pub fn describe(&self) -> String {
        let default = match self.default {
            IfOmitted::Required => return String::new(),
            IfOmitted::Number(n) => n.to_string(),
            IfOmitted::Word(w) | IfOmitted::Derived(w) => w.to_string(),
        };
        if self.note.is_empty() {
            default
        } else {
            format!("{default}; {}", self.note)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kinds_are_unique() {
        for (i, a) in BUILTINS.iter().enumerate() {
            for b in &BUILTINS[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.kind, b.kind, "`{}` and `{}`", a.name, b.name);
            }
        }
    }

    #[test]
    fn parameters_are_unique_and_required_ones_come_first() {
        for b in BUILTINS {
            for (i, p) in b.params.iter().enumerate() {
                assert!(
                    b.params[i + 1..].iter().all(|q| q.name != p.name),
                    "`{}` lists `{}` twice",
                    b.name,
                    p.name
                );
                assert!(
                    p.required() || b.params[i + 1..].iter().all(|q| !q.required()),
                    "`{}`: the required parameters after `{}` cannot be given by position",
                    b.name,
                    p.name
                );
            }
        }
    }

    #[test]
    fn a_default_word_is_one_of_the_words() {
        for p in BUILTINS.iter().flat_map(|b| b.params) {
            if let IfOmitted::Word(w) = p.default {
                assert!(p.words.iter().any(|x| x.word == w), "`{}`: `{w}`", p.name);
            }
        }
    }

    #[test]
    fn a_pair_is_chosen_by_a_word_parameter() {
        for b in BUILTINS {
            if let Returns::PairWhen(name) = b.returns {
                let p = b.param(name).map(|p| p.words.iter().map(|w| w.word));
                assert!(
                    p.is_some_and(|mut words| words.any(|w| w == "true")),
                    "`{}` returns a pair when `{name}: true`, which it does not take",
                    b.name
                );
            }
        }
    }

    #[test]
    fn words_are_listed_once_each() {
        let words: Vec<&str> = words().iter().map(|w| w.word).collect();
        assert_eq!(
            words,
            [
                "nearest",
                "bilinear",
                "true",
                "false",
                "sigmoid",
                "tanh",
                "exp",
                "log",
                "sqrt",
                "reciprocal",
                "softplus",
                "gelu",
                "silu",
                "dcr",
                "crd"
            ]
        );
        assert!(is_word("bilinear") && !is_word("conv"));
    }

    #[test]
    fn hover_text_of_parameters() {
        let conv = find("conv").map(|b| b.signature());
        assert_eq!(
            conv.as_deref(),
            Some("conv(x, w, stride:, pad:, dilation:, groups:)")
        );
        let describe = |b: &str, p: &str| find(b).and_then(|b| b.param(p)).map(Param::describe);
        assert_eq!(describe("conv", "x").as_deref(), Some(""));
        assert_eq!(
            describe("conv", "stride").as_deref(),
            Some("1; one number or (h, w)")
        );
        assert_eq!(
            describe("maxpool", "stride").as_deref(),
            Some("the kernel size")
        );
        assert_eq!(describe("conv", "groups").as_deref(), Some("1"));
        assert_eq!(
            find("concat").map(|b| b.signature()).as_deref(),
            Some("concat(a, b, ...)")
        );
    }
}
