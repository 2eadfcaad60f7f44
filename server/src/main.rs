//! The `mnemodb` command: parses the command line and runs it (see `mnemodb --help`); with no
//! arguments it runs the built-in demo. The program itself is [`mnemodb_server::cli::main_from_args`],
//! which the Python wheel's console script runs too.

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = mnemodb_server::cli::main_from_args(std::env::args_os());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
