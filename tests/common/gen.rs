//! Random, valid Convoy programs for differential tests (JIT, HLS C++ and the
//! interpreter must agree on them) and for the checker's soundness test.
//!
//! Each program has one pipeline `g` with one or two inputs, a chain of
//! stages whose geometry is valid by construction, requantization casts with
//! random modes, and one to three outputs. Parameters use `random(seed: ...)`,
//! so a program is self-contained text.
#![allow(dead_code)]

/// A tiny deterministic generator (SplitMix64), independent of the crate's.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

pub const QUANT: [&str; 7] = [
    "trn",
    "trn_zero",
    "rnd",
    "rnd_zero",
    "rnd_inf",
    "rnd_min_inf",
    "rnd_conv",
];
const OVERFLOW: [&str; 4] = ["wrap", "sat", "sat_zero", "sat_sym"];

#[derive(Clone, Copy)]
struct Map {
    c: i64,
    h: i64,
    w: i64,
}

struct Gen {
    rng: Rng,
    lines: Vec<String>,
    params: usize,
    names: usize,
}

impl Gen {
    fn param(&mut self, ty: &str, dims: &[i64]) -> String {
        self.params += 1;
        let name = format!("p{}", self.params);
        let dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
        let seed = self.rng.range(0, 1_000_000);
        self.lines.push(format!(
            "  param {name}: {ty}[{}] = random(seed: {seed})",
            dims.join(", ")
        ));
        name
    }

    fn name(&mut self) -> String {
        self.names += 1;
        format!("t{}", self.names)
    }

    /// A narrow integer or fixed type for requantized values; now and then a
    /// wide one (up to 48 bits), so that later stages need 64- and 128-bit
    /// machine arithmetic.
    fn requant_target(&mut self) -> String {
        if self.rng.chance(10) {
            let signed = self.rng.chance(50);
            let w = self.rng.range(24, 48);
            return if self.rng.chance(50) {
                format!("{}{w} wrap", if signed { "i" } else { "u" })
            } else {
                let i = self.rng.range(w / 2, w);
                let q = *self.rng.pick(&QUANT);
                let o = *self.rng.pick(&OVERFLOW);
                format!("{}fixed<{w}, {i}, {q}, {o}>", if signed { "" } else { "u" })
            };
        }
        if self.rng.chance(60) {
            let signed = self.rng.chance(50);
            let bits = self.rng.range(2, 12);
            let mode = *self.rng.pick(&["sat", "wrap"]);
            format!("{}{bits} {mode}", if signed { "i" } else { "u" })
        } else {
            let signed = self.rng.chance(60);
            let w = self.rng.range(3, 16);
            let i = self.rng.range(-2, w + 2);
            let q = *self.rng.pick(&QUANT);
            let o = *self.rng.pick(&OVERFLOW);
            format!("{}fixed<{w}, {i}, {q}, {o}>", if signed { "" } else { "u" })
        }
    }

    /// Brings any value back to a narrow type: a shift or scale, then a cast.
    fn requant(&mut self, x: &str) -> String {
        let target = self.requant_target();
        let y = self.name();
        let expr = match self.rng.range(0, 4) {
            0 => format!("{x} >> {} as {target}", self.rng.range(0, 8)),
            1 => {
                let w = self.rng.range(8, 20);
                let seed = self.rng.range(1, 999);
                self.lines
                    .push(format!("  const k{y}: fixed<{w}, 1> = 0.{seed:03}"));
                format!("{x} * k{y} as {target}")
            }
            2 => format!(
                "{}({x} * 0.375) as {target}",
                self.rng.pick(&["floor", "round", "trunc"])
            ),
            3 => format!("relu({x}) >> {} as {target}", self.rng.range(0, 6)),
            _ => format!("clip({x}, -100, 100) as {target}"),
        };
        self.lines.push(format!("  let {y} = {expr}"));
        y
    }

    fn conv(&mut self, x: &str, m: Map) -> Option<(String, Map)> {
        let kh = self.rng.range(1, 4.min(m.h + 2));
        let kw = self.rng.range(1, 4.min(m.w + 2));
        let (sh, sw) = (self.rng.range(1, 3), self.rng.range(1, 3));
        let (dh, dw) = (self.rng.range(1, 2), self.rng.range(1, 2));
        let pads = [
            self.rng.range(0, 2),
            self.rng.range(0, 2),
            self.rng.range(0, 2),
            self.rng.range(0, 2),
        ];
        let eh = dh * (kh - 1) + 1;
        let ew = dw * (kw - 1) + 1;
        if eh > m.h + pads[0] + pads[1] || ew > m.w + pads[2] + pads[3] {
            return None;
        }
        let depthwise = self.rng.chance(30);
        let divisors: Vec<i64> = (1..=m.c).filter(|g| m.c % g == 0).collect();
        let groups = if depthwise {
            m.c
        } else {
            *self.rng.pick(&divisors)
        };
        let cout = if depthwise {
            m.c
        } else {
            groups * self.rng.range(1, (6 / groups).max(1))
        };
        let wt = *self.rng.pick(&["i8", "i4", "u3", "i6"]);
        let w = self.param(wt, &[cout, m.c / groups, kh, kw]);
        let y = self.name();
        let call = if depthwise { "dwconv" } else { "conv" };
        let groups_arg = if depthwise {
            String::new()
        } else {
            format!(", groups: {groups}")
        };
        self.lines.push(format!(
            "  let {y} = {call}({x}, {w}, stride: ({sh}, {sw}), pad: ({}, {}, {}, {}), dilation: ({dh}, {dw}){groups_arg})",
            pads[0], pads[1], pads[2], pads[3]
        ));
        let out = Map {
            c: cout,
            h: (m.h + pads[0] + pads[1] - eh) / sh + 1,
            w: (m.w + pads[2] + pads[3] - ew) / sw + 1,
        };
        Some((y, out))
    }

    fn deconv(&mut self, x: &str, m: Map) -> Option<(String, Map)> {
        let (kh, kw) = (self.rng.range(1, 4), self.rng.range(1, 4));
        let (sh, sw) = (self.rng.range(1, 3), self.rng.range(1, 3));
        let (dh, dw) = (self.rng.range(1, 2), self.rng.range(1, 2));
        let pads = [
            self.rng.range(0, 2),
            self.rng.range(0, 2),
            self.rng.range(0, 2),
            self.rng.range(0, 2),
        ];
        let oph = self.rng.range(0, (sh.max(dh) - 1).max(0));
        let opw = self.rng.range(0, (sw.max(dw) - 1).max(0));
        let oh = (m.h - 1) * sh - pads[0] - pads[1] + dh * (kh - 1) + 1 + oph;
        let ow = (m.w - 1) * sw - pads[2] - pads[3] + dw * (kw - 1) + 1 + opw;
        if oh < 1 || ow < 1 || oh > 40 || ow > 40 {
            return None;
        }
        let depthwise = self.rng.chance(40);
        let divisors: Vec<i64> = (1..=m.c).filter(|g| m.c % g == 0).collect();
        let groups = if depthwise {
            m.c
        } else {
            *self.rng.pick(&divisors)
        };
        let per_group = if depthwise {
            1
        } else {
            self.rng.range(1, (6 / groups).max(1))
        };
        let wt = *self.rng.pick(&["i8", "i5", "u4"]);
        let w = self.param(wt, &[m.c, per_group, kh, kw]);
        let y = self.name();
        let call = if depthwise { "dwdeconv" } else { "deconv" };
        let groups_arg = if depthwise {
            String::new()
        } else {
            format!(", groups: {groups}")
        };
        self.lines.push(format!(
            "  let {y} = {call}({x}, {w}, stride: ({sh}, {sw}), pad: ({}, {}, {}, {}), output_pad: ({oph}, {opw}), dilation: ({dh}, {dw}){groups_arg})",
            pads[0], pads[1], pads[2], pads[3]
        ));
        Some((
            y,
            Map {
                c: per_group * groups,
                h: oh,
                w: ow,
            },
        ))
    }

    fn pool(&mut self, x: &str, m: Map) -> Option<(String, Map)> {
        let (kh, kw) = (self.rng.range(1, 3), self.rng.range(1, 3));
        let (sh, sw) = (self.rng.range(1, 3), self.rng.range(1, 3));
        let pads = [
            self.rng.range(0, kh - 1),
            self.rng.range(0, kh - 1),
            self.rng.range(0, kw - 1),
            self.rng.range(0, kw - 1),
        ];
        if kh > m.h + pads[0] + pads[1] || kw > m.w + pads[2] + pads[3] {
            return None;
        }
        let oh = (m.h + pads[0] + pads[1] - kh) / sh + 1;
        let ow = (m.w + pads[2] + pads[3] - kw) / sw + 1;
        let args = format!(
            "({kh}, {kw}), stride: ({sh}, {sw}), pad: ({}, {}, {}, {})",
            pads[0], pads[1], pads[2], pads[3]
        );
        let y = self.name();
        // Unpool only where it restores the pooled plane exactly.
        let restores = (oh - 1) * sh - pads[0] - pads[1] + kh == m.h
            && (ow - 1) * sw - pads[2] - pads[3] + kw == m.w;
        if restores && self.rng.chance(60) {
            let i = self.name();
            let u = self.name();
            self.lines.push(format!(
                "  let ({y}, {i}) = maxpool({x}, {args}, indices: true)"
            ));
            self.lines
                .push(format!("  let {u} = maxunpool({y}, {i}, {args})"));
            return Some((u, m));
        }
        self.lines.push(format!("  let {y} = maxpool({x}, {args})"));
        Some((
            y,
            Map {
                c: m.c,
                h: oh,
                w: ow,
            },
        ))
    }

    fn upsample(&mut self, x: &str, m: Map) -> Option<(String, Map)> {
        let y = self.name();
        let (fh, fw) = if self.rng.chance(50) {
            let f = (*self.rng.pick(&[1, 2, 4]), *self.rng.pick(&[1, 2]));
            self.lines.push(format!(
                "  let {y} = upsample({x}, ({}, {}), bilinear)",
                f.0, f.1
            ));
            f
        } else {
            let f = (self.rng.range(1, 3), self.rng.range(1, 3));
            self.lines.push(format!(
                "  let {y} = {x} |> upsample(({}, {}), nearest)",
                f.0, f.1
            ));
            f
        };
        if m.h * fh > 40 || m.w * fw > 40 {
            return None;
        }
        Some((
            y,
            Map {
                c: m.c,
                h: m.h * fh,
                w: m.w * fw,
            },
        ))
    }

    fn elementwise(&mut self, x: &str, m: Map, other: Option<(&str, Map)>) -> (String, Map) {
        let y = self.name();
        match self.rng.range(0, 6) {
            5 => {
                // A lookup table on a narrow value (|x| <= 16), into a random type.
                let signed = self.rng.chance(60);
                let w = self.rng.range(3, 9);
                let i = self.rng.range(-1, 5.min(w + 1));
                let q = *self.rng.pick(&QUANT);
                let o = *self.rng.pick(&OVERFLOW);
                let u = if signed { "" } else { "u" };
                let narrow = format!("{x} as {u}fixed<{w}, {i}, {q}, sat>");
                let f = *self.rng.pick(&[
                    "sigmoid",
                    "tanh",
                    "exp",
                    "log",
                    "sqrt",
                    "reciprocal",
                    "softplus",
                    "gelu",
                    "silu",
                ]);
                let arg = match f {
                    // Positive inputs for the functions with a domain.
                    "log" | "sqrt" | "reciprocal" => format!("relu({narrow}) + 1"),
                    _ => narrow,
                };
                let (ow, oi) = (self.rng.range(4, 16), self.rng.range(-2, 12));
                let oq = *self.rng.pick(&QUANT);
                let ou = if self.rng.chance(70) { "" } else { "u" };
                self.lines.push(format!(
                    "  let {y} = table({arg}, {f}, {ou}fixed<{ow}, {oi}, {oq}, {o}>)"
                ));
                (y, m)
            }
            0 => {
                let bt = *self.rng.pick(&["i8", "i12", "u5"]);
                let b = self.param(bt, &[m.c]);
                self.lines.push(format!("  let {y} = relu({x} + {b})"));
                (y, m)
            }
            1 => {
                self.lines
                    .push(format!("  let {y} = max({x}, 3) - min({x}, -2)"));
                (y, m)
            }
            2 => {
                self.lines
                    .push(format!("  let {y} = -{x} * 3 + ({x} << 1)"));
                (y, m)
            }
            3 if other.is_some_and(|(_, o)| o.h == m.h && o.w == m.w) => {
                let (o, om) = other.unwrap_or((x, m));
                self.lines.push(format!("  let {y} = concat({x}, {o})"));
                (y, Map { c: m.c + om.c, ..m })
            }
            _ => {
                self.lines
                    .push(format!("  let {y} = round({x} * 0.75) + floor({x} * 0.5)"));
                (y, m)
            }
        }
    }
}

/// A random valid program; the same seed always gives the same text.
pub fn random_program(seed: u64) -> String {
    let mut g = Gen {
        rng: Rng::new(seed),
        lines: vec![],
        params: 0,
        names: 0,
    };
    let ty = *g.rng.pick(&[
        "u8",
        "i8",
        "u4",
        "i4",
        "u6",
        "i12",
        "u1",
        "fixed<8, 3>",
        "ufixed<6, 2>",
        "i32",
        "u24",
        "fixed<40, 12>",
    ]);
    let mut m = Map {
        c: g.rng.range(1, 5),
        h: g.rng.range(1, 11),
        w: g.rng.range(1, 11),
    };
    let halo = if g.rng.chance(30) {
        format!(" pad {}", g.rng.range(1, 2))
    } else {
        String::new()
    };
    g.lines
        .push(format!("  input x: {ty}[{}, {}, {}]{halo}", m.c, m.h, m.w));
    let mut cur = "x".to_string();
    let mut outputs = vec![];
    let mut side: Option<(String, Map)> = None;
    let stages = g.rng.range(1, 4);
    for _ in 0..stages {
        let attempt = match g.rng.range(0, 5) {
            0 | 1 => g.conv(&cur, m),
            2 => g.deconv(&cur, m),
            3 => g.pool(&cur, m),
            _ => g.upsample(&cur, m),
        };
        let Some((y, ym)) = attempt else {
            continue;
        };
        let y = g.requant(&y);
        if g.rng.chance(30) {
            let other = side.as_ref().map(|(n, sm)| (n.as_str(), *sm));
            let (e, em) = g.elementwise(&y, ym, other);
            let e = g.requant(&e);
            side = Some((cur.clone(), m));
            cur = e;
            m = em;
        } else {
            side = Some((cur.clone(), m));
            cur = y;
            m = ym;
        }
        if g.rng.chance(25) {
            outputs.push(cur.clone());
        }
    }
    if cur == "x" {
        let y = g.requant("x");
        cur = y;
    }
    if !outputs.contains(&cur) {
        outputs.push(cur);
    }
    format!(
        "pipeline g {{\n{}\n  output {}\n}}\n",
        g.lines.join("\n"),
        outputs.join(", ")
    )
}
