//! Compaction as a background job: the live rows are copied into a new generation outside
//! the write lock, then one short write brings it up to date with the writes made meanwhile
//! and switches to it in one commit. Reads and writes go on throughout; a cancelled or
//! failed compaction leaves the old generation as it was.

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

impl Collection {
    /// Starts compacting the collection in the background and returns the job: the vector
    /// file is rewritten without the dead slots updates and deletes leave behind. Reads and
    /// writes go on meanwhile (the new file catches up with the writes made during the copy,
    /// then replaces the old one in one commit); [`Job::cancel`] leaves the old file as it
    /// was. One compaction of a collection runs at a time, across processes.
    pub fn start_compaction(&self) -> Job {
        self.compaction_job(Outcome::default())
    }

    /// Compacts the collection and returns how many slots were reclaimed:
    /// [`start_compaction`](Self::start_compaction), waited for.
    pub fn compact(&self) -> Result<u64> {
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
        let _across_processes = self.compaction_lock()?;
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
    fn compaction_lock(&self) -> Result<Option<std::fs::File>> {
        let Some(dir) = self.shared.segment.dir() else {
            return Ok(None);
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let path = dir.join(COMPACT_LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        file.lock().map_err(|e| Error::io("lock", &path, e))?;
        Ok(Some(file))
    }
}
