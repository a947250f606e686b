//! The HLS C++ backend: a checked [`Program`] becomes a Vitis HLS project
//! (top function, one function per stage, weights as `const` arrays, a
//! testbench with golden values from the interpreter, a Tcl script, a
//! Makefile for C simulation with g++ and the open-source ap_types).
//!
//! Pure: [`emit`] returns the files as `(relative path, contents)`; the CLI
//! writes them. Arithmetic is bit-exact with the interpreter: every value
//! has exactly the ap type of its node's proven type (`node.ty`), ap
//! arithmetic widens exactly, and every loss of information is an explicit
//! conversion to an ap type with the script's quantization and overflow
//! modes (see `docs/hls.md`).
//!
//! - [`plan`]: which values are buffers / streams and which are fused;
//! - [`array`] and [`stream`]: the two code styles;
//! - [`pixel`]: the per-pixel arithmetic both styles share;
//! - [`project`]: testbench, data, Tcl, Makefile, README;
//! - [`estimate`]: the resource and latency model.

mod array;
mod array_ports;
mod cpp;
mod error;
pub mod estimate;
mod network;
mod pixel;
mod plan;
mod project;
mod remap;
pub mod replay;
mod schedule;
mod stream;
mod writer;

pub use error::{HlsError, Knob};
pub use estimate::{estimate, Estimate, StageEstimate};

use crate::diag::SourceMap;
use crate::interp::interpret_all;
use crate::ir::{NodeId, Op, Program, Shape};
use crate::tensor::Tensor;
use plan::Plan;
use std::collections::{BTreeMap, HashSet};

/// How feature maps move between stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Style {
    /// Whole maps in arrays (halos included), one loop nest per stage.
    #[default]
    Array,
    /// `hls::stream` FIFOs between stages under DATAFLOW, line buffers for windows.
    Stream,
}

impl Style {
    pub fn name(self) -> &'static str {
        match self {
            Style::Array => "array",
            Style::Stream => "stream",
        }
    }
}

/// Parallelism of one stage: `pe` output channels at a time, `simd` input
/// channels of the reduction at a time (`None`: the whole reduction per cycle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parallel {
    pub pe: usize,
    pub simd: Option<usize>,
}

impl Default for Parallel {
    fn default() -> Self {
        Parallel { pe: 1, simd: None }
    }
}

#[derive(Clone, Debug)]
pub struct HlsOptions {
    pub style: Style,
    /// FPGA part for `set_part`.
    pub part: String,
    /// Clock period in nanoseconds.
    pub clock_ns: f64,
    /// Testbench inputs (one tensor per program input); `None` draws them
    /// with `data::random_raw` from `seed` (input `i` uses `seed + i`).
    pub inputs: Option<Vec<Tensor>>,
    pub seed: u64,
    /// Per-stage parallelism, by `let` name.
    pub parallel: BTreeMap<String, Parallel>,
    /// The sources the spans point into, for the `// file:line` comments.
    pub sources: Option<SourceMap>,
}

impl Default for HlsOptions {
    fn default() -> Self {
        HlsOptions {
            style: Style::Array,
            part: "xczu9eg-ffvb1156-2-e".into(),
            clock_ns: 5.0,
            inputs: None,
            seed: 1,
            parallel: BTreeMap::new(),
            sources: None,
        }
    }
}

/// An emitted project: files relative to the project folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub files: Vec<(String, String)>,
}

impl Project {
    pub fn file(&self, path: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, c)| c.as_str())
    }
}

/// Parses `pe:4,simd:8`.
pub fn parse_parallel(text: &str) -> Result<Parallel, HlsError> {
    let bad = || HlsError::BadParallel {
        text: text.to_string(),
    };
    let mut p = Parallel::default();
    for part in text.split(',') {
        let (k, v) = part.split_once(':').ok_or_else(bad)?;
        let v: usize = v.trim().parse().map_err(|_| bad())?;
        if v == 0 {
            return Err(bad());
        }
        match k.trim() {
            "pe" => p.pe = v,
            "simd" => p.simd = Some(v),
            _ => return Err(bad()),
        }
    }
    Ok(p)
}

/// Everything the emitters share: the program, its plan, C++ names, the
/// interpreter's values (golden outputs and static data) and the options.
pub(crate) struct Ctx<'a> {
    pub program: &'a Program,
    pub plan: Plan,
    pub names: Vec<String>,
    pub values: Vec<Tensor>,
    pub inputs: Vec<Tensor>,
    pub options: &'a HlsOptions,
    /// Parallelism of each kernel of `plan.kernels`.
    pub parallel: Vec<Parallel>,
}

impl Ctx<'_> {
    pub fn node(&self, id: NodeId) -> &crate::ir::Node {
        &self.program.nodes[id]
    }

    pub fn name(&self, id: NodeId) -> &str {
        &self.names[id]
    }

    /// The typedef of a named (materialized or static) node.
    pub fn type_name(&self, id: NodeId) -> String {
        format!("{}_t", self.names[id])
    }

    /// `file:line` of a node's source, when the sources are known.
    pub fn source_line(&self, id: NodeId) -> Option<(String, usize, String)> {
        let sources = self.options.sources.as_ref()?;
        let span = self.node(id).span;
        let (line, _) = sources.line_col(span.source, span.start as usize);
        let text = sources
            .text(span.source)
            .lines()
            .nth(line - 1)?
            .trim()
            .to_string();
        let name = sources.name(span.source);
        let short = std::path::Path::new(name)
            .file_name()
            .map_or(name.to_string(), |f| f.to_string_lossy().into_owned());
        Some((short, line, text))
    }

    /// `// seed.cnn:14: let dw = ...` for the stage computing `id`.
    pub fn source_comment(&self, id: NodeId) -> String {
        match self.source_line(id) {
            Some((file, line, text)) => format!("// {file}:{line}: {text}"),
            None => format!("// stage `{}`", self.node(id).owner),
        }
    }
}

/// Emits the HLS project for `program`.
pub fn emit(program: &Program, options: &HlsOptions) -> Result<Project, HlsError> {
    let ctx = prepare(program, options, Golden::Compute)?;
    let cpp = match options.style {
        Style::Array => array::emit(&ctx)?,
        Style::Stream => stream::emit(&ctx)?,
    };
    project::files(&ctx, cpp)
}

/// Whether [`prepare`] runs the interpreter for the testbench's golden values
/// and the static data (the emitters need them; the estimate does not).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Golden {
    Compute,
    Skip,
}

/// Validation, the plan, names and (with `Golden::Compute`) golden values.
pub(crate) fn prepare<'a>(
    program: &'a Program,
    options: &'a HlsOptions,
    golden: Golden,
) -> Result<Ctx<'a>, HlsError> {
    for info in &program.inputs {
        let node = &program.nodes[info.node];
        if !matches!(node.shape, Shape::Map { .. }) {
            return Err(HlsError::Unsupported {
                span: node.span,
                what: "inputs that are not [C, H, W] maps",
            });
        }
    }
    for node in &program.nodes {
        if node.ty.width > cpp::MAX_EMIT_BITS {
            return Err(HlsError::TooWide {
                span: node.span,
                stage: node.owner.clone(),
                width: node.ty.width,
                limit: cpp::MAX_EMIT_BITS,
            });
        }
    }
    let inputs = match &options.inputs {
        Some(given) => {
            for (info, t) in program.inputs.iter().zip(given) {
                let expected = program.nodes[info.node].shape.dims();
                if t.shape != expected {
                    return Err(HlsError::TestbenchInput {
                        name: info.name.clone(),
                        expected,
                        found: t.shape.clone(),
                    });
                }
            }
            given.clone()
        }
        None if golden == Golden::Skip => vec![],
        None => random_inputs(program, options.seed),
    };
    let values = match golden {
        Golden::Compute => {
            interpret_all(program, &inputs).map_err(|e| HlsError::Golden(Box::new(e)))?
        }
        Golden::Skip => vec![],
    };
    let plan = Plan::new(program);
    let names = assign_names(program, &plan);
    let parallel = resolve_parallel(program, &plan, options)?;
    Ok(Ctx {
        program,
        plan,
        names,
        values,
        inputs,
        options,
        parallel,
    })
}

/// Reproducible testbench inputs: input `i` is `random_raw(seed + i)` of its type.
pub fn random_inputs(program: &Program, seed: u64) -> Vec<Tensor> {
    program
        .inputs
        .iter()
        .enumerate()
        .map(|(i, info)| {
            let node = &program.nodes[info.node];
            Tensor {
                shape: node.shape.dims(),
                frac: node.frac,
                data: crate::data::random_raw(
                    seed.wrapping_add(i as u64),
                    &node.ty,
                    node.shape.len(),
                ),
            }
        })
        .collect()
}

/// A unique C++ identifier for every input, materialized and static node;
/// `NAME`, `NAME_t` and `stage_NAME` never collide with each other.
fn assign_names(program: &Program, plan: &Plan) -> Vec<String> {
    let mut used: HashSet<String> = HashSet::new();
    used.insert(cpp::identifier(&program.name));
    let mut names = vec![String::new(); program.nodes.len()];
    // Inputs and outputs first, so that they keep the script's names.
    let mut order: Vec<NodeId> = program.inputs.iter().map(|i| i.node).collect();
    order.extend(program.outputs.iter().map(|o| o.node));
    order.extend(0..program.nodes.len());
    for id in order {
        if !names[id].is_empty() || !(plan.materialized[id] || plan.is_static[id]) {
            continue;
        }
        let node = &program.nodes[id];
        let out_name = program
            .outputs
            .iter()
            .find(|o| o.node == id)
            .map(|o| o.name.clone());
        let base = match (&out_name, &node.name, &node.op) {
            (Some(n), _, _) => n.clone(),
            (_, Some(n), _) => n.clone(),
            (_, None, Op::Constant { .. }) | (_, None, _) if plan.is_static[id] => format!("k{id}"),
            _ => format!(
                "{}_{id}",
                if node.owner.is_empty() {
                    "t"
                } else {
                    &node.owner
                }
            ),
        };
        let mut name = cpp::identifier(&base);
        let taken = |n: &str, used: &HashSet<String>| {
            used.contains(n)
                || used.contains(&format!("{n}_t"))
                || used.contains(&format!("{n}_beat"))
                || used.contains(&format!("stage_{n}"))
        };
        if taken(&name, &used) {
            name = format!("{name}_{id}");
        }
        used.insert(name.clone());
        used.insert(format!("{name}_t"));
        used.insert(format!("{name}_beat"));
        used.insert(format!("stage_{name}"));
        names[id] = name;
    }
    names
}

/// The parallelism of each stage that has one: the script's `@hls(pe, simd)`
/// (`Program::hints`), replaced stage by stage by `options.parallel` (the
/// CLI's `--parallel STAGE=...`).
pub fn stage_parallel(program: &Program, options: &HlsOptions) -> BTreeMap<String, Parallel> {
    let mut chosen: BTreeMap<String, Parallel> = program
        .hints
        .iter()
        .map(|h| {
            let p = Parallel {
                pe: h.pe.unwrap_or(1),
                simd: h.simd,
            };
            (h.stage.clone(), p)
        })
        .collect();
    for (stage, p) in &options.parallel {
        chosen.insert(stage.clone(), *p);
    }
    chosen
}

/// Each kernel's parallelism (`stage_parallel`), with the factors checked.
fn resolve_parallel(
    program: &Program,
    plan: &Plan,
    options: &HlsOptions,
) -> Result<Vec<Parallel>, HlsError> {
    let stages: Vec<String> = {
        let mut s: Vec<String> = plan.kernels.iter().map(|k| k.stage.clone()).collect();
        s.dedup();
        s
    };
    for stage in options.parallel.keys() {
        if !stages.contains(stage) {
            return Err(HlsError::UnknownStage {
                stage: stage.clone(),
                available: stages.clone(),
            });
        }
    }
    let chosen = stage_parallel(program, options);
    plan.kernels
        .iter()
        .map(|k| {
            let Some(p) = chosen.get(&k.stage).copied() else {
                return Ok(Parallel::default());
            };
            let node = &program.nodes[k.out];
            let c = node.shape.chw().c;
            if !c.is_multiple_of(p.pe) {
                return Err(HlsError::FactorNotDividing {
                    span: node.span,
                    stage: k.stage.clone(),
                    knob: Knob::Pe,
                    factor: p.pe,
                    extent: c,
                });
            }
            if let Some(simd) = p.simd {
                let reduction = k.core.and_then(|core| reduction_channels(program, core));
                let Some(cig) = reduction else {
                    // `simd` is for the stage's conv or deconv: another loop
                    // of the stage (its pooling, say) takes the whole pixel.
                    let any = plan.kernels.iter().any(|o| {
                        o.stage == k.stage
                            && o.core
                                .and_then(|core| reduction_channels(program, core))
                                .is_some()
                    });
                    if any {
                        return Ok(Parallel {
                            pe: p.pe,
                            simd: None,
                        });
                    }
                    return Err(HlsError::KnobNotApplicable {
                        span: node.span,
                        stage: k.stage.clone(),
                        knob: Knob::Simd,
                    });
                };
                if cig % simd != 0 {
                    return Err(HlsError::FactorNotDividing {
                        span: program.nodes[k.core.unwrap_or(k.out)].span,
                        stage: k.stage.clone(),
                        knob: Knob::Simd,
                        factor: simd,
                        extent: cig,
                    });
                }
            }
            Ok(p)
        })
        .collect()
}

/// Input channels per group of a conv or deconv (the reduction SIMD splits).
pub(crate) fn reduction_channels(program: &Program, core: NodeId) -> Option<usize> {
    crate::ir::reduction_channels(&program.nodes, core)
}
