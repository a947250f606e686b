//! Source text -> AST. pest stays inside this module: its errors become
//! [`ParseError`]s here, and one converter (`convert`) turns pairs into the AST.

mod convert;
mod dump;
mod error;

pub use dump::dump;
pub use error::ParseError;

use crate::ast::File;
use crate::span::{SourceId, Span};
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/convoy.pest"]
struct ConvoyParser;

/// Parse one source file. Several errors may be reported at once when the
/// grammar recognised common mistakes (a stray `;`, a missing `=`, ...).
pub fn parse(text: &str, source: SourceId) -> Result<File, Vec<ParseError>> {
    match ConvoyParser::parse(Rule::file, text) {
        Ok(mut pairs) => {
            let file = pairs.next().ok_or_else(|| {
                vec![ParseError::Unexpected {
                    span: Span::new(source, 0, 0),
                    expected: vec![],
                    found: None,
                }]
            })?;
            convert::file(file, text, source)
        }
        Err(err) => Err(vec![from_pest(err, text, source)]),
    }
}

fn from_pest(err: pest::error::Error<Rule>, text: &str, source: SourceId) -> ParseError {
    let pos = match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let expected = match &err.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&'static str> = positives.iter().filter_map(rule_name).collect();
            names.sort_unstable();
            names.dedup();
            names
        }
        pest::error::ErrorVariant::CustomError { .. } => vec![],
    };
    let found = found_token(text, pos);
    let end = pos + found.as_ref().map_or(0, |f| f.len());
    ParseError::Unexpected {
        span: Span::new(source, pos, end),
        expected,
        found,
    }
}

/// The token at `pos`, for "found ..." in messages.
fn found_token(text: &str, pos: usize) -> Option<String> {
    let rest = text.get(pos..)?;
    let first = rest.chars().next()?;
    let token: String = if first.is_alphanumeric() || first == '_' {
        rest.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect()
    } else {
        first.to_string()
    };
    Some(token)
}

/// Names of grammar rules as a user would call them; `None` hides a rule.
fn rule_name(rule: &Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of file",
        Rule::use_decl => "`use`",
        Rule::block_decl => "`block`",
        Rule::pipeline_decl => "`pipeline`",
        Rule::input_decl => "`input`",
        Rule::param_decl => "`param`",
        Rule::const_decl => "`const`",
        Rule::let_decl | Rule::let_word => "`let`",
        Rule::output_stmt => "`output`",
        Rule::return_stmt => "`return`",
        Rule::ident => "a name",
        Rule::let_target => "a name or `(a, b)`",
        Rule::tensor_type | Rule::int_type | Rule::fixed_type | Rule::fixed_kw => "a type",
        Rule::dims => "`[dims]`",
        Rule::expr | Rule::paren | Rule::call | Rule::neg => "an expression",
        Rule::number | Rule::signed_number => "a number",
        Rule::int_lit | Rule::uint => "an integer",
        Rule::add | Rule::sub | Rule::mul | Rule::shr | Rule::shl => "an operator",
        Rule::cast => "`as`",
        Rule::pipe => "`|>`",
        Rule::overflow_mode => "an overflow mode",
        Rule::mode_name => "a mode",
        Rule::load_init => "`load(\"...\")`",
        Rule::random_init => "`random(seed: N)`",
        Rule::string => "a string",
        Rule::arg => "an argument",
        Rule::block_param => "a parameter",
        Rule::attribute => "`@hls(...)`",
        Rule::attribute_arg => "`key: N`",
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
