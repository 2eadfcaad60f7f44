//! Request and response bodies of the Chroma HTTP API v2, as chromadb 1.5.9's client sends
//! and reads them (`chromadb/api/fastapi.py`), and their conversion to engine values.
//!
//! Conversion only: every check of a request is the engine's, and the values a typed body
//! cannot hold (metadata, `include`, `n_results`, `limit`) are read as JSON and converted by
//! `mnemodb::request`, so a request refused here gets the words the Python package gives.
//!
//! Each type derives `JsonSchema` too: the OpenAPI document's schemas are generated from them.
//! A field kept as JSON for the engine to convert names, with `schemars(with = ...)`, the
//! shape chromadb's client sends, so the document describes the request, not our parsing.

use std::cell::Cell;

use base64::Engine as _;
use mnemodb::{
    CollectionInfo, Embeddings, GetResult, Include, MAX_DIMENSION, Metadata, MetadataPatch, Op,
    QueryHits, request,
};
use schemars::JsonSchema;
use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// Parses a request body: 400 with chromadb's two wordings for bad JSON and for JSON of the
/// wrong shape (wrong types, unknown or missing fields), with the path of the bad value.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            Err(Error::invalid(match inner.classify() {
                serde_json::error::Category::Data => {
                    if path == "." {
                        format!("Failed to deserialize the JSON body into the target type: {inner}")
                    } else {
                        format!(
                            "Failed to deserialize the JSON body into the target type: {path}: {inner}"
                        )
                    }
                }
                _ => format!("Failed to parse the request body as JSON: {inner}"),
            }))
        }
    }
}

thread_local! {
    /// The batch limit of the write body being parsed on this thread ([`parse_write_body`]);
    /// unlimited otherwise.
    static BATCH_LIMIT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Parses a write body (add, update, upsert) whose per-record lists ([`Batch`]) keep at most
/// `max_batch` items: a list past that is counted, not stored, so an oversized batch costs
/// no memory for its records before the caller refuses it by its [`Batch::len`].
pub fn parse_write_body<T: DeserializeOwned>(bytes: &[u8], max_batch: usize) -> Result<T> {
    /// Puts the limit back even if parsing panics.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            BATCH_LIMIT.with(|l| l.set(usize::MAX));
        }
    }
    BATCH_LIMIT.with(|l| l.set(max_batch));
    let _reset = Reset;
    parse_body(bytes)
}

/// A per-record list of a write body (ids, embeddings, metadatas, documents, uris). Parsed
/// by [`parse_write_body`], it stores at most the batch limit of items and counts the rest;
/// [`Batch::len`] is the count sent. Derefs to the stored items: callers check `len()`
/// against the limit, and the lists' lengths against each other, before using them.
#[derive(Debug)]
pub struct Batch<T> {
    items: Vec<T>,
    sent: usize,
}

impl<T> Batch<T> {
    /// How many items the request sent (stored or not).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.sent
    }

    /// The stored items.
    pub fn into_vec(self) -> Vec<T> {
        self.items
    }
}

impl<T> std::ops::Deref for Batch<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<T> From<Vec<T>> for Batch<T> {
    fn from(items: Vec<T>) -> Self {
        Batch {
            sent: items.len(),
            items,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Batch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_seq(BatchVisitor(std::marker::PhantomData))
    }
}

struct BatchVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for BatchVisitor<T> {
    type Value = Batch<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list with one item per record")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let limit = BATCH_LIMIT.with(Cell::get);
        let mut items = Vec::new();
        while items.len() < limit {
            match seq.next_element::<T>()? {
                Some(item) => items.push(item),
                None => return Ok(items.into()),
            }
        }
        let mut sent = items.len();
        while seq.next_element::<de::IgnoredAny>()?.is_some() {
            sent += 1;
        }
        Ok(Batch { items, sent })
    }
}

impl<T: JsonSchema> JsonSchema for Batch<T> {
    fn inline_schema() -> bool {
        <Vec<T>>::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        <Vec<T>>::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        <Vec<T>>::schema_id()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Vec<T>>::json_schema(g)
    }
}

/// `POST .../collections`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    pub name: String,
    /// Converted and checked by the engine (`mnemodb::request::collection_metadata`).
    #[serde(default)]
    #[schemars(with = "Option<Metadata>")]
    pub metadata: Value,
    #[serde(default)]
    pub configuration: Option<Value>,
    /// chromadb's index schema: accepted and ignored (mnemodb indexes every metadata key).
    #[serde(default)]
    #[allow(dead_code)]
    pub schema: Option<Value>,
    #[serde(default)]
    pub get_or_create: bool,
}

/// `PUT .../collections/{id}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyCollection {
    #[serde(default)]
    pub new_name: Option<String>,
    /// Converted and checked by the engine (`mnemodb::request::collection_metadata`).
    #[serde(default)]
    #[schemars(with = "Option<Metadata>")]
    pub new_metadata: Value,
    #[serde(default)]
    pub new_configuration: Option<Value>,
}

/// `POST /tenants` and `POST .../databases`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    pub name: String,
}

/// One embedding on the wire: a list of floats, or little-endian f32 packed in base64 (what
/// the client sends when pre-flight says `supports_base64_encoding`).
///
/// Deserialized by hand, not as a serde `untagged` enum: that buffers the whole value as
/// generic content first (about 10 times the body's size for a long list of numbers) before
/// trying each variant. This reads the floats straight into a `Vec<f32>` and stops at the
/// first value past [`MAX_DIMENSION`], so a huge embedding is refused after at most that many
/// values are read.
#[derive(Debug, JsonSchema)]
#[serde(untagged)]
pub enum EmbeddingIn {
    Floats(Vec<f32>),
    Base64(String),
}

/// The message for an embedding longer than the engine accepts.
fn too_long() -> String {
    format!("an embedding has at most {MAX_DIMENSION} values (the largest dimension)")
}

impl<'de> Deserialize<'de> for EmbeddingIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(EmbeddingVisitor)
    }
}

struct EmbeddingVisitor;

impl<'de> Visitor<'de> for EmbeddingVisitor {
    type Value = EmbeddingIn;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an embedding: a list of numbers, or little-endian f32 in base64")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        // The size hint is not trusted: the vector grows as values arrive.
        let mut v = Vec::new();
        while let Some(x) = seq.next_element::<f32>()? {
            if v.len() == MAX_DIMENSION {
                return Err(de::Error::custom(too_long()));
            }
            v.push(x);
        }
        Ok(EmbeddingIn::Floats(v))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
        self.visit_string(s.to_owned())
    }

    fn visit_string<E: de::Error>(self, s: String) -> std::result::Result<Self::Value, E> {
        // Base64 of MAX_DIMENSION f32, padded.
        if s.len() > (MAX_DIMENSION * 4).div_ceil(3) * 4 {
            return Err(E::custom(too_long()));
        }
        Ok(EmbeddingIn::Base64(s))
    }
}

impl EmbeddingIn {
    fn decode(self, index: usize) -> Result<Vec<f32>> {
        match self {
            EmbeddingIn::Floats(v) => Ok(v),
            EmbeddingIn::Base64(s) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s.as_bytes())
                    .map_err(|e| {
                        Error::invalid(format!("embeddings[{index}]: invalid base64: {e}"))
                    })?;
                if bytes.len() % 4 != 0 {
                    return Err(Error::invalid(format!(
                        "embeddings[{index}]: base64 embedding of {} bytes is not a whole number \
                         of little-endian f32",
                        bytes.len()
                    )));
                }
                Ok(bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect())
            }
        }
    }
}

/// `POST .../add`, `/upsert`, `/update`. Metadata stay JSON until the engine converts them
/// (for add, a `null` value is refused; for update and upsert it removes the key). `M` only
/// names the documented metadata shape: [`Metadata`] for add, [`MetadataPatch`] otherwise.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RecordsBody_{M}")]
pub struct RecordsBody<M> {
    pub ids: Batch<String>,
    #[serde(default)]
    pub embeddings: Option<Batch<Option<EmbeddingIn>>>,
    #[serde(default)]
    #[schemars(with = "Option<Vec<Option<M>>>")]
    pub metadatas: Option<Batch<Value>>,
    #[serde(default)]
    pub documents: Option<Batch<Option<String>>>,
    #[serde(default)]
    pub uris: Option<Batch<Option<String>>>,
    /// mnemodb only: the records written expire this many seconds after the write.
    #[serde(default)]
    pub ttl: Option<f64>,
    /// mnemodb only: the records written expire at this time (seconds since the epoch).
    #[serde(default)]
    pub expires_at: Option<f64>,
    #[serde(skip)]
    #[schemars(skip)]
    pub shape: std::marker::PhantomData<M>,
}

/// The body of an `add`.
pub type AddBody = RecordsBody<Metadata>;
/// The body of an `update` or `upsert` (a `null` metadata value removes the key).
pub type UpdateBody = RecordsBody<MetadataPatch>;

impl<M> RecordsBody<M> {
    /// The write's options: the expiry the body asks for (checked by the engine).
    pub fn write_options(&self) -> Result<mnemodb::WriteOptions> {
        Ok(mnemodb::WriteOptions {
            expiry: mnemodb::Expiry::from_keywords(self.ttl, self.expires_at)?,
            ..mnemodb::WriteOptions::default()
        })
    }

    /// Refuses a body one of whose lists went past the batch limit (counted, not stored):
    /// the engine cannot see those counts, so its own length rule is applied to them here,
    /// with its message. Lists within the limit are left to the engine.
    pub fn check_counted(&self, op: Op) -> Result<()> {
        fn cut<T>(b: &Option<Batch<T>>) -> bool {
            b.as_ref().is_some_and(|b| b.len() != b[..].len())
        }
        let ids_cut = self.ids.len() != self.ids[..].len();
        if !(ids_cut
            || cut(&self.metadatas)
            || cut(&self.embeddings)
            || cut(&self.documents)
            || cut(&self.uris))
        {
            return Ok(());
        }
        request::record_set_lengths(
            &[
                ("ids", Some(self.ids.len())),
                ("metadatas", self.metadatas.as_ref().map(Batch::len)),
                ("embeddings", self.embeddings.as_ref().map(Batch::len)),
                ("documents", self.documents.as_ref().map(Batch::len)),
                ("uris", self.uris.as_ref().map(Batch::len)),
            ],
            op,
        )?;
        Ok(())
    }

    /// The embeddings as one row-major buffer and its dimension, or `None` if none were sent.
    pub fn take_embeddings(&mut self, op: Op) -> Result<Option<(Vec<f32>, usize)>> {
        let Some(list) = self.embeddings.take() else {
            return Ok(None);
        };
        flatten(list.into_vec(), op)
    }

    /// The metadata of an `add`.
    pub fn take_metadatas(&mut self) -> Result<Option<Vec<Option<Metadata>>>> {
        let metadatas = self.metadatas.take();
        Ok(metadatas
            .map(|m| request::metadatas(m.into_vec(), Op::Add))
            .transpose()?)
    }

    /// The metadata patches of an `update` or `upsert`.
    pub fn take_patches(&mut self, op: Op) -> Result<Option<Vec<Option<MetadataPatch>>>> {
        let metadatas = self.metadatas.take();
        Ok(metadatas
            .map(|m| request::metadata_patches(m.into_vec(), op))
            .transpose()?)
    }
}

/// Flattens per-record embeddings into one buffer of a single dimension (rows checked by the
/// engine's rule for rows: none empty, all of one length).
pub fn flatten(list: Vec<Option<EmbeddingIn>>, op: Op) -> Result<Option<(Vec<f32>, usize)>> {
    if list.iter().all(Option::is_none) && !list.is_empty() {
        return Ok(None);
    }
    let mut rows = Vec::with_capacity(list.len());
    for (i, e) in list.into_iter().enumerate() {
        let Some(e) = e else {
            return Err(Error::invalid(format!(
                "embeddings[{i}] is null: give an embedding for every record or for none"
            )));
        };
        rows.push(e.decode(i)?);
    }
    let dim = request::embedding_rows(rows.iter().map(Vec::len), op)?;
    Ok(Some((rows.concat(), dim)))
}

/// An `include` item, as the OpenAPI document names them (the engine reads the list:
/// `mnemodb::request::include`).
#[derive(Debug, Clone, Copy, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // a schema only
pub enum IncludeItem {
    Documents,
    Embeddings,
    Metadatas,
    Distances,
    Uris,
    /// Hydrated by the client from uris; the server has nothing to send for it.
    Data,
}

/// `include` (default: `default`) as the engine's flags and the names to echo back.
pub fn include(value: Option<Value>, default: &[&str], op: Op) -> Result<(Include, Value)> {
    let value = value.unwrap_or_else(|| Value::from(default.to_vec()));
    Ok((request::include(&value, op)?, value))
}

/// `POST .../get`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetBody {
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    #[serde(default, rename = "where")]
    pub where_: Option<Value>,
    #[serde(default)]
    pub where_document: Option<Value>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub offset: Option<usize>,
    #[serde(default)]
    #[schemars(with = "Option<Vec<IncludeItem>>")]
    pub include: Option<Value>,
}

/// `POST .../query`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryBody {
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    #[serde(default)]
    pub query_embeddings: Option<Vec<Option<EmbeddingIn>>>,
    /// Texts to embed instead (mnemodb only: a server started with `--embed default`).
    #[serde(default)]
    pub query_texts: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub n_results: Option<Value>,
    #[serde(default, rename = "where")]
    pub where_: Option<Value>,
    #[serde(default)]
    pub where_document: Option<Value>,
    #[serde(default)]
    #[schemars(with = "Option<Vec<IncludeItem>>")]
    pub include: Option<Value>,
}

/// `POST .../delete`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteBody {
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    #[serde(default, rename = "where")]
    pub where_: Option<Value>,
    #[serde(default)]
    pub where_document: Option<Value>,
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub limit: Option<Value>,
}

/// A collection as the client's `CollectionModel.from_json` reads it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CollectionOut {
    pub id: String,
    pub name: String,
    pub configuration_json: Value,
    pub schema: Option<Value>,
    pub metadata: Option<Metadata>,
    pub dimension: Option<usize>,
    pub tenant: String,
    pub database: String,
    pub log_position: i64,
    pub version: i64,
}

impl CollectionOut {
    /// The collection as the client reads it; `ef` is the embedding function descriptor
    /// stored for it, if any.
    pub fn new(
        info: CollectionInfo,
        ef: Option<Value>,
        tenant: &str,
        database: &str,
    ) -> CollectionOut {
        let mut configuration_json = info.configuration.to_json();
        if let (Some(ef), Value::Object(map)) = (ef, &mut configuration_json) {
            map.insert("embedding_function".to_owned(), ef);
        }
        CollectionOut {
            id: info.id.to_string(),
            name: info.name,
            configuration_json,
            schema: None,
            metadata: info.metadata,
            dimension: info.dimension,
            tenant: tenant.to_owned(),
            database: database.to_owned(),
            log_position: 0,
            version: 0,
        }
    }
}

fn rows(e: Embeddings) -> Vec<Vec<f32>> {
    e.rows().map(<[f32]>::to_vec).collect()
}

/// The body of a `get` answer; fields not included are `null`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GetOut {
    pub ids: Vec<String>,
    pub embeddings: Option<Vec<Vec<f32>>>,
    pub documents: Option<Vec<Option<String>>>,
    pub uris: Option<Vec<Option<String>>>,
    pub metadatas: Option<Vec<Option<Metadata>>>,
    #[schemars(with = "Vec<IncludeItem>")]
    pub include: Value,
}

impl GetOut {
    pub fn new(r: GetResult, include: Value) -> GetOut {
        let n = r.ids.len();
        GetOut {
            ids: r.ids,
            embeddings: r
                .embeddings
                .map(|e| if n == 0 { Vec::new() } else { rows(e) }),
            documents: r.documents,
            uris: r.uris,
            metadatas: r.metadatas,
            include,
        }
    }
}

/// The body of a `query` answer: one inner list per query vector.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryOut {
    pub ids: Vec<Vec<String>>,
    pub embeddings: Option<Vec<Vec<Vec<f32>>>>,
    pub documents: Option<Vec<Vec<Option<String>>>>,
    pub uris: Option<Vec<Vec<Option<String>>>>,
    pub metadatas: Option<Vec<Vec<Option<Metadata>>>>,
    pub distances: Option<Vec<Vec<f32>>>,
    #[schemars(with = "Vec<IncludeItem>")]
    pub include: Value,
}

impl QueryOut {
    pub fn new(hits: Vec<QueryHits>, inc: Include, include: Value) -> QueryOut {
        let mut out = QueryOut {
            ids: Vec::with_capacity(hits.len()),
            embeddings: inc.embeddings.then(Vec::new),
            documents: inc.documents.then(Vec::new),
            uris: inc.uris.then(Vec::new),
            metadatas: inc.metadatas.then(Vec::new),
            distances: inc.distances.then(Vec::new),
            include,
        };
        for h in hits {
            let n = h.ids.len();
            out.ids.push(h.ids);
            if let Some(v) = out.embeddings.as_mut() {
                v.push(match h.embeddings {
                    Some(e) if n > 0 => rows(e),
                    _ => Vec::new(),
                });
            }
            if let Some(v) = out.documents.as_mut() {
                v.push(h.documents.unwrap_or_default());
            }
            if let Some(v) = out.uris.as_mut() {
                v.push(h.uris.unwrap_or_default());
            }
            if let Some(v) = out.metadatas.as_mut() {
                v.push(h.metadatas.unwrap_or_default());
            }
            if let Some(v) = out.distances.as_mut() {
                v.push(h.distances.unwrap_or_default());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_embeddings_are_little_endian_f32() {
        // What chromadb's client sends for [1.0, 0.0, 0.0] (struct.pack("<3f")).
        let e = EmbeddingIn::Base64("AACAPwAAAAAAAAAA".into());
        assert_eq!(e.decode(0).expect("decode"), vec![1.0, 0.0, 0.0]);
        assert!(EmbeddingIn::Base64("AAA=".into()).decode(0).is_err());
        assert!(EmbeddingIn::Base64("***".into()).decode(0).is_err());
    }

    #[test]
    fn flatten_mixes_forms_and_checks_dimensions() {
        let list = vec![
            Some(EmbeddingIn::Floats(vec![1.0, 2.0])),
            Some(EmbeddingIn::Base64("AAAAAAAAgD8=".into())),
        ];
        let (flat, dim) = flatten(list, Op::Add).expect("ok").expect("some");
        assert_eq!((flat, dim), (vec![1.0, 2.0, 0.0, 1.0], 2));
        assert!(flatten(vec![None, None], Op::Add).expect("ok").is_none());
        let ragged = vec![
            Some(EmbeddingIn::Floats(vec![1.0])),
            Some(EmbeddingIn::Floats(vec![1.0, 2.0])),
        ];
        let e = flatten(ragged, Op::Add).expect_err("ragged");
        assert_eq!(
            e.to_string(),
            "Inconsistent dimensions in provided embeddings"
        );
        let empty_row = vec![
            Some(EmbeddingIn::Floats(vec![1.0])),
            Some(EmbeddingIn::Floats(vec![])),
        ];
        let e = flatten(empty_row, Op::Query).expect_err("empty row");
        assert!(
            e.to_string().ends_with("no values at pos 1 in query."),
            "{e}"
        );
        let partial = vec![Some(EmbeddingIn::Floats(vec![1.0])), None];
        assert!(flatten(partial, Op::Add).is_err());
    }

    #[test]
    fn parse_errors_name_the_field() {
        let e = parse_body::<AddBody>(br#"{"ids": ["a"], "metadatas": {"k": 1}}"#)
            .expect_err("metadatas not a list");
        assert!(e.to_string().contains("metadatas"), "{e}");
        let e = parse_body::<AddBody>(b"{").expect_err("eof");
        assert!(
            e.to_string()
                .starts_with("Failed to parse the request body as JSON"),
            "{e}"
        );
        let mut body: AddBody =
            parse_body(br#"{"ids": ["a"], "metadatas": [{"k": {"x": 1}}]}"#).expect("ok");
        let e = body.take_metadatas().expect_err("nested metadata");
        assert!(e.to_string().ends_with("which is a dict in add."), "{e}");
    }

    #[test]
    fn write_bodies_store_at_most_the_batch_limit_and_count_the_rest() {
        let text = br#"{"ids": ["a", "b", "c", "d", "e"], "documents": ["x", null, "z"]}"#;
        let b: AddBody = parse_write_body(text, 2).expect("parses");
        assert_eq!(
            (b.ids.len(), &b.ids[..]),
            (5, &["a".to_owned(), "b".to_owned()][..])
        );
        let docs = b.documents.as_ref().expect("documents");
        assert_eq!((docs.len(), docs[..].len()), (3, 2));
        // Counted lengths are what the length rule compares.
        let e = b.check_counted(Op::Add).expect_err("unequal");
        assert!(e.to_string().contains("ids: 5, documents: 3"), "{e}");
        // Within the limit everything is kept; the limit is gone after the call.
        let b: AddBody = parse_write_body(text, 5).expect("parses");
        assert_eq!(b.ids.len(), b.ids[..].len());
        let b: AddBody = parse_body(text).expect("parses");
        assert_eq!(b.ids[..].len(), 5);
        // An item after the limit is still checked as JSON.
        assert!(parse_write_body::<AddBody>(br#"{"ids": ["a", "b", [}"#, 1).is_err());
    }
}
