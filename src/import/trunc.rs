//! QONNX `Trunc` (Brevitas exports it after average pooling): the codes of
//! a value at the input's scale, rounded to fewer bits by a power of two.
//! `docs/import.md` ("QONNX Trunc") gives the meaning of both versions.

use super::exact::{int_type_for, Dyadic};
use super::lower::{attr_i, attr_s, integer, only_attrs, unsupported, Fail, Lowering, Res};
use super::proto::Node;
use super::requant::{rounded_quotient, Request, Rounding};
use super::values::{Codes, Val};

/// The largest code (in magnitude) a `Trunc` may hold before or after its
/// truncation: Convoy's integer maps of up to 32 bits.
const CODE_LIMIT: f64 = 2_147_483_647.0;

impl Lowering<'_> {
    /// Version 1 (5 inputs: `x, scale, zeropt, in_bits, out_bits`):
    /// `c = round_half_even(x / scale + zeropt)`,
    /// `y = round_mode(c / 2^(in_bits - out_bits))`, value `(y - zeropt) * scale`.
    /// Version 2 (7 inputs: `x, scale, zeropt, in_bits, out_scale,
    /// out_zeropt, out_bits`, attributes `signed`, `narrow`): `T = 2^round(log2(out_scale
    /// / scale))`, `y = round_mode(clamp(c / T, min, max))` with the range of
    /// `out_bits`, value `(y - zeropt / T) * out_scale`.
    pub fn qonnx_trunc(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["rounding_mode", "signed", "narrow"])?;
        let x = self.need(n, 0, "input")?;
        if matches!(x, Val::Const(_) | Val::QConst(_)) {
            return unsupported("truncates a constant");
        }
        let mode = attr_s(n, "rounding_mode").unwrap_or_else(|| "FLOOR".into());
        let rounding = match mode.to_ascii_uppercase().as_str() {
            "ROUND" | "HALF_EVEN" => Rounding::HalfEven,
            "FLOOR" => Rounding::Floor,
            "CEIL" => Rounding::Ceil,
            other => return unsupported(format!("rounding_mode `{other}`")),
        };
        let scale = self.scale(n, 1)?;
        let zp = self.int_scalar(n, 2, "zero point")?.unwrap_or(0);
        let in_bits = self.int_scalar(n, 3, "input bit width")?;
        let v2 = n.inputs.len() == 7;
        if !(v2 || n.inputs.len() == 5) {
            return unsupported(format!(
                "{} inputs (version 1 has 5, version 2 has 7)",
                n.inputs.len()
            ));
        }
        // The truncation's exponent k (divide by 2^k), the output scale,
        // zero point and clamp.
        let (k, out_scale, out_zp, clamp) = if v2 {
            let out_scale = self.scale(n, 4)?;
            let out_bits = self
                .int_scalar(n, 6, "output bit width")?
                .ok_or_else(|| Fail::Unsupported("no output bit width".into()))?;
            let signed = attr_i(n, "signed", 1) != 0;
            let narrow = i64::from(attr_i(n, "narrow", 0) != 0);
            if !(1..=32).contains(&out_bits) || (signed && out_bits < 2) {
                return unsupported(format!("an output bit width of {out_bits}"));
            }
            let range = if signed {
                (
                    -(1i64 << (out_bits - 1)) + narrow,
                    (1i64 << (out_bits - 1)) - 1,
                )
            } else {
                (0, (1i64 << out_bits) - 1 - narrow)
            };
            // 2^round(log2(out_scale / scale)), as the QONNX executor computes it.
            let k = (out_scale.to_f64() / scale.to_f64()).log2().round();
            if !(-32.0..=32.0).contains(&k) {
                return unsupported("output and input scales more than 2^32 apart");
            }
            let k = k as i32;
            let out_zp = if k >= 0 {
                (zp % (1i64 << k) == 0).then(|| zp >> k)
            } else {
                Some(zp << -k)
            }
            .ok_or_else(|| {
                Fail::Unsupported(format!(
                    "a zero point {zp} that the truncation by 2^{k} leaves fractional"
                ))
            })?;
            (k, out_scale, out_zp, Some(range))
        } else {
            let out_bits = self
                .int_scalar(n, 4, "output bit width")?
                .ok_or_else(|| Fail::Unsupported("no output bit width".into()))?;
            let in_bits = in_bits.ok_or_else(|| Fail::Unsupported("no input bit width".into()))?;
            let k = in_bits - out_bits;
            if !(-32..=32).contains(&k) {
                return unsupported(format!("a truncation by {k} bits"));
            }
            (k as i32, scale, zp, None)
        };
        // c = round_half_even(x / scale + zp), not clamped: its range from x's.
        let (_, _, bound, div) = self.real_div(&x)?;
        let c_max = (bound / div as f64 / scale.to_f64()).ceil() + zp.unsigned_abs() as f64 + 1.0;
        if !c_max.is_finite() || c_max > CODE_LIMIT {
            return Err(self.too_wide(
                &n.name,
                "the codes before truncation need more than 32 bits",
            ));
        }
        let c_max = c_max as i64;
        let c_ty = int_type_for(-(c_max as i128), c_max as i128);
        let c = self.quantize(
            n,
            &x,
            scale,
            zp,
            (-c_max, c_max, &c_ty),
            Rounding::HalfEven,
            true,
        )?;
        // y = round_mode(c / 2^k): a shift, rounded.
        let pow = Dyadic::new(1, k);
        let y_lo = (-c_max as f64 / pow.to_f64()).floor() as i64;
        let y_hi = (c_max as f64 / pow.to_f64()).ceil() as i64;
        let (lo, hi) = match clamp {
            Some((a, b)) => (a.max(y_lo), b.min(y_hi).max(a.max(y_lo))),
            None => (y_lo, y_hi),
        };
        let ty = int_type_for(lo as i128, hi as i128);
        let base = n.outputs.first().cloned().unwrap_or_else(|| n.name.clone());
        let r_name = self.script.fresh(&format!("{base}_t"));
        let request = Request {
            value: &c.name,
            bound: c_max as f64,
            scale: pow,
            rounding,
            zp_before: 0,
        };
        let script = &mut self.script;
        let lets = rounded_quotient(&request, &r_name, &mut |role| {
            script.fresh(&format!("{r_name}_{role}"))
        })
        .map_err(|w| self.too_wide(&n.name, &w))?;
        let comment = format!("{} {}: the truncation", n.op_type, n.name);
        for (i, (ln, e)) in lets.lets.iter().enumerate() {
            self.script.let_(ln, e, if i == 0 { &comment } else { "" });
        }
        let name = self.script.fresh(&base);
        let (clo, chi) = clamp.unwrap_or((lo, hi));
        self.script
            .let_(&name, &format!("clip({r_name}, {clo}, {chi}) as {ty}"), "");
        let codes = Codes {
            name,
            lo,
            hi,
            shape: c.shape,
        };
        Ok(vec![Val::Affine {
            codes,
            zp: out_zp,
            scale: out_scale,
        }])
    }

    /// An integer scalar constant input (a zero point, a bit width).
    fn int_scalar(&self, n: &Node, i: usize, what: &str) -> Res<Option<i64>> {
        match self.scalar(n, i, what)? {
            None => Ok(None),
            Some(d) => integer(d)
                .map(Some)
                .ok_or_else(|| Fail::Unsupported(format!("a {what} that is not an integer"))),
        }
    }
}
