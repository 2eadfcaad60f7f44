//! `_native.encode` / `_native.decode`: Python values through the engine's codec
//! (`mnemodb::codec`), and `Database.export` / `import_` / `backup` live in `database.rs`.

use mnemodb::codec::{self, Format, MAX_DEPTH, Value};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple,
};

use crate::error::IntoPy as _;

/// A Python value as a codec value: None, bool, int (64-bit), float, str, bytes, bytearray,
/// list, tuple (as a list) and dict with str keys, at most [`MAX_DEPTH`] deep.
fn to_value(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<i64>().map(Value::Int).map_err(|_| {
            PyValueError::new_err(format!(
                "the integer {obj} does not fit in 64 bits, which the codec holds"
            ))
        });
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::Str(s.to_cow()?.into_owned()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::Bytes(b.to_vec()));
    }
    if depth >= MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "lists and dicts nested more than {MAX_DEPTH} deep"
        )));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut entries = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "dict keys must be str, got {}",
                    k.get_type()
                        .name()
                        .map_or_else(|_| "?".into(), |n| n.to_string())
                ))
            })?;
            entries.push((key.to_cow()?.into_owned(), to_value(&v, depth + 1)?));
        }
        return Ok(Value::Map(entries));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|v| to_value(&v, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::List);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|v| to_value(&v, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::List);
    }
    Err(PyTypeError::new_err(format!(
        "the codec encodes None, bool, int, float, str, bytes, list, tuple and dict, not {}",
        obj.get_type()
            .name()
            .map_or_else(|_| "?".into(), |n| n.to_string())
    )))
}

/// A codec value as a Python value.
fn to_py<'py>(py: Python<'py>, v: Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Float(f) => PyFloat::new(py, f).into_any(),
        Value::Str(s) => PyString::new(py, &s).into_any(),
        Value::Bytes(b) => PyBytes::new(py, &b).into_any(),
        Value::List(items) => {
            let out = PyList::empty(py);
            for item in items {
                out.append(to_py(py, item)?)?;
            }
            out.into_any()
        }
        Value::Map(entries) => {
            let out = PyDict::new(py);
            for (k, item) in entries {
                out.set_item(k, to_py(py, item)?)?;
            }
            out.into_any()
        }
    })
}

/// `obj` encoded as a codec stream of `format` (`json`, `msgpack`, `postcard`, each optionally
/// `+zstd`), header included.
#[pyfunction]
#[pyo3(signature = (obj, format="msgpack"))]
pub(crate) fn encode<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    format: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let format: Format = format.parse().py_err()?;
    let value = to_value(obj, 0)?;
    let bytes = py.detach(|| codec::encode(&value, format)).py_err()?;
    Ok(PyBytes::new(py, &bytes))
}

/// The value of a codec stream made by `encode` (its header says the format).
#[pyfunction]
pub(crate) fn decode<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let value = py.detach(|| codec::decode(data)).py_err()?;
    to_py(py, value)
}
