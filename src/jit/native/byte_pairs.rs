//! `vpmaddubsw` made exact: which weight quads the AVX2 kernels may
//! multiply as byte pairs, and the rest of those that may not.
//!
//! On a CPU with AVX2 and no VNNI, a u8 x i8 dot product of four bytes
//! takes either two `vpmaddwd` on the bytes widened to words plus two
//! `vpaddd` (exact for any operands), or one `vpmaddubsw` plus one
//! `vpmaddwd` by ones plus one `vpaddd`: a quarter fewer operations, but
//! `vpmaddubsw` saturates each pair `x0 w0 + x1 w1` to 16 bits. With `x`
//! up to 255 a pair is exact for every input exactly when its weights of
//! one sign add up to at most 128 in magnitude (`255 x 128 = 32640`).
//! The weights are constants, so the planner knows which pairs are exact:
//! it splits each quad into a main quad whose pairs are all exact and a
//! rest, zero unless a pair was not, whose pairs hold one weight each (so
//! they are exact too). The kernel multiplies every main quad and, in a
//! second loop, only the rests that are not zero: exact for all inputs,
//! and faster than the widened words when few quads have a rest (trained
//! weights: a few percent; uniformly random bytes: about 44%).

/// The largest sum of one sign's weights in an exact pair for inputs up
/// to 255: `255 x 128 = 32640 <= 32767`, and `-32640 >= -32768`.
const PAIR_LIMIT: i32 = 128;

/// Share of quads with a rest above which the widened words are faster
/// (a rest costs as much as a main quad; the words cost about 1.2 main
/// quads on Zen 3: a 64 -> 128 pointwise convolution on 128 x 256 pixels
/// took 4.42 ms in words, 3.66 ms in pairs without rests, 4.16 ms with
/// 14.5% of its quads with a rest; a 32 -> 192 one with 20% was 4% slower
/// in pairs).
pub const MAX_REST_SHARE: f64 = 0.12;

/// The same for the depthwise kernel, whose words take two shuffles where
/// the pairs take one, and whose rests reuse the pair's shuffle: a rest
/// costs 3 operations where the words cost 2 more than a pair.
pub const MAX_DEPTHWISE_REST_SHARE: f64 = 0.5;

/// The four signed weights of quad `q` (byte 0 first).
fn weights_of(q: i32) -> [i32; 4] {
    q.to_le_bytes().map(|v| i32::from(v as i8))
}

/// The quad of four signed weights (byte 0 first).
fn quad_of(w: [i8; 4]) -> i32 {
    i32::from_le_bytes(w.map(|v| v as u8))
}

/// The main quad and the rest of weight quad `w` (bytes `[w0 w1 w2 w3]`,
/// pairs `(w0, w1)` and `(w2, w3)`): `main + rest == w` bytewise, every
/// pair of both exact for inputs up to 255.
pub fn split(w: i32) -> (i32, i32) {
    let b = weights_of(w);
    let (mut main, mut rest) = ([0i8; 4], [0i8; 4]);
    for pair in 0..2 {
        let (a, c) = (b[2 * pair], b[2 * pair + 1]);
        // Keep `a`; cut `c` to what `a` leaves of the limit on its side.
        let kept = if a > 0 && c > 0 {
            c.min(PAIR_LIMIT - a)
        } else if a < 0 && c < 0 {
            c.max(-PAIR_LIMIT - a)
        } else {
            c
        };
        // In range: `kept` lies between 0 and `c`, so both fit in i8.
        main[2 * pair] = a as i8;
        main[2 * pair + 1] = kept as i8;
        rest[2 * pair + 1] = (c - kept) as i8;
    }
    (quad_of(main), quad_of(rest))
}

/// A stage's weight quads split for `vpmaddubsw`: the main quads in the
/// stage's order, and per output channel the (quad index within the
/// channel, rest) of the quads with a rest. `summed`: planned by
/// [`BytePairs::plan_summed_by`], the main quads of each partnered pair
/// may have their words added before they are widened.
#[derive(Clone, Debug)]
pub struct BytePairs {
    pub main: Vec<i32>,
    pub rests: Vec<Vec<(usize, i32)>>,
    pub summed: bool,
}

impl BytePairs {
    /// `weights` laid out as `channels` runs of `per_channel` quads; `None`
    /// when more than `max_share` of the quads have a rest (the pairs would
    /// not pay).
    pub fn plan(
        weights: &[i32],
        channels: usize,
        per_channel: usize,
        max_share: f64,
    ) -> Option<BytePairs> {
        if per_channel == 0 || weights.len() != channels * per_channel {
            return None;
        }
        Self::plan_by(
            weights,
            channels,
            |i| (i / per_channel, i % per_channel),
            max_share,
        )
    }

    /// As [`plan`](Self::plan) for any layout: `position(i)` is the output
    /// channel of quad `i` and the index the kernel gives the quad's rest
    /// (the kernel's step, or the quad's index within the channel).
    pub fn plan_by(
        weights: &[i32],
        channels: usize,
        position: impl Fn(usize) -> (usize, usize),
        max_share: f64,
    ) -> Option<BytePairs> {
        if weights.is_empty() {
            return None;
        }
        let mut main = Vec::with_capacity(weights.len());
        let mut rests = vec![vec![]; channels];
        let mut count = 0usize;
        for (i, &w) in weights.iter().enumerate() {
            let (m, r) = split(w);
            main.push(m);
            if r != 0 {
                let (channel, index) = position(i);
                rests.get_mut(channel)?.push((index, r));
                count += 1;
            }
        }
        let share = count as f64 / weights.len() as f64;
        (share <= max_share).then_some(BytePairs {
            main,
            rests,
            summed: false,
        })
    }

    /// The cheapest exact plan for `vpmaddubsw`, when one beats the
    /// widened words: [`plan_summed_by`](Self::plan_summed_by) when it
    /// adds few rests to [`plan_by`](Self::plan_by)'s, else `plan_by`.
    /// A pair of summed quads takes three multiplies (two `vpmaddubsw`,
    /// one `vpmaddwd`) where two quads alone take four, but a rest costs
    /// far more than its two multiplies (a loop of its own, the
    /// accumulators through memory): with 2.8% of its quads given a rest,
    /// a 32 -> 192 pointwise convolution on 56 x 56 ran 11% slower summed
    /// on Zen 3, with 0.2% a 64 -> 128 3 x 3 one 14% faster. At most one
    /// added rest per `quads_per_rest` quads.
    pub fn plan_best_by(
        weights: &[i32],
        channels: usize,
        (position, partner): (
            impl Fn(usize) -> (usize, usize) + Copy,
            impl Fn(usize) -> Option<usize>,
        ),
        quads_per_rest: usize,
    ) -> Option<BytePairs> {
        let plain = Self::plan_by(weights, channels, position, MAX_REST_SHARE)?;
        let rests = |p: &BytePairs| p.rests.iter().map(Vec::len).sum::<usize>();
        let allowed = rests(&plain) + weights.len() / quads_per_rest.max(1);
        match Self::plan_summed_by(weights, channels, position, partner) {
            Some(summed) if rests(&summed) <= allowed => Some(summed),
            _ => Some(plain),
        }
    }

    /// Main quads and rests as [`plan_by`](Self::plan_by), but quad `i`
    /// and its `partner(i)` (a quad the kernel multiplies in the same
    /// lanes, for the same output channel, right after it) cut so that the
    /// two `vpmaddubsw` words of each lane may be added before they are
    /// widened: the two pairs' weights of one sign add up to at most
    /// [`PAIR_LIMIT`] in magnitude, so the four products fit 16 bits for
    /// every input. What is cut goes to rests ([`split`] so that their
    /// pairs are exact too). Quads in no partnership are split as by
    /// `plan_by`. `None` when a partner is out of range or taken twice.
    pub fn plan_summed_by(
        weights: &[i32],
        channels: usize,
        position: impl Fn(usize) -> (usize, usize),
        partner: impl Fn(usize) -> Option<usize>,
    ) -> Option<BytePairs> {
        let mut main = weights.to_vec();
        let mut cut = vec![0i32; weights.len()];
        let mut taken = vec![false; weights.len()];
        for i in 0..weights.len() {
            let Some(k) = partner(i) else { continue };
            if k <= i || k >= weights.len() || taken[i] || taken[k] {
                return None;
            }
            (taken[i], taken[k]) = (true, true);
            let (m, r) = clip_summed([weights[i], weights[k]]);
            (main[i], main[k], cut[i], cut[k]) = (m[0], m[1], r[0], r[1]);
        }
        let mut rests = vec![vec![]; channels];
        for i in 0..weights.len() {
            // Alone: the pair limit on each pair; partnered: the cut bytes,
            // themselves split into exact pairs.
            let parts = if taken[i] {
                let (m, r) = split(cut[i]);
                [m, r]
            } else {
                let (m, r) = split(weights[i]);
                main[i] = m;
                [r, 0]
            };
            let (channel, index) = position(i);
            for part in parts.into_iter().filter(|&p| p != 0) {
                rests.get_mut(channel)?.push((index, part));
            }
        }
        Some(BytePairs {
            main,
            rests,
            summed: true,
        })
    }
}

/// Quads `[a, b]` cut so that, in each lane (bytes 0-1 and bytes 2-3 of
/// both), the weights of one sign add up to at most [`PAIR_LIMIT`] in
/// magnitude: the kept quads and the cut ones (`kept + cut == quad`
/// bytewise), each byte kept whole while the lane's budget allows, then
/// cut to what is left of it.
fn clip_summed(quads: [i32; 2]) -> ([i32; 2], [i32; 2]) {
    let bytes = quads.map(weights_of);
    let (mut kept, mut cut) = ([[0i8; 4]; 2], [[0i8; 4]; 2]);
    for lane in 0..2 {
        let (mut pos, mut neg) = (PAIR_LIMIT, PAIR_LIMIT);
        for q in 0..2 {
            for b in 2 * lane..2 * lane + 2 {
                let w = bytes[q][b];
                let k = if w > 0 { w.min(pos) } else { w.max(-neg) };
                if k > 0 {
                    pos -= k;
                } else {
                    neg += k;
                }
                // `k` lies between 0 and `w`: both fit in i8.
                kept[q][b] = k as i8;
                cut[q][b] = (w - k) as i8;
            }
        }
    }
    (
        [quad_of(kept[0]), quad_of(kept[1])],
        [quad_of(cut[0]), quad_of(cut[1])],
    )
}

/// One `vpmaddubsw` of a depthwise kernel that multiplies adjacent input
/// bytes (`depthwise_words_avx2`): the input bytes at `offset` (0: taps 0 and
/// 1 of a row, 2: taps 2 and 3, ..., 6: taps 6 and 7) of kernel row `row`,
/// times the pair of weights `pair` (word `w0 | w1 << 8`, broadcast to both
/// words of a dword).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WordTerm {
    pub row: usize,
    pub offset: usize,
    pub pair: i32,
}

/// A depthwise stage's weight quads as [`WordTerm`]s, per channel: every
/// pair of taps that is not zero, [`split`] first when it could saturate
/// (each term's words are then exact for inputs up to 255), padded with a
/// zero term to an even count (the kernel widens two terms' words at a
/// time: `vpunpck[lh]wd` + `vpmaddwd` by ones).
#[derive(Clone, Debug, Default)]
pub struct WordTerms {
    pub channels: Vec<Vec<WordTerm>>,
    /// The most terms of a channel.
    pub most: usize,
    /// The columns a window reads from its first pixel's: a term's pair
    /// reaches its second byte only when that byte's weight is not zero
    /// (at least 1 from [`WordTerms::plan`]).
    pub reach: usize,
}

impl WordTerms {
    /// `quads` laid out as `channels` runs of `rows` kernel rows of
    /// `per_row` quads each (quad `q` of a row: taps `4 q .. 4 q + 4`).
    pub fn plan(quads: &[i32], channels: usize, rows: usize, per_row: usize) -> WordTerms {
        let channel = |c: usize| {
            let mut terms = vec![];
            for row in 0..rows {
                for q in 0..per_row {
                    let quad = quads
                        .get((c * rows + row) * per_row + q)
                        .copied()
                        .unwrap_or(0);
                    let (main, rest) = split(quad);
                    for part in [main, rest] {
                        let b = part.to_le_bytes();
                        for half in 0..2 {
                            let word = i32::from(b[2 * half]) | i32::from(b[2 * half + 1]) << 8;
                            if word != 0 {
                                let (offset, pair) = (4 * q + 2 * half, word | word << 16);
                                terms.push(WordTerm { row, offset, pair });
                            }
                        }
                    }
                }
            }
            if terms.len() % 2 == 1 {
                terms.push(WordTerm {
                    row: 0,
                    offset: 0,
                    pair: 0,
                });
            }
            terms
        };
        let channels: Vec<Vec<WordTerm>> = (0..channels).map(channel).collect();
        let reach = (channels.iter().flatten())
            .map(|t| t.offset + if t.pair & 0xff00 != 0 { 2 } else { 1 })
            .max()
            .unwrap_or(1);
        WordTerms {
            most: channels.iter().map(Vec::len).max().unwrap_or(0),
            reach,
            channels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `vpmaddubsw`'s pair: saturated to i16.
    fn pair(x0: i32, x1: i32, w0: i32, w1: i32) -> i32 {
        (x0 * w0 + x1 * w1).clamp(-32768, 32767)
    }

    #[test]
    fn every_pair_splits_into_exact_pairs_that_add_up() {
        let mut cut = 0;
        for w0 in -128..=127i32 {
            for w1 in -128..=127i32 {
                let quad = i32::from_le_bytes([w0 as u8, w1 as u8, w1 as u8, w0 as u8]);
                let (m, r) = split(quad);
                let (mb, rb) = (m.to_le_bytes(), r.to_le_bytes());
                for k in 0..4 {
                    let sum = i32::from(mb[k] as i8) + i32::from(rb[k] as i8);
                    assert_eq!(sum, i32::from(quad.to_le_bytes()[k] as i8), "{w0} {w1}");
                }
                cut += usize::from(r != 0);
                // The extremes of each pair over inputs 0..=255 are at the
                // corners: none may saturate.
                for q in [mb, rb] {
                    for p in 0..2 {
                        let (a, c) = (i32::from(q[2 * p] as i8), i32::from(q[2 * p + 1] as i8));
                        for (x0, x1) in [(0, 255), (255, 0), (255, 255)] {
                            assert_eq!(pair(x0, x1, a, c), x0 * a + x1 * c, "{w0} {w1}");
                        }
                    }
                }
            }
        }
        // Same-sign pairs beyond the limit: a quarter of all byte pairs.
        assert!(cut > 65536 / 5 && cut < 65536 / 3, "{cut}");
    }

    #[test]
    fn small_weights_need_no_rest_and_random_bytes_are_refused() {
        let small: Vec<i32> = (0..64)
            .map(|i| i32::from_le_bytes([64, 64, 192, 192u8.wrapping_add(i as u8 % 2)]))
            .collect();
        let plan = BytePairs::plan(&small, 8, 8, MAX_REST_SHARE).expect("no rest");
        assert!(plan.rests.iter().all(Vec::is_empty));
        assert_eq!(plan.main, small);
        let big = vec![i32::from_le_bytes([100, 100, 0, 0]); 64];
        assert!(BytePairs::plan(&big, 8, 8, MAX_REST_SHARE).is_none());
        let mut some = small.clone();
        some[9] = i32::from_le_bytes([100, 100, 0, 0]);
        let plan = BytePairs::plan(&some, 8, 8, MAX_REST_SHARE).expect("one rest");
        assert_eq!(plan.rests[1], vec![(1, i32::from_le_bytes([0, 72, 0, 0]))]);
    }

    /// The extremes over inputs 0..=255 of a lane's products: the sum of
    /// its positive weights times 255, and of its negative ones.
    fn lane_extremes(weights: &[i32]) -> (i32, i32) {
        let pos: i32 = weights.iter().filter(|&&w| w > 0).sum();
        let neg: i32 = weights.iter().filter(|&&w| w < 0).sum();
        (255 * neg, 255 * pos)
    }

    #[test]
    fn summed_pairs_fit_16_bits_and_add_up_to_the_weights() {
        let mut state = 0x9e37_79b9u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        // 6 channels of 7 quads: pairs (0, 1), (2, 3), (4, 5), quad 6
        // alone; weights from small to full range.
        let (channels, per) = (6, 7);
        let weights: Vec<i32> = (0..channels * per)
            .map(|i| {
                let shift = [3, 3, 2, 1, 0, 0][i / per];
                i32::from_le_bytes(next().to_le_bytes().map(|b| ((b as i8) >> shift) as u8))
            })
            .collect();
        let partner =
            |i: usize| ((i % per).is_multiple_of(2) && i % per + 1 < per).then_some(i + 1);
        let position = |i: usize| (i / per, i % per);
        let plan = BytePairs::plan_summed_by(&weights, channels, position, partner).expect("plan");
        assert!(plan.summed);
        let mut total: Vec<[i32; 4]> = plan.main.iter().map(|&m| weights_of(m)).collect();
        for (c, rests) in plan.rests.iter().enumerate() {
            for &(index, r) in rests {
                let rb = weights_of(r);
                for pair in 0..2 {
                    let (lo, hi) = lane_extremes(&rb[2 * pair..2 * pair + 2]);
                    assert!(lo >= -32768 && hi <= 32767, "rest {r:#x}");
                }
                for (t, v) in total[c * per + index].iter_mut().zip(rb) {
                    *t += v;
                }
            }
        }
        for (i, t) in total.iter().enumerate() {
            assert_eq!(*t, weights_of(weights[i]), "quad {i}");
        }
        for i in (0..weights.len()).filter(|&i| partner(i).is_some()) {
            let (a, b) = (weights_of(plan.main[i]), weights_of(plan.main[i + 1]));
            for lane in 0..2 {
                let four = [a[2 * lane], a[2 * lane + 1], b[2 * lane], b[2 * lane + 1]];
                let (lo, hi) = lane_extremes(&four);
                assert!(
                    lo >= -32768 && hi <= 32767,
                    "pair {i} lane {lane}: {four:?}"
                );
            }
        }
        let count = |c: usize| plan.rests[c].len();
        // Small weights need no rest; full-range ones many.
        assert_eq!(count(0) + count(1), 0);
        assert!(count(4) + count(5) > 4, "{:?}", plan.rests);
        // Partners out of range or taken twice are refused.
        assert!(BytePairs::plan_summed_by(&weights, channels, position, Some).is_none());
    }

    #[test]
    fn word_terms_add_up_to_the_weights_and_never_saturate() {
        let mut state = 0x2545_f491u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        // 3 kernel rows of one quad (3x3), and of two (rows of 5 to 8 taps).
        for per_row in [1, 2] {
            let quads: Vec<i32> = (0..40 * 3 * per_row).map(|_| next() as i32).collect();
            let plan = WordTerms::plan(&quads, 40, 3, per_row);
            assert_eq!(plan.channels.len(), 40);
            for (c, terms) in plan.channels.iter().enumerate() {
                assert_eq!(terms.len() % 2, 0);
                let mut taps = [[0i32; 8]; 3];
                for t in terms {
                    assert_eq!(t.pair as u32 >> 16, t.pair as u32 & 0xFFFF);
                    let (a, b) = (
                        i32::from(t.pair as u8 as i8),
                        i32::from((t.pair >> 8) as u8 as i8),
                    );
                    taps[t.row][t.offset] += a;
                    taps[t.row][t.offset + 1] += b;
                    for (x0, x1) in [(0, 255), (255, 0), (255, 255)] {
                        assert_eq!(pair(x0, x1, a, b), x0 * a + x1 * b, "channel {c}");
                    }
                }
                for (row, taps) in taps.iter().enumerate() {
                    for q in 0..2 {
                        let quad = if q < per_row {
                            weights_of(quads[(c * 3 + row) * per_row + q])
                        } else {
                            [0; 4]
                        };
                        assert_eq!(
                            taps[4 * q..4 * q + 4],
                            quad,
                            "channel {c} row {row} quad {q}"
                        );
                    }
                }
            }
        }
        let zeros = WordTerms::plan(&[0, i32::from_le_bytes([0, 0, 7, 0])], 1, 2, 1);
        let second = WordTerms::plan(&[0, i32::from_le_bytes([0, 0, 7, 0])], 1, 1, 2);
        assert_eq!(second.channels[0][0].offset, 6);
        let pad = WordTerm {
            row: 0,
            offset: 0,
            pair: 0,
        };
        assert_eq!(
            zeros.channels[0],
            [
                WordTerm {
                    row: 1,
                    offset: 2,
                    pair: 0x0007_0007
                },
                pad
            ]
        );
    }
}
