//! `table(x, f, T)`: every entry of every built-in function, for eleven
//! (input type, output type) pairs covering every quantization and overflow
//! mode, against an independent model (`tools/table_fixtures.py`: mpmath at
//! hundreds of bits and exact fractions, its own rounding and overflow code).

use convoy::numeric::table::{entries, entry, TableError, TableFn};
use convoy::types::{Overflow, Quant, ScalarType};

fn quant(word: &str) -> Quant {
    match word {
        "trn" => Quant::Trn,
        "trn_zero" => Quant::TrnZero,
        "rnd" => Quant::Rnd,
        "rnd_zero" => Quant::RndZero,
        "rnd_inf" => Quant::RndInf,
        "rnd_min_inf" => Quant::RndMinInf,
        "rnd_conv" => Quant::RndConv,
        other => panic!("unknown quantization {other}"),
    }
}

fn overflow(word: &str) -> Overflow {
    match word {
        "wrap" => Overflow::Wrap,
        "sat" => Overflow::Sat,
        "sat_zero" => Overflow::SatZero,
        "sat_sym" => Overflow::SatSym,
        other => panic!("unknown overflow {other}"),
    }
}

fn fields<'a>(line: &'a str, key: &str) -> Vec<&'a str> {
    line.strip_prefix(key)
        .unwrap_or_else(|| panic!("expected `{key}`: {line}"))
        .split_whitespace()
        .collect()
}

#[test]
fn every_entry_matches_the_high_precision_model() {
    let dir = crate::common::root().join("tests/fixtures/tables");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/tables")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "at least eight type pairs");
    let mut checked = 0usize;
    for path in files {
        let text = std::fs::read_to_string(&path).expect("fixture");
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        let inp = fields(lines.next().expect("in"), "in:");
        let out = fields(lines.next().expect("out"), "out:");
        let num = |s: &str| s.parse::<i64>().expect("number");
        let (width, int_bits) = (num(inp[1]) as u32, num(inp[2]) as i32);
        let signed = inp[0] == "1";
        let frac = width as i32 - int_bits;
        assert!(frac >= 0, "inputs with fraction bits >= 0");
        let (lo, hi) = if signed {
            (-(1i128 << (width - 1)), (1i128 << (width - 1)) - 1)
        } else {
            (0, (1i128 << width) - 1)
        };
        let to = ScalarType {
            signed: out[0] == "1",
            width: num(out[1]) as u32,
            int_bits: num(out[2]) as i32,
            fixed: out[5] == "1",
            quant: quant(out[3]),
            overflow: overflow(out[4]),
        };
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        let mut seen = vec![];
        for line in lines {
            let (fname, values) = line.split_once(':').expect("f: values");
            let f = TableFn::from_name(fname).unwrap_or_else(|| panic!("function {fname}"));
            seen.push(f);
            let want: Vec<&str> = values.split_whitespace().collect();
            assert_eq!(want.len() as i128, hi - lo + 1, "{name} {fname}");
            for (raw, w) in (lo..=hi).zip(&want) {
                let got = entry(f, raw, frac as u32, &to);
                let ok = match (*w, got) {
                    ("D", Err(TableError::Domain)) | ("L", Err(TableError::TooLarge)) => true,
                    (w, Ok(v)) => w.parse::<i128>().ok() == Some(v),
                    _ => false,
                };
                assert!(ok, "{name}: {fname}({raw} / 2^{frac}) = {got:?}, model {w}");
                checked += 1;
            }
        }
        assert_eq!(seen, TableFn::ALL.to_vec(), "{name}: every function");
    }
    assert!(checked > 50_000, "{checked}");
}

#[test]
fn a_sixteen_bit_table_is_computed_whole() {
    // Every input of fixed<16, 8> through tanh into fixed<8, 1, rnd, sat>:
    // odd symmetry and monotonicity hold for every entry.
    let to = ScalarType {
        signed: true,
        width: 8,
        int_bits: 1,
        fixed: true,
        quant: Quant::Rnd,
        overflow: Overflow::Sat,
    };
    let all = entries(TableFn::Tanh, -32768, 32767, 8, &to).expect("tanh is total");
    assert_eq!(all.len(), 65536);
    assert!(all.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(all[0], -128);
    assert_eq!(*all.last().expect("last"), 127);
}

/// Tables in a pipeline: the interpreter, the JIT (every configuration) and
/// the checker's ranges agree.
const PIPELINE: &str = "
pipeline tables {
  input x: fixed<8, 4>[4, 6, 6]
  input y: u8[4, 6, 6]
  param w: i8[4, 4, 3, 3] = random(seed: 5)
  param lut: i8[256] = random(seed: 4)
  let s = table(x, sigmoid, ufixed<8, 0, rnd_conv, sat>)
  let g = table(x, gelu, fixed<10, 4, rnd, sat>) + table(x, tanh, fixed<8, 1, trn, wrap>)
  let u = table(x as i8 wrap, lut)
  let c = table((conv(y, w, pad: 1) >> 8) as i8 sat, silu, fixed<12, 6, rnd, sat>)
  let l = table(y + 1, log, fixed<16, 4, rnd_inf, sat>)
  let r = table(relu(conv(y, w, pad: 1) >> 9) as u8 sat, sqrt, ufixed<8, 5, rnd_conv, sat>)
  output s, g, u, c, l, r
}
";

fn pipeline() -> convoy::ir::Program {
    crate::common::compile("tables.cnn", PIPELINE, &convoy::NoFiles)
        .unwrap_or_else(|e| panic!("{e}"))
        .0
        .program
}

#[test]
fn the_jit_agrees_with_the_interpreter_on_tables() {
    use convoy::jit::JitOptions;
    let p = pipeline();
    for seed in 0..3u64 {
        let inputs = crate::common::random_inputs(&p, |k| seed * 7 + k as u64);
        for options in [
            JitOptions::default(),
            JitOptions {
                native: false,
                simd: false,
                threads: 1,
                ..JitOptions::default()
            },
        ] {
            crate::common::jit_agrees(&p, &inputs, &options).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
