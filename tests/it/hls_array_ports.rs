//! The array style's pipelined loops, read from the emitted C++ of every
//! example at its default parallelism and with `pe` and a folding `simd` on
//! every stage that has a reduction:
//!
//! - the `PIPELINE` pragma sits on the loop that holds all of an output
//!   step's work: no pipelined loop inside an unrolled (`pe` or `simd`)
//!   loop, and with `simd` below the reduction the pipelined loop is the
//!   `ic0` loop, with the `pe` and `simd` lanes unrolled inside it;
//! - each stage's pragma II is the estimate's;
//! - the port budget: per iteration, the accesses to each array (counted in
//!   the text, times the extent of every loop inside the pipelined one whose
//!   counter the index depends on) fit two ports per bank at that II, the
//!   banks being those the `ARRAY_PARTITION` pragmas declare.

use crate::common::{compile, root, Folder};
use convoy::hls::{self, HlsOptions, Parallel, Style};
use convoy::ir::{Op, Program, Shape};
use std::collections::{BTreeMap, HashMap};

fn load(stem: &str) -> Program {
    let path = root().join("examples").join(format!("{stem}.cnn"));
    let src = std::fs::read_to_string(&path).expect("read example");
    let folder = Folder(path.parent().expect("parent").to_path_buf());
    compile(stem, &src, &folder)
        .unwrap_or_else(|e| panic!("{stem}: {e}"))
        .0
        .program
}

/// `pe` up to 4 and the smallest folding `simd` on every stage with a conv
/// or deconv reduction of more than one channel; `pe` up to 4 on every
/// stage with a lookup table (a ROM read once per lane).
fn folded(program: &Program) -> BTreeMap<String, Parallel> {
    let mut out = BTreeMap::new();
    for node in &program.nodes {
        if matches!(node.op, Op::Lookup { .. }) && !node.owner.is_empty() {
            let c = node.shape.chw().c;
            let pe = (1..=4).rev().find(|p| c % p == 0).unwrap_or(1);
            out.entry(node.owner.clone())
                .or_insert(Parallel { pe, simd: None });
            continue;
        }
        let cig = match &node.op {
            Op::Conv { w, .. } => match program.nodes[*w].shape {
                Shape::Weights { i, .. } => i,
                _ => continue,
            },
            Op::Deconv { x, geom, .. } => program.nodes[*x].shape.chw().c / geom.groups,
            _ => continue,
        };
        if cig < 2 || out.contains_key(&node.owner) {
            continue;
        }
        let c = node.shape.chw().c;
        let pe = (1..=4).rev().find(|p| c % p == 0).unwrap_or(1);
        let simd = (2..cig).find(|s| cig % s == 0).unwrap_or(1);
        out.insert(
            node.owner.clone(),
            Parallel {
                pe,
                simd: Some(simd),
            },
        );
    }
    out
}

/// Extents of each dimension of every array declared in `text`
/// (`NAME[16][34][66]`, parameters and `static const` tables alike).
fn array_dims(text: &str) -> HashMap<String, Vec<usize>> {
    let mut out = HashMap::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("cnv_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let name = &text[start..end];
        let mut dims = vec![];
        let mut j = end;
        while j < bytes.len() && bytes[j] == b'[' {
            let close = text[j..].find(']').map_or(bytes.len(), |c| j + c);
            match text[j + 1..close].parse::<usize>() {
                Ok(d) => dims.push(d),
                Err(_) => {
                    dims.clear();
                    break;
                }
            }
            j = close + 1;
        }
        if !dims.is_empty() {
            out.entry(name.to_string()).or_insert(dims);
        }
        i = end.max(start + 1);
    }
    out
}

/// Banks of every array from the `ARRAY_PARTITION` pragmas.
fn banks(text: &str, dims: &HashMap<String, Vec<usize>>) -> HashMap<String, usize> {
    let mut out: HashMap<String, usize> = HashMap::new();
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("#pragma HLS ARRAY_PARTITION variable=") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let name = words[0];
        let dim: usize = words
            .iter()
            .find_map(|w| w.strip_prefix("dim="))
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        let factor = if words.contains(&"complete") {
            match dims.get(name) {
                Some(d) if dim >= 1 => d[dim - 1],
                Some(d) => d.iter().product(),
                None => 1,
            }
        } else {
            words
                .iter()
                .find_map(|w| w.strip_prefix("factor="))
                .and_then(|f| f.parse().ok())
                .unwrap_or(1)
        };
        *out.entry(name.to_string()).or_insert(1) *= factor;
    }
    out
}

/// `for (int v = a; v < n; ...)` or `for (int v = a; v >= 0; v--)`: the
/// counter and its trip count.
fn loop_of(line: &str) -> Option<(String, usize)> {
    let rest = line.strip_prefix("for (int ")?;
    let (var, rest) = rest.split_once(" = ")?;
    let (start, rest) = rest.split_once("; ")?;
    let (cond, step) = rest.split_once("; ")?;
    let start: usize = start.parse().ok()?;
    if let Some(limit) = cond.strip_prefix(&format!("{var} < ")) {
        let limit: usize = limit.parse().ok()?;
        let by = step
            .split_once("+= ")
            .and_then(|(_, s)| s.trim_end_matches(") {").parse().ok())
            .unwrap_or(1);
        return Some((var.to_string(), (limit - start).div_ceil(by)));
    }
    cond.strip_prefix(&format!("{var} >= 0"))?;
    Some((var.to_string(), start + 1))
}

/// Identifiers in `text`.
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect()
}

struct Function {
    name: String,
    ii: Option<usize>,
    /// Accesses per iteration of the pipelined loop, by array.
    accesses: BTreeMap<String, usize>,
    /// Problems with where the pragma sits.
    misplaced: Vec<String>,
    pipelined_loop: Option<String>,
}

/// Reads one stage function (`static void stage_...` to its closing brace).
fn read_function(text: &str) -> Function {
    let name = text.split('(').next().unwrap_or("").to_string();
    let mut f = Function {
        name,
        ii: None,
        accesses: BTreeMap::new(),
        misplaced: vec![],
        pipelined_loop: None,
    };
    // The open blocks: a loop (counter, trip count, unrolled) or another block.
    let mut blocks: Vec<Option<(String, usize, bool)>> = vec![];
    let mut pipeline_depth: Option<usize> = None;
    let mut derived: HashMap<String, Vec<String>> = HashMap::new();
    // Lookup tables (ROMs): indexed by values, not counters; every lane of
    // the loops inside the pipelined one looks up its own value.
    let mut roms: Vec<String> = vec![];
    for line in text.lines().skip(1).map(str::trim) {
        if line == "}" {
            blocks.pop();
            if pipeline_depth.is_some_and(|d| blocks.len() < d) {
                pipeline_depth = None;
            }
            continue;
        }
        if line.starts_with('}') && line.ends_with('{') {
            // `} else {`: the same depth.
            continue;
        }
        if let Some(rest) = line.strip_prefix("#pragma HLS BIND_STORAGE variable=") {
            roms.extend(rest.split_whitespace().next().map(str::to_string));
            continue;
        }
        if let Some(ii) = line.strip_prefix("#pragma HLS PIPELINE II=") {
            f.ii = ii.parse().ok();
            pipeline_depth = Some(blocks.len());
            f.pipelined_loop = blocks.last().cloned().flatten().map(|(v, _, _)| v);
            if blocks.iter().flatten().any(|(_, _, unrolled)| *unrolled) {
                f.misplaced
                    .push(format!("{}: PIPELINE inside an unrolled loop", f.name));
            }
            continue;
        }
        if line == "#pragma HLS UNROLL" {
            if let Some(Some(l)) = blocks.last_mut() {
                l.2 = true;
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("const int ") {
            if let Some((var, expr)) = rest.split_once(" = ") {
                let mut deps: Vec<String> = vec![];
                for w in words(expr) {
                    deps.push(w.to_string());
                    deps.extend(derived.get(w).cloned().unwrap_or_default());
                }
                derived.insert(var.to_string(), deps);
            }
        }
        if let Some(depth) = pipeline_depth {
            // Loops inside the pipelined one whose counter the access uses.
            let inner: Vec<&(String, usize, bool)> = blocks[depth..].iter().flatten().collect();
            let mut rest = line;
            while let Some(at) = rest.find("cnv_") {
                let tail = &rest[at..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                let array = &tail[..end];
                if tail[end..].starts_with('[') {
                    // Every `[...]` after the name, brackets nested.
                    let mut index_end = end;
                    let b = tail.as_bytes();
                    while index_end < b.len() && b[index_end] == b'[' {
                        let mut depth = 0;
                        while index_end < b.len() {
                            match b[index_end] {
                                b'[' => depth += 1,
                                b']' => depth -= 1,
                                _ => {}
                            }
                            index_end += 1;
                            if depth == 0 {
                                break;
                            }
                        }
                    }
                    let index = &tail[end..index_end];
                    let mut used: Vec<String> = vec![];
                    for w in words(index) {
                        used.push(w.to_string());
                        used.extend(derived.get(w).cloned().unwrap_or_default());
                    }
                    let rom = roms.iter().any(|r| r == array);
                    let times: usize = inner
                        .iter()
                        .filter(|(v, _, _)| rom || used.contains(v))
                        .map(|(_, n, _)| *n)
                        .product();
                    *f.accesses.entry(array.to_string()).or_insert(0) += times;
                }
                rest = &tail[end..];
            }
        }
        if line.ends_with('{') {
            blocks.push(loop_of(line).map(|(v, n)| (v, n, false)));
        }
    }
    f
}

fn check(stem: &str, program: &Program, parallel: BTreeMap<String, Parallel>) {
    let options = HlsOptions {
        style: Style::Array,
        parallel: parallel.clone(),
        ..HlsOptions::default()
    };
    let project = hls::emit(program, &options).expect("emit");
    let cpp = project.file(&format!("{}.cpp", program.name)).expect("cpp");
    let params = project
        .file(&format!("{}_params.h", program.name))
        .expect("params");
    let dims = array_dims(&format!("{params}\n{cpp}"));
    let banks = banks(cpp, &dims);
    let estimate = hls::estimate(program, &options).expect("estimate");
    let mut stages = 0;
    for text in cpp.split("\nstatic void ").skip(1) {
        let f = read_function(text);
        assert!(f.misplaced.is_empty(), "{stem}: {:?}", f.misplaced);
        let Some(ii) = f.ii else { continue };
        let Some(stage) = estimate
            .stages
            .iter()
            .find(|s| format!("stage_{}", s.kernel) == f.name)
        else {
            continue;
        };
        stages += 1;
        assert_eq!(stage.ii, ii, "{stem}: {}: the estimate's II", f.name);
        if text.contains("for (int ic0 = 0;") {
            assert_eq!(
                f.pipelined_loop.as_deref(),
                Some("ic0"),
                "{stem}: {}: a folded reduction pipelines its ic0 loop",
                f.name
            );
        }
        for (array, n) in &f.accesses {
            let b = banks.get(array).copied().unwrap_or(1);
            assert!(
                *n <= 2 * ii * b,
                "{stem} {parallel:?}: {}: `{array}` accessed {n} times per iteration in {b} banks at II={ii}",
                f.name
            );
        }
    }
    assert_eq!(stages, estimate.stages.len(), "{stem}: stages read");
}

mod examples {
    small_examples!(super::pipelined_loops_fit_their_ports);
}

fn pipelined_loops_fit_their_ports(stem: &str) {
    let program = load(stem);
    check(stem, &program, BTreeMap::new());
    check(stem, &program, folded(&program));
}

/// Every loop of the design files (not the testbench) has a trip count
/// Vitis can read: constant bounds, or a `LOOP_TRIPCOUNT` pragma on it.
#[test]
fn every_design_loop_has_a_known_trip_count() {
    for stem in crate::cases::SMALL_EXAMPLES {
        let program = load(stem);
        for style in [Style::Array, Style::Stream] {
            let options = HlsOptions {
                style,
                parallel: folded(&program),
                ..HlsOptions::default()
            };
            let project = hls::emit(&program, &options).expect("emit");
            for file in [
                format!("{}.cpp", program.name),
                format!("{}.h", program.name),
            ] {
                let text = project.file(&file).expect("design file");
                let lines: Vec<&str> = text.lines().map(str::trim).collect();
                for (i, line) in lines.iter().enumerate() {
                    if !line.starts_with("for (") {
                        continue;
                    }
                    let constant = loop_of(line).is_some();
                    let counted = lines
                        .get(i + 1)
                        .is_some_and(|l| l.starts_with("#pragma HLS LOOP_TRIPCOUNT"));
                    assert!(
                        constant || counted,
                        "{stem} ({}): {file}: `{line}` has no constant trip count",
                        style.name()
                    );
                }
            }
        }
    }
}
