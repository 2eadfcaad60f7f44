//! `_native.Database`: a database directory (or memory) and its catalog of collections.

use std::path::PathBuf;

use mnemodb::CollectionConfig;
use mnemodb::request::CollectionCall;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::collection::{Collection, info_to_py, none};
use crate::convert::{self, opt_json};
use crate::error::IntoPy as _;
use crate::pool::{Deliver, run};

/// A mnemodb database; safe to share between threads.
#[pyclass(frozen, module = "mnemodb._native")]
pub(crate) struct Database {
    inner: mnemodb::Database,
}

#[pymethods]
impl Database {
    /// Opens (creating if needed) the database in directory `path`. With
    /// `deliver=(loop, mailbox, done)` (every method that takes it) the call runs on the async
    /// client's worker pool and returns a `Pending` (see `pool.rs`).
    #[staticmethod]
    #[pyo3(signature = (path, *, deliver=None))]
    fn open(py: Python<'_>, path: PathBuf, deliver: Option<Deliver>) -> PyResult<Py<PyAny>> {
        run(
            py,
            deliver,
            move || mnemodb::Database::open(&path),
            database,
        )
    }

    /// A database that lives in memory only.
    #[staticmethod]
    #[pyo3(signature = (*, deliver=None))]
    fn in_memory(py: Python<'_>, deliver: Option<Deliver>) -> PyResult<Py<PyAny>> {
        run(py, deliver, mnemodb::Database::in_memory, database)
    }

    /// The directory, or `None` in memory.
    #[getter]
    fn path(&self) -> Option<String> {
        self.inner.path().map(|p| p.to_string_lossy().into_owned())
    }

    /// Creates a collection (or returns the existing one with `get_or_create`).
    /// `configuration` is chromadb's `{"hnsw": {...}}`; legacy `hnsw:*` metadata keys apply too.
    #[pyo3(signature = (name, configuration=None, metadata=None, get_or_create=false, *, deliver=None))]
    fn create_collection(
        &self,
        py: Python<'_>,
        name: String,
        configuration: Option<&Bound<'_, PyAny>>,
        metadata: Option<&Bound<'_, PyAny>>,
        get_or_create: bool,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let configuration = opt_json(configuration)?;
        let metadata = convert::collection_metadata(metadata, CollectionCall::Create)?;
        let inner = self.inner.clone();
        run(
            py,
            deliver,
            move || {
                let config = CollectionConfig::resolve(configuration.as_ref(), metadata.as_ref())?;
                if get_or_create {
                    inner.get_or_create_collection(&name, config, metadata.as_ref())
                } else {
                    inner.create_collection(&name, config, metadata.as_ref())
                }
            },
            collection,
        )
    }

    /// The collection called `name`.
    #[pyo3(signature = (name, *, deliver=None))]
    fn get_collection(
        &self,
        py: Python<'_>,
        name: String,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        run(py, deliver, move || inner.get_collection(&name), collection)
    }

    /// The collection with this id (a UUID string).
    #[pyo3(signature = (id, *, deliver=None))]
    fn get_collection_by_id(
        &self,
        py: Python<'_>,
        id: &str,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let uuid = uuid::Uuid::parse_str(id).map_err(|e| {
            pyo3::exceptions::PyValueError::new_err(format!("not a collection id: {id}: {e}"))
        })?;
        let inner = self.inner.clone();
        run(
            py,
            deliver,
            move || inner.get_collection_by_id(uuid),
            collection,
        )
    }

    /// Every collection, oldest first, as dicts (`id`, `name`, `dimension`, `metadata`,
    /// `configuration`).
    #[pyo3(signature = (*, deliver=None))]
    fn list_collections(&self, py: Python<'_>, deliver: Option<Deliver>) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        run(
            py,
            deliver,
            move || inner.list_collections(),
            |py, infos| {
                let items = infos
                    .iter()
                    .map(|i| info_to_py(py, i))
                    .collect::<PyResult<Vec<Bound<'_, PyDict>>>>()?;
                Ok(PyList::new(py, items)?.into_any())
            },
        )
    }

    /// Deletes the collection called `name` with its records and files.
    #[pyo3(signature = (name, *, deliver=None))]
    fn delete_collection(
        &self,
        py: Python<'_>,
        name: String,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        run(py, deliver, move || inner.delete_collection(&name), none)
    }

    /// Every background job still queued or running, and the last finished ones, oldest
    /// first, as dicts: `id`, `kind`, `collection` (its id), `done`, `total`, `state`, `error`.
    fn jobs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let jobs = self.inner.jobs();
        let items = jobs
            .iter()
            .map(|j| job_dict(py, j))
            .collect::<PyResult<Vec<Bound<'py, PyDict>>>>()?;
        PyList::new(py, items)
    }

    /// A handle to the job with this id while `jobs()` lists it, else `None`.
    fn job(&self, id: u64) -> Option<Job> {
        self.inner.job(id).map(|inner| Job { inner })
    }

    /// Writes the collection `name` to the file `path` as an export stream of `format`
    /// (`json`, `msgpack`, `postcard`, each optionally `+zstd`); returns the records written.
    #[pyo3(signature = (name, path, format="json"))]
    fn export(&self, py: Python<'_>, name: String, path: PathBuf, format: &str) -> PyResult<u64> {
        let format: mnemodb::codec::Format = format.parse().py_err()?;
        let inner = self.inner.clone();
        py.detach(|| mnemodb::codec::export_file(&inner, &name, &path, format, &mut |_, _| {}))
            .py_err()
    }

    /// Imports the export file `path` as a new collection (`name`, default the exported one),
    /// atomically; returns `(name, records)`.
    #[pyo3(signature = (path, name=None))]
    fn import_(
        &self,
        py: Python<'_>,
        path: PathBuf,
        name: Option<String>,
    ) -> PyResult<(String, u64)> {
        let inner = self.inner.clone();
        let report = py
            .detach(|| mnemodb::codec::import_file(&inner, &path, name.as_deref(), &mut |_, _| {}))
            .py_err()?;
        Ok((report.name, report.records))
    }

    /// Copies the database into `dest` (a new or empty directory) while writers go on; returns
    /// `{"collections", "records", "vector_bytes"}` of the copy.
    fn backup<'py>(&self, py: Python<'py>, dest: PathBuf) -> PyResult<Bound<'py, PyDict>> {
        let inner = self.inner.clone();
        let report = py.detach(|| inner.backup(&dest)).py_err()?;
        let d = PyDict::new(py);
        d.set_item("collections", report.collections)?;
        d.set_item("records", report.records)?;
        d.set_item("vector_bytes", report.vector_bytes)?;
        Ok(d)
    }

    /// Lets background jobs finish for at most `timeout` seconds, cancels the rest, and saves
    /// the derived files (graphs, live-slots checkpoints); returns whether every job ended by
    /// itself in time.
    #[pyo3(signature = (timeout=5.0))]
    fn close(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = std::time::Duration::try_from_secs_f64(timeout).map_err(|_| {
            pyo3::exceptions::PyValueError::new_err(format!(
                "timeout must be a number of seconds >= 0, got {timeout}"
            ))
        })?;
        Ok(py.detach(|| self.inner.close(timeout)))
    }
}

impl Database {
    /// The engine database (for the other native classes and `langgraph.rs`).
    pub(crate) fn engine(&self) -> &mnemodb::Database {
        &self.inner
    }
}

/// An opened engine database as a `_native.Database`.
fn database(py: Python<'_>, inner: mnemodb::Database) -> PyResult<Bound<'_, PyAny>> {
    Ok(Bound::new(py, Database { inner })?.into_any())
}

/// An engine collection handle as a `_native.Collection`.
fn collection(py: Python<'_>, inner: mnemodb::Collection) -> PyResult<Bound<'_, PyAny>> {
    Ok(Bound::new(py, Collection::new(inner))?.into_any())
}

/// A background job: watch it, wait for it, cancel it.
#[derive(Debug)]
#[pyclass(module = "mnemodb._native", frozen)]
pub struct Job {
    pub(crate) inner: mnemodb::Job,
}

/// A job's snapshot as the dict `jobs()` gives.
pub(crate) fn job_dict<'py>(py: Python<'py>, j: &mnemodb::JobInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", j.id)?;
    d.set_item("kind", j.kind.as_str())?;
    d.set_item("collection", j.collection.map(|u| u.to_string()))?;
    d.set_item("done", j.done)?;
    d.set_item("total", j.total)?;
    d.set_item("state", j.state.as_str())?;
    d.set_item("error", j.error.as_deref())?;
    Ok(d)
}

#[pymethods]
impl Job {
    /// The job now, as a dict like those of `Database.jobs()`.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        job_dict(py, &self.inner.info())
    }

    /// Asks the job to stop (a queued job never starts; a running one stops at its next step).
    fn cancel(&self) {
        self.inner.cancel();
    }

    /// Waits (GIL released) until the job ends or `timeout` seconds pass (`None`: no limit);
    /// returns its state then.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<&'static str> {
        let timeout = timeout
            .map(|t| {
                std::time::Duration::try_from_secs_f64(t).map_err(|_| {
                    pyo3::exceptions::PyValueError::new_err(format!(
                        "timeout must be a number of seconds >= 0, got {t}"
                    ))
                })
            })
            .transpose()?;
        Ok(py.detach(|| self.inner.wait(timeout)).as_str())
    }
}
