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
