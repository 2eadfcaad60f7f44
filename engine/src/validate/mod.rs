//! Every check on a request, in one place, run before any change (a call that fails changes
//! nothing). chromadb checks a request in two places, and this module runs both, in its order:
//!
//! 1. **chromadb's client** (`chromadb/api/types.py`, run by its Python `Collection` before it
//!    calls its backend): record-set lengths, ids, documents, metadata, `include`, `n_results`,
//!    `delete`'s arguments, and the first layer of filter checks (`filter::parse`). Its
//!    messages end in `" in <op>."` ([`Error::Refused`], [`Error::DuplicateIds`]).
//! 2. **chromadb's backend**, and the engine's own limits: empty ids, non-finite or oversized
//!    vectors, metadata keys and values that cannot be stored, the other filter layers
//!    ([`Error::InvalidArgument`] and its siblings, without the suffix).
//!
//! The Python and HTTP layers only convert their values. The conversions that can fail before
//! a typed value exists (JSON metadata, `include` names, `n_results`, rows of vectors) are in
//! [`crate::request`], with chromadb's messages too.

use std::collections::HashSet;

use serde_json::Value;

use crate::error::{Error, ErrorKind, Op, Result};
use crate::filter::{self, Filter, Validation};
use crate::request::CollectionCall;
use crate::types::{
    AddBatch, GetRequest, Metadata, MetadataPatch, MetadataValue, QueryRequest, UpdateBatch,
    Vectors,
};

#[cfg(test)]
mod tests;

/// The largest dimension a collection may have.
pub const MAX_DIMENSION: usize = 65_536;

/// chromadb's message for an empty list of vectors (`normalize_embeddings`; an empty list or
/// array prints as `[]`).
pub(crate) const EMPTY_EMBEDDINGS: &str =
    "Expected Embeddings to be non-empty list or numpy array, got []";

/// The metadata key chromadb keeps documents under, which a record's metadata may not use.
const RESERVED_KEY: &str = "chroma:document";

/// Chroma's collection-name rule: 3-512 chars of `[a-zA-Z0-9._-]`, starting and ending with
/// a letter or digit, no `..`, not an IPv4 address.
pub(crate) fn collection_name(name: &str) -> Result<()> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    let ends_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if !(3..=512).contains(&name.len()) || !ok_chars || !ends_ok {
        return Err(Error::InvalidCollectionName(format!(
            "Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and \
             ending with a character in [a-zA-Z0-9]. Got: {name}"
        )));
    }
    if name.contains("..") {
        return Err(Error::InvalidCollectionName(format!(
            "Expected a name that does not contains two consecutive periods (..). Got {name}"
        )));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(Error::InvalidCollectionName(format!(
            "Expected a name that is not a valid ip address. Got {name}"
        )));
    }
    Ok(())
}

// --- writes --------------------------------------------------------------------------------------

/// A record's metadata as the checks read it: a map, or a patch whose `None` removes a key.
pub(crate) trait RecordMetadata {
    /// Number of keys.
    fn key_count(&self) -> usize;
    /// Keys and values (`None`: the key is removed).
    fn entries(&self) -> impl Iterator<Item = (&String, Option<&MetadataValue>)>;
}

impl RecordMetadata for Metadata {
    fn key_count(&self) -> usize {
        self.len()
    }
    fn entries(&self) -> impl Iterator<Item = (&String, Option<&MetadataValue>)> {
        self.iter().map(|(k, v)| (k, Some(v)))
    }
}

impl RecordMetadata for MetadataPatch {
    fn key_count(&self) -> usize {
        self.len()
    }
    fn entries(&self) -> impl Iterator<Item = (&String, Option<&MetadataValue>)> {
        self.iter().map(|(k, v)| (k, v.as_ref()))
    }
}

/// The fields of a write (`add`, `update`, `upsert`) as chromadb's record-set checks read
/// them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Records<'a, M> {
    pub(crate) op: Op,
    pub(crate) ids: &'a [String],
    pub(crate) embeddings: Option<Vectors<'a>>,
    pub(crate) documents: Option<&'a [Option<String>]>,
    pub(crate) uris: Option<&'a [Option<String>]>,
    pub(crate) metadatas: Option<&'a [Option<M>]>,
}

impl<'a> Records<'a, Metadata> {
    pub(crate) fn add(b: &AddBatch<'a>) -> Self {
        Records {
            op: Op::Add,
            ids: b.ids,
            embeddings: Some(b.embeddings),
            documents: b.documents,
            uris: b.uris,
            metadatas: b.metadatas,
        }
    }
}

impl<'a> Records<'a, MetadataPatch> {
    pub(crate) fn update(op: Op, b: &UpdateBatch<'a>) -> Self {
        Records {
            op,
            ids: b.ids,
            embeddings: b.embeddings,
            documents: b.documents,
            uris: b.uris,
            metadatas: b.metadatas,
        }
    }
}

impl<M: RecordMetadata> Records<'_, M> {
    /// Both layers; returns the vectors' dimension, if vectors were given.
    pub(crate) fn check(&self) -> Result<Option<usize>> {
        self.check_client()?;
        self.check_backend()
    }

    /// chromadb's `validate_insert_record_set` (and `normalize_embeddings` before it), in
    /// its order.
    pub(crate) fn check_client(&self) -> Result<()> {
        self.client_checks(false)
    }

    /// [`check_client`](Self::check_client) of a write whose vectors the caller is about to
    /// compute from its documents, as chromadb checks before it embeds: then every document
    /// must be given (`None` cannot be embedded). The engine embeds nothing, so to its own
    /// writes a `None` document only means "keep the stored one".
    pub(crate) fn check_before_embedding(&self) -> Result<()> {
        self.client_checks(self.embeddings.is_none())
    }

    fn client_checks(&self, documents_required: bool) -> Result<()> {
        let op = self.op;
        if let Some(e) = self.embeddings {
            vectors_shape(e)?;
            if e.rows() == 0 {
                return Err(Error::value(EMPTY_EMBEDDINGS, op));
            }
        }
        // chromadb's InsertRecordSet key order (`images` never reaches the engine).
        record_set_lengths(
            &[
                ("ids", Some(self.ids.len())),
                ("metadatas", self.metadatas.map(<[_]>::len)),
                ("embeddings", self.embeddings.map(|e| e.rows())),
                ("documents", self.documents.map(<[_]>::len)),
                ("uris", self.uris.map(<[_]>::len)),
            ],
            op,
        )?;
        if documents_required
            && self
                .documents
                .is_some_and(|d| d.iter().any(Option::is_none))
        {
            return Err(Error::value("Expected document to be a str, got None", op));
        }
        lookup_ids(self.ids, op)?;
        for m in self.metadatas.into_iter().flatten().flatten() {
            metadata_client(m, op)?;
        }
        Ok(())
    }

    /// The backend's checks and the engine's limits.
    fn check_backend(&self) -> Result<Option<usize>> {
        if self.ids.iter().any(String::is_empty) {
            return Err(Error::EmptyId);
        }
        let dim = self.embeddings.map(finite_vectors).transpose()?;
        for (index, m) in self.metadatas.into_iter().flatten().enumerate() {
            if let Some(m) = m {
                metadata_backend(index, m)?;
            }
        }
        Ok(dim)
    }
}

/// chromadb's `_validate_record_set_length_consistency` over the fields (`None`: not given),
/// in order.
pub(crate) fn record_set_lengths(fields: &[(&str, Option<usize>)], op: Op) -> Result<()> {
    let given: Vec<(&str, usize)> = fields
        .iter()
        .filter_map(|&(name, len)| len.map(|l| (name, l)))
        .collect();
    if given.is_empty() {
        let names: Vec<&str> = fields.iter().map(|&(name, _)| name).collect();
        return Err(Error::value(
            format!(
                "At least one of one of {} must be provided",
                names.join(", ")
            ),
            op,
        ));
    }
    let empty: Vec<String> = given
        .iter()
        .filter(|(_, len)| *len == 0)
        .map(|(name, _)| format!("'{name}'"))
        .collect();
    if !empty.is_empty() {
        return Err(Error::value(
            format!("Non-empty lists are required for [{}]", empty.join(", ")),
            op,
        ));
    }
    if given.windows(2).any(|w| w[0].1 != w[1].1) {
        let listed: Vec<String> = given
            .iter()
            .map(|(name, len)| format!("{name}: {len}"))
            .collect();
        return Err(Error::value(
            format!("Unequal lengths for fields: {}", listed.join(", ")),
            op,
        ));
    }
    Ok(())
}

/// `data` holds whole rows of `dim` floats (something only a Rust caller can get wrong).
fn vectors_shape(v: Vectors<'_>) -> Result<()> {
    let whole = match v.dim {
        0 => v.data.is_empty(),
        dim => v.data.len().is_multiple_of(dim),
    };
    if whole {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "embeddings hold {} floats, not whole vectors of dimension {}",
            v.data.len(),
            v.dim
        )))
    }
}

/// Vectors the engine can store: a dimension within bounds, finite values. Returns the
/// dimension.
fn finite_vectors(v: Vectors<'_>) -> Result<usize> {
    if v.dim > MAX_DIMENSION {
        return Err(Error::invalid(format!(
            "Embedding dimension must be between 1 and {MAX_DIMENSION}, got {}",
            v.dim
        )));
    }
    if let Some(pos) = v.data.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFiniteEmbedding { index: pos / v.dim });
    }
    Ok(v.dim)
}

/// The vector dimension must be the collection's.
pub(crate) fn dimension(expected: Option<usize>, got: usize) -> Result<()> {
    match expected {
        Some(expected) if expected != got => Err(Error::DimensionMismatch { expected, got }),
        _ => Ok(()),
    }
}

/// chromadb's `validate_ids`: at least one, no duplicates. The empty string passes here (a
/// read or delete may name it; a write refuses it in the backend's checks).
pub(crate) fn lookup_ids(ids: &[String], op: Op) -> Result<()> {
    if ids.is_empty() {
        return Err(Error::value(
            "Expected IDs to be a non-empty list, got 0 IDs",
            op,
        ));
    }
    let mut seen = HashSet::with_capacity(ids.len());
    let mut repeated = HashSet::new();
    let mut dups: Vec<String> = Vec::new();
    for id in ids {
        if !seen.insert(id.as_str()) && repeated.insert(id.as_str()) {
            dups.push(id.clone());
        }
    }
    if dups.is_empty() {
        Ok(())
    } else {
        Err(Error::DuplicateIds { ids: dups, op })
    }
}

/// chromadb's `validate_metadata` on a typed map: not empty, not the reserved key, no empty
/// list. (The type rules apply where values are still untyped: [`crate::request`].)
pub(crate) fn metadata_client(m: &impl RecordMetadata, op: Op) -> Result<()> {
    if m.key_count() == 0 {
        return Err(Error::value(
            "Expected metadata to be a non-empty dict, got 0 metadata attributes",
            op,
        ));
    }
    for (key, value) in m.entries() {
        if key == RESERVED_KEY {
            return Err(Error::value(
                format!("Expected metadata to not contain the reserved key {RESERVED_KEY}"),
                op,
            ));
        }
        if value.is_some_and(is_empty_list) {
            return Err(Error::value(
                format!("Expected metadata list value for key '{key}' to be non-empty"),
                op,
            ));
        }
    }
    Ok(())
}

fn is_empty_list(v: &MetadataValue) -> bool {
    match v {
        MetadataValue::BoolList(l) => l.is_empty(),
        MetadataValue::IntList(l) => l.is_empty(),
        MetadataValue::FloatList(l) => l.is_empty(),
        MetadataValue::StrList(l) => l.is_empty(),
        _ => false,
    }
}

/// The backend's rule for record `index`'s keys, and finite numbers (the engine's: NaN and
/// the infinities cannot be stored as JSON).
fn metadata_backend(index: usize, m: &impl RecordMetadata) -> Result<()> {
    m.entries()
        .try_for_each(|(key, value)| backend_entry(index, key, value))
}

fn backend_entry(index: usize, key: &str, value: Option<&MetadataValue>) -> Result<()> {
    if key.is_empty() || key.starts_with('#') || key.starts_with('$') {
        return Err(Error::invalid(format!(
            "Validation error: metadatas: Invalid metadata at index {index}: key {key:?} must \
             be non-empty and not start with '#' or '$'"
        )));
    }
    value.map_or(Ok(()), |v| finite_value(key, v))
}

fn finite_value(key: &str, v: &MetadataValue) -> Result<()> {
    let finite = match v {
        MetadataValue::Float(f) => f.is_finite(),
        MetadataValue::FloatList(l) => l.iter().all(|f| f.is_finite()),
        _ => true,
    };
    if finite {
        Ok(())
    } else {
        Err(non_finite_metadata(key))
    }
}

/// The engine's refusal of a NaN or infinite metadata number.
pub(crate) fn non_finite_metadata(key: &str) -> Error {
    Error::invalid(format!(
        "Metadata value for key '{key}' must be a finite number (NaN and infinity cannot be stored)"
    ))
}

/// A collection's metadata, checked as chromadb checks it for `call` (the typed rules; the
/// conversion faults of loosely typed values are [`crate::request::collection_metadata`]'s).
///
/// `create_collection` and `get_or_create_collection`: chromadb's backend (`metadata` named in
/// the message): not empty, keys non-empty and not starting with `#` or `$`; and no empty
/// list (its bindings). `modify`: chromadb's client first (`ValueError`s: not the reserved key, no empty list, the distance function unchanged), then its backend
/// (`new_metadata` named). Both: numbers finite (the engine's rule: JSON cannot hold NaN).
pub(crate) fn collection_metadata(m: &Metadata, call: CollectionCall) -> Result<()> {
    let refused = |message: String| Error::Refused {
        kind: ErrorKind::ValueError,
        message,
        op: None,
    };
    if call == CollectionCall::Modify {
        // An empty map is refused by `request::collection_metadata` before it drops `null`
        // values; here it is what remains of `{"k": None}`, which chromadb stores as `{}`.
        for (key, value) in m {
            if key == RESERVED_KEY {
                return Err(refused(format!(
                    "Expected metadata to not contain the reserved key {RESERVED_KEY}"
                )));
            }
            if is_empty_list(value) {
                return Err(refused(format!(
                    "Expected metadata list value for key '{key}' to be non-empty"
                )));
            }
        }
        if m.contains_key("hnsw:space") {
            return Err(refused(
                "Changing the distance function of a collection once it is created is not \
                 supported currently."
                    .into(),
            ));
        }
    } else {
        if m.values().any(is_empty_list) {
            return Err(refused(
                "Empty lists are not allowed as metadata values".into(),
            ));
        }
        if m.is_empty() {
            return Err(Error::invalid(
                "Validation error: metadata: Metadata cannot be empty",
            ));
        }
    }
    let field = match call {
        CollectionCall::Create => "metadata",
        CollectionCall::Modify => "new_metadata",
    };
    for (key, value) in m {
        if key.is_empty() {
            return Err(Error::invalid(format!(
                "Validation error: {field}: Metadata key cannot be empty"
            )));
        }
        if key.starts_with('#') || key.starts_with('$') {
            return Err(Error::invalid(format!(
                "Validation error: {field}: Metadata key cannot start with '#' or '$': {key}"
            )));
        }
        finite_value(key, value)?;
    }
    crate::expiry::check_collection_ttl(m)
}

// --- reads and deletes ---------------------------------------------------------------------------

/// `None` for an absent or JSON `null` filter (Python's `None` arrives as `null`).
fn given(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// chromadb's checks of a `get`, then the filter's other layers; returns the filter.
pub(crate) fn get(req: &GetRequest<'_>) -> Result<Filter> {
    let op = Op::Get;
    let (w, d) = (given(req.where_), given(req.where_document));
    if let Some(ids) = req.ids {
        lookup_ids(ids, op)?;
    }
    filter::check_client(w, d, op)?;
    if req.include.distances {
        return Err(Error::value(
            "Include item cannot be one of distances, got distances",
            op,
        ));
    }
    filter::parse_filter(w, d, Validation::Backend)
}

/// chromadb's checks of a `query`, then the filter's other layers; returns the number of
/// query vectors and the filter. (Query vectors may hold NaN: chromadb accepts them and
/// answers NaN distances, and nothing is stored.)
pub(crate) fn query(
    req: &QueryRequest<'_>,
    where_: Option<&Value>,
    where_document: Option<&Value>,
) -> Result<(usize, Filter)> {
    let op = Op::Query;
    let (w, d) = (given(where_), given(where_document));
    let vectors = Vectors::new(req.embeddings, req.dim);
    vectors_shape(vectors)?;
    if vectors.rows() == 0 {
        return Err(Error::value(EMPTY_EMBEDDINGS, op));
    }
    filter::check_client(w, d, op)?;
    if req.n_results == 0 {
        return Err(n_results_not_positive("0"));
    }
    let filter = filter::parse_filter(w, d, Validation::Backend)?;
    Ok((vectors.rows(), filter))
}

/// chromadb's `validate_n_results` refusal of `shown` (zero or negative).
pub(crate) fn n_results_not_positive(shown: &str) -> Error {
    Error::type_error(
        format!("Number of requested results {shown}, cannot be negative, or zero."),
        Op::Query,
    )
}

/// chromadb's checks of a `delete`, then the filter's other layers; returns the filter (empty
/// when only ids are given).
pub(crate) fn delete(
    ids: Option<&[String]>,
    where_: Option<&Value>,
    where_document: Option<&Value>,
    limit: Option<usize>,
) -> Result<Filter> {
    let op = Op::Delete;
    let (w, d) = (given(where_), given(where_document));
    if ids.is_none() && w.is_none() && d.is_none() {
        return Err(Error::value(
            "At least one of ids, where, or where_document must be provided",
            op,
        ));
    }
    if limit.is_some() && w.is_none() && d.is_none() {
        return Err(Error::value(
            "limit can only be specified when a where or where_document clause is provided",
            op,
        ));
    }
    if let Some(ids) = ids {
        lookup_ids(ids, op)?;
    }
    filter::check_client(w, d, op)?;
    filter::parse_filter(w, d, Validation::Backend)
}
