//! `_native.Collection`: records in, results out; every engine call runs with the GIL released.

use mnemodb::request::CollectionCall;
use mnemodb::{
    AddBatch, CollectionInfo, Durability, Embeddings, Expiry, GetRequest, HnswConfigUpdate,
    Include, Op, Plan, QueryHits, QueryRequest, SearchOptions, UpdateBatch, Vectors, WriteOptions,
    request,
};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::{self, from_json, matrix, metadata_to_py, metadatas_to_py, opt_json, to_json};
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

fn opt_matrix<'a>(arr: &'a Option<PyReadonlyArray2<'_, f32>>) -> PyResult<Option<Vectors<'a>>> {
    arr.as_ref()
        .map(|a| matrix(a).map(|(flat, _, dim)| Vectors::new(flat, dim)))
        .transpose()
}

/// chromadb's checks of a write (`op`: `"add"`, `"update"` or `"upsert"`) whose embeddings
/// are still to be computed: the Python layer runs them before it calls the embedding
/// function, as chromadb does; the write runs them again.
#[pyfunction]
#[pyo3(signature = (op, ids, documents=None, uris=None, metadatas=None))]
pub(crate) fn check_records(
    op: &str,
    ids: &Bound<'_, PyAny>,
    documents: Option<&Bound<'_, PyAny>>,
    uris: Option<Vec<Option<String>>>,
    metadatas: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let op: Op = op.parse().py_err()?;
    let ids = convert::ids(ids, op)?;
    let documents = convert::documents(documents, op)?;
    let metadatas = convert::metadata_patches(metadatas, op)?;
    request::check_records(
        op,
        &UpdateBatch {
            ids: &ids,
            embeddings: None,
            documents: documents.as_deref(),
            uris: uris.as_deref(),
            metadatas: metadatas.as_deref(),
        },
    )
    .py_err()
}

/// chromadb's length rule over the inputs of an embedding function (`fields`: name and
/// length, or `None` for a field not given), with the engine's messages.
#[pyfunction]
pub(crate) fn check_lengths(fields: Vec<(String, Option<usize>)>, op: &str) -> PyResult<()> {
    let op: Op = op.parse().py_err()?;
    let fields: Vec<(&str, Option<usize>)> = fields
        .iter()
        .map(|(name, len)| (name.as_str(), *len))
        .collect();
    request::record_set_lengths(&fields, op).py_err()
}

/// chromadb's check of the texts an embedding function is to embed: strings, and all given
/// unless vectors come beside them (`nullable`).
#[pyfunction]
pub(crate) fn check_texts(texts: &Bound<'_, PyAny>, nullable: bool, op: &str) -> PyResult<()> {
    let op: Op = op.parse().py_err()?;
    let texts = convert::documents(Some(texts), op)?.unwrap_or_default();
    request::documents_to_embed(&texts, nullable, op).py_err()
}

/// The common length of rows of vectors (`lengths`, one per row), with the engine's
/// refusal of an empty row or of rows of different lengths (`op` names the call).
#[pyfunction]
pub(crate) fn embedding_rows(lengths: Vec<usize>, op: &str) -> PyResult<usize> {
    let op: Op = op.parse().py_err()?;
    request::embedding_rows(lengths, op).py_err()
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

    /// Starts compacting the collection in the background; returns the job.
    fn compact(&self) -> crate::database::Job {
        crate::database::Job {
            inner: self.inner.compact(),
        }
    }

    /// Links every committed record into the HNSW index now (writes queue it in the
    /// background); returns when the index is complete.
    fn wait_for_index(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.catch_up_index()).py_err()
    }

    /// Adds records; `embeddings` is a C-contiguous float32 `(rows, dim)` array, read in place
    /// (copied first when awaited). Every check is the engine's.
    #[pyo3(signature = (ids, embeddings, documents=None, uris=None, metadatas=None, *, ttl=None, expires_at=None, deliver=None))]
    #[allow(clippy::too_many_arguments)]
    fn add(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
        embeddings: PyReadonlyArray2<'_, f32>,
        documents: Option<&Bound<'_, PyAny>>,
        uris: Option<Vec<Option<String>>>,
        metadatas: Option<&Bound<'_, PyAny>>,
        ttl: Option<f64>,
        expires_at: Option<f64>,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let op = Op::Add;
        let expiry = Expiry::from_keywords(ttl, expires_at).py_err()?;
        let ids = convert::ids(ids, op)?;
        let (flat, _, dim) = matrix(&embeddings)?;
        let documents = convert::documents(documents, op)?;
        let metas = convert::metadatas(metadatas, op)?;
        let inner = self.inner.clone();
        run_with(
            py,
            deliver,
            Some(flat),
            move |flat| {
                inner.add_with(
                    AddBatch {
                        ids: &ids,
                        embeddings: Vectors::new(flat.unwrap_or_default(), dim),
                        documents: documents.as_deref(),
                        uris: uris.as_deref(),
                        metadatas: metas.as_deref(),
                    },
                    WriteOptions {
                        expiry,
                        ..WriteOptions::default()
                    },
                )
            },
            none,
        )
    }

    /// Updates existing records (`upsert=False`) or inserts-or-updates (`upsert=True`).
    /// Metadata dicts are patches: a `None` value removes the key. `synced=False` (updates
    /// only) leaves the commit unsynced (`Durability::Deferred`).
    #[pyo3(signature = (ids, embeddings=None, documents=None, uris=None, metadatas=None, upsert=false, *, synced=true, ttl=None, expires_at=None, deliver=None))]
    #[allow(clippy::too_many_arguments)]
    fn update(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
        embeddings: Option<PyReadonlyArray2<'_, f32>>,
        documents: Option<&Bound<'_, PyAny>>,
        uris: Option<Vec<Option<String>>>,
        metadatas: Option<&Bound<'_, PyAny>>,
        upsert: bool,
        synced: bool,
        ttl: Option<f64>,
        expires_at: Option<f64>,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let expiry = Expiry::from_keywords(ttl, expires_at).py_err()?;
        if upsert && !synced {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "an upsert is always synced (synced=False is for updates)",
            ));
        }
        let op = if upsert { Op::Upsert } else { Op::Update };
        let ids = convert::ids(ids, op)?;
        let vectors = opt_matrix(&embeddings)?;
        let dim = vectors.map(|v| v.dim);
        let documents = convert::documents(documents, op)?;
        let patches = convert::metadata_patches(metadatas, op)?;
        let inner = self.inner.clone();
        run_with(
            py,
            deliver,
            vectors.map(|v| v.data),
            move |flat| {
                let batch = UpdateBatch {
                    ids: &ids,
                    embeddings: flat.zip(dim).map(|(data, dim)| Vectors::new(data, dim)),
                    documents: documents.as_deref(),
                    uris: uris.as_deref(),
                    metadatas: patches.as_deref(),
                };
                let durability = if synced {
                    Durability::Synced
                } else {
                    Durability::Deferred
                };
                let opts = WriteOptions { expiry, durability };
                if upsert {
                    inner.upsert_with(batch, opts)
                } else {
                    inner.update_with_options(batch, opts)
                }
            },
            none,
        )
    }

    /// Deletes the records among `ids` (if given) that pass `where` / `where_document`;
    /// returns how many were deleted. The filters are handed to the engine as JSON, which
    /// parses and checks them once.
    #[pyo3(signature = (ids=None, r#where=None, where_document=None, limit=None, *, deliver=None))]
    fn delete(
        &self,
        py: Python<'_>,
        ids: Option<&Bound<'_, PyAny>>,
        r#where: Option<&Bound<'_, PyAny>>,
        where_document: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let op = Op::Delete;
        let ids = ids.map(|i| convert::ids(i, op)).transpose()?;
        let limit = opt_json(limit)?
            .map(|l| request::delete_limit(&l))
            .transpose()
            .py_err()?;
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
    #[pyo3(signature = (ids=None, r#where=None, where_document=None, limit=None, offset=0, include=None, *, deliver=None))]
    #[allow(clippy::too_many_arguments)]
    fn get<'py>(
        &self,
        py: Python<'py>,
        ids: Option<&Bound<'py, PyAny>>,
        r#where: Option<&Bound<'py, PyAny>>,
        where_document: Option<&Bound<'py, PyAny>>,
        limit: Option<i64>,
        offset: i64,
        include: Option<&Bound<'py, PyAny>>,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let op = Op::Get;
        let ids = ids.map(|i| convert::ids(i, op)).transpose()?;
        let limit = convert::count(limit)?;
        let offset = convert::count(Some(offset))?.unwrap_or(0);
        let w = opt_json(r#where)?;
        let wd = opt_json(where_document)?;
        let inc = include
            .map(|i| convert::include(i, op))
            .transpose()?
            .unwrap_or_default();
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
        n_results: &Bound<'py, PyAny>,
        ids: Option<&Bound<'py, PyAny>>,
        r#where: Option<&Bound<'py, PyAny>>,
        where_document: Option<&Bound<'py, PyAny>>,
        include: Option<Bound<'py, PyAny>>,
        deliver: Option<Deliver>,
    ) -> PyResult<Py<PyAny>> {
        let op = Op::Query;
        let (flat, _, dim) = matrix(&embeddings)?;
        let n_results = request::n_results(&to_json(n_results)?).py_err()?;
        let ids = ids.map(|i| convert::ids(i, op)).transpose()?;
        let w = opt_json(r#where)?;
        let wd = opt_json(where_document)?;
        let include = include.unwrap_or_else(|| PyList::empty(py).into_any());
        let inc = convert::include(&include, op)?;
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
        n_results: &Bound<'py, PyAny>,
        ids: Option<&Bound<'py, PyAny>>,
        r#where: Option<&Bound<'py, PyAny>>,
        where_document: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        // Converted as `query` converts them, so both refuse a bad request alike.
        let op = Op::Query;
        let (flat, _, dim) = matrix(&embeddings)?;
        let n_results = request::n_results(&to_json(n_results)?).py_err()?;
        let ids = ids.map(|i| convert::ids(i, op)).transpose()?;
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
        let metadata = convert::collection_metadata(metadata, CollectionCall::Modify)?;
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
    fn compact_blocking(&self, py: Python<'_>) -> PyResult<u64> {
        py.detach(|| self.inner.compact_blocking()).py_err()
    }
}
