//! Compile-time values and the scopes that bind names to them.

use crate::ir::NodeId;
use crate::span::Span;
use std::collections::HashMap;

/// What an expression evaluates to while checking.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A tensor (or scalar) computed by a node of the program.
    Tensor(NodeId),
    /// A compile-time integer: a literal, or a block argument such as `shift: 8`.
    Int(i128),
    /// `(h, w)` and the like.
    Tuple(Vec<Value>),
    /// A bare word used as an argument: `nearest`, `bilinear`, `true`, `false`.
    Word(String),
    /// A scalar type given as an argument (`table(x, sigmoid, u8)`).
    Type(crate::types::ScalarType),
    /// The result of an expression that already had an error; using it reports
    /// nothing more, so one mistake gives one message.
    Poison,
}

#[derive(Clone, Debug)]
pub struct Binding {
    pub value: Value,
    pub span: Span,
    pub used: bool,
    /// Declarations that may be reported as unused (not block parameters).
    pub warn_unused: bool,
}

/// One level of names: a pipeline body, or one inlined block call.
#[derive(Debug, Default)]
pub struct Scope {
    names: HashMap<String, Binding>,
    order: Vec<String>,
}

impl Scope {
    /// Binds `name`; returns the previous binding's span if it was already bound.
    pub fn bind(
        &mut self,
        name: &str,
        value: Value,
        span: Span,
        warn_unused: bool,
    ) -> Option<Span> {
        let binding = Binding {
            value,
            span,
            used: false,
            warn_unused,
        };
        match self.names.insert(name.to_string(), binding) {
            Some(old) => Some(old.span),
            None => {
                self.order.push(name.to_string());
                None
            }
        }
    }

    pub fn lookup(&mut self, name: &str) -> Option<Value> {
        let b = self.names.get_mut(name)?;
        b.used = true;
        Some(b.value.clone())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(|s| s.as_str())
    }

    /// Declarations never used, in the order they were written.
    pub fn unused(&self) -> Vec<(String, Span)> {
        self.order
            .iter()
            .filter_map(|n| {
                let b = self.names.get(n)?;
                (b.warn_unused && !b.used).then(|| (n.clone(), b.span))
            })
            .collect()
    }
}

/// The closest name to `name` among `candidates`, for "did you mean" hints.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(name, c);
        let limit = (name.len().max(c.len()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
