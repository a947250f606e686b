//! A typed, borrowed view of an array's payload: dtype, byte order, shape
//! and strides over bytes someone else owns (a chunk read from a file, a
//! memory map, later a numpy buffer handed in by the Python package).
//! Nothing is copied to make a view.

use super::dtype::{ByteOrder, Dtype};
use super::npy_header::NpyHeader;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayView<'a> {
    pub dtype: Dtype,
    pub order: ByteOrder,
    pub shape: Vec<usize>,
    /// Per axis, the step in elements between neighbours (numpy's strides
    /// divided by the itemsize; non-negative).
    pub strides: Vec<usize>,
    /// The payload; element `index` starts at byte `sum(index * strides) * itemsize`.
    pub bytes: &'a [u8],
}

/// Element strides of C order (last axis fastest).
pub fn c_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut step = 1usize;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = step;
        step = step.saturating_mul(d);
    }
    strides
}

/// Element strides of Fortran order (first axis fastest).
pub fn fortran_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut step = 1usize;
    for (s, &d) in strides.iter_mut().zip(shape) {
        *s = step;
        step = step.saturating_mul(d);
    }
    strides
}

impl<'a> ArrayView<'a> {
    /// A view of a `.npy` payload described by `header`.
    pub fn of_npy(header: &NpyHeader, payload: &'a [u8]) -> ArrayView<'a> {
        let strides = if header.fortran_order {
            fortran_strides(&header.shape)
        } else {
            c_strides(&header.shape)
        };
        ArrayView {
            dtype: header.dtype,
            order: header.order,
            shape: header.shape.clone(),
            strides,
            bytes: payload,
        }
    }

    /// Element count.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the elements are in C order, back to back, little-endian: the
    /// payload can then be read as it is.
    pub fn is_c_contiguous_le(&self) -> bool {
        let little = self.order == ByteOrder::Little || self.dtype.itemsize() == 1;
        let contiguous = self
            .shape
            .iter()
            .zip(self.strides.iter().zip(c_strides(&self.shape)))
            .all(|(&d, (&s, c))| d <= 1 || s == c);
        little && contiguous
    }

    /// Image `i` of a batch: the view without its first axis.
    pub fn image(&self, i: usize) -> Option<ArrayView<'a>> {
        let (&n, shape) = self.shape.split_first()?;
        if i >= n {
            return None;
        }
        let start = i
            .checked_mul(self.strides[0])?
            .checked_mul(self.dtype.itemsize())?;
        Some(ArrayView {
            dtype: self.dtype,
            order: self.order,
            shape: shape.to_vec(),
            strides: self.strides[1..].to_vec(),
            bytes: self.bytes.get(start..)?,
        })
    }

    /// The elements as C-order little-endian bytes: the payload itself when
    /// it already is, else gathered (and byte-swapped) into `scratch`.
    /// `None` if the payload is shorter than the strides say.
    pub fn c_order_le<'s>(&self, scratch: &'s mut Vec<u8>) -> Option<&'s [u8]>
    where
        'a: 's,
    {
        let size = self.dtype.itemsize();
        let len = self.len().checked_mul(size)?;
        if self.is_c_contiguous_le() {
            return self.bytes.get(..len);
        }
        scratch.clear();
        scratch.reserve(len);
        let rank = self.shape.len();
        let mut index = vec![0usize; rank];
        let mut offset = 0usize;
        let swap = self.order == ByteOrder::Big;
        for _ in 0..self.len() {
            let at = offset.checked_mul(size)?;
            let element = self.bytes.get(at..at + size)?;
            if swap {
                scratch.extend(element.iter().rev());
            } else {
                scratch.extend_from_slice(element);
            }
            // The C-order odometer: last axis fastest.
            for axis in (0..rank).rev() {
                index[axis] += 1;
                offset += self.strides[axis];
                if index[axis] < self.shape[axis] {
                    break;
                }
                offset -= self.strides[axis] * self.shape[axis];
                index[axis] = 0;
            }
        }
        Some(&scratch[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_of_both_orders() {
        assert_eq!(c_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(fortran_strides(&[2, 3, 4]), vec![1, 2, 6]);
        assert_eq!(c_strides(&[]), Vec::<usize>::new());
    }

    #[test]
    fn fortran_big_endian_images_come_out_in_c_order() {
        // A [2, 2, 3] i16 array, value = 100 * n + 10 * y + x, Fortran order, big-endian.
        let shape = [2usize, 2, 3];
        let strides = fortran_strides(&shape);
        let mut bytes = vec![0u8; 12 * 2];
        for n in 0..2 {
            for y in 0..2 {
                for x in 0..3 {
                    let v = (100 * n + 10 * y + x) as i16;
                    let at = (n * strides[0] + y * strides[1] + x * strides[2]) * 2;
                    bytes[at..at + 2].copy_from_slice(&v.to_be_bytes());
                }
            }
        }
        let view = ArrayView {
            dtype: Dtype::I16,
            order: ByteOrder::Big,
            shape: shape.to_vec(),
            strides,
            bytes: &bytes,
        };
        assert!(!view.is_c_contiguous_le());
        let image = view.image(1).unwrap();
        let mut scratch = vec![];
        let le = image.c_order_le(&mut scratch).unwrap();
        let values: Vec<i16> = le
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(values, vec![100, 101, 102, 110, 111, 112]);
        assert!(view.image(2).is_none());
    }

    #[test]
    fn c_order_little_endian_is_borrowed() {
        let bytes: Vec<u8> = (0..24).collect();
        let view = ArrayView {
            dtype: Dtype::U8,
            order: ByteOrder::Little,
            shape: vec![2, 3, 4],
            strides: c_strides(&[2, 3, 4]),
            bytes: &bytes,
        };
        let image = view.image(1).unwrap();
        let mut scratch = vec![];
        assert_eq!(image.c_order_le(&mut scratch).unwrap(), &bytes[12..]);
        assert!(scratch.is_empty());
    }
}
