//! The values that cross the engine's API: metadata, record batches, requests and results.

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

use crate::config::CollectionConfig;
use crate::distance::Space;

// Deserialized by `metadata_serde` with the result serde's derived untagged enum gives,
// without its cost (it buffers the value and tries each variant in turn, building an error
// per miss: a tenth of a query's time went to reading back the metadata of its hits).
/// A metadata value, as Chroma allows them: scalars and non-empty homogeneous lists, written
/// in JSON as a scalar or an array.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum MetadataValue {
    /// `true` / `false` (distinct from integers, as in Chroma).
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A finite 64-bit float.
    Float(f64),
    /// A string.
    Str(String),
    /// A non-empty list of booleans.
    BoolList(Vec<bool>),
    /// A non-empty list of integers.
    IntList(Vec<i64>),
    /// A non-empty list of finite floats.
    FloatList(Vec<f64>),
    /// A non-empty list of strings.
    StrList(Vec<String>),
}

impl From<&str> for MetadataValue {
    fn from(v: &str) -> Self {
        MetadataValue::Str(v.to_owned())
    }
}
impl From<String> for MetadataValue {
    fn from(v: String) -> Self {
        MetadataValue::Str(v)
    }
}
impl From<i64> for MetadataValue {
    fn from(v: i64) -> Self {
        MetadataValue::Int(v)
    }
}
impl From<f64> for MetadataValue {
    fn from(v: f64) -> Self {
        MetadataValue::Float(v)
    }
}
impl From<bool> for MetadataValue {
    fn from(v: bool) -> Self {
        MetadataValue::Bool(v)
    }
}

/// When a write's commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Synced before the call returns: a power loss right after cannot undo it.
    #[default]
    Synced,
    /// Committed and visible to every reader and process at once, but synced only with the
    /// next synced write (or SQLite's next checkpoint): a power loss or OS crash soon after may
    /// undo it, whole, never in part, and a process crash cannot. For bookkeeping that is
    /// cheap to lose, such as access times, where a sync per write would cost more than the
    /// write.
    Deferred,
}

/// Options of a write (add, upsert, update).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WriteOptions {
    /// When the records written expire. `None`: records inserted get the collection's
    /// `mnemodb:ttl` if it has one, else never expire; records updated get the collection's
    /// ttl afresh if it has one, else keep their expiry.
    pub expiry: Option<crate::Expiry>,
    /// When the commit reaches the disk.
    pub durability: Durability,
}

/// A record's (or a collection's) metadata: keys in sorted order.
pub type Metadata = BTreeMap<String, MetadataValue>;

/// A change to a record's metadata: `Some(v)` sets a key, `None` removes it (Chroma's update).
pub type MetadataPatch = BTreeMap<String, Option<MetadataValue>>;

/// Vectors passed in: rows of `dim` floats back to back (row-major), so a numpy array or a
/// flat buffer passes in without a copy.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Vectors<'a> {
    /// `rows * dim` floats.
    pub data: &'a [f32],
    /// Floats per vector.
    pub dim: usize,
}

impl<'a> Vectors<'a> {
    /// `data` read as rows of `dim` floats.
    pub fn new(data: &'a [f32], dim: usize) -> Vectors<'a> {
        Vectors { data, dim }
    }

    /// Number of vectors (0 when `dim` is 0); the write checks `data` holds whole rows.
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }
}

/// Records to `add`: every record has an embedding; documents, uris and metadata are optional.
///
/// Every field has one entry per id; a call whose fields disagree fails with chromadb's
/// `Unequal lengths for fields: ...` (see [`Op`](crate::Op) for how checks are worded).
#[derive(Debug, Clone, Copy, Default)]
pub struct AddBatch<'a> {
    /// One id per record, unique within the call.
    pub ids: &'a [String],
    /// One vector per record.
    pub embeddings: Vectors<'a>,
    /// One optional document per record, or `None` for no documents at all.
    pub documents: Option<&'a [Option<String>]>,
    /// One optional uri per record.
    pub uris: Option<&'a [Option<String>]>,
    /// One optional metadata map per record.
    pub metadatas: Option<&'a [Option<Metadata>]>,
}

/// Records to `update` or `upsert`: only the fields given change.
///
/// For an existing record a `None` document or uri keeps the old one, and metadata is merged
/// key by key (a `None` value removes the key). `upsert` requires embeddings.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpdateBatch<'a> {
    /// One id per record, unique within the call.
    pub ids: &'a [String],
    /// One vector per record, or `None` to keep the stored vectors.
    pub embeddings: Option<Vectors<'a>>,
    /// Per record: `Some(doc)` replaces the document, `None` keeps it.
    pub documents: Option<&'a [Option<String>]>,
    /// Per record: `Some(uri)` replaces the uri, `None` keeps it.
    pub uris: Option<&'a [Option<String>]>,
    /// Per record: a patch merged into the stored metadata.
    pub metadatas: Option<&'a [Option<MetadataPatch>]>,
}

/// Which fields a `get` or `query` returns (ids always come back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Include {
    /// The stored vectors.
    pub embeddings: bool,
    /// The documents.
    pub documents: bool,
    /// The metadata maps.
    pub metadatas: bool,
    /// The uris.
    pub uris: bool,
    /// The distances (query only).
    pub distances: bool,
}

impl Include {
    /// Chroma's default for `get`: metadatas and documents.
    pub fn get_default() -> Include {
        Include {
            documents: true,
            metadatas: true,
            ..Include::default()
        }
    }

    /// Chroma's default for `query`: metadatas, documents and distances.
    pub fn query_default() -> Include {
        Include {
            distances: true,
            ..Include::get_default()
        }
    }

    /// Everything `get` can return: embeddings, documents, metadatas and uris.
    pub fn all_get() -> Include {
        Include {
            distances: false,
            ..Include::all()
        }
    }

    /// Everything a record has, and distances.
    pub fn all() -> Include {
        Include {
            embeddings: true,
            documents: true,
            metadatas: true,
            uris: true,
            distances: true,
        }
    }
}

/// Vectors returned by `get` / `query`: `len()` rows of `dim` floats, back to back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embeddings {
    /// Floats per vector.
    pub dim: usize,
    /// Row-major data, `len() * dim` floats.
    pub data: Vec<f32>,
}

impl Embeddings {
    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The `i`-th vector.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The vectors in order.
    pub fn rows(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim.max(1))
    }
}

/// Which records a `get` reads: by id, by filter, or both (a record must pass every part),
/// then paged with `offset` and `limit`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GetRequest<'a> {
    /// Only these ids (missing ones are skipped); `None` for all records.
    pub ids: Option<&'a [String]>,
    /// At most this many records.
    pub limit: Option<usize>,
    /// Skip this many records first (counted after filtering).
    pub offset: usize,
    /// Fields to return; `distances` is not allowed.
    pub include: Include,
    /// chromadb's `where` on metadata, as the JSON a Python or HTTP caller passes
    /// (`{"source": "s3"}`, `{"$and": [...]}`); `None` or JSON `null` for no filter. Checked as
    /// the `chromadb` Python client checks it, with its error messages.
    pub where_: Option<&'a serde_json::Value>,
    /// chromadb's `where_document` on documents (`{"$contains": "text"}`), as JSON.
    pub where_document: Option<&'a serde_json::Value>,
}

/// Records in insertion order, with the fields asked for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GetResult {
    /// The records' ids.
    pub ids: Vec<String>,
    /// Their vectors, if included.
    pub embeddings: Option<Embeddings>,
    /// Their documents, if included.
    pub documents: Option<Vec<Option<String>>>,
    /// Their uris, if included.
    pub uris: Option<Vec<Option<String>>>,
    /// Their metadata, if included.
    pub metadatas: Option<Vec<Option<Metadata>>>,
}

/// A nearest-neighbour query: one or more query vectors.
///
/// Filters are passed beside it, to [`Collection::query_where`](crate::Collection::query_where).
#[derive(Debug, Clone, Copy)]
pub struct QueryRequest<'a> {
    /// Query vectors back to back, `dim` floats each.
    pub embeddings: &'a [f32],
    /// Floats per query vector (must be the collection's dimension).
    pub dim: usize,
    /// Results per query (at least 1).
    pub n_results: usize,
    /// Restrict the search to these ids; `None` searches everything.
    pub ids: Option<&'a [String]>,
    /// Fields to return.
    pub include: Include,
}

/// The hits of one query vector, nearest first (ties in insertion order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryHits {
    /// The records' ids.
    pub ids: Vec<String>,
    /// Distances in the collection's space, if included.
    pub distances: Option<Vec<f32>>,
    /// Their vectors, if included.
    pub embeddings: Option<Embeddings>,
    /// Their documents, if included.
    pub documents: Option<Vec<Option<String>>>,
    /// Their uris, if included.
    pub uris: Option<Vec<Option<String>>>,
    /// Their metadata, if included.
    pub metadatas: Option<Vec<Option<Metadata>>>,
}

/// What the catalog knows about a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionInfo {
    /// Stable identifier, also the name of the collection's directory.
    pub id: Uuid,
    /// The current name.
    pub name: String,
    /// Vector dimension, fixed by the first add (or at creation).
    pub dimension: Option<usize>,
    /// The distance the collection ranks by (`configuration.hnsw.space`).
    pub space: Space,
    /// The index configuration, as chromadb's `configuration_json` reports it.
    pub configuration: CollectionConfig,
    /// The collection's own metadata.
    pub metadata: Option<Metadata>,
}

/// Storage figures of a collection, for `inspect` and compaction decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionStats {
    /// Live records: what every read sees (`count`).
    pub records: u64,
    /// Records past their expiry that the sweep has not deleted yet: no read sees them, and
    /// their slots become dead when it does (`records + expired + dead_slots == slots`).
    pub expired: u64,
    /// Slots in the vector file (live, expired and dead).
    pub slots: u64,
    /// Slots no record points to any more (reclaimed by `compact`).
    pub dead_slots: u64,
    /// Writes committed to this collection so far.
    pub seq: u64,
    /// Slots this process's HNSW index has linked (0: no index, searched exactly).
    pub indexed_slots: u64,
}

/// How much of a collection its HNSW index covers, for `inspect` and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexCoverage {
    /// Committed slots (live and dead) of the current generation.
    pub slots: u64,
    /// Slots this process's graph has linked (0 before it loads or builds one).
    pub linked: u64,
    /// Slots the saved graph file covers (what another process opening it would load).
    pub saved: u64,
    /// Whether the collection is small enough to be searched exactly, with no graph.
    pub exact_only: bool,
}

mod metadata_serde {
    //! `Deserialize` for [`MetadataValue`]: one pass over the input, the variants in the
    //! order the untagged derive tried them (bool, integer, float, string; for arrays: all
    //! booleans, all integers, all numbers, all strings, so `[]` is an empty `BoolList`).

    use std::fmt;

    use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

    use super::MetadataValue;

    const NO_MATCH: &str = "data did not match any variant of untagged enum MetadataValue";

    /// A scalar: a metadata value or an array element.
    enum Scalar {
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(String),
    }

    impl From<Scalar> for MetadataValue {
        fn from(s: Scalar) -> Self {
            match s {
                Scalar::Bool(b) => MetadataValue::Bool(b),
                Scalar::Int(i) => MetadataValue::Int(i),
                Scalar::Float(f) => MetadataValue::Float(f),
                Scalar::Str(s) => MetadataValue::Str(s),
            }
        }
    }

    struct ScalarVisitor;

    impl Visitor<'_> for ScalarVisitor {
        type Value = Scalar;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean, number or string")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
            Ok(Scalar::Bool(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
            Ok(Scalar::Int(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
            // Past i64 the derive fell through to the float variant.
            Ok(i64::try_from(v).map_or(Scalar::Float(v as f64), Scalar::Int))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
            Ok(Scalar::Float(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
            Ok(Scalar::Str(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
            Ok(Scalar::Str(v))
        }
    }

    impl<'de> Deserialize<'de> for Scalar {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ScalarVisitor)
        }
    }

    struct ValueVisitor;

    impl<'de> Visitor<'de> for ValueVisitor {
        type Value = MetadataValue;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean, number, string or array of one of them")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<MetadataValue, E> {
            ScalarVisitor.visit_bool(v).map(Into::into)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<MetadataValue, E> {
            ScalarVisitor.visit_i64(v).map(Into::into)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<MetadataValue, E> {
            ScalarVisitor.visit_u64(v).map(Into::into)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<MetadataValue, E> {
            ScalarVisitor.visit_f64(v).map(Into::into)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<MetadataValue, E> {
            ScalarVisitor.visit_str(v).map(Into::into)
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<MetadataValue, E> {
            ScalarVisitor.visit_string(v).map(Into::into)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MetadataValue, A::Error> {
            let mut items: Vec<Scalar> = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(item) = seq
                .next_element::<Scalar>()
                .map_err(|_| de::Error::custom(NO_MATCH))?
            {
                items.push(item);
            }
            let all = |f: fn(&Scalar) -> bool| items.iter().all(f);
            let value = if all(|s| matches!(s, Scalar::Bool(_))) {
                MetadataValue::BoolList(
                    items
                        .iter()
                        .map(|s| matches!(s, Scalar::Bool(true)))
                        .collect(),
                )
            } else if all(|s| matches!(s, Scalar::Int(_))) {
                let ints = items.iter().filter_map(|s| match s {
                    Scalar::Int(i) => Some(*i),
                    _ => None,
                });
                MetadataValue::IntList(ints.collect())
            } else if all(|s| matches!(s, Scalar::Int(_) | Scalar::Float(_))) {
                let floats = items.iter().filter_map(|s| match s {
                    Scalar::Int(i) => Some(*i as f64),
                    Scalar::Float(f) => Some(*f),
                    _ => None,
                });
                MetadataValue::FloatList(floats.collect())
            } else if all(|s| matches!(s, Scalar::Str(_))) {
                let strings = items.into_iter().filter_map(|s| match s {
                    Scalar::Str(s) => Some(s),
                    _ => None,
                });
                MetadataValue::StrList(strings.collect())
            } else {
                return Err(de::Error::custom(NO_MATCH));
            };
            Ok(value)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<MetadataValue, A::Error> {
            Err(de::Error::custom(NO_MATCH))
        }
        fn visit_unit<E: de::Error>(self) -> Result<MetadataValue, E> {
            Err(de::Error::custom(NO_MATCH))
        }
    }

    impl<'de> Deserialize<'de> for MetadataValue {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ValueVisitor)
        }
    }

    #[cfg(test)]
    mod tests {
        use serde::Deserialize;

        use super::MetadataValue;

        /// What serde's derived untagged enum gave, kept as the oracle.
        #[derive(Debug, Deserialize)]
        #[serde(untagged)]
        enum Derived {
            Bool(bool),
            Int(i64),
            Float(f64),
            Str(String),
            BoolList(Vec<bool>),
            IntList(Vec<i64>),
            FloatList(Vec<f64>),
            StrList(Vec<String>),
        }

        impl From<Derived> for MetadataValue {
            fn from(d: Derived) -> Self {
                match d {
                    Derived::Bool(v) => MetadataValue::Bool(v),
                    Derived::Int(v) => MetadataValue::Int(v),
                    Derived::Float(v) => MetadataValue::Float(v),
                    Derived::Str(v) => MetadataValue::Str(v),
                    Derived::BoolList(v) => MetadataValue::BoolList(v),
                    Derived::IntList(v) => MetadataValue::IntList(v),
                    Derived::FloatList(v) => MetadataValue::FloatList(v),
                    Derived::StrList(v) => MetadataValue::StrList(v),
                }
            }
        }

        #[test]
        fn reads_what_the_derived_untagged_enum_read() {
            let cases = [
                "true",
                "false",
                "0",
                "-7",
                "9223372036854775807",
                "9223372036854775808",
                "18446744073709551615",
                "1.0",
                "-2.5e300",
                "\"\"",
                "\"x\\u00e9\"",
                "[]",
                "[true, false]",
                "[1, 2]",
                "[1, 2.5]",
                "[1.5]",
                "[\"a\", \"b\"]",
                "[18446744073709551615, 1]",
                "[1, \"a\"]",
                "[true, 1]",
                "[[1]]",
                "[null]",
                "null",
                "{}",
                "{\"a\": 1}",
            ];
            for json in cases {
                let ours = serde_json::from_str::<MetadataValue>(json);
                let derived = serde_json::from_str::<Derived>(json).map(MetadataValue::from);
                match (&ours, &derived) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{json}"),
                    // Same message; ours also says where (the derive buffered the value first).
                    (Err(a), Err(b)) => assert!(
                        a.to_string()
                            .starts_with(&b.to_string().replace("Derived", "MetadataValue")),
                        "{json}: {a} / {b}"
                    ),
                    _ => panic!("{json}: ours {ours:?}, derived {derived:?}"),
                }
            }
        }
    }
}
