//! C++ spellings: ap types, exact literals, identifiers.

use crate::numeric::to_decimal;
use crate::types::{Overflow, Quant, ScalarType};

/// The widest type the emitter writes. ap_types allow up to `AP_INT_MAX_W`
/// (1024) bits; Convoy's proven intermediates never exceed 127.
pub const MAX_EMIT_BITS: u32 = 128;

/// The ap type of `ty`: `ap_uint<8>`, `ap_fixed<42, 11>`,
/// `ap_fixed<16, 6, AP_RND, AP_SAT>`.
pub fn ap_type(ty: &ScalarType) -> String {
    if !ty.fixed {
        return format!("ap_{}int<{}>", if ty.signed { "" } else { "u" }, ty.width);
    }
    fixed_type(ty.signed, ty.width, ty.int_bits, ty.quant, ty.overflow)
}

/// `ap_[u]fixed<W, I[, Q[, O]]>`, leaving out default modes.
pub fn fixed_type(signed: bool, width: u32, int_bits: i32, q: Quant, o: Overflow) -> String {
    let base = format!(
        "ap_{}fixed<{width}, {int_bits}",
        if signed { "" } else { "u" }
    );
    match (q, o) {
        (Quant::Trn, Overflow::Wrap) => format!("{base}>"),
        (q, Overflow::Wrap) => format!("{base}, {}>", q.ap_name()),
        (q, o) => format!("{base}, {}, {}>", q.ap_name(), o.ap_name()),
    }
}

/// An integer literal that C++ reads exactly, or `None` beyond 64 bits.
pub fn int_literal(v: i128) -> Option<String> {
    if let Ok(small) = i32::try_from(v) {
        return Some(if small == i32::MIN {
            "(-2147483647 - 1)".into()
        } else {
            small.to_string()
        });
    }
    if let Ok(x) = i64::try_from(v) {
        return Some(if x == i64::MIN {
            "(-9223372036854775807LL - 1)".into()
        } else {
            format!("{x}LL")
        });
    }
    u64::try_from(v).ok().map(|x| format!("{x}ULL"))
}

/// The value `raw / 2^frac` of a constant of type `ty` as a C++ initializer
/// that converts to `ty` exactly, or `None` when no plain literal does
/// (integers beyond 64 bits, fixed-point codes beyond a double's 53 bits).
pub fn value_literal(raw: i128, frac: u32, ty: &ScalarType) -> Option<String> {
    if frac == 0 {
        return int_literal(raw);
    }
    let significant = 128 - raw.unsigned_abs().leading_zeros();
    if significant > 53 || frac > 120 {
        return None;
    }
    let text = to_decimal(raw, frac);
    let _ = ty;
    // A decimal literal of a dyadic fraction with at most 53 significant bits
    // is parsed to exactly that double; ap_fixed's double constructor is exact
    // for values it can hold.
    Some(if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    })
}

/// The prefix of every name the emitted C++ derives from the script. No C,
/// C++, POSIX, math.h or ap_types name starts with it, and the emitted code's
/// own names (loop counters, `v<id>` temporaries, `tb_*`) never do, so a
/// script name can meet neither.
pub const PREFIX: &str = "cnv_";

/// The C++ identifier for a script name: `cnv_` and the name (characters a
/// C++ identifier cannot hold become `_`).
pub fn identifier(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{PREFIX}{clean}")
}

/// The include guard of a generated header: `CONVOY_<NAME>_<KIND>`.
pub fn guard(pipeline: &str, kind: &str) -> String {
    format!(
        "CONVOY_{}_{kind}",
        identifier(pipeline)[PREFIX.len()..].to_ascii_uppercase()
    )
}
