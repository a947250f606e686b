//! `convoy check FILE`: diagnostics, then the stage table.

use super::files::{load_program, print_diagnostics};
use super::Format;
use convoy::check::table;
use std::path::Path;

pub fn run(path: &Path, pipeline: Option<String>, format: Format) -> i32 {
    let (sources, checked) = match load_program(path, pipeline) {
        Ok(x) => x,
        Err(code) => return code,
    };
    print_diagnostics(&sources, &checked.diagnostics);
    match format {
        Format::Text => print!("{}", table::render_text(&checked.program)),
        Format::Json => print!("{}", table::render_json(&checked.program)),
    }
    0
}
