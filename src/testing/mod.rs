//! `convoy test`: golden, snapshot and range tests declared in `.cnn` files
//! (`test NAME { run ... expect ... snapshot ... }`, see `docs/testing.md`).
//!
//! Pure, like the rest of the core: the CLI finds the files, reads the data
//! and the stored snapshots and writes the pending ones; this module
//!
//! - [`prepare`]: resolves a test against its checked pipeline (inputs,
//!   names, golden files with their shape and dtype), reporting
//!   [`TestError`]s with spans;
//! - [`execute`]: runs it on the interpreter or the JIT and judges each
//!   expectation;
//! - [`snapshot`]: encodes, decodes and compares snapshot files;
//! - [`diff`]: the readable difference of two tensors;
//! - [`png`]: a dependency-free PNG encoder and the snapshot heat map.

pub mod diff;
mod error;
pub mod execute;
pub mod png;
pub mod prepare;
pub mod report;
pub mod snapshot;

pub use error::TestError;
pub use execute::{run, Engine, Failure, Outcome, OverflowEvent, SnapshotValue};
pub use prepare::{prepare, Prepared, Resolved};

use crate::ast::{File, Item, TestDecl};

/// The tests of a parsed file, and the errors that concern the file as a
/// whole: a test naming a pipeline the file lacks, two tests with one name.
/// Returns every test with `Ok(())` or its errors.
pub fn discover(file: &File) -> Vec<(&TestDecl, Vec<TestError>)> {
    let pipelines: Vec<String> = file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Pipeline(p) => Some(p.name.node.clone()),
            _ => None,
        })
        .collect();
    let mut out: Vec<(&TestDecl, Vec<TestError>)> = vec![];
    for (k, test) in file.tests.iter().enumerate() {
        let mut errors = vec![];
        if let Some(first) = file.tests[..k]
            .iter()
            .find(|t| t.name.node == test.name.node)
        {
            errors.push(TestError::DuplicateTest {
                span: test.name.span,
                first: first.name.span,
                name: test.name.node.clone(),
            });
        }
        let pipeline = &test.run.pipeline;
        if !pipelines.contains(&pipeline.node) {
            errors.push(TestError::UnknownPipeline {
                span: pipeline.span,
                name: pipeline.node.clone(),
                available: pipelines.clone(),
            });
        }
        out.push((test, errors));
    }
    out
}
