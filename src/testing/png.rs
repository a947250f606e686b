//! A minimal PNG encoder (8-bit RGB, zlib "stored" blocks, CRC-32 and
//! Adler-32 written out here: no dependency) and the heat map of a changed
//! snapshot: one channel, old | new | |new - old| side by side.

use crate::tensor::Tensor;

/// An 8-bit RGB image, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Image {
    pub fn new(width: usize, height: usize) -> Self {
        Image {
            width,
            height,
            rgb: vec![0; width * height * 3],
        }
    }

    fn set(&mut self, x: usize, y: usize, c: [u8; 3]) {
        let k = (y * self.width + x) * 3;
        if let Some(px) = self.rgb.get_mut(k..k + 3) {
            px.copy_from_slice(&c);
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as PNG chunks use.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Adler-32, the zlib stream's checksum.
pub fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// A zlib stream of uncompressed ("stored") deflate blocks.
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
    }
    while let Some(block) = blocks.next() {
        let last = blocks.peek().is_none();
        out.push(u8::from(last));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// The PNG file of `image` (colour type 2, bit depth 8, no filtering).
pub fn encode(image: &Image) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = vec![];
    ihdr.extend_from_slice(&(image.width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(image.height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let row = image.width * 3;
    let mut raw = Vec::with_capacity((row + 1) * image.height);
    for y in 0..image.height {
        raw.push(0);
        raw.extend_from_slice(&image.rgb[y * row..(y + 1) * row]);
    }
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Black -> red -> yellow -> white, for `t` in 0..=1.
fn heat(t: f64) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0) * 3.0;
    let part = |x: f64| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
    [part(t), part(t - 1.0), part(t - 2.0)]
}

fn gray(t: f64) -> [u8; 3] {
    let g = (t.clamp(0.0, 1.0) * 255.0).round() as u8;
    [g, g, g]
}

/// Height and width of a channel's plane, and the channel count.
fn plane(shape: &[usize]) -> (usize, usize, usize) {
    match shape {
        [c, h, w] => (*c, *h, *w),
        [c, rest @ ..] if !rest.is_empty() => (*c, 1, rest.iter().product()),
        [n] => (1, 1, *n),
        _ => (1, 1, 1),
    }
}

/// Why no heat map can be drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeatMapError {
    ShapesDiffer,
    NoChannel { channel: usize, channels: usize },
}

/// `old | new | |new - old|` of one channel. Old and new share one gray
/// scale (their joint minimum to maximum); the difference is a heat scale
/// from 0 (black) to the largest difference (white). Small planes are
/// enlarged so that the picture is at least about 256 pixels wide.
pub fn heat_map(old: &Tensor, new: &Tensor, channel: usize) -> Result<Image, HeatMapError> {
    if old.shape != new.shape || old.data.len() != new.data.len() {
        return Err(HeatMapError::ShapesDiffer);
    }
    let (channels, h, w) = plane(&new.shape);
    if channel >= channels {
        return Err(HeatMapError::NoChannel { channel, channels });
    }
    let frac = old.frac.max(new.frac);
    // Pixel intensities only: floats are fine here, the values compared are exact.
    let as_f64 = |t: &Tensor, k: usize| {
        let v = t.data[channel * h * w + k];
        v as f64 * 2f64.powi(t.frac as i32 - frac as i32)
    };
    let olds: Vec<f64> = (0..h * w).map(|k| as_f64(old, k)).collect();
    let news: Vec<f64> = (0..h * w).map(|k| as_f64(new, k)).collect();
    let diffs: Vec<f64> = olds.iter().zip(&news).map(|(a, b)| (b - a).abs()).collect();
    let lo = olds
        .iter()
        .chain(&news)
        .copied()
        .fold(f64::INFINITY, f64::min);
    let hi = olds
        .iter()
        .chain(&news)
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let dmax = diffs.iter().copied().fold(0.0, f64::max);
    let scale = (256 / (3 * w).max(1)).clamp(1, 8);
    let gap = 2;
    let (pw, ph) = (w * scale, h * scale);
    let mut img = Image::new(3 * pw + 2 * gap, ph);
    for y in 0..h {
        for x in 0..w {
            let k = y * w + x;
            let colours = [
                gray((olds[k] - lo) / span),
                gray((news[k] - lo) / span),
                heat(if dmax > 0.0 { diffs[k] / dmax } else { 0.0 }),
            ];
            for (panel, c) in colours.iter().enumerate() {
                let x0 = panel * (pw + gap) + x * scale;
                for dy in 0..scale {
                    for dx in 0..scale {
                        img.set(x0 + dx, y * scale + dy, *c);
                    }
                }
            }
        }
    }
    // Separators in blue, so that the panels are easy to tell apart.
    for y in 0..ph {
        for g in 0..gap {
            img.set(pw + g, y, [0, 64, 160]);
            img.set(2 * pw + gap + g, y, [0, 64, 160]);
        }
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn stored_blocks_split_at_64k() {
        let data = vec![7u8; 70_000];
        let z = zlib_stored(&data);
        assert_eq!(&z[..2], &[0x78, 0x01]);
        assert_eq!(z[2], 0); // first block not final
        assert_eq!(u16::from_le_bytes([z[3], z[4]]), 65_535);
        let second = 2 + 5 + 65_535;
        assert_eq!(z[second], 1);
        assert_eq!(z.len(), 2 + 5 + 65_535 + 5 + (70_000 - 65_535) + 4);
    }

    #[test]
    fn png_has_signature_and_header() {
        let img = Image::new(3, 2);
        let png = encode(&img);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes([png[16], png[17], png[18], png[19]]), 3);
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]));
    }
}
