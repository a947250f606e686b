//! Exact requantization in Convoy's own operations: `round(v / s) (+ zp)`
//! for an exact dyadic value `v` (a `let` of the script) and a float32 scale
//! `s = b * 2^e` with `b` odd. Dividing by `2^e` is a shift; dividing by the
//! odd `b` is not expressible as a dyadic product, so it is done as integer
//! division by an invariant (`exact::divider`) followed by an exact
//! comparison of the remainder, which decides the rounding, ties included.
//! `docs/import.md` gives the derivation.

use super::exact::{divider, Dyadic};

/// How the quotient is rounded to an integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Nearest, ties to even (ONNX `QuantizeLinear`, QONNX `ROUND`).
    HalfEven,
    Floor,
    Ceil,
}

/// What to requantize and how.
pub struct Request<'a> {
    /// A name or parenthesised expression whose value is exact.
    pub value: &'a str,
    /// An upper bound of `|value|` (only used to size the division).
    pub bound: f64,
    pub scale: Dyadic,
    pub rounding: Rounding,
    /// Added to `value / scale` before rounding (QONNX `Quant`), or `0`.
    pub zp_before: i64,
}

/// The lets computing the rounded integer quotient: `(name, expr)` pairs,
/// the last one's value being the result.
pub struct Lets {
    pub lets: Vec<(String, String)>,
}

/// `Err(reason)` when the division needs more than Convoy's literals hold.
/// `helper(role)` names each intermediate let (`u`: the floor quotient, `d`:
/// the distance to the midpoint, `s`: its sign, `e`: the remainder); the
/// caller makes the names unused ones, so a model tensor of the same name
/// cannot clash with them.
pub fn rounded_quotient(
    r: &Request,
    name: &str,
    helper: &mut dyn FnMut(&str) -> String,
) -> Result<Lets, String> {
    let scale = r.scale;
    if scale.mant <= 0 {
        return Err(format!("scale {} is not positive", scale.decimal()));
    }
    let b = scale.mant as u128;
    // v' = value * 2^-e (exact), the quotient is round(v' / b + zp).
    let shifted = shift_text(r.value, -scale.exp)?;
    let vb = r.bound * 2f64.powi(-scale.exp);
    let mut lets = vec![];
    if !vb.is_finite() {
        return Err("the value divided by the scale is out of every range".into());
    }
    if b == 1 {
        let v = add_int(&shifted, r.zp_before);
        let q = match r.rounding {
            Rounding::HalfEven => {
                let w = bits_for(vb + r.zp_before.unsigned_abs() as f64 + 2.0)?;
                format!("{v} as fixed<{w}, {w}, rnd_conv>")
            }
            Rounding::Floor => format!("floor({})", strip_parens(&v)),
            Rounding::Ceil => format!("-floor(-{v})"),
        };
        lets.push((name.to_string(), q));
        return Ok(Lets { lets });
    }
    // v'' = v' + zp * b; u = floor(v'' / b) = floor(floor(v'') / b), computed
    // on n = floor(v'') + k * b >= 0 as (n * mult) >> shift, minus k.
    let zb = (r.zp_before as i128) * b as i128;
    let v = if zb == 0 {
        shifted.clone()
    } else {
        add_int(
            &shifted,
            i64::try_from(zb).map_err(|_| "zero point too large".to_string())?,
        )
    };
    let v_max = vb + zb.unsigned_abs() as f64 + 2.0;
    if !v_max.is_finite() || v_max > 2f64.powi(62) {
        return Err("the quotient needs more than 62 bits".into());
    }
    let k = (v_max / b as f64).ceil() as u128 + 1;
    let kb = k * b;
    let n_max = 2 * kb + 2;
    let d = divider(b, n_max).ok_or("the division needs more than 120 bits")?;
    if d.mult >= 1u128 << 63 || kb >= 1u128 << 62 {
        return Err(format!(
            "dividing by {b} exactly over this range needs a multiplier of more than 63 bits"
        ));
    }
    let u = helper("u");
    lets.push((
        u.clone(),
        format!(
            "(((floor({}) + {kb}) * {}) >> {}) - {k}",
            strip_parens(&v),
            d.mult,
            d.shift
        ),
    ));
    let q = match r.rounding {
        Rounding::Floor => u.clone(),
        Rounding::HalfEven => {
            // d = 2 v'' - (2u + 1) b: negative below the midpoint, zero on it.
            let dn = helper("d");
            lets.push((dn.clone(), format!("{v} * 2 - ({u} * 2 + 1) * {b}")));
            // s = sign(d) in {-1, 0, 1}: u + 1/2 + s/4 rounds (ties to even)
            // to u below the midpoint, u + 1 above it, the even one on it.
            let sn = helper("s");
            lets.push((
                sn.clone(),
                format!("clip(-floor(-{dn}), 0, 1) - clip(-floor({dn}), 0, 1)"),
            ));
            let w = bits_for(v_max / b as f64 + 2.0)?;
            format!("({u} + 0.5 + {sn} * 0.25) as fixed<{w}, {w}, rnd_conv>")
        }
        Rounding::Ceil => {
            let rn = helper("e");
            lets.push((rn.clone(), format!("{v} - {u} * {b}")));
            format!("{u} + clip(-floor(-{rn}), 0, 1)")
        }
    };
    lets.push((name.to_string(), q));
    Ok(Lets { lets })
}

/// Bits of a signed integer type holding `[-bound, bound]`.
fn bits_for(bound: f64) -> Result<u32, String> {
    let bits = bound.max(1.0).log2().ceil() as u32 + 2;
    if bits > 64 {
        return Err("the rounded value needs more than 64 bits".into());
    }
    Ok(bits)
}

/// `value * 2^n`, exactly.
fn shift_text(value: &str, n: i32) -> Result<String, String> {
    if n == 0 {
        Ok(value.to_string())
    } else if n > 0 {
        if n > 100 {
            return Err("a scale below 2^-100".into());
        }
        Ok(format!("({value} << {n})"))
    } else {
        if n < -100 {
            return Err("a scale above 2^100".into());
        }
        Ok(format!("({value} * {})", Dyadic::new(1, n).decimal()))
    }
}

fn strip_parens(v: &str) -> &str {
    match v.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        Some(inner) if balanced(inner) => inner,
        _ => v,
    }
}

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for c in s.chars() {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

fn add_int(v: &str, k: i64) -> String {
    match k {
        0 => v.to_string(),
        k if k > 0 => format!("({v} + {k})"),
        k => format!("({v} - {})", k.unsigned_abs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CheckOptions, NoFiles, SourceMap, Tensor};

    /// `round(num / den)` exactly.
    fn exact(num: i128, den: i128, rounding: Rounding) -> i128 {
        let fl = num.div_euclid(den);
        let rem = num.rem_euclid(den);
        match rounding {
            Rounding::Floor => fl,
            Rounding::Ceil => fl + i128::from(rem != 0),
            Rounding::HalfEven => {
                if 2 * rem > den || (2 * rem == den && fl % 2 != 0) {
                    fl + 1
                } else {
                    fl
                }
            }
        }
    }

    /// Every value of a `fixed<16, 8>` input, divided by scales with odd
    /// parts 1, 3, 5, 255, 13421773 (0.1f) ..., in every rounding mode,
    /// with and without a zero point inside: the interpreter running the
    /// written lets gives the exact rounded quotient, ties included.
    #[test]
    fn rounded_quotient_is_exact_on_every_input() {
        let scales = [
            Dyadic::new(1, -4),
            Dyadic::new(3, -7),
            Dyadic::new(5, -3),
            Dyadic::new(255, -8),
            Dyadic::from_f64(0.1f32 as f64).unwrap(),
            Dyadic::from_f64(0.0371f32 as f64).unwrap(),
            Dyadic::new(7, 2),
        ];
        let mut ties = 0;
        for scale in scales {
            for rounding in [Rounding::HalfEven, Rounding::Floor, Rounding::Ceil] {
                for zp in [0i64, 3] {
                    let req = Request {
                        value: "x",
                        bound: 128.0,
                        scale,
                        rounding,
                        zp_before: zp,
                    };
                    let lets = rounded_quotient(&req, "q_r", &mut |role| format!("q_{role}"))
                        .expect("fits");
                    let mut src =
                        String::from("pipeline t {\n  input x: fixed<16, 8>[1, 256, 256]\n");
                    for (n, e) in &lets.lets {
                        src.push_str(&format!("  let {n} = {e}\n"));
                    }
                    src.push_str(&format!(
                        "  output {}\n}}\n",
                        lets.lets[lets.lets.len() - 1].0
                    ));
                    let mut sources = SourceMap::new();
                    let id = sources.add("t.cnn".to_string(), src.clone());
                    let checked =
                        crate::compile(&mut sources, id, &CheckOptions::default(), &NoFiles)
                            .unwrap_or_else(|d| {
                                panic!("{src}\n{}", crate::diag::render(&sources, &d, false))
                            });
                    let raws: Vec<i128> = (-32768..32768).collect();
                    let input = Tensor {
                        shape: vec![1, 256, 256],
                        frac: 8,
                        data: raws.clone(),
                    };
                    let out = crate::interpret(&checked.program, &[input]).expect("runs");
                    let frac = out[0].frac;
                    for (k, &r) in raws.iter().enumerate() {
                        // r / 2^8 / (b * 2^e) + zp = num / den.
                        let (mut num, mut den) = (r, 256 * scale.mant);
                        if scale.exp >= 0 {
                            den <<= scale.exp;
                        } else {
                            num <<= -scale.exp;
                        }
                        num += zp as i128 * den;
                        ties += i128::from(2 * num.rem_euclid(den) == den);
                        let want = exact(num, den, rounding);
                        assert_eq!(
                            out[0].data[k] >> frac,
                            want,
                            "scale {} {rounding:?} zp {zp}: x = {r}/256\n{src}",
                            scale.decimal()
                        );
                        assert_eq!(out[0].data[k] & ((1 << frac) - 1), 0);
                    }
                }
            }
        }
        // The inputs hold many exact ties, so tie-breaking is tested.
        assert!(ties > 10_000, "{ties} ties");
    }
}
