//! The language server's logic without a process: `convoy::lsp::Server` fed
//! LSP messages, with the files of `load("...")` in memory.

use convoy::lsp::{Files, Server};
use lsp_server::{Message, Notification, Request, RequestId};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

struct Memory(HashMap<PathBuf, Vec<u8>>);

impl Files for Memory {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| format!("{}: no such file", path.display()))
    }
    fn list(&self, dir: &Path) -> Vec<(String, bool)> {
        let mut out: Vec<(String, bool)> = vec![];
        for p in self.0.keys() {
            if let Ok(rest) = p.strip_prefix(dir) {
                let mut parts = rest.components();
                let first = parts
                    .next()
                    .unwrap()
                    .as_os_str()
                    .to_string_lossy()
                    .to_string();
                let entry = (first, parts.next().is_some());
                if !out.contains(&entry) {
                    out.push(entry);
                }
            }
        }
        out.sort();
        out
    }
    fn exists(&self, path: &Path) -> bool {
        self.0.contains_key(path)
    }
}

const STD: &str = "/cache/convoy/std";

struct Harness {
    server: Server,
    next: i32,
}

impl Harness {
    fn new(files: &[(&str, Vec<u8>)]) -> Harness {
        let files = files
            .iter()
            .map(|(p, b)| (PathBuf::from(p), b.clone()))
            .collect();
        Harness {
            server: Server::new(Box::new(Memory(files)), Some(PathBuf::from(STD))),
            next: 1,
        }
    }

    fn open(&mut self, uri: &str, text: &str) -> Vec<Value> {
        let out = self.server.handle(Message::Notification(Notification::new(
            "textDocument/didOpen".into(),
            json!({"textDocument": {"uri": uri, "languageId": "convoy", "version": 1, "text": text}}),
        )));
        match out.as_slice() {
            [Message::Notification(n)] => n.params["diagnostics"].as_array().unwrap().clone(),
            other => panic!("expected diagnostics, got {other:?}"),
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = RequestId::from(self.next);
        self.next += 1;
        let out = self
            .server
            .handle(Message::Request(Request::new(id, method.into(), params)));
        match out.as_slice() {
            [Message::Response(r)] => {
                assert!(r.error.is_none(), "{method}: {:?}", r.error);
                r.result.clone().unwrap_or(Value::Null)
            }
            other => panic!("expected one response, got {other:?}"),
        }
    }

    /// A request at the end of the first occurrence of `marker` in `text`.
    fn at(&mut self, method: &str, uri: &str, text: &str, marker: &str) -> Value {
        let offset = text.find(marker).unwrap_or_else(|| panic!("no {marker:?}")) + marker.len();
        let line = text[..offset].matches('\n').count();
        let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let character: usize = text[start..offset].chars().map(char::len_utf16).sum();
        self.request(
            method,
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}),
        )
    }

    fn completions(&mut self, uri: &str, text: &str, marker: &str) -> Vec<Value> {
        self.open(uri, text);
        let r = self.at("textDocument/completion", uri, text, marker);
        r.as_array().unwrap().clone()
    }
}

fn labels(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["label"].as_str().unwrap()).collect()
}

const URI: &str = "file:///work/m.cnn";

#[test]
fn hover_inside_a_block_shows_each_call() {
    let text = "block twice(v) {\n  let d = v + v\n  return d\n}\n\npipeline p {\n  input a: u8[2, 4, 4]\n  input b: i4[2, 4, 4]\n  let s = twice(a)\n  let t = twice(b)\n  output s, t\n}\n";
    let mut h = Harness::new(&[]);
    assert_eq!(h.open(URI, text), Vec::<Value>::new());
    let hover = h.at("textDocument/hover", URI, text, "v +");
    let md = hover["contents"]["value"].as_str().unwrap();
    assert!(
        md.contains("**in `s.d`**") && md.contains("**in `t.d`**"),
        "{md}"
    );
    assert!(md.contains("range `[0, 510]`"), "u8 + u8: {md}");
    assert!(md.contains("range `[-16, 14]`"), "i4 + i4: {md}");
    // The block's `let` too, by its name.
    let hover = h.at("textDocument/hover", URI, text, "return d");
    let md = hover["contents"]["value"].as_str().unwrap();
    assert!(
        md.contains("s.d: u9[2, 4, 4]") && md.contains("t.d: i5[2, 4, 4]"),
        "{md}"
    );
}

#[test]
fn an_error_inside_a_stdlib_block_is_shown_at_the_call() {
    let text = "use std::blocks::dsconv\npipeline m {\n  input x: u8[16, 8, 8] pad 1\n  param w_dw: i8[16, 1, 3, 3] = random(seed: 1)\n  param b_dw: i16[16] = random(seed: 2)\n  param w_pw: i8[32, 8, 1, 1] = random(seed: 3)\n  param b_pw: i16[32] = random(seed: 4)\n  let y = dsconv(x, w_dw, b_dw, w_pw, b_pw)\n  output y\n}\n";
    let mut h = Harness::new(&[]);
    let d = h.open(URI, text);
    assert_eq!(d.len(), 1, "{d:?}");
    let call = "dsconv(x, w_dw, b_dw, w_pw, b_pw)";
    let col = text.lines().nth(7).unwrap().find(call).unwrap();
    assert_eq!(
        d[0]["range"],
        json!({"start": {"line": 7, "character": col}, "end": {"line": 7, "character": col + call.len()}})
    );
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("in `dsconv`: "),
        "{d:?}"
    );
    let related = &d[0]["relatedInformation"][0]["location"]["uri"];
    assert_eq!(related, &json!(format!("file://{STD}/blocks.cnn")));
    // Hover still works on the rest.
    let hover = h.at("textDocument/hover", URI, text, "input x");
    assert!(hover["contents"]["value"]
        .as_str()
        .unwrap()
        .contains("u8[16, 8, 8] pad 1"));
}

#[test]
fn completion_knows_where_it_is() {
    let mut h = Harness::new(&[
        ("/work/data/w.npy", vec![]),
        ("/work/data/notes.txt", vec![]),
    ]);
    let head =
        "pipeline m {\n  input x: u8[4, 8, 8]\n  param w: i8[4, 4, 3, 3] = random(seed: 1)\n";

    let t = format!("{head}  const k: fixed<16, 6, ");
    let modes = h.completions(URI, &t, ", 6, ");
    let l = labels(&modes);
    assert!(l.contains(&"rnd_conv") && l.contains(&"sat_sym"), "{l:?}");

    let t = format!("{head}  let y = x as u8 ");
    assert_eq!(
        labels(&h.completions(URI, &t, "u8 ")),
        ["wrap", "sat", "sat_zero", "sat_sym"]
    );

    let t = format!("{head}  let y = upsample(x, 2, ");
    let items = h.completions(URI, &t, "2, ");
    let l = labels(&items);
    assert!(
        l.contains(&"nearest") && l.contains(&"mode:") && l.contains(&"x"),
        "{l:?}"
    );

    let t = format!("{head}  let y = conv(x, w, pad: 1, ");
    let l = h.completions(URI, &t, "1, ");
    let l = labels(&l);
    assert!(
        l.contains(&"stride:") && !l.contains(&"pad:") && !l.contains(&"x:"),
        "{l:?}"
    );

    let t = format!("{head}  let (p, i) = maxpool(x, 2, indices: ");
    assert_eq!(
        labels(&h.completions(URI, &t, "indices: ")),
        ["true", "false"]
    );

    let t = format!("{head}  ");
    let l = h.completions(URI, &t, "seed: 1)\n  ");
    let l = labels(&l);
    assert!(
        l.contains(&"let") && l.contains(&"output") && !l.contains(&"pipeline"),
        "{l:?}"
    );

    let l = h.completions(URI, "", "");
    assert_eq!(labels(&l), ["pipeline", "block", "use"]);

    // A stdlib block not imported yet comes with its `use`.
    let t = format!("{head}  let y = ");
    let items = h.completions(URI, &t, "let y = ");
    let ds = items.iter().find(|i| i["label"] == "dsconv").unwrap();
    assert_eq!(
        ds["additionalTextEdits"][0]["newText"],
        json!("use std::blocks::dsconv\n")
    );
    assert!(labels(&items).contains(&"relu") && labels(&items).contains(&"w"));

    // `load` paths, relative to the document.
    let t = format!("{head}  param b: i8[4] = load(\"data/");
    assert_eq!(labels(&h.completions(URI, &t, "data/")), ["w.npy"]);
    let t = format!("{head}  param b: i8[4] = load(\"");
    assert_eq!(labels(&h.completions(URI, &t, "load(\"")), ["data/"]);

    let t = format!("{head}  // let y = ");
    assert_eq!(h.completions(URI, &t, "let y = "), Vec::<Value>::new());
}

#[test]
fn signature_help_follows_the_argument() {
    let mut h = Harness::new(&[]);
    let t = "pipeline m {\n  input x: u8[4, 8, 8]\n  let y = conv(x, w, stride: ";
    h.open(URI, t);
    let s = h.at("textDocument/signatureHelp", URI, t, "stride: ");
    assert_eq!(
        s["signatures"][0]["label"],
        json!("conv(x, w, stride:, pad:, dilation:, groups:)")
    );
    assert_eq!(s["activeParameter"], json!(2));
    let s = h.at("textDocument/signatureHelp", URI, t, "conv(x, ");
    assert_eq!(s["activeParameter"], json!(1));
}

#[test]
fn definitions_of_named_arguments_and_the_outline() {
    let text = "block scale(x, shift = 2) {\n  return x >> shift\n}\npipeline p {\n  input a: u8[1, 2, 2]\n  let b = scale(a, shift: 1)\n  output b\n}\n";
    let mut h = Harness::new(&[]);
    h.open(URI, text);
    let d = h.at("textDocument/definition", URI, text, "scale(a, sh");
    assert_eq!(d["range"]["start"], json!({"line": 0, "character": 15}));
    let d = h.at("textDocument/definition", URI, text, "output ");
    assert_eq!(d["range"]["start"], json!({"line": 5, "character": 6}));
    let outline = h.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": URI}}),
    );
    let names: Vec<&str> = outline
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["scale", "p"]);
    let children: Vec<&str> = outline[1]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(children, ["a", "b"]);
}

#[test]
fn formatting_is_convoy_fmt() {
    let messy = "pipeline   p {\ninput a: u8[1,2,2]\n    let b = relu( a )\noutput b }\n";
    let mut h = Harness::new(&[]);
    h.open(URI, messy);
    let edits = h.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let mut sources = convoy::diag::SourceMap::new();
    let id = sources.add("m.cnn", messy);
    let expected = convoy::format(&sources, id).unwrap();
    assert_ne!(expected, messy);
    assert_eq!(edits[0]["newText"], json!(expected));
    assert_eq!(
        edits[0]["range"]["start"],
        json!({"line": 0, "character": 0})
    );
    // Formatted text needs no edit; text that does not parse gets none.
    h.open(URI, &expected);
    let edits = h.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(edits, json!([]));
    h.open(URI, "pipeline p {");
    let edits = h.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(edits, Value::Null);
}

#[test]
fn names_in_a_test_are_those_of_its_pipeline() {
    let text = "pipeline p {\n  input x: u8[1, 2, 2]\n  let y = relu(x)\n  output y\n}\n\ntest p_fits {\n  run p with x = load(\"x.npy\")\n  expect y fits u8\n  snapshot y\n}\n";
    let mut h = Harness::new(&[("/work/x.npy", vec![])]);
    assert_eq!(h.open(URI, text), Vec::<Value>::new());
    let hover = h.at("textDocument/hover", URI, text, "expect y");
    let md = hover["contents"]["value"].as_str().unwrap();
    assert!(md.contains("y: u8[1, 2, 2]"), "{md}");
    let d = h.at("textDocument/definition", URI, text, "run p");
    assert_eq!(d["range"]["start"], json!({"line": 0, "character": 9}));
    let d = h.at("textDocument/definition", URI, text, "with x");
    assert_eq!(d["range"]["start"], json!({"line": 1, "character": 8}));
    let d = h.at("textDocument/definition", URI, text, "load(\"x");
    assert_eq!(d["uri"], json!("file:///work/x.npy"));
    let t = h.at("textDocument/hover", URI, text, "fits u");
    assert!(t["contents"]["value"]
        .as_str()
        .unwrap()
        .contains("ap_uint<8>"));
}

/// `@hls(pe, simd)`: hovering the `let` or the attribute shows the stage's
/// pe / simd and the estimated II of its loops (as `convoy estimate`).
#[test]
fn hover_shows_the_hls_parallelism_and_estimated_ii() {
    let text = "pipeline p {\n  input x: u8[16, 8, 8]\n  param w: i8[16, 16, 1, 1] = random(seed: 1)\n  @hls(pe: 4, simd: 8)\n  let y = conv(x, w) >> 8 as u8 sat\n  let z = relu(y)\n  output z\n}\n";
    let mut h = Harness::new(&[]);
    assert_eq!(h.open(URI, text), Vec::<Value>::new());
    let estimate = {
        let mut sources = convoy::diag::SourceMap::new();
        let id = sources.add("m.cnn", text);
        let checked = convoy::compile(
            &mut sources,
            id,
            &convoy::check::CheckOptions::default(),
            &convoy::check::NoFiles,
        )
        .unwrap();
        let options = convoy::hls::HlsOptions {
            style: convoy::hls::Style::Stream,
            ..Default::default()
        };
        convoy::hls::estimate(&checked.program, &options).unwrap()
    };
    let y = estimate.stages.iter().find(|s| s.stage == "y").unwrap();
    assert_eq!((y.pe, y.simd), (4, Some(8)));
    let expected = format!("estimated II {} ({})", y.ii, y.limiting);
    for marker in ["let y", "@hls(pe"] {
        let hover = h.at("textDocument/hover", URI, text, marker);
        let md = hover["contents"]["value"].as_str().unwrap();
        assert!(md.contains("HLS: pe 4, simd 8"), "{marker}: {md}");
        assert!(md.contains(&expected), "{marker}: {md}");
    }
    let hover = h.at("textDocument/hover", URI, text, "@hls(pe");
    let md = hover["contents"]["value"].as_str().unwrap();
    assert!(md.contains("`simd`: input channels"), "{md}");
    // A `let` without the attribute says nothing about HLS.
    let hover = h.at("textDocument/hover", URI, text, "let z");
    let md = hover["contents"]["value"].as_str().unwrap();
    assert!(!md.contains("HLS:"), "{md}");
}
