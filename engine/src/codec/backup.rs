//! Online backup: a consistent copy of a database directory while writers keep writing. One
//! read snapshot of the sidecar is copied with SQLite's backup API; the vector files are opened
//! inside that snapshot and copied up to the rows it commits (a committed prefix is never
//! rewritten, and an open file outlives a compaction removing it). Derived files (graphs,
//! live-slots checkpoints) are left out: the copy rebuilds them.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::db::{COLLECTIONS_DIR, Database};
use crate::error::{Error, Result};
use crate::meta::{self, SQLITE_FILE};
use crate::store::{HEADER_LEN, Segment};

/// How often a backup starts over when a compaction removed a vector file between its
/// snapshot and opening the file.
const ATTEMPTS: usize = 8;

/// What a backup copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackupReport {
    /// Collections copied.
    pub collections: usize,
    /// Records in the copy.
    pub records: u64,
    /// Bytes of vector rows copied (headers included).
    pub vector_bytes: u64,
}

/// One vector file to copy: opened in the snapshot, `len` bytes of it committed.
struct VectorFile {
    file: File,
    to: PathBuf,
    len: u64,
}

impl Database {
    /// Copies this database into `dest` (a new or empty directory) while other threads and
    /// processes keep writing: the copy holds every record committed before the call began
    /// (and possibly some committed during it), opens, and passes [`check`](Self::check).
    /// HNSW graphs and live-slots checkpoints are not copied; the copy rebuilds them.
    pub fn backup(&self, dest: impl AsRef<Path>) -> Result<BackupReport> {
        let dest = dest.as_ref();
        let Some(src) = self.path() else {
            return Err(Error::invalid(
                "an in-memory database has no files to back up: export its collections \
                 (mnemodb::codec::export_file) instead",
            ));
        };
        if let Ok(mut entries) = std::fs::read_dir(dest)
            && entries.next().is_some()
        {
            return Err(Error::invalid(format!(
                "{}: the backup's destination must be a new or empty directory",
                dest.display()
            )));
        }
        std::fs::create_dir_all(dest.join(COLLECTIONS_DIR))
            .map_err(|e| Error::io("create", dest, e))?;
        let mut last = None;
        for _ in 0..ATTEMPTS {
            match snapshot(src, dest) {
                Ok((report, files)) => return finish(dest, report, files),
                Err(Retry::Again(e)) => last = Some(e),
                Err(Retry::Fail(e)) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::invalid("backup: no attempt made")))
    }
}

enum Retry {
    /// A vector file went away between the snapshot and its opening: take a new snapshot.
    Again(Error),
    Fail(Error),
}

impl From<Error> for Retry {
    fn from(e: Error) -> Self {
        Retry::Fail(e)
    }
}

impl From<rusqlite::Error> for Retry {
    fn from(e: rusqlite::Error) -> Self {
        Retry::Fail(e.into())
    }
}

/// Copies the sidecar as of one read snapshot into `dest` and opens the vector files that
/// snapshot names (still inside it).
fn snapshot(
    src: &Path,
    dest: &Path,
) -> std::result::Result<(BackupReport, Vec<VectorFile>), Retry> {
    let conn = rusqlite::Connection::open_with_flags(
        src.join(SQLITE_FILE),
        // Read-write (no create) as every connection of the engine: a read-only one cannot
        // always join a WAL database. It only reads.
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let target = dest.join(SQLITE_FILE);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = target.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    let mut out = rusqlite::Connection::open(&target)?;
    // The snapshot: a read transaction that the backup and the catalog reads below share.
    conn.execute_batch("BEGIN DEFERRED")?;
    let body = (|| {
        conn.query_row("SELECT COUNT(*) FROM collections", [], |_| Ok(()))?;
        {
            let backup = rusqlite::backup::Backup::new(&conn, &mut out)?;
            // One step copies every page inside the open read transaction: the copy is the
            // snapshot, whatever writers commit meanwhile (WAL: they are not blocked).
            backup.step(-1)?;
        }
        let rows = meta::catalog_rows(&conn)?;
        let mut report = BackupReport {
            collections: rows.len(),
            ..BackupReport::default()
        };
        report.records =
            conn.query_row("SELECT COUNT(*) FROM records", [], |r| r.get::<_, i64>(0))? as u64;
        let mut files = Vec::new();
        for row in rows {
            let to_dir = dest.join(COLLECTIONS_DIR).join(row.uuid.to_string());
            std::fs::create_dir_all(&to_dir).map_err(|e| Error::io("create", &to_dir, e))?;
            let Some(dim) = row.dimension else { continue };
            if row.slot_count == 0 {
                continue;
            }
            let cdir = src.join(COLLECTIONS_DIR).join(row.uuid.to_string());
            let from = Segment::file_path(&cdir, row.generation);
            let file = match File::open(&from) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Retry::Again(Error::io("open", &from, e)));
                }
                Err(e) => return Err(Retry::Fail(Error::io("open", &from, e))),
            };
            let len = (HEADER_LEN + row.slot_count as usize * dim * 4) as u64;
            files.push(VectorFile {
                file,
                to: Segment::file_path(&to_dir, row.generation),
                len,
            });
            report.vector_bytes += len;
        }
        Ok((report, files))
    })();
    let _ = conn.execute_batch("ROLLBACK");
    body
}

/// Copies each vector file's committed prefix and syncs the copy.
fn finish(dest: &Path, report: BackupReport, files: Vec<VectorFile>) -> Result<BackupReport> {
    for f in files {
        let mut out = File::create(&f.to).map_err(|e| Error::io("create", &f.to, e))?;
        let copied = std::io::copy(&mut (&f.file).take(f.len), &mut out)
            .map_err(|e| Error::io("copy", &f.to, e))?;
        if copied != f.len {
            return Err(Error::Corrupt {
                path: f.to.clone(),
                detail: format!(
                    "the source vector file holds {copied} bytes, its catalog commits {}",
                    f.len
                ),
            });
        }
        out.flush().map_err(|e| Error::io("write", &f.to, e))?;
        out.sync_all().map_err(|e| Error::io("sync", &f.to, e))?;
    }
    let sidecar = dest.join(SQLITE_FILE);
    File::open(&sidecar)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("sync", &sidecar, e))?;
    for dir in [dest.join(COLLECTIONS_DIR), dest.to_path_buf()] {
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
    }
    Ok(report)
}
