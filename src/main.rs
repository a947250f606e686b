//! The `convoy` command line: argument parsing, files and terminal output.
//! Everything else is in the library.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
