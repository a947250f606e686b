//! Convoy's `x as T` against the real ap_types headers.
//!
//! `tests/cpp/modes.cpp` assigns ap_fixed<24, 12> values to many target types
//! with g++ and the open-source ap_types headers and prints the raw codes:
//!
//! - `ap_fixed<W, I, Q, O>` / `ap_ufixed<W, I, Q, O>` for 33 (W, I, signed)
//!   shapes (negative integer bits, negative fraction bits, wider and
//!   narrower than the source, 1-bit and 64-bit types), each with all 7
//!   quantization modes x all 4 overflow modes;
//! - `ap_int<W>` / `ap_uint<W>`: truncation toward zero, then the low bits;
//! - `ap_(u)fixed<W, W, AP_TRN_ZERO, O>`: integer targets with each overflow
//!   mode (Convoy's `x as u8 sat` and friends).
//!
//! Every code is compared with `convoy::numeric::cast_raw` (and
//! `checked_cast_raw`) as the checker lowers the cast: a fixed target with its
//! own modes, an integer target with `Quant::TrnZero` and the named overflow.
//! The source values cover every code near zero, ties and near-ties at every
//! fraction position around every power of two (the range bounds of the
//! targets), both ends of the source range including its exact minimum, and
//! random codes.
//!
//! The headers come from `bash tools/fetch_ap_types.sh` (build/ap_types/) or
//! `$AP_TYPES`; without them (or without g++) the tests fail in CI and say
//! they are skipped elsewhere (`common::tools`).

use crate::common::cpp::*;
use crate::common::tools;
use convoy::ir::CastOverflow;
use convoy::numeric::{cast_raw, checked_cast_raw};
use convoy::types::{Overflow, Quant, ScalarType};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::process::Command;
use std::sync::OnceLock;

/// The source type: ap_fixed<24, 12>.
const SRC_W: u32 = 24;
const SRC_FRAC: u32 = 12;

fn quant_of(name: &str) -> Quant {
    match name {
        "AP_TRN" => Quant::Trn,
        "AP_TRN_ZERO" => Quant::TrnZero,
        "AP_RND" => Quant::Rnd,
        "AP_RND_ZERO" => Quant::RndZero,
        "AP_RND_INF" => Quant::RndInf,
        "AP_RND_MIN_INF" => Quant::RndMinInf,
        "AP_RND_CONV" => Quant::RndConv,
        other => panic!("unknown quantization mode {other}"),
    }
}

fn overflow_of(name: &str) -> Overflow {
    match name {
        "AP_WRAP" => Overflow::Wrap,
        "AP_SAT" => Overflow::Sat,
        "AP_SAT_ZERO" => Overflow::SatZero,
        "AP_SAT_SYM" => Overflow::SatSym,
        other => panic!("unknown overflow mode {other}"),
    }
}

/// ap_fixed<24, 12> raw codes to convert.
fn source_codes() -> Vec<i64> {
    let lo = -(1i64 << (SRC_W - 1));
    let hi = (1i64 << (SRC_W - 1)) - 1;
    let mut set = BTreeSet::new();
    // Every code near zero: ties for every dropped bit count up to 9, and
    // small negatives that round to zero.
    set.extend(-520..=520);
    // Around every power of two (the range bounds of the targets) on both
    // sides of zero: the bound itself, its neighbours, and ties and
    // near-ties at every fraction position.
    let mut offsets = vec![0i64, 1, -1, 2, -2, 3, -3];
    for j in 0..=12 {
        let t = 1i64 << j;
        offsets.extend([t, -t, t + 1, -t - 1, t - 1, -t + 1, 3 * t, -3 * t]);
    }
    for k in 8..SRC_W {
        for sign in [1i64, -1] {
            for &d in &offsets {
                set.insert(sign * (1i64 << k) + d);
            }
        }
    }
    // The values of the facts pinned in `readme_facts_hold_in_the_oracle`.
    set.extend(ANCHORS.map(|(num, den)| num * (1 << SRC_FRAC) / den));
    // Both ends of the range, including the exact minimum.
    for d in 0..=5 {
        set.insert(lo + d);
        set.insert(hi - d);
    }
    // Random codes: uniform, and with a random magnitude.
    let mut rng = SplitMix64(0xA9F1_0ED0_2024);
    for _ in 0..400 {
        set.insert(lo + rng.below(1 << SRC_W) as i64);
        let bits = 1 + rng.below(u64::from(SRC_W) - 1) as u32;
        let m = rng.below(1 << bits) as i64;
        set.insert(if rng.below(2) == 0 { m } else { -m });
    }
    set.into_iter().filter(|c| (lo..=hi).contains(c)).collect()
}

/// Exact values `num / den` (den a power of two) that the facts of
/// shared/reference/README.md use.
const ANCHORS: [(i64, i64); 8] = [
    (81, 32),  // 2.53125: a tie at LSB 1/16
    (-81, 32), // -2.53125
    (83, 32),  // 2.59375: a tie whose even neighbour is above
    (9, 1),    // overflows ap_fixed<8, 4>
    (-9, 1),
    (-8, 1),  // the exact minimum of ap_fixed<8, 4>
    (-11, 4), // -2.75
    (300, 1),
];

/// One block of modes.cpp's output: a target and its codes.
struct Block {
    header: String,
    target: ScalarType,
    quant: Quant,
    overflow: Overflow,
    codes: Vec<i128>,
}

fn parse_output(text: &str, n_sources: usize) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(header) = lines.next() {
        let f: Vec<&str> = header.split_whitespace().collect();
        if f.first() == Some(&"sources") {
            assert_eq!(
                f.get(1).and_then(|n| n.parse().ok()),
                Some(n_sources),
                "modes.cpp: {header}"
            );
            continue;
        }
        assert_eq!(f.len(), 6, "modes.cpp: unexpected header line {header:?}");
        let num = |s: &str| -> i64 {
            s.parse()
                .unwrap_or_else(|_| panic!("modes.cpp: bad header {header:?}"))
        };
        let (w, i, signed) = (num(f[1]) as u32, num(f[2]) as i32, num(f[3]) != 0);
        let (target, quant, overflow) = match f[0] {
            "fixed" => {
                let (q, o) = (quant_of(f[4]), overflow_of(f[5]));
                let mut t = ScalarType::fixed(signed, w, i);
                t.quant = q;
                t.overflow = o;
                (t, q, o)
            }
            "int" => (ScalarType::int(signed, w), Quant::TrnZero, Overflow::Wrap),
            "intmode" => {
                assert_eq!((i, f[4]), (w as i32, "AP_TRN_ZERO"), "modes.cpp: {header}");
                (
                    ScalarType::int(signed, w),
                    Quant::TrnZero,
                    overflow_of(f[5]),
                )
            }
            other => panic!("modes.cpp: unknown target kind {other}"),
        };
        let codes: Vec<i128> = lines
            .next()
            .unwrap_or_else(|| panic!("modes.cpp: no codes after {header:?}"))
            .split_whitespace()
            .map(|t| {
                t.parse()
                    .unwrap_or_else(|_| panic!("modes.cpp: bad code {t:?} after {header:?}"))
            })
            .collect();
        assert_eq!(
            codes.len(),
            n_sources,
            "modes.cpp: {header}: {} codes",
            codes.len()
        );
        blocks.push(Block {
            header: header.to_string(),
            target,
            quant,
            overflow,
            codes,
        });
    }
    blocks
}

/// A source code's value (exact: 24 bits fit an f64).
fn decimal(raw: i64) -> String {
    format!("{}", raw as f64 / f64::from(1u32 << SRC_FRAC))
}

/// `code / 2^frac`, for messages (rounded by f64 beyond 53 bits; the raw
/// code is printed beside it).
fn value(code: i128, frac: i32) -> String {
    format!("{}", code as f64 * 2f64.powi(-frac))
}

/// The source codes and every target's ap_types results, computed once per
/// test binary and shared by the tests below.
struct Oracle {
    sources: Vec<i64>,
    blocks: Vec<Block>,
}

/// `None` when g++ or the headers are missing (and the policy lets the test
/// skip).
fn oracle() -> Option<&'static Oracle> {
    static ORACLE: OnceLock<Oracle> = OnceLock::new();
    let cpp = tools::cpp()?;
    Some(ORACLE.get_or_init(|| {
        let sources = source_codes();
        let src_path = scratch("ap_fixed_modes").join("sources.txt");
        write_ints(&src_path, &sources, 1);

        // Two halves of the type list, compiled in parallel (see modes.cpp).
        // -O0: the instantiations compile faster, and run fast enough.
        let handles: Vec<_> = (0..2)
            .map(|part| {
                let cpp = cpp.clone();
                std::thread::spawn(move || {
                    let define = format!("-DPART={part}");
                    compile_cpp(
                        &cpp,
                        "modes.cpp",
                        &format!("modes_part{part}"),
                        &bin_dir(),
                        &["-O0", &define],
                    )
                })
            })
            .collect();
        let exes: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect();

        let mut blocks = Vec::new();
        for exe in &exes {
            let text = run_ok(Command::new(exe).arg(&src_path), "modes");
            blocks.extend(parse_output(&text, sources.len()));
        }
        Oracle { sources, blocks }
    }))
}

fn kind(b: &Block) -> &str {
    b.header.split_whitespace().next().unwrap_or_default()
}

/// Compares every block of `kind` with Convoy; panics listing the mismatches.
fn compare(kind_name: &str) {
    let Some(Oracle { sources, blocks }) = oracle() else {
        return;
    };
    let blocks: Vec<&Block> = blocks.iter().filter(|b| kind(b) == kind_name).collect();
    assert!(
        !blocks.is_empty(),
        "no {kind_name} targets in modes.cpp's output"
    );
    let mut report = String::new();
    let (mut bad_blocks, mut bad_values) = (0, 0);
    for b in &blocks {
        let t = &b.target;
        // The C++ code is at t.frac_bits(); Convoy's result at storage_frac.
        let scale = t.storage_frac() as i32 - t.frac_bits();
        let overflow = CastOverflow::Mode(b.overflow);
        let mut bad = Vec::new();
        for (k, &raw) in sources.iter().enumerate() {
            let expected = b.codes[k] << scale;
            let got = cast_raw(raw.into(), SRC_FRAC, t, b.quant, overflow);
            let checked = checked_cast_raw(raw.into(), SRC_FRAC, t, b.quant, overflow);
            if got != expected || checked != Ok(got) {
                bad.push((raw, b.codes[k], got, checked));
            }
        }
        if bad.is_empty() {
            continue;
        }
        bad_blocks += 1;
        bad_values += bad.len();
        if bad_blocks <= 40 {
            let _ = writeln!(
                report,
                "{} ({} of {} values differ):",
                b.header,
                bad.len(),
                sources.len()
            );
            // Show the mismatches nearest zero and the two farthest.
            bad.sort_by_key(|(raw, ..)| raw.unsigned_abs());
            let shown: Vec<_> = if bad.len() <= 6 {
                bad.iter().collect()
            } else {
                bad[..4].iter().chain(&bad[bad.len() - 2..]).collect()
            };
            for (raw, cpp, got, checked) in shown {
                let extra = if *checked != Ok(*got) {
                    format!(", checked_cast_raw {checked:?}")
                } else {
                    String::new()
                };
                let _ = writeln!(
                    report,
                    "    source {} (raw {raw}): ap_types code {cpp} (= {}), convoy raw {got} (= {}){extra}",
                    decimal(*raw),
                    value(*cpp, t.frac_bits()),
                    value(*got, t.storage_frac() as i32),
                );
            }
        }
    }
    println!(
        "{kind_name}: {} targets x {} source values compared",
        blocks.len(),
        sources.len()
    );
    assert!(
        bad_blocks == 0,
        "convoy::numeric::cast_raw disagrees with the ap_types headers on {bad_values} conversions \
         in {bad_blocks} of {} {kind_name} targets{}:\n{report}",
        blocks.len(),
        if bad_blocks > 40 { " (first 40 listed)" } else { "" }
    );
}

/// ap_(u)fixed<W, I, Q, O> = ap_fixed<24, 12>, all 7 x 4 modes.
#[test]
fn fixed_targets_match_ap_fixed_assignment() {
    compare("fixed");
}

/// ap_int<W> / ap_uint<W> = ap_fixed<24, 12> vs `x as iW wrap` / `x as uW wrap`.
#[test]
fn integer_targets_match_ap_int_assignment() {
    compare("int");
}

/// ap_(u)fixed<W, W, AP_TRN_ZERO, O> vs `x as iW/uW <mode>`.
#[test]
fn integer_targets_with_overflow_modes_match() {
    compare("intmode");
}

/// The oracle covers what it claims: 7 quantization and 4 overflow modes, all
/// 28 pairs on every fixed shape, signed and unsigned, and integer targets.
#[test]
fn coverage() {
    let Some(Oracle { sources, blocks }) = oracle() else {
        return;
    };
    assert!(sources.len() > 3000, "{} source values", sources.len());
    assert!(
        sources.contains(&-(1 << (SRC_W - 1))),
        "the exact minimum of the source type"
    );
    let mut modes_per_shape: BTreeMap<(u32, i32, bool), BTreeSet<(String, String)>> =
        BTreeMap::new();
    let (mut quants, mut overflows) = (BTreeSet::new(), BTreeSet::new());
    let (mut n_int, mut n_intmode) = (0, 0);
    for b in blocks {
        let f: Vec<&str> = b.header.split_whitespace().collect();
        match f[0] {
            "fixed" => {
                quants.insert(f[4].to_string());
                overflows.insert(f[5].to_string());
                modes_per_shape
                    .entry((b.target.width, b.target.int_bits, b.target.signed))
                    .or_default()
                    .insert((f[4].to_string(), f[5].to_string()));
            }
            "int" => n_int += 1,
            _ => n_intmode += 1,
        }
    }
    assert_eq!(quants.len(), 7, "quantization modes covered: {quants:?}");
    assert_eq!(overflows.len(), 4, "overflow modes covered: {overflows:?}");
    for (shape, modes) in &modes_per_shape {
        assert_eq!(modes.len(), 28, "{shape:?} has {} mode pairs", modes.len());
    }
    assert!(
        modes_per_shape.len() >= 30,
        "{} fixed shapes",
        modes_per_shape.len()
    );
    assert!(modes_per_shape.keys().any(|s| !s.2) && modes_per_shape.keys().any(|s| s.2));
    assert!(
        modes_per_shape.keys().any(|s| s.1 < 0),
        "negative integer bits"
    );
    assert!(
        modes_per_shape.keys().any(|s| s.1 > s.0 as i32),
        "negative fraction bits"
    );
    assert!(
        n_int >= 20 && n_intmode >= 40,
        "{n_int} int and {n_intmode} intmode targets"
    );
}

/// The comparison can fail: a deliberately wrong cast (floor instead of
/// truncation toward zero for ap_int targets) is caught on negative
/// fractions.
#[test]
fn a_wrong_rule_is_caught() {
    let Some(Oracle { sources, blocks }) = oracle() else {
        return;
    };
    let b = blocks
        .iter()
        .find(|b| b.header.starts_with("int 8 0 1 "))
        .expect("an ap_int<8> target");
    let differ = sources
        .iter()
        .zip(&b.codes)
        .filter(|(&raw, &cpp)| {
            cast_raw(
                raw.into(),
                SRC_FRAC,
                &b.target,
                Quant::Trn,
                CastOverflow::Mode(Overflow::Wrap),
            ) != cpp
        })
        .count();
    assert!(
        differ > 100,
        "flooring should disagree with ap_int assignment ({differ} differ)"
    );
}

/// The oracle itself reproduces the facts measured in shared/reference/
/// README.md, independently of Convoy: a check of modes.cpp's printing.
#[test]
fn readme_facts_hold_in_the_oracle() {
    let Some(Oracle { sources, blocks }) = oracle() else {
        return;
    };
    let code = |header: &str, num: i64, den: i64| -> i128 {
        let raw = num * (1 << SRC_FRAC) / den;
        let k = sources
            .iter()
            .position(|&s| s == raw)
            .expect("an anchor value");
        let b = blocks
            .iter()
            .find(|b| b.header == header)
            .unwrap_or_else(|| panic!("no target {header:?}"));
        b.codes[k]
    };
    // ap_fixed<8, 4, Q> on 2.53125 / -2.53125 (codes in sixteenths).
    let f84 = |q: &str| format!("fixed 8 4 1 {q} AP_WRAP");
    assert_eq!(code(&f84("AP_RND"), 81, 32), 41); // 2.5625
    assert_eq!(code(&f84("AP_RND"), -81, 32), -40); // -2.5
    assert_eq!(code(&f84("AP_RND_ZERO"), 81, 32), 40);
    assert_eq!(code(&f84("AP_RND_ZERO"), -81, 32), -40);
    assert_eq!(code(&f84("AP_RND_MIN_INF"), 81, 32), 40);
    assert_eq!(code(&f84("AP_RND_MIN_INF"), -81, 32), -41);
    assert_eq!(code(&f84("AP_RND_INF"), 81, 32), 41);
    assert_eq!(code(&f84("AP_RND_INF"), -81, 32), -41);
    assert_eq!(code(&f84("AP_RND_CONV"), 81, 32), 40);
    assert_eq!(code(&f84("AP_RND_CONV"), 83, 32), 42);
    assert_eq!(code(&f84("AP_TRN_ZERO"), -81, 32), -40);
    assert_eq!(code(&f84("AP_TRN"), -81, 32), -41);
    // Overflow on [-8, 7.9375].
    let o84 = |o: &str| format!("fixed 8 4 1 AP_TRN {o}");
    assert_eq!(code(&o84("AP_WRAP"), 9, 1), -7 * 16);
    assert_eq!(code(&o84("AP_SAT"), 9, 1), 127);
    assert_eq!(code(&o84("AP_SAT_ZERO"), 9, 1), 0);
    assert_eq!(code(&o84("AP_SAT_SYM"), -9, 1), -127);
    assert_eq!(code(&o84("AP_SAT_SYM"), -8, 1), -127);
    assert_eq!(code(&o84("AP_SAT"), -8, 1), -128);
    // ap_fixed -> ap_int truncates toward zero; ap_uint<8> keeps the low bits.
    assert_eq!(code("int 8 0 1 - -", -11, 4), -2);
    assert_eq!(code("int 8 0 0 - -", 300, 1), 44);
    assert_eq!(code("int 8 0 0 - -", -11, 4), 254);
    // AP_TRN floors: -2.75 -> -3 in ap_fixed<12, 12>.
    assert_eq!(code("fixed 12 12 1 AP_TRN AP_WRAP", -11, 4), -3);
}
