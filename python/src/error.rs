//! The one place engine errors become Python exceptions: `ErrorKind` to a `mnemodb.errors`
//! class (named as in `chromadb.errors`), or to Python's `ValueError` / `TypeError`, which
//! chromadb's own checks raise.

use mnemodb::ErrorKind;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// Set on every exception made here: the engine worded it whole (chromadb's `" in <op>."`
/// included), so the Python layer's `validation_context` leaves its message alone.
const WORDED: &str = "_mnemodb_worded";

/// The `mnemodb.errors` class for an engine error kind.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::InvalidArgument => "InvalidArgumentError",
        ErrorKind::DuplicateId => "DuplicateIDError",
        // chromadb's local client raises `InternalError: Collection [x] already exists`.
        ErrorKind::AlreadyExists => "InternalError",
        ErrorKind::ChromaDirectory => "ChromaDirectoryError",
        ErrorKind::ToolRefused => "ToolRefusedError",
        ErrorKind::ToolTimeout => "ToolTimeoutError",
        ErrorKind::ToolFailed => "ToolError",
        _ => "InternalError",
    }
}

/// Converts an engine error into the matching Python exception.
pub(crate) fn to_py(err: mnemodb::Error) -> PyErr {
    let kind = err.kind();
    let message = err.to_string();
    Python::attach(|py| {
        let made = match kind {
            ErrorKind::ValueError => Ok(PyValueError::new_err(message)
                .into_value(py)
                .into_bound(py)
                .into_any()),
            ErrorKind::TypeError => Ok(PyTypeError::new_err(message)
                .into_value(py)
                .into_bound(py)
                .into_any()),
            _ => py
                .import("mnemodb.errors")
                .and_then(|m| m.getattr("_make"))
                .and_then(|make| make.call1((class_name(kind), message))),
        };
        match made.and_then(|exc| exc.setattr(WORDED, true).map(|()| exc)) {
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
