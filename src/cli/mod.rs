//! Commands of the `convoy` binary. Exit codes: 0 success, 1 a diagnostic about
//! the user's script or data, 2 a usage error (clap's own).

mod check_cmd;
mod files;
mod run_cmd;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "convoy", version, about = "Fixed-point CNN pipelines: check ranges, run bit-exactly")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Backend {
    /// The reference interpreter: the executable specification.
    Interp,
}

#[derive(Subcommand)]
enum Command {
    /// Check a script: shapes, exact ranges, types; print the stage table.
    Check {
        file: PathBuf,
        /// Which pipeline, when the file holds several.
        #[arg(long)]
        pipeline: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Run a pipeline on .npy inputs and write one .npy per output.
    Run {
        file: PathBuf,
        /// An input, as NAME=PATH.npy (repeat for several).
        #[arg(long = "input", short = 'i', value_name = "NAME=PATH")]
        inputs: Vec<String>,
        /// Folder for the outputs (created if needed).
        #[arg(long, short = 'o', value_name = "DIR")]
        out: PathBuf,
        #[arg(long)]
        pipeline: Option<String>,
        #[arg(long, value_enum, default_value = "interp")]
        backend: Backend,
        /// Read and write fixed-point values as raw two's-complement integers.
        #[arg(long)]
        raw: bool,
    },
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Check {
            file,
            pipeline,
            format,
        } => check_cmd::run(&file, pipeline, format),
        Command::Run {
            file,
            inputs,
            out,
            pipeline,
            backend,
            raw,
        } => run_cmd::run(&file, &inputs, &out, pipeline, backend, raw),
    }
}
