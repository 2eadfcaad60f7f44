//! The `mnemodb` command. For now it runs one job: a quick end-to-end demonstration of the
//! engine on generated data (the CLI and HTTP server come with their own issue).

mod demo;

use std::process::ExitCode;

const USAGE: &str = "\
mnemodb — embedded vector memory database

USAGE:
    mnemodb            build a collection of generated data in a temporary directory,
                       query it, and print results and timings
    mnemodb demo [N]   the same with N records (default 20000)
    mnemodb --help     this text
";

#[allow(clippy::print_stdout)] // a command's help goes to stdout
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let records = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["demo"] => demo::DEFAULT_RECORDS,
        ["demo", n] => match n.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                return fail(&format!(
                    "demo: expected a positive number of records, got {n:?}"
                ));
            }
        },
        ["--help" | "-h" | "help"] => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            return fail(&format!(
                "unknown arguments {other:?}; see `mnemodb --help`"
            ));
        }
    };
    match demo::run(records) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("mnemodb: {msg}");
    ExitCode::FAILURE
}
