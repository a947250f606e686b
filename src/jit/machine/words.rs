//! Packed weights from a 64-byte boundary.
//!
//! The kernels load weights 64 bytes at a time (a channel-lane block's 16
//! channels, a transposed kernel row's 16 lanes); a load that straddles two
//! cache lines costs two. A `Vec<i32>` starts wherever the allocator puts it
//! (glibc's large blocks 16 bytes into a page), so the same 3x3 128 -> 128
//! convolution on 28 x 28 ran at 257 or 280 us depending on heap history.

use std::fmt;
use std::ops::Deref;

/// One line of 16 words.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(C, align(64))]
struct Line([i32; 16]);

/// `len` words, the first at a 64-byte boundary (the rest of the last line
/// is zero).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Words {
    lines: Vec<Line>,
    len: usize,
}

impl From<Vec<i32>> for Words {
    fn from(words: Vec<i32>) -> Words {
        let mut lines = vec![Line([0; 16]); words.len().div_ceil(16)];
        for (line, chunk) in lines.iter_mut().zip(words.chunks(16)) {
            line.0[..chunk.len()].copy_from_slice(chunk);
        }
        Words {
            lines,
            len: words.len(),
        }
    }
}

impl Deref for Words {
    type Target = [i32];

    fn deref(&self) -> &[i32] {
        // SAFETY: `Line` is `repr(C)` over `[i32; 16]` (64 bytes, no
        // padding), so the lines are `16 * lines.len() >= len` initialised
        // words in a row.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<i32>(), self.len) }
    }
}

impl fmt::Debug for Words {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_start_on_a_line_and_keep_their_values() {
        for n in [0, 1, 15, 16, 17, 100] {
            let v: Vec<i32> = (0..n).map(|i| i * 7 - 3).collect();
            let w = Words::from(v.clone());
            assert_eq!(&w[..], &v[..]);
            assert_eq!(w.as_ptr() as usize % 64, 0);
        }
    }
}
