//! The table of built-in stages (`convoy::builtins`) against what reads it
//! without sharing its code: the checker's behaviour through the public API
//! (parameters, required ones, defaults, words, what a stage returns, and
//! no built-in outside the table), the editor grammars, and the REPL's
//! completion words.

use convoy::builtins::{self, Builtin, IfOmitted, Returns, BUILTINS};
use convoy::diag::SourceMap;
use convoy::{CheckOptions, Diagnostic, NoFiles};
use std::collections::BTreeSet;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn compile(text: &str) -> Result<convoy::Checked, Vec<Diagnostic>> {
    let mut sources = SourceMap::new();
    let id = sources.add("t.cnn", text);
    convoy::compile(&mut sources, id, &CheckOptions::default(), &NoFiles)
}

fn diagnostics(text: &str) -> Vec<Diagnostic> {
    match compile(text) {
        Ok(c) => c.diagnostics,
        Err(d) => d,
    }
}

fn errors(text: &str) -> Vec<Diagnostic> {
    diagnostics(text)
        .into_iter()
        .filter(|d| d.is_error())
        .collect()
}

/// A pipeline where every stage can be called on `x`, `w` (conv weights),
/// `wd` (depthwise weights), `v` and `i` (pooled values and indices).
fn pipeline(body: &str) -> String {
    format!(
        "pipeline p {{\n  input x: u8[4, 8, 8]\n  param w: i8[4, 4, 3, 3] = random(seed: 1)\n  \
         param wd: i8[4, 1, 3, 3] = random(seed: 2)\n  param lut: i8[256] = random(seed: 3)\n  param wf: i8[3, 256] = random(seed: 4)\n  \
         let (v, i) = maxpool(x, 2, indices: true)\n\
         {body}\n}}\n"
    )
}

/// A call of each stage that checks, with only its required arguments.
fn valid_call(b: &Builtin) -> &'static str {
    match b.name {
        "conv" => "conv(x, w)",
        "dwconv" => "dwconv(x, wd)",
        "deconv" => "deconv(x, w)",
        "dwdeconv" => "dwdeconv(x, wd)",
        "upsample" => "upsample(x, 2)",
        "maxpool" => "maxpool(x, 2)",
        "maxunpool" => "maxunpool(v, i, 2)",
        "relu" => "relu(x)",
        "clip" => "clip(x, 1, 6)",
        "max" => "max(x)",
        "min" => "min(x, 1)",
        "floor" => "floor(x)",
        "round" => "round(x)",
        "trunc" => "trunc(x)",
        "concat" => "concat(x, x)",
        "table" => "table(x, lut)",
        "avgpool" => "avgpool(x, 2)",
        "global_avgpool" => "global_avgpool(x)",
        "dense" => "dense(x, wf)",
        "sum" => "sum(x)",
        "argmax" => "argmax(x)",
        "depth_to_space" => "depth_to_space(x, 2)",
        "space_to_depth" => "space_to_depth(x, 2)",
        "flatten" => "flatten(x)",
        "reshape" => "reshape(x, [4, 4, 16])",
        "slice" => "slice(x)",
        "pad" => "pad(x, 1)",
        other => panic!("`{other}` is in the table but this test has no call of it: add one"),
    }
}

/// The call with one more argument.
fn with_arg(call: &str, arg: &str) -> String {
    format!("{}, {arg})", call.trim_end_matches(')'))
}

/// A call giving the required word parameter `param` as `value` (no stage
/// but `table` has one: its function).
fn with_required_word(b: &Builtin, param: &str, value: &str) -> String {
    match (b.name, param) {
        ("table", "f") => format!("table(x + 1, {value}, u8)"),
        _ => panic!("`{}`: add a call giving `{param}` here", b.name),
    }
}

/// The checked nodes, without spans: what a call computes.
fn nodes(text: &str) -> Vec<String> {
    let checked = compile(text).unwrap_or_else(|d| panic!("{text}\n{d:#?}"));
    checked
        .program
        .nodes
        .iter()
        .map(|n| format!("{:?} {:?} {} {:?}", n.op, n.shape, n.frac, n.ranges))
        .collect()
}

#[test]
fn every_stage_in_the_table_is_a_builtin() {
    for b in BUILTINS {
        let text = format!(
            "block {}(x) {{ return x }}\npipeline p {{\n  input x: u8[1, 4, 4]\n  output x\n}}\n",
            b.name
        );
        let d = diagnostics(&text);
        assert!(
            d.iter().any(|d| d.code == "E108"),
            "`{}` is not a built-in stage: {d:?}",
            b.name
        );
    }
}

#[test]
fn every_stage_checks_with_its_required_arguments() {
    for b in BUILTINS {
        let text = pipeline(&format!("  let y = {}\n  output y", valid_call(b)));
        assert_eq!(errors(&text), [], "{text}");
    }
}

#[test]
fn every_stage_takes_the_parameters_the_table_lists() {
    for b in BUILTINS {
        let text = pipeline(&format!(
            "  let y = {}\n  output y",
            with_arg(valid_call(b), "no_such_argument: 1")
        ));
        let d = diagnostics(&text);
        let unknown = d
            .iter()
            .find(|d| d.code == "E115")
            .unwrap_or_else(|| panic!("`{}`: no unknown-argument error in {d:?}", b.name));
        let listed: Vec<String> = b.params.iter().map(|p| format!("`{}`", p.name)).collect();
        let expected = format!("`{}` takes {}", b.name, listed.join(", "));
        assert_eq!(unknown.notes, [expected], "`{}`", b.name);
    }
}

#[test]
fn exactly_the_required_parameters_are_required() {
    for b in BUILTINS {
        let text = pipeline(&format!("  let y = {}()\n  output x", b.name));
        let missing: Vec<String> = errors(&text)
            .into_iter()
            .filter(|d| d.code == "E116")
            .map(|d| d.message)
            .collect();
        let expected: Vec<String> = b
            .params
            .iter()
            .filter(|p| p.required())
            .map(|p| format!("`{}` needs the argument `{}`", b.name, p.name))
            .collect();
        assert_eq!(missing, expected, "`{}`", b.name);
    }
}

#[test]
fn an_omitted_argument_means_the_default_the_table_gives() {
    // Defaults described in words, and the argument that spells them out
    // for `valid_call`.
    let derived = [
        ("maxpool", "stride", "stride: 2"),
        ("maxunpool", "stride", "stride: 2"),
        ("table", "T", "T: i8"),
        ("avgpool", "stride", "stride: 2"),
        ("slice", "channels", "channels: .."),
        ("slice", "rows", "rows: 0..8"),
        ("slice", "cols", "cols: 0..8"),
    ];
    for b in BUILTINS {
        for p in b.params {
            let explicit = match p.default {
                IfOmitted::Required => continue,
                // `max(a)` is another stage than `max(a, b)`: no value of `b` spells it.
                IfOmitted::Derived(_) if (b.name, p.name) == ("max", "b") => continue,
                IfOmitted::Number(n) => format!("{}: {n}", p.name),
                IfOmitted::Word(w) => format!("{}: {w}", p.name),
                IfOmitted::Derived(_) => derived
                    .iter()
                    .find(|(s, q, _)| *s == b.name && *q == p.name)
                    .unwrap_or_else(|| {
                        panic!("`{}`: spell out the default of `{}` here", b.name, p.name)
                    })
                    .2
                    .to_string(),
            };
            let omitted = pipeline(&format!("  let y = {}\n  output y", valid_call(b)));
            let given = pipeline(&format!(
                "  let y = {}\n  output y",
                with_arg(valid_call(b), &explicit)
            ));
            assert_eq!(nodes(&omitted), nodes(&given), "`{}` `{explicit}`", b.name);
        }
    }
}

#[test]
fn word_parameters_take_exactly_the_words_the_table_lists() {
    for b in BUILTINS {
        for p in b.params.iter().filter(|p| !p.words.is_empty()) {
            let given = |value: &str| {
                if p.required() {
                    with_required_word(b, p.name, value)
                } else {
                    with_arg(valid_call(b), &format!("{}: {value}", p.name))
                }
            };
            for w in p.words {
                let call = given(w.word);
                let text = pipeline(&format!("  let r = {call}\n  output x"));
                assert_eq!(errors(&text), [], "{call}");
            }
            let call = given("7");
            let text = pipeline(&format!("  let r = {call}\n  output x"));
            let d = errors(&text);
            let bad = d
                .iter()
                .find(|d| d.code == "E120")
                .unwrap_or_else(|| panic!("{call}: no bad-word error in {d:?}"));
            let words: Vec<String> = p.words.iter().map(|w| format!("`{}`", w.word)).collect();
            assert_eq!(
                bad.labels[0].message,
                format!("expected {}", words.join(", "))
            );
        }
    }
    for w in builtins::words() {
        let text = pipeline(&format!("  let r = {}\n  output x", w.word));
        assert!(
            errors(&text).iter().all(|d| d.code != "E103"),
            "`{}` is not a word the checker knows",
            w.word
        );
    }
}

#[test]
fn every_stage_returns_what_the_table_says() {
    for b in BUILTINS {
        let call = match b.returns {
            Returns::One => valid_call(b).to_string(),
            Returns::PairWhen(p) => with_arg(valid_call(b), &format!("{p}: true")),
        };
        let pair = pipeline(&format!("  let (r, s) = {call}\n  output x"));
        let unpacked: Vec<&str> = errors(&pair).iter().map(|d| d.code).collect();
        match b.returns {
            Returns::One => assert_eq!(unpacked, ["E114"], "{call} returns one tensor"),
            Returns::PairWhen(_) => {
                assert_eq!(unpacked, [""; 0], "{call} returns a pair");
                let one = pipeline(&format!("  let y = {}\n  output y", valid_call(b)));
                assert_eq!(errors(&one), [], "{} returns one tensor", valid_call(b));
            }
        }
    }
}

/// The files under `dir` with one of the extensions, recursively, sorted.
fn files_under(dir: &Path, extensions: &[&str], out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir:?}: {e}"))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if !p.ends_with("node_modules") {
                files_under(&p, extensions, out);
            }
        } else if p
            .extension()
            .is_some_and(|e| extensions.iter().any(|x| e == *x))
        {
            out.push(p);
        }
    }
}

/// Every `name(` written in the examples, the stdlib, the docs, the editor
/// files and the tests: where a new stage would first appear.
fn called_names() -> BTreeSet<String> {
    let root = Path::new(ROOT);
    let mut files = vec![root.join("README.md")];
    for dir in ["examples", "stdlib", "docs", "editors", "tests"] {
        files_under(&root.join(dir), &["cnn", "md", "rs"], &mut files);
    }
    let mut names = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{f:?}: {e}"));
        let mut start = None;
        for (i, c) in text.char_indices() {
            let word = c.is_ascii_alphanumeric() || c == '_';
            match (start, word) {
                (None, true) => start = Some(i),
                (Some(s), false) => {
                    let name = &text[s..i];
                    if c == '(' && !name.starts_with(|c: char| c.is_ascii_digit()) {
                        names.insert(name.to_string());
                    }
                    start = None;
                }
                _ => {}
            }
        }
    }
    names
}

#[test]
fn the_checker_knows_no_builtin_outside_the_table() {
    let names = called_names();
    let uncalled: Vec<&str> = builtins::names().filter(|n| !names.contains(*n)).collect();
    assert_eq!(uncalled, [""; 0], "stages the scan did not find called");
    let mut checked = 0;
    for name in names.iter().filter(|n| !builtins::is_builtin(n)) {
        let call = pipeline(&format!("  let r = {name}(x)\n  output x"));
        let d = diagnostics(&call);
        if d.iter().any(|d| d.code.starts_with("E0")) {
            // A keyword (`fixed`, `load`): not a call the grammar allows.
            continue;
        }
        checked += 1;
        assert!(
            d.iter().any(|d| d.code == "E105"),
            "the checker accepts `{name}(...)`, which the table of built-ins does not list: {d:?}"
        );
        let block = format!(
            "block {name}(x) {{ return x }}\npipeline p {{\n  input x: u8[1, 4, 4]\n  output x\n}}\n"
        );
        assert!(
            diagnostics(&block).iter().all(|d| d.code != "E108"),
            "the checker reserves `{name}` as a stage, which the table does not list"
        );
    }
    assert!(checked > 50, "only {checked} names were checked");
}

fn table_names() -> BTreeSet<String> {
    builtins::names().map(str::to_string).collect()
}

fn table_words() -> BTreeSet<String> {
    builtins::words()
        .iter()
        .map(|w| w.word.to_string())
        .collect()
}

/// The grammar's list against the table's, naming what is missing or extra.
fn assert_lists(found: BTreeSet<String>, table: BTreeSet<String>, what: &str) {
    let missing: Vec<&String> = table.difference(&found).collect();
    let extra: Vec<&String> = found.difference(&table).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing {missing:?}, not in the table of built-ins {extra:?}"
    );
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `\\b(a|b|c)\\b...` -> {a, b, c}
fn alternatives(pattern: &str) -> BTreeSet<String> {
    let inner = pattern
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inner, _)| inner)
        .unwrap_or_else(|| panic!("no `(a|b)` group in {pattern:?}"));
    inner.split('|').map(str::to_string).collect()
}

/// The `match` of the TextMate pattern named `scope`, anywhere in the grammar.
fn textmate_match(grammar: &serde_json::Value, scope: &str) -> Option<String> {
    match grammar {
        serde_json::Value::Object(map) => {
            if map.get("name").and_then(|n| n.as_str()) == Some(scope) {
                if let Some(m) = map.get("match").and_then(|m| m.as_str()) {
                    return Some(m.to_string());
                }
            }
            map.values().find_map(|v| textmate_match(v, scope))
        }
        serde_json::Value::Array(items) => items.iter().find_map(|v| textmate_match(v, scope)),
        _ => None,
    }
}

/// The words of `syn keyword GROUP ...` lines (options such as `contained` left out), plus
/// the word of each `syn match GROUP "\<WORD\ze\s*("` line (a stage whose name is also a
/// keyword elsewhere, such as `pad`, is a keyword only when a call follows).
fn vim_keywords(syntax: &str, group: &str) -> BTreeSet<String> {
    let prefix = format!("syn keyword {group} ");
    let call_prefix = format!("syn match {group} \"\\<");
    let mut words: BTreeSet<String> = syntax
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .flat_map(|rest| rest.split_whitespace())
        .take_while(|w| !w.contains('='))
        .filter(|w| !matches!(*w, "contained" | "skipwhite" | "skipempty"))
        .map(str::to_string)
        .collect();
    words.extend(syntax.lines().filter_map(|l| {
        let rest = l.strip_prefix(&call_prefix)?;
        let word = rest.strip_suffix("\\ze\\s*(\"")?;
        Some(word.to_string())
    }));
    assert!(!words.is_empty(), "no `{prefix}` line");
    words
}

#[test]
fn editor_grammar_vscode_lists_exactly_the_builtins_and_their_words() {
    let path = "editors/vscode/syntaxes/convoy.tmLanguage.json";
    let grammar: serde_json::Value =
        serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let stages = textmate_match(&grammar, "support.function.stage.convoy")
        .unwrap_or_else(|| panic!("{path}: no support.function.stage.convoy pattern"));
    assert_lists(
        alternatives(&stages),
        table_names(),
        &format!("{path}: stages"),
    );
    let words = textmate_match(&grammar, "constant.language.convoy")
        .unwrap_or_else(|| panic!("{path}: no constant.language.convoy pattern"));
    assert_lists(
        alternatives(&words),
        table_words(),
        &format!("{path}: words"),
    );
}

#[test]
fn editor_grammar_vim_lists_exactly_the_builtins_and_their_words() {
    let path = "editors/vim/syntax/convoy.vim";
    let syntax = read(path);
    assert_lists(
        vim_keywords(&syntax, "convoyStage"),
        table_names(),
        &format!("{path}: stages"),
    );
    assert_lists(
        vim_keywords(&syntax, "convoyWord"),
        table_words(),
        &format!("{path}: words"),
    );
}

fn table_attributes() -> BTreeSet<String> {
    builtins::ATTRIBUTES
        .iter()
        .map(|a| a.name.to_string())
        .collect()
}

fn table_attribute_keys() -> BTreeSet<String> {
    builtins::ATTRIBUTES
        .iter()
        .flat_map(|a| a.keys)
        .map(|k| k.name.to_string())
        .collect()
}

#[test]
fn editor_grammar_lists_exactly_the_attributes_and_their_keys() {
    let path = "editors/vscode/syntaxes/convoy.tmLanguage.json";
    let grammar: serde_json::Value =
        serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (scope, table) in [
        ("storage.modifier.attribute.convoy", table_attributes()),
        (
            "variable.parameter.attribute.convoy",
            table_attribute_keys(),
        ),
    ] {
        let pattern =
            textmate_match(&grammar, scope).unwrap_or_else(|| panic!("{path}: no {scope} pattern"));
        assert_lists(alternatives(&pattern), table, &format!("{path}: {scope}"));
    }
    let path = "editors/vim/syntax/convoy.vim";
    let syntax = read(path);
    let names = syntax
        .lines()
        .find_map(|l| l.strip_prefix("syn match convoyAttribute \"@\\%("))
        .and_then(|rest| rest.split_once("\\)"))
        .map(|(inner, _)| inner.split("\\|").map(str::to_string).collect())
        .unwrap_or_else(|| panic!("{path}: no `syn match convoyAttribute \"@\\%(...\\)` line"));
    assert_lists(names, table_attributes(), &format!("{path}: attributes"));
    assert_lists(
        vim_keywords(&syntax, "convoyAttributeKey"),
        table_attribute_keys(),
        &format!("{path}: attribute keys"),
    );
}

/// Every key of every attribute is accepted by the checker, and a key the
/// table does not list is refused (E176).
#[test]
fn the_checker_takes_exactly_the_attribute_keys_of_the_table() {
    let body = |attr: &str| {
        pipeline(&format!(
            "  {attr}\n  let r = conv(x, w, pad: 1) >> 4 as u8 sat\n  output r"
        ))
    };
    for a in builtins::ATTRIBUTES {
        for k in a.keys {
            let d = errors(&body(&format!("@{}({}: 1)", a.name, k.name)));
            assert!(d.is_empty(), "@{}({}: 1): {d:?}", a.name, k.name);
        }
        let d = errors(&body(&format!("@{}(lanes: 1)", a.name)));
        assert!(d.iter().any(|d| d.code == "E176"), "{d:?}");
    }
}

#[test]
fn the_repl_completes_every_builtin_its_named_parameters_and_words() {
    let repl = convoy::repl::completion_words();
    let table = BUILTINS
        .iter()
        .flat_map(|b| {
            let named = b.params.iter().filter(|p| !p.required()).map(|p| p.name);
            std::iter::once(b.name).chain(named)
        })
        .chain(builtins::words().into_iter().map(|w| w.word));
    let missing: BTreeSet<&str> = table.filter(|w| !repl.contains(w)).collect();
    assert_eq!(
        missing,
        BTreeSet::new(),
        "missing from the REPL's completion"
    );
}
