//! Differences between two tensors of exact values: how many changed, the
//! largest difference, the first differing positions and a per-channel
//! summary, as text a reviewer can read.

use crate::notation::dims;
use crate::numeric::to_decimal;
use crate::tensor::unravel;

/// Positions listed in full before "and N more".
pub const FIRST_POSITIONS: usize = 8;
/// Channels listed in the per-channel summary before "and N more".
pub const CHANNEL_LINES: usize = 16;

/// Exact values `raw / 2^frac` in C order with their shape.
#[derive(Clone, Copy, Debug)]
pub struct Values<'a> {
    pub shape: &'a [usize],
    pub frac: u32,
    pub raw: &'a [i128],
}

/// One changed element: its index and both raw values at the common frac.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub index: Vec<usize>,
    pub old: i128,
    pub new: i128,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelDiff {
    pub channel: usize,
    pub changed: usize,
    pub total: usize,
    /// Largest `|new - old|` in the channel (raw at the common frac).
    pub largest: i128,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueDiff {
    /// Shapes differ: no element-wise comparison.
    Shape { old: Vec<usize>, new: Vec<usize> },
    Values {
        /// Both sides' raw values are compared at this frac.
        frac: u32,
        total: usize,
        changed: usize,
        /// The first largest difference.
        largest: Option<Change>,
        first: Vec<Change>,
        channels: Vec<ChannelDiff>,
    },
}

impl ValueDiff {
    pub fn between(old: Values<'_>, new: Values<'_>) -> ValueDiff {
        if old.shape != new.shape || old.raw.len() != new.raw.len() {
            return ValueDiff::Shape {
                old: old.shape.to_vec(),
                new: new.shape.to_vec(),
            };
        }
        let frac = old.frac.max(new.frac);
        let align = |v: i128, f: u32| v.checked_shl(frac - f).unwrap_or(v);
        let shape = new.shape;
        let channels_n = if shape.len() >= 2 { shape[0] } else { 1 };
        let plane = if shape.len() >= 2 {
            shape[1..].iter().product::<usize>().max(1)
        } else {
            new.raw.len().max(1)
        };
        let mut channels: Vec<ChannelDiff> = (0..channels_n)
            .map(|channel| ChannelDiff {
                channel,
                changed: 0,
                total: 0,
                largest: 0,
            })
            .collect();
        let mut changed = 0;
        let mut largest: Option<Change> = None;
        let mut first = vec![];
        for (k, (&o, &n)) in old.raw.iter().zip(new.raw).enumerate() {
            let (o, n) = (align(o, old.frac), align(n, new.frac));
            let c = (k / plane).min(channels_n.saturating_sub(1));
            let ch = &mut channels[c];
            ch.total += 1;
            if o == n {
                continue;
            }
            let d = n.abs_diff(o).min(i128::MAX as u128) as i128;
            changed += 1;
            ch.changed += 1;
            ch.largest = ch.largest.max(d);
            let change = || Change {
                index: unravel(k, shape),
                old: o,
                new: n,
            };
            if largest
                .as_ref()
                .is_none_or(|l| l.new.abs_diff(l.old) < d.unsigned_abs())
            {
                largest = Some(change());
            }
            if first.len() < FIRST_POSITIONS {
                first.push(change());
            }
        }
        ValueDiff::Values {
            frac,
            total: new.raw.len(),
            changed,
            largest,
            first,
            channels,
        }
    }

    pub fn is_same(&self) -> bool {
        matches!(self, ValueDiff::Values { changed: 0, .. })
    }

    /// The readable report, each line indented by `indent`.
    pub fn render(&self, indent: &str) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(indent);
            out.push_str(&s);
            out.push('\n');
        };
        match self {
            ValueDiff::Shape { old, new } => {
                line(format!("shape changed: {} -> {}", dims(old), dims(new)));
            }
            ValueDiff::Values {
                frac,
                total,
                changed,
                largest,
                first,
                channels,
            } => {
                let dec = |v: i128| to_decimal(v, *frac);
                line(format!(
                    "{changed} of {total} values changed ({})",
                    percent(*changed, *total)
                ));
                if let Some(l) = largest {
                    line(format!(
                        "largest difference: {} at {} ({} -> {})",
                        dec(l.new - l.old).trim_start_matches('-'),
                        dims(&l.index),
                        dec(l.old),
                        dec(l.new)
                    ));
                }
                if !first.is_empty() {
                    line("first differences (old -> new):".to_string());
                    for c in first {
                        line(format!(
                            "  {}: {} -> {}",
                            dims(&c.index),
                            dec(c.old),
                            dec(c.new)
                        ));
                    }
                    if *changed > first.len() {
                        line(format!("  ... and {} more", changed - first.len()));
                    }
                }
                let touched: Vec<&ChannelDiff> =
                    channels.iter().filter(|c| c.changed > 0).collect();
                if channels.len() > 1 && !touched.is_empty() {
                    line(format!(
                        "per channel ({} of {} channels changed):",
                        touched.len(),
                        channels.len()
                    ));
                    for c in touched.iter().take(CHANNEL_LINES) {
                        line(format!(
                            "  channel {}: {} of {} changed, largest difference {}",
                            c.channel,
                            c.changed,
                            c.total,
                            dec(c.largest)
                        ));
                    }
                    if touched.len() > CHANNEL_LINES {
                        line(format!(
                            "  ... and {} more channels",
                            touched.len() - CHANNEL_LINES
                        ));
                    }
                }
            }
        }
        out
    }
}

fn percent(part: usize, total: usize) -> String {
    if total == 0 {
        return "0%".into();
    }
    let tenths = (part as u128 * 1000).div_ceil(total as u128);
    format!("{}.{}%", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_positions() {
        let old = [0i128, 1, 2, 3, 4, 5, 6, 7];
        let new = [0i128, 1, 9, 3, 4, 5, 6, 4];
        let shape = [2usize, 2, 2];
        let d = ValueDiff::between(
            Values {
                shape: &shape,
                frac: 0,
                raw: &old,
            },
            Values {
                shape: &shape,
                frac: 0,
                raw: &new,
            },
        );
        let text = d.render("");
        assert!(text.contains("2 of 8 values changed (25.0%)"), "{text}");
        assert!(
            text.contains("largest difference: 7 at [0, 1, 0] (2 -> 9)"),
            "{text}"
        );
        assert!(text.contains("[1, 1, 1]: 7 -> 4"), "{text}");
        assert!(
            text.contains("channel 1: 1 of 4 changed, largest difference 3"),
            "{text}"
        );
    }

    #[test]
    fn aligns_fractions() {
        let shape = [2usize];
        let d = ValueDiff::between(
            Values {
                shape: &shape,
                frac: 0,
                raw: &[1, 2],
            },
            Values {
                shape: &shape,
                frac: 1,
                raw: &[2, 5],
            },
        );
        let text = d.render("");
        assert!(
            text.contains("largest difference: 0.5 at [1] (2 -> 2.5)"),
            "{text}"
        );
    }
}
