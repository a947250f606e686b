//! Cycle replay of the emitted stream designs. Each example is emitted in
//! the stream style and compiled for C simulation against a bounded-free,
//! logging `hls::stream` (`REPLAY_STREAM` below, found before the ap_types
//! one) with `CONVOY_ITERATION` recording the start of every pipelined
//! iteration. The log gives, per process, what each iteration of its loop
//! read and wrote; [`convoy::hls::replay`] then runs those iterations cycle
//! by cycle (one per II, blocking on empty and full FIFOs) with the depths
//! the emitted `STREAM` pragmas declare, inputs at one beat per cycle.
//!
//! Asserted per example: no deadlock; the replayed interval within 10% of
//! `convoy estimate`'s and within 1.05 x max(input beats, output beats,
//! largest stage MACs / (pe x simd)); every FIFO at most twice the smallest
//! depth that keeps the replay free of deadlock at the same interval. And a
//! static port budget: in every stage function, the line-buffer and weight
//! accesses per iteration fit two ports per memory at the pragma's II.

use crate::common::tools::{self, Cpp};
use crate::common::{compile, root, Folder};
use convoy::hls::replay::{replay, smallest_safe_depth, ReplayFifo, ReplayProcess};
use convoy::hls::{self, HlsOptions, Parallel, Style};
use convoy::ir::{Op, Program, Shape};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

const REPLAY_STREAM: &str = r#"// hls_stream.h for Convoy's cycle replay: an unbounded FIFO that logs every
// read and write with the process iteration it belongs to.
#ifndef CONVOY_REPLAY_STREAM_H
#define CONVOY_REPLAY_STREAM_H
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <string>
namespace convoy_replay {
inline FILE* log() {
  static FILE* f = std::fopen(std::getenv("CONVOY_TRACE"), "w");
  return f;
}
inline int id_of(std::map<std::string, int>& m, const std::string& n, char kind) {
  std::map<std::string, int>::iterator it = m.find(n);
  if (it != m.end()) return it->second;
  const int id = static_cast<int>(m.size());
  m[n] = id;
  std::fprintf(log(), "%c %d %s\n", kind, id, n.c_str());
  return id;
}
inline std::map<std::string, int>& processes() { static std::map<std::string, int> m; return m; }
inline std::map<std::string, int>& streams() { static std::map<std::string, int> m; return m; }
inline void iteration(const char* p) { std::fprintf(log(), "I %d\n", id_of(processes(), p, 'P')); }
}  // namespace convoy_replay
#define CONVOY_ITERATION(p) convoy_replay::iteration(#p);
namespace hls {
template <typename T>
class stream {
  std::deque<T> q;
  int id;
 public:
  explicit stream(const char* name = "unnamed") : id(convoy_replay::id_of(convoy_replay::streams(), name, 'S')) {}
  T read() {
    if (q.empty()) { std::fprintf(stderr, "read from an empty stream\n"); std::exit(3); }
    T v = q.front();
    q.pop_front();
    std::fprintf(convoy_replay::log(), "R %d\n", id);
    return v;
  }
  void write(const T& v) { q.push_back(v); std::fprintf(convoy_replay::log(), "W %d\n", id); }
  bool empty() const { return q.empty(); }
};
}  // namespace hls
#endif
"#;

struct Traced {
    processes: Vec<ReplayProcess>,
    fifos: Vec<ReplayFifo>,
}

fn emit(
    stem: &str,
    program: &Program,
    parallel: BTreeMap<String, Parallel>,
    dir: &Path,
) -> HlsOptions {
    let options = HlsOptions {
        style: Style::Stream,
        parallel,
        ..HlsOptions::default()
    };
    let project = hls::emit(program, &options).unwrap_or_else(|e| panic!("{stem}: {e:?}"));
    for (path, text) in &project.files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(&full, text).expect("write");
    }
    options
}

/// Compiles the project against the logging stream, runs it, and turns the
/// log into replay processes and FIFOs.
fn trace(stem: &str, program: &Program, dir: &Path, cpp: &Cpp) -> Traced {
    let include = dir.join("replay_include");
    std::fs::create_dir_all(&include).expect("mkdir");
    std::fs::write(include.join("hls_stream.h"), REPLAY_STREAM).expect("write");
    let name = &program.name;
    let exe = dir.join("replay_tb");
    let out = Command::new(&cpp.cxx)
        .args(["-O1", "-std=c++14", "-w"])
        .arg("-I")
        .arg(&include)
        .arg("-isystem")
        .arg(&cpp.ap_types)
        .arg(dir.join(format!("{name}.cpp")))
        .arg(dir.join(format!("{name}_tb.cpp")))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("g++");
    assert!(
        out.status.success(),
        "{stem}: g++ failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = dir.join("trace.txt");
    let run = Command::new(&exe)
        .current_dir(dir)
        .env("CONVOY_TRACE", &log)
        .output()
        .expect("run");
    assert!(
        run.status.success(),
        "{stem}: traced C simulation failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(&log).expect("trace");
    let cpp_text = std::fs::read_to_string(dir.join(format!("{name}.cpp"))).expect("cpp");
    let depths = stream_depths(&cpp_text);
    let iis = pipeline_iis(&cpp_text);
    let beats = |node: usize| {
        let c = program.nodes[node].shape.chw();
        c.h * c.w
    };
    let inputs: HashMap<String, usize> = program
        .inputs
        .iter()
        .map(|i| (format!("cnv_{}", i.name), beats(i.node)))
        .collect();
    let outputs: HashMap<String, usize> = program
        .outputs
        .iter()
        .map(|o| (format!("cnv_{}", o.name), beats(o.node)))
        .collect();
    let mut stream_names: Vec<String> = vec![];
    let mut process_names: Vec<String> = vec![];
    // Per process: its streams (id -> bit) and iterations.
    let mut ports: Vec<Vec<usize>> = vec![];
    let mut iterations: Vec<Vec<(u64, u64)>> = vec![];
    let mut current: Option<usize> = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        let kind = parts.next().unwrap_or("");
        let id: usize = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        match kind {
            "S" => stream_names.push(parts.next().unwrap_or("").to_string()),
            "P" => {
                process_names.push(parts.next().unwrap_or("").to_string());
                ports.push(vec![]);
                iterations.push(vec![]);
            }
            "I" => {
                current = Some(id);
                iterations[id].push((0, 0));
            }
            "R" | "W" => {
                let Some(p) = current else { continue };
                // The testbench reads the outputs after the last process ran.
                if kind == "R" && outputs.contains_key(&stream_names[id]) {
                    continue;
                }
                let bit = match ports[p].iter().position(|&s| s == id) {
                    Some(b) => b,
                    None => {
                        ports[p].push(id);
                        ports[p].len() - 1
                    }
                };
                let last = iterations[p].last_mut().expect("an iteration");
                if kind == "R" {
                    last.0 |= 1 << bit;
                } else {
                    last.1 |= 1 << bit;
                }
            }
            _ => {}
        }
    }
    let fifos: Vec<ReplayFifo> = stream_names
        .iter()
        .map(|s| ReplayFifo {
            name: s.clone(),
            depth: depths.get(s).copied().unwrap_or(2),
            source: inputs.get(s).copied(),
            sink: outputs.get(s).copied(),
        })
        .collect();
    for s in &stream_names {
        assert!(
            depths.contains_key(s) || inputs.contains_key(s) || outputs.contains_key(s),
            "{stem}: stream {s} has no STREAM depth"
        );
    }
    let processes = process_names
        .iter()
        .enumerate()
        .map(|(p, name)| ReplayProcess {
            name: name.clone(),
            ii: iis.get(name).copied().unwrap_or(1),
            ports: ports[p].clone(),
            iterations: std::mem::take(&mut iterations[p]),
        })
        .collect();
    Traced { processes, fifos }
}

/// `#pragma HLS STREAM variable=NAME depth=D` of the top function.
fn stream_depths(cpp: &str) -> HashMap<String, usize> {
    let mut map = HashMap::new();
    for line in cpp.lines() {
        if let Some(rest) = line.trim().strip_prefix("#pragma HLS STREAM variable=") {
            let mut it = rest.split(" depth=");
            if let (Some(n), Some(d)) = (it.next(), it.next()) {
                map.insert(n.to_string(), d.trim().parse().expect("depth"));
            }
        }
    }
    map
}

/// The `PIPELINE II=` of each process function.
fn pipeline_iis(cpp: &str) -> HashMap<String, u32> {
    let mut map = HashMap::new();
    let mut function = None;
    for line in cpp.lines() {
        if let Some(rest) = line.strip_prefix("static void ") {
            function = rest.split('(').next().map(str::to_string);
        }
        if let (Some(f), Some(ii)) = (
            &function,
            line.trim().strip_prefix("#pragma HLS PIPELINE II="),
        ) {
            map.entry(f.clone()).or_insert(ii.parse().expect("II"));
        }
    }
    map
}

/// Most beats per frame of any input, and of any output.
fn io_beats(program: &Program) -> (usize, usize) {
    let beats = |node: usize| {
        let c = program.nodes[node].shape.chw();
        c.h * c.w
    };
    let i = program
        .inputs
        .iter()
        .map(|i| beats(i.node))
        .max()
        .unwrap_or(0);
    let o = program
        .outputs
        .iter()
        .map(|o| beats(o.node))
        .max()
        .unwrap_or(0);
    (i, o)
}

/// Products of one axis of a transposed convolution that land in the output.
fn deconv_axis(input: usize, output: usize, k: usize, s: usize, d: usize, pad: usize) -> usize {
    let mut n = 0;
    for i in 0..input {
        for t in 0..k {
            let o = (i * s + t * d) as isize - pad as isize;
            if o >= 0 && (o as usize) < output {
                n += 1;
            }
        }
    }
    n
}

/// The largest MACs / (pe x simd) of any conv or deconv (ONNX products).
fn largest_macs_per_cycle(program: &Program, parallel: &BTreeMap<String, Parallel>) -> usize {
    let mut worst = 0;
    for node in &program.nodes {
        let (macs, cig) = match &node.op {
            Op::Conv { w, .. } => {
                let Shape::Weights { i, kh, kw, .. } = program.nodes[*w].shape else {
                    continue;
                };
                let o = node.shape.chw();
                (o.c * o.h * o.w * i * kh * kw, i)
            }
            Op::Deconv { x, w, geom } => {
                let Shape::Weights { kh, kw, .. } = program.nodes[*w].shape else {
                    continue;
                };
                let (xi, o) = (program.nodes[*x].shape.chw(), node.shape.chw());
                let cig = xi.c / geom.groups;
                let ny = deconv_axis(xi.h, o.h, kh, geom.stride.h, geom.dilation.h, geom.pad.top);
                let nx = deconv_axis(xi.w, o.w, kw, geom.stride.w, geom.dilation.w, geom.pad.left);
                (o.c * cig * ny * nx, cig)
            }
            _ => continue,
        };
        let par = parallel.get(&node.owner).copied().unwrap_or_default();
        let simd = par.simd.unwrap_or(cig).min(cig);
        worst = worst.max(macs / (par.pe * simd));
    }
    worst
}

struct Checked {
    replayed: u64,
    estimated: u64,
    bound: usize,
}

fn scratch(name: &str) -> PathBuf {
    crate::common::scratch(&format!("hls_replay/{name}"))
}

fn load(stem: &str) -> Program {
    let path = root().join("examples").join(format!("{stem}.cnn"));
    let src = std::fs::read_to_string(&path).expect("read example");
    let folder = Folder(path.parent().expect("parent").to_path_buf());
    let (checked, _) = compile(stem, &src, &folder).unwrap_or_else(|e| panic!("{stem}: {e}"));
    checked.program
}

/// Emits, traces and replays `program`; asserts the properties of the module doc.
fn replay_checks(
    label: &str,
    program: &Program,
    parallel: BTreeMap<String, Parallel>,
    cpp: &Cpp,
) -> Checked {
    let dir = scratch(label);
    let options = emit(label, program, parallel.clone(), &dir);
    let traced = trace(label, program, &dir, cpp);
    let frames = 3;
    let r = replay(&traced.processes, &traced.fifos, frames);
    assert!(
        r.deadlock.is_none(),
        "{label}: deadlock at cycle {:?} with the emitted depths",
        r.deadlock
    );
    let estimate = hls::estimate(program, &options).expect("estimate");
    let (ib, ob) = io_beats(program);
    // The parallelism the design has: the script's `@hls`, then `parallel`.
    let effective = hls::stage_parallel(program, &options);
    let bound = ib.max(ob).max(largest_macs_per_cycle(program, &effective));
    let ratio = r.interval as f64 / estimate.interval as f64;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{label}: replayed interval {} vs estimate {}",
        r.interval,
        estimate.interval
    );
    assert!(
        r.interval as f64 <= 1.05 * bound as f64,
        "{label}: replayed interval {} above 1.05 x {bound} (inputs {ib}, outputs {ob} beats)",
        r.interval
    );
    // Safe: no deadlock, and within 1% of the interval with unbounded FIFOs.
    let mut unbounded = traced.fifos.clone();
    for f in unbounded.iter_mut() {
        if f.source.is_none() && f.sink.is_none() {
            f.depth = 1 << 24;
        }
    }
    let free = replay(&traced.processes, &unbounded, frames);
    let limit = free.interval + free.interval / 100;
    assert!(
        r.interval <= limit,
        "{label}: the emitted depths slow the interval from {} to {}",
        free.interval,
        r.interval
    );
    for (f, fifo) in traced.fifos.iter().enumerate() {
        if fifo.source.is_some() || fifo.sink.is_some() {
            continue;
        }
        let smallest = smallest_safe_depth(&traced.processes, &traced.fifos, f, frames, limit);
        assert!(
            fifo.depth <= 2 * smallest.max(1),
            "{label}: FIFO {} has depth {}, but {smallest} suffices",
            fifo.name,
            fifo.depth
        );
    }
    Checked {
        replayed: r.interval,
        estimated: estimate.interval,
        bound,
    }
}

mod examples {
    small_examples!(super::example_replays);
}

fn example_replays(stem: &str) {
    let Some(cpp) = tools::cpp() else {
        return;
    };
    let program = load(stem);
    let c = replay_checks(stem, &program, BTreeMap::new(), &cpp);
    println!(
        "{stem}: replayed interval {} cycles, estimate {}, bound {}",
        c.replayed, c.estimated, c.bound
    );
}

/// `examples/seed_pe16.cnn` (`@hls(pe: 16)` on both stages) against the seed
/// at pe 1: the attribute reaches the design, which replays at least 12x
/// faster.
#[test]
fn seed_with_pe16_replays_twelve_times_faster_than_pe1() {
    let Some(cpp) = tools::cpp() else {
        return;
    };
    let seed = load("seed");
    assert!(seed.hints.is_empty(), "the plain seed has no @hls");
    let pe16 = load("seed_pe16");
    let pes: Vec<(String, Option<usize>)> =
        pe16.hints.iter().map(|h| (h.stage.clone(), h.pe)).collect();
    assert_eq!(
        pes,
        [("dw".to_string(), Some(16)), ("pw".to_string(), Some(16))]
    );
    let slow = replay_checks("seed_pe1", &seed, BTreeMap::new(), &cpp);
    let fast = replay_checks("seed_pe16_attribute", &pe16, BTreeMap::new(), &cpp);
    println!(
        "seed: pe 1 {} cycles, pe 16 (@hls) {} cycles ({:.1}x)",
        slow.replayed,
        fast.replayed,
        slow.replayed as f64 / fast.replayed as f64
    );
    assert!(
        slow.replayed >= 12 * fast.replayed,
        "pe 1: {}, pe 16: {}",
        slow.replayed,
        fast.replayed
    );
}

/// The port budget, read from the emitted text: in every stage function,
/// each line buffer (`lb_*`), the weight words (`tiles`) and each lookup
/// table ROM (`BIND_STORAGE`) are accessed at most 2 x II times per
/// iteration (every line buffer or weight access reads or writes one whole
/// word: the channel dimension is reshaped into it; a table is read once per
/// lookup and unrolled lane).
#[test]
fn every_pipelined_loop_fits_its_ports() {
    for stem in crate::cases::SMALL_EXAMPLES {
        let program = load(stem);
        let options = HlsOptions {
            style: Style::Stream,
            ..HlsOptions::default()
        };
        let project = hls::emit(&program, &options).expect("emit");
        let cpp = project.file(&format!("{}.cpp", program.name)).expect("cpp");
        let estimate = hls::estimate(&program, &options).expect("estimate");
        let iis = pipeline_iis(cpp);
        for function in cpp.split("\nstatic void ").skip(1) {
            let name = function.split('(').next().unwrap_or("");
            let ii = iis.get(name).copied().unwrap_or(1) as usize;
            let body = function.split_once("PIPELINE").map_or("", |(_, b)| b);
            let mut accesses: BTreeMap<String, usize> = BTreeMap::new();
            for token in body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '['))
            {
                if token.starts_with("lb_") || token.starts_with("tiles[") {
                    let memory = token.split('[').next().unwrap_or("").to_string();
                    *accesses.entry(memory).or_default() += 1;
                }
            }
            for (table, n) in table_reads(function) {
                accesses.insert(table, n);
            }
            for (memory, n) in &accesses {
                assert!(
                    *n <= 2 * ii,
                    "{stem}: {name}: {memory} accessed {n} times per iteration at II={ii}"
                );
            }
            if let Some(stage) = estimate
                .stages
                .iter()
                .find(|s| format!("stage_{}", s.kernel) == name)
            {
                assert_eq!(stage.ii, ii, "{stem}: {name}: estimate's II");
            }
        }
    }
}

/// Reads per pipelined iteration of each lookup table a stage function binds
/// to a ROM: every `NAME[` in the pipelined loop, times the trip counts of
/// the unrolled loops around it (each lane looks up its own value).
fn table_reads(function: &str) -> BTreeMap<String, usize> {
    let tables: Vec<String> = function
        .lines()
        .filter_map(|l| l.trim().strip_prefix("#pragma HLS BIND_STORAGE variable="))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect();
    let mut reads = BTreeMap::new();
    let body = function.split_once("PIPELINE").map_or("", |(_, b)| b);
    // Open blocks: the trip count of an unrolled loop, 1 for any other block.
    let mut blocks: Vec<usize> = vec![];
    let mut pending: Option<usize> = None;
    for line in body.lines().map(str::trim) {
        if line == "#pragma HLS UNROLL" {
            if let (Some(top), Some(trips)) = (blocks.last_mut(), pending) {
                *top = trips;
            }
            continue;
        }
        let lanes: usize = blocks.iter().product();
        for t in &tables {
            let n = line.matches(&format!("{t}[")).count();
            if n > 0 {
                *reads.entry(t.clone()).or_insert(0) += n * lanes;
            }
        }
        if line.starts_with('}') {
            blocks.pop();
        }
        if line.ends_with('{') {
            pending = line
                .strip_prefix("for (int ")
                .and_then(|r| r.split("; ").nth(1))
                .and_then(|cond| cond.split(" < ").nth(1))
                .and_then(|n| n.parse().ok());
            blocks.push(1);
        }
    }
    reads
}
