//! LangGraph's tables as module functions of `_native` (`lg_*`), called by
//! `mnemodb.integrations.langgraph`: values cross as `(tag, bytes)` pairs and tuples, every
//! engine call runs with the GIL released, and each takes `deliver=` for the async methods.

use std::time::Duration;

use mnemodb::{
    Durability, LgBlob, LgCheckpoint, LgItem, LgItemWrite, LgListQuery, LgTuple, LgWrite, Typed,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::collection::none;
use crate::database::Database;
use crate::pool::{Deliver, run};

/// A serialized value as Python passes it: `(tag, bytes)` (`bytes` or `bytearray`, read in
/// place: `Vec<u8>` would extract element by element).
type PyTyped = (String, PyBackedBytes);
/// A pending write: `(task_id, idx, task_path, channel, tag, bytes)`.
type PyWrite = (String, i64, String, String, String, PyBackedBytes);
/// A blob: `(channel, version, tag, bytes)`.
type PyBlob = (String, String, String, PyBackedBytes);
/// A store put or delete: `(namespace, key, value JSON or None, ttl seconds or None)`.
type PyItemWrite = (Vec<String>, String, Option<String>, Option<f64>);

fn typed((tag, bytes): PyTyped) -> Typed {
    Typed {
        tag,
        bytes: bytes.to_vec(),
    }
}

fn typed_py<'py>(py: Python<'py>, t: &Typed) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [
            t.tag.clone().into_pyobject(py)?.into_any(),
            PyBytes::new(py, &t.bytes).into_any(),
        ],
    )
}

/// `(thread_id, checkpoint_ns, checkpoint_id, parent_id, (tag, bytes) checkpoint,
/// (tag, bytes) metadata, writes, blobs)`, writes as `(task_id, idx, task_path, channel, tag,
/// bytes)` and blobs as `(channel, version, tag, bytes)`.
fn tuple_py<'py>(py: Python<'py>, t: &LgTuple) -> PyResult<Bound<'py, PyAny>> {
    let c = &t.checkpoint;
    let writes = t
        .writes
        .iter()
        .map(|w| {
            (
                w.task_id.as_str(),
                w.idx,
                w.task_path.as_str(),
                w.channel.as_str(),
                w.value.tag.as_str(),
                PyBytes::new(py, &w.value.bytes),
            )
                .into_pyobject(py)
        })
        .collect::<PyResult<Vec<_>>>()?;
    let blobs = t
        .blobs
        .iter()
        .map(|b| {
            (
                b.channel.as_str(),
                b.version.as_str(),
                b.value.tag.as_str(),
                PyBytes::new(py, &b.value.bytes),
            )
                .into_pyobject(py)
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok((
        c.thread_id.as_str(),
        c.checkpoint_ns.as_str(),
        c.checkpoint_id.as_str(),
        c.parent_id.as_deref(),
        typed_py(py, &c.checkpoint)?,
        typed_py(py, &c.metadata)?,
        PyList::new(py, writes)?,
        PyList::new(py, blobs)?,
    )
        .into_pyobject(py)?
        .into_any())
}

/// `deferred=True`: committed without waiting for the disk ([`Durability::Deferred`]).
fn durability(deferred: bool) -> Durability {
    if deferred {
        Durability::Deferred
    } else {
        Durability::Synced
    }
}

/// Stores a checkpoint and the blobs of the channels it changed.
#[pyfunction]
#[pyo3(signature = (db, thread_id, checkpoint_ns, checkpoint_id, parent_id, run_id, checkpoint, metadata, channels, blobs, *, deferred=false, deliver=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn lg_put(
    py: Python<'_>,
    db: &Database,
    thread_id: String,
    checkpoint_ns: String,
    checkpoint_id: String,
    parent_id: Option<String>,
    run_id: Option<String>,
    checkpoint: PyTyped,
    metadata: PyTyped,
    channels: Vec<(String, String)>,
    blobs: Vec<PyBlob>,
    deferred: bool,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let cp = LgCheckpoint {
        thread_id,
        checkpoint_ns,
        checkpoint_id,
        parent_id,
        run_id,
        checkpoint: typed(checkpoint),
        metadata: typed(metadata),
        channels,
    };
    let blobs: Vec<LgBlob> = blobs
        .into_iter()
        .map(|(channel, version, tag, bytes)| LgBlob {
            channel,
            version,
            value: typed((tag, bytes)),
        })
        .collect();
    let inner = db.engine().clone();
    let durability = durability(deferred);
    run(
        py,
        deliver,
        move || inner.lg_put(&cp, &blobs, durability),
        none,
    )
}

/// Stores pending writes against a checkpoint.
#[pyfunction]
#[pyo3(signature = (db, thread_id, checkpoint_ns, checkpoint_id, writes, *, deferred=false, deliver=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn lg_put_writes(
    py: Python<'_>,
    db: &Database,
    thread_id: String,
    checkpoint_ns: String,
    checkpoint_id: String,
    writes: Vec<PyWrite>,
    deferred: bool,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let writes: Vec<LgWrite> = writes
        .into_iter()
        .map(|(task_id, idx, task_path, channel, tag, bytes)| LgWrite {
            task_id,
            idx,
            task_path,
            channel,
            value: typed((tag, bytes)),
        })
        .collect();
    let inner = db.engine().clone();
    run(
        py,
        deliver,
        move || {
            inner.lg_put_writes(
                &thread_id,
                &checkpoint_ns,
                &checkpoint_id,
                &writes,
                durability(deferred),
            )
        },
        none,
    )
}

/// One checkpoint tuple (see `tuple_py`) or `None`.
#[pyfunction]
#[pyo3(signature = (db, thread_id, checkpoint_ns, checkpoint_id=None, *, deliver=None))]
pub(crate) fn lg_get(
    py: Python<'_>,
    db: &Database,
    thread_id: String,
    checkpoint_ns: String,
    checkpoint_id: Option<String>,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let inner = db.engine().clone();
    run(
        py,
        deliver,
        move || inner.lg_get(&thread_id, &checkpoint_ns, checkpoint_id.as_deref()),
        |py, t| match t {
            Some(t) => tuple_py(py, &t),
            None => Ok(py.None().into_bound(py)),
        },
    )
}

/// Checkpoint tuples, newest first.
#[pyfunction]
#[pyo3(signature = (db, thread_id=None, checkpoint_ns=None, checkpoint_id=None, before=None, limit=None, *, deliver=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn lg_list(
    py: Python<'_>,
    db: &Database,
    thread_id: Option<String>,
    checkpoint_ns: Option<String>,
    checkpoint_id: Option<String>,
    before: Option<String>,
    limit: Option<usize>,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let query = LgListQuery {
        thread_id,
        checkpoint_ns,
        checkpoint_id,
        before,
        limit,
    };
    let inner = db.engine().clone();
    run(
        py,
        deliver,
        move || inner.lg_list(&query),
        |py, tuples| list_py(py, &tuples, |t| tuple_py(py, t)),
    )
}

/// Deletes a thread's checkpoints, writes and blobs.
#[pyfunction]
#[pyo3(signature = (db, thread_id, *, deliver=None))]
pub(crate) fn lg_delete_thread(
    py: Python<'_>,
    db: &Database,
    thread_id: String,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let inner = db.engine().clone();
    run(
        py,
        deliver,
        move || inner.lg_delete_thread(&thread_id),
        none,
    )
}

/// Makes `target` a copy of thread `source`.
#[pyfunction]
#[pyo3(signature = (db, source, target, *, deliver=None))]
pub(crate) fn lg_copy_thread(
    py: Python<'_>,
    db: &Database,
    source: String,
    target: String,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let inner = db.engine().clone();
    run(
        py,
        deliver,
        move || inner.lg_copy_thread(&source, &target),
        none,
    )
}

/// Prunes threads (`keep_latest`: the newest checkpoint of each namespace stays).
#[pyfunction]
#[pyo3(signature = (db, thread_ids, keep_latest, *, deliver=None))]
pub(crate) fn lg_prune(
    py: Python<'_>,
    db: &Database,
    thread_ids: Vec<String>,
    keep_latest: bool,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let inner = db.engine().clone();
    run(
        py,
        deliver,
        move || inner.lg_prune(&thread_ids, keep_latest),
        none,
    )
}

/// Deletes the checkpoints of these runs.
#[pyfunction]
#[pyo3(signature = (db, run_ids, *, deliver=None))]
pub(crate) fn lg_delete_for_runs(
    py: Python<'_>,
    db: &Database,
    run_ids: Vec<String>,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let inner = db.engine().clone();
    run(
        py,
        deliver,
        move || inner.lg_delete_for_runs(&run_ids),
        none,
    )
}

/// `(namespace tuple, key, value JSON, created_at_ms, updated_at_ms, expires_at_ms or None)`.
fn item_py<'py>(py: Python<'py>, i: &LgItem) -> PyResult<Bound<'py, PyAny>> {
    Ok((
        PyTuple::new(py, &i.namespace)?,
        i.key.as_str(),
        i.value.as_str(),
        i.created_at_ms,
        i.updated_at_ms,
        i.expires_at_ms,
    )
        .into_pyobject(py)?
        .into_any())
}

/// `items` converted one by one (`f`) into a Python list.
fn list_py<'py, T, B: pyo3::PyTypeInfo>(
    py: Python<'py>,
    items: &[T],
    f: impl FnMut(&T) -> PyResult<Bound<'py, B>>,
) -> PyResult<Bound<'py, PyAny>> {
    let out = items.iter().map(f).collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, out)?.into_any())
}

fn items_py<'py>(py: Python<'py>, items: Vec<LgItem>) -> PyResult<Bound<'py, PyAny>> {
    list_py(py, &items, |i| item_py(py, i))
}

/// Applies `(namespace, key, value JSON or None, ttl seconds or None)` puts and deletes.
#[pyfunction]
#[pyo3(signature = (db, writes, *, deliver=None))]
pub(crate) fn lg_store_write(
    py: Python<'_>,
    db: &Database,
    writes: Vec<PyItemWrite>,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let writes = writes
        .into_iter()
        .map(|(namespace, key, value, ttl)| {
            let ttl = ttl
                .map(|s| {
                    Duration::try_from_secs_f64(s).map_err(|_| {
                        PyValueError::new_err(format!(
                            "ttl must be a finite number of minutes >= 0, got {} minutes",
                            s / 60.0
                        ))
                    })
                })
                .transpose()?;
            Ok(LgItemWrite {
                namespace,
                key,
                value,
                ttl,
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let inner = db.engine().clone();
    run(py, deliver, move || inner.lg_store_write(&writes), none)
}

/// The live items at these `(namespace, key)`s (`None` where missing).
#[pyfunction]
#[pyo3(signature = (db, keys, *, deliver=None))]
pub(crate) fn lg_store_get(
    py: Python<'_>,
    db: &Database,
    keys: Vec<(Vec<String>, String)>,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let inner = db.engine().clone();
    run(
        py,
        deliver,
        move || inner.lg_store_get(&keys),
        |py, items| {
            list_py(py, &items, |i| match i {
                Some(i) => item_py(py, i),
                None => Ok(py.None().into_bound(py)),
            })
        },
    )
}

/// Every live item under a namespace prefix, in insertion order.
#[pyfunction]
#[pyo3(signature = (db, prefix, *, deliver=None))]
pub(crate) fn lg_store_search(
    py: Python<'_>,
    db: &Database,
    prefix: Vec<String>,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let inner = db.engine().clone();
    run(
        py,
        deliver,
        move || inner.lg_store_search(&prefix),
        items_py,
    )
}

/// Restarts the time to live of these items.
#[pyfunction]
#[pyo3(signature = (db, keys, *, deliver=None))]
pub(crate) fn lg_store_refresh(
    py: Python<'_>,
    db: &Database,
    keys: Vec<(Vec<String>, String)>,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let inner = db.engine().clone();
    run(py, deliver, move || inner.lg_store_refresh(&keys), none)
}

/// Every namespace holding a live item, as tuples.
#[pyfunction]
#[pyo3(signature = (db, *, deliver=None))]
pub(crate) fn lg_store_namespaces(
    py: Python<'_>,
    db: &Database,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let inner = db.engine().clone();
    run(
        py,
        deliver,
        move || inner.lg_store_namespaces(),
        |py, namespaces| list_py(py, &namespaces, |ns| PyTuple::new(py, ns)),
    )
}

/// Deletes expired items; returns their `(namespace tuple, key)`s.
#[pyfunction]
#[pyo3(signature = (db, *, deliver=None))]
pub(crate) fn lg_store_sweep(
    py: Python<'_>,
    db: &Database,
    deliver: Option<Deliver>,
) -> PyResult<Py<PyAny>> {
    let inner = db.engine().clone();
    run(
        py,
        deliver,
        move || inner.lg_store_sweep(),
        |py, dead| {
            list_py(py, &dead, |(ns, key)| {
                (PyTuple::new(py, ns)?, key.as_str()).into_pyobject(py)
            })
        },
    )
}

/// Registers the `lg_*` functions on `_native`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(lg_put, m)?)?;
    m.add_function(wrap_pyfunction!(lg_put_writes, m)?)?;
    m.add_function(wrap_pyfunction!(lg_get, m)?)?;
    m.add_function(wrap_pyfunction!(lg_list, m)?)?;
    m.add_function(wrap_pyfunction!(lg_delete_thread, m)?)?;
    m.add_function(wrap_pyfunction!(lg_copy_thread, m)?)?;
    m.add_function(wrap_pyfunction!(lg_prune, m)?)?;
    m.add_function(wrap_pyfunction!(lg_delete_for_runs, m)?)?;
    m.add_function(wrap_pyfunction!(lg_store_write, m)?)?;
    m.add_function(wrap_pyfunction!(lg_store_get, m)?)?;
    m.add_function(wrap_pyfunction!(lg_store_search, m)?)?;
    m.add_function(wrap_pyfunction!(lg_store_refresh, m)?)?;
    m.add_function(wrap_pyfunction!(lg_store_namespaces, m)?)?;
    m.add_function(wrap_pyfunction!(lg_store_sweep, m)?)?;
    Ok(())
}
