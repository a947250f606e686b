//! The script being written: declarations in order (inputs, params with
//! their `.npy` bytes, consts, lets with a comment each, outputs), names
//! made valid and unique. Rendering gives plain text that `convoy fmt`
//! then lays out.

use crate::data::{write_npy, Dtype, NpyData};
use std::collections::HashSet;

/// Words a Convoy name may not be, or should not be (a stage's name).
const RESERVED: &[&str] = &[
    "pipeline",
    "block",
    "use",
    "input",
    "param",
    "const",
    "let",
    "output",
    "return",
    "as",
    "test",
    "run",
    "with",
    "expect",
    "snapshot",
    "fits",
    "no",
    "in",
    "load",
    "random",
    "pad",
    "true",
    "false",
    "sat",
    "wrap",
    "trn",
    "rnd",
    "conv",
    "dwconv",
    "deconv",
    "dwdeconv",
    "upsample",
    "maxpool",
    "maxunpool",
    "relu",
    "clip",
    "max",
    "min",
    "floor",
    "round",
    "trunc",
    "concat",
    "nearest",
    "bilinear",
    "std",
];

#[derive(Debug, Default)]
pub struct Script {
    lines: Vec<String>,
    decls: Vec<String>,
    lets: Vec<String>,
    outputs: Vec<String>,
    /// `(file name, bytes)` of every `.npy` file, relative to the script.
    pub files: Vec<(String, Vec<u8>)>,
    used: HashSet<String>,
    /// The folder the `.npy` files go to, relative to the script.
    folder: String,
}

impl Script {
    pub fn new(folder: &str) -> Script {
        Script {
            folder: folder.to_string(),
            ..Script::default()
        }
    }

    /// A valid, unused name made from `base` (an ONNX name).
    pub fn fresh(&mut self, base: &str) -> String {
        let mut s: String = base
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        while s.contains("__") {
            s = s.replace("__", "_");
        }
        let s = s.trim_matches('_').to_string();
        let mut s = if s.is_empty() { "t".to_string() } else { s };
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            s = format!("t{s}");
        }
        if RESERVED.contains(&s.as_str()) || is_type_name(&s) {
            s.push('_');
        }
        let mut name = s.clone();
        let mut n = 2;
        while self.used.contains(&name) {
            name = format!("{s}_{n}");
            n += 1;
        }
        self.used.insert(name.clone());
        name
    }

    pub fn comment(&mut self, text: &str) {
        self.lines.push(format!("// {text}"));
    }

    pub fn input(&mut self, name: &str, ty: &str, dims: &[usize]) {
        self.decls
            .push(format!("input {name}: {ty}{}", crate::notation::dims(dims)));
    }

    /// Changes the dimensions of the input `name`.
    pub fn reshape_input(&mut self, name: &str, dims: &[usize]) {
        let prefix = format!("input {name}: ");
        for d in &mut self.decls {
            if let Some(rest) = d.strip_prefix(&prefix) {
                let ty = rest.split('[').next().unwrap_or(rest).to_string();
                *d = format!("{prefix}{ty}{}", crate::notation::dims(dims));
            }
        }
    }

    /// A param loaded from `<folder>/<name>.npy`.
    pub fn param(&mut self, name: &str, ty: &str, dims: &[usize], data: NpyData, dtype: Dtype) {
        let file = format!("{}/{name}.npy", self.folder);
        self.files
            .push((file.clone(), write_npy(dims, &data, dtype)));
        self.decls.push(format!(
            "param {name}: {ty}{} = load(\"{file}\")",
            crate::notation::dims(dims)
        ));
    }

    pub fn let_(&mut self, name: &str, expr: &str, comment: &str) {
        if comment.is_empty() {
            self.lets.push(format!("let {name} = {expr}"));
        } else {
            self.lets
                .push(format!("let {name} = {expr}   // {comment}"));
        }
    }

    pub fn output(&mut self, name: &str) {
        self.outputs.push(name.to_string());
    }

    /// The script's text, one declaration per line (not yet formatted).
    pub fn render(&self, pipeline: &str) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s.push_str(&format!("pipeline {pipeline} {{\n"));
        for d in &self.decls {
            s.push_str(&format!("  {d}\n"));
        }
        s.push('\n');
        for l in &self.lets {
            s.push_str(&format!("  {l}\n"));
        }
        s.push_str(&format!("  output {}\n}}\n", self.outputs.join(", ")));
        s
    }
}

fn is_type_name(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    s.strip_prefix('u').is_some_and(digits)
        || s.strip_prefix('i').is_some_and(digits)
        || s == "fixed"
        || s == "ufixed"
}
