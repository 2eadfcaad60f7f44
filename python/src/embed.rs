//! `_native.Embedder`: the engine's all-MiniLM-L6-v2 embedder, loading and embedding with the
//! GIL released (the work runs on the embedder's own threads).

use std::path::PathBuf;

use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;

use crate::error::IntoPy as _;

/// all-MiniLM-L6-v2 loaded from a model directory (`vocab.txt`, `model.safetensors`).
#[pyclass(frozen, module = "mnemodb._native")]
pub(crate) struct Embedder {
    inner: mnemodb::Embedder,
}

#[pymethods]
impl Embedder {
    #[new]
    #[pyo3(signature = (directory, threads=2))]
    fn new(py: Python<'_>, directory: PathBuf, threads: usize) -> PyResult<Embedder> {
        let inner = py
            .detach(|| mnemodb::Embedder::load(&directory, threads))
            .py_err()?;
        Ok(Embedder { inner })
    }

    /// `len(texts) x 384` float32 unit vectors; `progress(done)` is called after each batch.
    #[pyo3(signature = (texts, progress=None))]
    fn embed<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let n = texts.len();
        let data = py.detach(|| match &progress {
            None => self.inner.embed(&texts),
            Some(callback) => self.inner.embed_with_progress(&texts, &|done| {
                Python::attach(|py| {
                    // A failing progress callback must not stop the embedding: report and go on.
                    if let Err(e) = callback.call1(py, (done,)) {
                        e.write_unraisable(py, None);
                    }
                });
            }),
        });
        Ok(PyArray1::from_vec(py, data)
            .reshape([n, mnemodb::EMBEDDING_DIMENSION])?
            .into_any())
    }

    /// The token ids the model sees for `text` (`[CLS]` ... `[SEP]`, at most 256).
    fn tokenize(&self, text: &str) -> Vec<u32> {
        self.inner.tokenize(text)
    }

    /// The model directory it was loaded from.
    #[getter]
    fn directory(&self) -> PathBuf {
        self.inner.dir().to_owned()
    }
}
