//! `_native.import_chroma`: the engine's import of a Chroma directory, with the GIL released.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::error::IntoPy as _;

/// Copies every collection of the Chroma directory `src` into the mnemodb database in `dest`
/// (default: `src` itself); returns `{"collections": {name: records}, "skipped": [...]}`.
#[pyfunction]
#[pyo3(signature = (src, dest=None))]
pub(crate) fn import_chroma(
    py: Python<'_>,
    src: PathBuf,
    dest: Option<PathBuf>,
) -> PyResult<Bound<'_, PyDict>> {
    let dest = dest.unwrap_or_else(|| src.clone());
    let report = py
        .detach(|| mnemodb::import_chroma(&src, &dest, &mut |_| {}))
        .py_err()?;
    let collections = PyDict::new(py);
    for (name, n) in &report.collections {
        collections.set_item(name, n)?;
    }
    let out = PyDict::new(py);
    out.set_item("collections", collections)?;
    out.set_item("skipped", PyList::new(py, &report.skipped)?)?;
    Ok(out)
}
