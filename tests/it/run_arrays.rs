//! `convoy::run::run_arrays` (the Python package's path: numpy buffers in,
//! caller-owned buffers out) against the streamed files of `convoy run`,
//! byte for byte on every small example; and its errors, which name the
//! array.

use crate::common::{compile, root, Folder};
use convoy::data::{self, parse_npy_header, raw_to_npy, NpyHeader};
use convoy::ir::Program;
use convoy::run::{
    plan_arrays, plan_batch, run_arrays, run_batch, ArrayInput, ByteSink, ImageRunner, InputSpec,
    InterpRunner, JitRunner, StreamError, StreamOptions,
};
use convoy::JitOptions;

pub(crate) fn example(name: &str) -> Program {
    let path = root().join("examples").join(format!("{name}.cnn"));
    let src = std::fs::read_to_string(&path).expect("read the script");
    let dir = path.parent().expect("folder").to_path_buf();
    compile(&path.display().to_string(), &src, &Folder(dir))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .0
        .program
}

/// One `.npy` file per input, `images` random images under a batch axis.
pub(crate) fn random_files(program: &Program, images: usize, seed: u64) -> Vec<(String, Vec<u8>)> {
    (program.inputs.iter().enumerate())
        .map(|(k, info)| {
            let node = &program.nodes[info.node];
            let raw = data::random_raw(seed * 17 + k as u64, &node.ty, images * node.shape.len());
            let mut shape = node.shape.dims();
            shape.insert(0, images);
            let bytes = raw_to_npy(&shape, &raw, &node.ty, false).expect("encodable");
            (info.name.clone(), bytes)
        })
        .collect()
}

fn messages(e: StreamError) -> String {
    (e.diagnostics().iter())
        .map(|d| d.message.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The streamed run's output payloads (headers dropped).
fn streamed<R: ImageRunner>(runner: &R, files: &[(String, Vec<u8>)]) -> Vec<Vec<u8>> {
    let specs: Vec<InputSpec> = (files.iter())
        .map(|(name, bytes)| InputSpec {
            name: name.clone(),
            path: format!("{name}.npy"),
            source: bytes,
        })
        .collect();
    let plan = plan_batch(runner.program(), &specs).expect("plans");
    let mut outs: Vec<Vec<u8>> = runner.program().outputs.iter().map(|_| vec![]).collect();
    let mut sinks: Vec<&mut dyn ByteSink> =
        outs.iter_mut().map(|o| o as &mut dyn ByteSink).collect();
    run_batch(
        &plan,
        runner,
        &mut sinks,
        &StreamOptions::default(),
        &mut |_| {},
    )
    .expect("streams");
    outs.iter().map(|b| split_npy(b).1.to_vec()).collect()
}

/// A `.npy` file's header and payload.
fn split_npy(file: &[u8]) -> (NpyHeader, &[u8]) {
    let header = parse_npy_header(file).expect("an npy file");
    let payload = &file[header.data_offset..];
    (header, payload)
}

/// The in-memory run of the files' payloads: the outputs' bytes.
pub(crate) fn in_memory<R: ImageRunner>(
    runner: &R,
    files: &[(String, Vec<u8>)],
) -> Result<Vec<Vec<u8>>, String> {
    let arrays: Vec<(String, String, Vec<usize>, &[u8])> = (files.iter())
        .map(|(name, bytes)| {
            let (header, payload) = split_npy(bytes);
            let descr = header.dtype.descr().to_string();
            (name.clone(), descr, header.shape, payload)
        })
        .collect();
    let inputs: Vec<ArrayInput> = (arrays.iter())
        .map(|(name, descr, shape, bytes)| ArrayInput {
            name: name.clone(),
            descr: descr.clone(),
            shape: shape.clone(),
            bytes,
        })
        .collect();
    let plan = plan_arrays(runner, &inputs, false, |n| format!("array `{n}`")).map_err(messages)?;
    let mut outs: Vec<Vec<u8>> = plan.outputs.iter().map(|o| vec![0; o.byte_len()]).collect();
    let mut slices: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
    run_arrays(runner, &plan, &mut slices).map_err(messages)?;
    Ok(outs)
}

mod every_example {
    small_examples!(super::every_example);
}

/// Every example, 5 images: the JIT on 2 threads (images across threads)
/// and on 1 (one image at a time, row threads off) and the interpreter give
/// the bytes of the streamed run.
fn every_example(name: &str) {
    let program = example(name);
    let files = random_files(&program, 5, 3);
    for threads in [2, 1] {
        let jit = convoy::compile_jit(
            &program,
            &JitOptions {
                threads,
                ..JitOptions::default()
            },
        )
        .expect("compiles");
        let runner = JitRunner { compiled: &jit };
        let expected = streamed(&runner, &files);
        let got = in_memory(&runner, &files).expect("runs");
        assert!(got == expected, "{name}: jit {threads} thread(s) differs");
    }
    let files = random_files(&program, 2, 4);
    let runner = InterpRunner {
        program: &program,
        threads: 2,
    };
    let expected = streamed(&runner, &files);
    assert!(in_memory(&runner, &files).expect("runs") == expected);
    // The JIT's outputs, stored straight into the caller's bytes where they
    // can be (`output_direct`), are the interpreter's.
    let jit = convoy::compile_jit(&program, &JitOptions::default()).expect("compiles");
    let got = in_memory(&JitRunner { compiled: &jit }, &files).expect("runs");
    assert!(got == expected, "{name}: jit differs from the interpreter");
}

/// An output no stage reads is computed straight into the caller's bytes;
/// one a later stage reads (with or without a halo), or whose buffer has a
/// declared halo, is copied out of the workspace. Both give the interpreter's bytes, on one thread and on
/// two (images across threads, each writing its own part of the output).
#[test]
fn outputs_go_straight_into_the_callers_bytes_when_nothing_else_reads_them() {
    let src = "pipeline p {
  input x: u8[4, 8, 64] pad 1
  param w: i8[4, 1, 3, 3] = random(seed: 1)
  let a = relu(dwconv(x, w, pad: 1) >> 4) as u8 wrap
  let b = relu(dwconv(a, w, pad: 1) >> 4) as u8 wrap
  let c: u8[4, 8, 64] pad 1 = a + 1 as u8 wrap
  let e = (b >> 1) as u8 wrap
  output a, b, c, e
}";
    let (checked, _) = compile("direct.cnn", src, &convoy::NoFiles).expect("compiles");
    let program = checked.program;
    let files = random_files(&program, 7, 5);
    let interp = InterpRunner {
        program: &program,
        threads: 1,
    };
    let expected = in_memory(&interp, &files).expect("runs");
    for threads in [1, 2] {
        let options = JitOptions {
            threads,
            ..JitOptions::default()
        };
        let jit = convoy::compile_jit(&program, &options).expect("compiles");
        let direct: Vec<bool> = (0..4).map(|k| jit.output_direct(k)).collect();
        // a has the halo b's convolution reads, e reads b, c has a halo.
        assert_eq!(direct, [false, false, false, true]);
        let got = in_memory(&JitRunner { compiled: &jit }, &files).expect("runs");
        assert!(got == expected, "{threads} thread(s): jit differs");
    }
}

#[test]
fn errors_name_the_array() {
    let program = example("seed");
    let runner = InterpRunner {
        program: &program,
        threads: 1,
    };
    let files = random_files(&program, 1, 1);
    let (header, bytes) = split_npy(&files[0].1);
    let shape = header.shape.clone();
    let run = |descr: &str, shape: &[usize], bytes: &[u8]| {
        let inputs = [ArrayInput {
            name: "x".into(),
            descr: descr.into(),
            shape: shape.to_vec(),
            bytes,
        }];
        match plan_arrays(&runner, &inputs, false, |n| format!("array `{n}`")) {
            Ok(_) => String::new(),
            Err(e) => messages(e),
        }
    };
    let complex = run("<c16", &shape, bytes);
    assert!(complex.starts_with("array `x`:"), "{complex}");
    assert!(complex.contains("complex"), "{complex}");
    let short = run(header.dtype.descr(), &shape, &bytes[1..]);
    assert!(short.contains("do not hold"), "{short}");
    let wrong_shape = [shape[0], shape[1], 1];
    let wrong_len = wrong_shape.iter().product::<usize>() * header.dtype.itemsize();
    let wrong = run(header.dtype.descr(), &wrong_shape, &bytes[..wrong_len]);
    assert!(wrong.contains("does not match input `x`"), "{wrong}");
    let ok = run(header.dtype.descr(), &shape, bytes);
    assert_eq!(ok, "");
    // A buffer of the wrong size is an error, not a panic.
    let inputs = [ArrayInput {
        name: "x".into(),
        descr: header.dtype.descr().into(),
        shape: shape.clone(),
        bytes,
    }];
    let plan = plan_arrays(&runner, &inputs, false, |n| n.to_string()).expect("plans");
    let mut small = [0u8; 3];
    let err = run_arrays(&runner, &plan, &mut [&mut small[..]]).expect_err("too small");
    assert!(messages(err).contains("the buffer has 3 bytes"));
}

/// Images go to whichever thread is free, in blocks: with bad values in
/// images 5, 6 and 17 of 20, the error names image 5 (the first in
/// batch order) on one thread and on two, for the JIT and the interpreter.
#[test]
fn the_first_bad_image_in_batch_order_is_the_error_on_any_threads() {
    let program = example("seed");
    let node = &program.nodes[program.inputs[0].node];
    let (images, len) = (20, node.shape.len());
    let raw = data::random_raw(5, &node.ty, images * len);
    let mut codes: Vec<i16> = raw.iter().map(|&v| v as i16).collect();
    for (image, at) in [(17, 7), (6, 3), (5, 2 * len / 3)] {
        codes[image * len + at] = 300;
    }
    let bytes: Vec<u8> = codes.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut shape = node.shape.dims();
    shape.insert(0, images);
    let run = |runner: &dyn Fn(&[ArrayInput]) -> String| {
        runner(&[ArrayInput {
            name: "x".into(),
            descr: "<i2".into(),
            shape: shape.clone(),
            bytes: &bytes,
        }])
    };
    fn message<R: ImageRunner>(runner: &R, inputs: &[ArrayInput]) -> String {
        let plan = plan_arrays(runner, inputs, false, |n| format!("array `{n}`")).expect("plans");
        let mut outs: Vec<Vec<u8>> = plan.outputs.iter().map(|o| vec![0; o.byte_len()]).collect();
        let mut slices: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
        run_arrays(runner, &plan, &mut slices).map_or_else(messages, |()| String::new())
    }
    for threads in [1, 2] {
        let options = JitOptions {
            threads,
            ..JitOptions::default()
        };
        let jit = convoy::compile_jit(&program, &options).expect("compiles");
        let got = run(&|inputs| message(&JitRunner { compiled: &jit }, inputs));
        assert!(got.contains("[5,"), "jit, {threads} thread(s): {got}");
        let interp = InterpRunner {
            program: &program,
            threads,
        };
        let got = run(&|inputs| message(&interp, inputs));
        assert!(
            got.contains("[5,"),
            "interpreter, {threads} thread(s): {got}"
        );
    }
}
