//! Run-time tensor values: exact integers `raw` meaning `raw / 2^frac`, in C order.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tensor {
    /// `[]` scalar, `[N]` vector, `[C, H, W]` map, `[O, I, KH, KW]` weights.
    pub shape: Vec<usize>,
    pub frac: u32,
    pub data: Vec<i128>,
}

impl Tensor {
    pub fn zeros(shape: Vec<usize>, frac: u32) -> Self {
        let len = shape.iter().product();
        Tensor {
            shape,
            frac,
            data: vec![0; len],
        }
    }
}

/// The multi-dimensional C-order index of flat position `flat` in `shape`
/// (every tensor, data file and node value is laid out this way).
pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &d) in index.iter_mut().zip(shape).rev() {
        if d > 0 {
            *slot = flat % d;
            flat /= d;
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::unravel;

    #[test]
    fn unravel_in_c_order() {
        assert_eq!(unravel(77, &[1, 4, 20]), vec![0, 3, 17]);
        assert_eq!(unravel(0, &[]), Vec::<usize>::new());
        assert_eq!(unravel(5, &[2, 3]), vec![1, 2]);
        assert_eq!(unravel(5, &[0, 3]), vec![0, 2]);
    }
}
