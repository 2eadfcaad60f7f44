//! The `collections` table: names, ids, dimensions, configurations and each collection's counters.

use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::records::metadata_from_json;
use crate::config::CollectionConfig;
use crate::error::{Error, Result};
use crate::types::{CollectionInfo, Metadata};

/// One row of `collections`, as read inside a transaction.
#[derive(Debug, Clone)]
pub(crate) struct CollectionRow {
    /// The catalog's integer key (records point at it).
    pub(crate) key: i64,
    pub(crate) uuid: Uuid,
    pub(crate) name: String,
    pub(crate) dimension: Option<usize>,
    pub(crate) config: CollectionConfig,
    pub(crate) metadata: Option<Metadata>,
    pub(crate) seq: u64,
    pub(crate) slot_count: u64,
    pub(crate) next_ord: u64,
    pub(crate) generation: u64,
}

impl CollectionRow {
    pub(crate) fn info(&self) -> CollectionInfo {
        CollectionInfo {
            id: self.uuid,
            name: self.name.clone(),
            dimension: self.dimension,
            space: self.config.hnsw.space,
            configuration: self.config.clone(),
            metadata: self.metadata.clone(),
        }
    }
}

const COLUMNS: &str = "id, uuid, name, dimension, space, configuration, metadata, seq, slot_count, next_ord, generation";

/// The columns of [`COLUMNS`] as SQLite gives them, before checking.
type RawRow = (
    i64,
    String,
    String,
    Option<i64>,
    String,
    String,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
);

fn from_row(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

fn decode(raw: RawRow) -> Result<CollectionRow> {
    let (
        key,
        uuid,
        name,
        dimension,
        space,
        config,
        metadata,
        seq,
        slot_count,
        next_ord,
        generation,
    ) = raw;
    let corrupt = |detail: String| Error::Corrupt {
        path: "mnemo.sqlite3".into(),
        detail,
    };
    Ok(CollectionRow {
        key,
        uuid: uuid
            .parse()
            .map_err(|e| corrupt(format!("collection uuid {uuid:?}: {e}")))?,
        name,
        dimension: dimension.map(|d| d as usize),
        // The `space` column is the authority for the space (it predates the configuration
        // column, whose default `{}` resolves to chromadb's defaults).
        config: {
            let mut c = CollectionConfig::from_stored(&config)?;
            c.hnsw.space = space
                .parse()
                .map_err(|_| corrupt(format!("collection space {space:?}")))?;
            c
        },
        metadata: metadata.as_deref().map(metadata_from_json).transpose()?,
        seq: seq as u64,
        slot_count: slot_count as u64,
        next_ord: next_ord as u64,
        generation: generation as u64,
    })
}

/// The last catalog row read for one collection, raw and decoded. Decoding parses the
/// configuration and metadata JSON; every read (a query, a count) needs the row for its
/// counters, which change with each write, while the JSON rarely does: a read whose raw
/// columns equal the last ones reuses the decoded row.
#[derive(Debug, Default)]
pub(crate) struct RowMemo(std::sync::Mutex<Option<(RawRow, CollectionRow)>>);

/// [`collection_by_id`], reusing the decoding of `memo` when the row has not changed.
pub(crate) fn collection_by_id_memo(
    conn: &Connection,
    uuid: Uuid,
    memo: &RowMemo,
) -> Result<Option<CollectionRow>> {
    let Some(raw) = raw_by_id(conn, uuid)? else {
        return Ok(None);
    };
    let mut memo = memo.0.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((last, row)) = memo.as_ref()
        && *last == raw
    {
        return Ok(Some(row.clone()));
    }
    let row = decode(raw.clone())?;
    *memo = Some((raw, row.clone()));
    Ok(Some(row))
}

/// The collection called `name`, if any.
pub(crate) fn collection_by_name(conn: &Connection, name: &str) -> Result<Option<CollectionRow>> {
    let sql = format!("SELECT {COLUMNS} FROM collections WHERE name = ?1");
    conn.prepare_cached(&sql)?
        .query_row([name], from_row)
        .optional()?
        .map(decode)
        .transpose()
}

/// The collection with catalog key `key`, if it still exists.
pub(crate) fn collection_by_id(conn: &Connection, uuid: Uuid) -> Result<Option<CollectionRow>> {
    raw_by_id(conn, uuid)?.map(decode).transpose()
}

/// The undecoded row of collection `uuid`, if it still exists.
fn raw_by_id(conn: &Connection, uuid: Uuid) -> Result<Option<RawRow>> {
    // Made once: every read runs this statement, and formatting it showed in profiles.
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| format!("SELECT {COLUMNS} FROM collections WHERE uuid = ?1"));
    Ok(conn
        .prepare_cached(sql)?
        .query_row([uuid.to_string()], from_row)
        .optional()?)
}

/// Every collection, oldest first.
pub(crate) fn catalog_rows(conn: &Connection) -> Result<Vec<CollectionRow>> {
    let sql = format!("SELECT {COLUMNS} FROM collections ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(decode).collect()
}

/// Inserts a new collection row.
pub(crate) fn insert_collection(
    conn: &Connection,
    uuid: Uuid,
    name: &str,
    config: &CollectionConfig,
    metadata: Option<&str>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO collections (uuid, name, space, configuration, metadata) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            uuid.to_string(),
            name,
            config.hnsw.space.as_str(),
            config.to_stored(),
            metadata
        ],
    )?;
    Ok(())
}

/// Records the effect of a write on a collection's counters.
pub(crate) fn set_counters(conn: &Connection, row: &CollectionRow) -> Result<()> {
    conn.prepare_cached(
        "UPDATE collections SET dimension = ?2, seq = ?3, slot_count = ?4, next_ord = ?5, \
         generation = ?6 WHERE id = ?1",
    )?
    .execute(params![
        row.key,
        row.dimension.map(|d| d as i64),
        row.seq as i64,
        row.slot_count as i64,
        row.next_ord as i64,
        row.generation as i64
    ])?;
    Ok(())
}

/// Renames a collection and/or replaces its metadata.
pub(crate) fn modify_collection(
    conn: &Connection,
    key: i64,
    name: Option<&str>,
    metadata: Option<Option<&str>>,
) -> Result<()> {
    if let Some(name) = name {
        conn.execute(
            "UPDATE collections SET name = ?2 WHERE id = ?1",
            params![key, name],
        )?;
    }
    if let Some(metadata) = metadata {
        conn.execute(
            "UPDATE collections SET metadata = ?2 WHERE id = ?1",
            params![key, metadata],
        )?;
    }
    Ok(())
}

/// Replaces a collection's stored configuration (its space never changes).
pub(crate) fn set_configuration(
    conn: &Connection,
    key: i64,
    config: &CollectionConfig,
) -> Result<()> {
    conn.execute(
        "UPDATE collections SET configuration = ?2 WHERE id = ?1",
        params![key, config.to_stored()],
    )?;
    Ok(())
}

/// Deletes a collection row and (by cascade) its records.
pub(crate) fn delete_collection(conn: &Connection, key: i64) -> Result<()> {
    super::records::unindex_collection(conn, key)?;
    super::checksums::drop_others(conn, key, None)?;
    conn.execute("DELETE FROM records WHERE collection_id = ?1", [key])?;
    conn.execute("DELETE FROM collections WHERE id = ?1", [key])?;
    Ok(())
}
