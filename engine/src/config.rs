//! A collection's index configuration, in Chroma's shape: `{"hnsw": {"space": ..., ...}}`.
//!
//! Chroma takes it two ways, and so do we ([`CollectionConfig::resolve`]): the
//! `configuration` argument, and the legacy `hnsw:*` keys of the collection metadata
//! (`hnsw:space`, `hnsw:construction_ef`, `hnsw:M`, `hnsw:search_ef`, ...). When both name a
//! setting, the configuration wins. The metadata is kept verbatim either way.
//!
//! `space`, `ef_construction` and `max_neighbors` are fixed at creation; `ef_search` and the
//! bookkeeping knobs (`num_threads`, `batch_size`, `sync_threshold`, `resize_factor`) can be
//! changed later ([`HnswConfigUpdate`]). The bookkeeping knobs are stored and reported for
//! compatibility; mnemodb's own write path does not need them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::distance::Space;
use crate::error::{Error, Result};
use crate::types::{Metadata, MetadataValue};

/// The configuration of a collection: its HNSW index, and the description of the embedding
/// function the client layers use with it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CollectionConfig {
    /// The HNSW index settings, including the distance space.
    pub hnsw: HnswConfig,
    /// chromadb's `embedding_function` entry (`{"type": "known", "name": ..., "config":
    /// {...}}` or `{"type": "legacy"}`), kept verbatim so a client that gets the collection
    /// later rebuilds the same function. The engine never embeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_function: Option<Value>,
}

/// HNSW settings with chromadb's names and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HnswConfig {
    /// The distance the collection ranks by (`l2` by default).
    #[serde(with = "space_name")]
    pub space: Space,
    /// Beam width while building (default 100).
    pub ef_construction: usize,
    /// Beam width while searching (default 100); a query may override it.
    pub ef_search: usize,
    /// Links per node on upper layers, `M` (default 16; layer 0 keeps `2 * M`).
    pub max_neighbors: usize,
    /// Threads for index work (default: the machine's cores).
    pub num_threads: usize,
    /// Chroma's write batch size (default 100). Kept for compatibility.
    pub batch_size: usize,
    /// Chroma's persistence threshold (default 1000). Kept for compatibility.
    pub sync_threshold: usize,
    /// Chroma's index growth factor (default 1.2). Kept for compatibility.
    pub resize_factor: f64,
}

/// chromadb's defaults (`hnsw` configuration of chromadb 1.5), shared with the graph.
pub(crate) const DEFAULT_MAX_NEIGHBORS: usize = 16;
pub(crate) const DEFAULT_EF_CONSTRUCTION: usize = 100;
pub(crate) const DEFAULT_EF_SEARCH: usize = 100;

/// The machine's cores, asked once: `available_parallelism` reads cgroup files on Linux, and a
/// default configuration is made for every catalog row read.
fn machine_cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

impl Default for HnswConfig {
    fn default() -> Self {
        HnswConfig {
            space: Space::L2,
            ef_construction: DEFAULT_EF_CONSTRUCTION,
            ef_search: DEFAULT_EF_SEARCH,
            max_neighbors: DEFAULT_MAX_NEIGHBORS,
            num_threads: machine_cores(),
            batch_size: 100,
            sync_threshold: 1000,
            resize_factor: 1.2,
        }
    }
}

/// The settings [`Collection::modify_configuration`](crate::Collection::modify_configuration)
/// may change; `None` leaves one as it is.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HnswConfigUpdate {
    /// New default search beam width.
    pub ef_search: Option<usize>,
    /// New thread count for index work.
    pub num_threads: Option<usize>,
    /// New batch size.
    pub batch_size: Option<usize>,
    /// New sync threshold.
    pub sync_threshold: Option<usize>,
    /// New resize factor.
    pub resize_factor: Option<f64>,
}

/// Legacy metadata keys and the configuration field each one sets.
const LEGACY_KEYS: [(&str, &str); 8] = [
    ("hnsw:space", "space"),
    ("hnsw:construction_ef", "ef_construction"),
    ("hnsw:M", "max_neighbors"),
    ("hnsw:search_ef", "ef_search"),
    ("hnsw:num_threads", "num_threads"),
    ("hnsw:batch_size", "batch_size"),
    ("hnsw:sync_threshold", "sync_threshold"),
    ("hnsw:resize_factor", "resize_factor"),
];

impl CollectionConfig {
    /// A default configuration ranking by `space`.
    pub fn with_space(space: Space) -> CollectionConfig {
        CollectionConfig {
            hnsw: HnswConfig {
                space,
                ..HnswConfig::default()
            },
            embedding_function: None,
        }
    }

    /// The configuration a new collection gets from chromadb's two inputs: the
    /// `configuration` JSON (`{"hnsw": {...}}`, any subset of keys, or `null`) and the legacy
    /// `hnsw:*` metadata keys. Settings named in neither take their defaults.
    pub fn resolve(configuration: Option<&Value>, metadata: Option<&Metadata>) -> Result<Self> {
        let mut hnsw = Map::new();
        let mut embedding_function = None;
        if let Some(m) = metadata {
            for (key, field) in LEGACY_KEYS {
                if let Some(v) = m.get(key) {
                    hnsw.insert(field.to_owned(), legacy_value(key, v)?);
                }
            }
        }
        match configuration {
            None | Some(Value::Null) => {}
            Some(Value::Object(top)) => {
                for (key, value) in top {
                    match (key.as_str(), value) {
                        (_, Value::Null) => {}
                        ("hnsw", Value::Object(given)) => {
                            hnsw.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
                        }
                        ("hnsw", other) => {
                            return Err(Error::invalid(format!(
                                "configuration \"hnsw\" must be an object, got {other}"
                            )));
                        }
                        ("spann", _) => {
                            return Err(Error::invalid(
                                "the spann index is for distributed Chroma; use \"hnsw\" \
                                 locally",
                            ));
                        }
                        // Chroma keeps the embedding function's description here; the engine
                        // does not embed, the client layers do.
                        ("embedding_function", Value::Object(ef)) => {
                            embedding_function = Some(embedding_function_entry(ef)?);
                        }
                        ("embedding_function", other) => {
                            return Err(Error::invalid(format!(
                                "configuration \"embedding_function\" must be an object such as \
                                 {{\"type\": \"known\", \"name\": ..., \"config\": {{...}}}}, got {other}"
                            )));
                        }
                        (other, _) => {
                            return Err(Error::invalid(format!(
                                "unknown configuration key {other:?}; expected \"hnsw\""
                            )));
                        }
                    }
                }
            }
            Some(other) => {
                return Err(Error::invalid(format!(
                    "configuration must be an object, got {other}"
                )));
            }
        }
        let hnsw: HnswConfig = serde_json::from_value(Value::Object(hnsw))
            .map_err(|e| Error::invalid(format!("invalid hnsw configuration: {e}")))?;
        hnsw.validate()?;
        Ok(CollectionConfig {
            hnsw,
            embedding_function,
        })
    }

    /// The configuration as Chroma's `configuration_json` shows it (chromadb keeps
    /// `num_threads` and `batch_size` out of it).
    pub fn to_json(&self) -> Value {
        let mut hnsw = serde_json::to_value(&self.hnsw).unwrap_or(Value::Null);
        if let Value::Object(fields) = &mut hnsw {
            fields.remove("num_threads");
            fields.remove("batch_size");
        }
        let ef = self.embedding_function.clone().unwrap_or(Value::Null);
        serde_json::json!({ "hnsw": hnsw, "spann": null, "embedding_function": ef })
    }

    /// Everything, for the catalog.
    pub(crate) fn to_stored(&self) -> String {
        match &self.embedding_function {
            None => serde_json::json!({ "hnsw": self.hnsw }),
            Some(ef) => serde_json::json!({ "hnsw": self.hnsw, "embedding_function": ef }),
        }
        .to_string()
    }

    /// Parses what [`CollectionConfig::to_stored`] (or an older catalog) stored.
    pub(crate) fn from_stored(text: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text).map_err(|e| Error::Corrupt {
            path: crate::meta::SQLITE_FILE.into(),
            detail: format!("collection configuration: {e}"),
        })?;
        Self::resolve(Some(&v), None)
    }
}

/// Checks chromadb's description of an embedding function: a string `type`; a `"known"` one
/// (the kind clients rebuild) has a string `name` and an object `config`. Other types
/// (`"legacy"`, chromadb's `"unknown"`) are kept as they are.
fn embedding_function_entry(ef: &Map<String, Value>) -> Result<Value> {
    match ef.get("type").and_then(Value::as_str) {
        Some("known") => {
            if !ef.get("name").is_some_and(Value::is_string) {
                return Err(Error::invalid(
                    "configuration \"embedding_function\" of type \"known\" needs a string \"name\"",
                ));
            }
            if !ef
                .get("config")
                .is_none_or(|c| c.is_object() || c.is_null())
            {
                return Err(Error::invalid(
                    "configuration \"embedding_function\" \"config\" must be an object",
                ));
            }
        }
        Some(_) => {}
        None => {
            return Err(Error::invalid(
                "configuration \"embedding_function\" needs a \"type\" (\"known\" or \"legacy\")",
            ));
        }
    }
    Ok(Value::Object(ef.clone()))
}

impl From<Space> for CollectionConfig {
    fn from(space: Space) -> Self {
        CollectionConfig::with_space(space)
    }
}

impl HnswConfig {
    fn validate(&self) -> Result<()> {
        let positive = [
            ("ef_construction", self.ef_construction),
            ("ef_search", self.ef_search),
            ("max_neighbors", self.max_neighbors),
            ("num_threads", self.num_threads),
            ("batch_size", self.batch_size),
            ("sync_threshold", self.sync_threshold),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(Error::invalid(format!("hnsw {name} must be at least 1")));
            }
        }
        if self.batch_size < 2 {
            return Err(Error::invalid("hnsw batch_size must be at least 2"));
        }
        if self.sync_threshold < 2 {
            return Err(Error::invalid("hnsw sync_threshold must be at least 2"));
        }
        if !(self.resize_factor.is_finite() && self.resize_factor >= 1.0) {
            return Err(Error::invalid("hnsw resize_factor must be at least 1.0"));
        }
        if self.max_neighbors > 255 {
            return Err(Error::invalid("hnsw max_neighbors must be at most 255"));
        }
        Ok(())
    }

    /// This configuration with `update` applied, validated.
    pub fn updated(&self, update: &HnswConfigUpdate) -> Result<HnswConfig> {
        let mut next = self.clone();
        if let Some(v) = update.ef_search {
            next.ef_search = v;
        }
        if let Some(v) = update.num_threads {
            next.num_threads = v;
        }
        if let Some(v) = update.batch_size {
            next.batch_size = v;
        }
        if let Some(v) = update.sync_threshold {
            next.sync_threshold = v;
        }
        if let Some(v) = update.resize_factor {
            next.resize_factor = v;
        }
        next.validate()?;
        Ok(next)
    }
}

impl HnswConfigUpdate {
    /// Parses chroma's update form `{"hnsw": {"ef_search": ...}}`; fixed settings (`space`,
    /// `ef_construction`, `max_neighbors`) are refused.
    pub fn from_json(value: &Value) -> Result<Self> {
        let Value::Object(top) = value else {
            return Err(Error::invalid(format!(
                "configuration must be an object, got {value}"
            )));
        };
        let mut update = HnswConfigUpdate::default();
        for (key, v) in top {
            match (key.as_str(), v) {
                (_, Value::Null) | ("embedding_function", _) => {}
                ("hnsw", Value::Object(fields)) => {
                    for fixed in ["space", "ef_construction", "max_neighbors"] {
                        if fields.contains_key(fixed) {
                            return Err(Error::invalid(format!(
                                "hnsw {fixed} cannot be changed once the collection is created"
                            )));
                        }
                    }
                    update = serde_json::from_value(v.clone()).map_err(|e| {
                        Error::invalid(format!("invalid hnsw configuration update: {e}"))
                    })?;
                }
                (other, _) => {
                    return Err(Error::invalid(format!(
                        "unknown configuration key {other:?}; expected \"hnsw\""
                    )));
                }
            }
        }
        Ok(update)
    }
}

/// A legacy metadata value as the JSON the configuration field expects.
fn legacy_value(key: &str, v: &MetadataValue) -> Result<Value> {
    Ok(match v {
        MetadataValue::Str(s) => Value::String(s.clone()),
        MetadataValue::Int(i) => Value::from(*i),
        MetadataValue::Float(f) => Value::from(*f),
        _ => {
            return Err(Error::invalid(format!(
                "metadata {key:?} must be a string or a number"
            )));
        }
    })
}

/// `Space` as its Chroma name inside the configuration JSON.
mod space_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    use crate::distance::Space;

    pub(super) fn serialize<S: Serializer>(space: &Space, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(space.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Space, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(|e: crate::Error| D::Error::custom(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_chromas() {
        let c = CollectionConfig::resolve(None, None).expect("defaults");
        assert_eq!(c.hnsw.space, Space::L2);
        assert_eq!(
            (
                c.hnsw.ef_construction,
                c.hnsw.ef_search,
                c.hnsw.max_neighbors
            ),
            (100, 100, 16)
        );
    }

    #[test]
    fn embedding_function_is_kept_through_the_catalog() {
        let ef = serde_json::json!({"type": "known", "name": "mnemodb_hash", "config": {"dim": 8}});
        let cfg = serde_json::json!({"hnsw": {"space": "cosine"}, "embedding_function": ef});
        let c = CollectionConfig::resolve(Some(&cfg), None).expect("resolve");
        assert_eq!(c.embedding_function.as_ref(), Some(&ef));
        assert_eq!(c.to_json()["embedding_function"], ef);
        let stored = CollectionConfig::from_stored(&c.to_stored()).expect("stored");
        assert_eq!(stored, c);
        let none = CollectionConfig::resolve(Some(&serde_json::json!({"hnsw": {}})), None)
            .expect("resolve");
        assert_eq!(none.to_json()["embedding_function"], Value::Null);
        assert!(!none.to_stored().contains("embedding_function"));
        for bad in [
            serde_json::json!("mnemodb_hash"),
            serde_json::json!({"name": "x"}),
            serde_json::json!({"type": "known"}),
            serde_json::json!({"type": "known", "name": "x", "config": 3}),
        ] {
            let cfg = serde_json::json!({"embedding_function": bad});
            assert!(
                CollectionConfig::resolve(Some(&cfg), None).is_err(),
                "{cfg}"
            );
        }
    }

    #[test]
    fn configuration_wins_over_legacy_metadata() {
        let mut m = Metadata::new();
        m.insert("hnsw:space".into(), MetadataValue::Str("ip".into()));
        m.insert("hnsw:M".into(), MetadataValue::Int(8));
        let cfg = serde_json::json!({"hnsw": {"space": "cosine"}});
        let c = CollectionConfig::resolve(Some(&cfg), Some(&m)).expect("resolve");
        assert_eq!(c.hnsw.space, Space::Cosine);
        assert_eq!(c.hnsw.max_neighbors, 8);
    }

    #[test]
    fn bad_space_names_the_choices() {
        let cfg = serde_json::json!({"hnsw": {"space": "dot"}});
        let e = CollectionConfig::resolve(Some(&cfg), None).expect_err("dot");
        assert!(
            e.to_string()
                .contains("unknown variant `dot`, expected one of `l2`, `cosine`, `ip`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_and_zero_values_are_refused() {
        for bad in [
            serde_json::json!({"hnsw": {"ef": 3}}),
            serde_json::json!({"hnsw": {"ef_search": 0}}),
            serde_json::json!({"hnsw": {"max_neighbors": -1}}),
            serde_json::json!({"ivf": {}}),
        ] {
            assert!(
                CollectionConfig::resolve(Some(&bad), None).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn round_trips_through_its_json() {
        let c = CollectionConfig::with_space(Space::Cosine);
        let mut c = c;
        c.hnsw.batch_size = 7;
        let back = CollectionConfig::from_stored(&c.to_stored()).expect("parse");
        assert_eq!(back, c);
        assert!(
            c.to_json()["hnsw"].get("batch_size").is_none(),
            "as chromadb shows it"
        );
    }

    #[test]
    fn updates_refuse_fixed_settings() {
        let ok = HnswConfigUpdate::from_json(&serde_json::json!({"hnsw": {"ef_search": 7}}))
            .expect("ef_search");
        assert_eq!(ok.ef_search, Some(7));
        let bad = serde_json::json!({"hnsw": {"space": "ip"}});
        assert!(HnswConfigUpdate::from_json(&bad).is_err());
    }
}
