//! `@hls(pe: N, simd: M)` above a `let`: validated against the stage the
//! `let` computes and carried in the program as a [`StageHint`]. Attributes
//! never change a value; only the HLS planner reads the hint.

use super::error::{CheckError, NoParallelForm};
use super::scope::Value;
use super::Checker;
use crate::ast;
use crate::builtins;
use crate::ir::{reduction_channels, NodeId, Op, StageHint};
use crate::span::Span;

/// The keys of `@hls` after the name and key checks: each factor once.
#[derive(Default)]
struct Factors {
    pe: Option<(usize, Span)>,
    simd: Option<(usize, Span)>,
}

impl Checker<'_> {
    /// Checks the attributes of `d`, whose value is `value` and whose nodes
    /// are those from `first_node` on owned by `stage`.
    pub(super) fn let_attributes(
        &mut self,
        d: &ast::LetDecl,
        value: &Value,
        stage: &str,
        first_node: NodeId,
    ) {
        let Some(factors) = self.attribute_factors(&d.attributes) else {
            return;
        };
        if factors.pe.is_none() && factors.simd.is_none() {
            return;
        }
        if matches!(value, Value::Poison) {
            return;
        }
        let span = d
            .attributes
            .iter()
            .map(|a| a.span)
            .reduce(|a, b| Span::new(a.source, a.start as usize, b.end as usize))
            .unwrap_or(d.span);
        let first_key = factors.pe.or(factors.simd).map_or(span, |(_, s)| s);
        let results: Vec<NodeId> = match value {
            Value::Tensor(id) => vec![*id],
            Value::Tuple(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    Value::Tensor(id) => Some(*id),
                    _ => None,
                })
                .collect(),
            _ => vec![],
        };
        let owned = |id: NodeId| id >= first_node && self.nodes[id].owner == stage;
        if results.is_empty() || !results.iter().all(|&id| owned(id)) {
            self.errors.push(CheckError::NoParallelForm {
                span: first_key,
                stage: stage.to_string(),
                value: d.value.span,
                why: NoParallelForm::NotComputedHere,
            });
            return;
        }
        if results.iter().any(|&id| !self.reads_an_input(id)) {
            self.errors.push(CheckError::NoParallelForm {
                span: first_key,
                stage: stage.to_string(),
                value: d.value.span,
                why: NoParallelForm::Static,
            });
            return;
        }
        // Every kernel of the stage: its results and its spatial nodes (the
        // HLS plan gives each spatial node of a stage its own loop).
        let mut kernels = results.clone();
        kernels.extend(
            (first_node..self.nodes.len())
                .filter(|&id| self.nodes[id].owner == stage && self.nodes[id].op.is_spatial()),
        );
        if let Some((pe, pe_span)) = factors.pe {
            for &id in &kernels {
                let channels = self.nodes[id].shape.chw().c;
                if !channels.is_multiple_of(pe) {
                    self.errors.push(CheckError::FactorNotDividing {
                        span: pe_span,
                        key: "pe",
                        factor: pe,
                        extent: channels,
                        at: self.nodes[id].span,
                    });
                    return;
                }
            }
        }
        if let Some((simd, simd_span)) = factors.simd {
            let reductions: Vec<(NodeId, usize)> = kernels
                .iter()
                .filter_map(|&id| reduction_channels(&self.nodes, id).map(|c| (id, c)))
                .collect();
            if reductions.is_empty() {
                self.errors.push(CheckError::NoParallelForm {
                    span: simd_span,
                    stage: stage.to_string(),
                    value: d.value.span,
                    why: NoParallelForm::NoReduction,
                });
                return;
            }
            for (id, channels) in reductions {
                if !channels.is_multiple_of(simd) {
                    self.errors.push(CheckError::FactorNotDividing {
                        span: simd_span,
                        key: "simd",
                        factor: simd,
                        extent: channels,
                        at: self.nodes[id].span,
                    });
                    return;
                }
            }
        }
        self.hints.push(StageHint {
            stage: stage.to_string(),
            pe: factors.pe.map(|(v, _)| v),
            simd: factors.simd.map(|(v, _)| v),
            span,
        });
    }

    /// Names, keys (each once over all attributes) and positive values;
    /// `None` after an error.
    fn attribute_factors(&mut self, attributes: &[ast::Attribute]) -> Option<Factors> {
        let mut factors = Factors::default();
        let mut ok = true;
        let mut seen: Vec<(String, Span)> = vec![];
        for a in attributes {
            let Some(known) = builtins::attribute(&a.name.node) else {
                self.errors.push(CheckError::UnknownAttribute {
                    span: a.name.span,
                    name: a.name.node.clone(),
                    available: builtins::ATTRIBUTES.iter().map(|a| a.name.into()).collect(),
                });
                ok = false;
                continue;
            };
            for arg in &a.args {
                let key = arg.key.node.as_str();
                let available = || known.keys.iter().map(|k| k.name.to_string()).collect();
                if !known.keys.iter().any(|k| k.name == key) {
                    self.errors.push(CheckError::BadAttributeKey {
                        span: arg.key.span,
                        attribute: known.name,
                        key: key.to_string(),
                        available: available(),
                        previous: None,
                    });
                    ok = false;
                    continue;
                }
                if let Some((_, previous)) = seen.iter().find(|(k, _)| k == key) {
                    self.errors.push(CheckError::BadAttributeKey {
                        span: arg.key.span,
                        attribute: known.name,
                        key: key.to_string(),
                        available: available(),
                        previous: Some(*previous),
                    });
                    ok = false;
                    continue;
                }
                seen.push((key.to_string(), arg.key.span));
                let value = arg.value.node;
                let Some(factor) = usize::try_from(value).ok().filter(|&v| v > 0) else {
                    self.errors.push(CheckError::FactorNotPositive {
                        span: arg.span,
                        key: if key == "pe" { "pe" } else { "simd" },
                        value,
                    });
                    ok = false;
                    continue;
                };
                let slot = if key == "pe" {
                    &mut factors.pe
                } else {
                    &mut factors.simd
                };
                *slot = Some((factor, arg.span));
            }
        }
        ok.then_some(factors)
    }

    /// Whether `id` depends on a program input (a node that does not is
    /// folded into constant data, with no loop to parallelize).
    fn reads_an_input(&self, id: NodeId) -> bool {
        let mut stack = vec![id];
        let mut seen = vec![false; self.nodes.len()];
        while let Some(n) = stack.pop() {
            if std::mem::replace(&mut seen[n], true) {
                continue;
            }
            if matches!(self.nodes[n].op, Op::Input { .. }) {
                return true;
            }
            stack.extend(self.nodes[n].op.operands());
        }
        false
    }
}

/// The factors of `extent` nearest to `factor`, below and above (the
/// values a `pe` or `simd` that does not divide could round to).
pub fn nearest_divisors(extent: usize, factor: usize) -> (usize, Option<usize>) {
    let below = (1..=factor.min(extent))
        .rev()
        .find(|d| extent.is_multiple_of(*d))
        .unwrap_or(1);
    let above = (factor + 1..=extent).find(|d| extent.is_multiple_of(*d));
    (below, above)
}
