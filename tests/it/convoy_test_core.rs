//! The pure core of `convoy test` (`convoy::testing`) without the binary:
//! discovery, preparation against a checked program, expectations on both
//! engines, snapshot comparison.

use convoy::data::{write_npy, Dtype, NpyData};
use convoy::diag::SourceMap;
use convoy::testing::{self, Engine, Failure, TestError};
use convoy::{CheckOptions, DataSource};
use std::collections::HashMap;

struct Mem(HashMap<String, Vec<u8>>);

impl DataSource for Mem {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| "no such file".into())
    }
}

const SRC: &str = "pipeline p {
  input x: u8[2, 2, 2]
  let y = x + x as u8 wrap
  let f = x as fixed<6, 4, trn, sat>
  let z = (x >> 4) as u8
  output y
}
test t {
  run p with x = load(\"x.npy\")
  expect y == load(\"y.npy\")
  expect f == load(\"f.npy\")
  expect z fits u4
  expect z fits fixed<9, 5>
  expect z fits u3
  expect f fits ufixed<3, 3>
  expect no wrap
  expect no sat in f
  snapshot y, z
}
";

fn files(x: &[i128], y: &[i128], f: &[f64]) -> Mem {
    let mut m = HashMap::new();
    m.insert(
        "x.npy".into(),
        write_npy(&[2, 2, 2], &NpyData::Int(x.to_vec()), Dtype::U8),
    );
    m.insert(
        "y.npy".into(),
        write_npy(&[2, 2, 2], &NpyData::Int(y.to_vec()), Dtype::U8),
    );
    m.insert(
        "f.npy".into(),
        write_npy(&[2, 2, 2], &NpyData::Float(f.to_vec()), Dtype::F64),
    );
    Mem(m)
}

fn run(data: &Mem, jit: bool) -> Vec<Failure> {
    let mut sources = SourceMap::new();
    let id = sources.add("t.cnn", SRC);
    let file = convoy::parse(&sources, id).unwrap();
    let tests = testing::discover(&file);
    assert_eq!(tests.len(), 1);
    assert!(tests[0].1.is_empty());
    let options = CheckOptions {
        pipeline: Some("p".into()),
    };
    let checked = convoy::check(&mut sources, &file, &options, data).unwrap();
    let prepared = testing::prepare(tests[0].0, &checked.program, data).unwrap();
    let outcome = if jit {
        let compiled = convoy::compile_jit(&checked.program, &Default::default()).unwrap();
        testing::run(&checked.program, &prepared, &Engine::Jit(&compiled))
    } else {
        testing::run(&checked.program, &prepared, &Engine::Interp)
    };
    assert_eq!(
        outcome
            .snapshots
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["y", "z"]
    );
    outcome.failures
}

#[test]
fn expectations_pass_and_fail_as_documented() {
    for jit in [false, true] {
        // Small values: nothing wraps or saturates; the goldens are right.
        let x = [0, 1, 2, 3, 4, 5, 6, 7];
        let y: Vec<i128> = x.iter().map(|v| 2 * v).collect();
        let f: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let failures = run(&files(&x, &y, &f), jit);
        // Only the static expectations that cannot hold fail: z (0..15) does not
        // fit u3, and f (fixed<6, 4>, fractional) does not fit ufixed<3, 3>.
        let texts: Vec<String> = failures.iter().map(|f| format!("{f:?}")).collect();
        assert_eq!(failures.len(), 2, "{texts:#?}");
        assert!(
            matches!(&failures[0], Failure::NotFits { name, ty, .. } if name == "z" && ty.to_string() == "u3")
        );
        assert!(
            matches!(&failures[1], Failure::NotFits { name, reason, .. } if name == "f" && reason.contains("fraction"))
        );

        // Large values: `y` wraps, `f` saturates, and the golden for y is off by one.
        let x = [200, 1, 2, 3, 4, 5, 6, 255];
        let mut y: Vec<i128> = x.iter().map(|v| (2 * v) % 256).collect();
        y[3] += 1;
        let f: Vec<f64> = x.iter().map(|&v| (v as f64).min(7.75)).collect();
        let failures = run(&files(&x, &y, &f), jit);
        let golden = failures.iter().find_map(|f| match f {
            Failure::Golden { name, diff, .. } => Some((name.clone(), diff.render(""))),
            _ => None,
        });
        let (name, diff) = golden.expect("golden failure");
        assert_eq!(name, "y");
        assert!(
            diff.contains("1 of 8 values changed") && diff.contains("[0, 1, 1]: 7 -> 6"),
            "{diff}"
        );
        let overflow: Vec<(String, usize)> = failures
            .iter()
            .filter_map(|f| match f {
                Failure::Overflow { events, .. } => {
                    Some(events.iter().map(|e| (e.owner.clone(), e.count)))
                }
                _ => None,
            })
            .flatten()
            .collect();
        // Two doubled values wrap (400, 510); `f` saturates 200 and 255.
        assert_eq!(overflow, [("y".to_string(), 2), ("f".to_string(), 2)]);
    }
}

#[test]
fn mistakes_are_errors_with_spans() {
    let mut sources = SourceMap::new();
    let src = "pipeline p {\n  input x: u8[1, 1, 2]\n  output x\n}\n\
               test a { run q }\n\
               test a { run p with x = load(\"x.npy\"), x = random(seed: 1)\n  expect nope fits u8\n  expect no sat in nope }\n";
    let id = sources.add("m.cnn", src);
    let file = convoy::parse(&sources, id).unwrap();
    let found = testing::discover(&file);
    assert!(matches!(&found[0].1[..], [TestError::UnknownPipeline { name, .. }] if name == "q"));
    assert!(matches!(&found[1].1[..], [TestError::DuplicateTest { name, .. }] if name == "a"));
    let checked = convoy::check(
        &mut sources,
        &file,
        &CheckOptions::default(),
        &Mem(HashMap::new()),
    )
    .unwrap();
    let errors = testing::prepare(found[1].0, &checked.program, &Mem(HashMap::new())).unwrap_err();
    let kinds: Vec<String> = errors
        .iter()
        .map(|e| format!("{e:?}").split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        ["DuplicateInput", "DataFile", "UnknownValue", "UnknownStage"]
    );
    for e in &errors {
        let span = e.span();
        assert!(span.end > span.start, "{e:?}");
    }
    let text = |k: usize| &src[errors[k].span().range()];
    assert_eq!(
        [text(0), text(1), text(2), text(3)],
        ["x", "\"x.npy\"", "nope", "nope"]
    );
}
