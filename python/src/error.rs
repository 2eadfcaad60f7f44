//! The one place engine errors become Python exceptions: `ErrorKind` to a `mnemodb.errors`
//! class (named as in `chromadb.errors`).

use mnemodb::ErrorKind;
use pyo3::prelude::*;

/// The `mnemodb.errors` class for an engine error kind.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::InvalidArgument => "InvalidArgumentError",
        ErrorKind::DuplicateId => "DuplicateIDError",
        // chromadb's local client raises `InternalError: Collection [x] already exists`.
        ErrorKind::AlreadyExists => "InternalError",
        _ => "InternalError",
    }
}

/// Converts an engine error into the matching `mnemodb.errors` exception.
pub(crate) fn to_py(err: mnemodb::Error) -> PyErr {
    let name = class_name(err.kind());
    let message = err.to_string();
    Python::attach(|py| {
        let class = py
            .import("mnemodb.errors")
            .and_then(|m| m.getattr("_make"))
            .and_then(|make| make.call1((name, message.clone())));
        match class {
            Ok(exc) => PyErr::from_value(exc),
            Err(e) => e,
        }
    })
}

/// `Result` of an engine call, turned into a Python result.
pub(crate) trait IntoPy<T> {
    /// Maps the engine error with [`to_py`].
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for mnemodb::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
