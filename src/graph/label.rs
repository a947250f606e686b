//! Node and edge labels: operations as the table names them, values in the
//! language's notation with their exact ranges.

use crate::ir::{Node, Op, Shape};
use crate::notation::node_type;
use crate::numeric::to_decimal;

/// Decimal digits after the point shown in a picture; exact values with more
/// are cut and marked `~` (the stage table has every digit).
const SHOWN_DECIMALS: usize = 4;

/// `dwconv\n285760 MACs`, `input x`, `param w_dw`.
pub fn node_label(node: &Node) -> String {
    match node.op {
        Op::Input { .. } => format!("input {}", node.name.as_deref().unwrap_or("?")),
        Op::Constant { .. } => {
            let kind = if matches!(node.shape, Shape::Scalar) {
                "const"
            } else {
                "param"
            };
            format!(
                "{kind} {}\n{}",
                node.name.as_deref().unwrap_or("?"),
                node_type(node)
            )
        }
        _ if node.macs > 0 => format!("{}\n{} MACs", node.label, node.macs),
        _ => node.label.clone(),
    }
}

/// The type line (`u8[16, 32, 64] pad 1`) and the range line of an edge.
pub fn value_label(node: &Node) -> String {
    let r = node.range();
    format!(
        "{}\n{} .. {}",
        node_type(node),
        short(&to_decimal(r.lo, node.frac)),
        short(&to_decimal(r.hi, node.frac))
    )
}

/// An exact decimal, cut to [`SHOWN_DECIMALS`] places (marked `~`) when longer.
fn short(exact: &str) -> String {
    match exact.split_once('.') {
        Some((whole, frac)) if frac.len() > SHOWN_DECIMALS => {
            format!("~{whole}.{}", &frac[..SHOWN_DECIMALS])
        }
        _ => exact.to_string(),
    }
}

/// Text inside a DOT double-quoted string; `\n` becomes DOT's line break.
pub fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_decimals_are_cut_and_marked() {
        assert_eq!(short("0.01229999959468841552734375"), "~0.0122");
        assert_eq!(short("-724.5"), "-724.5");
        assert_eq!(short("255"), "255");
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
