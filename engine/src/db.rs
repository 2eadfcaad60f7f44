//! The database: one directory (or memory), its catalog of collections, recovery on open.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::collection::{
    Collection, CollectionShared, DEFAULT_SWEEP_INTERVAL_MS, DbShared, ScrubAt,
};
use crate::config::CollectionConfig;
use crate::error::{Error, Result};
use crate::meta::{self, CollectionRow, Sidecar};
use crate::request::CollectionCall;
use crate::scheduler::{JobInfo, JobKind};
use crate::store::{Segment, checksum};
use crate::types::{CollectionInfo, Metadata};
use crate::validate;

/// Directory (inside the database directory) holding one directory per collection.
pub(crate) const COLLECTIONS_DIR: &str = "collections";

/// Names of collections an import is still filling (`_import-<uuid>`): chromadb's naming rule
/// cannot produce them, `list_collections` does not show them, and an open removes those whose
/// importer is gone ([`IMPORT_LOCK_FILE`] not held).
pub(crate) const IMPORT_PREFIX: &str = "_import-";

/// The advisory lock an import holds in its collection's directory while it runs.
pub(crate) const IMPORT_LOCK_FILE: &str = "import.lock";

/// A mnemodb database: a directory on disk, or memory only.
///
/// Cheap to clone and safe to share between threads. Several processes may open the same
/// directory: writes are serialized by a lock held for one transaction, and each read sees
/// every write committed before it started.
#[derive(Debug, Clone)]
pub struct Database {
    inner: Arc<DbInner>,
}

#[derive(Debug)]
pub(crate) struct DbInner {
    /// `None` for an in-memory database.
    pub(crate) dir: Option<PathBuf>,
    /// The sidecar and settings, shared with every collection handle.
    pub(crate) shared: Arc<DbShared>,
    /// Per-process state of every collection opened so far (segment mapping, live slots).
    /// In memory the segment *is* the data, so entries live until the collection is deleted.
    collections: Mutex<HashMap<Uuid, Arc<CollectionShared>>>,
    /// Wakes the expiry timer early or stops it.
    timer: Arc<TimerSignal>,
}

/// The expiry timer's doorbell: `poked` wakes it to look again (a new interval), `stop` ends
/// it (the last handle is gone).
#[derive(Debug, Default)]
struct TimerSignal {
    state: Mutex<TimerState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct TimerState {
    poked: bool,
    stop: bool,
}

impl TimerSignal {
    fn ring(&self, stop: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.poked = true;
        s.stop |= stop;
        drop(s);
        self.changed.notify_all();
    }
}

/// The timer never sleeps longer than this past a known expiry (nor less, between looks).
const TIMER_MIN_WAIT_MS: u64 = 10;

impl Database {
    /// Opens the database in `path`, creating the directory and an empty database if needed,
    /// and recovers from a crash of the last writer (rows appended but never committed are
    /// dropped; files of deleted collections are removed).
    ///
    /// A directory written by chromadb (`chroma.sqlite3`) is refused with
    /// [`Error::ChromaDirectory`] until it has been imported ([`crate::import_chroma`]):
    /// opening it would show none of its collections.
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        crate::chroma_dir::refuse_unimported(path.as_ref())?;
        Self::open_unchecked(path)
    }

    /// [`Database::open`] without the Chroma directory check (the import writes there).
    pub(crate) fn open_unchecked(path: impl AsRef<Path>) -> Result<Database> {
        let dir = path.as_ref().to_path_buf();
        std::fs::create_dir_all(dir.join(COLLECTIONS_DIR))
            .map_err(|e| Error::io("create", &dir, e))?;
        let sidecar = Sidecar::open(&dir)?;
        let inner = Arc::new(DbInner {
            dir: Some(dir),
            shared: Arc::new(DbShared::new(sidecar)),
            collections: Mutex::default(),
            timer: Arc::default(),
        });
        inner.recover()?;
        // Tool call outcomes journalled by a process that died (`tools/outbox.rs`).
        crate::tools::adopt_orphans(&inner.shared)?;
        start_expiry_timer(&inner);
        Ok(Database { inner })
    }

    /// A database that lives in memory only and is gone when the last handle is dropped.
    pub fn in_memory() -> Result<Database> {
        let sidecar = Sidecar::in_memory()?;
        let inner = Arc::new(DbInner {
            dir: None,
            shared: Arc::new(DbShared::new(sidecar)),
            collections: Mutex::default(),
            timer: Arc::default(),
        });
        start_expiry_timer(&inner);
        Ok(Database { inner })
    }

    pub(crate) fn inner(&self) -> &DbInner {
        &self.inner
    }

    /// The database directory (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.inner.dir.as_deref()
    }

    /// Has reads and writes take the time from `clock` (record expiry is compared with it):
    /// a [`Clock::manual`](crate::Clock::manual) lets tests and simulations move time.
    pub fn set_clock(&self, clock: crate::Clock) {
        *self
            .inner
            .shared
            .clock
            .write()
            .unwrap_or_else(|p| p.into_inner()) = clock;
        self.inner.timer.ring(false);
    }

    /// How often the database looks for expired records to sweep (60 s by default; it also
    /// wakes when the earliest known expiry passes, and a read that meets expired records
    /// queues a sweep at once).
    pub fn set_sweep_interval(&self, every: Duration) {
        let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
        self.inner
            .shared
            .sweep_interval_ms
            .store(ms.max(TIMER_MIN_WAIT_MS), Ordering::Relaxed);
        self.inner.timer.ring(false);
    }

    /// Queues an `ExpirySweep` job for every collection with records expired by now, and
    /// returns their handles, after deleting the tool ledger's and cache's expired rows
    /// (what the database's timer does on its own).
    pub fn sweep_expired(&self) -> Result<Vec<crate::Job>> {
        crate::tools::sweep_expired(&self.inner.shared)?;
        Ok(self.inner.sweep_due()?.0)
    }

    /// Every background job still queued or running, and the last finished ones, oldest
    /// first: index catch-ups, graph saves, live-slots checkpoints, walk-copy encodes,
    /// expiry sweeps.
    pub fn jobs(&self) -> Vec<JobInfo> {
        self.inner.shared.scheduler.jobs()
    }

    /// A handle to the job with this id (to wait for it or cancel it), while
    /// [`jobs`](Self::jobs) lists it.
    pub fn job(&self, id: u64) -> Option<crate::Job> {
        self.inner.shared.scheduler.job(id)
    }

    /// Closes the database: stops queueing background work, lets the jobs queued or
    /// running finish for at most `timeout`, then cancels the rest (each stops within one
    /// bounded step), and saves the derived files of every collection opened so far (the
    /// graph, the live-slots checkpoint), each as a job listed by [`jobs`](Self::jobs).
    /// Returns whether every job ended by itself within `timeout`.
    ///
    /// Committed records are durable whatever happens here: only derived files are saved.
    /// Handles stay usable afterwards, but nothing more is linked in the background (queries
    /// scan what the index lacks; [`Collection::catch_up_index`] still links it).
    pub fn close(&self, timeout: Duration) -> bool {
        let scheduler = &self.inner.shared.scheduler;
        let finished = scheduler.close(Instant::now() + timeout);
        crate::tools::close_outbox(&self.inner.shared);
        for c in self.inner.open_collections() {
            scheduler.run_inline(JobKind::GraphSave, Some(c.uuid), |ctx| {
                ctx.add_total(1);
                c.flush_index();
                ctx.advance(1);
                Ok(())
            });
            scheduler.run_inline(JobKind::LiveCheckpoint, Some(c.uuid), |ctx| {
                ctx.add_total(1);
                c.save_live_checkpoint();
                ctx.advance(1);
                Ok(())
            });
        }
        finished
    }

    /// Starts a background job that verifies every committed vector row against its block's
    /// checksum, a bounded step at a time, and returns its handle. The job fails, its error
    /// naming every damaged file and slot range, if any block does not match; reads of those
    /// slots fail with [`Error::Corrupt`] meanwhile. Reads verify what they return or scan;
    /// a scrub also covers what only graph walks touch, and rows not read for a long time.
    pub fn scrub(&self) -> crate::Job {
        let inner = Arc::clone(&self.inner);
        self.inner
            .shared
            .scheduler
            .submit(JobKind::Scrub, None, move |ctx| {
                let rows = inner.sidecar().read(|tx| meta::catalog_rows(tx))?;
                let mut damage = Vec::new();
                for row in rows {
                    let col = inner.handle(&row)?;
                    let mut at = ScrubAt::START;
                    let mut first = true;
                    loop {
                        if ctx.cancelled() {
                            return Ok(());
                        }
                        let step = col.scrub_step(at)?;
                        if first {
                            ctx.add_total(step.blocks);
                            first = false;
                        }
                        ctx.advance(step.verified);
                        damage.extend(step.damage);
                        match step.next {
                            Some(next) => at = next,
                            None => break,
                        }
                    }
                }
                if damage.is_empty() {
                    Ok(())
                } else {
                    Err(Error::Corrupt {
                        path: inner
                            .dir
                            .clone()
                            .unwrap_or_else(|| PathBuf::from(":memory:")),
                        detail: format!(
                            "{} damaged block(s) of vector rows: {}",
                            damage.len(),
                            damage.join("; ")
                        ),
                    })
                }
            })
    }

    /// Creates a collection. The name follows Chroma's rule (3-512 characters of
    /// `[a-zA-Z0-9._-]`, starting and ending with a letter or digit). Build `config` with
    /// [`CollectionConfig::resolve`] to honour chromadb's `configuration` argument and the
    /// legacy `hnsw:*` metadata keys; a bare [`Space`](crate::Space) gives the defaults with it.
    pub fn create_collection(
        &self,
        name: &str,
        config: impl Into<CollectionConfig>,
        metadata: Option<&Metadata>,
    ) -> Result<Collection> {
        self.create(name, &config.into(), metadata, false)
    }

    /// The existing collection called `name`, or a new one (the arguments are then ignored
    /// for an existing collection, as in chromadb).
    pub fn get_or_create_collection(
        &self,
        name: &str,
        config: impl Into<CollectionConfig>,
        metadata: Option<&Metadata>,
    ) -> Result<Collection> {
        self.create(name, &config.into(), metadata, true)
    }

    /// The collection called `name`.
    pub fn get_collection(&self, name: &str) -> Result<Collection> {
        let row = self
            .inner
            .sidecar()
            .read(|tx| meta::collection_by_name(tx, name))?
            .ok_or_else(|| Error::CollectionNotFound(name.to_owned()))?;
        self.inner.handle(&row)
    }

    /// The collection with this id.
    pub fn get_collection_by_id(&self, id: Uuid) -> Result<Collection> {
        let row = self
            .inner
            .sidecar()
            .read(|tx| meta::collection_by_id(tx, id))?
            .ok_or_else(|| Error::CollectionNotFound(id.to_string()))?;
        self.inner.handle(&row)
    }

    /// Every collection, oldest first.
    pub fn list_collections(&self) -> Result<Vec<CollectionInfo>> {
        let rows = self.inner.sidecar().read(|tx| meta::catalog_rows(tx))?;
        Ok(rows
            .iter()
            .filter(|r| !r.name.starts_with(IMPORT_PREFIX))
            .map(CollectionRow::info)
            .collect())
    }

    /// A new collection named `_import-<uuid>` (outside chromadb's naming rule, so no caller
    /// can take or see it) for an import to fill before renaming it, with its directory
    /// created and [`IMPORT_LOCK_FILE`] held: returns the collection, its name and the lock.
    pub(crate) fn create_import_target(
        &self,
        config: &CollectionConfig,
        metadata: Option<&Metadata>,
    ) -> Result<(Collection, String, Option<std::fs::File>)> {
        if let Some(m) = metadata {
            validate::collection_metadata(m, CollectionCall::Create)?;
        }
        let uuid = Uuid::new_v4();
        let name = format!("{IMPORT_PREFIX}{uuid}");
        // The lock first: an open elsewhere must never see the row without a held lock.
        let lock = match &self.inner.dir {
            Some(dir) => {
                let cdir = dir.join(COLLECTIONS_DIR).join(uuid.to_string());
                std::fs::create_dir_all(&cdir).map_err(|e| Error::io("create", &cdir, e))?;
                let path = cdir.join(IMPORT_LOCK_FILE);
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io("create", &path, e))?;
                file.lock().map_err(|e| Error::io("lock", &path, e))?;
                Some(file)
            }
            None => None,
        };
        let row = self.inner.sidecar().write(|tx| {
            meta::catalog::insert_collection(
                tx,
                uuid,
                &name,
                config,
                meta::metadata_to_json(metadata).as_deref(),
            )?;
            meta::collection_by_id(tx, uuid)?.ok_or_else(|| Error::CollectionNotFound(name.clone()))
        })?;
        Ok((self.inner.handle(&row)?, name, lock))
    }

    /// Deletes a collection, its records and its files. Handles to it fail from now on.
    pub fn delete_collection(&self, name: &str) -> Result<()> {
        let row = self.inner.sidecar().write(|tx| {
            let row = meta::collection_by_name(tx, name)?
                .ok_or_else(|| Error::CollectionNotFound(name.to_owned()))?;
            meta::catalog::delete_collection(tx, row.key)?;
            Ok(row)
        })?;
        self.inner
            .collections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&row.uuid);
        // Committed: the call has succeeded, and what follows is tidying that may not fail it
        // (a failed call must change nothing, and this one has changed the catalog). Its
        // background work (an index build, a save, a compaction) is stopped first, so that no
        // file is written into the directory while or after it is removed.
        self.inner.shared.scheduler.cancel_jobs_of(row.uuid);
        if let Some(dir) = &self.inner.dir {
            // The files are garbage now. Removing them can fail while a compaction is still
            // writing into the directory ("directory not empty"); then, as when we die before
            // removing them, the next open removes them (`recover`). Mappings elsewhere stay
            // valid (unlink semantics).
            let cdir = dir.join(COLLECTIONS_DIR).join(row.uuid.to_string());
            remove_dir_if_present(&cdir).ok();
        }
        // Its records' pages are free now; give them back (or leave them to the next write's
        // reclaim if the sidecar is busy).
        self.inner.shared.reclaim_space().ok();
        Ok(())
    }

    /// Truncates the sidecar's write-ahead log now (a checkpoint), waiting briefly for
    /// readers still using it. Writes do this in the background when the log passes its
    /// bound; this is for callers about to copy or measure the directory. Returns whether it
    /// finished (`false`: readers or a writer kept it busy; nothing is lost either way).
    pub fn checkpoint(&self) -> Result<bool> {
        while !self.inner.sidecar().claim_checkpoint(0) {
            if self.inner.sidecar().wal_bytes() == 0 {
                return Ok(true);
            }
            // Another checkpoint of this process is running; it ends within its timeout.
            self.inner.sidecar().wait_for_checkpoint();
        }
        Ok(!self.inner.sidecar().checkpoint()?.busy)
    }

    /// Renames the collection called `name` and/or replaces its metadata (`Some(None)`
    /// clears it).
    pub fn modify_collection(
        &self,
        name: &str,
        new_name: Option<&str>,
        metadata: Option<Option<&Metadata>>,
    ) -> Result<()> {
        self.get_collection(name)?.modify(new_name, metadata)
    }

    fn create(
        &self,
        name: &str,
        config: &CollectionConfig,
        metadata: Option<&Metadata>,
        get_or_create: bool,
    ) -> Result<Collection> {
        validate::collection_name(name)?;
        if let Some(m) = metadata {
            validate::collection_metadata(m, CollectionCall::Create)?;
        }
        let row = self.inner.sidecar().write(|tx| {
            if let Some(row) = meta::collection_by_name(tx, name)? {
                return if get_or_create {
                    Ok(row)
                } else {
                    Err(Error::CollectionExists(name.to_owned()))
                };
            }
            let uuid = Uuid::new_v4();
            meta::catalog::insert_collection(
                tx,
                uuid,
                name,
                config,
                meta::metadata_to_json(metadata).as_deref(),
            )?;
            meta::collection_by_id(tx, uuid)?
                .ok_or_else(|| Error::CollectionNotFound(name.to_owned()))
        })?;
        self.inner.handle(&row)
    }
}

impl Drop for DbInner {
    fn drop(&mut self) {
        // The last database handle is gone: stop the background work now (each job stops
        // within one bounded step). Collections whose last handle goes with this save their
        // derived files as they drop.
        self.timer.ring(true);
        self.shared.scheduler.cancel_all();
        crate::tools::close_outbox(&self.shared);
    }
}

impl DbInner {
    /// Queues a sweep for each collection with records expired by now; returns their handles
    /// and the earliest expiry still to come (milliseconds since the epoch).
    fn sweep_due(&self) -> Result<(Vec<crate::Job>, Option<i64>)> {
        let now = self.shared.now_ms();
        let due = self.sidecar().read(|tx| {
            let mut due = Vec::new();
            for row in meta::catalog_rows(tx)? {
                if let Some(at) = meta::records::next_expiry(tx, row.key)? {
                    due.push((row, at));
                }
            }
            Ok(due)
        })?;
        let mut jobs = Vec::new();
        let mut next: Option<i64> = None;
        for (row, at) in due {
            if at <= now {
                jobs.push(self.handle(&row)?.sweep_expired());
            } else {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        Ok((jobs, next))
    }

    /// The collections opened in this process so far.
    fn open_collections(&self) -> Vec<Arc<CollectionShared>> {
        let map = self.collections.lock().unwrap_or_else(|p| p.into_inner());
        map.values().cloned().collect()
    }

    /// The sidecar's connections (held in [`DbShared`] with the collections).
    pub(crate) fn sidecar(&self) -> &Sidecar {
        &self.shared.sidecar
    }

    /// This process's shared state for a collection, created on first use.
    pub(crate) fn handle(&self, row: &CollectionRow) -> Result<Collection> {
        let mut map = self.collections.lock().unwrap_or_else(|p| p.into_inner());
        let shared = match map.get(&row.uuid) {
            Some(s) => Arc::clone(s),
            None => {
                let segment = match &self.dir {
                    Some(dir) => {
                        Segment::in_dir(dir.join(COLLECTIONS_DIR).join(row.uuid.to_string()))
                    }
                    None => Segment::in_memory(),
                };
                let s = Arc::new(CollectionShared::new(row, segment)?);
                map.insert(row.uuid, Arc::clone(&s));
                s
            }
        };
        Ok(Collection::new(Arc::clone(&self.shared), shared))
    }

    /// Crash recovery, under the write lock: drop vector rows past each collection's committed
    /// slots, files of older generations, and directories of collections no longer in the
    /// catalog. Every file change happens under the write lock, so none of this can race
    /// with a writer in another process.
    fn recover(&self) -> Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let collections_dir = dir.join(COLLECTIONS_DIR);
        self.sidecar().write(|tx| {
            let rows = meta::catalog_rows(tx)?;
            let pending = meta::checksums::pending(tx)?;
            let mut kept = Vec::with_capacity(rows.len());
            for row in rows {
                if row.name.starts_with(IMPORT_PREFIX)
                    && import_abandoned(&collections_dir.join(row.uuid.to_string()))
                {
                    // An import whose process died: it never became visible; drop it (its
                    // directory goes with the unknown ones below).
                    meta::catalog::delete_collection(tx, row.key)?;
                } else {
                    kept.push(row);
                }
            }
            let rows = kept;
            for row in &rows {
                let cdir = collections_dir.join(row.uuid.to_string());
                // A compaction running in another process is writing the next generation:
                // leave the directory to it (it cleans up after itself).
                let _compaction = match compaction_idle(&cdir) {
                    Some(lock) => lock,
                    None => continue,
                };
                let segment = Segment::in_dir(cdir);
                if let Some(dim) = row.dimension {
                    segment.truncate_uncommitted(row.generation, dim, row.slot_count)?;
                    if pending.contains(&row.key) {
                        // Written before checksums existed (format version 1): take the rows
                        // as they are now, once.
                        let sums =
                            segment.with_rows(row.generation, dim, row.slot_count, |r| {
                                checksum::for_append(0, dim, r, |_| Ok((0, 0)))
                            })??;
                        meta::checksums::put(tx, row.key, row.generation, &sums)?;
                    }
                }
                if pending.contains(&row.key) {
                    meta::checksums::done(tx, row.key)?;
                }
                segment.remove_other_generations(row.generation)?;
            }
            let known: std::collections::HashSet<String> =
                rows.iter().map(|r| r.uuid.to_string()).collect();
            let entries = std::fs::read_dir(&collections_dir)
                .map_err(|e| Error::io("list", &collections_dir, e))?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                // An import creates its directory (lock held) just before its catalog row.
                if name.parse::<Uuid>().is_ok()
                    && !known.contains(&name)
                    && import_abandoned(&entry.path())
                {
                    remove_dir_if_present(&entry.path())?;
                }
            }
            Ok(())
        })
    }
}

/// Starts the thread that queues expiry sweeps: it looks every `sweep_interval_ms`, or when
/// the earliest expiry it knows of passes, whichever comes first. It holds the database only
/// while it looks, and ends when the last handle is dropped or the database is closed.
fn start_expiry_timer(inner: &Arc<DbInner>) {
    let db = Arc::downgrade(inner);
    let signal = Arc::clone(&inner.timer);
    let spawned = std::thread::Builder::new()
        .name("mnemodb-expiry".into())
        .spawn(move || {
            // The first look comes one interval after open (or when poked): a database opened
            // and dropped at once is never held alive by this thread. Reads hide and sweep
            // whatever expired before then.
            let mut wait_ms = DEFAULT_SWEEP_INTERVAL_MS;
            loop {
                let state = signal.state.lock().unwrap_or_else(|p| p.into_inner());
                let (mut state, _) = signal
                    .changed
                    .wait_timeout_while(state, Duration::from_millis(wait_ms), |s| {
                        !s.poked && !s.stop
                    })
                    .unwrap_or_else(|p| p.into_inner());
                if state.stop {
                    return;
                }
                state.poked = false;
                drop(state);
                wait_ms = {
                    let Some(db) = db.upgrade() else { return };
                    if db.shared.scheduler.is_closed() {
                        return;
                    }
                    let every = db.shared.sweep_interval_ms.load(Ordering::Relaxed);
                    // A failed look (the disk, a lock) is retried at the next one.
                    let next = db.sweep_due().ok().and_then(|(_, next)| next);
                    // The tool ledger's and cache's expired rows (`tools/`), likewise.
                    let _ = crate::tools::sweep_expired(&db.shared);
                    let until_next = next.map(|at| {
                        u64::try_from(at.saturating_sub(db.shared.now_ms())).unwrap_or(0)
                    });
                    until_next
                        .map_or(every, |u| u.min(every))
                        .max(TIMER_MIN_WAIT_MS)
                };
            }
        });
    // Without the thread, expired records are still hidden and swept when reads meet them.
    drop(spawned);
}

/// Whether the import filling the collection in `cdir` is gone (its lock is not held).
fn import_abandoned(cdir: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new()
        .write(true)
        .open(cdir.join(IMPORT_LOCK_FILE))
    else {
        return true;
    };
    !matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// Holds the collection's compaction lock if no compaction holds it (`None`: one does).
fn compaction_idle(cdir: &Path) -> Option<Option<std::fs::File>> {
    let Ok(file) = std::fs::OpenOptions::new()
        .write(true)
        .open(cdir.join(crate::collection::COMPACT_LOCK_FILE))
    else {
        // No lock file: no compaction ever ran here.
        return Some(None);
    };
    match file.try_lock() {
        Ok(()) => Some(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => None,
        Err(std::fs::TryLockError::Error(_)) => Some(None),
    }
}

fn remove_dir_if_present(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", dir, e)),
    }
}
