//! Running a prepared test and judging its expectations (snapshots are
//! handed back to the caller, which owns the files).

use super::diff::{ValueDiff, Values};
use super::prepare::{Prepared, Resolved};
use crate::ast::OverflowKind;
use crate::diag::{Diagnostic, Report};
use crate::ir::{CastOverflow, NodeId, Op, Program};
use crate::jit::CompiledPipeline;
use crate::numeric::{apply_overflow, checked_quantize, to_decimal};
use crate::span::Span;
use crate::tensor::Tensor;
use crate::types::{Overflow, ScalarType};

/// What computes the values.
pub enum Engine<'a> {
    /// The reference interpreter: every node's value.
    Interp,
    /// Native code: the outputs. When a check needs other nodes, the
    /// interpreter computes those too, and both must agree on the outputs.
    Jit(&'a CompiledPipeline),
}

/// The values a test looks at.
pub struct Computed {
    outputs: Vec<Tensor>,
    /// Every node's value, when the interpreter ran.
    all: Option<Vec<Tensor>>,
}

impl Computed {
    pub fn value<'a>(&'a self, program: &Program, node: NodeId) -> Option<&'a Tensor> {
        match program.outputs.iter().position(|o| o.node == node) {
            Some(k) => self.outputs.get(k),
            None => self.all.as_ref().and_then(|a| a.get(node)),
        }
    }
}

/// Why a test failed while running (its setup was valid).
#[derive(Clone, Debug)]
pub enum Failure {
    /// The backend reported an error (a run-time fault).
    Run(Diagnostic),
    /// The JIT's outputs differ from the interpreter's.
    BackendsDisagree { output: String, diff: ValueDiff },
    Golden {
        name: String,
        path: String,
        diff: ValueDiff,
    },
    /// `expect NAME fits T`: the proven range does not fit.
    NotFits {
        name: String,
        ty: ScalarType,
        /// The proven range, as decimals.
        range: (String, String),
        proven: ScalarType,
        reason: &'static str,
    },
    Overflow {
        kind: OverflowKind,
        span: Span,
        events: Vec<OverflowEvent>,
    },
}

/// A cast that changed values by overflowing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverflowEvent {
    pub owner: String,
    pub label: String,
    pub span: Span,
    pub count: usize,
    pub total: usize,
    pub first_index: Vec<usize>,
    /// The first changed value before and after the cast, as decimals.
    pub before: String,
    pub after: String,
}

/// A value to compare with its stored snapshot.
#[derive(Clone, Debug)]
pub struct SnapshotValue {
    pub name: String,
    pub ty: ScalarType,
    pub value: Tensor,
}

/// The outcome of running one test.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub failures: Vec<Failure>,
    pub snapshots: Vec<SnapshotValue>,
}

pub fn compute(
    program: &Program,
    test: &Prepared,
    engine: &Engine<'_>,
) -> Result<Computed, Box<Failure>> {
    let interp = || {
        crate::interp::interpret_all(program, &test.inputs)
            .map_err(|e| Box::new(Failure::Run(e.diagnostic())))
    };
    let outputs_of = |all: &[Tensor]| -> Vec<Tensor> {
        program
            .outputs
            .iter()
            .filter_map(|o| all.get(o.node).cloned())
            .collect()
    };
    match engine {
        Engine::Interp => {
            let all = interp()?;
            Ok(Computed {
                outputs: outputs_of(&all),
                all: Some(all),
            })
        }
        Engine::Jit(compiled) => {
            let outputs = compiled
                .run(&test.inputs)
                .map_err(|e| Box::new(Failure::Run(e.diagnostic())))?;
            if !test.needs_every_node(program) {
                return Ok(Computed { outputs, all: None });
            }
            let all = interp()?;
            for (info, (jit, reference)) in program
                .outputs
                .iter()
                .zip(outputs.iter().zip(outputs_of(&all)))
            {
                if jit.data != reference.data {
                    let diff = ValueDiff::between(values(&reference), values(jit));
                    return Err(Box::new(Failure::BackendsDisagree {
                        output: info.name.clone(),
                        diff,
                    }));
                }
            }
            Ok(Computed {
                outputs,
                all: Some(all),
            })
        }
    }
}

pub fn values(t: &Tensor) -> Values<'_> {
    Values {
        shape: &t.shape,
        frac: t.frac,
        raw: &t.data,
    }
}

/// Runs `test` on `engine` and judges every expectation.
pub fn run(program: &Program, test: &Prepared, engine: &Engine<'_>) -> Outcome {
    let mut outcome = Outcome::default();
    let computed = match compute(program, test, engine) {
        Ok(c) => c,
        Err(f) => {
            outcome.failures.push(*f);
            return outcome;
        }
    };
    for check in &test.checks {
        match check {
            Resolved::Golden {
                name,
                node,
                path,
                expected,
                ..
            } => {
                let Some(actual) = computed.value(program, *node) else {
                    continue;
                };
                let expected = Values {
                    shape: &actual.shape,
                    frac: actual.frac,
                    raw: expected,
                };
                let diff = ValueDiff::between(expected, values(actual));
                if !diff.is_same() {
                    outcome.failures.push(Failure::Golden {
                        name: name.clone(),
                        path: path.clone(),
                        diff,
                    });
                }
            }
            Resolved::Fits { name, node, ty, .. } => {
                if let Some(f) = fits(program, name, *node, ty) {
                    outcome.failures.push(f);
                }
            }
            Resolved::NoOverflow { kind, within, span } => {
                let events = overflows(program, &computed, *kind, within.as_deref());
                if !events.is_empty() {
                    outcome.failures.push(Failure::Overflow {
                        kind: *kind,
                        span: *span,
                        events,
                    });
                }
            }
            Resolved::Snapshot { name, node, .. } => {
                if let Some(value) = computed.value(program, *node) {
                    outcome.snapshots.push(SnapshotValue {
                        name: name.clone(),
                        ty: program.nodes[*node].ty,
                        value: value.clone(),
                    });
                }
            }
        }
    }
    outcome
}

/// `expect NAME fits T`: every value the checker proved possible is a value
/// of `T` (inside its range, with no more fraction bits than it has).
fn fits(program: &Program, name: &str, node: NodeId, ty: &ScalarType) -> Option<Failure> {
    let n = &program.nodes[node];
    let range = n.range();
    let fail = |reason| {
        Some(Failure::NotFits {
            name: name.to_string(),
            ty: *ty,
            range: (to_decimal(range.lo, n.frac), to_decimal(range.hi, n.frac)),
            proven: n.ty,
            reason,
        })
    };
    if ty.frac_bits() < 0 || n.frac > ty.storage_frac() {
        return fail("it has more fraction bits than the type");
    }
    let (lo, hi) = ty.value_bounds();
    let up = ty.storage_frac() - n.frac;
    let (Some(rlo), Some(rhi)) = (range.lo.checked_shl(up), range.hi.checked_shl(up)) else {
        return fail("it lies outside the type's range");
    };
    if rlo < lo || rhi > hi {
        return fail("it lies outside the type's range");
    }
    None
}

/// Is `mode` of the kind `expect no KIND` rules out?
fn of_kind(mode: Overflow, kind: OverflowKind) -> bool {
    match kind {
        OverflowKind::Wrap => mode == Overflow::Wrap,
        OverflowKind::Sat => mode != Overflow::Wrap,
    }
}

/// Casts of `kind` whose overflow handling changed a value on this input.
fn overflows(
    program: &Program,
    computed: &Computed,
    kind: OverflowKind,
    within: Option<&str>,
) -> Vec<OverflowEvent> {
    let mut events = vec![];
    for node in &program.nodes {
        let Op::Cast {
            x,
            to,
            quant,
            overflow: CastOverflow::Mode(mode),
        } = node.op
        else {
            continue;
        };
        if !of_kind(mode, kind) || within.is_some_and(|w| node.owner != w) {
            continue;
        }
        let Some(operand) = computed.all.as_ref().and_then(|a| a.get(x)) else {
            continue;
        };
        let from = operand.frac as i32;
        let mut count = 0;
        let mut first = None;
        for (k, &v) in operand.data.iter().enumerate() {
            let changed = match checked_quantize(v, from, to.frac_bits(), quant) {
                Some(q) => apply_overflow(q, to.signed, to.width, mode) != q,
                None => true,
            };
            if changed {
                count += 1;
                if first.is_none() {
                    first = Some(k);
                }
            }
        }
        if let Some(k) = first {
            let after = crate::numeric::cast_raw(
                operand.data[k],
                operand.frac,
                &to,
                quant,
                CastOverflow::Mode(mode),
            );
            events.push(OverflowEvent {
                owner: node.owner.clone(),
                label: node.label.clone(),
                span: node.span,
                count,
                total: operand.data.len(),
                first_index: crate::tensor::unravel(k, &operand.shape),
                before: to_decimal(operand.data[k], operand.frac),
                after: to_decimal(after, to.storage_frac()),
            });
        }
    }
    events
}
