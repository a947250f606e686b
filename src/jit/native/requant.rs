//! The requantization tail of a native stage: which elementwise chains a
//! kernel computes exactly, and the constants it needs.

use crate::ir::{CastOverflow, Elementwise, NodeId, Op, Program, Rounding, Shape};
use crate::numeric::code_bounds;
use crate::types::{Overflow, Quant};

/// How `trunc`, `floor`, `round`, `>>` and `as` drop bits: the bias added
/// before an arithmetic shift right by `shift` (see `docs/semantics.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bias {
    /// Floor (`AP_TRN`, `floor`, `>>`).
    None,
    /// `2^shift - 1` on negative values: toward zero (`AP_TRN_ZERO`, `trunc`).
    TowardZero,
    /// `2^(shift-1)`: ties toward +inf (`AP_RND`).
    Half,
    /// `2^(shift-1) - 1`: ties toward -inf (`AP_RND_MIN_INF`).
    HalfDown,
    /// Ties toward zero (`AP_RND_ZERO`): `Half` on negative values, `HalfDown` otherwise.
    HalfTowardZero,
    /// Ties away from zero (`AP_RND_INF`, `round`): `HalfDown` on negative values.
    HalfAway,
    /// Ties to the even result (`AP_RND_CONV`): `HalfDown` plus bit `shift`.
    HalfEven,
}

impl Bias {
    fn of(q: Quant) -> Bias {
        match q {
            Quant::Trn => Bias::None,
            Quant::TrnZero => Bias::TowardZero,
            Quant::Rnd => Bias::Half,
            Quant::RndZero => Bias::HalfTowardZero,
            Quant::RndInf => Bias::HalfAway,
            Quant::RndMinInf => Bias::HalfDown,
            Quant::RndConv => Bias::HalfEven,
        }
    }

    /// The same rounding of values known not to be negative: the forms
    /// that treat signs apart round as their non-negative half does
    /// (`as u8` after a `relu` truncates toward zero, which there is the
    /// floor a shift before it can merge with, `set_shift`).
    fn non_negative(self) -> Bias {
        match self {
            Bias::TowardZero => Bias::None,
            Bias::HalfTowardZero => Bias::HalfDown,
            Bias::HalfAway => Bias::Half,
            other => other,
        }
    }

    fn of_rounding(r: Rounding) -> Bias {
        match r {
            Rounding::Floor => Bias::None,
            Rounding::Round => Bias::HalfAway,
            Rounding::Trunc => Bias::TowardZero,
        }
    }

    /// The bias added before a shift right by `shift` to a product `>= 0`,
    /// and what a negative product adds on top of it (the sign-dependent
    /// roundings' other side); both 0 without a shift. `None` for
    /// `HalfEven`, whose bias depends on bit `shift` of the product.
    pub(crate) fn sides(self, shift: u32) -> Option<(i128, i128)> {
        if shift == 0 {
            return (self != Bias::HalfEven).then_some((0, 0));
        }
        let half = 1i128 << (shift - 1);
        Some(match self {
            Bias::None => (0, 0),
            Bias::Half => (half, 0),
            Bias::HalfDown => (half - 1, 0),
            Bias::TowardZero => (0, 2 * half - 1),
            Bias::HalfAway => (half, -1),
            Bias::HalfTowardZero => (half - 1, 1),
            Bias::HalfEven => return None,
        })
    }
}

/// The tail every native stage computes from the 32-bit accumulator `acc` of
/// output channel `c`, exactly as the IR chain it replaces:
///
/// ```text
/// v = clamp(acc + pre[c], lo1, hi1)                       32-bit lanes
/// q = (v * m + bias) >> shift                             64-bit lanes
///     m = neg[c] if v < 0 and the tail has `neg`, else mul[c]
/// r = clamp(q + post[c], lo2, hi2)                        32-bit lanes
/// out = low bits of clamp(r + (res << align), lo3, hi3)   with a residual map `res`
/// out = low bits of r                                     without, at the store width
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Requant {
    pub pre: Vec<i32>,
    pub lo1: i32,
    pub hi1: i32,
    /// `None`: no product and no shift (`q = v`).
    pub scale: Option<Scale>,
    pub post: Vec<i32>,
    pub lo2: i32,
    pub hi2: i32,
    /// A map of the output's shape added after the second clamp (a
    /// residual connection), then the third clamp.
    pub residual: Option<Residual>,
    pub lo3: i32,
    pub hi3: i32,
    /// What the kernels' tails derive from these constants, made once.
    pub derived: Derived,
}

/// Constants a kernel derives from a tail (the AVX-512 tail's per-channel
/// factors and folded forms, `machine::tail_avx512`; the AVX2 tail's
/// folded forms, `machine::tail_avx2`), made by the first job of the stage
/// that needs them and shared by the others: made per job, they cost a few
/// microseconds of each job of a stage of many channels cut into many
/// jobs (and 10% of a pointwise 160 -> 960 on 7 x 7). Not part of the
/// tail's value: a clone starts empty, and all compare equal. One slot per
/// tail module, each storing one type.
#[derive(Default)]
pub(crate) struct Derived([std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>>; 2]);

/// Whose constants a [`Derived`] slot holds.
#[derive(Clone, Copy)]
pub(crate) enum DerivedBy {
    Avx512Tail = 0,
    Avx2Tail = 1,
}

impl Derived {
    /// The value `make` makes, made on the first call for `slot`; `None`
    /// if a value of another type is stored there.
    pub(crate) fn get_or_make<T: std::any::Any + Send + Sync>(
        &self,
        slot: DerivedBy,
        make: impl FnOnce() -> T,
    ) -> Option<&T> {
        self.0[slot as usize]
            .get_or_init(|| Box::new(make()))
            .downcast_ref()
    }
}

impl Clone for Derived {
    fn clone(&self) -> Derived {
        Derived::default()
    }
}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Derived")
    }
}

impl PartialEq for Derived {
    fn eq(&self, _: &Derived) -> bool {
        true
    }
}

impl Eq for Derived {}

/// The residual operand of a tail: node `node` (a map of the output's
/// shape, one byte per value), shifted left by `align` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Residual {
    pub node: NodeId,
    pub align: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scale {
    pub mul: Vec<i32>,
    /// The factor of negative values, when it differs from `mul` (a
    /// PReLU's sign split, `match_tail_split`); `None` for every tail the
    /// row kernels and the AVX2 tails see.
    pub neg: Option<Vec<i32>>,
    pub shift: u32,
    pub bias: Bias,
    /// No product (`mul` all 1) and `v + bias` within 32 bits: the shift
    /// runs on 32-bit lanes.
    pub narrow: bool,
}

/// Positions of the tail's steps, in the order they apply.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Start,
    Pre,
    Clamp1,
    Mul,
    Shift,
    Post,
    Clamp2,
    Residual,
    Clamp3,
}

fn fits_i32(lo: i128, hi: i128) -> bool {
    lo >= i128::from(i32::MIN) && hi <= i128::from(i32::MAX)
}

/// The constant operand of a binary node whose other operand is `chain`,
/// one raw value per output channel, shifted left by `align` bits.
fn per_channel(program: &Program, other: NodeId, channels: usize, align: u32) -> Option<Vec<i128>> {
    let Op::Constant { data } = &program.nodes[other].op else {
        return None;
    };
    let values: Vec<i128> = match program.nodes[other].shape {
        Shape::Scalar => vec![*data.first()?; channels],
        Shape::Vector(n) if n == channels && data.len() == n => data.clone(),
        _ => return None,
    };
    if align > 32 {
        return None;
    }
    values
        .into_iter()
        .map(|v| v.checked_mul(1i128 << align))
        .collect()
}

fn to_i32(values: &[i128]) -> Option<Vec<i32>> {
    values.iter().map(|&v| i32::try_from(v).ok()).collect()
}

/// Matches the elementwise chain from the core `k` up to `root` against
/// [`Requant`]; `None` when a step does not fit its slots or a value could
/// leave its lane width.
pub(super) fn match_tail(
    program: &Program,
    root: NodeId,
    k: NodeId,
    channels: usize,
) -> Option<Requant> {
    match_chain(program, root, k, channels, false)
}

/// [`match_tail`], also accepting one sign split (a PReLU, [`sign_split`])
/// as the tail's product: `Scale::neg` may be set. Only for the AVX-512
/// kernels' tail (`machine::tail_avx512`).
pub(super) fn match_tail_split(
    program: &Program,
    root: NodeId,
    k: NodeId,
    channels: usize,
) -> Option<Requant> {
    match_chain(program, root, k, channels, true)
}

fn match_chain(
    program: &Program,
    root: NodeId,
    k: NodeId,
    channels: usize,
    allow_split: bool,
) -> Option<Requant> {
    // The chain, bottom-up: each node's operand on the chain is the one below.
    let mut chain = vec![root];
    // The sign split's node and its factors, when the chain has one.
    let mut split: Option<(NodeId, Split)> = None;
    while *chain.last()? != k {
        let n = *chain.last()?;
        let below = match &program.nodes[n].op {
            Op::Relu(a) | Op::Round(a, _) | Op::Shr(a, _) => *a,
            Op::Cast { x, .. } => *x,
            Op::Binary(_, a, b) => {
                let on = |m: NodeId| m == k || chain_reaches(program, m, k);
                match (on(*a), on(*b)) {
                    (true, false) => *a,
                    (false, true) => *b,
                    (true, true) if allow_split && split.is_none() => {
                        let s = sign_split(program, n, channels)?;
                        let x = s.x;
                        split = Some((n, s));
                        x
                    }
                    _ => return None,
                }
            }
            _ => return None,
        };
        chain.push(below);
    }
    chain.reverse();
    let mut slot = Slot::Start;
    let mut pre = vec![0i128; channels];
    let mut post = vec![0i128; channels];
    // The bounds of the clamp before the product, then after the post-add.
    let mut clamps = [(i128::from(i32::MIN), i128::from(i32::MAX)); 3];
    let mut residual = None;
    let mut mul: Option<Vec<i128>> = None;
    let mut neg: Option<Vec<i128>> = None;
    let mut shift: Option<(u32, Bias)> = None;
    // Offsets added to the product before its shift (`fold_mid`), and
    // whether every sum they make fits 32 bits (when no shift follows).
    let mut mid: Option<Vec<i128>> = None;
    let mut mid_fits = true;
    let mut product = crate::ir::Interval::point(0);
    let mut shift_input = crate::ir::Interval::point(0);
    let mut frac = program.nodes[k].frac;
    for pair in chain.windows(2) {
        let (below, n) = (pair[0], pair[1]);
        let node = &program.nodes[n];
        let r = node.range();
        if let Some((_, sp)) = split.as_ref().filter(|(at, _)| *at == n) {
            // `x >= 0 ? x * pos : x * neg`, `x` the value after the first
            // clamp: the tail's product with a factor per sign.
            if slot > Slot::Mul || mul.is_some() {
                return None;
            }
            slot = Slot::Mul;
            mul = Some(sp.pos.clone());
            neg = Some(sp.neg.clone());
            product = r;
            frac = node.frac;
            continue;
        }
        match &node.op {
            Op::Relu(_) => clamp_at(&mut slot, (0, i128::MAX), &mut clamps),
            Op::Binary(op, a, b) => {
                let other = if *a == below { *b } else { *a };
                if frac != node.frac && *op != Elementwise::Mul {
                    return None;
                }
                let other_frac = program.nodes[other].frac;
                let constant = matches!(program.nodes[other].op, Op::Constant { .. });
                if !constant {
                    // A residual map: added once, after the second clamp.
                    let same = program.nodes[other].shape == program.nodes[root].shape;
                    if *op != Elementwise::Add || !same || slot > Slot::Clamp2 {
                        return None;
                    }
                    let align = node.frac.checked_sub(other_frac)?;
                    if align > 16 {
                        return None;
                    }
                    slot = Slot::Residual;
                    residual = Some(Residual { node: other, align });
                    let r = program.nodes[n].range();
                    if !fits_i32(r.lo, r.hi) {
                        return None;
                    }
                    continue;
                }
                match op {
                    Elementwise::Add | Elementwise::Sub => {
                        if *op == Elementwise::Sub && *a != below {
                            return None;
                        }
                        let mut v = per_channel(
                            program,
                            other,
                            channels,
                            node.frac.checked_sub(other_frac)?,
                        )?;
                        if *op == Elementwise::Sub {
                            v.iter_mut().for_each(|x| *x = -*x);
                        }
                        if slot == Slot::Mul && shift.is_none() {
                            // Added to the product before the shift (a zero
                            // point, `(acc * m + 128) as u8`): folded into
                            // `post` by the shift (`fold_mid`).
                            let m = mid.get_or_insert_with(|| vec![0; channels]);
                            for (t, x) in m.iter_mut().zip(v) {
                                *t += x;
                            }
                            mid_fits &= fits_i32(r.lo, r.hi);
                            continue;
                        }
                        let target = if slot <= Slot::Pre {
                            slot = Slot::Pre;
                            &mut pre
                        } else if slot <= Slot::Post {
                            slot = Slot::Post;
                            &mut post
                        } else {
                            return None;
                        };
                        for (t, x) in target.iter_mut().zip(v) {
                            *t += x;
                        }
                    }
                    Elementwise::Max | Elementwise::Min => {
                        let v = per_channel(
                            program,
                            other,
                            channels,
                            node.frac.checked_sub(other_frac)?,
                        )?;
                        if v.iter().any(|&x| x != v[0]) {
                            return None;
                        }
                        let bound = if *op == Elementwise::Max {
                            (v[0], i128::MAX)
                        } else {
                            (i128::MIN, v[0])
                        };
                        clamp_at(&mut slot, bound, &mut clamps);
                    }
                    Elementwise::Mul => {
                        // Consecutive factors multiply into one.
                        if slot > Slot::Mul || (mul.is_some() && slot != Slot::Mul) || mid.is_some()
                        {
                            return None;
                        }
                        slot = Slot::Mul;
                        let f = per_channel(program, other, channels, 0)?;
                        let times = |m: Option<Vec<i128>>| -> Option<Vec<i128>> {
                            match m {
                                None => Some(f.clone()),
                                Some(m) => {
                                    m.iter().zip(&f).map(|(a, b)| a.checked_mul(*b)).collect()
                                }
                            }
                        };
                        mul = Some(times(mul.take())?);
                        if let Some(n) = neg.take() {
                            neg = Some(times(Some(n))?);
                        }
                        product = r;
                        frac = node.frac;
                    }
                }
            }
            Op::Round(_, rounding) => {
                let on = (program.nodes[below].range(), &mut shift_input);
                set_shift(
                    &mut slot,
                    &mut shift,
                    (frac, Bias::of_rounding(*rounding)),
                    on,
                    &post,
                )?;
                fold_mid(&mut mid, &mut post, shift?, product)?;
                frac = 0;
            }
            Op::Shr(_, s) => {
                let on = (program.nodes[below].range(), &mut shift_input);
                set_shift(&mut slot, &mut shift, (*s, Bias::None), on, &post)?;
                fold_mid(&mut mid, &mut post, shift?, product)?;
            }
            Op::Cast {
                to,
                quant,
                overflow,
                ..
            } => {
                if to.frac_bits() < 0 {
                    return None;
                }
                if n != root {
                    // Inside the chain: only a clamp (no bits dropped, no wrap).
                    let (cl, ch) = code_bounds(to.signed, to.width);
                    let bounds = match overflow {
                        _ if to.frac_bits() as u32 != frac => return None,
                        CastOverflow::Proven => (i128::MIN, i128::MAX),
                        CastOverflow::Mode(Overflow::Sat) => (cl, ch),
                        CastOverflow::Mode(Overflow::SatSym) if to.signed => (cl + 1, ch),
                        CastOverflow::Mode(Overflow::SatSym) => (cl, ch),
                        CastOverflow::Mode(_) => return None,
                    };
                    clamp_at(&mut slot, bounds, &mut clamps);
                    continue;
                }
                let s = frac.checked_sub(to.frac_bits() as u32)?;
                if s > 0 {
                    let on = (program.nodes[below].range(), &mut shift_input);
                    set_shift(&mut slot, &mut shift, (s, Bias::of(*quant)), on, &post)?;
                    fold_mid(&mut mid, &mut post, shift?, product)?;
                    // The rounded value before the overflow step, within 32 bits.
                    let below_range = program.nodes[below].range();
                    let (qa, qb) = ((below_range.lo >> s) - 1, (below_range.hi >> s) + 1);
                    if !fits_i32(qa, qb) {
                        return None;
                    }
                }
                let (cl, ch) = code_bounds(to.signed, to.width);
                match overflow {
                    CastOverflow::Proven => {}
                    CastOverflow::Mode(Overflow::Sat) => clamp_at(&mut slot, (cl, ch), &mut clamps),
                    CastOverflow::Mode(Overflow::SatSym) => {
                        let low = if to.signed { cl + 1 } else { cl };
                        clamp_at(&mut slot, (low, ch), &mut clamps)
                    }
                    // The store keeps the low 8 bits, which is the wrap to an 8-bit type.
                    // When the value is proven within the type's range the wrap is
                    // the identity, and so is a clamp to that range: the clamp lets
                    // the kernels narrow by saturating packs.
                    CastOverflow::Mode(Overflow::Wrap) if to.width == 8 => {
                        let below_range = program.nodes[below].range();
                        let (lo, hi) = if s > 0 {
                            ((below_range.lo >> s) - 1, (below_range.hi >> s) + 1)
                        } else {
                            (below_range.lo, below_range.hi)
                        };
                        if cl <= lo && hi <= ch {
                            clamp_at(&mut slot, (cl, ch), &mut clamps);
                        }
                    }
                    CastOverflow::Mode(_) => return None,
                }
                frac = to.frac_bits() as u32;
                continue;
            }
            _ => return None,
        }
        if node.frac != frac && !matches!(node.op, Op::Round(..)) {
            return None;
        }
        // Every value outside the 64-bit product stays within 32 bits.
        let in_product = matches!(node.op, Op::Binary(Elementwise::Mul, ..));
        if !in_product && !fits_i32(r.lo, r.hi) {
            return None;
        }
    }
    if let Some(m) = mid {
        // No shift: the offsets are the post-add, their sums within 32 bits.
        if !mid_fits {
            return None;
        }
        for (p, k) in post.iter_mut().zip(m) {
            *p += k;
        }
    }
    let clamp32 = |v: i128| v.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32;
    let scale = match (mul, shift) {
        (None, None) => None,
        (m, s) => {
            let (shift, bias) = s.unwrap_or((0, Bias::None));
            // Without a shift the product itself goes back to 32-bit lanes.
            if shift == 0 && !fits_i32(product.lo, product.hi) {
                return None;
            }
            let bias = if shift == 0 { Bias::None } else { bias };
            let narrow = m.is_none()
                && (1..31).contains(&shift)
                && fits_i32(shift_input.lo - (1 << shift), shift_input.hi + (1 << shift));
            let m = m.unwrap_or_else(|| vec![1; channels]);
            if shift > 62 {
                return None;
            }
            let neg = match neg {
                Some(n) => Some(to_i32(&n)?),
                None => None,
            };
            Some(Scale {
                mul: to_i32(&m)?,
                neg,
                shift,
                bias,
                narrow,
            })
        }
    };
    // Clamps commute only while their bounds do not cross.
    let [(lo1, hi1), (lo2, hi2), (lo3, hi3)] = clamps;
    if lo1 > hi1 || lo2 > hi2 || lo3 > hi3 || pre.iter().chain(&post).any(|&v| !fits_i32(v, v)) {
        return None;
    }
    Some(Requant {
        pre: to_i32(&pre)?,
        lo1: clamp32(lo1),
        hi1: clamp32(hi1),
        scale,
        post: to_i32(&post)?,
        lo2: clamp32(lo2),
        hi2: clamp32(hi2),
        residual,
        lo3: clamp32(lo3),
        hi3: clamp32(hi3),
        derived: Derived::default(),
    })
}

/// A PReLU's sign split at node `s`: `s = max(x, 0) * a + min(x, 0) * b`
/// (each factor an optional per-channel constant; `relu(x)` for the max,
/// operands in either order), that is `x * pos[c]` for `x >= 0` and `x *
/// neg[c]` below, in `s`'s raw units (the operands' alignments folded into
/// the factors).
struct Split {
    x: NodeId,
    pos: Vec<i128>,
    neg: Vec<i128>,
}

fn sign_split(program: &Program, s: NodeId, channels: usize) -> Option<Split> {
    let Op::Binary(Elementwise::Add, a, b) = program.nodes[s].op else {
        return None;
    };
    let sf = program.nodes[s].frac;
    let (xa, pos_a, fa) = split_side(program, a, channels)?;
    let (xb, pos_b, fb) = split_side(program, b, channels)?;
    if xa != xb || pos_a == pos_b {
        return None;
    }
    let align = |n: NodeId, f: Vec<i128>| -> Option<Vec<i128>> {
        let up = sf.checked_sub(program.nodes[n].frac)?;
        if up > 32 {
            return None;
        }
        f.into_iter().map(|v| v.checked_mul(1i128 << up)).collect()
    };
    let (fa, fb) = (align(a, fa)?, align(b, fb)?);
    let (pos, neg) = if pos_a { (fa, fb) } else { (fb, fa) };
    Some(Split { x: xa, pos, neg })
}

/// One side of a sign split: `(x, true, f)` for `max(x, 0) * f` (or
/// `relu(x) * f`), `(x, false, f)` for `min(x, 0) * f`, `f` per channel in
/// the side's raw units per raw unit of `x`.
fn split_side(program: &Program, n: NodeId, channels: usize) -> Option<(NodeId, bool, Vec<i128>)> {
    let node = &program.nodes[n];
    let zero = |m: NodeId| match &program.nodes[m].op {
        Op::Constant { data } => data.iter().all(|&v| v == 0),
        _ => false,
    };
    let clipped = |x: NodeId, pos: bool| {
        let up = node.frac.checked_sub(program.nodes[x].frac)?;
        (up <= 32).then(|| (x, pos, vec![1i128 << up; channels]))
    };
    match &node.op {
        Op::Relu(x) => clipped(*x, true),
        Op::Binary(op @ (Elementwise::Max | Elementwise::Min), a, b) => {
            let pos = *op == Elementwise::Max;
            match (zero(*a), zero(*b)) {
                (false, true) => clipped(*a, pos),
                (true, false) => clipped(*b, pos),
                _ => None,
            }
        }
        Op::Binary(Elementwise::Mul, a, b) => {
            let constant = |m: NodeId| matches!(program.nodes[m].op, Op::Constant { .. });
            let (inner, c) = match (constant(*a), constant(*b)) {
                (false, true) => (*a, *b),
                (true, false) => (*b, *a),
                _ => return None,
            };
            if matches!(program.nodes[inner].op, Op::Binary(Elementwise::Mul, ..)) {
                return None;
            }
            let (x, pos, f) = split_side(program, inner, channels)?;
            let k = per_channel(program, c, channels, 0)?;
            let f = f
                .iter()
                .zip(&k)
                .map(|(u, v)| u.checked_mul(*v))
                .collect::<Option<_>>()?;
            Some((x, pos, f))
        }
        _ => None,
    }
}

/// Whether `n` reads (transitively, through elementwise nodes) node `k`.
fn chain_reaches(program: &Program, n: NodeId, k: NodeId) -> bool {
    if n == k {
        return true;
    }
    match &program.nodes[n].op {
        Op::Relu(a) | Op::Round(a, _) | Op::Shr(a, _) | Op::Neg(a) | Op::Shl(a, _) => {
            chain_reaches(program, *a, k)
        }
        Op::Cast { x, .. } => chain_reaches(program, *x, k),
        Op::Binary(_, a, b) => chain_reaches(program, *a, k) || chain_reaches(program, *b, k),
        _ => false,
    }
}

/// Folds the offsets `mid` (per channel, in the product's units) that the
/// chain adds to the product before its shift right by `s` with rounding
/// `bias` into `post`: `round((p + k) / 2^s) = round(p / 2^s) + k / 2^s`
/// when `k` is a multiple of `2^s` and the rounding commutes with adding
/// integers (floor, ties up or down; ties to even only for even `k /
/// 2^s`, not the roundings that look at the sign). The kernels then
/// compute `(p + bias) >> s` from the product `p` alone, which must stay
/// within 32 bits.
fn fold_mid(
    mid: &mut Option<Vec<i128>>,
    post: &mut [i128],
    (s, bias): (u32, Bias),
    product: crate::ir::Interval,
) -> Option<()> {
    let Some(m) = mid.take() else {
        return Some(());
    };
    if s > 62 {
        return None;
    }
    let step = match bias {
        _ if s == 0 => 1,
        Bias::None | Bias::Half | Bias::HalfDown => 1i128 << s,
        Bias::HalfEven => 2i128 << s,
        _ => return None,
    };
    if m.iter().any(|k| k % step != 0) || !fits_i32((product.lo >> s) - 1, (product.hi >> s) + 1) {
        return None;
    }
    for (p, k) in post.iter_mut().zip(m) {
        *p += k >> s;
    }
    Some(())
}

/// Sets the tail's shift to `s` with `bias`, on values in `range` (the
/// first shift's are `shift_input`); `post` is the post-add so far.
fn set_shift(
    slot: &mut Slot,
    shift: &mut Option<(u32, Bias)>,
    (s, bias): (u32, Bias),
    (range, shift_input): (crate::ir::Interval, &mut crate::ir::Interval),
    post: &[i128],
) -> Option<()> {
    let bias = if range.lo >= 0 {
        bias.non_negative()
    } else {
        bias
    };
    if shift.is_none() {
        *shift_input = range;
    }
    // A floor shift followed directly by another (`(acc >> 12) as u8` on
    // a value with fraction bits: the cast drops them) is one shift by
    // both, exactly when the second floors or rounds half up:
    // `floor((floor(x / 2^a) + 2^(b-1)) / 2^b) = floor((x + 2^(a+b-1)) /
    // 2^(a+b))`. (Other roundings of a floored value differ: toward zero,
    // `trunc(floor(-3 / 2) / 2) = -1` but `trunc(-3 / 4) = 0`.) Not when
    // an offset before the first was folded into `post` (`fold_mid`): it
    // is in the first shift's units.
    if let (Slot::Shift, Some((a, Bias::None)), Bias::None | Bias::Half) = (*slot, *shift, bias) {
        if post.iter().any(|&p| p != 0) {
            return None;
        }
        *shift = Some((a + s, bias));
        return Some(());
    }
    if *slot > Slot::Shift || shift.is_some() {
        return None;
    }
    *slot = Slot::Shift;
    *shift = Some((s, bias));
    Some(())
}

/// Narrows the first clamp (before the product), the second (after the
/// post-add) or the third (after a residual), whichever the chain has reached.
fn clamp_at(slot: &mut Slot, (lo, hi): (i128, i128), clamps: &mut [(i128, i128); 3]) {
    let k = if *slot <= Slot::Clamp1 {
        *slot = Slot::Clamp1;
        0
    } else if *slot <= Slot::Clamp2 {
        *slot = Slot::Clamp2;
        1
    } else {
        *slot = Slot::Clamp3;
        2
    };
    clamps[k] = (clamps[k].0.max(lo), clamps[k].1.min(hi));
}
