//! The `mnemodb` command: parses the command line and runs it (see `mnemodb --help`); with no
//! arguments it runs the built-in demo.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = mnemodb_server::cli::Cli::parse();
    match mnemodb_server::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mnemodb: {e}");
            ExitCode::FAILURE
        }
    }
}
