//! Quantizers and dequantizers: ONNX `QuantizeLinear` / `DequantizeLinear`
//! and QONNX `Quant` / `BipolarQuant`. They turn real values into codes
//! and codes into `(codes - zp) * scale`.

use super::exact::Dyadic;
use super::lower::{attr_i, attr_s, integer, only_attrs, unsupported, Fail, Lowering, Res};
use super::proto::Node;
use super::requant::Rounding;
use super::values::{Codes, Konst, QConst, Val};
use crate::import::error::ImportError;

impl Lowering<'_> {
    pub fn quantize_linear(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["axis", "saturate"])?;
        let x = self.need(n, 0, "input")?;
        let (zp, lo, hi, ty) = self.zero_point(n, 2)?;
        if let Val::Const(k) = &x {
            // A float initializer quantized in the graph: fold it.
            let q = self.fold_quantize(n, k, zp, (lo, hi), Rounding::HalfEven, false)?;
            return Ok(vec![Val::QConst(q)]);
        }
        let scale = self.scale(n, 1)?;
        // Requantizing to the codes' own quantization changes nothing
        // (QDQ around MaxPool, Resize nearest, Concat of one scale).
        if let Val::Affine {
            codes,
            zp: z,
            scale: s,
        } = &x
        {
            if *z == zp && *s == scale && codes.lo == lo && codes.hi == hi {
                return Ok(vec![Val::Codes(codes.clone())]);
            }
        }
        let codes = match x {
            Val::FloatInput { name, shape } => {
                self.declare_input(&name, shape, lo, hi, ty, (scale, zp))?
            }
            v => self.quantize(n, &v, scale, zp, (lo, hi, ty), Rounding::HalfEven, false)?,
        };
        Ok(vec![Val::Codes(codes)])
    }

    pub fn dequantize_linear(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["axis"])?;
        let x = self.need(n, 0, "input")?;
        match x {
            Val::Codes(codes) => {
                let scale = self.scale(n, 1)?;
                let (zp, ..) = self.zero_point(n, 2)?;
                Ok(vec![Val::Affine { codes, zp, scale }])
            }
            Val::Const(k) if k.int => {
                let axis = attr_i(n, "axis", 1);
                let q = self.const_quant(n, k, axis)?;
                Ok(vec![Val::QConst(q)])
            }
            Val::Poisoned => Err(Fail::Poisoned),
            _ => unsupported("dequantizes something that is not integer codes"),
        }
    }

    /// The scales and zero points of a dequantized initializer, per tensor
    /// or along `axis`.
    fn const_quant(&self, n: &Node, k: Konst, axis: i64) -> Res<QConst> {
        let rank = k.dims.len() as i64;
        let axis = if axis < 0 { axis + rank } else { axis };
        let list = |i: usize| -> Res<Vec<Dyadic>> {
            match self.arg(n, i)? {
                None => Ok(vec![]),
                Some(Val::Const(c)) => Ok(c.values),
                Some(_) => unsupported(format!("input {i} is not a constant")),
            }
        };
        let scales = list(1)?;
        let zps_d = list(2)?;
        let count = scales.len();
        let along = usize::try_from(axis)
            .ok()
            .and_then(|a| k.dims.get(a).copied());
        if count != 1 && Some(count) != along {
            return Err(self.scale_shape(
                n,
                format!(
                    "{} scales for a tensor of shape {:?} (axis {axis})",
                    count, k.dims
                ),
            ));
        }
        if !zps_d.is_empty() && zps_d.len() != count {
            return Err(self.scale_shape(
                n,
                format!("{} zero points for {} scales", zps_d.len(), count),
            ));
        }
        if scales.iter().any(|s| s.mant <= 0) {
            return unsupported("a scale that is not positive");
        }
        let zps = if zps_d.is_empty() {
            vec![0; count]
        } else {
            zps_d
                .iter()
                .map(|&z| integer(z))
                .collect::<Option<Vec<i64>>>()
                .ok_or_else(|| Fail::Unsupported("a zero point that is not an integer".into()))?
        };
        let codes = k
            .values
            .iter()
            .map(|&v| integer(v))
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| Fail::Unsupported("codes that are not integers".into()))?;
        Ok(QConst {
            dims: k.dims,
            codes,
            scales,
            zps,
            axis: axis.max(0) as usize,
        })
    }

    pub fn scale_shape(&self, n: &Node, what: String) -> Fail {
        Fail::Fatal(ImportError::ScaleShape {
            file: self.file.clone(),
            node: n.name.clone(),
            what,
        })
    }

    /// QONNX `Quant(x, scale, zeropt, bitwidth)`: codes
    /// `clamp(round(x / scale + zeropt))`, value `(codes - zeropt) * scale`.
    pub fn qonnx_quant(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["signed", "narrow", "rounding_mode"])?;
        let x = self.need(n, 0, "input")?;
        let signed = attr_i(n, "signed", 1) != 0;
        let narrow = attr_i(n, "narrow", 0) != 0;
        let rounding = match attr_s(n, "rounding_mode").as_deref().unwrap_or("ROUND") {
            "ROUND" | "HALF_EVEN" => Rounding::HalfEven,
            "FLOOR" => Rounding::Floor,
            "CEIL" => Rounding::Ceil,
            other => return unsupported(format!("rounding_mode `{other}`")),
        };
        let bits = self
            .scalar(n, 3, "bit width")?
            .and_then(integer)
            .ok_or_else(|| {
                Fail::Unsupported("a bit width that is not a constant integer".into())
            })?;
        if !(1..=32).contains(&bits) || (signed && bits < 2) {
            return unsupported(format!("a bit width of {bits}"));
        }
        let (lo, hi) = if signed {
            (
                -(1i64 << (bits - 1)) + i64::from(narrow),
                (1i64 << (bits - 1)) - 1,
            )
        } else {
            (0, (1i64 << bits) - 1 - i64::from(narrow))
        };
        let ty = if signed {
            format!("i{bits}")
        } else {
            format!("u{bits}")
        };
        if let Val::Const(k) = &x {
            let mut k2 = k.clone();
            let q = self.fold_quantize_qonnx(n, &mut k2, (lo, hi), rounding)?;
            return Ok(vec![Val::QConst(q)]);
        }
        let scale = self.scale(n, 1)?;
        let zp = self
            .scalar(n, 2, "zero point")?
            .map(integer)
            .unwrap_or(Some(0))
            .ok_or_else(|| Fail::Unsupported("a zero point that is not an integer".into()))?;
        let codes = match x {
            Val::FloatInput { name, shape } => {
                self.declare_input(&name, shape, lo, hi, &ty, (scale, zp))?
            }
            v => self.quantize(n, &v, scale, zp, (lo, hi, &ty), rounding, true)?,
        };
        Ok(vec![Val::Affine { codes, zp, scale }])
    }

    /// QONNX `BipolarQuant(x, scale)`: `scale` where `x >= 0`, else `-scale`.
    pub fn bipolar_quant(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &[])?;
        let x = self.need(n, 0, "input")?;
        let scale = self.scale(n, 1)?;
        if let Val::Const(k) = &x {
            let codes = k
                .values
                .iter()
                .map(|v| if v.mant >= 0 { 1 } else { -1 })
                .collect();
            return Ok(vec![Val::QConst(QConst {
                dims: k.dims.clone(),
                codes,
                scales: vec![scale],
                zps: vec![0],
                axis: 0,
            })]);
        }
        let (expr, shape, _) = self.real(&x)?;
        // floor(x) <= -1 exactly when x < 0.
        let name = self.script.fresh(n.outputs.first().map_or(&n.name, |s| s));
        self.script.let_(
            &name,
            &format!("(1 - clip(-floor({expr}), 0, 1) * 2) as i2"),
            &format!("{} {}", n.op_type, n.name),
        );
        Ok(vec![Val::Affine {
            codes: Codes {
                name,
                lo: -1,
                hi: 1,
                shape,
            },
            zp: 0,
            scale,
        }])
    }

    fn fold_quantize(
        &self,
        n: &Node,
        k: &Konst,
        zp: i64,
        (lo, hi): (i64, i64),
        rounding: Rounding,
        zp_before: bool,
    ) -> Res<QConst> {
        let scale = self.scale(n, 1)?;
        let codes = k
            .values
            .iter()
            .map(|&v| {
                let q = round_div(v, scale, rounding, if zp_before { zp } else { 0 })?;
                let q = if zp_before {
                    q
                } else {
                    q.checked_add(zp as i128)?
                };
                Some(q.clamp(lo as i128, hi as i128) as i64)
            })
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| self.too_wide(&n.name, "a constant quantizes beyond 120 bits"))?;
        Ok(QConst {
            dims: k.dims.clone(),
            codes,
            scales: vec![scale],
            zps: vec![zp],
            axis: 0,
        })
    }

    /// `Quant` of a float initializer, with a per-tensor or per-channel
    /// (broadcast `[C, 1, 1, 1]`) scale.
    fn fold_quantize_qonnx(
        &self,
        n: &Node,
        k: &mut Konst,
        (lo, hi): (i64, i64),
        rounding: Rounding,
    ) -> Res<QConst> {
        let scales = match self.arg(n, 1)? {
            Some(Val::Const(c)) => c,
            _ => return unsupported("a scale that is not a constant"),
        };
        let zp = match self.arg(n, 2)? {
            Some(Val::Const(c)) if c.values.len() == 1 => integer(c.values[0])
                .ok_or_else(|| Fail::Unsupported("a zero point that is not an integer".into()))?,
            None => 0,
            _ => return unsupported("a per-channel zero point on a constant"),
        };
        let per_channel = scales.values.len() > 1;
        if per_channel {
            let ok = k.dims.first() == Some(&scales.values.len())
                && scales.dims.iter().skip(1).all(|&d| d == 1);
            if !ok {
                return Err(self.scale_shape(
                    n,
                    format!(
                        "scale of shape {:?} for a tensor of shape {:?}",
                        scales.dims, k.dims
                    ),
                ));
            }
        }
        if scales.values.iter().any(|s| s.mant <= 0) {
            return unsupported("a scale that is not positive");
        }
        let inner: usize = k.dims.iter().skip(1).product::<usize>().max(1);
        let codes = k
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let s = scales.values[if per_channel { i / inner } else { 0 }];
                let q = round_div(v, s, rounding, zp)?;
                Some(q.clamp(lo as i128, hi as i128) as i64)
            })
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| self.too_wide(&n.name, "a constant quantizes beyond 120 bits"))?;
        let count = scales.values.len();
        Ok(QConst {
            dims: k.dims.clone(),
            codes,
            scales: scales.values.clone(),
            zps: vec![zp; count],
            axis: 0,
        })
    }
}

/// `round(v / s + zp)` exactly, `None` past 120 bits (then the value is far
/// outside any code range, but the caller refuses rather than guess).
fn round_div(v: Dyadic, s: Dyadic, rounding: Rounding, zp: i64) -> Option<i128> {
    // v / s = (mv / ms) * 2^(ev - es) = num / den.
    let e = v.exp - s.exp;
    let (mut num, mut den) = (v.mant, s.mant);
    if e >= 0 {
        num = num.checked_mul(1i128.checked_shl(e as u32).filter(|_| e < 120)?)?;
    } else {
        den = den.checked_mul(1i128.checked_shl((-e) as u32).filter(|_| -e < 120)?)?;
    }
    num = num.checked_add((zp as i128).checked_mul(den)?)?;
    let fl = num.div_euclid(den);
    let rem = num.rem_euclid(den);
    Some(match rounding {
        Rounding::Floor => fl,
        Rounding::Ceil => fl + i128::from(rem != 0),
        Rounding::HalfEven => {
            let twice = rem.checked_mul(2)?;
            if twice > den || (twice == den && fl.rem_euclid(2) == 1) {
                fl + 1
            } else {
                fl
            }
        }
    })
}
