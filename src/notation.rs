//! How shapes and types are written, the same everywhere Convoy shows them:
//! the stage table, the graph, the REPL, test reports, the HLS emitter and
//! the AST dump. What a script would write: `u8[16, 32, 64] pad 1`.

use std::fmt::Display;

use crate::ir::Node;

/// `[16, 32, 64]`: dimensions (or a multi-dimensional index) as the
/// language writes them; `[]` when there are none.
pub fn dims<T: Display>(d: &[T]) -> String {
    let parts: Vec<String> = d.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// `[16][34][66]`: dimensions as a C array declares them (empty for none).
pub fn array_dims(d: &[usize]) -> String {
    d.iter().map(|n| format!("[{n}]")).collect()
}

/// `u8[16, 32, 64] pad 1`: a tensor type as a declaration writes it; a
/// scalar has no dimensions (`None`), and no halo no `pad`.
pub fn tensor_type<T: Display>(
    scalar: impl Display,
    dims: Option<&[T]>,
    halo: Option<T>,
) -> String {
    let mut s = scalar.to_string();
    if let Some(d) = dims {
        s.push_str(&self::dims(d));
    }
    if let Some(h) = halo {
        s.push_str(&format!(" pad {h}"));
    }
    s
}

/// A checked node's type, shape and halo as its declaration would write them.
pub fn node_type(node: &Node) -> String {
    let d = node.shape.dims();
    let dims = (!d.is_empty()).then_some(d.as_slice());
    tensor_type(node.ty, dims, (node.halo > 0).then_some(node.halo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ScalarType;

    #[test]
    fn shapes_and_types_as_scripts_write_them() {
        assert_eq!(dims(&[16, 32, 64]), "[16, 32, 64]");
        assert_eq!(dims::<usize>(&[]), "[]");
        assert_eq!(array_dims(&[16, 34, 66]), "[16][34][66]");
        let u8 = ScalarType::int(false, 8);
        assert_eq!(
            tensor_type(u8, Some(&[16u64, 32, 64][..]), Some(1)),
            "u8[16, 32, 64] pad 1"
        );
        assert_eq!(tensor_type::<u64>(u8, None, None), "u8");
    }
}
