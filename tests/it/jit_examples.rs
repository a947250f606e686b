//! Every example (and, through them, the stdlib blocks) runs under the JIT
//! and the interpreter on random inputs: the outputs must be bit-identical.
//! One test per example.

use crate::cases::EXAMPLES;
use crate::common::{compile, random_inputs, root, Folder};
use convoy::jit::{Isa, JitOptions};

mod agree {
    examples!(super::agree);
}

/// Every JIT configuration must agree with the interpreter on
/// `examples/<name>.cnn`.
fn agree(name: &str) {
    let path = &root().join("examples").join(format!("{name}.cnn"));
    let src = std::fs::read_to_string(path).expect("read example");
    let dir = path.parent().expect("folder").to_path_buf();
    let (checked, _) = compile(&path.display().to_string(), &src, &Folder(dir))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let program = &checked.program;
    // Default (AVX-512 kernels where they fit), Cranelift's vector code
    // only (with VNNI, then with pmaddwd), and scalar code only.
    // Then every forced instruction set the host runs (`--isa`), on two
    // threads.
    let forced = [Isa::Avx512, Isa::Avx2, Isa::Avx2Vnni, Isa::Scalar]
        .into_iter()
        .filter(|&isa| convoy::jit::isa_supported(isa))
        .map(|isa| JitOptions {
            threads: 2,
            min_job: 1,
            isa,
            ..JitOptions::default()
        });
    let configs = [
        JitOptions::default(),
        JitOptions {
            native: false,
            ..JitOptions::default()
        },
        JitOptions {
            native: false,
            vnni: false,
            ..JitOptions::default()
        },
        JitOptions {
            threads: 1,
            simd: false,
            disasm: false,
            native: false,
            vnni: false,
            ..JitOptions::default()
        },
    ];
    let jits: Vec<_> = configs
        .into_iter()
        .chain(forced)
        .map(|o| {
            convoy::compile_jit(program, &o).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect();
    // The large benchmark maps take the debug interpreter a while: one image.
    let seeds = if program.total_macs() > 20_000_000 {
        1
    } else {
        2
    };
    for seed in 0..seeds {
        let inputs = random_inputs(program, |k| seed * 31 + k as u64);
        let expected = convoy::interpret(program, &inputs).expect("interpreter runs");
        for jit in &jits {
            let got = jit
                .run(&inputs)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(got.len(), expected.len());
            for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
                assert_eq!(g.shape, e.shape, "{} output {k}", path.display());
                assert_eq!(g.frac, e.frac, "{} output {k}", path.display());
                if let Some(i) = g.data.iter().zip(&e.data).position(|(a, b)| a != b) {
                    panic!(
                        "{} output {k} differs at flat {i}: jit {} interp {}",
                        path.display(),
                        g.data[i],
                        e.data[i]
                    );
                }
            }
        }
    }
}

#[test]
fn no_example_went_missing() {
    let bench = EXAMPLES.iter().filter(|e| e.starts_with("bench_")).count();
    assert!(EXAMPLES.len() - bench >= 4, "{EXAMPLES:?}");
    assert_eq!(bench, 2, "{EXAMPLES:?}");
}
