//! How values are shown: the shape in the language's notation, the exact
//! range and narrowest type, then the numbers (small tensors as aligned
//! per-channel tables, larger ones as per-channel min / max / mean and a
//! compact histogram over the proven range).

use crate::ir::Node;
use crate::notation::node_type;
use crate::numeric::to_decimal;
use crate::tensor::Tensor;
use crate::types::narrowest;

/// Tensors with at most this many elements are printed in full.
const SMALL: usize = 256;
/// Channels listed before "... N more".
const MAX_CHANNELS: usize = 16;
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const BINS: usize = 16;

/// `u10[16, 32, 64]   range 0 .. 827   narrowest u10`.
pub fn summary(node: &Node) -> String {
    let r = node.range();
    let narrow = narrowest(r.lo, r.hi, node.frac);
    format!(
        "{}   range {} .. {}   narrowest {}",
        node_type(node),
        to_decimal(r.lo, node.frac),
        to_decimal(r.hi, node.frac),
        narrow
    )
}

pub fn value(t: &Tensor) -> String {
    let shape = &t.shape;
    if shape.is_empty() {
        return format!(
            "= {}\n",
            t.data
                .first()
                .map_or("?".into(), |v| to_decimal(*v, t.frac))
        );
    }
    if t.data.len() <= SMALL {
        return table(t);
    }
    stats(t)
}

/// Per channel: rows of aligned values (maps and weights), one line for a vector.
fn table(t: &Tensor) -> String {
    let cells: Vec<String> = t.data.iter().map(|v| to_decimal(*v, t.frac)).collect();
    let width = cells.iter().map(String::len).max().unwrap_or(1);
    let mut out = String::new();
    let row = |cells: &[String]| -> String {
        let parts: Vec<String> = cells.iter().map(|c| format!("{c:>width$}")).collect();
        parts.join(" ")
    };
    match t.shape.as_slice() {
        [_] => {
            out.push_str(&row(&cells));
            out.push('\n');
        }
        [c, rest @ ..] => {
            let cols = *rest.last().unwrap_or(&1);
            let per = cells.len() / c.max(&1);
            for ch in 0..(*c).min(MAX_CHANNELS) {
                out.push_str(&format!("channel {ch}:\n"));
                for r in cells[ch * per..(ch + 1) * per].chunks(cols.max(1)) {
                    out.push_str(&format!("  {}\n", row(r)));
                }
            }
            if *c > MAX_CHANNELS {
                out.push_str(&format!("... {} more channels\n", c - MAX_CHANNELS));
            }
        }
        [] => {}
    }
    out
}

/// Per channel: min, max, mean and a histogram over the channel's values.
fn stats(t: &Tensor) -> String {
    let c = t.shape[0].max(1);
    let per = t.data.len() / c;
    let lo_all = t.data.iter().copied().min().unwrap_or(0);
    let hi_all = t.data.iter().copied().max().unwrap_or(0);
    let mut rows: Vec<[String; 4]> = vec![];
    for ch in 0..c.min(MAX_CHANNELS) {
        let vals = &t.data[ch * per..(ch + 1) * per];
        let lo = vals.iter().copied().min().unwrap_or(0);
        let hi = vals.iter().copied().max().unwrap_or(0);
        let sum: i128 = vals.iter().sum();
        rows.push([
            to_decimal(lo, t.frac),
            to_decimal(hi, t.frac),
            mean(sum, vals.len() as i128, t.frac),
            histogram(vals, lo_all, hi_all),
        ]);
    }
    let w = |k: usize| {
        rows.iter()
            .map(|r| r[k].chars().count())
            .max()
            .unwrap_or(0)
            .max(4)
    };
    let (w0, w1, w2) = (w(0), w(1), w(2));
    let mut out = format!(
        "channel  {:>w0$}  {:>w1$}  {:>w2$}  histogram {} .. {}\n",
        "min",
        "max",
        "mean",
        to_decimal(lo_all, t.frac),
        to_decimal(hi_all, t.frac)
    );
    for (ch, r) in rows.iter().enumerate() {
        out.push_str(&format!(
            "{ch:>7}  {:>w0$}  {:>w1$}  {:>w2$}  {}\n",
            r[0], r[1], r[2], r[3]
        ));
    }
    if t.shape[0] > MAX_CHANNELS {
        out.push_str(&format!(
            "... {} more channels\n",
            t.shape[0] - MAX_CHANNELS
        ));
    }
    out
}

/// The mean `sum / (n * 2^frac)` with two decimals, rounded half away from zero.
fn mean(sum: i128, n: i128, frac: u32) -> String {
    let den = n.max(1) << frac.min(60);
    let scaled = sum.saturating_mul(100);
    let q = (scaled.abs() + den / 2) / den;
    let sign = if sum < 0 && q != 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", q / 100, q % 100)
}

/// Counts in [`BINS`] equal bins over `lo..=hi`, as bars scaled to the largest.
fn histogram(vals: &[i128], lo: i128, hi: i128) -> String {
    let mut bins = [0usize; BINS];
    let span = (hi - lo).max(0) + 1;
    for v in vals {
        let k = ((v - lo) * BINS as i128 / span) as usize;
        bins[k.min(BINS - 1)] += 1;
    }
    let top = bins.iter().copied().max().unwrap_or(0).max(1);
    bins.iter()
        .map(|&b| {
            if b == 0 {
                ' '
            } else {
                BARS[((b * (BARS.len() - 1)) / top).min(BARS.len() - 1)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_are_exact_to_two_places() {
        assert_eq!(mean(5, 2, 0), "2.50");
        assert_eq!(mean(-1, 3, 0), "-0.33");
        assert_eq!(mean(3, 2, 1), "0.75");
    }

    #[test]
    fn histogram_bars_scale_to_the_fullest_bin() {
        assert_eq!(histogram(&[0, 0, 15], 0, 15), "█              ▄");
    }
}
