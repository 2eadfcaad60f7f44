//! Request values as the Python and HTTP layers receive them, loosely typed (JSON), turned into
//! the engine's types with chromadb 1.5.9's checks and messages; and the messages of the few
//! conversions those layers make on their own (a Python object that is not JSON at all), so
//! that every path refuses a bad input with the same words.
//!
//! The engine's calls check typed requests themselves ([`Collection::add`] and friends); these
//! functions cover what a typed value cannot hold: a nested dict in metadata, a `None` value
//! on `add`, an unknown `include` name, a negative `n_results`, ragged rows of vectors. Like
//! chromadb's, messages of its client-side checks end in `" in <op>."`.
//!
//! A layer converts a request's values before calling the engine, so when one request has
//! several faults, a conversion fault is reported before the engine's checks of the others
//! (chromadb interleaves them); a request with one fault gets chromadb's answer.
//!
//! [`Collection::add`]: crate::Collection::add

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Op, Result};
use crate::filter::{py_str, py_type_name};
use crate::types::{Include, Metadata, MetadataPatch, MetadataValue, UpdateBatch};
use crate::validate::{self, Records};

/// chromadb's `include` names, in the order its messages list them.
const INCLUDE_ITEMS: [&str; 6] = [
    "documents",
    "embeddings",
    "metadatas",
    "distances",
    "uris",
    "data",
];

/// One record's metadata for `add`: a JSON object (or `null` for none), checked as chromadb
/// checks it. A `null` value is refused as chromadb's bindings refuse it (`TypeError`, without
/// the call's name: chromadb raises it past its validation).
pub fn metadata(value: Value, op: Op) -> Result<Option<Metadata>> {
    match add_metadata(value, op)? {
        (_, true) => Err(null_on_add()),
        (m, false) => Ok(m),
    }
}

/// [`metadata`] without refusing `null` values: they are dropped, and the second field says
/// whether there was one.
fn add_metadata(value: Value, op: Op) -> Result<(Option<Metadata>, bool)> {
    let Some(map) = object(value, op)? else {
        return Ok((None, false));
    };
    let mut out = Metadata::new();
    let mut null_seen = false;
    for (key, v) in map {
        match metadata_value(&key, v, op)? {
            Some(v) => {
                out.insert(key, v);
            }
            None => null_seen = true,
        }
    }
    Ok((Some(out), null_seen))
}

/// One record's metadata for `update` and `upsert`: as [`metadata`], where a `null` value
/// removes the key.
pub fn metadata_patch(value: Value, op: Op) -> Result<Option<MetadataPatch>> {
    let Some(map) = object(value, op)? else {
        return Ok(None);
    };
    map.into_iter()
        .map(|(key, v)| {
            let v = metadata_value(&key, v, op)?;
            Ok((key, v))
        })
        .collect::<Result<MetadataPatch>>()
        .map(Some)
}

/// The metadata of every record of an `add`. Type faults come first, in record order; a `null`
/// value is refused after them, as chromadb's bindings refuse it after its checks.
pub fn metadatas(values: Vec<Value>, op: Op) -> Result<Vec<Option<Metadata>>> {
    let mut null_seen = false;
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        let (m, null) = add_metadata(value, op)?;
        null_seen |= null;
        out.push(m);
    }
    if null_seen {
        return Err(null_on_add());
    }
    Ok(out)
}

/// The metadata patches of every record of an `update` or `upsert`.
pub fn metadata_patches(values: Vec<Value>, op: Op) -> Result<Vec<Option<MetadataPatch>>> {
    values.into_iter().map(|v| metadata_patch(v, op)).collect()
}

/// chromadb's `TypeError` for a `None` metadata value on `add` (its bindings raise it after
/// its checks, so a layer converting value by value raises it once all values converted).
pub fn null_on_add() -> Error {
    Error::Refused {
        kind: ErrorKind::TypeError,
        message: "argument 'metadatas': Cannot convert Python object to MetadataValue".into(),
        op: None,
    }
}

/// `Some(map)` of a metadata object, `None` for `null`.
fn object(value: Value, op: Op) -> Result<Option<Map<String, Value>>> {
    match value {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        other => Err(not_a_metadata_dict(py_type_name(&other), op)),
    }
}

/// One metadata value of key `key`: `None` for `null` (which removes the key in an update and
/// is refused on add, see [`null_on_add`]). Lists hold one of chromadb's types.
pub fn metadata_value(key: &str, v: Value, op: Op) -> Result<Option<MetadataValue>> {
    Ok(Some(match v {
        Value::Null => return Ok(None),
        Value::Bool(b) => MetadataValue::Bool(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => MetadataValue::Int(i),
            // Integers beyond i64 are kept as floats, as chromadb stores them.
            None => MetadataValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => MetadataValue::Str(s),
        Value::Array(items) => list(key, items, op)?,
        other @ Value::Object(_) => {
            return Err(not_a_metadata_value(
                &py_str(&other),
                py_type_name(&other),
                op,
            ));
        }
    }))
}

/// A list value: elements of one Python type among str, int, float and bool (chromadb's
/// `_validate_metadata_list_value`). An empty list converts; the write refuses it.
fn list(key: &str, items: Vec<Value>, op: Op) -> Result<MetadataValue> {
    let Some(first) = items.first() else {
        return Ok(MetadataValue::BoolList(Vec::new()));
    };
    let t = py_type_name(first);
    if !matches!(t, "str" | "int" | "float" | "bool") || items.iter().any(|x| py_type_name(x) != t)
    {
        return Err(not_a_metadata_list(key, &py_str(&Value::Array(items)), op));
    }
    Ok(match t {
        "bool" => MetadataValue::BoolList(items.iter().filter_map(Value::as_bool).collect()),
        "str" => MetadataValue::StrList(
            items
                .into_iter()
                .filter_map(|x| match x {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
        ),
        "int" if items.iter().all(Value::is_i64) => {
            MetadataValue::IntList(items.iter().filter_map(Value::as_i64).collect())
        }
        _ => MetadataValue::FloatList(items.iter().filter_map(Value::as_f64).collect()),
    })
}

/// The call a collection's metadata is given to: chromadb checks it in different places, with
/// different words, on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CollectionCall {
    /// `create_collection` and `get_or_create_collection`.
    Create,
    /// `Collection.modify`.
    Modify,
}

/// A collection's metadata for `call`: a JSON object (`null`: none), converted with chromadb
/// 1.5.9's messages; the call itself checks the typed metadata
/// (`Database::create_collection`, `Collection::modify`). On `modify`, a `null` value drops
/// the key (chromadb replaces the metadata and does not keep it); on create it is refused, as
/// chromadb's bindings refuse it.
pub fn collection_metadata(value: Value, call: CollectionCall) -> Result<Option<Metadata>> {
    let map = match value {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        other => return Err(collection_metadata_not_a_dict(py_type_name(&other), call)),
    };
    if call == CollectionCall::Modify && map.is_empty() {
        // chromadb's client, before it drops the `null` values.
        return Err(client_refusal(
            ErrorKind::ValueError,
            "Expected metadata to be a non-empty dict, got 0 metadata attributes".into(),
        ));
    }
    let mut out = Metadata::new();
    for (key, v) in map {
        let v = match (v, call) {
            (Value::Null, CollectionCall::Modify) => continue,
            (Value::Array(items), _) if items.is_empty() => MetadataValue::BoolList(Vec::new()),
            (Value::Array(items), _) => {
                let shown = py_str(&Value::Array(items.clone()));
                list(&key, items, Op::Add)
                    .map_err(|_| collection_metadata_not_a_list(&key, &shown, call))?
            }
            (v @ (Value::Null | Value::Object(_)), _) => {
                return Err(collection_metadata_not_a_value(
                    &py_str(&v),
                    py_type_name(&v),
                    call,
                ));
            }
            // A scalar (`null` is matched above).
            (v, _) => match metadata_value(&key, v, Op::Add)? {
                Some(x) => x,
                None => continue,
            },
        };
        out.insert(key, v);
    }
    Ok(Some(out))
}

fn client_refusal(kind: ErrorKind, message: String) -> Error {
    Error::Refused {
        kind,
        message,
        op: None,
    }
}

/// chromadb's refusal of a collection's metadata that is not a dict.
pub fn collection_metadata_not_a_dict(type_name: &str, call: CollectionCall) -> Error {
    match call {
        CollectionCall::Create => client_refusal(
            ErrorKind::TypeError,
            format!("argument 'metadata': '{type_name}' object cannot be converted to 'PyDict'"),
        ),
        CollectionCall::Modify => client_refusal(
            ErrorKind::ValueError,
            format!("Expected metadata to be a dict or None, got {type_name} as metadata"),
        ),
    }
}

/// chromadb's refusal of a collection's metadata value of another type (`shown`: Python's
/// `str()` of it).
pub fn collection_metadata_not_a_value(
    shown: &str,
    type_name: &str,
    call: CollectionCall,
) -> Error {
    match call {
        CollectionCall::Create => client_refusal(
            ErrorKind::TypeError,
            "argument 'metadata': Cannot convert Python object to MetadataValue".into(),
        ),
        CollectionCall::Modify => client_refusal(
            ErrorKind::ValueError,
            format!(
                "Expected metadata value to be a str, int, float, bool, SparseVector, list, or \
                 None, got {shown} which is a {type_name}"
            ),
        ),
    }
}

/// chromadb's refusal of a collection's metadata list whose elements are not all of one of
/// its types.
pub fn collection_metadata_not_a_list(key: &str, shown: &str, call: CollectionCall) -> Error {
    match call {
        CollectionCall::Create => client_refusal(
            ErrorKind::TypeError,
            "argument 'metadata': Cannot convert Python list to MetadataValue: mixed or \
             unsupported element types"
                .into(),
        ),
        CollectionCall::Modify => client_refusal(
            ErrorKind::ValueError,
            format!(
                "Expected metadata list value for key '{key}' to contain only str, int, float, \
                 or bool and all elements must be the same type, got {shown}"
            ),
        ),
    }
}

/// chromadb's refusal of a collection's metadata key that is not a string (only Python can
/// send one).
pub fn collection_metadata_key_not_str(
    shown: &str,
    type_name: &str,
    call: CollectionCall,
) -> Error {
    match call {
        CollectionCall::Create => client_refusal(
            ErrorKind::TypeError,
            format!("argument 'metadata': '{type_name}' object cannot be converted to 'PyString'"),
        ),
        CollectionCall::Modify => client_refusal(
            ErrorKind::TypeError,
            format!("Expected metadata key to be a str, got {shown} which is a {type_name}"),
        ),
    }
}

/// chromadb's refusal of a metadata that is not a dict (`type_name`: the Python type's name).
pub fn not_a_metadata_dict(type_name: &str, op: Op) -> Error {
    Error::value(
        format!("Expected metadata to be a dict or None, got {type_name} as metadata"),
        op,
    )
}

/// chromadb's refusal of a metadata value of another type (`shown`: Python's `str()` of it).
pub fn not_a_metadata_value(shown: &str, type_name: &str, op: Op) -> Error {
    Error::value(
        format!(
            "Expected metadata value to be a str, int, float, bool, SparseVector, list, or None, \
             got {shown} which is a {type_name}"
        ),
        op,
    )
}

/// chromadb's refusal of a list value whose elements are not all of one of its types.
pub fn not_a_metadata_list(key: &str, shown: &str, op: Op) -> Error {
    Error::value(
        format!(
            "Expected metadata list value for key '{key}' to contain only str, int, float, or \
             bool and all elements must be the same type, got {shown}"
        ),
        op,
    )
}

/// chromadb's refusal of a metadata key that is not a string (only Python can send one).
pub fn metadata_key_not_str(shown: &str, type_name: &str, op: Op) -> Error {
    Error::type_error(
        format!("Expected metadata key to be a str, got {shown} which is a {type_name}"),
        op,
    )
}

/// The engine's refusal of a NaN or infinite metadata number (chromadb stores them; JSON, the
/// engine's metadata format, cannot).
pub fn non_finite_metadata(key: &str) -> Error {
    validate::non_finite_metadata(key)
}

/// chromadb's refusal of an id that is not a string.
pub fn id_not_str(shown: &str, op: Op) -> Error {
    Error::value(format!("Expected ID to be a str, got {shown}"), op)
}

/// chromadb's refusal of a document that is not a string.
pub fn document_not_str(shown: &str, op: Op) -> Error {
    Error::value(format!("Expected document to be a str, got {shown}"), op)
}

/// chromadb's refusal of an `include` that is not a list (`shown`: Python's `str()` of it).
pub fn include_not_a_list(shown: &str, op: Op) -> Error {
    Error::value(format!("Expected include to be a list, got {shown}"), op)
}

/// `include` as chromadb's names (a JSON list of strings): `data` is accepted and never
/// filled (the Python layer loads it from uris). `distances` on `get` is refused by `get`.
pub fn include(value: &Value, op: Op) -> Result<Include> {
    let Value::Array(items) = value else {
        return Err(include_not_a_list(&py_str(value), op));
    };
    let mut inc = Include::default();
    for item in items {
        let Value::String(name) = item else {
            return Err(Error::value(
                format!("Expected include item to be a str, got {}", py_str(item)),
                op,
            ));
        };
        match name.as_str() {
            "documents" => inc.documents = true,
            "embeddings" => inc.embeddings = true,
            "metadatas" => inc.metadatas = true,
            "distances" => inc.distances = true,
            "uris" => inc.uris = true,
            "data" => {}
            _ => {
                return Err(Error::value(
                    format!(
                        "Expected include item to be one of {}, got {name}",
                        INCLUDE_ITEMS.join(", ")
                    ),
                    op,
                ));
            }
        }
    }
    Ok(inc)
}

/// `query`'s `n_results`: an integer (Python's `bool` counts as one) above zero.
pub fn n_results(value: &Value) -> Result<usize> {
    let n = match value {
        Value::Bool(b) => i128::from(*b),
        Value::Number(n) if !n.is_f64() => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .unwrap_or(0),
        other => {
            return Err(Error::value(
                format!(
                    "Expected requested number of results to be a int, got {}",
                    py_str(other)
                ),
                Op::Query,
            ));
        }
    };
    if n <= 0 {
        return Err(validate::n_results_not_positive(&py_str(value)));
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// `delete`'s `limit`: a non-negative integer (not a `bool`).
pub fn delete_limit(value: &Value) -> Result<usize> {
    const MESSAGE: &str = "limit must be a non-negative integer";
    let Value::Number(n) = value else {
        return Err(Error::type_error(MESSAGE, Op::Delete));
    };
    if n.is_f64() {
        return Err(Error::type_error(MESSAGE, Op::Delete));
    }
    match n.as_u64() {
        Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        None => Err(Error::value(MESSAGE, Op::Delete)),
    }
}

/// The common length of rows of vectors given one by one (`lengths`), as the layers flatten
/// them: chromadb's refusal of an empty row (its position), then of rows of different
/// lengths. No rows: 0.
pub fn embedding_rows(lengths: impl IntoIterator<Item = usize>, op: Op) -> Result<usize> {
    let lengths: Vec<usize> = lengths.into_iter().collect();
    if let Some(pos) = lengths.iter().position(|&l| l == 0) {
        return Err(Error::value(
            format!(
                "Expected each embedding in the embeddings to be a 1-dimensional numpy array \
                 with at least 1 int/float value. Got a 1-dimensional numpy array with no values \
                 at pos {pos}"
            ),
            op,
        ));
    }
    match lengths.first() {
        None => Ok(0),
        Some(&dim) if lengths.iter().all(|&l| l == dim) => Ok(dim),
        // chromadb's backend refuses them (no " in <op>.").
        Some(_) => Err(Error::invalid(
            "Inconsistent dimensions in provided embeddings",
        )),
    }
}

/// chromadb's length rule over the fields of a record set (`None`: the field was not given),
/// in the order its message lists them: for the inputs of an embedding function that never
/// reach the engine (a query's texts, images, uris; a write's images). A write's records are
/// checked by the write.
pub fn record_set_lengths(fields: &[(&str, Option<usize>)], op: Op) -> Result<()> {
    validate::record_set_lengths(fields, op)
}

/// chromadb's check of the documents an embedding function is to embed (a query's texts):
/// all given, unless vectors are given beside them (`nullable`).
pub fn documents_to_embed(documents: &[Option<String>], nullable: bool, op: Op) -> Result<()> {
    if !nullable && documents.iter().any(Option::is_none) {
        return Err(document_not_str("None", op));
    }
    Ok(())
}

/// chromadb's client-side checks of a write (`op`: add, update or upsert) whose vectors are
/// still to be computed: chromadb checks a request before it calls the embedding function, so
/// a caller that embeds documents runs this first. The write itself runs every check again.
/// Metadata are patches here: before embedding, chromadb lets `None` values through on `add`
/// too (its bindings refuse them later).
pub fn check_records(op: Op, batch: &UpdateBatch<'_>) -> Result<()> {
    Records::update(op, batch).check_before_embedding()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn metadata_types_follow_chromadb() {
        let m = metadata(
            json!({"a": 1, "b": 2.5, "c": "x", "d": true, "e": [1, 2]}),
            Op::Add,
        )
        .unwrap()
        .unwrap();
        assert_eq!(m["a"], MetadataValue::Int(1));
        assert_eq!(m["b"], MetadataValue::Float(2.5));
        assert_eq!(m["e"], MetadataValue::IntList(vec![1, 2]));
        assert_eq!(metadata(Value::Null, Op::Add).unwrap(), None);
        let e = metadata(json!({"a": {"b": 1}}), Op::Add).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected metadata value to be a str, int, float, bool, SparseVector, list, or None, \
             got {'b': 1} which is a dict in add."
        );
        assert_eq!(e.kind(), ErrorKind::ValueError);
        let e = metadata(json!({"a": [1, 2.5]}), Op::Update).unwrap_err();
        assert!(e.to_string().ends_with("got [1, 2.5] in update."), "{e}");
        let e = metadata(json!(["a"]), Op::Add).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected metadata to be a dict or None, got list as metadata in add."
        );
        let e = metadatas(vec![json!({"a": null}), json!({"b": {"c": 1}})], Op::Add).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueError, "type faults first: {e}");
        let e = metadatas(vec![json!({"a": null}), json!({"b": 1})], Op::Add).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TypeError);
        assert!(!e.to_string().ends_with(" in add."), "{e}");
        let p = metadata_patch(json!({"a": null}), Op::Update)
            .unwrap()
            .unwrap();
        assert_eq!(p["a"], None);
    }

    #[test]
    fn include_names_and_numbers() {
        let inc = include(&json!(["documents", "data", "distances"]), Op::Query).unwrap();
        assert!(inc.documents && inc.distances && !inc.embeddings);
        let e = include(&json!(["foo"]), Op::Get).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected include item to be one of documents, embeddings, metadatas, distances, \
             uris, data, got foo in get."
        );
        assert_eq!(n_results(&json!(3)).unwrap(), 3);
        assert_eq!(n_results(&json!(true)).unwrap(), 1);
        let e = n_results(&json!(-1)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TypeError);
        assert_eq!(
            e.to_string(),
            "Number of requested results -1, cannot be negative, or zero. in query."
        );
        let e = n_results(&json!("3")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected requested number of results to be a int, got 3 in query."
        );
        assert_eq!(delete_limit(&json!(2)).unwrap(), 2);
        assert_eq!(
            delete_limit(&json!(-1)).unwrap_err().kind(),
            ErrorKind::ValueError
        );
        assert_eq!(
            delete_limit(&json!(true)).unwrap_err().kind(),
            ErrorKind::TypeError
        );
        assert_eq!(
            delete_limit(&json!(1.0)).unwrap_err().kind(),
            ErrorKind::TypeError
        );
    }

    #[test]
    fn rows_of_vectors() {
        assert_eq!(embedding_rows([3, 3], Op::Add).unwrap(), 3);
        assert_eq!(embedding_rows([], Op::Add).unwrap(), 0);
        let e = embedding_rows([2, 0, 1], Op::Add).unwrap_err();
        assert!(e.to_string().ends_with("no values at pos 1 in add."), "{e}");
        let e = embedding_rows([2, 1], Op::Query).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Inconsistent dimensions in provided embeddings"
        );
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }
}
