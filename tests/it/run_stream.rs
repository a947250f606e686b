//! `convoy run`'s streaming path (`convoy::run::run_batch`) against the
//! whole-file path (`decode_inputs`, one run per image, `encode_outputs`),
//! byte for byte: every example, batches of 1, 7 and 1,000, every dtype the
//! data-files rules allow, `--raw`, Fortran-order and big-endian inputs;
//! and failed runs that leave no file behind.

use crate::cases::EXAMPLES;
use crate::common::{compile, root, stderr, Folder};
use convoy::data::{self, raw_to_npy, write_npy, Dtype, NpyData};
use convoy::ir::Program;
use convoy::run::{
    decode_inputs, encode_outputs, plan_batch, run_batch, ByteSink, InputFile, InputSpec,
    InterpRunner, JitRunner, StreamError, StreamOptions,
};
use convoy::JitOptions;
use std::path::{Path, PathBuf};
use std::process::Command;

fn load(path: &Path) -> Program {
    let src = std::fs::read_to_string(path).expect("read the script");
    let dir = path.parent().expect("folder").to_path_buf();
    compile(&path.display().to_string(), &src, &Folder(dir))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .0
        .program
}

fn example(name: &str) -> Program {
    load(&root().join("examples").join(format!("{name}.cnn")))
}

fn inline(src: &str) -> Program {
    compile("inline.cnn", src, &convoy::NoFiles)
        .unwrap_or_else(|e| panic!("{e}"))
        .0
        .program
}

/// One `.npy` file per input: `images` random images (a batch axis unless
/// `images` is `None`), in the dtype Convoy writes for the input's type.
fn random_files(program: &Program, images: Option<usize>, seed: u64) -> Vec<(String, Vec<u8>)> {
    program
        .inputs
        .iter()
        .enumerate()
        .map(|(k, info)| {
            let node = &program.nodes[info.node];
            let n = images.unwrap_or(1);
            let raw = data::random_raw(seed * 131 + k as u64, &node.ty, n * node.shape.len());
            let mut shape = node.shape.dims();
            if images.is_some() {
                shape.insert(0, n);
            }
            let bytes = raw_to_npy(&shape, &raw, &node.ty, false).expect("encodable");
            (info.name.clone(), bytes)
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Jit { threads: usize },
    Interp { threads: usize },
}

/// The streaming path: the outputs' bytes, or the error's messages.
fn stream(
    program: &Program,
    files: &[(String, Vec<u8>)],
    backend: Backend,
    budget: usize,
    raw: bool,
) -> Result<Vec<Vec<u8>>, String> {
    let specs: Vec<InputSpec> = files
        .iter()
        .map(|(name, bytes)| InputSpec {
            name: name.clone(),
            path: format!("{name}.npy"),
            source: bytes,
        })
        .collect();
    let messages = |e: StreamError| {
        e.diagnostics()
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let plan = plan_batch(program, &specs).map_err(messages)?;
    let mut outs: Vec<Vec<u8>> = program.outputs.iter().map(|_| vec![]).collect();
    let mut sinks: Vec<&mut dyn ByteSink> =
        outs.iter_mut().map(|o| o as &mut dyn ByteSink).collect();
    let options = StreamOptions {
        memory_budget: budget,
        raw,
    };
    let mut done = vec![];
    let result = match backend {
        Backend::Jit { threads } => {
            let jit = convoy::compile_jit(
                program,
                &JitOptions {
                    threads,
                    ..JitOptions::default()
                },
            )
            .expect("compiles");
            run_batch(
                &plan,
                &JitRunner { compiled: &jit },
                &mut sinks,
                &options,
                &mut |n| done.push(n),
            )
        }
        Backend::Interp { threads } => run_batch(
            &plan,
            &InterpRunner { program, threads },
            &mut sinks,
            &options,
            &mut |n| done.push(n),
        ),
    };
    let stats = result.map_err(messages)?;
    assert_eq!(
        done.last().copied().unwrap_or(0),
        plan.images.min(stats.images)
    );
    assert!(
        done.windows(2).all(|w| w[0] < w[1]),
        "progress goes forward: {done:?}"
    );
    Ok(outs)
}

/// The whole-file path `convoy run` took before streaming: every image
/// decoded to tensors, run one by one (JIT), every output encoded at once.
fn whole(
    program: &Program,
    files: &[(String, Vec<u8>)],
    raw: bool,
) -> Result<Vec<Vec<u8>>, String> {
    let inputs: Vec<InputFile> = files
        .iter()
        .map(|(name, bytes)| InputFile {
            name: name.clone(),
            path: format!("{name}.npy"),
            bytes: bytes.clone(),
        })
        .collect();
    let message = |d: convoy::Diagnostic| d.message;
    use convoy::diag::Report;
    let batch = decode_inputs(program, &inputs, raw).map_err(|e| {
        e.iter()
            .map(|e| message(e.diagnostic()))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let jit = convoy::compile_jit(program, &JitOptions::default()).expect("compiles");
    let mut results = vec![];
    for image in &batch.images {
        results.push(jit.run(image).map_err(|e| message(e.diagnostic()))?);
    }
    let encoded = encode_outputs(program, &results, batch.batched, raw)
        .map_err(|e| message(e.diagnostic()))?;
    Ok(encoded.into_iter().map(|(_, b)| b).collect())
}

mod every_example {
    small_examples!(super::every_example);
}

/// Every example: 7 images streamed in chunks of about 3 (JIT, threads
/// across images; JIT one image at a time; interpreter) equal the
/// whole-file path byte for byte.
fn every_example(name: &str) {
    let program = example(name);
    let files = random_files(&program, Some(7), 5);
    let expected = whole(&program, &files, false).expect("the whole path runs");
    let per_image: usize = files.iter().map(|(_, b)| b.len() / 7).sum::<usize>()
        + expected.iter().map(|b| b.len() / 7).sum::<usize>();
    let budget = 3 * per_image;
    for backend in [Backend::Jit { threads: 2 }, Backend::Jit { threads: 1 }] {
        let got = stream(&program, &files, backend, budget, false).expect("streams");
        assert!(
            got == expected,
            "{name}: {backend:?} differs from the whole-file path"
        );
    }
    // The debug interpreter is slow: two images of a smaller batch.
    let files = random_files(&program, Some(2), 6);
    let expected = whole(&program, &files, false).expect("the whole path runs");
    let got = stream(&program, &files, Backend::Interp { threads: 2 }, 1, false).expect("streams");
    assert!(got == expected, "{name}: the interpreter differs");
    // And no batch axis at all.
    let files = random_files(&program, None, 7);
    let expected = whole(&program, &files, false).expect("the whole path runs");
    let got = stream(
        &program,
        &files,
        Backend::Jit { threads: 0 },
        1 << 20,
        false,
    )
    .expect("streams");
    assert!(
        got == expected,
        "{name}: one image without a batch axis differs"
    );
}

#[test]
fn batches_of_1_7_and_1000_images() {
    let program = example("seed");
    for n in [1, 7] {
        let files = random_files(&program, Some(n), n as u64);
        let expected = whole(&program, &files, false).unwrap();
        for budget in [1, 100_000, 64 << 20] {
            let got = stream(&program, &files, Backend::Jit { threads: 0 }, budget, false).unwrap();
            assert!(got == expected, "{n} images, budget {budget}");
        }
    }
    // 1,000 images: several chunks on several threads, against one chunk
    // run one image at a time, and sampled images against the whole path.
    let files = random_files(&program, Some(1000), 9);
    let chunked = stream(
        &program,
        &files,
        Backend::Jit { threads: 2 },
        4 << 20,
        false,
    )
    .unwrap();
    let single = stream(
        &program,
        &files,
        Backend::Jit { threads: 1 },
        1 << 30,
        false,
    )
    .unwrap();
    assert!(
        chunked == single,
        "1,000 images: chunks and threads change the bytes"
    );
    let image_in = 16 * 32 * 64;
    let header = data::parse_npy_header(&files[0].1).unwrap().data_offset;
    let out_header = data::parse_npy_header(&chunked[0]).unwrap();
    assert_eq!(out_header.shape, vec![1000, 16, 32, 64]);
    for i in [0, 1, 499, 998, 999] {
        let image = files[0].1[header + i * image_in..header + (i + 1) * image_in].to_vec();
        let one = vec![(
            "x".to_string(),
            write_npy(
                &[16, 32, 64],
                &NpyData::Int(image.iter().map(|&b| i128::from(b)).collect()),
                Dtype::U8,
            ),
        )];
        let expected = whole(&program, &one, false).unwrap();
        let payload = &expected[0][expected[0].len() - image_in..];
        let at = out_header.data_offset + i * image_in;
        assert!(&chunked[0][at..at + image_in] == payload, "image {i}");
    }
}

/// A C-order little-endian array as a `.npy` file in another layout.
fn relayout(bytes: &[u8], fortran: bool, big_endian: bool) -> Vec<u8> {
    let arr = data::parse_npy(bytes).unwrap();
    let size = arr.dtype.itemsize();
    let header = data::parse_npy_header(bytes).unwrap();
    let payload = &bytes[header.data_offset..];
    let n = payload.len() / size;
    let c_strides = data::view::c_strides(&arr.shape);
    let f_strides = data::view::fortran_strides(&arr.shape);
    let mut out = vec![0u8; payload.len()];
    for flat in 0..n {
        let index = convoy::tensor::unravel(flat, &arr.shape);
        let c: usize = index.iter().zip(&c_strides).map(|(i, s)| i * s).sum();
        let f: usize = index.iter().zip(&f_strides).map(|(i, s)| i * s).sum();
        let to = if fortran { f } else { c };
        let element = &payload[c * size..(c + 1) * size];
        let slot = &mut out[to * size..(to + 1) * size];
        slot.copy_from_slice(element);
        if big_endian {
            slot.reverse();
        }
    }
    let descr = arr.dtype.descr();
    let descr = if big_endian && size > 1 {
        descr.replace('<', ">")
    } else {
        descr.to_string()
    };
    let shape: Vec<String> = arr.shape.iter().map(|d| d.to_string()).collect();
    let mut dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({},), }}",
        if fortran { "True" } else { "False" },
        shape.join(", ")
    );
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut file = b"\x93NUMPY\x01\x00".to_vec();
    file.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    file.extend_from_slice(dict.as_bytes());
    file.extend_from_slice(&out);
    assert_eq!(
        data::parse_npy(&file).unwrap(),
        arr,
        "the relayout keeps the values"
    );
    file
}

/// Values of `ty` that `dtype` holds, as that dtype's elements, shaped
/// `[n, 2, 3, 5]` (a few corner values, then a pseudo-random walk).
fn values_for(dtype: Dtype, lo: i128, hi: i128, frac_bits: i32, n: usize) -> NpyData {
    let count = n * 30;
    let (dlo, dhi) = match dtype {
        Dtype::Bool => (0, 1),
        d if d.is_float() => (i128::MIN, i128::MAX),
        d => {
            let bits = 8 * d.itemsize() as u32;
            if d.is_signed() {
                (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
            } else {
                (0, (1i128 << bits) - 1)
            }
        }
    };
    let (lo, hi) = (lo.max(dlo), hi.min(dhi));
    // Codes a float16 holds exactly: 11 significant bits.
    let (lo, hi) = if dtype == Dtype::F16 {
        (lo.max(-2048), hi.min(2048))
    } else {
        (lo, hi)
    };
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let codes: Vec<i128> = (0..count)
        .map(|i| match i {
            0 => lo,
            1 => hi,
            2 => 0.clamp(lo, hi),
            _ => {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let span = (hi - lo) as u128 + 1;
                lo + ((state >> 11) as u128 % span) as i128
            }
        })
        .collect();
    if dtype.is_float() {
        let scale = 2f64.powi(-frac_bits);
        NpyData::Float(codes.iter().map(|&c| c as f64 * scale).collect())
    } else {
        NpyData::Int(codes)
    }
}

/// Every dtype the data-files rules allow, for an integer input and a
/// fixed-point input (floats, and with `--raw` integer codes), each in C
/// and Fortran order, little- and big-endian: the streamed bytes equal the
/// whole-file path's, and so do the errors.
#[test]
fn every_dtype_every_layout() {
    let int_program = inline(
        "pipeline p {\n  input x: i12[2, 3, 5]\n  let y = x * 3\n  let z = x as i6 wrap\n  output y, z\n}\n",
    );
    let fixed_program = inline(
        "pipeline p {\n  input x: fixed<12, 4>[2, 3, 5]\n  let y = x * 3\n  let q = x as ufixed<8, 2, rnd, sat>\n  output x, y, q\n}\n",
    );
    let cases: Vec<(&Program, Dtype, bool)> = Dtype::ALL
        .iter()
        .map(|&d| (&int_program, d, false))
        .chain(
            [Dtype::F16, Dtype::F32, Dtype::F64]
                .into_iter()
                .map(|d| (&fixed_program, d, false)),
        )
        .chain(
            [
                Dtype::I8,
                Dtype::I16,
                Dtype::I32,
                Dtype::I64,
                Dtype::U8,
                Dtype::U16,
                Dtype::Bool,
            ]
            .into_iter()
            .map(|d| (&fixed_program, d, true)),
        )
        .collect();
    for (program, dtype, raw) in cases {
        let node = &program.nodes[program.inputs[0].node];
        let (lo, hi) = node.ty.code_bounds();
        let frac_bits = if raw { 0 } else { node.ty.frac_bits() };
        let file = write_npy(
            &[4, 2, 3, 5],
            &values_for(dtype, lo, hi, frac_bits, 4),
            dtype,
        );
        for (fortran, big) in [(false, false), (true, false), (false, true), (true, true)] {
            let files = vec![("x".to_string(), relayout(&file, fortran, big))];
            let what = format!(
                "{} from {dtype}, raw {raw}, fortran {fortran}, big-endian {big}",
                node.ty
            );
            let expected = whole(program, &files, raw).unwrap_or_else(|e| panic!("{what}: {e}"));
            for backend in [Backend::Jit { threads: 2 }, Backend::Interp { threads: 1 }] {
                let got = stream(program, &files, backend, 200, raw)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(got == expected, "{what}: {backend:?} differs");
            }
        }
    }
}

/// Bad values are refused with the whole path's words, at the same index.
#[test]
fn bad_values_are_named_as_before() {
    let int_program = inline("pipeline p {\n  input x: i12[2, 3, 5]\n  output x\n}\n");
    let fixed_program = inline("pipeline p {\n  input x: fixed<12, 4>[2, 3, 5]\n  output x\n}\n");
    let mut big = vec![0i128; 4 * 30];
    big[2 * 30 + 17] = 5000;
    let mut fraction = vec![0.0f64; 4 * 30];
    fraction[3 * 30 + 4] = 0.001; // not a multiple of 2^-8
    let mut nan = vec![0.0f64; 4 * 30];
    nan[29] = f64::NAN;
    let cases = [
        (
            &int_program,
            write_npy(&[4, 2, 3, 5], &NpyData::Int(big.clone()), Dtype::I16),
            false,
        ),
        (
            &int_program,
            write_npy(&[4, 2, 3, 5], &NpyData::Float(vec![0.5; 120]), Dtype::F32),
            false,
        ),
        (
            &fixed_program,
            write_npy(&[4, 2, 3, 5], &NpyData::Float(fraction), Dtype::F64),
            false,
        ),
        (
            &fixed_program,
            write_npy(&[4, 2, 3, 5], &NpyData::Float(nan), Dtype::F64),
            false,
        ),
        (
            &fixed_program,
            write_npy(&[4, 2, 3, 5], &NpyData::Int(big), Dtype::I16),
            true,
        ),
        (
            &fixed_program,
            write_npy(&[4, 2, 3, 5], &NpyData::Int(vec![1; 120]), Dtype::I16),
            false,
        ),
        (
            &fixed_program,
            write_npy(&[4, 2, 3, 5], &NpyData::Float(vec![1.0; 120]), Dtype::F64),
            true,
        ),
    ];
    for (program, file, raw) in cases {
        let files = vec![("x".to_string(), file)];
        let expected = refused(whole(program, &files, raw), "refused");
        for backend in [Backend::Jit { threads: 2 }, Backend::Interp { threads: 1 }] {
            let got = refused(stream(program, &files, backend, 100, raw), "refused");
            assert_eq!(got, expected, "{backend:?}");
        }
    }
}

/// A fixed-point output with more than 53 significant bits cannot be
/// float64: the same error as before, and `--raw` writes its codes.
#[test]
fn wide_fixed_outputs_and_raw() {
    let program =
        inline("pipeline p {\n  input x: fixed<32, 8>[1, 2, 2]\n  let y = x * x\n  output y\n}\n");
    // An odd 31-bit code: its square has 62 significant bits.
    let code = (1i64 << 31) - 1;
    let x = code as f64 * 2f64.powi(-24);
    let files = vec![(
        "x".to_string(),
        write_npy(&[3, 1, 2, 2], &NpyData::Float(vec![x; 12]), Dtype::F64),
    )];
    let expected = refused(whole(&program, &files, false), "not exact in float64");
    assert!(expected.contains("53"), "{expected}");
    let got = refused(
        stream(&program, &files, Backend::Jit { threads: 0 }, 64, false),
        "refused",
    );
    assert_eq!(got, expected);
    let raw_files = vec![(
        "x".to_string(),
        write_npy(
            &[3, 1, 2, 2],
            &NpyData::Int(vec![i128::from(code); 12]),
            Dtype::I32,
        ),
    )];
    let expected = whole(&program, &raw_files, true).unwrap();
    let got = stream(&program, &raw_files, Backend::Jit { threads: 0 }, 64, true).unwrap();
    assert!(got == expected);
}

/// The error of a run expected to fail.
fn refused<T>(result: Result<T, String>, what: &str) -> String {
    match result {
        Ok(_) => panic!("{what}: the run succeeded"),
        Err(e) => e,
    }
}

/// A sink that fails after `limit` bytes, as a full disk does.
struct FullDisk {
    written: usize,
    limit: usize,
}

impl ByteSink for FullDisk {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.written += bytes.len();
        if self.written > self.limit {
            return Err(std::io::Error::other("No space left on device"));
        }
        Ok(())
    }
}

/// A write error mid-run stops the run with the output's name (the CLI
/// then removes its temporary files).
#[test]
fn a_failing_writer_stops_the_run() {
    let program = example("seed");
    let files = random_files(&program, Some(20), 3);
    let specs: Vec<InputSpec> = files
        .iter()
        .map(|(name, bytes)| InputSpec {
            name: name.clone(),
            path: "x.npy".into(),
            source: bytes,
        })
        .collect();
    let plan = plan_batch(&program, &specs).unwrap();
    let jit = convoy::compile_jit(&program, &JitOptions::default()).unwrap();
    let mut sink = FullDisk {
        written: 0,
        limit: 100_000,
    };
    let mut sinks: Vec<&mut dyn ByteSink> = vec![&mut sink];
    let options = StreamOptions {
        memory_budget: 200_000,
        raw: false,
    };
    let mut done = 0;
    let e = run_batch(
        &plan,
        &JitRunner { compiled: &jit },
        &mut sinks,
        &options,
        &mut |n| done = n,
    )
    .expect_err("the disk is full");
    assert!(
        matches!(&e, StreamError::Io { path, reason } if path == "pw.npy" && reason.contains("No space")),
        "{e:?}"
    );
    assert!(done < 20, "the run stopped early ({done} images)");
}

fn convoy(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

/// 2,000 seed images as int16, one value out of u8's range in image 1,500.
fn batch_with_a_bad_image(dir: &Path) -> PathBuf {
    let count = 2000 * 16 * 32 * 64;
    let mut values: Vec<i128> = (0..count).map(|i| (i * 7 % 256) as i128).collect();
    values[1500 * 16 * 32 * 64 + 3 * 64 + 5] = 256;
    let path = dir.join("x.npy");
    std::fs::write(
        &path,
        write_npy(&[2000, 16, 32, 64], &NpyData::Int(values), Dtype::I16),
    )
    .unwrap();
    path
}

fn entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![],
    }
}

/// A bad value in image 1,500 of 2,000: exit 1, the value named with its
/// index, and nothing written (not even the output folder).
#[test]
fn a_bad_image_late_in_the_batch_leaves_nothing() {
    let dir = crate::common::scratch("run_stream/bad_image");
    let x = batch_with_a_bad_image(&dir);
    let out = dir.join("out");
    let o = convoy(&[
        "run",
        "examples/seed.cnn",
        "-i",
        &format!("x={}", x.display()),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("[1500, 0, 3, 5]") && stderr(&o).contains("256"),
        "{}",
        stderr(&o)
    );
    assert!(
        !out.exists(),
        "the output folder was left: {:?}",
        entries(&out)
    );
    // An existing folder keeps only what it had.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let o = convoy(&[
        "run",
        "examples/seed.cnn",
        "-i",
        &format!("x={}", x.display()),
        "-o",
        out.to_str().unwrap(),
        "--memory",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(entries(&out), vec!["keep.txt".to_string()]);
}

/// `--stats` reports the run; outputs equal the interpreter's.
#[test]
fn stats_line_and_backends_agree_through_the_cli() {
    let dir = crate::common::scratch("run_stream/stats");
    let program = example("unpool");
    let files = random_files(&program, Some(5), 11);
    let x = dir.join("x.npy");
    std::fs::write(&x, &files[0].1).unwrap();
    let run = |backend: &str, out: &Path| {
        let o = convoy(&[
            "run",
            "examples/unpool.cnn",
            "-i",
            &format!("x={}", x.display()),
            "-o",
            out.to_str().unwrap(),
            "--backend",
            backend,
            "--stats",
            "--memory",
            "1",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let stdout = run("jit", &dir.join("jit"));
    assert!(
        stdout.contains("stats: 5 images in")
            && stdout.contains("images/s")
            && stdout.contains("MB/s")
            && stdout.contains("peak RSS")
            && stdout.contains("compute"),
        "{stdout}"
    );
    run("interp", &dir.join("interp"));
    for name in ["u.npy", "n.npy"] {
        assert_eq!(
            std::fs::read(dir.join("jit").join(name)).unwrap(),
            std::fs::read(dir.join("interp").join(name)).unwrap()
        );
    }
    assert_eq!(
        entries(&dir.join("jit")).len(),
        program.outputs.len(),
        "no temporary file left"
    );
}

/// A small tmpfs at `dir` with mount `options`, as root or through
/// `sudo -n`; unmounted when dropped.
fn tmpfs(dir: &Path, options: &str) -> Option<TmpfsMount> {
    let attempt = |prefix: &[&str]| -> Result<(), String> {
        let mut args: Vec<&str> = prefix.to_vec();
        args.extend(["mount", "-t", "tmpfs", "-o", options, "tmpfs"]);
        let o = Command::new(args[0])
            .args(&args[1..])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(())
        } else {
            Err(stderr(&o).trim().to_string())
        }
    };
    let mounted = if cfg!(target_os = "linux") {
        attempt(&[]).map(|()| false).or_else(|e| {
            attempt(&["sudo", "-n"])
                .map(|()| true)
                .map_err(|e2| format!("{e}; with sudo -n: {e2}"))
        })
    } else {
        Err("not Linux".to_string())
    };
    let sudo =
        crate::common::tools::require("mount (root or sudo -n, to mount a small tmpfs)", mounted)?;
    Some(TmpfsMount(dir.to_path_buf(), sudo))
}

struct TmpfsMount(PathBuf, bool);

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let _ = if self.1 {
            Command::new("sudo")
                .args(["-n", "umount"])
                .arg(&self.0)
                .output()
        } else {
            Command::new("umount").arg(&self.0).output()
        };
    }
}

/// A full disk and a read-only folder: exit 1, the output named, nothing left.
#[test]
fn a_full_disk_or_a_read_only_folder_leaves_nothing() {
    let dir = crate::common::scratch("run_stream/disk");
    let program = example("seed");
    let files = random_files(&program, Some(200), 4);
    let x = dir.join("x.npy");
    std::fs::write(&x, &files[0].1).unwrap();
    let full = dir.join("full");
    std::fs::create_dir_all(&full).unwrap();
    let Some(_mount) = tmpfs(&full, "size=1m") else {
        return;
    };
    let out = full.join("out");
    let o = convoy(&[
        "run",
        "examples/seed.cnn",
        "-i",
        &format!("x={}", x.display()),
        "-o",
        out.to_str().unwrap(),
        "--memory",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("pw.npy"), "{}", stderr(&o));
    assert_eq!(entries(&full), Vec::<String>::new(), "left behind");
    let ro = dir.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    let Some(_ro_mount) = tmpfs(&ro, "ro,size=1m") else {
        return;
    };
    let o = convoy(&[
        "run",
        "examples/seed.cnn",
        "-i",
        &format!("x={}", x.display()),
        "-o",
        ro.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("pw.npy") && stderr(&o).contains("Read-only"),
        "{}",
        stderr(&o)
    );
    assert_eq!(entries(&ro), Vec::<String>::new());
}

#[allow(dead_code)]
const _EXAMPLES_ARE_LISTED: &[&str] = EXAMPLES;

/// An input without a batch axis is read by every image of the others'
/// batch; a batch of zero images writes empty outputs; batch sizes must agree.
#[test]
fn broadcast_inputs_empty_batches_and_mismatched_batches() {
    let program = inline(
        "pipeline p {\n  input a: u8[2, 3, 4]\n  input b: i8[2, 3, 4]\n  let y = a + b\n  output y\n}\n",
    );
    let batched = random_files(&program, Some(9), 1);
    let single = random_files(&program, None, 2);
    let files = vec![batched[0].clone(), single[1].clone()];
    let expected = whole(&program, &files, false).unwrap();
    for backend in [Backend::Jit { threads: 2 }, Backend::Interp { threads: 2 }] {
        let got = stream(&program, &files, backend, 100, false).unwrap();
        assert!(got == expected, "{backend:?}");
    }
    let empty = random_files(&program, Some(0), 1);
    let expected = whole(&program, &empty, false).unwrap();
    let got = stream(&program, &empty, Backend::Jit { threads: 2 }, 100, false).unwrap();
    assert!(got == expected, "an empty batch");
    assert_eq!(
        data::parse_npy_header(&got[0]).unwrap().shape,
        vec![0, 2, 3, 4]
    );
    let other = random_files(&program, Some(8), 3);
    let files = vec![batched[0].clone(), other[1].clone()];
    let expected = refused(whole(&program, &files, false), "mismatch");
    let got = refused(
        stream(&program, &files, Backend::Jit { threads: 0 }, 100, false),
        "mismatch",
    );
    assert_eq!(got, expected);
    assert!(got.contains("batch sizes differ"), "{got}");
}

/// Files that are not valid `.npy` are refused from their headers with the
/// whole-file path's words (the streamed run reads only the header first).
#[test]
fn broken_files_are_named_as_before() {
    let program = inline("pipeline p {\n  input x: u8[2, 3, 4]\n  output x\n}\n");
    let good = write_npy(&[5, 2, 3, 4], &NpyData::Int(vec![7; 120]), Dtype::U8);
    let header_len = data::parse_npy_header(&good).unwrap().data_offset;
    let mut long = good.clone();
    long.push(0);
    let mut version = good.clone();
    version[6] = 9;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("not npy", b"hello world, not numpy".to_vec()),
        ("magic only", b"\x93NUMPY".to_vec()),
        ("preamble cut", good[..9].to_vec()),
        ("header cut", good[..header_len - 5].to_vec()),
        ("payload short", good[..good.len() - 1].to_vec()),
        ("payload long", long),
        ("version", version),
        (
            "shape",
            write_npy(&[5, 2, 4, 3], &NpyData::Int(vec![7; 120]), Dtype::U8),
        ),
    ];
    for (what, file) in cases {
        let files = vec![("x".to_string(), file)];
        let expected = refused(whole(&program, &files, false), what);
        let got = refused(
            stream(&program, &files, Backend::Jit { threads: 0 }, 100, false),
            what,
        );
        assert_eq!(got, expected, "{what}");
    }
}
