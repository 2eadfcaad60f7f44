//! Compaction as a background job: the live rows are copied into a new generation outside
//! the write lock, then one short write brings it up to date with the writes made meanwhile
//! and switches to it in one commit. Reads and writes go on throughout; a cancelled or
//! failed compaction leaves the old generation as it was.

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::{Arc, Mutex};

use super::Collection;
use crate::error::{Error, Result};
use crate::meta;
use crate::scheduler::{Job, JobCtx, JobKind};

/// Where a compaction run for [`Collection::compact`] leaves its result.
type Outcome = Arc<Mutex<Option<Result<u64>>>>;

/// Rows copied between two checks for cancellation.
const COPY_STEP: usize = 4096;
/// The lock file of the one compaction of a collection (across processes).
pub(crate) const COMPACT_LOCK_FILE: &str = "compact.lock";
/// Slots a collection needs before its dead slots start a compaction on their own: below
/// that, the dead rows cost little (a few MiB) and a rewrite would cost more than it saves.
pub(crate) const AUTO_COMPACT_MIN_SLOTS: u64 = 65_536;

impl Collection {
    /// Starts compacting the collection in the background and returns the job: the vector
    /// file is rewritten without the dead slots updates and deletes leave behind. Reads and
    /// writes go on meanwhile (the new file catches up with the writes made during the copy,
    /// then replaces the old one in one commit); [`Job::cancel`] leaves the old file as it
    /// was. One compaction of a collection runs at a time, across processes.
    /// [`Job::wait`] waits for it; [`compact_blocking`](Self::compact_blocking) does both and
    /// tells how many slots were reclaimed.
    pub fn compact(&self) -> Job {
        self.compaction_job(Outcome::default())
    }

    /// Compacts the collection and returns how many slots were reclaimed:
    /// [`compact`](Self::compact), waited for.
    pub fn compact_blocking(&self) -> Result<u64> {
        if self.db.scheduler.is_closed() {
            // After `Database::close` no job starts: compact here.
            return self.compact_now(&JobCtx::detached());
        }
        let outcome: Outcome = Arc::default();
        let job = self.compaction_job(Arc::clone(&outcome));
        job.wait(None);
        let taken = outcome.lock().unwrap_or_else(|p| p.into_inner()).take();
        match taken {
            Some(result) => result,
            // Never ran: the database was closed.
            None => Ok(0),
        }
    }

    /// After a committed write: when at least half of `slots` are dead (`live` records left,
    /// the rest freed by deletes, updates and expiry) and there are enough of them, starts a
    /// background compaction, unless one is queued or running here or in another process.
    /// Without it a collection that keeps deleting (agent memory with expiry) grows its
    /// vector file, and every reader's mapped memory, without bound.
    pub(super) fn compact_if_mostly_dead(&self, slots: u64, live: u64) {
        let min = self.db.auto_compact_min_slots.load(Relaxed);
        if slots < min || live.saturating_mul(2) > slots {
            return;
        }
        if self.shared.auto_compaction.swap(true, SeqCst) {
            return;
        }
        let this = self.clone();
        self.db.scheduler.submit_on_own_thread(
            JobKind::Compaction,
            Some(self.shared.uuid),
            move |ctx| {
                let result = this.compact_unless_busy(ctx);
                this.shared.auto_compaction.store(false, SeqCst);
                result
                    .map(|_| ())
                    .map_err(|e| Error::invalid(e.to_string()))
            },
        );
    }

    /// [`compact_now`](Self::compact_now), or nothing when a compaction of the collection is
    /// already running here or in another process (never waits for it).
    fn compact_unless_busy(&self, ctx: &JobCtx<'_>) -> Result<u64> {
        let Ok(_in_process) = self.shared.compacting.try_lock() else {
            return Ok(0);
        };
        match self.compaction_lock(false)? {
            Busy::Taken => Ok(0),
            Busy::Held(lock) => self.compact_locked(ctx, lock),
        }
    }

    fn compaction_job(&self, outcome: Outcome) -> Job {
        let this = self.clone();
        // On a thread of its own: a long copy never holds the scheduler's pool.
        self.db.scheduler.submit_on_own_thread(
            JobKind::Compaction,
            Some(self.shared.uuid),
            move |ctx| {
                let result = this.compact_now(ctx);
                let listed = match &result {
                    Ok(_) => Ok(()),
                    Err(e) => Err(Error::invalid(e.to_string())),
                };
                *outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                listed
            },
        )
    }

    fn compact_now(&self, ctx: &JobCtx<'_>) -> Result<u64> {
        let _in_process = self
            .shared
            .compacting
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match self.compaction_lock(true)? {
            Busy::Held(lock) => self.compact_locked(ctx, lock),
            Busy::Taken => Ok(0),
        }
    }

    /// The compaction itself, holding this process's and the directory's compaction locks.
    fn compact_locked(&self, ctx: &JobCtx<'_>, _lock: Option<std::fs::File>) -> Result<u64> {
        let (row, mut copied) = self.db.sidecar.read(|tx| {
            let row = self.row(tx)?;
            let slots: Vec<u64> = meta::records::ids_and_slots(tx, row.key)?
                .into_iter()
                .map(|(_, slot)| slot)
                .collect();
            Ok((row, slots))
        })?;
        let Some(dim) = row.dimension else {
            return Ok(0);
        };
        if copied.len() as u64 == row.slot_count {
            return Ok(0);
        }
        copied.sort_unstable();
        ctx.add_total(copied.len() as u64);
        let mut rows: Vec<f32> = Vec::with_capacity(copied.len() * dim);
        for step in copied.chunks(COPY_STEP) {
            if ctx.cancelled() {
                return Ok(0);
            }
            self.shared
                .segment
                .with_rows(row.generation, dim, row.slot_count, |all| {
                    for &s in step {
                        rows.extend_from_slice(&all[s as usize * dim..(s as usize + 1) * dim]);
                    }
                })?;
            ctx.advance(step.len() as u64);
        }
        let new_generation = row.generation + 1;
        let committed = (|| {
            self.shared
                .segment
                .write_generation(new_generation, dim, &rows)?;
            let copied_sums = crate::store::checksum::for_append(0, dim, &rows, |_| Ok((0, 0)))?;
            drop(rows);
            let hook = self
                .db
                .compaction_hook
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if let Some(hook) = hook {
                (hook.0)();
            }
            if ctx.cancelled() {
                return Ok(None);
            }
            self.commit_compaction(row.generation, dim, &copied, &copied_sums)
        })();
        match committed {
            Ok(Some(n)) => Ok(n),
            other => {
                // Not committed: the new file is garbage (the catalog never named it).
                let _ = self.shared.segment.remove_generation(new_generation);
                other.map(|_| 0)
            }
        }
    }

    /// Holds `compact.lock` in the collection's directory (waiting for it), so one process
    /// compacts a collection at a time and `Database::open` leaves its new file alone.
    /// The directory's compaction lock (`None` in memory), waiting for it or not.
    fn compaction_lock(&self, wait: bool) -> Result<Busy> {
        let Some(dir) = self.shared.segment.dir() else {
            return Ok(Busy::Held(None));
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let path = dir.join(COMPACT_LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        if wait {
            file.lock().map_err(|e| Error::io("lock", &path, e))?;
        } else {
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Ok(Busy::Taken),
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
            }
        }
        Ok(Busy::Held(Some(file)))
    }
}

/// Whether a compaction lock was taken.
enum Busy {
    /// Held until dropped (`None`: an in-memory collection has no lock file).
    Held(Option<std::fs::File>),
    /// Another compaction holds it.
    Taken,
}
