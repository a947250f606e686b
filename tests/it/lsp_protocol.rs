//! `convoy lsp` end to end: a test client drives the real binary over stdio
//! with Content-Length framing, as an editor does. Every read has a timeout,
//! so a server that hangs fails the test instead of blocking it.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// Generous: a debug build checks a pipeline in milliseconds.
const TIMEOUT: Duration = Duration::from_secs(30);

struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    /// Notifications received while waiting for something else.
    pending: Vec<Value>,
    next_id: i64,
    cache: PathBuf,
}

fn read_message(r: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            length = v.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

impl Client {
    fn start(name: &str) -> Client {
        let cache = std::env::temp_dir().join(format!("convoy-lsp-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::create_dir_all(&cache).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_convoy"))
            .arg("lsp")
            .env("XDG_CACHE_HOME", &cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("convoy lsp starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(m) = read_message(&mut r) {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        let mut c = Client {
            child,
            stdin,
            incoming,
            pending: vec![],
            next_id: 1,
            cache,
        };
        let caps = c.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": {}}),
        );
        let caps = &caps["capabilities"];
        assert_eq!(caps["hoverProvider"], json!(true), "{caps}");
        assert_eq!(caps["definitionProvider"], json!(true), "{caps}");
        assert!(caps["completionProvider"].is_object(), "{caps}");
        assert_eq!(caps["textDocumentSync"], json!(1), "full sync: {caps}");
        c.notify("initialized", json!({}));
        c
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        self.incoming
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("the server sent nothing within {TIMEOUT:?}"))
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let m = self.receive();
            if m["id"] == json!(id) {
                assert!(m.get("error").is_none(), "{method} failed: {m}");
                return m["result"].clone();
            }
            self.pending.push(m);
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let is_for = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        };
        if let Some(i) = self.pending.iter().position(is_for) {
            let m = self.pending.remove(i);
            return m["params"]["diagnostics"].as_array().unwrap().clone();
        }
        loop {
            let m = self.receive();
            if is_for(&m) {
                return m["params"]["diagnostics"].as_array().unwrap().clone();
            }
            self.pending.push(m);
        }
    }

    fn open(&mut self, uri: &str, text: &str) -> Vec<Value> {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "convoy", "version": 1, "text": text}}),
        );
        self.diagnostics(uri)
    }

    fn change(&mut self, uri: &str, version: i64, text: &str) -> Vec<Value> {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        );
        self.diagnostics(uri)
    }

    fn at(&mut self, method: &str, uri: &str, pos: Value) -> Value {
        self.request(
            method,
            json!({"textDocument": {"uri": uri}, "position": pos}),
        )
    }

    /// `shutdown`, `exit`, and the process ends with status 0.
    fn stop(mut self) {
        assert_eq!(self.request("shutdown", Value::Null), Value::Null);
        self.notify("exit", Value::Null);
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                break;
            }
            if start.elapsed() > TIMEOUT {
                let _ = self.child.kill();
                panic!("the server did not exit after `exit`");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&self.cache);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// The LSP position (UTF-16 columns) of the `nth` occurrence of `needle`.
fn pos(text: &str, needle: &str, nth: usize) -> Value {
    let offset = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{needle}` #{nth} is not in the text"))
        .0;
    let line = text[..offset].matches('\n').count();
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let character: usize = text[start..offset].chars().map(char::len_utf16).sum();
    json!({"line": line, "character": character})
}

/// The range of the `nth` occurrence of `needle` (on one line).
fn range_nth(text: &str, needle: &str, nth: usize) -> Value {
    let start = pos(text, needle, nth);
    let units: usize = needle.chars().map(char::len_utf16).sum();
    let end = start["character"].as_u64().unwrap() + units as u64;
    json!({"start": start, "end": {"line": start["line"], "character": end}})
}

fn range_of(text: &str, needle: &str) -> Value {
    range_nth(text, needle, 0)
}

fn file_uri(path: &Path) -> String {
    convoy::lsp::uri::from_path(path)
        .unwrap()
        .as_str()
        .to_string()
}

const OVERFLOW: &str = "pipeline m {
  input x: u8[4, 8, 8]
  let y = relu(x) + 1 as u8
  output y
}
";

#[test]
fn diagnostics_appear_and_clear_as_the_text_changes() {
    let mut c = Client::start("diagnostics");
    let uri = "file:///tmp/convoy-lsp-test/overflow.cnn";
    let d = c.open(uri, OVERFLOW);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["range"], range_of(OVERFLOW, "relu(x) + 1"));
    assert_eq!(d[0]["severity"], json!(1));
    assert_eq!(d[0]["code"], json!("E150"));
    assert_eq!(d[0]["source"], json!("convoy"));
    let message = d[0]["message"].as_str().unwrap();
    assert!(message.starts_with("the value may not fit u8"), "{message}");
    assert!(message.contains("ranges over [1, 256]"), "{message}");
    assert!(message.contains("help: "), "{message}");
    let related = &d[0]["relatedInformation"][0];
    assert_eq!(related["message"], json!("u8 holds [0, 255]"));
    assert_eq!(related["location"]["uri"], json!(uri));
    assert_eq!(related["location"]["range"], range_nth(OVERFLOW, "u8", 1));

    // Hover still works on what has no error.
    let h = c.at("textDocument/hover", uri, pos(OVERFLOW, "x)", 0));
    let h = h["contents"]["value"].as_str().unwrap();
    assert!(h.contains("x: u8[4, 8, 8]"), "{h}");
    let h = c.at("textDocument/hover", uri, pos(OVERFLOW, "y =", 0));
    let h = h["contents"]["value"].as_str().unwrap();
    assert!(h.contains("has an error"), "{h}");

    let fixed = OVERFLOW.replace("as u8", "as u8 sat");
    assert_eq!(c.change(uri, 2, &fixed), Vec::<Value>::new());

    // A parse error, on a line whose columns differ in bytes and UTF-16.
    let broken = fixed.replace("let y = relu(x)", "let y = relu(x +)");
    let d = c.change(uri, 3, &broken);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["code"], json!("E001"));
    assert_eq!(
        d[0]["range"]["start"],
        pos(&broken, "+)", 0)
            .as_object()
            .map(|p| {
                json!({"line": p["line"], "character": p["character"].as_u64().unwrap() + 1})
            })
            .unwrap()
    );
    c.stop();
}

#[test]
fn ranges_count_utf16_columns() {
    let mut c = Client::start("utf16");
    let uri = "file:///tmp/convoy-lsp-test/utf16.cnn";
    // `é` is 2 bytes and 1 UTF-16 unit, `🦀` 4 bytes and 2 units: the error
    // after them starts at column 42 in UTF-16 (45 in bytes, 41 in chars).
    let text = "pipeline m {\n  param w: i8[4] = load(\"é🦀.npy\") output nope\n}\n";
    let d = c.open(uri, text);
    let nope = d
        .iter()
        .find(|d| d["message"].as_str().unwrap().contains("nope"))
        .unwrap_or_else(|| panic!("{d:?}"));
    assert_eq!(nope["range"]["start"], json!({"line": 1, "character": 42}));
    assert_eq!(nope["range"]["start"], pos(text, "nope", 0));
    c.stop();
}

const SEED: &str = "use std::blocks::dsconv

// The reference design with random weights.
pipeline seed {
  input x: u8[16, 32, 64] pad 1

  param w_dw: i8[16, 1, 3, 3]  = random(seed: 1)
  param b_dw: i16[16]          = random(seed: 2)
  param w_pw: i8[16, 16, 1, 1] = random(seed: 3)
  param b_pw: i16[16]          = random(seed: 4)
  const factor: fixed<32, 1>   = 0.0123

  let dw: u8[16, 32, 64] = relu(b_dw + trunc(dwconv(x, w_dw, pad: 1) * factor)) as u8 wrap
  let pw = relu(b_pw + trunc(conv(dw, w_pw) * factor)) as u8 wrap
  let ds = dsconv(x, w_dw, b_dw, w_pw, b_pw, shift: 8)
  output pw, ds
}
";

fn hover_text(c: &mut Client, uri: &str, needle: &str, nth: usize) -> String {
    let h = c.at("textDocument/hover", uri, pos(SEED, needle, nth));
    assert_eq!(h["contents"]["kind"], json!("markdown"), "{h}");
    h["contents"]["value"].as_str().unwrap().to_string()
}

#[test]
fn hover_shows_shape_storage_range_type_and_macs() {
    let mut c = Client::start("hover");
    let uri = "file:///tmp/convoy-lsp-test/seed.cnn";
    let d = c.open(uri, SEED);
    assert!(
        d.iter().all(|d| d["severity"] != json!(1)),
        "no errors expected: {d:?}"
    );

    // The input, where it is used: its declared storage with the halo.
    let x = hover_text(&mut c, uri, "x, w_dw", 0);
    assert!(x.contains("x: u8[16, 32, 64] pad 1"), "{x}");
    assert!(x.contains("storage `[16][34][66]`"), "{x}");
    assert!(x.contains("range `[0, 255]`"), "{x}");

    // A stage: its shape, exact range, narrowest type and MACs.
    let dw = hover_text(&mut c, uri, "dwconv", 0);
    assert!(
        dw.contains("dwconv(x, w, stride:, pad:, dilation:)"),
        "{dw}"
    );
    assert!(dw.contains("`dwconv` in `dw`"), "{dw}");
    assert!(dw.contains("[16, 32, 64]"), "{dw}");
    assert!(dw.contains("storage `[16][32][64]`"), "{dw}");
    assert!(dw.contains("(the narrowest)"), "{dw}");
    // 16 channels x 32 x 64 pixels x 9 taps, less the taps in the zero padding.
    assert!(dw.contains("MACs per image: 285,760"), "{dw}");

    // A const: the exact value it stores, not the one written.
    let k = hover_text(&mut c, uri, "factor", 0);
    assert!(k.contains("0.01229999959468841552734375"), "{k}");

    // An operator: the innermost expression around it.
    let mul = hover_text(&mut c, uri, "* factor", 0);
    assert!(mul.contains("`*` in `dw`"), "{mul}");
    assert!(mul.contains("fixed<"), "{mul}");

    // A written type: the ap type it means.
    let t = hover_text(&mut c, uri, "fixed<32", 0);
    assert!(t.contains("ap_fixed<32, 1>"), "{t}");

    // A stdlib block call: its documentation and the value it makes.
    let ds = hover_text(&mut c, uri, "dsconv(x", 0);
    assert!(
        ds.contains("block dsconv(x, w_dw, b_dw, w_pw, b_pw, shift = 8)"),
        "{ds}"
    );
    assert!(ds.contains("ds: u8[16, 32, 64]"), "{ds}");
    c.stop();
}

fn labels(items: &Value) -> Vec<String> {
    let list = if items.is_array() {
        items
    } else {
        &items["items"]
    };
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn completion_offers_names_stages_arguments_types_and_paths() {
    let mut c = Client::start("completion");
    let uri = "file:///tmp/convoy-lsp-test/complete.cnn";
    let text = SEED.replace(
        "  output pw, ds\n",
        "  let z = conv(pw, w_pw, \n  let q = x as \n  output pw, ds\n",
    );
    c.open(uri, &text);
    let end_of = |needle: &str| {
        let p = pos(&text, needle, 0);
        json!({"line": p["line"], "character": p["character"].as_u64().unwrap() + needle.len() as u64})
    };

    let args = labels(&c.at("textDocument/completion", uri, end_of("conv(pw, w_pw, ")));
    for want in [
        "stride:",
        "pad:",
        "dilation:",
        "groups:",
        "conv",
        "relu",
        "dw",
        "x",
        "factor",
    ] {
        assert!(
            args.contains(&want.to_string()),
            "{want} missing from {args:?}"
        );
    }
    assert!(
        !args.contains(&"z".to_string()),
        "z is not declared yet: {args:?}"
    );

    let types = labels(&c.at("textDocument/completion", uri, end_of("x as ")));
    assert!(
        types.contains(&"u8".to_string()) && types.contains(&"fixed".to_string()),
        "{types:?}"
    );

    let uses = labels(&c.at("textDocument/completion", uri, end_of("use std::blocks::")));
    let module = convoy::stdlib::module_source("blocks").unwrap();
    let blocks: Vec<&str> = module
        .lines()
        .filter_map(|l| l.strip_prefix("block ")?.split('(').next())
        .collect();
    assert!(
        blocks.contains(&"dsconv") && blocks.contains(&"ds_deconv"),
        "{blocks:?}"
    );
    assert_eq!(uses, blocks);
    c.stop();
}

#[test]
fn definition_of_names_blocks_and_stdlib_blocks() {
    let mut c = Client::start("definition");
    let uri = "file:///tmp/convoy-lsp-test/seed.cnn";
    c.open(uri, SEED);

    let d = c.at("textDocument/definition", uri, pos(SEED, "dw, w_pw", 0));
    assert_eq!(d["uri"], json!(uri));
    assert_eq!(d["range"], range_nth(SEED, "dw", 2), "the `dw` of `let dw`");

    // A stdlib block: a read-only copy of the module in the cache folder.
    let d = c.at("textDocument/definition", uri, pos(SEED, "dsconv(x", 0));
    let target = d["uri"].as_str().unwrap();
    let cache = std::fs::canonicalize(&c.cache).unwrap();
    assert!(
        target.starts_with(&file_uri(&cache)),
        "{target} is not under {cache:?}"
    );
    assert!(target.ends_with("/blocks.cnn"), "{target}");
    let path = convoy::lsp::uri::to_path(&target.parse().unwrap()).unwrap();
    let copy = std::fs::read_to_string(&path).unwrap();
    assert_eq!(copy, convoy::stdlib::module_source("blocks").unwrap());
    assert!(std::fs::metadata(&path).unwrap().permissions().readonly());
    assert_eq!(d["range"], range_of(&copy, "dsconv"));

    // The copy opened in the editor: no "no pipeline" error on it.
    assert_eq!(c.open(target, &copy), Vec::<Value>::new());

    // The `use` path goes there too.
    let d = c.at("textDocument/definition", uri, pos(SEED, "dsconv\n", 0));
    assert_eq!(d["uri"].as_str(), Some(target));
    c.stop();
}

#[test]
fn load_paths_are_relative_to_the_document() {
    let dir = std::env::temp_dir().join(format!("convoy-lsp-{}-data", std::process::id()));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    // An i8 [4] .npy file with the values 1, 2, 3, 4.
    let npy = convoy::data::write_npy(
        &[4],
        &convoy::data::NpyData::Int(vec![1, 2, 3, 4]),
        convoy::data::Dtype::I8,
    );
    std::fs::write(dir.join("data/b.npy"), npy).unwrap();
    let text = "pipeline m {\n  input x: i8[4, 2, 2]\n  param b: i8[4] = load(\"data/b.npy\")\n  let y = x + b\n  output y\n}\n";
    let uri = file_uri(&dir.join("m.cnn"));
    let mut c = Client::start("load");
    assert_eq!(c.open(&uri, text), Vec::<Value>::new());
    let h = c.at("textDocument/hover", &uri, pos(text, "b\n", 0));
    let h = h["contents"]["value"].as_str().unwrap();
    assert!(h.contains("range `[1, 4]`"), "the file's values: {h}");
    // Go to definition on the path opens the file.
    let d = c.at("textDocument/definition", &uri, pos(text, "data/b.npy", 0));
    assert_eq!(d["uri"], json!(file_uri(&dir.join("data/b.npy"))));
    // A missing file is an error at its path.
    let d = c.change(&uri, 2, &text.replace("data/b.npy", "data/nope.npy"));
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0]["message"].as_str().unwrap().contains("nope.npy"),
        "{d:?}"
    );
    c.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn formatting_rewrites_the_document_as_convoy_fmt_does() {
    let mut c = Client::start("format");
    let uri = "file:///tmp/convoy-lsp-test/format.cnn";
    let messy = "pipeline   m {\ninput x: u8[4,8,8]\n   let y = relu( x )\noutput y }\n";
    c.open(uri, messy);
    let edits = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let mut sources = convoy::diag::SourceMap::new();
    let id = sources.add("format.cnn", messy);
    let expected = convoy::format(&sources, id).unwrap();
    assert_eq!(edits.as_array().map(Vec::len), Some(1), "{edits}");
    assert_eq!(edits[0]["newText"], json!(expected));
    assert_eq!(
        edits[0]["range"],
        json!({"start": {"line": 0, "character": 0}, "end": {"line": 4, "character": 0}})
    );
    c.stop();
}
