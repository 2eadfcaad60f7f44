//! Integration tests of the `mnemodb` binary: the HTTP server driven by a real HTTP client
//! (in process and as a child process) and every CLI verb.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod api;
mod cli;
mod common;
mod dashboard;
mod lifecycle;
mod limits;
mod load;
mod openapi;
