//! `mnemodb._native`: thin PyO3 wrappers over the engine's `Database` and `Collection`.
//!
//! Everything chromadb-shaped (argument normalisation, validation messages, result dicts) is
//! Python in `mnemodb/`; this crate only converts values and releases the GIL around every
//! engine call. Errors become `mnemodb.errors` classes in one place, [`error`].

mod collection;
mod convert;
mod database;
mod error;
mod pool;

use pyo3::prelude::*;

/// The native module. Importing it starts no thread and opens no file.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<database::Database>()?;
    m.add_class::<collection::Collection>()?;
    m.add_class::<pool::Pending>()?;
    m.add_class::<pool::Mailbox>()?;
    m.add_function(wrap_pyfunction!(convert::buffer_address, m)?)?;
    m.add_function(wrap_pyfunction!(convert::validate_filter, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
