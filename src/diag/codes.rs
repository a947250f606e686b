//! Every diagnostic code, once: the code, a short title and the phase that
//! reports it. `messages` builds diagnostics only from these constants, so a
//! code is a compile-time name: writing one twice in this table does not
//! compile, and `tests/it/diagnostics.rs` checks that each is used by exactly one
//! message and shown by at least one snapshot.
//!
//! Codes are stable: users search for them. A retired code is not reused.

/// Which part of Convoy reports a diagnostic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The parser (`syntax`): E0xx.
    Syntax,
    /// The checker (`check`): E1xx errors, Wxxx warnings, Nxxx notes.
    Check,
    /// `convoy run`'s input and output files (`run`) and the CLI's own file
    /// access: E2xx.
    Files,
    /// The reference interpreter (`interp`), also reported by the JIT at run
    /// time: E3xx.
    Runtime,
    /// The HLS C++ emitter (`hls`): E4xx.
    Hls,
    /// `convoy test` (`testing`): E5xx.
    Testing,
    /// The Cranelift JIT (`jit`), compiling and running: E6xx.
    Jit,
    /// `convoy import` (`import`), reading ONNX models: E700-E749.
    Import,
}

/// One diagnostic code of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Code {
    /// What users see and search for, e.g. `E103`.
    pub id: &'static str,
    /// What the diagnostic is about, in a few words.
    pub title: &'static str,
    pub phase: Phase,
}

/// Declares one constant per code, named by the code, and [`ALL`] in table
/// order.
macro_rules! codes {
    ($($phase:ident { $($id:ident $title:literal,)* })*) => {
        $($(
            #[doc = $title]
            pub const $id: Code = Code { id: stringify!($id), title: $title, phase: Phase::$phase };
        )*)*
        /// Every code, in table order.
        pub const ALL: &[Code] = &[$($($id,)*)*];
    };
}

codes! {
    Syntax {
        E001 "unexpected token",
        E002 "stray semicolon",
        E003 "missing `=`",
        E004 "type name with spaces",
        E005 "unknown fixed-point mode",
        E006 "misplaced fixed-point mode",
        E007 "unsupported width",
        E008 "number too large",
        E009 "overflow mode after a fixed-point cast",
        E010 "not a test statement",
        E011 "test without `run`",
        E012 "test with two `run`s",
    }
    Check {
        E100 "no pipeline",
        E101 "no pipeline of that name",
        E102 "several pipelines",
        E103 "unknown name",
        E104 "declared twice",
        E105 "unknown stage or block",
        E106 "unknown standard-library module",
        E107 "unknown standard-library block",
        E108 "block named like a stage",
        E109 "recursive block",
        E110 "declaration not allowed in a block",
        E111 "pipeline without outputs",
        E112 "not a tensor",
        E113 "not a constant integer",
        E114 "wrong number of values to unpack",
        E115 "unknown argument",
        E116 "missing argument",
        E117 "too many arguments",
        E118 "argument given twice",
        E119 "bad pair",
        E120 "mode not allowed here",
        E121 "zero parameter",
        E122 "parameter out of range",
        E130 "wrong rank",
        E131 "weights do not match the input",
        E132 "groups do not divide the channels",
        E133 "kernel larger than the padded input",
        E134 "empty output",
        E135 "output_pad too large",
        E136 "pooling pad too large",
        E137 "shapes do not broadcast",
        E138 "cannot concatenate",
        E139 "inexact bilinear factor",
        E140 "indices do not fit the maxunpool",
        E141 "tensor too large",
        E142 "declared shape does not match",
        E143 "halo of a non-map",
        E150 "cast not proven",
        E151 "value does not fit its annotation",
        E152 "fraction bits the annotation cannot hold",
        E153 "value too wide for exact arithmetic",
        E154 "output too wide",
        E155 "literal without an exact binary value",
        E156 "`const` with dimensions",
        E157 "shift amount out of range",
        E160 "cannot read a data file",
        E161 "data file not a valid .npy",
        E162 "data file of the wrong shape",
        E163 "data file value the type cannot hold",
        E164 "block size does not divide the map",
        E165 "reshape changes the element count",
        E166 "reshape sizes not [C, H, W]",
        E167 "slice argument not a range",
        E168 "slice out of bounds",
        E169 "empty slice",
        E170 "pad value the type cannot hold",
        E175 "unknown attribute",
        E176 "unknown or repeated attribute key",
        E177 "parallel factor not positive",
        E178 "parallel factor does not divide the stage",
        E179 "stage without a parallel form",
        E180 "table input too wide",
        E181 "user table of the wrong length",
        E182 "table entry without a value",
        E183 "table output type missing",
        E184 "user table given another type",
        E185 "dense weights of the wrong shape",
        W001 "never used",
        W002 "saturation never triggers",
        W003 "cast can wrap",
        W004 "pixels never read",
        N001 "const stored inexactly",
    }
    Files {
        E200 "no data for an input",
        E201 "unknown input",
        E202 "input given twice",
        E203 "input file not a valid .npy",
        E204 "input file of the wrong shape",
        E205 "input value the type cannot hold",
        E206 "batch sizes differ",
        E207 "output not writable as .npy",
        E210 "file not readable or writable",
    }
    Runtime {
        E300 "maxunpool index outside the plane",
        E301 "wrong number of inputs",
        E302 "input of the wrong shape",
        E303 "input of the wrong length",
        E304 "input of the wrong fraction bits",
        E305 "input value outside its type",
        E306 "program names a missing node",
        E307 "internal error while running",
    }
    Hls {
        E400 "value too wide for the HLS emitter",
        E401 "constant without an exact C++ literal",
        E402 "not supported by the HLS backend",
        E403 "--parallel names an unknown stage",
        E404 "unreadable --parallel",
        E405 "parallel factor does not divide",
        E406 "parallel knob does not apply",
        E407 "testbench input of the wrong shape",
    }
    Testing {
        E500 "test runs an unknown pipeline",
        E501 "test gives an unknown input",
        E502 "test misses an input",
        E503 "test gives an input twice",
        E504 "test names an unknown value",
        E505 "test names an unknown `let`",
        E506 "test data file not readable",
        E507 "test data file not a valid .npy",
        E508 "test data file of the wrong shape",
        E509 "test data file of the wrong dtype",
        E510 "test data file value the type cannot hold",
        E511 "two tests of one name",
        E512 "test of a pipeline that does not check",
    }
    Jit {
        E600 "the JIT cannot compile a node",
        E601 "code generation failed",
        E602 "unsupported host",
        E603 "inconsistent program",
        E610 "workspace of another pipeline",
        E640 "JIT code panicked",
    }
    Import {
        E700 "not a readable ONNX model",
        E701 "tensor data in an external file",
        E702 "unsupported nodes",
        E703 "dynamic input shape",
        E704 "unquantized float region",
        E705 "scale or zero point of the wrong shape",
        E706 "unsupported model layout",
        E707 "exact requantization too wide",
        E708 "import output exists",
        E709 "imported script does not check",
    }
}

/// The code whose id is `id`, if any.
pub fn find(id: &str) -> Option<Code> {
    ALL.iter().copied().find(|c| c.id == id)
}
