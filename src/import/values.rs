//! What an ONNX tensor is, once imported: integer codes held by a Convoy
//! name, the exact real value `(codes - zp) * scale` they stand for, an
//! exact real value computed by a `let`, or a constant from the file.

use super::error::NodeProblem;
use super::exact::Dyadic;

/// An integer map held by a Convoy name, with the range of its type.
#[derive(Clone, Debug)]
pub struct Codes {
    pub name: String,
    pub lo: i64,
    pub hi: i64,
    pub shape: [usize; 3],
}

/// Indices of a `maxpool(..., indices: true)` and how it pooled.
#[derive(Clone, Debug)]
pub struct Indices {
    pub name: String,
    /// The pooling arguments as written (`2, stride: 2`).
    pub args: String,
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub pads: [usize; 4],
    /// The shape of the pooled input.
    pub input: [usize; 3],
    pub shape: [usize; 3],
}

/// An initializer: exact values (integers are dyadic too).
#[derive(Clone, Debug)]
pub struct Konst {
    pub dims: Vec<usize>,
    pub values: Vec<Dyadic>,
    pub int: bool,
    /// ONNX element type.
    pub dtype: i32,
}

/// A quantized constant: `(codes - zps[c]) * scales[c]` along `axis` (one
/// scale and zero point for the whole tensor when they have length 1).
#[derive(Clone, Debug)]
pub struct QConst {
    pub dims: Vec<usize>,
    pub codes: Vec<i64>,
    pub scales: Vec<Dyadic>,
    pub zps: Vec<i64>,
    pub axis: usize,
}

impl QConst {
    /// Index along `axis` of flat element `i`.
    pub fn channel_of(&self, i: usize) -> usize {
        if self.scales.len() == 1 {
            return 0;
        }
        let inner: usize = self.dims[self.axis + 1..].iter().product();
        (i / inner) % self.dims[self.axis]
    }

    pub fn centred(&self, i: usize) -> i64 {
        self.codes[i].saturating_sub(self.zps[self.channel_of(i).min(self.zps.len() - 1)])
    }

    pub fn scale_of_channel(&self, c: usize) -> Dyadic {
        self.scales[if self.scales.len() == 1 { 0 } else { c }]
    }
}

/// An exact real map computed by the script.
#[derive(Clone, Debug)]
pub struct Real {
    /// A name, or an expression in parentheses.
    pub expr: String,
    pub shape: [usize; 3],
    /// An upper bound of every `|value|`.
    pub bound: f64,
    /// The node that computed it (named when it is left unquantized).
    pub from: NodeProblem,
    /// The value is `expr / div` (an average, a HardSwish's `/ 6`): not a
    /// dyadic number unless `div` is 1, so only a quantizer (which divides
    /// by `scale * div` exactly) or a stage that commutes with a positive
    /// divisor may read it.
    pub div: u64,
    /// Codes that equal this value quantized to a given quantization,
    /// computed more simply (an `avgpool` of codes rounds as
    /// `QuantizeLinear` does when the scales are equal).
    pub shortcut: Option<Shortcut>,
}

/// `expr` is the value quantized to `(scale, zp)` with codes in `[lo, hi]`.
#[derive(Clone, Debug)]
pub struct Shortcut {
    pub expr: String,
    pub zp: i64,
    pub scale: Dyadic,
    pub lo: i64,
    pub hi: i64,
}

/// A function of dequantized codes that only a lookup table computes
/// exactly (`Sigmoid`, `Tanh`): it must be quantized next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Sigmoid,
    Tanh,
}

#[derive(Clone, Debug)]
pub enum Val {
    /// An integer tensor of the model (QOperator activations).
    Codes(Codes),
    /// A float tensor that is `(codes - zp) * scale` (a `DequantizeLinear`
    /// or QONNX `Quant` output).
    Affine {
        codes: Codes,
        zp: i64,
        scale: Dyadic,
    },
    Real(Real),
    /// `f((codes - zp) * scale)`, waiting for its quantizer.
    Table {
        codes: Codes,
        zp: i64,
        scale: Dyadic,
        f: Func,
        from: NodeProblem,
    },
    /// The `Indices` output of a `MaxPool`, for a `MaxUnpool`.
    Indices(Indices),
    Const(Konst),
    QConst(QConst),
    /// A float graph input that no quantizer has read yet.
    FloatInput {
        name: String,
        shape: [usize; 3],
    },
    /// The output of a node that could not be imported (already reported).
    Poisoned,
}

impl Val {
    pub fn shape(&self) -> Option<[usize; 3]> {
        match self {
            Val::Codes(c) | Val::Affine { codes: c, .. } => Some(c.shape),
            Val::Real(r) => Some(r.shape),
            Val::Table { codes, .. } => Some(codes.shape),
            Val::FloatInput { shape, .. } => Some(*shape),
            _ => None,
        }
    }
}
