//! Connections to the sidecar: one writer, a pool of readers, and the transactions that give
//! writes their lock and reads their snapshot.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::schema;
use super::write_queue::WriteQueue;
use crate::error::{Error, Result};
use crate::types::Durability;

/// How long a writer waits for another writer (in this or another process) before giving up.
/// Writes hold the lock for one transaction only, so a long wait means something is wrong.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of the sidecar file SQLite maps (address space, not memory: pages are the page
/// cache's); SQLite's own ceiling). Past this, reads fall back to `pread`.
const SQLITE_MMAP_BYTES: u64 = 0x7fff_0000;

/// Idle reader connections kept for reuse.
const MAX_IDLE_READERS: usize = 8;

/// A write that leaves the write-ahead log longer than this asks for a checkpoint that
/// truncates it. SQLite's own checkpoints (every 1,000 pages) copy the log into the database
/// but restart it from the beginning only when no reader is using it, which never happens
/// while other processes read in a loop: the log then grows without bound (452 MB beside a
/// 36 MB database in issue 21's test).
pub(crate) const WAL_CHECKPOINT_BYTES: u64 = 32 << 20;

/// The size SQLite truncates the log back to when it restarts it.
const JOURNAL_SIZE_LIMIT_BYTES: u64 = 8 << 20;

/// How long a truncating checkpoint waits for the write lock and for readers of the log to
/// finish, holding the write lock meanwhile: every writer waits as long. Reads hold their
/// snapshot for one call, so this is a few calls' length; a checkpoint that cannot finish in
/// time gives up and the next long log tries again (past four times the bound, the writer
/// itself). At 2 s it was the soak's longest write (2.1-2.4 s); at 250 ms the longest was
/// 0.5-0.75 s and the log stayed under 33 MiB.
const CHECKPOINT_BUSY_TIMEOUT: Duration = Duration::from_millis(250);

/// Free pages below which returning them to the file system is not worth a vacuum.
const RECLAIM_MIN_FREE_PAGES: u64 = 256;

/// What a checkpoint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// Whether readers or a writer kept it from finishing (the log was not truncated).
    pub(crate) busy: bool,
    /// Pages in the log before it (-1 when another writer kept it from starting).
    pub(crate) log_pages: i64,
}

/// The sidecar database and its connections.
#[derive(Debug)]
pub(crate) struct Sidecar {
    /// `None` for an in-memory database, which has a single connection.
    path: Option<PathBuf>,
    writer: Mutex<Connection>,
    /// Taken after `writer` and before SQLite's write lock: the processes' fair turn at it.
    queue: WriteQueue,
    readers: Mutex<Vec<Connection>>,
    /// Set while this process has a checkpoint queued or running, so writes ask once.
    checkpointing: AtomicBool,
    /// Whether the writer connection is at `synchronous=NORMAL` (left there by a deferred
    /// write; the next synced commit sets `FULL` first). Touched with `writer` held.
    writer_deferred: AtomicBool,
    /// The log length past which a write asks for a checkpoint ([`WAL_CHECKPOINT_BYTES`];
    /// tests lower it).
    pub(crate) wal_bound: AtomicU64,
}

impl Sidecar {
    /// Opens (creating if needed) the sidecar file in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Sidecar> {
        let path = dir.join(schema::SQLITE_FILE);
        let conn = open_connection(&path, Map::No)?;
        // Only takes effect in a new, empty file (the tables are created next): freed pages
        // can then be given back with `incremental_vacuum`. Older files are converted by the
        // first `reclaim_free_pages` that finds enough to give back.
        conn.execute_batch("PRAGMA auto_vacuum=INCREMENTAL;")?;
        let mut sidecar = Sidecar {
            path: Some(path),
            writer: Mutex::new(conn),
            queue: WriteQueue::open(dir)?,
            readers: Mutex::new(Vec::new()),
            checkpointing: AtomicBool::new(false),
            writer_deferred: AtomicBool::new(false),
            wal_bound: AtomicU64::new(WAL_CHECKPOINT_BYTES),
        };
        schema::create_or_check(sidecar.writer.get_mut().unwrap_or_else(|p| p.into_inner()))?;
        Ok(sidecar)
    }

    /// A sidecar that lives in memory only.
    pub(crate) fn in_memory() -> Result<Sidecar> {
        let mut conn = Connection::open_in_memory()?;
        configure(&conn)?;
        schema::create_or_check(&mut conn)?;
        Ok(Sidecar {
            path: None,
            writer: Mutex::new(conn),
            queue: WriteQueue::in_memory(),
            readers: Mutex::new(Vec::new()),
            checkpointing: AtomicBool::new(false),
            writer_deferred: AtomicBool::new(false),
            wal_bound: AtomicU64::new(WAL_CHECKPOINT_BYTES),
        })
    }

    /// The database directory (the sidecar's; `None` in memory).
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.path.as_deref().and_then(Path::parent)
    }

    /// Runs `f` in a write transaction: it holds the database's write lock (SQLite's, shared
    /// by every process) from start to commit. `f` returning an error rolls everything back.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        self.write_with(Durability::Synced, f)
    }

    /// [`write`](Self::write), with the commit synced or not (`Deferred`: SQLite's
    /// `synchronous=NORMAL` for this commit; in WAL mode that keeps the database
    /// consistent and loses at most the latest such commits on a power loss). The writer
    /// connection stays in the mode of its last commit, so a run of deferred writes (tool
    /// calls) sets it once, not twice per write.
    pub(crate) fn write_with<T>(
        &self,
        durability: Durability,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let _turn = self.queue.turn(BUSY_TIMEOUT)?;
        self.commit_mode(&conn, durability)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(busy)?;
        let out = f(&tx)?;
        tx.commit().map_err(busy)?;
        Ok(out)
    }

    /// Sets the writer connection (held) to sync its next commits as `durability` says,
    /// unless it does already.
    fn commit_mode(&self, conn: &Connection, durability: Durability) -> Result<()> {
        let deferred = durability == Durability::Deferred && self.path.is_some();
        if self.writer_deferred.load(SeqCst) != deferred {
            conn.execute_batch(if deferred {
                "PRAGMA synchronous=NORMAL;"
            } else {
                "PRAGMA synchronous=FULL;"
            })?;
            self.writer_deferred.store(deferred, SeqCst);
        }
        Ok(())
    }

    /// Runs `f` in a read transaction: every statement in it sees one snapshot, which holds
    /// every write committed before the transaction's first read.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let Some(path) = &self.path else {
            let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            return f(&tx);
        };
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => open_connection(path, Map::Yes)?,
        };
        let out = {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            f(&tx)
        };
        let mut idle = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }
}

impl Sidecar {
    /// The write-ahead log's length in bytes (0 in memory or when there is none).
    pub(crate) fn wal_bytes(&self) -> u64 {
        let Some(path) = &self.path else { return 0 };
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        std::fs::metadata(wal).map_or(0, |m| m.len())
    }

    /// Whether the log holds at least `min_bytes` (and anything at all) and no checkpoint of
    /// this process is queued or running. `true` claims the checkpoint: the caller must run
    /// [`checkpoint`](Self::checkpoint) (or [`release_checkpoint`](Self::release_checkpoint)).
    pub(crate) fn claim_checkpoint(&self, min_bytes: u64) -> bool {
        let wal = self.wal_bytes();
        wal > 0
            && wal >= min_bytes
            && self
                .checkpointing
                .compare_exchange(false, true, SeqCst, SeqCst)
                .is_ok()
    }

    /// Waits until no checkpoint of this process is queued or running (each ends within its
    /// busy timeout).
    pub(crate) fn wait_for_checkpoint(&self) {
        while self.checkpointing.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Gives up a claim made by [`claim_checkpoint`](Self::claim_checkpoint) without running it.
    pub(crate) fn release_checkpoint(&self) {
        self.checkpointing.store(false, SeqCst);
    }

    /// Copies the whole log into the database file and truncates it to nothing. Two steps:
    /// a passive checkpoint on a connection of its own copies what it can while writers go
    /// on; then, holding this process's writer (so its writes, which would otherwise take
    /// the lock back between each other's transactions, wait for it), a truncating one copies
    /// the rest and waits (up to [`CHECKPOINT_BUSY_TIMEOUT`]) for readers still using the
    /// log. Ends a claim.
    pub(crate) fn checkpoint(&self) -> Result<Checkpoint> {
        let out = (|| {
            let Some(path) = &self.path else {
                return Ok(Checkpoint {
                    busy: false,
                    log_pages: 0,
                });
            };
            {
                let conn = open_connection(path, Map::No)?;
                conn.busy_timeout(CHECKPOINT_BUSY_TIMEOUT)?;
                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            }
            let conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            let Ok(_turn) = self.queue.turn(CHECKPOINT_BUSY_TIMEOUT) else {
                return Ok(Checkpoint {
                    busy: true,
                    log_pages: -1,
                });
            };
            conn.busy_timeout(CHECKPOINT_BUSY_TIMEOUT)?;
            let done = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            });
            conn.busy_timeout(BUSY_TIMEOUT)?;
            let (busy, log_pages) = done?;
            Ok(Checkpoint {
                busy: busy != 0,
                log_pages,
            })
        })();
        self.release_checkpoint();
        out
    }

    /// Gives the sidecar's free pages back to the file system when there are enough of them
    /// (after a compaction or a collection's deletion freed many): `incremental_vacuum` in a
    /// file made with `auto_vacuum=INCREMENTAL`, or, once, a `VACUUM` that converts an older
    /// file to it. The file shrinks when the log is next checkpointed. Returns the pages
    /// freed.
    pub(crate) fn reclaim_free_pages(&self) -> Result<u64> {
        if self.path.is_none() {
            return Ok(0);
        }
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let total: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free = free.max(0) as u64;
        // Worth it past a fixed floor and a quarter of the file: a vacuum of an old file
        // rewrites all of it.
        if free < RECLAIM_MIN_FREE_PAGES || free * 4 < total.max(0) as u64 {
            return Ok(0);
        }
        let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
        let _turn = self.queue.turn(BUSY_TIMEOUT)?;
        self.commit_mode(&conn, Durability::Synced)?;
        if mode == 2 {
            // One write transaction, like any write: it takes the database's write lock.
            // The pragma frees one page per step, so it is stepped to the end.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(busy)?;
            {
                let mut stmt = tx.prepare("PRAGMA incremental_vacuum")?;
                let mut rows = stmt.query([])?;
                while rows.next()?.is_some() {}
            }
            tx.commit().map_err(busy)?;
        } else {
            conn.execute_batch("PRAGMA auto_vacuum=INCREMENTAL; VACUUM;")
                .map_err(busy)?;
        }
        Ok(free)
    }
}

/// Whether a connection reads the sidecar through a map ([`SQLITE_MMAP_BYTES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Map {
    Yes,
    No,
}

fn open_connection(path: &Path, map: Map) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    configure(&conn)?;
    if map == Map::Yes {
        // Reads through a map instead of a `pread` per page: a query's record lookups touch
        // a dozen pages, and the system calls were a tenth of its time. Writes still go
        // through the WAL, so the map is never written to. (An I/O error on a mapped page is a
        // SIGBUS rather than an error code; the vector segment is mapped already, so this
        // adds no new failure.) Not for the writer: its reads are the B-trees' pages a bulk
        // write walks, and through a map every one of them stayed resident in the process
        // (31-57 MB of its peak at 100k records) where SQLite's own cache keeps 2 MB.
        conn.execute_batch(&format!("PRAGMA mmap_size={SQLITE_MMAP_BYTES};"))?;
    }
    Ok(conn)
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers never block the writer and see a snapshot; FULL: a commit is on disk when
    // acknowledged (NORMAL could lose the last commits on power loss).
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if mode != "wal" && mode != "memory" {
        return Err(Error::invalid(format!(
            "the database directory does not support SQLite's WAL mode (got {mode}); \
             network file systems are not supported"
        )));
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; \
         PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT_BYTES};"
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    // Compiled filters call `mnemo_regex` and `rarray` on whichever connection runs them.
    super::sql::register(conn)?;
    Ok(())
}

/// Gives a lock time-out an actionable message.
fn busy(e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy) => Error::invalid(format!(
            "the database is locked by another writer for more than {} s; \
             is a process stuck in a write?",
            BUSY_TIMEOUT.as_secs()
        )),
        _ => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::Sidecar;
    use crate::error::Error;
    use crate::types::Durability;

    fn synchronous(s: &Sidecar) -> i64 {
        let conn = s.writer.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("pragma")
    }

    /// Readers map the sidecar, the writer does not: a bulk write's B-tree pages would stay
    /// resident in the process through a map.
    #[test]
    fn readers_map_the_sidecar_and_the_writer_does_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Sidecar::open(dir.path()).expect("open");
        let mmap_size = |tx: &rusqlite::Transaction<'_>| -> crate::error::Result<i64> {
            Ok(tx.query_row("PRAGMA mmap_size", [], |r| r.get(0))?)
        };
        assert_eq!(s.write(mmap_size).expect("write"), 0, "the writer");
        assert_eq!(
            s.read(mmap_size).expect("read"),
            super::SQLITE_MMAP_BYTES as i64,
            "a reader"
        );
    }

    /// A deferred commit is committed (a new reader sees it) with `synchronous=NORMAL`, and a
    /// synced one after it with `FULL` again, also after a deferred write failed.
    #[test]
    fn a_deferred_write_commits_and_restores_synced_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Sidecar::open(dir.path()).expect("open");
        assert_eq!(synchronous(&s), 2, "FULL");
        let mode = |tx: &rusqlite::Transaction<'_>| -> crate::error::Result<i64> {
            Ok(tx.query_row("PRAGMA synchronous", [], |r| r.get(0))?)
        };
        let during = s
            .write_with(Durability::Deferred, |tx| {
                tx.execute_batch("CREATE TABLE t (x)")?;
                tx.execute("INSERT INTO t VALUES (7)", [])?;
                mode(tx)
            })
            .expect("deferred write");
        assert_eq!(during, 1, "NORMAL");
        assert_eq!(s.write(mode).expect("synced write"), 2, "FULL again");
        let failed: crate::error::Result<()> = s.write_with(Durability::Deferred, |tx| {
            tx.execute("INSERT INTO t VALUES (8)", [])?;
            Err(Error::invalid("refused"))
        });
        assert!(failed.is_err());
        assert_eq!(
            s.write(mode).expect("synced write"),
            2,
            "FULL after a failed deferred write"
        );
        let other = Sidecar::open(dir.path()).expect("second handle");
        let xs: Vec<i64> = other
            .read(|tx| {
                let mut stmt = tx.prepare("SELECT x FROM t")?;
                let xs = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()?;
                Ok(xs)
            })
            .expect("read");
        assert_eq!(xs, [7], "committed once, the failed write rolled back");
    }
}
