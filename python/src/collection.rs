//! `_native.Collection`: records in, results out; every engine call runs with the GIL released.

use mnemodb::{
    AddBatch, CollectionInfo, Durability, Embeddings, GetRequest, HnswConfigUpdate, Include, Plan,
    QueryHits, QueryRequest, SearchOptions, UpdateBatch,
};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::{
    from_json, matrix, metadata_to_py, metadatas, metadatas_to_py, opt_json, to_json, to_metadata,
    to_patch,
};
use crate::error::IntoPy;
use crate::pool::{Deliver, run, run_with};

/// The Python result of an engine call that returns nothing.
pub(crate) fn none<'py>(py: Python<'py>, (): ()) -> PyResult<Bound<'py, PyAny>> {
    Ok(py.None().into_bound(py))
}

/// A handle to one collection; safe to share between threads.
#[pyclass(frozen, module = "mnemodb._native")]
pub(crate) struct Collection {
    inner: mnemodb::Collection,
}

impl Collection {
    pub(crate) fn new(inner: mnemodb::Collection) -> Collection {
        Collection { inner }
    }
}

/// `include` names (chromadb's) as the engine's flags; `data` is accepted and never filled.
fn include(names: &[String]) -> PyResult<Include> {
    let mut inc = Include::default();
    for n in names {
        match n.as_str() {
            "embeddings" => inc.embeddings = true,
            "documents" => inc.documents = true,
            "metadatas" => inc.metadatas = true,
            "uris" => inc.uris = true,
            "distances" => inc.distances = true,
            "data" => {}
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown include item {other}"
                )));
            }
        }
    }
    Ok(inc)
}

/// `rows x dim` float32 numpy array owning the engine's buffer (no copy).
fn embeddings_to_py<'py>(py: Python<'py>, e: Embeddings) -> PyResult<Bound<'py, PyAny>> {
    let (n, dim) = (e.len(), e.dim);
    Ok(PyArray1::from_vec(py, e.data).reshape([n, dim])?.into_any())
}

/// A dict of the fields a `get` or one query's hits carry; absent fields are `None`.
fn fields_to_py<'py>(
    py: Python<'py>,
    ids: Vec<String>,
    embeddings: Option<Embeddings>,
    documents: Option<Vec<Option<String>>>,
    uris: Option<Vec<Option<String>>>,
    metadatas: Option<Vec<Option<mnemodb::Metadata>>>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("ids", ids)?;
    match embeddings {
        Some(e) => d.set_item("embeddings", embeddings_to_py(py, e)?)?,
        None => d.set_item("embeddings", py.None())?,
    }
    d.set_item("documents", documents)?;
    d.set_item("uris", uris)?;
    match metadatas {
        Some(m) => d.set_item("metadatas", metadatas_to_py(py, &m)?)?,
        None => d.set_item("metadatas", py.None())?,
    }
    Ok(d)
}

/// chromadb's `QueryResult` for the hits of a batch of queries: one list per field across
/// the queries (`None` for a field `include` leaves out), in chromadb's key order, with
/// `included` set to the caller's `include` list. Built here rather than from per-query dicts
/// in Python: a single query's result is then one dict instead of two, and no Python loop.
fn query_result_to_py<'py>(
    py: Python<'py>,
    mut hits: Vec<QueryHits>,
    inc: Include,
    included: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    /// One field across the queries: `None` unless included; a query without it gives `[]`.
    fn column<'py, T>(
        py: Python<'py>,
        wanted: bool,
        hits: &mut [QueryHits],
        take: impl Fn(&mut QueryHits) -> Option<T>,
        to_py: impl Fn(T) -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if !wanted {
            return Ok(py.None().into_bound(py));
        }
        let items = hits
            .iter_mut()
            .map(|h| match take(h) {
                Some(v) => to_py(v),
                None => Ok(PyList::empty(py).into_any()),
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, items)?.into_any())
    }
    let ids = hits
        .iter_mut()
        .map(|h| PyList::new(py, std::mem::take(&mut h.ids)))
        .collect::<PyResult<Vec<_>>>()?;
    let d = PyDict::new(py);
    d.set_item("ids", PyList::new(py, ids)?)?;
    let embeddings = column(
        py,
        inc.embeddings,
        &mut hits,
        |h| h.embeddings.take(),
        |e| embeddings_to_py(py, e),
    )?;
    d.set_item("embeddings", embeddings)?;
    let documents = column(
        py,
        inc.documents,
        &mut hits,
        |h| h.documents.take(),
        |v| Ok(PyList::new(py, v)?.into_any()),
    )?;
    d.set_item("documents", documents)?;
    let uris = column(
        py,
        inc.uris,
        &mut hits,
        |h| h.uris.take(),
        |v| Ok(PyList::new(py, v)?.into_any()),
    )?;
    d.set_item("uris", uris)?;
    d.set_item("included", included)?;
    d.set_item("data", py.None())?;
    let metadatas = column(
        py,
        inc.metadatas,
        &mut hits,
        |h| h.metadatas.take(),
        |m| Ok(metadatas_to_py(py, &m)?.into_any()),
    )?;
    d.set_item("metadatas", metadatas)?;
    let distances = column(
        py,
        inc.distances,
        &mut hits,
        |h| h.distances.take(),
        |v| Ok(PyList::new(py, v)?.into_any()),
    )?;
    d.set_item("distances", distances)?;
    Ok(d)
}

/// A query plan as a dict: `strategy`, `reason`, `detail`, `n_results`, `ef`, `live`,
/// `slots`, `candidates`, `index` (`linked` / `unlinked`, or `None`), `estimated_cost`,
/// `scan_cost`, `walk_cost`, `catch_up`.
fn plan_to_py<'py>(py: Python<'py>, plan: &Plan) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("strategy", plan.strategy.name())?;
    d.set_item("reason", plan.reason.name())?;
    d.set_item("detail", plan.detail())?;
    d.set_item("n_results", plan.k)?;
    d.set_item("ef", plan.ef)?;
    d.set_item("live", plan.live)?;
    d.set_item("slots", plan.slots)?;
    d.set_item("candidates", plan.candidates)?;
    match plan.index {
        Some(c) => {
            let index = PyDict::new(py);
            index.set_item("linked", c.linked)?;
            index.set_item("unlinked", c.unlinked)?;
            d.set_item("index", index)?;
        }
        None => d.set_item("index", py.None())?,
    }
    d.set_item("estimated_cost", plan.cost)?;
    d.set_item("scan_cost", plan.scan_cost)?;
    d.set_item("walk_cost", plan.walk_cost)?;
    d.set_item("catch_up", plan.catch_up)?;
    Ok(d)
}

/// A collection's catalog entry as a dict.
pub(crate) fn info_to_py<'py>(
    py: Python<'py>,
    info: &CollectionInfo,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", info.id.to_string())?;
    d.set_item("name", &info.name)?;
    d.set_item("dimension", info.dimension)?;
    match &info.metadata {
        Some(m) => d.set_item("metadata", metadata_to_py(py, m)?)?,
        None => d.set_item("metadata", py.None())?,
    }
    d.set_item(
        "configuration",
        from_json(py, &info.configuration.to_json())?,
    )?;
    Ok(d)
}

fn opt_matrix<'a>(arr: &'a Option<PyReadonlyArray2<'_, f32>>) -> PyResult<Option<&'a [f32]>> {
    arr.as_ref()
        .map(|a| matrix(a).map(|(flat, _, _)| flat))
        .transpose()
}

#[pymethods]
impl Collection {
    /// The collection's id (a UUID string).
    #[getter]
    fn id(&self) -> String {
        self.inner.id().to_string()
    }

    /// The catalog's current view: `id`, `name`, `dimension`, `metadata`, `configuration`.
    /// With `deliver=(loop, mailbox, done)` (every method that takes it) the call runs on the async
    /// client's worker pool and returns a `Pending` (see `pool.rs`).
    #[pyo3(signature = (*, deliver=None))]
    fn info(&self, py: Python<'_>, deliver: Option<Deliver>) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        run(
            py,
            deliver,
            move || inner.info(),
            |py, info| Ok(info_to_py(py, &info)?.into_any()),
        )
    }

    /// Number of records, or of those passing `where` / `where_document` (reads no record).
    #[pyo3(signature = (r#where=None, where_document=None, *, deliver=None))]
    fn count<'py>(
        &self,
        py: Python<'py>,
        r#where: Option<&Bound<'py, PyAny>>,
        where_document: Option<&Bound<'py, PyAny>>,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let w = opt_json(r#where)?;
        let wd = opt_json(where_document)?;
        let inner = self.inner.clone();
        run(
            py,
            deliver,
            move || inner.count_where(w.as_ref(), wd.as_ref()),
            |py, n| Ok(n.into_pyobject(py)?.into_any()),
        )
    }

    /// Links every committed record into the HNSW index now (writes queue it in the
    /// background); returns when the index is complete.
    fn wait_for_index(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.catch_up_index()).py_err()
    }

    /// Adds records; `embeddings` is a C-contiguous float32 `(len(ids), dim)` array, read in
    /// place (copied first when awaited).
    #[pyo3(signature = (ids, embeddings, documents=None, uris=None, metadatas=None, *, deliver=None))]
    #[allow(clippy::too_many_arguments)]
    fn add(
        &self,
        py: Python<'_>,
        ids: Vec<String>,
        embeddings: PyReadonlyArray2<'_, f32>,
        documents: Option<Vec<Option<String>>>,
        uris: Option<Vec<Option<String>>>,
        metadatas: Option<&Bound<'_, PyAny>>,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let (flat, _, _) = matrix(&embeddings)?;
        let metas = self::metadatas(metadatas, to_metadata)?;
        let inner = self.inner.clone();
        run_with(
            py,
            deliver,
            Some(flat),
            move |flat| {
                inner.add(AddBatch {
                    ids: &ids,
                    embeddings: flat.unwrap_or_default(),
                    documents: documents.as_deref(),
                    uris: uris.as_deref(),
                    metadatas: metas.as_deref(),
                })
            },
            none,
        )
    }

    /// Updates existing records (`upsert=False`) or inserts-or-updates (`upsert=True`).
    /// Metadata dicts are patches: a `None` value removes the key. `synced=False` (updates
    /// only) leaves the commit unsynced (`Durability::Deferred`).
    #[pyo3(signature = (ids, embeddings=None, documents=None, uris=None, metadatas=None, upsert=false, *, synced=true, deliver=None))]
    #[allow(clippy::too_many_arguments)]
    fn update(
        &self,
        py: Python<'_>,
        ids: Vec<String>,
        embeddings: Option<PyReadonlyArray2<'_, f32>>,
        documents: Option<Vec<Option<String>>>,
        uris: Option<Vec<Option<String>>>,
        metadatas: Option<&Bound<'_, PyAny>>,
        upsert: bool,
        synced: bool,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        if upsert && !synced {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "an upsert is always synced (synced=False is for updates)",
            ));
        }
        let flat = opt_matrix(&embeddings)?;
        let patches = self::metadatas(metadatas, to_patch)?;
        let inner = self.inner.clone();
        run_with(
            py,
            deliver,
            flat,
            move |flat| {
                let batch = UpdateBatch {
                    ids: &ids,
                    embeddings: flat,
                    documents: documents.as_deref(),
                    uris: uris.as_deref(),
                    metadatas: patches.as_deref(),
                };
                let durability = if synced {
                    Durability::Synced
                } else {
                    Durability::Deferred
                };
                if upsert {
                    inner.upsert(batch)
                } else {
                    inner.update_with(batch, durability)
                }
            },
            none,
        )
    }

    /// Deletes the records among `ids` (if given) that pass `where` / `where_document`;
    /// returns how many were deleted.
    #[pyo3(signature = (ids=None, r#where=None, where_document=None, limit=None, *, deliver=None))]
    fn delete(
        &self,
        py: Python<'_>,
        ids: Option<Vec<String>>,
        r#where: Option<&Bound<'_, PyAny>>,
        where_document: Option<&Bound<'_, PyAny>>,
        limit: Option<usize>,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let w = opt_json(r#where)?;
        let wd = opt_json(where_document)?;
        let inner = self.inner.clone();
        run(
            py,
            deliver,
            move || inner.delete_where(ids.as_deref(), w.as_ref(), wd.as_ref(), limit),
            |py, n| Ok(n.into_pyobject(py)?.into_any()),
        )
    }

    /// Records by id and/or filter, in insertion order, paged; a dict of the included fields.
    #[pyo3(signature = (ids=None, r#where=None, where_document=None, limit=None, offset=0, include=Vec::new(), *, deliver=None))]
    #[allow(clippy::too_many_arguments)]
    fn get<'py>(
        &self,
        py: Python<'py>,
        ids: Option<Vec<String>>,
        r#where: Option<&Bound<'py, PyAny>>,
        where_document: Option<&Bound<'py, PyAny>>,
        limit: Option<usize>,
        offset: usize,
        include: Vec<String>,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let w = opt_json(r#where)?;
        let wd = opt_json(where_document)?;
        let inc = self::include(&include)?;
        let inner = self.inner.clone();
        run(
            py,
            deliver,
            move || {
                inner.get(GetRequest {
                    ids: ids.as_deref(),
                    limit,
                    offset,
                    include: inc,
                    where_: w.as_ref(),
                    where_document: wd.as_ref(),
                })
            },
            |py, r| {
                let d = fields_to_py(py, r.ids, r.embeddings, r.documents, r.uris, r.metadatas)?;
                Ok(d.into_any())
            },
        )
    }

    /// The `n_results` nearest records to each row of `embeddings`, as chromadb's
    /// `QueryResult` dict (its `included` is the `include` list given).
    #[pyo3(signature = (embeddings, n_results, ids=None, r#where=None, where_document=None, include=None, *, deliver=None))]
    #[allow(clippy::too_many_arguments)]
    fn query<'py>(
        &self,
        py: Python<'py>,
        embeddings: PyReadonlyArray2<'py, f32>,
        n_results: usize,
        ids: Option<Vec<String>>,
        r#where: Option<&Bound<'py, PyAny>>,
        where_document: Option<&Bound<'py, PyAny>>,
        include: Option<Bound<'py, PyAny>>,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let (flat, _, dim) = matrix(&embeddings)?;
        let w = opt_json(r#where)?;
        let wd = opt_json(where_document)?;
        let include = include.unwrap_or_else(|| PyList::empty(py).into_any());
        let inc = self::include(&include.extract::<Vec<String>>()?)?;
        let included = include.unbind();
        let inner = self.inner.clone();
        run_with(
            py,
            deliver,
            Some(flat),
            move |flat| {
                inner.query_where(
                    QueryRequest {
                        embeddings: flat.unwrap_or_default(),
                        dim,
                        n_results,
                        ids: ids.as_deref(),
                        include: inc,
                    },
                    w.as_ref(),
                    wd.as_ref(),
                )
            },
            move |py, hits| Ok(query_result_to_py(py, hits, inc, included.bind(py))?.into_any()),
        )
    }

    /// How `query` would answer this request now, without running it: the engine's plan as
    /// a dict (mnemodb's addition to chromadb's API).
    #[pyo3(signature = (embeddings, n_results, ids=None, r#where=None, where_document=None))]
    fn explain<'py>(
        &self,
        py: Python<'py>,
        embeddings: PyReadonlyArray2<'py, f32>,
        n_results: usize,
        ids: Option<Vec<String>>,
        r#where: Option<&Bound<'py, PyAny>>,
        where_document: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (flat, _, dim) = matrix(&embeddings)?;
        let w = opt_json(r#where)?;
        let wd = opt_json(where_document)?;
        let plan = py
            .detach(|| {
                self.inner.explain(
                    QueryRequest {
                        embeddings: flat,
                        dim,
                        n_results,
                        ids: ids.as_deref(),
                        include: Include::default(),
                    },
                    w.as_ref(),
                    wd.as_ref(),
                    SearchOptions::default(),
                )
            })
            .py_err()?;
        plan_to_py(py, &plan)
    }

    /// Renames the collection and/or replaces its metadata (`None`: unchanged).
    #[pyo3(signature = (name=None, metadata=None, *, deliver=None))]
    fn modify(
        &self,
        py: Python<'_>,
        name: Option<String>,
        metadata: Option<&Bound<'_, PyAny>>,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let metadata = match metadata {
            Some(m) if !m.is_none() => Some(to_metadata(m)?),
            _ => None,
        };
        let inner = self.inner.clone();
        run(
            py,
            deliver,
            move || inner.modify(name.as_deref(), metadata.as_ref().map(Some)),
            none,
        )
    }

    /// Applies chromadb's configuration update (`{"hnsw": {"ef_search": ...}}`); returns the
    /// new configuration.
    #[pyo3(signature = (configuration, *, deliver=None))]
    fn modify_configuration<'py>(
        &self,
        py: Python<'py>,
        configuration: &Bound<'py, PyAny>,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let json = to_json(configuration)?;
        let inner = self.inner.clone();
        run(
            py,
            deliver,
            move || {
                let update = HnswConfigUpdate::from_json(&json)?;
                inner.modify_configuration(&update)
            },
            |py, config| from_json(py, &config.to_json()),
        )
    }

    /// Rewrites the vector file without dead slots; returns how many were reclaimed.
    fn compact(&self, py: Python<'_>) -> PyResult<u64> {
        py.detach(|| self.inner.compact()).py_err()
    }
}
