//! The `records` table: ids, slots, documents, uris and metadata of each collection's records.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Error, Result};
use crate::types::Metadata;

/// A stored record, without its vector.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecordRow {
    pub(crate) id: String,
    pub(crate) slot: u64,
    pub(crate) ord: u64,
    pub(crate) document: Option<String>,
    pub(crate) uri: Option<String>,
    pub(crate) metadata: Option<Metadata>,
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

const COLUMNS: &str = "id, slot, ord, document, uri, metadata";

type RawRow = (
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn decode((id, slot, ord, document, uri, metadata): RawRow) -> Result<RecordRow> {
    Ok(RecordRow {
        id,
        slot: slot as u64,
        ord: ord as u64,
        document,
        uri,
        metadata: metadata.as_deref().map(metadata_from_json).transpose()?,
    })
}

/// The records with these ids (missing ones skipped), in insertion order. One bound
/// parameter whatever the number of ids: no "too many SQL variables".
pub(crate) fn by_ids(conn: &Connection, key: i64, ids: &[String]) -> Result<Vec<RecordRow>> {
    let ids_json = serde_json::to_string(ids).map_err(|e| Error::invalid(e.to_string()))?;
    let sql = format!(
        "SELECT {COLUMNS} FROM records WHERE collection_id = ?1 \
         AND id IN (SELECT value FROM json_each(?2)) ORDER BY ord"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![key, ids_json], raw)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(decode).collect()
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
            raw,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(decode).collect()
}

/// The record stored at `slot`, if a record points there.
pub(crate) fn by_slot(conn: &Connection, key: i64, slot: u64) -> Result<Option<RecordRow>> {
    let sql = format!("SELECT {COLUMNS} FROM records WHERE collection_id = ?1 AND slot = ?2");
    conn.prepare_cached(&sql)?
        .query_row(params![key, slot as i64], raw)
        .optional()?
        .map(decode)
        .transpose()
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

/// Number of records in a collection.
pub(crate) fn count(conn: &Connection, key: i64) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM records WHERE collection_id = ?1")?
        .query_row([key], |r| r.get(0))?;
    Ok(n as u64)
}

/// Inserts a new record.
pub(crate) fn insert(conn: &Connection, key: i64, seq: u64, r: &RecordRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO records (collection_id, id, slot, ord, seq, document, uri, metadata) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        key,
        r.id,
        r.slot as i64,
        r.ord as i64,
        seq as i64,
        r.document,
        r.uri,
        metadata_to_json(r.metadata.as_ref())
    ])?;
    Ok(())
}

/// Rewrites a record's slot, document, uri and metadata (its id and ord stay).
pub(crate) fn replace(conn: &Connection, key: i64, seq: u64, r: &RecordRow) -> Result<()> {
    conn.prepare_cached(
        "UPDATE records SET slot = ?3, seq = ?4, document = ?5, uri = ?6, metadata = ?7 \
         WHERE collection_id = ?1 AND id = ?2",
    )?
    .execute(params![
        key,
        r.id,
        r.slot as i64,
        seq as i64,
        r.document,
        r.uri,
        metadata_to_json(r.metadata.as_ref())
    ])?;
    Ok(())
}

/// Deletes a record; returns its slot if it existed.
pub(crate) fn delete(conn: &Connection, key: i64, id: &str) -> Result<Option<u64>> {
    let slot = conn
        .prepare_cached("DELETE FROM records WHERE collection_id = ?1 AND id = ?2 RETURNING slot")?
        .query_row(params![key, id], |r| r.get::<_, i64>(0))
        .optional()?;
    Ok(slot.map(|s| s as u64))
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
        f(decode(raw(r)?)?)?;
    }
    Ok(())
}
