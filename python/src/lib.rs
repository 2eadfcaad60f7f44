//! `mnemodb._native`: thin PyO3 wrappers over the engine's `Database` and `Collection`.
//!
//! The chromadb-shaped surface (argument normalisation, embedding functions, result dicts) is
//! Python in `mnemodb/`; this crate only converts values and releases the GIL around every
//! engine call. Every check of a request is the engine's (values a typed request cannot hold
//! go through `mnemodb::request`), and its errors become Python exceptions in one place,
//! [`error`].

mod chroma;
mod cli;
mod codec;
mod collection;
mod convert;
mod database;
mod embed;
mod error;
mod langgraph;
mod pool;
mod tools;

use pyo3::prelude::*;

/// The native module. Importing it starts no thread and opens no file.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<database::Database>()?;
    m.add_class::<collection::Collection>()?;
    m.add_class::<database::Job>()?;
    m.add_class::<embed::Embedder>()?;
    m.add_class::<pool::Pending>()?;
    m.add_class::<pool::Mailbox>()?;
    m.add_class::<tools::ToolExecutor>()?;
    m.add_class::<tools::Ticket>()?;
    m.add_function(wrap_pyfunction!(cli::cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(convert::buffer_address, m)?)?;
    m.add_function(wrap_pyfunction!(chroma::import_chroma, m)?)?;
    m.add_function(wrap_pyfunction!(codec::encode, m)?)?;
    m.add_function(wrap_pyfunction!(codec::decode, m)?)?;
    m.add_function(wrap_pyfunction!(collection::check_records, m)?)?;
    m.add_function(wrap_pyfunction!(collection::embedding_rows, m)?)?;
    m.add_function(wrap_pyfunction!(collection::check_lengths, m)?)?;
    m.add_function(wrap_pyfunction!(collection::check_texts, m)?)?;
    langgraph::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
