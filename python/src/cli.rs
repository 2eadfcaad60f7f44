//! `mnemodb._native.cli_main`: the `mnemodb` program (the server crate's command line) inside
//! the Python module, so `pip install mnemodb` gives the command without a second binary.

use std::ffi::OsString;

use pyo3::prelude::*;

/// Runs the `mnemodb` command line `argv` (the program name first) and returns its exit code,
/// exactly as the Rust binary would. The GIL is released for the whole run: `serve` can run
/// for days, and Python threads (and signal handlers) keep running meanwhile.
#[pyfunction]
pub(crate) fn cli_main(py: Python<'_>, argv: Vec<OsString>) -> i32 {
    py.detach(|| mnemodb_server::cli::main_from_args(argv))
}
