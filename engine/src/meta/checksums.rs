//! The `vector_checksums` table: one CRC-32 per block of a collection's vector rows
//! (`store::checksum`), and the collections whose checksums are still to be computed.

use std::ops::Range;

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::store::checksum::BlockSum;

/// The stored `(rows, checksum)` of one block, if any.
pub(crate) fn get(
    conn: &Connection,
    collection: i64,
    generation: u64,
    block: u64,
) -> Result<Option<(u64, u32)>> {
    Ok(conn
        .prepare_cached(
            "SELECT rows, crc FROM vector_checksums \
             WHERE collection_id = ?1 AND generation = ?2 AND block = ?3",
        )?
        .query_row(params![collection, generation as i64, block as i64], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u32))
        })
        .optional()?)
}

/// The stored blocks in `blocks`, in order.
pub(crate) fn range(
    conn: &Connection,
    collection: i64,
    generation: u64,
    blocks: Range<u64>,
) -> Result<Vec<BlockSum>> {
    let mut stmt = conn.prepare_cached(
        "SELECT block, rows, crc FROM vector_checksums \
         WHERE collection_id = ?1 AND generation = ?2 AND block >= ?3 AND block < ?4 \
         ORDER BY block",
    )?;
    let rows = stmt.query_map(
        params![
            collection,
            generation as i64,
            blocks.start as i64,
            blocks.end as i64
        ],
        |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u32,
            ))
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Stores (or replaces) blocks' checksums.
pub(crate) fn put(
    conn: &Connection,
    collection: i64,
    generation: u64,
    sums: &[BlockSum],
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR REPLACE INTO vector_checksums (collection_id, generation, block, rows, crc) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for &(block, rows, crc) in sums {
        stmt.execute(params![
            collection,
            generation as i64,
            block as i64,
            rows as i64,
            i64::from(crc)
        ])?;
    }
    Ok(())
}

/// Drops the checksums of a collection's generations other than `keep` (`None`: all of them).
pub(crate) fn drop_others(conn: &Connection, collection: i64, keep: Option<u64>) -> Result<()> {
    conn.execute(
        "DELETE FROM vector_checksums WHERE collection_id = ?1 AND generation IS NOT ?2",
        params![collection, keep.map(|g| g as i64)],
    )?;
    conn.execute(
        "DELETE FROM vector_checksums_pending WHERE collection_id = ?1 AND ?2 IS NULL",
        params![collection, keep.map(|g| g as i64)],
    )?;
    Ok(())
}

/// Collections whose rows have no checksums yet (migrated from format version 1).
pub(crate) fn pending(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT collection_id FROM vector_checksums_pending")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks a collection's checksums as computed.
pub(crate) fn done(conn: &Connection, collection: i64) -> Result<()> {
    conn.execute(
        "DELETE FROM vector_checksums_pending WHERE collection_id = ?1",
        [collection],
    )?;
    Ok(())
}
