//! The consistency check: does the sidecar agree with itself and with the vector files?
//! Used by the crash tests and by `mnemodb inspect`.

use std::fs::File;

use crate::db::{COLLECTIONS_DIR, Database};
use crate::error::Result;
use crate::meta;
use crate::store::{HEADER_LEN, Segment, checksum, read_header};

/// What [`Database::check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsistencyReport {
    /// Collections checked.
    pub collections: usize,
    /// Records checked.
    pub records: u64,
    /// Every inconsistency found; empty when the database is sound.
    pub problems: Vec<Problem>,
}

/// One inconsistency found by [`Database::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The collection it concerns (`None` for the database as a whole).
    pub collection: Option<String>,
    /// What part of the database is damaged, which decides how it can be repaired.
    pub kind: ProblemKind,
    /// What was found, one line.
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.collection {
            Some(name) => write!(f, "{name}: {}", self.detail),
            None => f.write_str(&self.detail),
        }
    }
}

/// The part of a database a [`Problem`] is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// SQLite's own `integrity_check` failed: the sidecar file is damaged.
    Sqlite,
    /// The records disagree with the catalog (slots, insertion orders): the source of truth
    /// is inconsistent.
    Records,
    /// The filter index tables disagree with the records; they are derived from the records
    /// and can be rebuilt from them.
    FilterIndex,
    /// A vector file is unreadable, of the wrong dimension or shorter than its committed rows;
    /// embeddings live only there.
    VectorFile,
    /// Committed rows of a vector file do not match their stored checksum: the embeddings in
    /// those slots are damaged (restore from a backup, or re-add those records).
    VectorChecksum,
}

impl ConsistencyReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Database {
    /// Checks the whole database in one snapshot: SQLite's own integrity check, then for each
    /// collection that every record points at a distinct committed slot, insertion orders are
    /// below the counter, the filter index tables agree with the records, the vector file
    /// has a valid header, the catalog's dimension and at least the committed rows, and every
    /// block of committed rows matches its stored checksum.
    pub fn check(&self) -> Result<ConsistencyReport> {
        let dir = self.path().map(|p| p.join(COLLECTIONS_DIR));
        self.inner().sidecar().read(|tx| {
            let mut report = ConsistencyReport::default();
            let integrity: String = tx.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if integrity != "ok" {
                report.problems.push(Problem {
                    collection: None,
                    kind: ProblemKind::Sqlite,
                    detail: format!("sqlite integrity_check: {integrity}"),
                });
            }
            for row in meta::catalog_rows(tx)? {
                report.collections += 1;
                let name = &row.name;
                let problem = |kind, detail| Problem {
                    collection: Some(name.clone()),
                    kind,
                    detail,
                };
                let mut seen = vec![false; row.slot_count as usize];
                meta::records::for_each(tx, row.key, |r| {
                    report.records += 1;
                    match seen.get_mut(r.slot as usize) {
                        None => report.problems.push(problem(
                            ProblemKind::Records,
                            format!(
                                "record {:?} points at slot {} past the committed {}",
                                r.id, r.slot, row.slot_count
                            ),
                        )),
                        Some(true) => report.problems.push(problem(
                            ProblemKind::Records,
                            format!("two records share slot {}", r.slot),
                        )),
                        Some(s) => *s = true,
                    }
                    if r.ord >= row.next_ord {
                        report.problems.push(problem(
                            ProblemKind::Records,
                            format!(
                                "record {:?} has insertion order {} >= counter {}",
                                r.id, r.ord, row.next_ord
                            ),
                        ));
                    }
                    Ok(())
                })?;
                for detail in index_tables_disagree(tx, row.key)? {
                    report
                        .problems
                        .push(problem(ProblemKind::FilterIndex, detail));
                }
                let (Some(dir), Some(dim)) = (&dir, row.dimension) else {
                    continue;
                };
                let path = Segment::file_path(&dir.join(row.uuid.to_string()), row.generation);
                if row.slot_count == 0 && !path.exists() {
                    continue;
                }
                match File::open(&path).map_err(|e| e.to_string()).and_then(|f| {
                    let found = read_header(&f, &path).map_err(|e| e.to_string())?;
                    let len = f.metadata().map_err(|e| e.to_string())?.len();
                    Ok((found, len))
                }) {
                    Err(e) => report.problems.push(problem(
                        ProblemKind::VectorFile,
                        format!("{}: {e}", path.display()),
                    )),
                    Ok((found, len)) => {
                        if found != dim {
                            report.problems.push(problem(
                                ProblemKind::VectorFile,
                                format!("vector file dimension {found}, catalog {dim}"),
                            ));
                        }
                        let want = (HEADER_LEN + row.slot_count as usize * dim * 4) as u64;
                        if len < want {
                            report.problems.push(problem(
                                ProblemKind::VectorFile,
                                format!("vector file has {len} bytes, {want} committed"),
                            ));
                        } else if found == dim {
                            for damage in checksum_damage(tx, &row, dim, &path)? {
                                report.problems.push(problem(
                                    ProblemKind::VectorChecksum,
                                    damage.describe(&path.display().to_string()),
                                ));
                            }
                        }
                    }
                }
            }
            Ok(report)
        })
    }
}

/// The blocks of a collection's committed rows that do not match their stored checksums.
fn checksum_damage(
    conn: &rusqlite::Connection,
    row: &meta::CollectionRow,
    dim: usize,
    path: &std::path::Path,
) -> Result<Vec<checksum::Damage>> {
    let stored: std::collections::HashMap<u64, (u64, u32)> = meta::checksums::range(
        conn,
        row.key,
        row.generation,
        checksum::blocks(row.slot_count),
    )?
    .into_iter()
    .map(|(b, n, c)| (b, (n, c)))
    .collect();
    let Some(dir) = path.parent() else {
        return Ok(Vec::new());
    };
    Segment::in_dir(dir.to_owned()).with_rows(row.generation, dim, row.slot_count, |rows| {
        checksum::find_damage(
            rows,
            dim,
            row.slot_count,
            checksum::blocks(row.slot_count),
            |b| stored.get(&b).copied(),
        )
    })
}

/// Whether the filter index tables (`record_metadata`, `record_documents`) agree with
/// `records` for one collection: no rows for records that are gone, none missing for records
/// that have metadata or a document. One line per disagreement.
fn index_tables_disagree(conn: &rusqlite::Connection, key: i64) -> Result<Vec<String>> {
    let count = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> Result<i64> {
        Ok(conn.prepare_cached(sql)?.query_row(params, |r| r.get(0))?)
    };
    let mut problems = Vec::new();
    let orphans = count(
        "SELECT COUNT(*) FROM record_metadata AS m WHERE m.collection_id = ?1 AND NOT EXISTS \
         (SELECT 1 FROM records AS r INDEXED BY records_by_ord \
          WHERE r.collection_id = ?1 AND r.ord = m.ord)",
        &[&key],
    )?;
    if orphans > 0 {
        problems.push(format!("{orphans} metadata index rows belong to no record"));
    }
    let unindexed = count(
        "SELECT COUNT(*) FROM records AS r WHERE r.collection_id = ?1 \
         AND r.metadata IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM record_metadata AS m WHERE m.collection_id = ?1 AND m.ord = r.ord)",
        &[&key],
    )?;
    if unindexed > 0 {
        problems.push(format!(
            "{unindexed} records with metadata have no metadata index rows"
        ));
    }
    // Document index rows of this collection: rowids `key << SHIFT | ord`.
    let first = key << meta::records::FTS_COLLECTION_SHIFT;
    let last = first | ((1i64 << meta::records::FTS_COLLECTION_SHIFT) - 1);
    let indexed_docs = count(
        "SELECT COUNT(*) FROM record_documents WHERE rowid BETWEEN ?1 AND ?2",
        &[&first, &last],
    )?;
    let docs = count(
        "SELECT COUNT(*) FROM records WHERE collection_id = ?1 AND document IS NOT NULL",
        &[&key],
    )?;
    if indexed_docs != docs {
        problems.push(format!(
            "{docs} documents but {indexed_docs} rows in the document index"
        ));
    }
    Ok(problems)
}
