//! The numpy dtypes Convoy exchanges, and reading numpy's dtype strings.

use std::fmt;

/// The dtypes Convoy reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dtype {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F16,
    F32,
    F64,
}

impl Dtype {
    pub const ALL: [Dtype; 12] = [
        Dtype::Bool,
        Dtype::I8,
        Dtype::I16,
        Dtype::I32,
        Dtype::I64,
        Dtype::U8,
        Dtype::U16,
        Dtype::U32,
        Dtype::U64,
        Dtype::F16,
        Dtype::F32,
        Dtype::F64,
    ];

    /// Bytes per element.
    pub fn itemsize(self) -> usize {
        match self {
            Dtype::Bool | Dtype::I8 | Dtype::U8 => 1,
            Dtype::I16 | Dtype::U16 | Dtype::F16 => 2,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 4,
            Dtype::I64 | Dtype::U64 | Dtype::F64 => 8,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Dtype::F16 | Dtype::F32 | Dtype::F64)
    }

    pub fn is_signed(self) -> bool {
        matches!(
            self,
            Dtype::I8 | Dtype::I16 | Dtype::I32 | Dtype::I64 | Dtype::F16 | Dtype::F32 | Dtype::F64
        )
    }

    /// The narrowest numpy integer dtype with at least `width` bits
    /// (`width` 1..=64; wider widths give the 64-bit dtype).
    pub fn int_for_width(signed: bool, width: u32) -> Dtype {
        match (signed, width) {
            (false, 0..=8) => Dtype::U8,
            (false, 9..=16) => Dtype::U16,
            (false, 17..=32) => Dtype::U32,
            (false, _) => Dtype::U64,
            (true, 0..=8) => Dtype::I8,
            (true, 9..=16) => Dtype::I16,
            (true, 17..=32) => Dtype::I32,
            (true, _) => Dtype::I64,
        }
    }

    /// The little-endian descr string numpy writes: `|b1`, `|u1`, `<i2`, `<f8`.
    pub fn descr(self) -> &'static str {
        match self {
            Dtype::Bool => "|b1",
            Dtype::I8 => "|i1",
            Dtype::I16 => "<i2",
            Dtype::I32 => "<i4",
            Dtype::I64 => "<i8",
            Dtype::U8 => "|u1",
            Dtype::U16 => "<u2",
            Dtype::U32 => "<u4",
            Dtype::U64 => "<u8",
            Dtype::F16 => "<f2",
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
        }
    }

    /// numpy's name: `bool`, `int16`, `uint8`, `float64`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Bool => "bool",
            Dtype::I8 => "int8",
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::I64 => "int64",
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::U32 => "uint32",
            Dtype::U64 => "uint64",
            Dtype::F16 => "float16",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a dtype is not supported, by numpy kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnsupportedKind {
    Complex,
    Object,
    /// A record dtype: `descr` is a list of fields.
    Structured,
    /// `S` / `a`: fixed-length byte strings.
    Bytes,
    /// `U`: fixed-length unicode strings.
    Unicode,
    /// `V`: raw void records.
    Void,
    Datetime,
    Timedelta,
    /// A known kind with an unsupported size, e.g. `f16` (long double) or `i3`.
    Size,
    /// Not a dtype string numpy would write.
    Unknown,
}

/// Byte order of a file's elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
    Big,
}

/// Reads a numpy dtype string: an optional byte order (`<` little, `>` big,
/// `|` not applicable, `=` native, which Convoy defines as little), a kind
/// letter and a size in bytes.
pub fn parse_descr(descr: &str) -> Result<(Dtype, ByteOrder), UnsupportedKind> {
    let (order, rest) = match descr.as_bytes().first() {
        Some(b'>') => (ByteOrder::Big, &descr[1..]),
        Some(b'<' | b'|' | b'=') => (ByteOrder::Little, &descr[1..]),
        _ => (ByteOrder::Little, descr),
    };
    let mut chars = rest.chars();
    let Some(kind) = chars.next() else {
        return Err(UnsupportedKind::Unknown);
    };
    let size_text = chars.as_str();
    let size: Option<u32> =
        if !size_text.is_empty() && size_text.bytes().all(|b| b.is_ascii_digit()) {
            size_text.parse().ok()
        } else {
            None
        };
    let dtype = match (kind, size) {
        ('b', Some(1)) | ('?', None) => Dtype::Bool,
        ('i', Some(1)) => Dtype::I8,
        ('i', Some(2)) => Dtype::I16,
        ('i', Some(4)) => Dtype::I32,
        ('i', Some(8)) => Dtype::I64,
        ('u', Some(1)) => Dtype::U8,
        ('u', Some(2)) => Dtype::U16,
        ('u', Some(4)) => Dtype::U32,
        ('u', Some(8)) => Dtype::U64,
        ('f', Some(2)) => Dtype::F16,
        ('f', Some(4)) => Dtype::F32,
        ('f', Some(8)) => Dtype::F64,
        ('b' | 'i' | 'u' | 'f', _) => return Err(UnsupportedKind::Size),
        ('c', _) => return Err(UnsupportedKind::Complex),
        ('O', _) => return Err(UnsupportedKind::Object),
        ('S' | 'a', _) => return Err(UnsupportedKind::Bytes),
        ('U', _) => return Err(UnsupportedKind::Unicode),
        ('V', _) => return Err(UnsupportedKind::Void),
        ('M', _) => return Err(UnsupportedKind::Datetime),
        ('m', _) => return Err(UnsupportedKind::Timedelta),
        _ => return Err(UnsupportedKind::Unknown),
    };
    Ok((dtype, order))
}
