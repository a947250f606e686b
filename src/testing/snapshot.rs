//! Snapshot files: `snapshots/TEST.NAME.npy` holds the exact values and
//! `snapshots/TEST.NAME.txt` a summary (shape, type, exact range, checksum).
//! Pure: the caller reads and writes the files; this module encodes,
//! decodes and compares.

use super::diff::ValueDiff;
use super::execute::{values, SnapshotValue};
use crate::data;
use crate::notation::dims;
use crate::numeric::to_decimal;
use crate::tensor::Tensor;
use crate::types::{Overflow, Quant, ScalarType};

/// A snapshot as its two files' contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub npy: Vec<u8>,
    pub txt: String,
}

/// The files' base name inside `snapshots/`: `TEST.NAME`.
pub fn base_name(test: &str, value: &str) -> String {
    format!("{test}.{value}")
}

/// FNV-1a 64 over the frac (4 bytes, little-endian), then every raw value as
/// 16 little-endian bytes of two's complement, in C order.
pub fn checksum(t: &Tensor) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(&t.frac.to_le_bytes());
    for v in &t.data {
        eat(&v.to_le_bytes());
    }
    h
}

/// The summary text of a value.
pub fn summary(test: &str, v: &SnapshotValue, raw_codes: bool) -> String {
    let t = &v.value;
    let lo = t.data.iter().copied().min().unwrap_or(0);
    let hi = t.data.iter().copied().max().unwrap_or(0);
    format!(
        "// convoy snapshot of `{}` in test `{test}`; the values are in the .npy file\n\
         shape: {}\n\
         type: {}\n\
         encoding: {}\n\
         range: [{}, {}]\n\
         checksum: fnv1a64 {:016x}\n",
        v.name,
        dims(&t.shape),
        v.ty,
        if raw_codes { "raw codes" } else { "values" },
        to_decimal(lo, t.frac),
        to_decimal(hi, t.frac),
        checksum(t)
    )
}

/// Both files of a snapshot. Fixed-point values too wide for `float64` are
/// stored as raw codes (the summary says so).
pub fn encode(test: &str, v: &SnapshotValue) -> Result<Encoded, String> {
    let t = &v.value;
    let (npy, raw_codes) = match data::raw_to_npy(&t.shape, &t.data, &v.ty, false) {
        Ok(b) => (b, false),
        Err(_) => (
            data::raw_to_npy(&t.shape, &t.data, &v.ty, true).map_err(|e| e.to_string())?,
            true,
        ),
    };
    Ok(Encoded {
        npy,
        txt: summary(test, v, raw_codes),
    })
}

/// A summary's `key: value` line.
fn field<'a>(txt: &'a str, key: &str) -> Option<&'a str> {
    txt.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(": ")))
        .map(str::trim)
}

/// The values of a stored snapshot, read with the type its summary names.
pub fn decode(stored: &Encoded) -> Result<Tensor, String> {
    let ty_text = field(&stored.txt, "type").ok_or("the summary names no type")?;
    let ty =
        parse_type(ty_text).ok_or_else(|| format!("unknown type `{ty_text}` in the summary"))?;
    let raw_codes = field(&stored.txt, "encoding") == Some("raw codes");
    let arr = data::parse_npy(&stored.npy).map_err(|e| e.to_string())?;
    let raw = data::npy_to_raw(&arr, &ty, raw_codes).map_err(|e| e.to_string())?;
    Ok(Tensor {
        shape: arr.shape,
        frac: ty.storage_frac(),
        data: raw,
    })
}

/// Reads a type as `ScalarType`'s `Display` writes it: `u8`, `i12`,
/// `fixed<16, 6>`, `ufixed<8, 2, rnd, sat>`.
pub fn parse_type(text: &str) -> Option<ScalarType> {
    let text = text.trim();
    if let Some(inner) = text
        .strip_prefix("ufixed<")
        .or_else(|| text.strip_prefix("fixed<"))
    {
        let signed = text.starts_with("fixed");
        let parts: Vec<&str> = inner.strip_suffix('>')?.split(',').map(str::trim).collect();
        let width: u32 = parts.first()?.parse().ok()?;
        let int_bits: i32 = parts.get(1)?.parse().ok()?;
        if !(1..=crate::types::MAX_TYPE_BITS).contains(&width) {
            return None;
        }
        let mut ty = ScalarType::fixed(signed, width, int_bits);
        if let Some(q) = parts.get(2) {
            ty.quant = Quant::from_name(q)?;
        }
        if let Some(o) = parts.get(3) {
            ty.overflow = Overflow::from_name(o)?;
        }
        return Some(ty);
    }
    let signed = match text.chars().next()? {
        'u' => false,
        'i' => true,
        _ => return None,
    };
    let width: u32 = text[1..].parse().ok()?;
    (1..=crate::types::MAX_TYPE_BITS)
        .contains(&width)
        .then(|| ScalarType::int(signed, width))
}

/// How a new value compares with the stored snapshot.
#[derive(Clone, Debug)]
pub enum Comparison {
    Same,
    /// No snapshot yet.
    New,
    Changed(Box<Changed>),
}

#[derive(Clone, Debug)]
pub struct Changed {
    /// Summary lines that differ, as `(old, new)`.
    pub lines: Vec<(String, String)>,
    /// The element-wise difference, or why the old values cannot be read.
    pub diff: Result<ValueDiff, String>,
    /// The old values, when they could be read.
    pub old: Option<Tensor>,
}

pub fn compare(stored: Option<&Encoded>, new: &Encoded, value: &SnapshotValue) -> Comparison {
    let Some(stored) = stored else {
        return Comparison::New;
    };
    if stored == new {
        return Comparison::Same;
    }
    let old_lines: Vec<&str> = stored
        .txt
        .lines()
        .filter(|l| !l.starts_with("//"))
        .collect();
    let new_lines: Vec<&str> = new.txt.lines().filter(|l| !l.starts_with("//")).collect();
    let mut lines = vec![];
    for (k, n) in new_lines.iter().enumerate() {
        let key = n.split(':').next().unwrap_or("");
        let o = old_lines
            .iter()
            .find(|o| o.split(':').next() == Some(key))
            .copied()
            .or(old_lines.get(k).copied())
            .unwrap_or("");
        if o != *n {
            lines.push((o.to_string(), n.to_string()));
        }
    }
    let old = decode(stored);
    let diff = old
        .as_ref()
        .map(|o| ValueDiff::between(values(o), values(&value.value)))
        .map_err(Clone::clone);
    Comparison::Changed(Box::new(Changed {
        lines,
        diff,
        old: old.ok(),
    }))
}

impl Changed {
    pub fn render(&self, indent: &str) -> String {
        let mut out = String::new();
        for (o, n) in &self.lines {
            if o.starts_with("checksum") {
                continue;
            }
            out.push_str(&format!("{indent}{o}  ->  {n}\n"));
        }
        match &self.diff {
            Ok(d) if d.is_same() => {
                out.push_str(&format!("{indent}the values are the same\n"));
            }
            Ok(d) => out.push_str(&d.render(indent)),
            Err(reason) => out.push_str(&format!(
                "{indent}the stored snapshot cannot be read: {reason}\n"
            )),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip() {
        for text in [
            "u8",
            "i12",
            "fixed<16, 6>",
            "ufixed<8, 2, rnd>",
            "fixed<16, 6, rnd, sat>",
        ] {
            let ty = parse_type(text).expect(text);
            assert_eq!(ty.to_string(), text);
        }
        assert!(parse_type("u0").is_none());
        assert!(parse_type("float").is_none());
    }

    #[test]
    fn encode_decode_compare() {
        let v = SnapshotValue {
            name: "y".into(),
            ty: ScalarType::fixed(true, 8, 4),
            value: Tensor {
                shape: vec![1, 1, 3],
                frac: 4,
                data: vec![-16, 3, 127],
            },
        };
        let e = encode("t", &v).expect("encode");
        assert!(e.txt.contains("range: [-1, 7.9375]"), "{}", e.txt);
        assert_eq!(decode(&e).expect("decode"), v.value);
        assert!(matches!(compare(Some(&e), &e, &v), Comparison::Same));
        let mut w = v.clone();
        w.value.data[1] = 4;
        let e2 = encode("t", &w).expect("encode");
        let Comparison::Changed(c) = compare(Some(&e), &e2, &w) else {
            panic!("not changed");
        };
        let text = c.render("");
        assert!(text.contains("1 of 3 values changed"), "{text}");
        assert!(text.contains("[0, 0, 1]: 0.1875 -> 0.25"), "{text}");
    }
}
