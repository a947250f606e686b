//! Parameter data: `load("file.npy")` through the caller's [`DataSource`], or
//! `random(seed: N)`, converted to exact raw values of the declared type.

use super::error::CheckError;
use super::Checker;
use crate::ast::{Init, ParamDecl};
use crate::data;
use crate::ir::Shape;

impl Checker<'_> {
    pub(super) fn param_data(&mut self, d: &ParamDecl, shape: &Shape) -> Option<Vec<i128>> {
        let ty = d.ty.scalar.node;
        match &d.init {
            Init::Random(seed) => Some(data::random_raw(seed.node, &ty, shape.len())),
            Init::Load(path) => {
                let span = path.span;
                let bytes = match self.data.read(&path.node) {
                    Ok(b) => b,
                    Err(reason) => {
                        self.error(CheckError::LoadFailed {
                            span,
                            path: path.node.clone(),
                            reason,
                        });
                        return None;
                    }
                };
                let arr = match data::parse_npy(&bytes) {
                    Ok(a) => a,
                    Err(e) => {
                        self.error(CheckError::BadNpy {
                            span,
                            path: path.node.clone(),
                            reason: e.to_string(),
                        });
                        return None;
                    }
                };
                // A `[O, I]` declaration is held as `[O, I, 1, 1]`.
                let matrix = match *shape {
                    Shape::Weights { o, i, kh: 1, kw: 1 } => arr.shape == [o, i],
                    _ => false,
                };
                if arr.shape != shape.dims() && !matrix {
                    self.error(CheckError::NpyShape {
                        span,
                        path: path.node.clone(),
                        declared: shape.dims(),
                        found: arr.shape.clone(),
                    });
                    return None;
                }
                match data::npy_to_raw(&arr, &ty, false) {
                    Ok(raw) => Some(raw),
                    Err(e) => {
                        self.error(CheckError::NpyValue {
                            span,
                            path: path.node.clone(),
                            reason: e.to_string(),
                        });
                        None
                    }
                }
            }
        }
    }
}
