//! Block calls: a block is inlined, its parameters bound in a fresh scope,
//! its statements checked there and its result returned.

use super::calls::ArgVal;
use super::error::{CheckError, CheckWarning};
use super::scope::{Scope, Value};
use super::Checker;
use crate::ast::{Call, Ident};

impl Checker<'_> {
    /// Inlines a block: its parameters bound in a fresh scope, its statements
    /// checked there, its result returned.
    pub(super) fn inline_block(
        &mut self,
        call: &Call,
        args: Vec<(Option<&Ident>, ArgVal)>,
    ) -> Value {
        let name = call.func.node.clone();
        if self.block_stack.contains(&name) {
            let mut chain = self.block_stack.clone();
            chain.push(name.clone());
            return self.error(CheckError::RecursiveBlock {
                span: call.span,
                name,
                chain,
            });
        }
        let Some(block) = self.blocks.get(&name).cloned() else {
            return Value::Poison;
        };
        let sig: Vec<(&str, bool)> = block
            .params
            .iter()
            .map(|p| (p.name.node.as_str(), p.default.is_none()))
            .collect();
        let Some(bound) = self.bind(&name, &sig, false, args, call.span) else {
            return Value::Poison;
        };
        let outer_owner = self.owner.clone();
        self.block_stack.push(name.clone());
        self.scopes.push(Scope::default());
        for (param, slot) in block.params.iter().zip(bound.slots) {
            let value = match slot {
                Some(a) => a.value,
                None => match &param.default {
                    Some(default) => self.eval(default),
                    None => Value::Poison,
                },
            };
            self.scope()
                .bind(&param.name.node, value, param.name.span, false);
        }
        for stmt in &block.body {
            self.stmt(stmt, true);
            self.owner = outer_owner.clone();
        }
        let result = self.eval(&block.result);
        let unused = if self.errors.is_empty() {
            self.scope().unused()
        } else {
            vec![]
        };
        for (n, span) in unused {
            self.warnings.push(CheckWarning::Unused { span, name: n });
        }
        self.scopes.pop();
        self.block_stack.pop();
        self.owner = outer_owner;
        result
    }
}
