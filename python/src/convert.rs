//! Value conversion between Python objects and the engine's types: metadata, filters (as
//! JSON), configuration, and float32 arrays borrowed without a copy.
//!
//! Filters and configuration are converted here, not by a generic serde bridge, so Python's
//! `bool` stays a JSON boolean (it is an `int` subclass), ints beyond `i64` become floats as
//! chromadb stores them, and anything else is refused with a message naming the type.

use mnemodb::request::CollectionCall;
use mnemodb::{Include, Metadata, MetadataPatch, MetadataValue, Op, request};
use numpy::{PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::error::{IntoPy, to_py};

/// The rows of a C-contiguous float32 matrix, borrowed in place: `(floats, rows, columns)`.
pub(crate) fn matrix<'a>(
    arr: &'a PyReadonlyArray2<'_, f32>,
) -> PyResult<(&'a [f32], usize, usize)> {
    let shape = arr.shape();
    let (n, dim) = (shape[0], shape[1]);
    let flat = arr.as_slice().map_err(|_| {
        PyValueError::new_err(
            "embeddings must be a C-contiguous float32 array (np.ascontiguousarray)",
        )
    })?;
    Ok((flat, n, dim))
}

/// Address of the first float the engine would read from `arr` (tests check that a
/// C-contiguous float32 array reaches Rust without a copy).
#[pyfunction]
pub(crate) fn buffer_address(arr: PyReadonlyArray2<'_, f32>) -> PyResult<usize> {
    let (flat, _, _) = matrix(&arr)?;
    Ok(flat.as_ptr() as usize)
}

/// A Python value (None, bool, int, float, str, list/tuple, dict with str keys) as JSON.
pub(crate) fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_none() {
        Ok(Value::Null)
    } else if let Ok(b) = obj.cast::<PyBool>() {
        Ok(Value::Bool(b.is_true()))
    } else if obj.is_instance_of::<PyInt>() {
        match obj.extract::<i64>() {
            Ok(i) => Ok(Value::Number(i.into())),
            Err(_) => float_json(obj.extract::<f64>()?),
        }
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        float_json(f.value())
    } else if let Ok(s) = obj.cast::<PyString>() {
        Ok(Value::String(s.to_cow()?.into_owned()))
    } else if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "expected str keys in a filter, got {}",
                    k.repr().map_or_else(|_| "?".into(), |r| r.to_string())
                ))
            })?;
            map.insert(key.to_cow()?.into_owned(), to_json(&v)?);
        }
        Ok(Value::Object(map))
    } else if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        obj.try_iter()?
            .map(|v| to_json(&v?))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array)
    } else if let Ok(f) = obj.extract::<f64>() {
        // numpy scalars and other numbers.
        float_json(f)
    } else {
        Err(PyTypeError::new_err(format!(
            "cannot use a value of type {} in a filter or configuration",
            obj.get_type().name()?
        )))
    }
}

fn float_json(f: f64) -> PyResult<Value> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| PyValueError::new_err(format!("{f} is not a finite number")))
}

/// An optional JSON argument: Python `None` is "not given".
pub(crate) fn opt_json(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Value>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => to_json(o).map(Some),
    }
}

/// JSON as Python objects (configuration dicts).
pub(crate) fn from_json<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into_pyobject(py)?.into_any(),
            None => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| from_json(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, from_json(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// A collection's metadata for `call` (`None`: none), converted by the engine
/// (`mnemodb::request::collection_metadata`, chromadb's messages). What JSON cannot hold
/// (keys that are not `str`, NaN, tuples, other Python objects) is refused here, in the
/// engine's words.
pub(crate) fn collection_metadata(
    obj: Option<&Bound<'_, PyAny>>,
    call: CollectionCall,
) -> PyResult<Option<Metadata>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let Ok(d) = obj.cast::<PyDict>() else {
        return Err(to_py(request::collection_metadata_not_a_dict(
            &shown(obj).1,
            call,
        )));
    };
    let mut map = Map::with_capacity(d.len());
    for (k, v) in d.iter() {
        let Ok(key) = k.cast::<PyString>() else {
            let (text, type_name) = shown(&k);
            return Err(to_py(request::collection_metadata_key_not_str(
                &text, &type_name, call,
            )));
        };
        let key = key.to_cow()?.into_owned();
        let json = if v.is_instance_of::<PyTuple>() {
            None
        } else {
            to_json(&v).ok()
        };
        let Some(json) = json else {
            let non_finite =
                |x: &Bound<'_, PyAny>| x.cast::<PyFloat>().is_ok_and(|f| !f.value().is_finite());
            let listed_non_finite = v
                .cast::<PyList>()
                .is_ok_and(|l| l.iter().any(|x| non_finite(&x)));
            if non_finite(&v) || listed_non_finite {
                return Err(to_py(request::non_finite_metadata(&key)));
            }
            let (text, type_name) = shown(&v);
            return Err(to_py(if v.is_instance_of::<PyList>() {
                request::collection_metadata_not_a_list(&key, &text, call)
            } else {
                request::collection_metadata_not_a_value(&text, &type_name, call)
            }));
        };
        map.insert(key, json);
    }
    request::collection_metadata(Value::Object(map), call).py_err()
}

/// `str(obj)` and `type(obj).__name__`, for messages about values that are not JSON.
fn shown(obj: &Bound<'_, PyAny>) -> (String, String) {
    let text = obj.str().map_or_else(|_| "?".into(), |s| s.to_string());
    let type_name = obj
        .get_type()
        .name()
        .map_or_else(|_| "?".into(), |n| n.to_string());
    (text, type_name)
}

/// A write's ids: a list of `str` (chromadb's message for any other element).
pub(crate) fn ids(list: &Bound<'_, PyAny>, op: Op) -> PyResult<Vec<String>> {
    list.extract::<Vec<String>>().or_else(|e| {
        for item in list.try_iter()? {
            let item = item?;
            if !item.is_instance_of::<PyString>() {
                return Err(to_py(request::id_not_str(&shown(&item).0, op)));
            }
        }
        Err(e)
    })
}

/// Documents: `str` or `None` each (chromadb's message for any other element).
pub(crate) fn documents(
    list: Option<&Bound<'_, PyAny>>,
    op: Op,
) -> PyResult<Option<Vec<Option<String>>>> {
    let Some(list) = list.filter(|l| !l.is_none()) else {
        return Ok(None);
    };
    list.extract::<Vec<Option<String>>>()
        .map(Some)
        .or_else(|e| {
            for item in list.try_iter()? {
                let item = item?;
                if !item.is_none() && !item.is_instance_of::<PyString>() {
                    return Err(to_py(request::document_not_str(&shown(&item).0, op)));
                }
            }
            Err(e)
        })
}

/// A list of metadata (dicts or `None`), each dict converted by `one`.
fn metadata_list<T>(
    list: Option<&Bound<'_, PyAny>>,
    op: Op,
    mut one: impl FnMut(&Bound<'_, PyDict>) -> PyResult<T>,
) -> PyResult<Option<Vec<Option<T>>>> {
    let Some(list) = list.filter(|l| !l.is_none()) else {
        return Ok(None);
    };
    list.try_iter()?
        .map(|item| {
            let item = item?;
            if item.is_none() {
                return Ok(None);
            }
            match item.cast::<PyDict>() {
                Ok(d) => one(d).map(Some),
                Err(_) => Err(to_py(request::not_a_metadata_dict(&shown(&item).1, op))),
            }
        })
        .collect::<PyResult<Vec<_>>>()
        .map(Some)
}

/// The entries of a metadata dict, each value converted by the engine
/// (`mnemodb::request::metadata_value`, chromadb's rules and messages; `None` for `None`).
/// What JSON cannot hold (keys that are not `str`, NaN, other Python objects) is refused here,
/// in the engine's words.
fn metadata_entries(
    d: &Bound<'_, PyDict>,
    op: Op,
    mut put: impl FnMut(String, Option<MetadataValue>),
) -> PyResult<()> {
    for (k, v) in d.iter() {
        let Ok(key) = k.cast::<PyString>() else {
            let (text, type_name) = shown(&k);
            return Err(to_py(request::metadata_key_not_str(&text, &type_name, op)));
        };
        let key = key.to_cow()?.into_owned();
        let json = if v.is_instance_of::<PyTuple>() {
            // JSON would make it a list, which chromadb does not take for one.
            Err(to_py(not_json(&key, &v, op)))
        } else {
            to_json(&v).map_err(|_| to_py(not_json(&key, &v, op)))
        }?;
        let value = request::metadata_value(&key, json, op).py_err()?;
        put(key, value);
    }
    Ok(())
}

/// The metadata of an `add`. A `None` value is refused once every value converted, as
/// chromadb's bindings refuse it after its checks.
pub(crate) fn metadatas(
    list: Option<&Bound<'_, PyAny>>,
    op: Op,
) -> PyResult<Option<Vec<Option<Metadata>>>> {
    let mut null_seen = false;
    let out = metadata_list(list, op, |d| {
        let mut m = Metadata::new();
        metadata_entries(d, op, |key, value| match value {
            Some(v) => {
                m.insert(key, v);
            }
            None => null_seen = true,
        })?;
        Ok(m)
    })?;
    if null_seen {
        return Err(to_py(request::null_on_add()));
    }
    Ok(out)
}

/// The metadata of an `update` or `upsert`: a `None` value removes the key.
pub(crate) fn metadata_patches(
    list: Option<&Bound<'_, PyAny>>,
    op: Op,
) -> PyResult<Option<Vec<Option<MetadataPatch>>>> {
    metadata_list(list, op, |d| {
        let mut m = MetadataPatch::new();
        metadata_entries(d, op, |key, value| {
            m.insert(key, value);
        })?;
        Ok(m)
    })
}

/// Why metadata value `v` is not JSON, in the engine's words.
fn not_json(key: &str, v: &Bound<'_, PyAny>, op: Op) -> mnemodb::Error {
    let non_finite =
        |x: &Bound<'_, PyAny>| x.cast::<PyFloat>().is_ok_and(|f| !f.value().is_finite());
    if non_finite(v) {
        return request::non_finite_metadata(key);
    }
    if let Ok(items) = v.cast::<PyList>() {
        if items.iter().any(|x| non_finite(&x)) {
            return request::non_finite_metadata(key);
        }
        return request::not_a_metadata_list(key, &shown(v).0, op);
    }
    let (text, type_name) = shown(v);
    request::not_a_metadata_value(&text, &type_name, op)
}

/// `include`: a list of chromadb's names.
pub(crate) fn include(obj: &Bound<'_, PyAny>, op: Op) -> PyResult<Include> {
    if !obj.is_instance_of::<PyList>() {
        return Err(to_py(request::include_not_a_list(&shown(obj).0, op)));
    }
    request::include(&to_json(obj)?, op).py_err()
}

/// A count (`get`'s `limit` and `offset`), refused as chromadb's bindings refuse a negative
/// one.
pub(crate) fn count(n: Option<i64>) -> PyResult<Option<usize>> {
    n.map(|n| usize::try_from(n).map_err(|e| PyOverflowError::new_err(e.to_string())))
        .transpose()
}

/// A metadata map as a Python dict.
pub(crate) fn metadata_to_py<'py>(py: Python<'py>, m: &Metadata) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in m {
        match v {
            MetadataValue::Bool(b) => d.set_item(k, *b)?,
            MetadataValue::Int(i) => d.set_item(k, *i)?,
            MetadataValue::Float(f) => d.set_item(k, *f)?,
            MetadataValue::Str(s) => d.set_item(k, s)?,
            MetadataValue::BoolList(l) => d.set_item(k, l)?,
            MetadataValue::IntList(l) => d.set_item(k, l)?,
            MetadataValue::FloatList(l) => d.set_item(k, l)?,
            MetadataValue::StrList(l) => d.set_item(k, l)?,
        }
    }
    Ok(d)
}

/// Optional metadata maps as a list of dicts and `None`s.
pub(crate) fn metadatas_to_py<'py>(
    py: Python<'py>,
    ms: &[Option<Metadata>],
) -> PyResult<Bound<'py, PyList>> {
    let items = ms
        .iter()
        .map(|m| match m {
            Some(m) => metadata_to_py(py, m).map(Bound::into_any),
            None => Ok(py.None().into_bound(py)),
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}
