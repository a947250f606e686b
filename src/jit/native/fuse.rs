//! A depthwise stage whose output only a pointwise stage reads, run with it
//! band by band ([`BandPair`]): for each band of output rows, the depthwise
//! kernel writes the band of every channel into a small buffer of the
//! thread's (in cache), and the pointwise kernel reads it from there and
//! writes its band of the final output. The intermediate map never goes
//! out to memory and back (64 channels of 128 x 256: 2 MB, twice).
//!
//! Each band runs as its own pair of native stages, made and checked
//! ([`NativeStage::fits_sizes`]) here: the depthwise stage of the band's
//! rows (its input origin moved down to the band's first window row, the
//! padding above it and the rows below it adjusted), storing into the band
//! buffer (`C x rows x W`, dense), and the pointwise stage reading that
//! buffer and storing the band's rows of the output. One kernel call each
//! a band, every channel at once.

use super::{Kind, NativeStage, Rows};
use crate::jit::plan::Plan;

/// The bytes of the intermediate a band aims at (all channels): with the
/// depthwise input rows and the pointwise output rows of the band, well
/// inside a core's L2.
const BAND_BYTES: usize = 128 * 1024;

/// A depthwise and a pointwise stage computed band by band.
#[derive(Clone, Debug)]
pub(crate) struct BandPair {
    /// Per band (rows `b * band ..`, the last one possibly shorter): the
    /// depthwise stage storing the band into the band buffer (buffer
    /// `mid`, the intermediate's, whose pointer the job replaces), and the
    /// pointwise stage reading it.
    pub bands: Vec<(NativeStage, NativeStage)>,
    /// The rows of a band.
    pub band: usize,
    /// The band buffer's size in bytes (without spare bytes).
    pub bytes: usize,
}

impl BandPair {
    /// The pair, if the pointwise stage `pw` reads exactly the output of
    /// the depthwise stage `dw` (u8, all of its channels, same map) and
    /// writes elsewhere than `dw` reads; `band` rows a band (`None`: as
    /// many as [`BAND_BYTES`] hold, rounded up to whole pixel vectors of
    /// the pointwise kernel, and only if the map takes at least two
    /// bands). The caller checks that nothing else reads the intermediate.
    pub fn new(
        plan: &Plan,
        dw: &NativeStage,
        pw: &NativeStage,
        band: Option<usize>,
    ) -> Option<BandPair> {
        let (c, h, w) = (dw.channels, dw.height, dw.width);
        let Kind::Pointwise {
            cin,
            stride: (1, 1),
            ..
        } = pw.kind
        else {
            return None;
        };
        let paired = matches!(dw.kind, Kind::Depthwise { .. })
            && cin == c
            && dw.isa == pw.isa
            && dw.out == pw.x
            && dw.out_bytes == 1
            && dw.residual.is_none()
            && pw.residual.is_none()
            && (pw.height, pw.width) == (h, w)
            && pw.out.buffer != dw.x.buffer
            && pw.out.buffer != dw.out.buffer
            && h > 0
            && w > 0
            && c > 0;
        if !paired {
            return None;
        }
        let band = match band {
            Some(b) => b.clamp(1, h),
            None => {
                // Whole pixel vectors of the pointwise kernel's runs.
                let granule = 64 / gcd(w, 64);
                let b = (BAND_BYTES / (c * w)).max(1).next_multiple_of(granule);
                if 2 * b > h {
                    return None;
                }
                b
            }
        };
        let mid = dw.out.buffer;
        // Planes on cache lines. (An odd number of lines apart, so that
        // the pointwise kernel's loads of every plane spread over the L1
        // sets, measured no faster.)
        let plane = (band * w).next_multiple_of(64);
        let bytes = (c - 1) * plane + band * w;
        let size = |b: usize| {
            if b == mid {
                Some(bytes)
            } else {
                plan.buffers.get(b).map(|buf| buf.bytes())
            }
        };
        let buffer = Rows {
            buffer: mid,
            origin: 0,
            stride: w,
            plane,
        };
        let bands = (0..h.div_ceil(band))
            .map(|b| {
                let (r0, rows) = (b * band, band.min(h - b * band));
                let dw = band_depthwise(dw, r0, rows, buffer)?.fits_sizes(&size)?;
                let mut out = pw.out;
                out.origin += r0 * out.stride;
                let pw = NativeStage {
                    x: buffer,
                    out,
                    height: rows,
                    ..pw.clone()
                }
                .fits_sizes(&size)?;
                Some((dw, pw))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(BandPair { bands, band, bytes })
    }
}

/// Depthwise stage `dw` on its output rows `r0..r0 + rows` only, stored
/// as rows `0..rows` of `out`: the input origin moved to the band's first
/// window row (`r0 * stride - pad_top`, row 0 of the band's stage, with no
/// padding above it) and the input's rows counted from there (a kernel
/// that pads at the borders skips the rows past them). The first band is
/// the stage itself but for its height and output.
fn band_depthwise(dw: &NativeStage, r0: usize, rows: usize, out: Rows) -> Option<NativeStage> {
    let mut kind = dw.kind.clone();
    let mut x = dw.x;
    if r0 > 0 {
        let Kind::Depthwise {
            pad_top,
            stride: (sh, _),
            borders,
            ..
        } = &mut kind
        else {
            return None;
        };
        let shift = (r0 * *sh).checked_sub(*pad_top)?;
        *pad_top = 0;
        if let Some((in_h, _)) = borders {
            *in_h = in_h.checked_sub(shift)?;
        }
        x.origin += shift * x.stride;
    }
    Some(NativeStage {
        kind,
        x,
        out,
        height: rows,
        ..dw.clone()
    })
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
