//! Declarations and statements: `input`, `param`, `const`, `let` (with its
//! asserting annotation) and `output`.

use super::error::{CheckError, RangeFact};
use super::scope::{self, Value};
use super::{Checker, MAX_ELEMENTS};
use crate::ast::{self, LetTarget};
use crate::ir::{InputInfo, Interval, NodeId, Op, OutputInfo, Shape};
use crate::span::Span;
use crate::types::MAX_TYPE_BITS;

impl Checker<'_> {
    pub(super) fn declare(&mut self, name: &ast::Ident, value: Value) {
        if let Some(previous) = self.scope().bind(&name.node, value, name.span, true) {
            self.errors.push(CheckError::Redefined {
                span: name.span,
                name: name.node.clone(),
                previous,
            });
        }
    }

    /// The full name of a declaration: `y`, or `y.dw` inside a block used by `y`.
    pub(super) fn qualified(&self, name: &str) -> String {
        if self.owner.is_empty() || self.block_stack.is_empty() {
            name.to_string()
        } else {
            format!("{}.{}", self.owner, name)
        }
    }

    pub(super) fn input(&mut self, d: &ast::InputDecl) {
        self.owner = d.name.node.clone();
        let Some(shape) = self.declared_shape(&d.ty, &[1, 3]) else {
            return self.declare(&d.name, Value::Poison);
        };
        let ty = d.ty.scalar.node;
        let (lo, hi) = ty.value_bounds();
        let ranges = vec![Interval::new(lo, hi); shape.channels()];
        let halo = self.halo(&d.ty);
        let index = self.inputs.len();
        let id = self.push_typed(
            Op::Input { index },
            shape,
            ty.storage_frac(),
            ranges,
            ty,
            d.span,
            "input".into(),
        );
        self.nodes[id].halo = halo;
        self.nodes[id].name = Some(d.name.node.clone());
        self.inputs.push(InputInfo {
            name: d.name.node.clone(),
            node: id,
        });
        self.declare(&d.name, Value::Tensor(id));
    }

    pub(super) fn halo(&mut self, ty: &ast::TensorType) -> usize {
        match &ty.halo {
            Some(h) if h.node > 64 => {
                self.error(CheckError::ParameterTooLarge {
                    span: h.span,
                    what: "halo",
                    value: h.node as i128,
                });
                0
            }
            Some(h) => {
                if ty.dims.as_ref().is_none_or(|d| d.len() != 3) {
                    self.error(CheckError::BadHalo { span: h.span });
                }
                h.node as usize
            }
            None => 0,
        }
    }

    /// The shape written in a declaration; `ranks` lists the ranks allowed.
    pub(super) fn declared_shape(
        &mut self,
        ty: &ast::TensorType,
        ranks: &[usize],
    ) -> Option<Shape> {
        let dims: Vec<usize> = match &ty.dims {
            None => vec![],
            Some(ds) => {
                let mut out = vec![];
                for d in ds {
                    if d.node == 0 {
                        self.error(CheckError::ZeroParameter {
                            span: d.span,
                            what: "dimension",
                        });
                        return None;
                    }
                    out.push(usize::try_from(d.node).unwrap_or(usize::MAX));
                }
                out
            }
        };
        let elements = dims
            .iter()
            .try_fold(1u128, |acc, &d| acc.checked_mul(d as u128))
            .unwrap_or(u128::MAX);
        if elements > MAX_ELEMENTS {
            self.error(CheckError::TensorTooLarge {
                span: ty.span,
                elements,
            });
            return None;
        }
        if !ranks.contains(&dims.len()) {
            self.error(CheckError::WrongRank {
                span: ty.span,
                what: "declaration",
                expected: rank_names(ranks),
                found: dims,
            });
            return None;
        }
        Some(match dims.as_slice() {
            [] => Shape::Scalar,
            [n] => Shape::Vector(*n),
            [c, h, w] => Shape::Map {
                c: *c,
                h: *h,
                w: *w,
            },
            // `dense` weights `[O, I]` are held as `[O, I, 1, 1]`.
            [o, i] => Shape::Weights {
                o: *o,
                i: *i,
                kh: 1,
                kw: 1,
            },
            [o, i, kh, kw] => Shape::Weights {
                o: *o,
                i: *i,
                kh: *kh,
                kw: *kw,
            },
            _ => return None,
        })
    }

    pub(super) fn param(&mut self, d: &ast::ParamDecl) {
        self.owner = d.name.node.clone();
        let Some(shape) = self.declared_shape(&d.ty, &[0, 1, 2, 3, 4]) else {
            return self.declare(&d.name, Value::Poison);
        };
        let ty = d.ty.scalar.node;
        let value = match self.param_data(d, &shape) {
            Some(data) => {
                let ranges = channel_ranges(&data, &shape);
                let id = self.push_typed(
                    Op::Constant { data },
                    shape,
                    ty.storage_frac(),
                    ranges,
                    ty,
                    d.span,
                    "param".into(),
                );
                self.nodes[id].name = Some(d.name.node.clone());
                Value::Tensor(id)
            }
            None => Value::Poison,
        };
        self.declare(&d.name, value);
    }

    pub(super) fn constant(&mut self, d: &ast::ConstDecl) {
        self.owner = self.qualified(&d.name.node);
        if d.ty.dims.is_some() {
            self.error(CheckError::ConstNotScalar { span: d.ty.span });
            return self.declare(&d.name, Value::Poison);
        }
        let ty = d.ty.scalar.node;
        let value = match self.const_value(&d.value, ty) {
            Some(raw) => {
                let id = self.push_typed(
                    Op::Constant { data: vec![raw] },
                    Shape::Scalar,
                    ty.storage_frac(),
                    vec![Interval::point(raw)],
                    ty,
                    d.span,
                    "const".into(),
                );
                self.nodes[id].name = Some(self.owner.clone());
                Value::Tensor(id)
            }
            None => Value::Poison,
        };
        self.declare(&d.name, value);
    }

    pub(super) fn let_decl(&mut self, d: &ast::LetDecl) {
        let first = match &d.target {
            LetTarget::Name(n) => n.node.clone(),
            LetTarget::Tuple(ns) => ns
                .iter()
                .map(|n| n.node.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        };
        let outer = self.owner.clone();
        let stage = self.qualified(&first);
        self.owner = stage.clone();
        let first_node = self.nodes.len();
        let value = self.eval(&d.value);
        self.owner = outer;
        if !d.attributes.is_empty() {
            self.let_attributes(d, &value, &stage, first_node);
        }
        match &d.target {
            LetTarget::Name(name) => {
                let value = match (&d.ty, value) {
                    (Some(ty), Value::Tensor(id)) => self.annotate(id, ty, d.value.span),
                    (_, Value::Int(v)) => self.materialize(Value::Int(v), d.value.span),
                    (_, v) => v,
                };
                if let Value::Tensor(id) = value {
                    let qualified = self.qualified(&name.node);
                    let node = &mut self.nodes[id];
                    if node.name.is_none() {
                        node.name = Some(qualified);
                    }
                }
                self.declare(name, value);
            }
            LetTarget::Tuple(names) => {
                let parts = match value {
                    Value::Tuple(parts) if parts.len() == names.len() => parts,
                    Value::Poison => vec![Value::Poison; names.len()],
                    Value::Tuple(parts) => {
                        self.error(CheckError::TupleArity {
                            span: d.span,
                            expected: names.len(),
                            found: parts.len(),
                        });
                        vec![Value::Poison; names.len()]
                    }
                    _ => {
                        self.error(CheckError::TupleArity {
                            span: d.span,
                            expected: names.len(),
                            found: 1,
                        });
                        vec![Value::Poison; names.len()]
                    }
                };
                for (name, part) in names.iter().zip(parts) {
                    if let Value::Tensor(id) = part {
                        let qualified = self.qualified(&name.node);
                        let node = &mut self.nodes[id];
                        if node.name.is_none() {
                            node.name = Some(qualified);
                        }
                    }
                    self.declare(name, part);
                }
            }
        }
    }

    /// `let y: T[dims] pad P = expr`: the annotation asserts, it never converts.
    /// When the value is stored at another scale (an integer annotated as a fixed
    /// type), or is already bound to another name, an exact copy node carries it.
    pub(super) fn annotate(&mut self, id: NodeId, ty: &ast::TensorType, expr_span: Span) -> Value {
        let node = &self.nodes[id];
        let declared = ty.scalar.node;
        if let Some(ds) = &ty.dims {
            let dims: Vec<usize> = ds.iter().map(|d| d.node as usize).collect();
            if dims != node.shape.dims() {
                return self.error(CheckError::DimsMismatch {
                    span: ty.span,
                    declared: dims,
                    found: node.shape.dims(),
                });
            }
        }
        if node.frac as i32 > declared.frac_bits() || declared.frac_bits() < 0 {
            return self.error(CheckError::AnnotationFraction {
                span: expr_span,
                frac: node.frac,
                declared,
            });
        }
        let up = declared.storage_frac() - node.frac;
        let (lo, hi) = declared.value_bounds();
        let range = node.range();
        let (shape, ranges, named) = (node.shape.clone(), node.ranges.clone(), node.name.is_some());
        if (range.lo << up) < lo || (range.hi << up) > hi {
            return self.error(CheckError::AnnotationOutOfRange {
                span: expr_span,
                range: RangeFact {
                    range,
                    frac: node.frac,
                },
                declared,
            });
        }
        let halo = self.halo(ty);
        let id = if up > 0 || named {
            let ranges = ranges
                .iter()
                .map(|r| Interval::new(r.lo << up, r.hi << up))
                .collect();
            self.push_typed(
                Op::Cast {
                    x: id,
                    to: declared,
                    quant: declared.quant,
                    overflow: crate::ir::CastOverflow::Proven,
                },
                shape,
                declared.storage_frac(),
                ranges,
                declared,
                expr_span,
                format!("as {declared}"),
            )
        } else {
            id
        };
        let node = &mut self.nodes[id];
        node.ty = declared;
        node.halo = halo;
        Value::Tensor(id)
    }

    pub(super) fn output(&mut self, o: &ast::OutputStmt) {
        for name in &o.names {
            match self.scope().lookup(&name.node) {
                Some(Value::Tensor(id)) => {
                    let bits = self.nodes[id].ty.width;
                    if bits > MAX_TYPE_BITS {
                        self.error(CheckError::OutputTooWide {
                            span: name.span,
                            name: name.node.clone(),
                            bits,
                        });
                    }
                    self.outputs.push(OutputInfo {
                        name: name.node.clone(),
                        node: id,
                    });
                }
                Some(Value::Poison) => {}
                Some(_) => {
                    self.error(CheckError::NotATensor {
                        span: name.span,
                        what: name.node.clone(),
                    });
                }
                None => {
                    let suggestion = scope::suggest(&name.node, self.scopes[0].names());
                    self.error(CheckError::UnknownName {
                        span: name.span,
                        name: name.node.clone(),
                        suggestion,
                    });
                }
            }
        }
    }
}

fn rank_names(ranks: &[usize]) -> &'static str {
    match ranks {
        [1, 3] => "a vector [N] or a map [C, H, W]",
        [0, 1, 2, 3, 4] => "a scalar, [N], [O, I], [C, H, W] or [O, I, KH, KW]",
        [3] => "a map [C, H, W]",
        [4] => "weights [O, I, KH, KW]",
        _ => "another shape",
    }
}

/// Tight per-channel ranges of constant data.
fn channel_ranges(data: &[i128], shape: &Shape) -> Vec<Interval> {
    let plane = shape.plane().max(1);
    data.chunks(plane)
        .map(|c| {
            let lo = c.iter().copied().min().unwrap_or(0);
            let hi = c.iter().copied().max().unwrap_or(0);
            Interval::new(lo, hi)
        })
        .collect()
}
