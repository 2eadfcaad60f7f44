//! The `records` table: ids, slots, documents, uris and metadata of each collection's records.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Error, Result};
use crate::types::{Metadata, MetadataValue};

/// A document's rowid in the `record_documents` FTS table is `collection_id << 40 | ord`:
/// FTS5 rowids are global, ords count per collection. 2^40 ords per collection is over a
/// trillion inserts, checked by [`fts_rowid`].
pub(crate) const FTS_COLLECTION_SHIFT: u32 = 40;

/// The FTS rowid of record `ord` of collection `key`.
pub(crate) fn fts_rowid(key: i64, ord: u64) -> Result<i64> {
    if ord >= 1 << FTS_COLLECTION_SHIFT || key >= 1 << (63 - FTS_COLLECTION_SHIFT) {
        return Err(Error::invalid(format!(
            "the collection has had 2^{FTS_COLLECTION_SHIFT} inserts, the most a collection \
             can hold; copy its records into a new collection"
        )));
    }
    Ok(key << FTS_COLLECTION_SHIFT | ord as i64)
}

/// A stored record, without its vector.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecordRow {
    pub(crate) id: String,
    pub(crate) slot: u64,
    pub(crate) ord: u64,
    pub(crate) document: Option<String>,
    pub(crate) uri: Option<String>,
    pub(crate) metadata: Option<Metadata>,
    /// When the record expires, in milliseconds since the Unix epoch (`None`: never).
    pub(crate) expires_at: Option<i64>,
}

/// Serializes metadata for a `metadata` column; an empty map is stored as NULL.
pub(crate) fn metadata_to_json(m: Option<&Metadata>) -> Option<String> {
    m.filter(|m| !m.is_empty()).map(|m| {
        // A BTreeMap of plain values always serializes.
        serde_json::to_string(m).unwrap_or_else(|_| "{}".to_owned())
    })
}

/// Parses a `metadata` column.
pub(crate) fn metadata_from_json(s: &str) -> Result<Metadata> {
    serde_json::from_str(s).map_err(|e| Error::Corrupt {
        path: "mnemo.sqlite3".into(),
        detail: format!("stored metadata is not valid: {e}"),
    })
}

pub(crate) const COLUMNS: &str = "id, slot, ord, document, uri, metadata, expires_at";

pub(crate) type RawRow = (
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

pub(crate) fn raw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

pub(crate) fn decode_row(
    (id, slot, ord, document, uri, metadata, expires_at): RawRow,
) -> Result<RecordRow> {
    Ok(RecordRow {
        id,
        slot: slot as u64,
        ord: ord as u64,
        document,
        uri,
        metadata: metadata.as_deref().map(metadata_from_json).transpose()?,
        expires_at,
    })
}

/// `by_ids`: one primary-key probe per distinct id. The `CROSS JOIN` fixes the loop order;
/// written as `id IN (SELECT value FROM json_each(?2))` the planner walked the whole collection
/// (by `records_by_ord`) on every call, which made `add` quadratic in the collection size.
const BY_IDS: &str = "SELECT r.id, r.slot, r.ord, r.document, r.uri, r.metadata, r.expires_at \
     FROM (SELECT DISTINCT value AS id FROM json_each(?2)) AS j \
     CROSS JOIN records AS r \
     WHERE r.collection_id = ?1 AND r.id = j.id ORDER BY r.ord";

/// Slots looked up per `by_slots` statement. A fixed-size `IN` list of bound parameters keeps
/// one prepared statement for any number of hits; binding a list through `rarray` made SQLite
/// re-prepare the statement on every call.
const SLOTS_PER_STATEMENT: usize = 16;

/// `by_slots`: one probe of `records_by_slot` per listed slot. Without the index hint SQLite
/// 3.54's planner walked the whole collection by primary key (a query materializing k hits
/// paid k scans).
fn by_slots_sql(columns: &str) -> String {
    let params: Vec<String> = (2..2 + SLOTS_PER_STATEMENT)
        .map(|i| format!("?{i}"))
        .collect();
    format!(
        "SELECT {columns} FROM records INDEXED BY records_by_slot \
         WHERE collection_id = ?1 AND slot IN ({})",
        params.join(", ")
    )
}

/// Runs the `by_slots` statement `sql` over `slots`, a chunk of [`SLOTS_PER_STATEMENT`] at a
/// time, handing each row to `row`.
fn for_each_at_slots(
    conn: &Connection,
    sql: &str,
    key: i64,
    slots: &[u64],
    mut row: impl FnMut(&rusqlite::Row<'_>) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(sql)?;
    for chunk in slots.chunks(SLOTS_PER_STATEMENT) {
        stmt.raw_bind_parameter(1, key)?;
        for i in 0..SLOTS_PER_STATEMENT {
            // Padding repeats a slot: SQLite drops repeats from an `IN` list, so the unused
            // parameters cost no lookups.
            let slot = chunk.get(i).or(chunk.last()).map_or(-1, |&s| s as i64);
            stmt.raw_bind_parameter(i + 2, slot)?;
        }
        let mut rows = stmt.raw_query();
        while let Some(r) = rows.next()? {
            row(r)?;
        }
    }
    Ok(())
}

/// The records at `slots`, in the same order, `None` where no record points: a statement per
/// 16 hits instead of one per hit.
pub(crate) fn by_slots(
    conn: &Connection,
    key: i64,
    slots: &[u64],
) -> Result<Vec<Option<RecordRow>>> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| by_slots_sql(COLUMNS));
    let mut found: Vec<RecordRow> = Vec::with_capacity(slots.len());
    for_each_at_slots(conn, sql, key, slots, |r| {
        found.push(decode_row(raw_row(r)?)?);
        Ok(())
    })?;
    // Rows come in index order; put them in the order asked for (a map: `n_results` may be
    // large).
    let mut by_slot: std::collections::HashMap<u64, RecordRow> =
        found.into_iter().map(|r| (r.slot, r)).collect();
    Ok(slots.iter().map(|s| by_slot.remove(s)).collect())
}

/// The ids of the records at `slots`, as `(slot, id)` in no particular order; slots no record
/// points at are left out. Read from `records_by_slot` alone (an index of a WITHOUT ROWID
/// table holds the primary key, so the id is in it): no probe of the table, no metadata to
/// decode.
pub(crate) fn ids_by_slots(
    conn: &Connection,
    key: i64,
    slots: &[u64],
) -> Result<Vec<(u64, String)>> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| by_slots_sql("slot, id"));
    let mut found = Vec::with_capacity(slots.len());
    for_each_at_slots(conn, sql, key, slots, |r| {
        found.push((r.get::<_, i64>(0)? as u64, r.get(1)?));
        Ok(())
    })?;
    Ok(found)
}

/// The records with these ids (missing ones and repeats skipped), in insertion order. One
/// bound parameter whatever the number of ids: no "too many SQL variables".
pub(crate) fn by_ids(conn: &Connection, key: i64, ids: &[String]) -> Result<Vec<RecordRow>> {
    let ids_json = serde_json::to_string(ids).map_err(|e| Error::invalid(e.to_string()))?;
    let mut stmt = conn.prepare_cached(BY_IDS)?;
    let rows = stmt
        .query_map(params![key, ids_json], raw_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(decode_row).collect()
}

/// A page of records in insertion order.
pub(crate) fn page(
    conn: &Connection,
    key: i64,
    limit: Option<usize>,
    offset: usize,
) -> Result<Vec<RecordRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM records WHERE collection_id = ?1 ORDER BY ord LIMIT ?2 OFFSET ?3"
    );
    let limit = limit.map_or(-1, |l| l.min(i64::MAX as usize) as i64);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(
            params![key, limit, offset.min(i64::MAX as usize) as i64],
            raw_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(decode_row).collect()
}

/// `(slot, ord)` of every record of a collection, for the in-memory liveness table.
pub(crate) fn slots_and_ords(conn: &Connection, key: i64) -> Result<Vec<(u64, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT slot, ord FROM records INDEXED BY records_by_slot WHERE collection_id = ?1",
    )?;
    let rows = stmt
        .query_map([key], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// `(id, slot)` of every record of a collection, by slot (compaction).
pub(crate) fn ids_and_slots(conn: &Connection, key: i64) -> Result<Vec<(String, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, slot FROM records INDEXED BY records_by_slot WHERE collection_id = ?1 \
         ORDER BY slot",
    )?;
    let rows = stmt
        .query_map([key], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Number of records in a collection.
pub(crate) fn count(conn: &Connection, key: i64) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM records WHERE collection_id = ?1")?
        .query_row([key], |r| r.get(0))?;
    Ok(n as u64)
}

/// `(slot, ord)` of the records of a collection expired at `now_ms` (expiry at or before it):
/// a range probe of `records_by_expiry`, which holds only expiring records, so a collection
/// whose expired records were swept pays one probe that finds nothing.
pub(crate) fn expired(conn: &Connection, key: i64, now_ms: i64) -> Result<Vec<(u64, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT slot, ord FROM records INDEXED BY records_by_expiry \
         WHERE collection_id = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2",
    )?;
    let rows = stmt
        .query_map(params![key, now_ms], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The ids of at most `limit` records of a collection expired at `now_ms`, earliest first.
pub(crate) fn expired_ids(
    conn: &Connection,
    key: i64,
    now_ms: i64,
    limit: usize,
) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM records INDEXED BY records_by_expiry \
         WHERE collection_id = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2 \
         ORDER BY expires_at LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(
            params![key, now_ms, limit.min(i64::MAX as usize) as i64],
            |r| r.get::<_, String>(0),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The earliest expiry among a collection's records (`None`: no record expires).
pub(crate) fn next_expiry(conn: &Connection, key: i64) -> Result<Option<i64>> {
    let next: Option<i64> = conn
        .prepare_cached(
            "SELECT MIN(expires_at) FROM records INDEXED BY records_by_expiry \
             WHERE collection_id = ?1 AND expires_at IS NOT NULL",
        )?
        .query_row([key], |r| r.get(0))?;
    Ok(next)
}

/// Inserts a new record.
pub(crate) fn insert(conn: &Connection, key: i64, seq: u64, r: &RecordRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO records \
         (collection_id, id, slot, ord, seq, document, uri, metadata, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        key,
        r.id,
        r.slot as i64,
        r.ord as i64,
        seq as i64,
        r.document,
        r.uri,
        metadata_to_json(r.metadata.as_ref()),
        r.expires_at
    ])?;
    index_metadata(conn, key, r.ord, r.metadata.as_ref())?;
    index_document(conn, key, r.ord, r.document.as_deref())?;
    Ok(())
}

/// Writes the typed key/value rows of one record's metadata (see the schema).
fn index_metadata(conn: &Connection, key: i64, ord: u64, m: Option<&Metadata>) -> Result<()> {
    let Some(m) = m else { return Ok(()) };
    index_metadata_entries(conn, key, ord, m.iter())
}

/// Writes the typed key/value rows of these metadata entries of one record.
fn index_metadata_entries<'a>(
    conn: &Connection,
    key: i64,
    ord: u64,
    entries: impl Iterator<Item = (&'a String, &'a MetadataValue)>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO record_metadata \
         (collection_id, ord, key, idx, in_list, str_value, int_value, float_value, bool_value) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let ord = ord as i64;
    // `idx`: None for a scalar (stored as 0 with `in_list = 0`), the position in an array.
    let mut row = |k: &str, idx: Option<usize>, v: Typed<'_>| -> Result<()> {
        let (s, i, f, b) = match v {
            Typed::Str(s) => (Some(s), None, None, None),
            Typed::Int(i) => (None, Some(i), None, None),
            Typed::Float(f) => (None, None, Some(f), None),
            Typed::Bool(b) => (None, None, None, Some(b)),
        };
        let position = idx.unwrap_or(0) as i64;
        stmt.execute(params![key, ord, k, position, idx.is_some(), s, i, f, b])?;
        Ok(())
    };
    for (k, v) in entries {
        match v {
            MetadataValue::Str(s) => row(k, None, Typed::Str(s))?,
            MetadataValue::Int(i) => row(k, None, Typed::Int(*i))?,
            MetadataValue::Float(f) => row(k, None, Typed::Float(*f))?,
            MetadataValue::Bool(b) => row(k, None, Typed::Bool(*b))?,
            MetadataValue::StrList(v) => {
                for (n, s) in v.iter().enumerate() {
                    row(k, Some(n), Typed::Str(s))?;
                }
            }
            MetadataValue::IntList(v) => {
                for (n, &i) in v.iter().enumerate() {
                    row(k, Some(n), Typed::Int(i))?;
                }
            }
            MetadataValue::FloatList(v) => {
                for (n, &f) in v.iter().enumerate() {
                    row(k, Some(n), Typed::Float(f))?;
                }
            }
            MetadataValue::BoolList(v) => {
                for (n, &b) in v.iter().enumerate() {
                    row(k, Some(n), Typed::Bool(b))?;
                }
            }
        }
    }
    Ok(())
}

/// One scalar, or one element of an array, as it goes into its typed column.
#[derive(Clone, Copy)]
enum Typed<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Rewrites the key/value rows of one record for the keys whose value changed from `old` to
/// `new`: a patch of one key (an access time, say) rewrites that key's rows, not the rows of
/// every key the record has.
fn reindex_changed_metadata(
    conn: &Connection,
    key: i64,
    ord: u64,
    old: Option<&Metadata>,
    new: Option<&Metadata>,
) -> Result<()> {
    let empty = Metadata::new();
    let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
    let mut remove = conn.prepare_cached(
        "DELETE FROM record_metadata WHERE collection_id = ?1 AND ord = ?2 AND key = ?3",
    )?;
    for (k, v) in old {
        if new.get(k) != Some(v) {
            remove.execute(params![key, ord as i64, k])?;
        }
    }
    let changed = new.iter().filter(|&(k, v)| old.get(k) != Some(v));
    index_metadata_entries(conn, key, ord, changed)
}

/// Removes the key/value rows of one record.
fn unindex_metadata(conn: &Connection, key: i64, ord: u64) -> Result<()> {
    conn.prepare_cached("DELETE FROM record_metadata WHERE collection_id = ?1 AND ord = ?2")?
        .execute(params![key, ord as i64])?;
    Ok(())
}

/// Adds a record's document to the trigram index.
fn index_document(conn: &Connection, key: i64, ord: u64, document: Option<&str>) -> Result<()> {
    let Some(document) = document else {
        return Ok(());
    };
    conn.prepare_cached("INSERT INTO record_documents (rowid, document) VALUES (?1, ?2)")?
        .execute(params![fts_rowid(key, ord)?, document])?;
    Ok(())
}

/// Removes a record's document from the trigram index (nothing if it had none).
fn unindex_document(conn: &Connection, key: i64, ord: u64) -> Result<()> {
    conn.prepare_cached("DELETE FROM record_documents WHERE rowid = ?1")?
        .execute([fts_rowid(key, ord)?])?;
    Ok(())
}

/// Removes every index row of a collection (the collection is being deleted).
pub(crate) fn unindex_collection(conn: &Connection, key: i64) -> Result<()> {
    conn.execute(
        "DELETE FROM record_metadata WHERE collection_id = ?1",
        [key],
    )?;
    let lo = fts_rowid(key, 0)?;
    conn.execute(
        "DELETE FROM record_documents WHERE rowid BETWEEN ?1 AND ?2",
        params![lo, lo | ((1i64 << FTS_COLLECTION_SHIFT) - 1)],
    )?;
    Ok(())
}

/// Rewrites a record's slot, document, uri and metadata (its id and ord stay); `old` is the
/// stored record, so the indexes are rewritten only for what changed.
pub(crate) fn replace(
    conn: &Connection,
    key: i64,
    seq: u64,
    old: &RecordRow,
    r: &RecordRow,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE records SET slot = ?3, seq = ?4, document = ?5, uri = ?6, metadata = ?7, \
         expires_at = ?8 WHERE collection_id = ?1 AND id = ?2",
    )?
    .execute(params![
        key,
        r.id,
        r.slot as i64,
        seq as i64,
        r.document,
        r.uri,
        metadata_to_json(r.metadata.as_ref()),
        r.expires_at
    ])?;
    if old.ord != r.ord {
        unindex_metadata(conn, key, old.ord)?;
        index_metadata(conn, key, r.ord, r.metadata.as_ref())?;
    } else if old.metadata != r.metadata {
        reindex_changed_metadata(conn, key, r.ord, old.metadata.as_ref(), r.metadata.as_ref())?;
    }
    if old.document != r.document {
        unindex_document(conn, key, old.ord)?;
        index_document(conn, key, r.ord, r.document.as_deref())?;
    }
    Ok(())
}

/// Deletes a record and its index rows; returns its slot if it existed.
pub(crate) fn delete(conn: &Connection, key: i64, id: &str) -> Result<Option<u64>> {
    let found = conn
        .prepare_cached(
            "DELETE FROM records WHERE collection_id = ?1 AND id = ?2 \
             RETURNING slot, ord, metadata IS NOT NULL, document IS NOT NULL",
        )?
        .query_row(params![key, id], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, bool>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })
        .optional()?;
    let Some((slot, ord, has_metadata, has_document)) = found else {
        return Ok(None);
    };
    if has_metadata {
        unindex_metadata(conn, key, ord)?;
    }
    if has_document {
        unindex_document(conn, key, ord)?;
    }
    Ok(Some(slot))
}

/// Moves a record to another slot (compaction).
pub(crate) fn set_slot(conn: &Connection, key: i64, id: &str, slot: u64) -> Result<()> {
    conn.prepare_cached("UPDATE records SET slot = ?3 WHERE collection_id = ?1 AND id = ?2")?
        .execute(params![key, id, slot as i64])?;
    Ok(())
}

/// Every record of a collection in insertion order, streamed to `f` (compaction, checks).
pub(crate) fn for_each(
    conn: &Connection,
    key: i64,
    mut f: impl FnMut(RecordRow) -> Result<()>,
) -> Result<()> {
    let sql = format!("SELECT {COLUMNS} FROM records WHERE collection_id = ?1 ORDER BY ord");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([key])?;
    while let Some(r) = rows.next()? {
        f(decode_row(raw_row(r)?)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::{BY_IDS, COLUMNS, by_slots_sql};

    /// The plan of a statement, one detail line per step.
    fn plan(sql: &str, params: &[&dyn rusqlite::ToSql]) -> String {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::meta::schema::create_or_check(&mut conn).unwrap();
        crate::meta::sql::register(&conn).unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map(params, |r| r.get::<_, String>(3)).unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("\n")
    }

    /// Hot lookups must probe an index per id or slot, never walk a collection: the planner
    /// has no statistics and once chose a scan for both (see the constants' docs).
    #[test]
    fn hot_lookups_use_an_index_probe() {
        let by_ids = plan(BY_IDS, &[&1i64, &r#"["a","b"]"#]);
        assert!(
            by_ids.contains("SEARCH r USING PRIMARY KEY (collection_id=? AND id=?)"),
            "{by_ids}"
        );
        let params: Vec<i64> = (0..17).collect();
        let params: Vec<&dyn rusqlite::ToSql> =
            params.iter().map(|p| p as &dyn rusqlite::ToSql).collect();
        let by_slots = plan(&by_slots_sql(COLUMNS), &params);
        assert!(
            by_slots.contains("USING INDEX records_by_slot (collection_id=? AND slot=?)"),
            "{by_slots}"
        );
        // The ids of query hits come from the index alone.
        let ids_by_slots = plan(&by_slots_sql("slot, id"), &params);
        assert!(
            ids_by_slots
                .contains("USING COVERING INDEX records_by_slot (collection_id=? AND slot=?)"),
            "{ids_by_slots}"
        );
    }
}
