//! The consistency check: does the sidecar agree with itself and with the vector files?
//! Used by the crash tests and by `mnemodb inspect`.

use std::fs::File;

use crate::db::{COLLECTIONS_DIR, Database};
use crate::error::Result;
use crate::meta;
use crate::store::{HEADER_LEN, Segment, read_header};

/// What [`Database::check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsistencyReport {
    /// Collections checked.
    pub collections: usize,
    /// Records checked.
    pub records: u64,
    /// Every inconsistency found, one line each; empty when the database is sound.
    pub problems: Vec<String>,
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
    /// below the counter, and the vector file has a valid header, the catalog's dimension and
    /// at least the committed rows.
    pub fn check(&self) -> Result<ConsistencyReport> {
        let dir = self.path().map(|p| p.join(COLLECTIONS_DIR));
        self.inner().sidecar.read(|tx| {
            let mut report = ConsistencyReport::default();
            let integrity: String = tx.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if integrity != "ok" {
                report
                    .problems
                    .push(format!("sqlite integrity_check: {integrity}"));
            }
            for row in meta::catalog_rows(tx)? {
                report.collections += 1;
                let name = &row.name;
                let mut seen = vec![false; row.slot_count as usize];
                meta::records::for_each(tx, row.key, |r| {
                    report.records += 1;
                    match seen.get_mut(r.slot as usize) {
                        None => report.problems.push(format!(
                            "{name}: record {:?} points at slot {} past the committed {}",
                            r.id, r.slot, row.slot_count
                        )),
                        Some(true) => report
                            .problems
                            .push(format!("{name}: two records share slot {}", r.slot)),
                        Some(s) => *s = true,
                    }
                    if r.ord >= row.next_ord {
                        report.problems.push(format!(
                            "{name}: record {:?} has insertion order {} >= counter {}",
                            r.id, r.ord, row.next_ord
                        ));
                    }
                    Ok(())
                })?;
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
                    Err(e) => report
                        .problems
                        .push(format!("{name}: {}: {e}", path.display())),
                    Ok((found, len)) => {
                        if found != dim {
                            report.problems.push(format!(
                                "{name}: vector file dimension {found}, catalog {dim}"
                            ));
                        }
                        let want = (HEADER_LEN + row.slot_count as usize * dim * 4) as u64;
                        if len < want {
                            report.problems.push(format!(
                                "{name}: vector file has {len} bytes, {want} committed"
                            ));
                        }
                    }
                }
            }
            Ok(report)
        })
    }
}
