//! The walk over the ONNX graph: each node, in order, becomes the values of
//! its outputs (`values::Val`) and the script lines that compute them. QDQ
//! and QOperator nodes reduce to the same few meanings (a quantized tensor
//! is `(codes - zp) * scale`; a float op on such tensors computes an exact
//! real value; a quantizer rounds it back to codes), so both formats share
//! the operator code in `ops.rs`. Nodes that cannot be imported are
//! collected, all of them, before the import fails.

use super::error::{ImportError, NodeProblem};
use super::exact::{int_type_for, Dyadic};
use super::proto::{dtype, AttrValue, Dim, Graph, Node, Tensor};
use super::requant::{rounded_quotient, Request, Rounding};
use super::script::Script;
use super::values::{Codes, Konst, QConst, Real, Shortcut, Val};
use std::collections::HashMap;

/// Why a node produced no value.
pub enum Fail {
    /// Unsupported: what is missing (listed with the node's name and op).
    Unsupported(String),
    /// It reads or leaves a float value that no quantizer covers.
    Float(String),
    /// An input was already reported.
    Poisoned,
    /// Stops the import at once (a scale of the wrong shape, too wide).
    Fatal(ImportError),
}

pub type Res<T> = Result<T, Fail>;

pub struct Lowering<'g> {
    pub file: String,
    pub script: Script,
    pub vals: HashMap<String, Val>,
    inits: HashMap<&'g str, &'g Tensor>,
    problems: Vec<NodeProblem>,
    floats: Vec<NodeProblem>,
    /// Scale constants already declared, by `(codes name, zp, scale)`.
    scale_names: HashMap<(String, i64, i128, i32), String>,
    /// Float graph inputs already declared through their quantizer.
    declared: HashMap<String, (Codes, (Dyadic, i64))>,
    /// Outputs of a transpose back to NHWC: they may only be graph outputs.
    pub nhwc_outputs: std::collections::HashSet<String>,
}

pub fn unsupported<T>(what: impl Into<String>) -> Res<T> {
    Err(Fail::Unsupported(what.into()))
}

impl<'g> Lowering<'g> {
    pub fn new(file: &str, graph: &'g Graph, folder: &str) -> Result<Self, ImportError> {
        let mut inits = HashMap::new();
        for t in &graph.initializers {
            if t.external {
                return Err(ImportError::ExternalData {
                    file: file.to_string(),
                    tensor: t.name.clone(),
                });
            }
            inits.insert(t.name.as_str(), t);
        }
        Ok(Lowering {
            file: file.to_string(),
            script: Script::new(folder),
            vals: HashMap::new(),
            inits,
            problems: vec![],
            floats: vec![],
            scale_names: HashMap::new(),
            declared: HashMap::new(),
            nhwc_outputs: Default::default(),
        })
    }

    /// Declares the graph's inputs: integer ones as `input`s, float ones
    /// waiting for their quantizer.
    pub fn inputs(&mut self, graph: &Graph) -> Result<(), ImportError> {
        for vi in &graph.inputs {
            if self.inits.contains_key(vi.name.as_str()) {
                continue;
            }
            let shape = self.input_shape(&vi.name, vi.dims.as_deref())?;
            let val = match vi.elem_type {
                dtype::FLOAT | dtype::DOUBLE => Val::FloatInput {
                    name: vi.name.clone(),
                    shape,
                },
                t => {
                    let Some((lo, hi, ty)) = int_range(t) else {
                        return Err(ImportError::Layout {
                            file: self.file.clone(),
                            what: format!(
                                "input `{}` holds {}, neither float nor an integer type",
                                vi.name,
                                dtype::name(t)
                            ),
                        });
                    };
                    let name = self.script.fresh(&vi.name);
                    self.script.input(&name, ty, &shape);
                    Val::Codes(Codes {
                        name,
                        lo,
                        hi,
                        shape,
                    })
                }
            };
            self.vals.insert(vi.name.clone(), val);
        }
        if self.vals.is_empty() {
            return Err(ImportError::Layout {
                file: self.file.clone(),
                what: "the graph has no input".into(),
            });
        }
        Ok(())
    }

    fn input_shape(&self, name: &str, dims: Option<&[Dim]>) -> Result<[usize; 3], ImportError> {
        let shown = |d: &[Dim]| {
            let parts: Vec<String> = d
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => n.to_string(),
                    Dim::Symbolic(s) if s.is_empty() => "?".into(),
                    Dim::Symbolic(s) => s.clone(),
                })
                .collect();
            format!("[{}]", parts.join(", "))
        };
        let Some(d) = dims else {
            return Err(ImportError::DynamicShape {
                file: self.file.clone(),
                input: name.to_string(),
                dims: "no shape at all".into(),
            });
        };
        let chw = match d.len() {
            4 => &d[1..],
            3 => d,
            _ => {
                return Err(ImportError::Layout {
                    file: self.file.clone(),
                    what: format!(
                        "input `{name}` has shape {}; Convoy reads [N, C, H, W] or [C, H, W]",
                        shown(d)
                    ),
                })
            }
        };
        let mut out = [0usize; 3];
        for (o, dim) in out.iter_mut().zip(chw) {
            match dim {
                Dim::Fixed(n) if *n > 0 && *n <= 1 << 26 => *o = *n as usize,
                _ => {
                    return Err(ImportError::DynamicShape {
                        file: self.file.clone(),
                        input: name.to_string(),
                        dims: shown(d),
                    })
                }
            }
        }
        if out
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .is_none_or(|n| n > 1 << 26)
        {
            return Err(ImportError::Layout {
                file: self.file.clone(),
                what: format!(
                    "input `{name}` of shape {} has more than 2^26 values",
                    shown(d)
                ),
            });
        }
        Ok(out)
    }

    /// Translates every node; unsupported ones are collected.
    pub fn nodes(&mut self, graph: &Graph) -> Result<(), ImportError> {
        // Outputs of float nodes already reported: the float region goes on
        // until a quantizer, and every node in it is named.
        let mut float_region: std::collections::HashSet<String> = Default::default();
        for node in &graph.nodes {
            if let Some(t) = node.inputs.iter().find(|i| float_region.contains(*i)) {
                let quantizer = matches!(
                    node.op_type.as_str(),
                    "QuantizeLinear" | "Quant" | "BipolarQuant"
                );
                if !quantizer {
                    self.floats
                        .push(problem(node, format!("computes on the float `{t}`")));
                    float_region.extend(node.outputs.iter().cloned());
                }
                for o in &node.outputs {
                    self.vals.insert(o.clone(), Val::Poisoned);
                }
                continue;
            }
            let result = if node
                .inputs
                .iter()
                .any(|i| matches!(self.vals.get(i), Some(Val::Poisoned)))
            {
                Err(Fail::Poisoned)
            } else if let Some(t) = node.inputs.iter().find(|i| self.nhwc_outputs.contains(*i)) {
                // Only (de)quantizers may stand between the transpose back
                // to NHWC and the output.
                if matches!(
                    node.op_type.as_str(),
                    "QuantizeLinear" | "DequantizeLinear" | "Identity"
                ) {
                    self.nhwc_outputs.extend(node.outputs.iter().cloned());
                    self.node(node)
                } else {
                    Err(Fail::Unsupported(format!(
                        "reads `{t}`, an NHWC transpose that is not a graph output"
                    )))
                }
            } else {
                self.node(node)
            };
            match result {
                Ok(outs) => {
                    for (name, v) in node.outputs.iter().zip(outs) {
                        self.vals.insert(name.clone(), v);
                    }
                }
                Err(fail) => {
                    match fail {
                        Fail::Unsupported(what) => self.problems.push(problem(node, what)),
                        Fail::Float(what) => {
                            self.floats.push(problem(node, what));
                            float_region.extend(node.outputs.iter().cloned());
                        }
                        Fail::Poisoned => {}
                        Fail::Fatal(e) => return Err(e),
                    }
                    for o in &node.outputs {
                        self.vals.insert(o.clone(), Val::Poisoned);
                    }
                }
            }
        }
        Ok(())
    }

    /// The graph's outputs become the pipeline's: integer codes only.
    pub fn outputs(&mut self, graph: &Graph) -> Result<(), ImportError> {
        for vi in &graph.outputs {
            match self.vals.get(&vi.name).cloned() {
                Some(Val::Codes(c)) | Some(Val::Affine { codes: c, .. }) => {
                    let name = if c.name == vi.name {
                        c.name.clone()
                    } else {
                        let n = self.script.fresh(&vi.name);
                        self.script
                            .let_(&n, &c.name, &format!("output `{}`", vi.name));
                        n
                    };
                    if self.nhwc_outputs.contains(&vi.name) {
                        self.script.comment(&format!(
                            "output {name}: [C, H, W], the model's NHWC output before its transpose"
                        ));
                    }
                    if let Some(Val::Affine { zp, scale, .. }) = self.vals.get(&vi.name) {
                        self.script.comment(&format!(
                            "output {name}: the codes q of `{}`, whose value is (q - {zp}) * {}",
                            vi.name,
                            scale.decimal()
                        ));
                    }
                    self.script.output(&name);
                }
                Some(Val::Real(r)) => self.floats.push(NodeProblem {
                    node: r.from.node.clone(),
                    op: r.from.op.clone(),
                    what: format!("its float result reaches output `{}` unquantized", vi.name),
                }),
                Some(Val::Table { from, .. }) => self.floats.push(NodeProblem {
                    node: from.node.clone(),
                    op: from.op.clone(),
                    what: format!("its float result reaches output `{}` unquantized", vi.name),
                }),
                Some(Val::Indices(_)) => {
                    return Err(ImportError::Layout {
                        file: self.file.clone(),
                        what: format!(
                            "output `{}` is MaxPool indices, which Convoy counts per channel plane \
                             (ONNX across channels)",
                            vi.name
                        ),
                    })
                }
                Some(Val::FloatInput { .. }) => self.floats.push(NodeProblem {
                    node: vi.name.clone(),
                    op: "graph output".into(),
                    what: "a float input passed through unquantized".into(),
                }),
                Some(Val::Poisoned) => {}
                _ => {
                    return Err(ImportError::Layout {
                        file: self.file.clone(),
                        what: format!("output `{}` is not a map any node computes", vi.name),
                    })
                }
            }
        }
        if !self.problems.is_empty() {
            return Err(ImportError::Unsupported {
                file: self.file.clone(),
                problems: std::mem::take(&mut self.problems),
            });
        }
        if !self.floats.is_empty() {
            return Err(ImportError::FloatRegion {
                file: self.file.clone(),
                nodes: std::mem::take(&mut self.floats),
            });
        }
        Ok(())
    }

    // ---- inputs of a node -------------------------------------------------

    /// Input `i` of `n`: `None` when absent (missing or empty name).
    pub fn arg(&self, n: &Node, i: usize) -> Res<Option<Val>> {
        let Some(name) = n.inputs.get(i).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        if let Some(v) = self.vals.get(name) {
            return Ok(Some(v.clone()));
        }
        if let Some(t) = self.inits.get(name.as_str()) {
            return konst(t).map(|k| Some(Val::Const(k)));
        }
        unsupported(format!("input `{name}` is computed by no node before it"))
    }

    pub fn need(&self, n: &Node, i: usize, what: &str) -> Res<Val> {
        self.arg(n, i)?
            .ok_or_else(|| Fail::Unsupported(format!("no {what} (input {i})")))
    }

    /// A scalar constant input (a scale, a zero point ...).
    pub fn scalar(&self, n: &Node, i: usize, what: &str) -> Res<Option<Dyadic>> {
        match self.arg(n, i)? {
            None => Ok(None),
            Some(Val::Const(k)) if k.values.len() == 1 => Ok(Some(k.values[0])),
            Some(Val::Const(k)) => Err(Fail::Fatal(ImportError::ScaleShape {
                file: self.file.clone(),
                node: n.name.clone(),
                what: format!(
                    "the {what} has {} values where one (per tensor) is needed",
                    k.values.len()
                ),
            })),
            Some(_) => unsupported(format!("the {what} is not a constant")),
        }
    }

    pub fn scale(&self, n: &Node, i: usize) -> Res<Dyadic> {
        let s = self
            .scalar(n, i, "scale")?
            .ok_or_else(|| Fail::Unsupported(format!("no scale (input {i})")))?;
        if s.mant <= 0 {
            return unsupported(format!("scale {} is not positive", s.decimal()));
        }
        Ok(s)
    }

    /// A zero point and the code range of its type (uint8 when absent).
    pub fn zero_point(&self, n: &Node, i: usize) -> Res<(i64, i64, i64, &'static str)> {
        let ty = match self.arg(n, i)? {
            Some(Val::Const(k)) => k.dtype,
            _ => dtype::UINT8,
        };
        let (lo, hi, name) = int_range(ty).ok_or_else(|| {
            Fail::Unsupported(format!("a zero point of type {}", dtype::name(ty)))
        })?;
        let zp = self.scalar(n, i, "zero point")?.unwrap_or(Dyadic::ZERO);
        let zp = integer(zp)
            .ok_or_else(|| Fail::Unsupported("a zero point that is not an integer".into()))?;
        Ok((zp, lo, hi, name))
    }

    // ---- values as expressions --------------------------------------------

    /// The exact real value of `v` as an expression, with its shape and bound.
    pub fn real(&mut self, v: &Val) -> Res<(String, [usize; 3], f64)> {
        let (e, shape, bound, div) = self.real_div(v)?;
        if div != 1 {
            return unsupported(format!(
                "reads a value divided by {div} (an average or a HardSwish), which only a \
                 quantizer, a pooling sum, ReLU or a rearrangement may read"
            ));
        }
        Ok((e, shape, bound))
    }

    /// The exact value of `v` as `expr / div`, with its shape and a bound of
    /// `|expr|`.
    pub fn real_div(&mut self, v: &Val) -> Res<(String, [usize; 3], f64, u64)> {
        match v {
            Val::Real(r) => Ok((r.expr.clone(), r.shape, r.bound, r.div)),
            Val::Table { f, .. } => unsupported(format!(
                "reads the result of a {f:?}, which only a quantizer may read (it is a lookup table)"
            )),
            Val::Indices(_) => unsupported("reads MaxPool indices (only MaxUnpool may)"),
            other => {
                let (e, s, b) = self.real_plain(other)?;
                Ok((e, s, b, 1))
            }
        }
    }

    fn real_plain(&mut self, v: &Val) -> Res<(String, [usize; 3], f64)> {
        match v {
            Val::Real(_) | Val::Table { .. } | Val::Indices(_) => {
                unsupported("a value read before its divisor or table (an importer bug)")
            }
            Val::Affine { codes, zp, scale } => {
                let (centred, s, bound) = self.affine_parts(codes, *zp, *scale)?;
                Ok((format!("{centred} * {s}"), codes.shape, bound))
            }
            Val::Codes(_) => unsupported("an integer tensor where a float one is expected"),
            Val::FloatInput { name, .. } => Err(Fail::Float(format!(
                "reads the float input `{name}`, which no QuantizeLinear quantizes first"
            ))),
            Val::Const(_) | Val::QConst(_) => {
                unsupported("a constant tensor where a map is expected")
            }
            Val::Poisoned => Err(Fail::Poisoned),
        }
    }

    /// `codes - zp`, the name of the scale constant, and a bound of the value.
    pub fn affine_parts(
        &mut self,
        codes: &Codes,
        zp: i64,
        scale: Dyadic,
    ) -> Res<(String, String, f64)> {
        let s = self.scale_const(codes, zp, scale)?;
        let m = (codes.hi - zp).abs().max((codes.lo - zp).abs()) as f64;
        Ok((centred(codes, zp), s, m * scale.to_f64()))
    }

    /// The named constant holding `scale` for these codes.
    fn scale_const(&mut self, codes: &Codes, zp: i64, scale: Dyadic) -> Res<String> {
        let key = (codes.name.clone(), zp, scale.mant, scale.exp);
        if let Some(n) = self.scale_names.get(&key) {
            return Ok(n.clone());
        }
        let name = self.script.fresh(&format!("{}_scale", codes.name));
        let values = vec![scale; codes.shape[0]];
        self.scale_param(&name, &values)?;
        self.scale_names.insert(key, name.clone());
        Ok(name)
    }

    /// Exact dyadic values, one per channel, as a fixed-point vector param
    /// (float64 `.npy`, exact up to 53 significant bits). A decimal literal
    /// would need as many digits as fraction bits, more than Convoy reads.
    pub fn scale_param(&mut self, name: &str, values: &[Dyadic]) -> Res<()> {
        let (ty, _) = super::exact::fixed_type_for(values)
            .ok_or_else(|| self.too_wide(name, "the values need more than 64 bits together"))?;
        if values.iter().any(|v| v.mant_bits() > 53) {
            return Err(self.too_wide(name, "a value has more than 53 significant bits"));
        }
        let data = crate::data::NpyData::Float(values.iter().map(|v| v.to_f64()).collect());
        self.script
            .param(name, &ty, &[values.len()], data, crate::data::Dtype::F64);
        Ok(())
    }

    pub fn too_wide(&self, node: &str, what: &str) -> Fail {
        Fail::Fatal(ImportError::TooWide {
            file: self.file.clone(),
            node: node.to_string(),
            what: what.to_string(),
        })
    }

    /// Declares `real` as a `let` named after the node.
    pub fn let_real(&mut self, n: &Node, expr: String, shape: [usize; 3], bound: f64) -> Val {
        self.let_real_div(n, expr, shape, bound, 1)
    }

    /// Declares `real / div` as a `let` (of `real`) named after the node.
    pub fn let_real_div(
        &mut self,
        n: &Node,
        expr: String,
        shape: [usize; 3],
        bound: f64,
        div: u64,
    ) -> Val {
        let name = self.script.fresh(if n.name.is_empty() {
            &n.op_type
        } else {
            &n.name
        });
        self.script
            .let_(&name, &expr, &format!("{} {}", n.op_type, n.name));
        Val::Real(Real {
            expr: name,
            shape,
            bound,
            from: problem(n, String::new()),
            div,
            shortcut: None,
        })
    }

    /// `real / div` not yet declared: written where a quantizer reads it,
    /// unless the shortcut's codes are what that quantizer computes.
    pub fn pending_real(
        &self,
        n: &Node,
        expr: String,
        (shape, bound, div): ([usize; 3], f64, u64),
        shortcut: Option<Shortcut>,
    ) -> Val {
        Val::Real(Real {
            expr: format!("({expr})"),
            shape,
            bound,
            from: problem(n, String::new()),
            div,
            shortcut,
        })
    }

    /// `round(v / scale) + zp`, saturated to `[lo, hi]` (ONNX
    /// `QuantizeLinear` semantics) as a `let` named after the output.
    #[allow(clippy::too_many_arguments)]
    pub fn quantize(
        &mut self,
        n: &Node,
        v: &Val,
        scale: Dyadic,
        zp: i64,
        (lo, hi, ty): (i64, i64, &str),
        rounding: Rounding,
        zp_before: bool,
    ) -> Res<Codes> {
        if let Val::Table {
            codes,
            zp: z,
            scale: s,
            f,
            ..
        } = v
        {
            if zp_before || rounding != Rounding::HalfEven {
                return unsupported("a lookup table quantized other than by QuantizeLinear");
            }
            return self.table(n, codes, (*z, *s), *f, (scale, zp, lo, hi, ty));
        }
        if let Val::Real(Real {
            shortcut: Some(sc),
            shape,
            ..
        }) = v
        {
            if !zp_before && sc.scale == scale && sc.zp == zp && sc.lo == lo && sc.hi == hi {
                let name = self.script.fresh(n.outputs.first().map_or(&n.name, |s| s));
                self.script
                    .let_(&name, &sc.expr, &format!("{} {}", n.op_type, n.name));
                return Ok(Codes {
                    name,
                    lo,
                    hi,
                    shape: *shape,
                });
            }
        }
        let (mut expr, shape, bound, div) = self.real_div(v)?;
        if let Val::Real(r) = v {
            if r.shortcut.is_some() || expr.starts_with('(') {
                // A pending sum (an average's): named once, read twice below.
                let name = self.script.fresh(&format!("{}_sum", r.from.node));
                self.script.let_(
                    &name,
                    strip_outer(&expr),
                    &format!("{} {}", r.from.op, r.from.node),
                );
                expr = name;
            }
        }
        let scale = scale
            .mul(Dyadic::from_int(div as i64))
            .ok_or_else(|| self.too_wide(&n.name, "a scale times a divisor"))?;
        // Named after the float stage it rounds (`conv3_q`), else the node.
        let simple =
            !expr.is_empty() && expr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let base = if simple {
            expr.clone()
        } else {
            n.outputs.first().cloned().unwrap_or_else(|| n.name.clone())
        };
        let name = self.script.fresh(&format!("{base}_q"));
        let request = Request {
            value: &expr,
            bound,
            scale,
            rounding,
            zp_before: if zp_before { zp } else { 0 },
        };
        let q_name = self.script.fresh(&format!("{base}_r"));
        let script = &mut self.script;
        let lets = rounded_quotient(&request, &q_name, &mut |role| {
            script.fresh(&format!("{base}_{role}"))
        })
        .map_err(|w| self.too_wide(&n.name, &w))?;
        let comment = format!("{} {}", n.op_type, n.name);
        for (k, (ln, e)) in lets.lets.iter().enumerate() {
            let c = if k == 0 { comment.as_str() } else { "" };
            self.script.let_(ln, e, c);
        }
        let last = &lets.lets[lets.lets.len() - 1].0;
        let expr = if zp_before {
            format!("clip({last}, {lo}, {hi}) as {ty}")
        } else if zp == 0 {
            format!("{last} as {ty} sat")
        } else {
            format!("({last} + {zp}) as {ty} sat")
        };
        self.script.let_(&name, &expr, "");
        Ok(Codes {
            name,
            lo,
            hi,
            shape,
        })
    }

    /// A float graph input read by a quantizer becomes a pipeline input of
    /// the quantizer's integer type.
    pub fn is_declared_input(&self, codes: &str) -> bool {
        self.declared.values().any(|(c, _)| c.name == codes)
    }

    /// Gives a declared input (read NHWC) its `[C, H, W]` shape.
    pub fn redeclare_input(&mut self, codes: &str, shape: [usize; 3]) {
        for (c, _) in self.declared.values_mut() {
            if c.name == codes {
                c.shape = shape;
            }
        }
        self.script.reshape_input(codes, &shape);
    }

    /// A second quantizer of the same input must be the same quantizer:
    /// the pipeline's input holds one set of codes.
    #[allow(clippy::too_many_arguments)]
    pub fn declare_input(
        &mut self,
        onnx_name: &str,
        shape: [usize; 3],
        lo: i64,
        hi: i64,
        ty: &str,
        quantizer: (Dyadic, i64),
    ) -> Res<Codes> {
        if let Some((c, q)) = self.declared.get(onnx_name) {
            if *q != quantizer || c.lo != lo || c.hi != hi {
                return unsupported(format!(
                    "quantizes input `{onnx_name}` differently from its first quantizer"
                ));
            }
            return Ok(c.clone());
        }
        let name = self.script.fresh(onnx_name);
        self.script.input(&name, ty, &shape);
        let c = Codes {
            name,
            lo,
            hi,
            shape,
        };
        self.declared
            .insert(onnx_name.to_string(), (c.clone(), quantizer));
        Ok(c)
    }
}

pub fn problem(n: &Node, what: String) -> NodeProblem {
    NodeProblem {
        node: n.name.clone(),
        op: if n.domain.is_empty() || n.domain == "ai.onnx" {
            n.op_type.clone()
        } else {
            format!("{}::{}", n.domain, n.op_type)
        },
        what,
    }
}

/// `codes - zp`, as an operand.
pub fn centred(codes: &Codes, zp: i64) -> String {
    match zp {
        0 => codes.name.clone(),
        z if z > 0 => format!("({} - {z})", codes.name),
        z => format!("({} + {})", codes.name, z.unsigned_abs()),
    }
}

pub fn integer(d: Dyadic) -> Option<i64> {
    if d.exp < 0 {
        return None;
    }
    i64::try_from(d.mant.checked_mul(1i128.checked_shl(d.exp as u32)?)?).ok()
}

/// The code range and Convoy type of an ONNX integer type.
pub fn int_range(t: i32) -> Option<(i64, i64, &'static str)> {
    Some(match t {
        dtype::UINT8 => (0, 255, "u8"),
        dtype::INT8 => (-128, 127, "i8"),
        dtype::UINT16 => (0, 65535, "u16"),
        dtype::INT16 => (-32768, 32767, "i16"),
        dtype::INT32 => (i32::MIN as i64, i32::MAX as i64, "i32"),
        _ => return None,
    })
}

fn konst(t: &Tensor) -> Res<Konst> {
    let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    // At most 2^26 elements, as a Convoy tensor.
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d).filter(|&n| n <= 1 << 26));
    let Some(count) = count else {
        return unsupported(format!(
            "initializer `{}` of shape {dims:?} is too large",
            t.name
        ));
    };
    let int = !matches!(t.data_type, dtype::FLOAT | dtype::DOUBLE);
    let values: Vec<Dyadic> = if int {
        t.ints.iter().map(|&v| Dyadic::from_int(v)).collect()
    } else {
        let mut out = Vec::with_capacity(t.floats.len());
        for &f in &t.floats {
            out.push(Dyadic::from_f64(f).ok_or_else(|| {
                Fail::Unsupported(format!("initializer `{}` holds NaN or infinity", t.name))
            })?);
        }
        out
    };
    if values.len() != count {
        return unsupported(format!(
            "initializer `{}` has {} values for shape {:?}",
            t.name,
            values.len(),
            dims
        ));
    }
    Ok(Konst {
        dims,
        values,
        int,
        dtype: t.data_type,
    })
}

/// An integer weight tensor as a param: `codes - zp` per element.
pub fn int_param(script: &mut Script, base: &str, q: &QConst) -> String {
    let vals: Vec<i64> = (0..q.codes.len()).map(|i| q.centred(i)).collect();
    let lo = vals.iter().copied().min().unwrap_or(0);
    let hi = vals.iter().copied().max().unwrap_or(0);
    let ty = int_type_for(lo as i128, hi as i128);
    let dtype = narrowest_dtype(lo, hi);
    let name = script.fresh(base);
    script.param(
        &name,
        &ty,
        &q.dims,
        crate::data::NpyData::Int(vals.iter().map(|&v| v as i128).collect()),
        dtype,
    );
    name
}

pub fn narrowest_dtype(lo: i64, hi: i64) -> crate::data::Dtype {
    use crate::data::Dtype;
    if lo >= -128 && hi <= 127 {
        Dtype::I8
    } else if lo >= -32768 && hi <= 32767 {
        Dtype::I16
    } else if lo >= i32::MIN as i64 && hi <= i32::MAX as i64 {
        Dtype::I32
    } else {
        Dtype::I64
    }
}

/// Integer attribute, with a default.
pub fn attr_i(n: &Node, name: &str, default: i64) -> i64 {
    n.attributes
        .iter()
        .find(|a| a.name == name)
        .and_then(|a| match a.value {
            AttrValue::Int(i) => Some(i),
            _ => None,
        })
        .unwrap_or(default)
}

pub fn attr_f(n: &Node, name: &str) -> Option<f32> {
    n.attributes
        .iter()
        .find(|a| a.name == name)
        .and_then(|a| match a.value {
            AttrValue::Float(f) => Some(f),
            _ => None,
        })
}

pub fn attr_ints(n: &Node, name: &str) -> Option<Vec<i64>> {
    n.attributes
        .iter()
        .find(|a| a.name == name)
        .and_then(|a| match &a.value {
            AttrValue::Ints(v) => Some(v.clone()),
            _ => None,
        })
}

pub fn attr_s(n: &Node, name: &str) -> Option<String> {
    n.attributes
        .iter()
        .find(|a| a.name == name)
        .and_then(|a| match &a.value {
            AttrValue::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
}

/// Refuses attributes outside `known`.
pub fn only_attrs(n: &Node, known: &[&str]) -> Res<()> {
    let unknown: Vec<&str> = n
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .filter(|a| !known.contains(a))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        unsupported(format!(
            "attribute `{}` is not supported",
            unknown.join("`, `")
        ))
    }
}

/// `e` without one pair of parentheses around all of it.
fn strip_outer(e: &str) -> &str {
    let inner = e.strip_prefix('(').and_then(|r| r.strip_suffix(')'));
    match inner {
        Some(i) => {
            let mut depth = 0i32;
            for c in i.chars() {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                if depth < 0 {
                    return e;
                }
            }
            i
        }
        None => e,
    }
}
