//! `convoy fmt` never changes meaning and is idempotent: for every example,
//! the stdlib, 2,000 generated programs, their whitespace-scrambled and
//! comment-mutated variants, `parse(fmt(x))` equals `parse(x)` modulo spans,
//! `fmt(fmt(x)) == fmt(x)`, and every comment's words survive in order. One
//! test per file, the generated programs in four tests of 500.

use crate::cases::{EXAMPLES, STDLIB_MODULES};
use crate::common::gen::{random_program, Rng};
use crate::common::root;
use convoy::diag::SourceMap;

fn parse_dump(src: &str) -> Option<String> {
    let mut sources = SourceMap::new();
    let id = sources.add("t.cnn", src);
    convoy::parse(&sources, id)
        .ok()
        .map(|f| strip_spans(&convoy::syntax::dump(&f)))
}

fn format(src: &str) -> String {
    let mut sources = SourceMap::new();
    let id = sources.add("t.cnn", src);
    convoy::format(&sources, id).unwrap_or_else(|_| panic!("does not parse:\n{src}"))
}

/// The dump without `@start..end` spans and without trailing spaces.
fn strip_spans(dump: &str) -> String {
    let mut out = String::new();
    let mut chars = dump.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '@' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_digit() || *c == '.')
            {
                chars.next();
            }
            continue;
        }
        out.push(c);
    }
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The words of every comment, in order (`//` inside strings excluded).
fn comment_words(src: &str) -> Vec<String> {
    let mut words = vec![];
    for line in src.lines() {
        let mut in_string = false;
        let bytes = line.as_bytes();
        for i in 0..bytes.len() {
            match bytes[i] {
                b'"' => in_string = !in_string,
                b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => {
                    words.extend(
                        line[i..]
                            .split(|c: char| c.is_whitespace() || c == '/')
                            .filter(|w| !w.is_empty())
                            .map(str::to_string),
                    );
                    break;
                }
                _ => {}
            }
        }
    }
    words
}

/// Checks the three properties on `src`; `what` names it in failures.
fn check_roundtrip(what: &str, src: &str) {
    let before = parse_dump(src).unwrap_or_else(|| panic!("{what} does not parse:\n{src}"));
    let once = format(src);
    let after = parse_dump(&once)
        .unwrap_or_else(|| panic!("{what}: the formatted text does not parse:\n{once}"));
    assert_eq!(
        before, after,
        "{what}: formatting changed the program\n--- source\n{src}\n--- formatted\n{once}"
    );
    let twice = format(&once);
    assert_eq!(
        once, twice,
        "{what}: not idempotent\n--- source\n{src}\n--- once\n{once}"
    );
    assert_eq!(
        comment_words(src),
        comment_words(&once),
        "{what}: comments changed\n--- source\n{src}\n--- formatted\n{once}"
    );
    assert!(
        !once.lines().any(|l| l.ends_with(' ') || l.contains('\t')),
        "{what}: trailing spaces or tabs\n{once}"
    );
}

/// Whitespace runs replaced by random spacing, some spaces removed where
/// the neighbours are not both part of a word.
fn scramble(src: &str, rng: &mut Rng) -> String {
    let mut out = String::new();
    let chars: Vec<char> = src.chars().collect();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let mut i = 0;
    let mut in_comment = false;
    let mut in_string = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            in_comment = false;
        }
        if in_comment || in_string || !c.is_whitespace() {
            if !in_comment && c == '"' {
                in_string = !in_string;
            }
            if !in_string && c == '/' && chars.get(i + 1) == Some(&'/') {
                in_comment = true;
            }
            out.push(c);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let had_newline = chars[start..i].contains(&'\n');
        let before = out.chars().last();
        let after = chars.get(i).copied();
        let both_words = before.is_some_and(word) && after.is_some_and(word);
        let joinable = !both_words && before != Some('-') && after != Some('-');
        let choices: &[&str] = if had_newline {
            &["\n", "\n\n", "\n      ", "\n\n\n  "]
        } else if joinable {
            &["", " ", "   ", "\n  "]
        } else {
            &[" ", "  ", "\n "]
        };
        let choice: &&str = rng.pick(choices);
        out.push_str(choice);
    }
    out
}

/// Comments inserted at random places between tokens: after code (trailing)
/// or on lines of their own.
fn add_comments(src: &str, rng: &mut Rng, count: usize) -> String {
    let chars: Vec<char> = src.chars().collect();
    // Places between tokens: whitespace, or next to `(`, `)`, `,`, outside strings and comments.
    let mut places = vec![];
    let mut in_string = false;
    let mut in_comment = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == '\n' {
            in_comment = false;
        }
        if in_comment {
            continue;
        }
        if c == '"' {
            in_string = !in_string;
            continue;
        }
        if in_string {
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            in_comment = true;
            continue;
        }
        let prev = if i > 0 { chars[i - 1] } else { '\n' };
        if c.is_whitespace() || matches!(prev, '(' | ',') || c == ')' {
            places.push(i);
        }
    }
    let mut picks: Vec<usize> = (0..count)
        .filter_map(|_| {
            if places.is_empty() {
                None
            } else {
                Some(*rng.pick(&places))
            }
        })
        .collect();
    picks.sort_unstable();
    picks.dedup();
    let mut out = String::new();
    let mut next = 0;
    for (n, p) in picks.iter().enumerate() {
        out.extend(&chars[next..*p]);
        let comment = match rng.range(0, 2) {
            0 => format!(" // note {n} here\n"),
            1 => format!("\n// own line {n}\n"),
            _ => format!("\n\n   // spaced {n}\n\n"),
        };
        out.push_str(&comment);
        next = *p;
    }
    out.extend(&chars[next..]);
    out
}

mod examples {
    examples!(super::example);
}

mod stdlib {
    stdlib_modules!(super::stdlib_module);
}

#[test]
fn no_file_went_missing() {
    assert!(EXAMPLES.len() + STDLIB_MODULES.len() >= 9);
}

fn example(name: &str) {
    file_round_trips(&root().join("examples").join(format!("{name}.cnn")));
}

fn stdlib_module(name: &str) {
    file_round_trips(&root().join("stdlib").join(format!("{name}.cnn")));
}

/// The file, 40 comment-mutated and 40 scrambled variants of it.
fn file_round_trips(path: &std::path::Path) {
    let src = std::fs::read_to_string(path).unwrap();
    let name = path.display().to_string();
    check_roundtrip(&name, &src);
    let mut rng = Rng::new(name.len() as u64);
    for k in 0..40 {
        let mutated = add_comments(&src, &mut rng, 1 + k % 6);
        if parse_dump(&mutated).is_some() {
            check_roundtrip(&format!("{name} with comments #{k}"), &mutated);
        }
        let scrambled = scramble(&src, &mut rng);
        check_roundtrip(&format!("{name} scrambled #{k}"), &scrambled);
    }
}

/// Seeds `seeds` of the generator, scrambled and with comments added.
fn generated_programs_round_trip(seeds: std::ops::Range<u64>) {
    let mut mutated_ok = 0;
    for seed in seeds.clone() {
        let src = random_program(seed);
        check_roundtrip(&format!("seed {seed}"), &src);
        let mut rng = Rng::new(seed);
        let scrambled = scramble(&src, &mut rng);
        check_roundtrip(&format!("seed {seed} scrambled"), &scrambled);
        let mutated = add_comments(&scrambled, &mut rng, 1 + (seed as usize % 5));
        if parse_dump(&mutated).is_some() {
            mutated_ok += 1;
            check_roundtrip(&format!("seed {seed} with comments"), &mutated);
        }
    }
    // Comments between tokens never break a program: every variant parsed.
    assert_eq!(mutated_ok, seeds.end - seeds.start);
}

#[test]
fn generated_programs_0_to_499_round_trip() {
    generated_programs_round_trip(0..500);
}

#[test]
fn generated_programs_500_to_999_round_trip() {
    generated_programs_round_trip(500..1000);
}

#[test]
fn generated_programs_1000_to_1499_round_trip() {
    generated_programs_round_trip(1000..1500);
}

#[test]
fn generated_programs_1500_to_1999_round_trip() {
    generated_programs_round_trip(1500..2000);
}

/// Handwritten corners: pipes, long argument lists, tuples, blocks with
/// defaults, parentheses, negative numbers, comments everywhere.
const CORNERS: &[&str] = &[
    "use std::blocks::dsconv // the usual\nuse std::blocks::ds_deconv\n\n\n// a pipeline\npipeline p { // opens\n  input x: u8[4, 8, 8] pad 1\n\n\n  param w: i8[4, 4, 3, 3] = random(seed: 1) // w\n  param b: i16[4] = random(seed: 2)\n  const k: fixed<16, 2, rnd, sat> = -0.25\n  let y = (((x))) |> conv(w, pad: (1, 1), stride: 1) |> relu() // pipe\n  let zzzzzzzzzzzzzzzzzzzzzzz = (relu(conv(y, w, pad: 1, dilation: 1, groups: 1) + b) >> 3) as u8 sat |> upsample((2, 2), nearest) |> maxpool((2, 2), stride: (2, 2), pad: (0, 0, 0, 0))\n  // dangling\n} // closes\n// the end\n",
    "/// doc line\n/// second\nblock f(x, w, shift = 8, scale = -(1 + 2) * 3) {\n  let a = -(-x) - -x + (x - (x - x)) // arithmetic\n  let b = x as i16 as i32\n  return (a + b >> shift) as u8 sat\n}\n",
    "pipeline q {\n  input x: u8[1, 4, 4]\n  let (v,\n  // indices\n  i) = maxpool(x, 2, indices: true)\n  let u = maxunpool(v, i, 2)\n  let w = x |> upsample(2, nearest) as u8 |> maxpool(2)\n  let s = (x |> maxpool(2)) + 1 as u9\n  output u\n}\n",
    "pipeline t {\n  input x: u8[1, 4, 4]\n  let y = x\n  output y\n}\ntest keeps_tests {\n  run t with x = random(seed: 3)   \n  expect y fits u8 // static\n}\n",
    "pipeline h {\n  input x: u8[16, 8, 8]\n  param w: i8[16, 16, 1, 1] = random(seed: 1)\n  @hls( pe : 4 ,simd:8,) // lanes\n  let y = conv(x, w) >> 8 as u8 sat\n  // pooled\n  @hls(pe: 2) @hls() let (m, i) = maxpool(y, 2, indices: true)\n  output m\n}\n",
    "pipeline r {\n  input x: u8[1, 4, 4]\n  let y = concat(x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x)\n  let z = concat(\n    // first\n    x,\n    x, // second\n    // third\n  )\n  output y\n}\n",
];

#[test]
fn handwritten_corners_round_trip() {
    for (k, src) in CORNERS.iter().enumerate() {
        check_roundtrip(&format!("corner {k}"), src);
        let mut rng = Rng::new(k as u64);
        for j in 0..200 {
            let mutated = add_comments(src, &mut rng, 1 + j % 8);
            if parse_dump(&mutated).is_some() {
                check_roundtrip(&format!("corner {k} with comments #{j}"), &mutated);
            }
            check_roundtrip(
                &format!("corner {k} scrambled #{j}"),
                &scramble(src, &mut rng),
            );
        }
    }
}

/// `@hls(...)` attributes: one per line above their `let`, keys in the order
/// written, spacing canonical; comments stay with the line they trail.
#[test]
fn attributes_format_above_their_let() {
    let src = "pipeline h {\n  input x: u8[16, 8, 8]\n  param w: i8[16, 16, 1, 1] = random(seed: 1)\n      @hls( pe : 4 ,simd:8,)   // four lanes\n  let y = conv(x, w) >> 8 as u8 sat\n  let zz = relu(y)\n  // pooled\n  @hls(pe: 2) @hls(simd: 2) let (m, i) = maxpool(conv(zz, w), kernel: 2, indices: true)\n  output m, i\n}\n";
    let formatted = format(src);
    check_roundtrip("attributes", src);
    insta::assert_snapshot!(
        "fmt_attributes",
        crate::common::source_and_output(src, &formatted)
    );
}
