use super::*;
use crate::types::Quant;

fn ty(signed: bool, width: u32, int_bits: i32, quant: Quant, overflow: Overflow) -> ScalarType {
    ScalarType {
        signed,
        width,
        int_bits,
        fixed: true,
        quant,
        overflow,
    }
}

/// f64 reference: the entry must be within one code of the f64 result
/// rounded to nearest (a smoke test; tests/it/tables.rs has the exact one).
#[test]
fn entries_are_near_the_float_values() {
    let t = ty(true, 16, 4, Quant::Rnd, Overflow::Sat);
    for f in TableFn::ALL {
        for raw in (-128i128..128).step_by(7) {
            let x = raw as f64 / 16.0;
            let y = match f {
                TableFn::Sigmoid => 1.0 / (1.0 + (-x).exp()),
                TableFn::Tanh => x.tanh(),
                TableFn::Exp => x.exp(),
                TableFn::Log => x.ln(),
                TableFn::Sqrt => x.sqrt(),
                TableFn::Reciprocal => 1.0 / x,
                TableFn::Softplus => (1.0 + x.exp()).ln(),
                TableFn::Gelu => continue,
                TableFn::Silu => x / (1.0 + (-x).exp()),
            };
            let got = entry(f, raw, 4, &t);
            if !y.is_finite() || y.is_nan() {
                assert_eq!(got, Err(TableError::Domain), "{f:?} {x}");
                continue;
            }
            let want = (y * 4096.0).round().clamp(-32768.0, 32767.0) as i128;
            let got = got.unwrap_or_else(|e| panic!("{f:?}({x}): {e:?}"));
            assert!((got - want).abs() <= 1, "{f:?}({x}) = {got}, float {want}");
        }
    }
}

#[test]
fn exact_points_and_domains() {
    let t = ty(false, 8, 0, Quant::Trn, Overflow::Sat);
    assert_eq!(entry(TableFn::Sigmoid, 0, 0, &t), Ok(128));
    assert_eq!(entry(TableFn::Log, 0, 0, &t), Err(TableError::Domain));
    assert_eq!(entry(TableFn::Sqrt, -1, 0, &t), Err(TableError::Domain));
    assert_eq!(
        entry(TableFn::Reciprocal, 0, 3, &t),
        Err(TableError::Domain)
    );
    // sqrt(1/4) = 1/2 exactly: 128 in ufixed<8, 0>.
    assert_eq!(entry(TableFn::Sqrt, 1, 2, &t), Ok(128));
    // A huge exp saturates; under wrap it is refused.
    assert_eq!(entry(TableFn::Exp, 30000, 0, &t), Ok(255));
    let w = ty(false, 8, 0, Quant::Trn, Overflow::Wrap);
    assert_eq!(entry(TableFn::Exp, 30000, 0, &w), Err(TableError::TooLarge));
    // gelu and silu just below x for large x: truncation gives x - 1 LSB.
    let i = ty(true, 16, 16, Quant::Trn, Overflow::Sat);
    assert_eq!(entry(TableFn::Silu, 100, 0, &i), Ok(99));
    assert_eq!(entry(TableFn::Gelu, 100, 0, &i), Ok(99));
    let r = ty(true, 16, 16, Quant::Rnd, Overflow::Sat);
    assert_eq!(entry(TableFn::Gelu, 100, 0, &r), Ok(100));
}

/// `quotient_code` with a power-of-two scale (`b = 1`) is the table entry
/// rounded to nearest, ties to even (`rnd_conv`) at `-e` fraction bits;
/// with an odd `b` it is within one code of the f64 quotient and exactly
/// the entry of `f / b` where that is decided far from a half.
#[test]
fn quotient_codes_match_entries_and_floats() {
    for f in [TableFn::Sigmoid, TableFn::Tanh] {
        for e in [-8, -6, -3] {
            let t = ty(true, 24, 24 + e, Quant::RndConv, Overflow::Sat);
            for raw in -300i128..300 {
                let want = entry(f, raw, 5, &t).expect("entry");
                let got = quotient_code(f, raw, 5, 1, e).expect("quotient");
                assert_eq!(got, want, "{f:?}({raw}/32) / 2^{e}");
            }
        }
        for b in [3i128, 5, 11_184_811, 13_421_773] {
            for raw in (-3000i128..3000).step_by(7) {
                let x = raw as f64 / 256.0;
                let y = match f {
                    TableFn::Sigmoid => 1.0 / (1.0 + (-x).exp()),
                    _ => x.tanh(),
                };
                let q = y / (b as f64 * 2f64.powi(-30));
                let got = quotient_code(f, raw, 8, b, -30).expect("quotient");
                if (q - q.floor() - 0.5).abs() > 1e-6 {
                    assert_eq!(got, q.round() as i128, "{f:?}({x}) / {b}");
                } else {
                    assert!((got as f64 - q).abs() <= 1.0, "{f:?}({x}) / {b}");
                }
            }
        }
    }
    assert_eq!(quotient_code(TableFn::Sigmoid, 0, 0, 3, -2), Ok(1)); // 0.5 * 4 / 3
    assert_eq!(quotient_code(TableFn::Sigmoid, 0, 0, 1, -1), Ok(1)); // tie 0.5 * 2 = 1
    assert_eq!(quotient_code(TableFn::Sigmoid, 0, 0, 1, 0), Ok(0)); // tie 1/2 to even 0
    assert_eq!(
        quotient_code(TableFn::Exp, 0, 0, 1, 0),
        Err(TableError::TooLarge)
    );
}
