//! `BatchNormalization` (inference): `y = x * s + t` per channel, with `s`
//! and `t` the float32 fold onnxruntime computes, held exactly.
//! `docs/import.md` ("BatchNormalization") gives the meaning.

use super::exact::Dyadic;
use super::lower::{attr_f, attr_i, only_attrs, unsupported, Fail, Lowering, Res};
use super::proto::{dtype, Node};
use super::values::Val;

impl Lowering<'_> {
    pub fn batch_norm(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["epsilon", "momentum", "training_mode", "spatial"])?;
        if attr_i(n, "training_mode", 0) != 0 || n.outputs.iter().skip(1).any(|o| !o.is_empty()) {
            return unsupported("training mode (running statistics as outputs)");
        }
        if attr_i(n, "spatial", 1) != 1 {
            return unsupported("spatial = 0");
        }
        let x = self.need(n, 0, "input")?;
        let [gamma, beta, mean, var] = [1, 2, 3, 4].map(|i| self.float32s(n, i));
        let (gamma, beta, mean, var) = (gamma?, beta?, mean?, var?);
        let eps = attr_f(n, "epsilon").unwrap_or(1e-5);
        let (s, t) = fold(&gamma, &beta, &mean, &var, eps)?;
        let (expr, shape, bound) = self.real(&x)?;
        if s.len() != shape[0] {
            return unsupported(format!("{} statistics for {} channels", s.len(), shape[0]));
        }
        let exact = |v: &[f32]| -> Res<Vec<Dyadic>> {
            v.iter()
                .map(|&f| Dyadic::from_f64(f64::from(f)))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Fail::Unsupported("a statistic that is not finite".into()))
        };
        let s_name = self.fixed_param(n, "mul", &exact(&s)?)?;
        let t_name = self.fixed_param(n, "add", &exact(&t)?)?;
        let s_max = s.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
        let t_max = t.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
        let y = self.let_real(
            n,
            format!("{expr} * {s_name} + {t_name}"),
            shape,
            bound * s_max + t_max,
        );
        Ok(vec![y])
    }

    /// A float32 initializer, one value per channel.
    fn float32s(&self, n: &Node, i: usize) -> Res<Vec<f32>> {
        match self.arg(n, i)? {
            Some(Val::Const(k)) if k.dtype == dtype::FLOAT => {
                Ok(k.values.iter().map(|v| v.to_f64() as f32).collect())
            }
            Some(Val::Const(_)) => unsupported(format!("input {i} is not float32")),
            _ => unsupported(format!("input {i} is not a constant")),
        }
    }
}

/// `s = gamma / sqrt(var + eps)`, `t = beta - mean * s`, each operation
/// rounded to float32 (IEEE, round to nearest even), as onnxruntime's
/// BatchNormalization kernel and its Conv fusion compute them.
pub fn fold(
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
) -> Res<(Vec<f32>, Vec<f32>)> {
    let c = gamma.len();
    if [beta.len(), mean.len(), var.len()].iter().any(|&l| l != c) {
        return unsupported("statistics of different lengths");
    }
    let mut s = Vec::with_capacity(c);
    let mut t = Vec::with_capacity(c);
    for i in 0..c {
        let si = gamma[i] / (var[i] + eps).sqrt();
        let ti = beta[i] - mean[i] * si;
        if !si.is_finite() || !ti.is_finite() {
            return unsupported(format!(
                "channel {i}: var + eps = {} gives a scale that is not finite",
                var[i] + eps
            ));
        }
        s.push(si);
        t.push(ti);
    }
    Ok((s, t))
}

#[cfg(test)]
mod tests {
    use super::fold;

    /// Each step is one float32 rounding (the bits are numpy's float32
    /// `g / np.sqrt(v + eps)`, `b - m * s`): on these channels the float64
    /// formula rounded once to float32 gives other bits for both.
    #[test]
    fn fold_rounds_each_operation_to_float32() {
        let f = |bits: &[u32]| bits.iter().map(|&b| f32::from_bits(b)).collect::<Vec<_>>();
        let (s, t) = fold(
            &f(&[0xbfd425cb, 0x3fc88e5a]),
            &f(&[0xc0239004, 0x3f0a5fdb]),
            &f(&[0x3ed6110d, 0x3ff7b0f7]),
            &f(&[0x4017b528, 0x404768f2]),
            1e-3,
        )
        .unwrap_or_default();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&s), [0xbf89c35a, 0x3f6333c8]);
        assert_eq!(bits(&t), [0xc006c366, 0xbf96a418]);
        assert!(fold(&[1.0], &[0.0], &[0.0], &[-1.0], 1.0).is_err());
    }
}
