//! `convoy import` on the corpus of `tests/fixtures/import/` (built by
//! `tools/onnx_corpus.py`: QDQ and QOperator models quantized by
//! onnxruntime, per tensor and per channel, and QONNX models): every model
//! imports, its script is in the canonical layout and checks, and its
//! outputs on the committed input codes equal, on every value, the codes
//! that the exact reference (`tools/onnx_corpus_ref.py`, integers and
//! fractions) computed, with the interpreter, the JIT and (for a few
//! models) the HLS C simulation. Malformed and unsupported models are
//! refused with one snapshot each, exit 1 and nothing written.

use crate::common::tools;
use crate::common::{root, scratch, source_and_output, stderr, stdout, Files};
use convoy::data::{npy_to_raw, parse_npy};
use convoy::diag::{render, Report, SourceMap};
use convoy::import::{import, ImportError};
use convoy::{CheckOptions, Tensor};
use std::path::PathBuf;
use std::process::Command;

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/import")
}

/// The imported script, checked, and the images of the committed input.
fn imported(model: &str) -> (convoy::Checked, String, Vec<Vec<Tensor>>, Vec<i128>) {
    let dir = fixtures();
    let bytes = std::fs::read(dir.join(format!("{model}.onnx"))).expect("model");
    let out = import(&bytes, &format!("{model}.onnx"), model).unwrap_or_else(|e| {
        panic!(
            "{model}: {}",
            render(&SourceMap::new(), &[e.diagnostic()], false)
        )
    });
    let files = Files(out.files.iter().cloned().collect());
    let mut sources = SourceMap::new();
    let id = sources.add(format!("{model}.cnn"), out.script.clone());
    // The script is written in the canonical layout.
    assert_eq!(
        convoy::format(&sources, id).expect("formats"),
        out.script,
        "{model}: the imported script is not formatted"
    );
    let checked = convoy::compile(&mut sources, id, &CheckOptions::default(), &files)
        .unwrap_or_else(|d| panic!("{model}: {}", render(&sources, &d, false)));
    let program = &checked.program;
    assert_eq!(program.inputs.len(), 1, "{model}");
    assert_eq!(program.outputs.len(), 1, "{model}");
    let input = &program.nodes[program.inputs[0].node];
    let x =
        parse_npy(&std::fs::read(dir.join(format!("{model}.x.npy"))).expect("x")).expect("x.npy");
    let raw = npy_to_raw(&x, &input.ty, false).expect("input codes fit");
    let per = input.shape.len();
    assert_eq!(raw.len() % per, 0);
    let images: Vec<Vec<Tensor>> = raw
        .chunks(per)
        .map(|c| {
            vec![Tensor {
                shape: input.shape.dims(),
                frac: input.frac,
                data: c.to_vec(),
            }]
        })
        .collect();
    let e = parse_npy(&std::fs::read(dir.join(format!("{model}.expected.npy"))).expect("expected"))
        .expect("expected.npy");
    let expected = match e.data {
        convoy::data::NpyData::Int(v) => v,
        _ => panic!("{model}: expected codes are integers"),
    };
    (checked, out.script, images, expected)
}

fn interpreter_and_jit_equal_reference(model: &str) {
    let (checked, _, images, expected) = imported(model);
    let program = &checked.program;
    let jit = convoy::compile_jit(program, &convoy::JitOptions::default())
        .unwrap_or_else(|e| panic!("{model}: {e}"));
    let mut interp = vec![];
    let mut jitted = vec![];
    for image in &images {
        let i = convoy::interpret(program, image).unwrap_or_else(|e| panic!("{model}: {e:?}"));
        let j = jit.run(image).unwrap_or_else(|e| panic!("{model}: {e}"));
        assert_eq!(i[0].frac, 0, "{model}: output codes are integers");
        interp.extend_from_slice(&i[0].data);
        jitted.extend_from_slice(&j[0].data);
    }
    assert_eq!(interp.len(), expected.len(), "{model}: output size");
    let diff = |got: &[i128]| got.iter().zip(&expected).filter(|(a, b)| a != b).count();
    assert_eq!(diff(&interp), 0, "{model}: interpreter vs exact reference");
    assert_eq!(diff(&jitted), 0, "{model}: JIT vs exact reference");
}

macro_rules! corpus {
    ($($model:ident)*) => {
        mod corpus {
            $(#[test]
            fn $model() {
                super::interpreter_and_jit_equal_reference(stringify!($model));
            })*
        }
        const CORPUS: &[&str] = &[$(stringify!($model)),*];
    };
}

corpus! {
    cnn_basic_qdq_pt cnn_basic_qdq_pc cnn_basic_qop_pt cnn_basic_qop_pc
    mobilenet_block_qdq_pt mobilenet_block_qdq_pc mobilenet_block_qop_pt mobilenet_block_qop_pc
    resnet_block_qdq_pt resnet_block_qdq_pc resnet_block_qop_pt resnet_block_qop_pc
    unet_level_qdq_pt unet_level_qdq_pc unet_level_qop_pt unet_level_qop_pc
    upsampling_qdq_pt upsampling_qdq_pc
    cnn_basic_qdq_pc_s8 resnet_block_qop_pt_s8 unet_level_qdq_pt_s8sym
    nhwc_net_qdq_pt nhwc_net_qop_pc
    qonnx_w4a4 qonnx_w2a3_floor qonnx_w8_bipolar qonnx_classifier qonnx_trunc integer_ops batchnorm_qdq
    espcn_qdq_pt espcn_qdq_pc espcn_qop_pt espcn_qop_pc
    segnet_level_qdq_pt segnet_level_qdq_pc segnet_level_qop_pt segnet_level_qop_pc
    classifier_qdq_pt classifier_qdq_pc classifier_qop_pt classifier_qop_pc
    rearrange_qdq_pt rearrange_qdq_pc rearrange_qop_pt rearrange_qop_pc
}

/// Every model of the folder is in the list above (and the reverse).
#[test]
fn corpus_list_is_the_folder() {
    let mut found: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures")
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            let m = n.strip_suffix(".onnx")?;
            (!m.starts_with("refuse_")).then(|| m.to_string())
        })
        .collect();
    found.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed);
}

/// The HLS C simulation of every imported model equals the exact
/// reference on every value of every committed image: each design is
/// compiled once (two at a time), then run once per image with that
/// image's testbench data (the testbench also compares each output code
/// with the interpreter's). `-O0`: compiling dominates (the images are
/// small); about 10 minutes of one core for the 46 models.
#[test]
fn hls_csim_of_imported_models() {
    let Some(cpp) = tools::cpp() else { return };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(model) = CORPUS.get(i) else { break };
                if let Err(e) = csim_equals_reference(model, &cpp) {
                    failures.lock().expect("lock").push(e);
                }
            });
        }
    });
    let failures = failures.into_inner().expect("lock");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn csim_equals_reference(model: &str, cpp: &tools::Cpp) -> Result<(), String> {
    let (checked, _, images, expected) = imported(model);
    let program = &checked.program;
    let dir = scratch(&format!("import_csim/{model}"));
    let _ = std::fs::remove_dir_all(&dir);
    let name = &program.name;
    let exe = dir.join(format!("{name}_tb"));
    let per_image = expected.len() / images.len();
    let out_name = &program.outputs[0].name;
    for (k, image) in images.iter().enumerate() {
        let options = convoy::HlsOptions {
            inputs: Some(image.clone()),
            ..convoy::HlsOptions::default()
        };
        let project = convoy::emit_hls(program, &options).map_err(|d| format!("{model}: {d:?}"))?;
        for (path, text) in &project.files {
            // The design is the same for every image: only its data changes.
            if k > 0 && !path.starts_with("tb_data") {
                continue;
            }
            let full = dir.join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(&full, text).expect("write");
        }
        if k == 0 {
            let out = Command::new(&cpp.cxx)
                .args(["-O0", "-std=c++14", "-Wno-unknown-pragmas"])
                .arg("-isystem")
                .arg(&cpp.ap_types)
                .arg(dir.join(format!("{name}.cpp")))
                .arg(dir.join(format!("{name}_tb.cpp")))
                .arg("-o")
                .arg(&exe)
                .output()
                .expect("g++");
            if !out.status.success() {
                return Err(format!("{model}: g++ failed:\n{}", stderr(&out)));
            }
        }
        let run = Command::new(&exe)
            .current_dir(&dir)
            .output()
            .expect("run the testbench");
        if !run.status.success() {
            return Err(format!(
                "{model} image {k}: testbench failed:\n{}{}",
                stdout(&run),
                stderr(&run)
            ));
        }
        let csim =
            std::fs::read_to_string(dir.join("tb_data").join(format!("{out_name}.csim.txt")))
                .map_err(|e| format!("{model}: csim output: {e}"))?;
        let codes: Vec<i128> = csim
            .lines()
            .map(|l| l.trim().parse().expect("a code"))
            .collect();
        let want = &expected[k * per_image..(k + 1) * per_image];
        let differ = codes.iter().zip(want).filter(|(a, b)| a != b).count();
        if codes.len() != per_image || differ > 0 {
            return Err(format!(
                "{model} image {k}: HLS csim differs from the exact reference on {differ} of {per_image} values"
            ));
        }
    }
    Ok(())
}

/// `convoy import` writes the script and its data, prints the stage table,
/// refuses to overwrite without `--force`, and the result runs.
#[test]
fn cli_writes_checks_and_refuses_to_overwrite() {
    let dir = scratch("import_cli");
    let _ = std::fs::remove_dir_all(&dir);
    let model = fixtures().join("resnet_block_qop_pc.onnx");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_convoy"))
            .arg("import")
            .arg(&model)
            .arg("-o")
            .arg(&dir)
            .args(["--name", "resnet"])
            .args(extra)
            .output()
            .expect("convoy import")
    };
    let first = run(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("pipeline resnet"),
        "{}",
        stdout(&first)
    );
    assert!(dir.join("resnet.cnn").is_file());
    assert!(dir.join("resnet").is_dir());
    let fmt = Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(["fmt", "--check"])
        .arg(dir.join("resnet.cnn"))
        .output()
        .expect("convoy fmt");
    assert_eq!(fmt.status.code(), Some(0), "{}", stdout(&fmt));
    let again = run(&[]);
    assert_eq!(again.status.code(), Some(1));
    insta::assert_snapshot!(
        "output_exists",
        source_and_output(
            "convoy import resnet_block_qop_pc.onnx -o DIR --name resnet (twice)",
            &stderr(&again).replace(&*dir.to_string_lossy(), "DIR")
        )
    );
    let forced = run(&["--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    let ran = Command::new(env!("CARGO_BIN_EXE_convoy"))
        .arg("run")
        .arg(dir.join("resnet.cnn"))
        .arg("--input")
        .arg(format!(
            "x={}",
            fixtures().join("resnet_block_qop_pc.x.npy").display()
        ))
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .expect("convoy run");
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
}

/// Each malformed or unsupported model: exit 1, one snapshot of the error,
/// nothing written.
fn refused(case: &str, model: &std::path::Path) {
    let dir = scratch(&format!("import_refused/{case}"));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_convoy"))
        .arg("import")
        .arg(model)
        .arg("-o")
        .arg(&dir)
        .output()
        .expect("convoy import");
    assert_eq!(out.status.code(), Some(1), "{case}: {}", stderr(&out));
    assert!(!dir.exists(), "{case}: something was written");
    let shown = stderr(&out)
        .replace(&*fixtures().to_string_lossy(), "FIXTURES")
        .replace(&*model.to_string_lossy(), "MODEL");
    insta::assert_snapshot!(
        case,
        source_and_output(&format!("convoy import {case}.onnx -o DIR"), &shown)
    );
}

macro_rules! refusals {
    ($($case:ident)*) => {
        mod refuse {
            $(#[test]
            fn $case() {
                let model = super::fixtures().join(format!("refuse_{}.onnx", stringify!($case)));
                super::refused(stringify!($case), &model);
            })*
        }
        /// Every snapshot this module asserts (`snapshot_files.rs`).
        pub const SNAPSHOTS: &[&str] = &[
            $(stringify!($case),)* "truncated", "output_exists", "script_rejected",
        ];
    };
}

/// This module's snapshots as `(name, text)`, for the check that every
/// diagnostic code is shown by some snapshot (`diagnostics.rs`).
pub fn snapshots() -> Vec<(String, String)> {
    SNAPSHOTS
        .iter()
        .map(|name| {
            let path = root().join(format!("tests/it/snapshots/it__import__{name}.snap"));
            (
                name.to_string(),
                std::fs::read_to_string(&path).unwrap_or_default(),
            )
        })
        .collect()
}

refusals! {
    unknown_ops dynamic_shape layout scale_shape external too_wide upsampling_qop_pt float_chain
    layer_limits
}

#[test]
fn truncated_file_is_refused() {
    let bytes = std::fs::read(fixtures().join("cnn_basic_qdq_pt.onnx")).expect("model");
    let dir = scratch("import_truncated");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let cut = dir.join("truncated.onnx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    refused("truncated", &cut);
}

/// A script the checker refuses can only come from an importer bug: the
/// error names the file and shows the checker's words.
#[test]
fn built_script_rejected() {
    let e = ImportError::ScriptRejected {
        file: "model.onnx".into(),
        diagnostics: "[E103] Error: unknown name `w`".into(),
    };
    let text = render(&SourceMap::new(), &[e.diagnostic()], false);
    insta::assert_snapshot!(
        "script_rejected",
        source_and_output("(built by hand)", &text)
    );
}

/// The committed expected codes are the exact reference's: the reference
/// runs again on every committed model and input, and onnxruntime runs on
/// them too; the test prints how often onnxruntime differs from the exact
/// meaning (69 of 19,444 values with onnxruntime 1.32, `docs/import.md`).
#[test]
fn exact_reference_reproduces_the_expected_codes() {
    let Some(python) = tools::python_onnxruntime() else {
        return;
    };
    let out = Command::new(python)
        .arg(root().join("tools/onnx_corpus_check.py"))
        .output()
        .expect("run tools/onnx_corpus_check.py");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert_eq!(
        text.matches("reference reproduced").count(),
        CORPUS.len(),
        "{text}"
    );
    let total = text.lines().last().unwrap_or_default();
    eprintln!("{total}");
    assert!(total.contains("of 19444 values"), "{text}");
}

/// Cut and corrupted models never panic the importer: every prefix length
/// (by steps) and a few hundred random byte changes of three models give
/// a script or an error.
#[test]
fn corrupted_models_never_panic() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for model in ["cnn_basic_qdq_pc", "unet_level_qop_pt", "qonnx_w8_bipolar"] {
        let bytes = std::fs::read(fixtures().join(format!("{model}.onnx"))).expect("model");
        let step = (bytes.len() / 150).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            assert!(
                import(&bytes[..cut], model, "m").is_err() || cut > 0,
                "{model}: empty file imported"
            );
        }
        for _ in 0..300 {
            let mut b = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % b.len() as u64) as usize;
                b[at] = next() as u8;
            }
            let _ = import(&b, model, "m");
        }
    }
}

/// A model tensor named like one of the requantization's helper lets
/// (`conv8_u`, the floor quotient of `conv8`'s requantization) keeps its name
/// and the helper takes another: the script checks and computes the same
/// codes. The fixture's `maxpool5` (read before `conv8`) is renamed in place
/// to `conv8_u_` (same length, so the protobuf stays valid; the trailing `_`
/// is trimmed from the script name).
#[test]
fn model_names_do_not_clash_with_helper_lets() {
    let model = "cnn_basic_qdq_pt";
    let bytes = std::fs::read(fixtures().join(format!("{model}.onnx"))).expect("model");
    let (from, to) = (b"maxpool5", b"conv8_u_");
    let mut renamed = bytes.clone();
    let mut hits = 0;
    let mut i = 0;
    while i + from.len() <= renamed.len() {
        if &renamed[i..i + from.len()] == from {
            renamed[i..i + from.len()].copy_from_slice(to);
            hits += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(hits >= 4, "the fixture names maxpool5 {hits} times");
    let out = import(&renamed, "renamed.onnx", "renamed")
        .unwrap_or_else(|e| panic!("{}", render(&SourceMap::new(), &[e.diagnostic()], false)));
    assert!(
        out.script.contains("let conv8_u ") && out.script.contains("let conv8_u_2"),
        "the model's name and the helper's both appear:\n{}",
        out.script
    );
    let (original, ..) = imported(model);
    let files = Files(out.files.iter().cloned().collect());
    let mut sources = SourceMap::new();
    let id = sources.add("renamed.cnn".to_string(), out.script.clone());
    let checked = convoy::compile(&mut sources, id, &CheckOptions::default(), &files)
        .unwrap_or_else(|d| panic!("{}", render(&sources, &d, false)));
    let x = convoy::hls::random_inputs(&original.program, 7);
    assert_eq!(
        convoy::interpret(&checked.program, &x).expect("runs")[0].data,
        convoy::interpret(&original.program, &x).expect("runs")[0].data
    );
}
