//! Expired records: found in a read's snapshot and left out of what it returns, deleted by
//! the `ExpirySweep` job in bounded batches.

use rusqlite::Transaction;

use super::{Collection, DEAD, LiveSlots};
use crate::error::Result;
use crate::meta::{self, CollectionRow};
use crate::scheduler::{Job, JobCtx, JobKind};

/// Records deleted per sweep transaction: a sweep holds the write lock this long at most.
const SWEEP_BATCH: usize = 1024;

/// The records of one snapshot that have expired but are not swept yet.
#[derive(Debug, Default)]
pub(super) struct Expired {
    /// Their slots, sorted.
    pub(super) slots: Vec<u64>,
    /// Their ords, sorted.
    pub(super) ords: Vec<u64>,
}

impl Expired {
    pub(super) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub(super) fn len(&self) -> u64 {
        self.slots.len() as u64
    }

    pub(super) fn hides_slot(&self, slot: u64) -> bool {
        self.slots.binary_search(&slot).is_ok()
    }

    pub(super) fn hides_ord(&self, ord: u64) -> bool {
        self.ords.binary_search(&ord).is_ok()
    }

    /// `live` with the expired slots dead: what scans and walks of this snapshot see. A copy,
    /// made only while expired records wait for their sweep.
    pub(super) fn mask(&self, live: &LiveSlots) -> LiveSlots {
        let mut masked = live.clone();
        let hidden: Vec<u64> = self
            .slots
            .iter()
            .copied()
            .filter(|&s| masked.ords.get(s as usize).is_some_and(|&o| o != DEAD))
            .collect();
        masked.apply(masked.ords.len() as u64, &hidden, &[]);
        masked
    }
}

impl Collection {
    /// The records expired in this snapshot, as the database's clock reads now. Finding any
    /// queues a sweep.
    pub(super) fn expired(&self, tx: &Transaction<'_>, row: &CollectionRow) -> Result<Expired> {
        let pairs = meta::records::expired(tx, row.key, self.db.now_ms())?;
        if pairs.is_empty() {
            return Ok(Expired::default());
        }
        self.sweep_expired();
        let mut slots: Vec<u64> = pairs.iter().map(|p| p.0).collect();
        let mut ords: Vec<u64> = pairs.iter().map(|p| p.1).collect();
        slots.sort_unstable();
        ords.sort_unstable();
        Ok(Expired { slots, ords })
    }

    /// Queues a job deleting the collection's expired records (their slots become dead, and
    /// compaction reclaims them) and returns its handle; while one is queued or running, its
    /// handle. The sweep runs on a thread of its own, so it never waits behind index work.
    /// The database also queues one on its own when a record's expiry passes.
    pub fn sweep_expired(&self) -> Job {
        let mut pending = self.shared.sweep.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(job) = pending.as_ref()
            && !job.info().state.is_finished()
        {
            return job.clone();
        }
        let this = self.clone();
        let job = self.db.scheduler.submit_on_own_thread(
            JobKind::ExpirySweep,
            Some(self.shared.uuid),
            move |ctx| this.sweep_now(ctx),
        );
        *pending = Some(job.clone());
        job
    }

    /// Deletes the expired records, [`SWEEP_BATCH`] per transaction, until none is left or the
    /// job is cancelled.
    fn sweep_now(&self, ctx: &JobCtx<'_>) -> Result<()> {
        loop {
            if ctx.cancelled() {
                return Ok(());
            }
            let removed = self.delete_expired(SWEEP_BATCH)?;
            ctx.add_total(removed as u64);
            ctx.advance(removed as u64);
            if removed < SWEEP_BATCH {
                return Ok(());
            }
        }
    }
}
