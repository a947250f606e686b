//! The syntax tree of a `.cnn` file, as written (pipes and blocks not yet expanded).
//! Every node carries the span it was parsed from.

use crate::span::{Span, Spanned};
use crate::types::{Overflow, ScalarType};

pub type Ident = Spanned<String>;

#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub items: Vec<Item>,
    /// `test` declarations, in file order (kept apart from `items`: they are
    /// not part of any pipeline and only `convoy test` reads them).
    pub tests: Vec<TestDecl>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Use(UseDecl),
    Block(BlockDecl),
    Pipeline(Pipeline),
}

/// `use std::blocks::dsconv`
#[derive(Clone, Debug, PartialEq)]
pub struct UseDecl {
    pub path: Vec<Ident>,
    pub span: Span,
}

/// `block NAME(params) { statements  return expr }`
#[derive(Clone, Debug, PartialEq)]
pub struct BlockDecl {
    pub doc: Vec<String>,
    pub name: Ident,
    pub params: Vec<BlockParam>,
    pub body: Vec<Stmt>,
    pub result: Expr,
    pub span: Span,
}

/// A block parameter, `x` or `shift = 8` (a default makes it optional).
#[derive(Clone, Debug, PartialEq)]
pub struct BlockParam {
    pub name: Ident,
    pub default: Option<Expr>,
}

/// `pipeline NAME { statements }`
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    pub name: Ident,
    pub body: Vec<Stmt>,
    pub span: Span,
}

/// `test NAME { run PIPELINE with x = load("x.npy")  expectations }`
/// (docs/testing.md).
#[derive(Clone, Debug, PartialEq)]
pub struct TestDecl {
    pub name: Ident,
    /// The `run` line; the converter guarantees exactly one.
    pub run: TestRun,
    pub checks: Vec<TestCheck>,
    pub span: Span,
}

/// `run seed with x = load("golden/x.npy"), y = random(seed: 3)`
#[derive(Clone, Debug, PartialEq)]
pub struct TestRun {
    pub pipeline: Ident,
    pub inputs: Vec<TestInput>,
    pub span: Span,
}

/// `x = load("golden/x.npy")` or `x = random(seed: 3)` in a `run` line.
#[derive(Clone, Debug, PartialEq)]
pub struct TestInput {
    pub name: Ident,
    pub init: Init,
    pub span: Span,
}

/// Which dynamic overflow `expect no ...` rules out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverflowKind {
    /// A saturating cast (`sat`, `sat_zero`, `sat_sym`) changes a value.
    Sat,
    /// A wrapping cast (`wrap`, a fixed type's default) changes a value.
    Wrap,
}

/// One expectation of a test.
#[derive(Clone, Debug, PartialEq)]
pub enum TestCheck {
    /// `expect pw == load("golden/pw.npy")`: exactly equal to a golden file.
    Golden {
        name: Ident,
        path: Spanned<String>,
        span: Span,
    },
    /// `expect dw fits u8`: the proven range of `dw` fits the type (static).
    Fits {
        name: Ident,
        ty: Spanned<ScalarType>,
        span: Span,
    },
    /// `expect no sat` / `expect no wrap in dw`: no cast of that kind changes
    /// a value on this input (of the whole pipeline, or of one `let`).
    NoOverflow {
        kind: Spanned<OverflowKind>,
        within: Option<Ident>,
        span: Span,
    },
    /// `snapshot pw, dw`: compared with `snapshots/TEST.NAME.npy`.
    Snapshot { names: Vec<Ident>, span: Span },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    Input(InputDecl),
    Param(ParamDecl),
    Const(ConstDecl),
    Let(LetDecl),
    Output(OutputStmt),
}

/// A tensor type as written: `u8[16, 32, 64] pad 1`, `i16[16]`, `fixed<32, 1>`.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorType {
    pub scalar: Spanned<ScalarType>,
    /// `None` for a scalar; dimensions otherwise.
    pub dims: Option<Vec<Spanned<u64>>>,
    /// Storage halo, `pad P`.
    pub halo: Option<Spanned<u64>>,
    pub span: Span,
}

/// `input x: u8[16, 32, 64] pad 1`
#[derive(Clone, Debug, PartialEq)]
pub struct InputDecl {
    pub name: Ident,
    pub ty: TensorType,
    pub span: Span,
}

/// Where a parameter's values come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    /// `load("dir/w.npy")`, relative to the `.cnn` file.
    Load(Spanned<String>),
    /// `random(seed: 7)`.
    Random(Spanned<u64>),
}

/// `param w: i8[8, 8, 3, 3] = random(seed: 7)`
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDecl {
    pub name: Ident,
    pub ty: TensorType,
    pub init: Init,
    pub span: Span,
}

/// `const k: fixed<32, 1> = 0.0123`
#[derive(Clone, Debug, PartialEq)]
pub struct ConstDecl {
    pub name: Ident,
    pub ty: TensorType,
    pub value: Spanned<Number>,
    pub span: Span,
}

/// What a `let` binds: one name, or a pair from `maxpool(..., indices: true)`.
#[derive(Clone, Debug, PartialEq)]
pub enum LetTarget {
    Name(Ident),
    Tuple(Vec<Ident>),
}

/// `let y: u8[16, 32, 64] pad 1 = expr`, with its attributes written above it.
#[derive(Clone, Debug, PartialEq)]
pub struct LetDecl {
    /// `@hls(pe: 16, simd: 4)` lines, in order (the span of the `let` covers them).
    pub attributes: Vec<Attribute>,
    pub target: LetTarget,
    pub ty: Option<TensorType>,
    pub value: Expr,
    pub span: Span,
}

/// `@hls(pe: 16, simd: 4)`: a hint for one backend that never changes a
/// value. The checker knows the names and keys (`builtins::ATTRIBUTES`).
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: Ident,
    pub args: Vec<AttributeArg>,
    pub span: Span,
}

impl Attribute {
    /// The canonical text, `@hls(pe: 16, simd: 4)` (the formatter writes it).
    pub fn text(&self) -> String {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| format!("{}: {}", a.key.node, a.value.node))
            .collect();
        format!("@{}({})", self.name.node, args.join(", "))
    }
}

/// `pe: 16` inside an attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributeArg {
    pub key: Ident,
    /// As written (the checker rejects zero and negative factors).
    pub value: Spanned<i64>,
    pub span: Span,
}

/// `output y, z`
#[derive(Clone, Debug, PartialEq)]
pub struct OutputStmt {
    pub names: Vec<Ident>,
    pub span: Span,
}

/// A number literal, kept as written so that no precision is lost:
/// `negative`, decimal `digits` and a power-of-ten exponent (`12.5e-1` is 125 x 10^-2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number {
    pub negative: bool,
    pub digits: String,
    pub exp10: i32,
    /// Written without a fraction or exponent.
    pub is_integer: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Shr,
    Shl,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Shr => ">>",
            BinOp::Shl => "<<",
        }
    }
}

/// A call argument, positional or named (`stride: 2`).
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub func: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Number(Number),
    Name(String),
    /// `(h, w)` or `(top, bottom, left, right)`.
    Tuple(Vec<Expr>),
    Call(Call),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `x as u8 sat`: an integer target may name its overflow mode.
    Cast {
        value: Box<Expr>,
        ty: Spanned<ScalarType>,
        overflow: Option<Spanned<Overflow>>,
    },
    /// `x |> f(a)`, which means `f(x, a)`.
    Pipe(Box<Expr>, Call),
    /// A scalar type given as an argument: `table(x, sigmoid, u8)`.
    Type(ScalarType),
    /// `[C, H, W]`: the sizes of `reshape`.
    List(Vec<Expr>),
    /// `a..b`, `a..`, `..b`, `..` as an argument: a half-open range of indices.
    Range {
        start: Option<i128>,
        end: Option<i128>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}
