//! The sidecar's tables (format version 4) and the check that a file is one we can read;
//! files of versions 1 to 3 are migrated when opened.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Error, Result};

/// The sidecar's file name inside the database directory.
pub(crate) const SQLITE_FILE: &str = "mnemo.sqlite3";

/// Bumped when the tables change; older versions are migrated, newer ones refused.
const FORMAT_VERSION: u32 = 4;
/// Written into the file so `file(1)`-style checks and other tools can tell what it is.
const APPLICATION_ID: i32 = 0x4d4e_4d4f; // "MNMO"

const SCHEMA_V1: &str = "
CREATE TABLE collections (
    id            INTEGER PRIMARY KEY,
    uuid          TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL UNIQUE,
    dimension     INTEGER,                      -- NULL until the first add
    space         TEXT    NOT NULL,
    metadata      TEXT,                         -- JSON object or NULL
    configuration TEXT    NOT NULL DEFAULT '{}',
    seq           INTEGER NOT NULL DEFAULT 0,   -- writes committed to this collection
    slot_count    INTEGER NOT NULL DEFAULT 0,   -- committed rows in the vector file
    next_ord      INTEGER NOT NULL DEFAULT 0,   -- insertion counter: result order, tie-break
    generation    INTEGER NOT NULL DEFAULT 0    -- which vectors.<generation>.f32 is current
);
CREATE TABLE records (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    id            TEXT    NOT NULL,
    slot          INTEGER NOT NULL,
    ord           INTEGER NOT NULL,
    seq           INTEGER NOT NULL,             -- the write that last changed the record
    document      TEXT,
    uri           TEXT,
    metadata      TEXT,                         -- JSON object or NULL
    PRIMARY KEY (collection_id, id)
) WITHOUT ROWID;
-- Covers the per-process liveness table (slot -> ord) and lookups by slot. One record per
-- slot is kept by the write path and verified by `Database::check`.
CREATE INDEX records_by_slot ON records(collection_id, slot, ord);
CREATE UNIQUE INDEX records_by_ord ON records(collection_id, ord);
-- Metadata again, as typed key/value rows, so a `where` is answered by indexes (`meta/sql.rs`).
-- A scalar is one row with `in_list = 0`, `idx = 0` and exactly one typed column set; an
-- array is one row per element with `in_list = 1` and its position in `idx`. Rows are keyed by
-- the record's `ord`, which updates and compaction keep (its slot changes). The `metadata`
-- JSON of `records` stays the copy that is read back. WITHOUT ROWID: the primary key is the
-- per-record lookup the write path needs, and every value index below ends with it, so a
-- lookup by value yields the ords without touching the table. No foreign key: the write path
-- removes the rows with their record or collection, and the check would cost a lookup per row.
CREATE TABLE record_metadata (
    collection_id INTEGER NOT NULL,
    ord           INTEGER NOT NULL,
    key           TEXT    NOT NULL,
    idx           INTEGER NOT NULL,
    in_list       INTEGER NOT NULL,
    str_value     TEXT,
    int_value     INTEGER,
    float_value   REAL,
    bool_value    INTEGER,
    PRIMARY KEY (collection_id, ord, key, idx)
) WITHOUT ROWID;
-- Partial indexes: a row sets one typed column, so each index holds only its own type.
CREATE INDEX record_metadata_str ON record_metadata(collection_id, key, in_list, str_value)
    WHERE str_value IS NOT NULL;
CREATE INDEX record_metadata_int ON record_metadata(collection_id, key, in_list, int_value)
    WHERE int_value IS NOT NULL;
CREATE INDEX record_metadata_float ON record_metadata(collection_id, key, in_list, float_value)
    WHERE float_value IS NOT NULL;
CREATE INDEX record_metadata_bool ON record_metadata(collection_id, key, in_list, bool_value)
    WHERE bool_value IS NOT NULL;
-- Documents, indexed by trigrams (case-sensitive), so `$contains` of 3 or more characters is
-- answered by the index. Contentless (the text lives in `records`) with deletes allowed; the
-- rowid is `collection_id << 40 | ord` (`records::fts_rowid`).
CREATE VIRTUAL TABLE record_documents USING fts5(
    document, content='', contentless_delete=1, tokenize='trigram case_sensitive 1'
);
";

/// Version 2: checksums of the vector rows, per block of `store::checksum::BLOCK_ROWS` slots
/// of a generation's file, written in the transaction that commits the rows; and the
/// collections whose rows predate them (a file migrated from version 1), whose checksums are
/// computed from their files when the database is next opened (`Database::open`).
const SCHEMA_V2: &str = "
CREATE TABLE vector_checksums (
    collection_id INTEGER NOT NULL,
    generation    INTEGER NOT NULL,
    block         INTEGER NOT NULL,
    rows          INTEGER NOT NULL,   -- slots of the block covered (the last block may be short)
    crc           INTEGER NOT NULL,   -- CRC-32 of those rows' little-endian f32 bytes
    PRIMARY KEY (collection_id, generation, block)
) WITHOUT ROWID;
CREATE TABLE vector_checksums_pending (
    collection_id INTEGER PRIMARY KEY
);
";

/// Version 3: a record may expire. `expires_at` is milliseconds since the Unix epoch, NULL for
/// never; the partial index answers "which records have expired by now" (reads, the sweep)
/// with a range probe that touches only expiring records.
const SCHEMA_V3: &str = "
ALTER TABLE records ADD COLUMN expires_at INTEGER;
CREATE INDEX records_by_expiry ON records(collection_id, expires_at)
    WHERE expires_at IS NOT NULL;
";

/// Version 4: the documents' trigram index keeps no positions (`detail=none`: less than half
/// the size at 100k short documents). `$contains` asks it for the documents holding all of the text's
/// trigrams and checks each with `instr`, which a positional index would not spare (version
/// 3's code asked for a phrase, which this index cannot answer: hence the new version). The
/// index is rebuilt from `records` (the documents live there; the index is contentless).
fn schema_v4() -> String {
    let shift = super::records::FTS_COLLECTION_SHIFT; // `records::fts_rowid`'s layout
    format!(
        "DROP TABLE record_documents;
CREATE VIRTUAL TABLE record_documents USING fts5(
    document, content='', contentless_delete=1, tokenize='trigram case_sensitive 1',
    detail=none
);
INSERT INTO record_documents (rowid, document)
    SELECT collection_id << {shift} | ord, document FROM records WHERE document IS NOT NULL;"
    )
}

/// Creates the tables in a new file, or checks that an existing file is ours and current.
pub(crate) fn create_or_check(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let app_id: i32 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let has_tables = tx
        .query_row("SELECT 1 FROM sqlite_master LIMIT 1", [], |r| {
            r.get::<_, i64>(0)
        })
        .optional()?
        .is_some();
    let path = tx.path().map(std::path::PathBuf::from).unwrap_or_default();
    match (app_id, version, has_tables) {
        (0, 0, false) => {
            tx.execute_batch(SCHEMA_V1)?;
            tx.execute_batch(SCHEMA_V2)?;
            tx.execute_batch(SCHEMA_V3)?;
            tx.execute_batch(&schema_v4())?;
            tx.execute_batch(&format!(
                "PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version={FORMAT_VERSION};"
            ))?;
        }
        (APPLICATION_ID, FORMAT_VERSION, _) => {}
        (APPLICATION_ID, 1, _) => {
            // Under the write lock (`BEGIN IMMEDIATE`): one process migrates, the others
            // then see the current version.
            tx.execute_batch(SCHEMA_V2)?;
            tx.execute(
                "INSERT INTO vector_checksums_pending (collection_id) \
                 SELECT id FROM collections WHERE slot_count > 0",
                [],
            )?;
            tx.execute_batch(SCHEMA_V3)?;
            tx.execute_batch(&schema_v4())?;
            tx.execute_batch(&format!("PRAGMA user_version={FORMAT_VERSION};"))?;
        }
        (APPLICATION_ID, 2, _) => {
            tx.execute_batch(SCHEMA_V3)?;
            tx.execute_batch(&schema_v4())?;
            tx.execute_batch(&format!("PRAGMA user_version={FORMAT_VERSION};"))?;
        }
        (APPLICATION_ID, 3, _) => {
            tx.execute_batch(&schema_v4())?;
            tx.execute_batch(&format!("PRAGMA user_version={FORMAT_VERSION};"))?;
        }
        (APPLICATION_ID, found, _) => {
            return Err(Error::UnsupportedFormat {
                path,
                found,
                supported: FORMAT_VERSION,
            });
        }
        _ => {
            return Err(Error::Corrupt {
                path,
                detail: "not a mnemodb database (unknown SQLite application id)".to_owned(),
            });
        }
    }
    tx.execute_batch(crate::tools::SCHEMA)?;
    tx.execute_batch(crate::langgraph::SCHEMA)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    /// A version 3 file's trigram index is rebuilt without positions from its records'
    /// documents; a version 2 file (checksums, no expiry) also gains `records.expires_at` and
    /// its index, keeping its rows; a version 1 file gets every step.
    #[test]
    fn version_1_to_3_files_are_migrated_to_the_current_version() {
        for from in [1u32, 2, 3] {
            let mut conn = Connection::open_in_memory().unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            if from >= 2 {
                conn.execute_batch(SCHEMA_V2).unwrap();
            }
            if from >= 3 {
                conn.execute_batch(SCHEMA_V3).unwrap();
            }
            conn.execute_batch(&format!(
                "PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version={from};
                 INSERT INTO collections (uuid, name, space) VALUES ('u', 'coll', 'l2');
                 INSERT INTO collections (uuid, name, space) VALUES ('v', 'other', 'l2');
                 INSERT INTO records (collection_id, id, slot, ord, seq) VALUES (1, 'a', 0, 0, 1);
                 INSERT INTO records (collection_id, id, slot, ord, seq, document)
                     VALUES (2, 'b', 0, 7, 1, 'the topic at hand');
                 INSERT INTO record_documents (rowid, document)
                     VALUES ((2 << 40) | 7, 'the topic at hand');"
            ))
            .unwrap();
            create_or_check(&mut conn).unwrap();
            let version: u32 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(version, FORMAT_VERSION, "from v{from}");
            let (id, expires): (String, Option<i64>) = conn
                .query_row("SELECT id, expires_at FROM records", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap();
            assert_eq!((id.as_str(), expires), ("a", None), "from v{from}");
            let indexed: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE name = 'records_by_expiry'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(indexed, 1, "from v{from}");
            let fts: String = conn
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE name = 'record_documents'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(fts.contains("detail=none"), "from v{from}: {fts}");
            let found: Vec<i64> = conn
                .prepare("SELECT rowid FROM record_documents WHERE record_documents MATCH ?1")
                .unwrap()
                .query_map(["\"top\" AND \"pic\""], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(found, [2 << 40 | 7], "from v{from}");
            // Opening again changes nothing.
            create_or_check(&mut conn).unwrap();
        }
    }
}
