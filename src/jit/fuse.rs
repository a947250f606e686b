//! Which stages run band by band (`native::BandPair`): a native depthwise
//! stage and the native pointwise stage right after it, when that
//! pointwise stage is the only reader of the depthwise output (no other
//! stage, no pipeline output: the intermediate is then never stored).

use super::machine::Machine;
use super::native::BandPair;
use super::plan::Plan;
use super::stage_nodes;
use crate::ir::Program;

/// How [`super::CompiledPipeline::set_fusion`] pairs stages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fusion {
    /// Every stage over its whole map, one after the other (what
    /// `compile` chooses on one thread: the bands measured 1% slower there
    /// on the Zen 4 machine).
    #[default]
    Off,
    /// The pairs whose intermediate spans at least two bands of the
    /// default size (about 128 KB of it a band); what `compile` chooses on
    /// two threads or more (dsconv 64x128x256: as fast with memory quiet,
    /// 0.64 against 0.87 ms with memory contended).
    Auto,
    /// Every pair, bands of this many rows (tests: odd bands).
    Rows(usize),
}

/// Marks in `machine` every pair of stages `k - 1`, `k` that runs band by
/// band under `fusion` (and unmarks the others); returns the stages `k`.
pub(crate) fn fuse(
    program: &Program,
    plan: &Plan,
    machine: &mut Machine,
    fusion: Fusion,
) -> Vec<usize> {
    let band = match fusion {
        Fusion::Off => None,
        Fusion::Auto => Some(None),
        Fusion::Rows(r) => Some(Some(r)),
    };
    for k in 1..plan.stages.len() {
        let pair = band.and_then(|band| {
            let (dw, pw) = (machine.native(k - 1)?, machine.native(k)?);
            only_reader(program, plan, k).then_some(())?;
            BandPair::new(plan, dw, pw, band)
        });
        machine.fuse(k, pair);
    }
    machine.fused().collect()
}

/// Whether the value of stage `k - 1` is read once, by stage `k`, and
/// used nowhere else: no other node shares its buffer, it is no output.
fn only_reader(program: &Program, plan: &Plan, k: usize) -> bool {
    let root = plan.stages[k - 1].root;
    let Some(mid) = plan.buffer_of[root] else {
        return false;
    };
    let shared = (plan.buffer_of.iter().enumerate()).any(|(n, b)| *b == Some(mid) && n != root);
    let output = program.outputs.iter().any(|o| o.node == root);
    let readers: Vec<usize> = (program.nodes.iter().enumerate())
        .flat_map(|(n, node)| {
            let uses = node
                .op
                .operands()
                .into_iter()
                .filter(|&x| x == root)
                .count();
            std::iter::repeat_n(n, uses)
        })
        .collect();
    let in_k = stage_nodes(program, plan, plan.stages[k].root);
    !shared && !output && readers.len() == 1 && in_k.contains(&readers[0])
}
