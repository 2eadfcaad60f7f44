//! The SQL side of a Chroma directory: collections and their configuration, the metadata
//! segment's records, sequence numbers and the queue of writes (`chroma.sqlite3`, read-only).

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::replay::{MetaState, Operation, QueueEntry, Rec};
use super::{CHROMA_SQLITE, ChromaCollection};
use crate::config::CollectionConfig;
use crate::error::{Error, Result};
use crate::types::{Metadata, MetadataValue};

const DOCUMENT_KEY: &str = "chroma:document";
const URI_KEY: &str = "chroma:uri";
/// The HNSW settings chromadb's configuration may name (others are left out).
const HNSW_KEYS: [&str; 7] = [
    "ef_construction",
    "max_neighbors",
    "ef_search",
    "num_threads",
    "batch_size",
    "sync_threshold",
    "resize_factor",
];

fn corrupt(path: &Path, detail: impl Into<String>) -> Error {
    Error::Corrupt {
        path: path.join(CHROMA_SQLITE),
        detail: detail.into(),
    }
}

fn has_table(conn: &Connection, table: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = stmt.query_map([table], |r| r.get::<_, String>(0))?;
    for n in names {
        if n? == column {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A typed value of chromadb's `(string, int, float, bool)` columns.
fn typed(
    s: Option<String>,
    i: Option<i64>,
    f: Option<f64>,
    b: Option<i64>,
) -> Option<MetadataValue> {
    if let Some(s) = s {
        Some(MetadataValue::Str(s))
    } else if let Some(i) = i {
        Some(MetadataValue::Int(i))
    } else if let Some(f) = f {
        Some(MetadataValue::Float(f))
    } else {
        b.map(|b| MetadataValue::Bool(b != 0))
    }
}

/// Every collection with its metadata, configuration and segments.
pub(super) fn collections(conn: &Connection, path: &Path) -> Result<Vec<ChromaCollection>> {
    let schema = has_column(conn, "collections", "schema_str")?;
    let config = has_column(conn, "collections", "config_json_str")?;
    let sql = format!(
        "SELECT c.id, c.name, c.dimension, {}, {}, d.name, d.tenant_id \
         FROM collections c LEFT JOIN databases d ON d.id = c.database_id ORDER BY c.rowid",
        if config { "c.config_json_str" } else { "NULL" },
        if schema { "c.schema_str" } else { "NULL" },
    );
    let mut stmt = conn.prepare(&sql)?;
    type Row = (
        String,
        String,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let bool_col = has_column(conn, "collection_metadata", "bool_value")?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, name, dimension, config_json, schema_json, database, tenant) in rows {
        let metadata = collection_metadata(conn, &id, bool_col)?;
        let parse = |text: Option<String>, what: &str| -> Result<Option<Value>> {
            text.filter(|t| !t.is_empty())
                .map(|t| serde_json::from_str(&t))
                .transpose()
                .map_err(|e| corrupt(path, format!("collection {name:?}: {what}: {e}")))
        };
        let (configuration, embedding_function) = configuration(
            parse(schema_json, "schema_str")?.as_ref(),
            parse(config_json, "config_json_str")?.as_ref(),
        );
        // The embedding function's description travels with the configuration, where
        // chromadb keeps it (a build that stores it keeps it; one that does not ignores it).
        let mut configuration = configuration;
        if let (Some(ef), Value::Object(top)) = (&embedding_function, &mut configuration)
            && ef.get("type").is_some_and(Value::is_string)
        {
            top.insert("embedding_function".into(), ef.clone());
        }
        let config = CollectionConfig::resolve(Some(&configuration), metadata.as_ref())?;
        let dimension = dimension
            .map(|d| usize::try_from(d).map_err(|_| corrupt(path, "negative dimension")))
            .transpose()?;
        let segment = |scope: &str| -> Result<Option<String>> {
            Ok(conn
                .query_row(
                    "SELECT id FROM segments WHERE collection = ?1 AND scope = ?2",
                    params![id, scope],
                    |r| r.get(0),
                )
                .optional()?)
        };
        let metadata_segment = segment("METADATA")?;
        let stored_records = match &metadata_segment {
            Some(seg) => conn.query_row(
                "SELECT count(*) FROM embeddings WHERE segment_id = ?1",
                [seg],
                |r| r.get::<_, i64>(0),
            )? as u64,
            None => 0,
        };
        out.push(ChromaCollection {
            vector_segment: segment("VECTOR")?,
            metadata_segment,
            stored_records,
            id,
            name,
            tenant: tenant.unwrap_or_else(|| "default_tenant".into()),
            database: database.unwrap_or_else(|| "default_database".into()),
            dimension,
            metadata,
            config,
            embedding_function,
        });
    }
    Ok(out)
}

fn collection_metadata(conn: &Connection, id: &str, bool_col: bool) -> Result<Option<Metadata>> {
    let sql = format!(
        "SELECT key, str_value, int_value, float_value, {} FROM collection_metadata \
         WHERE collection_id = ?1",
        if bool_col { "bool_value" } else { "NULL" }
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut m = Metadata::new();
    let rows = stmt.query_map([id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            typed(r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
        ))
    })?;
    for row in rows {
        let (k, v) = row?;
        if let Some(v) = v {
            m.insert(k, v);
        }
    }
    Ok((!m.is_empty()).then_some(m))
}

/// The `{"hnsw": {...}}` configuration and the saved embedding function, from chromadb 1.5's
/// schema (the `#embedding` key's vector index) or else an earlier 1.x `config_json_str`.
fn configuration(schema: Option<&Value>, config: Option<&Value>) -> (Value, Option<Value>) {
    let vector_index = schema
        .and_then(|s| s.pointer("/keys/#embedding/float_list/vector_index/config"))
        .or_else(|| schema.and_then(|s| s.pointer("/defaults/float_list/vector_index/config")));
    let mut hnsw = Map::new();
    let mut ef = None;
    if let Some(vi) = vector_index {
        if let Some(space) = vi.get("space").filter(|s| s.is_string()) {
            hnsw.insert("space".into(), space.clone());
        }
        copy_hnsw(vi.get("hnsw"), &mut hnsw);
        ef = vi.get("embedding_function").cloned();
    } else if let Some(c) = config {
        let h = c.get("hnsw").or_else(|| c.get("hnsw_configuration"));
        if let Some(space) = h.and_then(|h| h.get("space")).filter(|s| s.is_string()) {
            hnsw.insert("space".into(), space.clone());
        }
        copy_hnsw(h, &mut hnsw);
        ef = c.get("embedding_function").cloned();
    }
    let ef = ef.filter(|v| !v.is_null());
    (serde_json::json!({ "hnsw": hnsw }), ef)
}

fn copy_hnsw(from: Option<&Value>, to: &mut Map<String, Value>) {
    if let Some(Value::Object(h)) = from {
        for key in HNSW_KEYS {
            if let Some(v) = h.get(key).filter(|v| v.is_number()) {
                to.insert(key.into(), v.clone());
            }
        }
    }
}

/// A sequence number as chromadb stores it: an integer, or 8 big-endian bytes (0.4).
fn seq_value(v: Sql) -> Option<u64> {
    match v {
        Sql::Integer(i) => u64::try_from(i).ok(),
        Sql::Blob(b) if b.len() == 8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b);
            Some(u64::from_be_bytes(a))
        }
        _ => None,
    }
}

/// The last write a segment has applied (0 if none).
pub(super) fn max_seq_id(conn: &Connection, segment: &str) -> Result<u64> {
    let v: Option<Sql> = conn
        .query_row(
            "SELECT seq_id FROM max_seq_id WHERE segment_id = ?1",
            [segment],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.and_then(seq_value).unwrap_or(0))
}

/// The metadata segment's records, in insertion order.
pub(super) fn segment_records(conn: &Connection, segment: &str) -> Result<MetaState> {
    let mut state = MetaState::default();
    let mut rowids: BTreeMap<i64, String> = BTreeMap::new();
    {
        let mut stmt = conn.prepare(
            "SELECT e.id, e.embedding_id, m.key, m.string_value, m.int_value, m.float_value, \
             m.bool_value FROM embeddings e LEFT JOIN embedding_metadata m ON m.id = e.id \
             WHERE e.segment_id = ?1 ORDER BY e.id",
        )?;
        let mut rows = stmt.query([segment])?;
        let mut current: Option<(i64, String, Rec)> = None;
        while let Some(r) = rows.next()? {
            let rowid: i64 = r.get(0)?;
            if current.as_ref().is_none_or(|(at, _, _)| *at != rowid) {
                if let Some((at, id, rec)) = current.take() {
                    rowids.insert(at, id.clone());
                    state.push(id, rec);
                }
                current = Some((rowid, r.get(1)?, Rec::default()));
            }
            let Some(key) = r.get::<_, Option<String>>(2)? else {
                continue;
            };
            let value = typed(r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?);
            if let (Some((_, _, rec)), Some(value)) = (current.as_mut(), value) {
                match (key.as_str(), value) {
                    (DOCUMENT_KEY, MetadataValue::Str(s)) => rec.document = Some(s),
                    (URI_KEY, MetadataValue::Str(s)) => rec.uri = Some(s),
                    (_, value) => {
                        rec.metadata.insert(key, value);
                    }
                }
            }
        }
        if let Some((at, id, rec)) = current.take() {
            rowids.insert(at, id.clone());
            state.push(id, rec);
        }
    }
    if has_table(conn, "embedding_metadata_array")? {
        let mut stmt = conn.prepare(
            "SELECT a.id, a.key, a.string_value, a.int_value, a.float_value, a.bool_value \
             FROM embedding_metadata_array a JOIN embeddings e ON e.id = a.id \
             WHERE e.segment_id = ?1 ORDER BY a.rowid",
        )?;
        let mut rows = stmt.query([segment])?;
        while let Some(r) = rows.next()? {
            let rowid: i64 = r.get(0)?;
            let key: String = r.get(1)?;
            let Some(value) = typed(r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?) else {
                continue;
            };
            let Some(rec) = rowids.get(&rowid).and_then(|id| state.get_mut(id)) else {
                continue;
            };
            push_item(&mut rec.metadata, key, value);
        }
    }
    Ok(state)
}

/// Appends one array item to the list under `key` (the list's type is its first item's).
fn push_item(m: &mut Metadata, key: String, value: MetadataValue) {
    use MetadataValue as V;
    let entry = m.entry(key);
    match (entry, value) {
        (std::collections::btree_map::Entry::Vacant(e), v) => {
            e.insert(match v {
                V::Bool(b) => V::BoolList(vec![b]),
                V::Int(i) => V::IntList(vec![i]),
                V::Float(f) => V::FloatList(vec![f]),
                V::Str(s) => V::StrList(vec![s]),
                other => other,
            });
        }
        (std::collections::btree_map::Entry::Occupied(mut e), v) => match (e.get_mut(), v) {
            (V::BoolList(l), V::Bool(b)) => l.push(b),
            (V::IntList(l), V::Int(i)) => l.push(i),
            (V::FloatList(l), V::Float(f)) => l.push(f),
            (V::FloatList(l), V::Int(i)) => l.push(i as f64),
            (V::StrList(l), V::Str(s)) => l.push(s),
            _ => {}
        },
    }
}

/// The queued writes of collection `id` after `since`, oldest first.
pub(super) fn queue(
    conn: &Connection,
    id: &str,
    since: u64,
    path: &Path,
) -> Result<Vec<QueueEntry>> {
    if !has_table(conn, "embeddings_queue")? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare(
        "SELECT seq_id, operation, id, vector, encoding, metadata FROM embeddings_queue \
         WHERE topic LIKE ?1 AND seq_id > ?2 ORDER BY seq_id",
    )?;
    let since = i64::try_from(since).unwrap_or(i64::MAX);
    let mut rows = stmt.query(params![format!("%/{id}"), since])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let code: i64 = r.get(1)?;
        let record: String = r.get(2)?;
        let bad = |what: String| corrupt(path, format!("queue entry {seq}: {what}"));
        let op = Operation::from_code(code).ok_or_else(|| bad(format!("operation {code}")))?;
        let vector = match (
            r.get::<_, Option<Vec<u8>>>(3)?,
            r.get::<_, Option<String>>(4)?,
        ) {
            (Some(b), enc)
                if enc
                    .as_deref()
                    .is_none_or(|e| e.eq_ignore_ascii_case("FLOAT32")) =>
            {
                if b.len() % 4 != 0 {
                    return Err(bad("vector of a partial float".into()));
                }
                Some(
                    b.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )
            }
            (Some(_), Some(enc)) => return Err(bad(format!("vector encoding {enc:?}"))),
            _ => None,
        };
        let mut entry = QueueEntry {
            seq: seq as u64,
            op,
            id: record,
            vector,
            document: None,
            uri: None,
            metadata: Vec::new(),
        };
        if let Some(text) = r.get::<_, Option<String>>(5)? {
            let Value::Object(map) =
                serde_json::from_str(&text).map_err(|e| bad(format!("metadata: {e}")))?
            else {
                return Err(bad("metadata is not an object".into()));
            };
            for (k, v) in map {
                let text_of = |v: &Value| v.as_str().map(str::to_owned);
                match k.as_str() {
                    DOCUMENT_KEY => entry.document = Some(text_of(&v)),
                    URI_KEY => entry.uri = Some(text_of(&v)),
                    _ => {
                        let value = crate::request::metadata_value(&k, v, crate::Op::Update)
                            .map_err(|e| bad(format!("metadata {k:?}: {e}")))?;
                        entry.metadata.push((k, value));
                    }
                }
            }
        }
        out.push(entry);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_comes_from_the_schema_then_the_config() {
        let schema = serde_json::json!({"keys": {"#embedding": {"float_list": {"vector_index":
            {"config": {"space": "ip", "hnsw": {"max_neighbors": 8, "bogus": 1},
                        "embedding_function": {"type": "known", "name": "default"}}}}}}});
        let (c, ef) = configuration(Some(&schema), None);
        assert_eq!(
            c,
            serde_json::json!({"hnsw": {"space": "ip", "max_neighbors": 8}})
        );
        assert_eq!(
            ef.and_then(|e| e.get("name").cloned()),
            Some("default".into())
        );
        let old = serde_json::json!({"hnsw": {"space": "cosine", "ef_search": 7}});
        let (c, ef) = configuration(None, Some(&old));
        assert_eq!(
            c,
            serde_json::json!({"hnsw": {"space": "cosine", "ef_search": 7}})
        );
        assert!(ef.is_none());
    }

    #[test]
    fn sequence_numbers_as_integers_or_big_endian_bytes() {
        assert_eq!(seq_value(Sql::Integer(7)), Some(7));
        assert_eq!(
            seq_value(Sql::Blob(vec![0, 0, 0, 0, 0, 0, 1, 2])),
            Some(258)
        );
        assert_eq!(seq_value(Sql::Blob(vec![1])), None);
        assert_eq!(seq_value(Sql::Integer(-1)), None);
    }

    #[test]
    fn array_items_gather_into_typed_lists() {
        let mut m = Metadata::new();
        push_item(&mut m, "a".into(), MetadataValue::Int(1));
        push_item(&mut m, "a".into(), MetadataValue::Int(2));
        push_item(&mut m, "s".into(), MetadataValue::Str("x".into()));
        assert_eq!(m.get("a"), Some(&MetadataValue::IntList(vec![1, 2])));
        assert_eq!(m.get("s"), Some(&MetadataValue::StrList(vec!["x".into()])));
    }
}
