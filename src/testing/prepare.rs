//! A test declaration resolved against its checked pipeline: input tensors
//! built, every name found, golden files decoded and checked for shape and
//! dtype. Everything that can be wrong with the test itself is found here,
//! before anything runs.

use super::error::TestError;
use crate::ast::{Init, OverflowKind, TestCheck, TestDecl};
use crate::check::DataSource;
use crate::data::{self, npy_dtype_for, Dtype};
use crate::ir::{NodeId, Op, Program};
use crate::span::Span;
use crate::tensor::Tensor;
use crate::types::ScalarType;

/// A test ready to run.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub name: String,
    /// One tensor per program input, in program order.
    pub inputs: Vec<Tensor>,
    pub checks: Vec<Resolved>,
}

impl Prepared {
    /// Whether some check needs values that only the interpreter gives
    /// (a `let` that is not an output, or the casts' operands).
    pub fn needs_every_node(&self, program: &Program) -> bool {
        let is_output = |node: NodeId| program.outputs.iter().any(|o| o.node == node);
        self.checks.iter().any(|c| match c {
            Resolved::Golden { node, .. } | Resolved::Snapshot { node, .. } => !is_output(*node),
            Resolved::Fits { .. } => false,
            Resolved::NoOverflow { .. } => true,
        })
    }
}

/// An expectation with its names resolved to nodes.
#[derive(Clone, Debug)]
pub enum Resolved {
    Golden {
        name: String,
        node: NodeId,
        path: String,
        /// Raw values at the node's frac.
        expected: Vec<i128>,
        span: Span,
    },
    Fits {
        name: String,
        node: NodeId,
        ty: ScalarType,
        span: Span,
    },
    NoOverflow {
        kind: OverflowKind,
        /// Only the casts owned by this `let`.
        within: Option<String>,
        span: Span,
    },
    Snapshot {
        name: String,
        node: NodeId,
        span: Span,
    },
}

/// The names an expectation may use: outputs, then every named node.
pub fn value_names(program: &Program) -> Vec<String> {
    let mut names: Vec<String> = program.outputs.iter().map(|o| o.name.clone()).collect();
    for node in &program.nodes {
        if let Some(n) = &node.name {
            if !names.contains(n) && !matches!(node.op, Op::Constant { .. }) {
                names.push(n.clone());
            }
        }
    }
    names
}

/// The node an expectation's name means: an output, else the last node
/// bound to that name.
pub fn find_value(program: &Program, name: &str) -> Option<NodeId> {
    program
        .outputs
        .iter()
        .find(|o| o.name == name)
        .map(|o| o.node)
        .or_else(|| {
            program
                .nodes
                .iter()
                .rposition(|n| n.name.as_deref() == Some(name))
        })
}

/// Resolves `test` against `program`, reading `load("...")` files through
/// `data` (paths relative to the script). Every error is reported.
pub fn prepare(
    test: &TestDecl,
    program: &Program,
    data: &dyn DataSource,
) -> Result<Prepared, Vec<TestError>> {
    let mut errors = vec![];
    let inputs = inputs(test, program, data, &mut errors);
    let mut checks = vec![];
    let pipeline = &program.name;
    let lookup = |name: &crate::ast::Ident, errors: &mut Vec<TestError>| {
        let found = find_value(program, &name.node);
        if found.is_none() {
            let available = value_names(program);
            errors.push(TestError::UnknownValue {
                span: name.span,
                name: name.node.clone(),
                pipeline: pipeline.clone(),
                suggestion: crate::check::suggest(&name.node, available.iter().map(String::as_str)),
                available,
            });
        }
        found
    };
    for check in &test.checks {
        match check {
            TestCheck::Golden { name, path, span } => {
                let Some(node) = lookup(name, &mut errors) else {
                    continue;
                };
                let n = &program.nodes[node];
                let target = Target {
                    name: &name.node,
                    ty: &n.ty,
                    dims: n.shape.dims(),
                };
                if let Some(expected) =
                    load(path.node.as_str(), path.span, &target, data, &mut errors)
                {
                    checks.push(Resolved::Golden {
                        name: name.node.clone(),
                        node,
                        path: path.node.clone(),
                        expected,
                        span: *span,
                    });
                }
            }
            TestCheck::Fits { name, ty, span } => {
                if let Some(node) = lookup(name, &mut errors) {
                    checks.push(Resolved::Fits {
                        name: name.node.clone(),
                        node,
                        ty: ty.node,
                        span: *span,
                    });
                }
            }
            TestCheck::NoOverflow { kind, within, span } => {
                if let Some(w) = within {
                    if !program.nodes.iter().any(|n| n.owner == w.node) {
                        errors.push(TestError::UnknownStage {
                            span: w.span,
                            name: w.node.clone(),
                            pipeline: pipeline.clone(),
                        });
                        continue;
                    }
                }
                checks.push(Resolved::NoOverflow {
                    kind: kind.node,
                    within: within.as_ref().map(|w| w.node.clone()),
                    span: *span,
                });
            }
            TestCheck::Snapshot { names, span } => {
                for name in names {
                    if let Some(node) = lookup(name, &mut errors) {
                        checks.push(Resolved::Snapshot {
                            name: name.node.clone(),
                            node,
                            span: *span,
                        });
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(Prepared {
            name: test.name.node.clone(),
            inputs,
            checks,
        })
    } else {
        Err(errors)
    }
}

fn inputs(
    test: &TestDecl,
    program: &Program,
    data: &dyn DataSource,
    errors: &mut Vec<TestError>,
) -> Vec<Tensor> {
    let run = &test.run;
    let mut given: Vec<Option<&crate::ast::TestInput>> = vec![None; program.inputs.len()];
    for input in &run.inputs {
        match program
            .inputs
            .iter()
            .position(|i| i.name == input.name.node)
        {
            Some(k) => match given[k] {
                Some(first) => errors.push(TestError::DuplicateInput {
                    span: input.name.span,
                    first: first.name.span,
                    name: input.name.node.clone(),
                }),
                None => given[k] = Some(input),
            },
            None => errors.push(TestError::UnknownInput {
                span: input.name.span,
                name: input.name.node.clone(),
                pipeline: program.name.clone(),
                available: program.inputs.iter().map(|i| i.name.clone()).collect(),
            }),
        }
    }
    let mut tensors = vec![];
    for (info, input) in program.inputs.iter().zip(given) {
        let node = &program.nodes[info.node];
        let Some(input) = input else {
            errors.push(TestError::MissingInput {
                span: run.span,
                name: info.name.clone(),
                pipeline: program.name.clone(),
            });
            continue;
        };
        let values = match &input.init {
            Init::Random(seed) => Some(data::random_raw(seed.node, &node.ty, node.shape.len())),
            Init::Load(path) => {
                let target = Target {
                    name: &info.name,
                    ty: &node.ty,
                    dims: node.shape.dims(),
                };
                load(&path.node, path.span, &target, data, errors)
            }
        };
        if let Some(values) = values {
            tensors.push(Tensor {
                shape: node.shape.dims(),
                frac: node.frac,
                data: values,
            });
        }
    }
    tensors
}

/// What a data file must hold.
struct Target<'a> {
    name: &'a str,
    ty: &'a ScalarType,
    dims: Vec<usize>,
}

/// Reads and decodes a data file for `target`: exactly its shape, a dtype of
/// the right kind (integers for integer types, floats for fixed-point ones)
/// and values the type represents exactly.
fn load(
    path: &str,
    span: Span,
    target: &Target<'_>,
    data: &dyn DataSource,
    errors: &mut Vec<TestError>,
) -> Option<Vec<i128>> {
    let bytes = match data.read(path) {
        Ok(b) => b,
        Err(reason) => {
            errors.push(TestError::DataFile {
                span,
                path: path.to_string(),
                reason,
            });
            return None;
        }
    };
    let arr = match data::parse_npy(&bytes) {
        Ok(a) => a,
        Err(e) => {
            errors.push(TestError::BadNpy {
                span,
                path: path.to_string(),
                reason: e.to_string(),
            });
            return None;
        }
    };
    if arr.shape != target.dims {
        errors.push(TestError::Shape {
            span,
            path: path.to_string(),
            name: target.name.to_string(),
            expected: target.dims.clone(),
            found: arr.shape,
        });
        return None;
    }
    let right_kind = if target.ty.fixed {
        arr.dtype.is_float()
    } else {
        !arr.dtype.is_float()
    };
    if !right_kind || (arr.dtype == Dtype::Bool && target.ty.fixed) {
        errors.push(TestError::Dtype {
            span,
            path: path.to_string(),
            name: target.name.to_string(),
            ty: *target.ty,
            found: arr.dtype,
            expected: npy_dtype_for(target.ty, false),
        });
        return None;
    }
    match data::npy_to_raw(&arr, target.ty, false) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(TestError::Value {
                span,
                path: path.to_string(),
                name: target.name.to_string(),
                ty: *target.ty,
                reason: e.to_string(),
            });
            None
        }
    }
}
