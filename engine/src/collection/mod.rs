//! A collection handle and the per-process state behind it: the vector segment and a cache of
//! which slots are live, kept in step with the sidecar.

mod compact;
mod expiry;
mod filter_cache;
mod filter_index;
mod hit_ids;
mod index;
mod live_checkpoint;
mod modify;
mod plan;
mod read;
mod verify;

pub(crate) use verify::ScrubAt;
mod write;

pub(crate) use compact::COMPACT_LOCK_FILE;
use index::EXACT_BELOW_SLOTS;
pub use index::SearchOptions;
pub(crate) use live_checkpoint::read as read_live_checkpoint;
pub use plan::{Coverage, Plan, Reason, Strategy};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use crate::distance::{Kernel, Space};
use crate::error::{Error, Result};
use crate::meta::{self, CollectionRow, Sidecar};
use crate::store::Segment;
use crate::types::{CollectionInfo, CollectionStats};

/// How often, by default, the database looks for expired records to sweep.
pub(crate) const DEFAULT_SWEEP_INTERVAL_MS: u64 = 60_000;

/// `ords[slot]` of a slot no record points to.
pub(crate) const DEAD: u64 = u64::MAX;

/// A collection of records: the handle returned by [`Database`](crate::Database).
///
/// Cheap to clone; every clone (and every handle to the same collection in this process)
/// shares one segment mapping and one liveness cache.
#[derive(Debug, Clone)]
pub struct Collection {
    db: Arc<DbShared>,
    shared: Arc<CollectionShared>,
}

/// What every collection of one database shares: the sidecar and the database's settings.
/// The database holds it and hands it to each handle, so a collection needs nothing else of
/// the database.
#[derive(Debug)]
pub(crate) struct DbShared {
    pub(crate) sidecar: Sidecar,
    /// Collections with fewer slots are searched exactly and get no graph
    /// ([`EXACT_BELOW_SLOTS`]; tests lower it).
    pub(crate) index_min_slots: AtomicU64,
    /// Runs the collections' background work (index catch-up, saves).
    pub(crate) scheduler: crate::scheduler::Scheduler,
    /// Where reads and writes take the time that record expiry is compared with.
    pub(crate) clock: RwLock<crate::Clock>,
    /// How often the database looks for expired records to sweep, in milliseconds.
    pub(crate) sweep_interval_ms: AtomicU64,
    /// Called by a compaction between its copy and its commit (tests pause it there).
    pub(crate) compaction_hook: std::sync::Mutex<Option<CompactionHook>>,
    /// Collections with at least this many slots, more than half of them dead, are compacted
    /// in the background on their own ([`compact::AUTO_COMPACT_MIN_SLOTS`]; tests lower it).
    pub(crate) auto_compact_min_slots: AtomicU64,
    /// Tool call outcomes on their way into the ledger (`tools/outbox.rs`).
    pub(crate) tool_outbox: Arc<crate::tools::Outbox>,
}

/// See [`DbShared::compaction_hook`].
#[derive(Clone)]
pub(crate) struct CompactionHook(pub(crate) Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for CompactionHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompactionHook")
    }
}

impl DbShared {
    pub(crate) fn new(sidecar: Sidecar) -> DbShared {
        DbShared {
            sidecar,
            index_min_slots: AtomicU64::new(EXACT_BELOW_SLOTS),
            scheduler: Default::default(),
            clock: RwLock::default(),
            sweep_interval_ms: AtomicU64::new(DEFAULT_SWEEP_INTERVAL_MS),
            compaction_hook: Default::default(),
            auto_compact_min_slots: AtomicU64::new(compact::AUTO_COMPACT_MIN_SLOTS),
            tool_outbox: Arc::default(),
        }
    }

    /// The time now, as the database's clock reads it (milliseconds since the Unix epoch).
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .now_ms()
    }

    /// After a committed write: when the sidecar's write-ahead log has grown past its bound,
    /// a checkpoint job truncates it (on a thread of its own, so it never waits behind index
    /// work). The writer does not wait for it.
    ///
    /// Past four times the bound (writers outrunning the background checkpoint), the writer
    /// checkpoints itself, or waits for the one running: the log's bound holds whatever the
    /// mix of writers and readers, at the cost of that one write's latency.
    pub(crate) fn after_commit(self: &Arc<Self>) {
        let bound = self
            .sidecar
            .wal_bound
            .load(std::sync::atomic::Ordering::Relaxed);
        // One `stat` per write while the log is short, the common case.
        let wal = self.sidecar.wal_bytes();
        if wal < bound {
            return;
        }
        if wal >= bound.saturating_mul(4) {
            if self.sidecar.claim_checkpoint(0) {
                // A failed checkpoint loses nothing; the next write tries again.
                let _ = self.sidecar.checkpoint();
            } else {
                self.sidecar.wait_for_checkpoint();
            }
            return;
        }
        self.checkpoint_past(bound);
    }

    /// After a write that freed many sidecar pages (a compaction, a collection's deletion):
    /// gives them back to the file system, then has the log checkpointed whatever its length,
    /// since the file shrinks only then.
    pub(crate) fn reclaim_space(self: &Arc<Self>) -> crate::Result<()> {
        if self.sidecar.reclaim_free_pages()? > 0 {
            self.checkpoint_past(0);
        } else {
            self.after_commit();
        }
        Ok(())
    }

    fn checkpoint_past(self: &Arc<Self>, min_wal_bytes: u64) {
        if !self.sidecar.claim_checkpoint(min_wal_bytes) {
            return;
        }
        let db = Arc::clone(self);
        let job = self.scheduler.submit_on_own_thread(
            crate::scheduler::JobKind::WalCheckpoint,
            None,
            move |_| db.sidecar.checkpoint().map(|_| ()),
        );
        if job.info().state == crate::scheduler::JobState::Cancelled {
            // Never ran (the scheduler is closed): nobody holds the claim.
            self.sidecar.release_checkpoint();
        }
    }
}

/// What every handle to one collection shares within a process.
#[derive(Debug)]
pub(crate) struct CollectionShared {
    pub(crate) uuid: Uuid,
    pub(crate) kernel: Kernel,
    pub(crate) segment: Segment,
    pub(crate) live: RwLock<LiveSlots>,
    /// The HNSW index as this process holds it.
    pub(crate) index: index::Index,
    /// Candidate slots of recent filters.
    pub(crate) filter_cache: filter_cache::FilterCache,
    /// Metadata and documents in memory, for filters never seen before.
    pub(crate) filter_index: filter_index::FilterIndex,
    /// The last catalog row read, decoded.
    pub(crate) row_memo: meta::RowMemo,
    /// Ids of records by slot, for query hits.
    pub(crate) hit_ids: hit_ids::HitIds,
    /// The expiry sweep queued or running, if any (one at a time per collection).
    pub(crate) sweep: std::sync::Mutex<Option<crate::Job>>,
    /// Held by this process's compaction of the collection.
    pub(crate) compacting: std::sync::Mutex<()>,
    /// Set while a compaction started by the dead-slot rule is queued or running here.
    pub(crate) auto_compaction: std::sync::atomic::AtomicBool,
    /// Blocks of vector rows whose checksums this process verified.
    pub(crate) verified: verify::Verified,
    /// Times `live` was loaded (from SQLite or its checkpoint file), for tests.
    pub(crate) live_loads: std::sync::atomic::AtomicU64,
}

impl CollectionShared {
    /// The state of the collection of catalog row `row`, whose vectors are in `segment`,
    /// before anything is loaded.
    pub(crate) fn new(row: &CollectionRow, segment: Segment) -> Result<CollectionShared> {
        Ok(CollectionShared {
            uuid: row.uuid,
            kernel: Kernel::new(row.config.hnsw.space)?,
            segment,
            live: RwLock::new(LiveSlots::default()),
            index: Default::default(),
            filter_cache: Default::default(),
            filter_index: Default::default(),
            row_memo: Default::default(),
            hit_ids: Default::default(),
            sweep: Default::default(),
            compacting: Default::default(),
            auto_compaction: Default::default(),
            verified: Default::default(),
            live_loads: Default::default(),
        })
    }
}

impl Drop for CollectionShared {
    fn drop(&mut self) {
        // The last handle in this process is gone: save what the index file lacks, so the
        // next open loads a graph instead of linking the newest records again, and the
        // live-slots table, so it need not be read back out of SQLite.
        self.flush_index();
        self.save_live_checkpoint();
    }
}

impl CollectionShared {
    /// Writes the live-slots table to its checkpoint file (collections on disk), so the next
    /// open need not read it back out of SQLite.
    pub(crate) fn save_live_checkpoint(&self) {
        if let (Some(dir), Ok(live)) = (self.segment.dir(), self.live.read())
            && let Some(generation) = live.generation
        {
            live_checkpoint::save(dir, generation, &live);
        }
    }
}

/// Which slots hold live records, as of one committed `seq`.
#[derive(Debug, Default, Clone)]
pub(crate) struct LiveSlots {
    /// The collection's `seq` this table reflects; `None` until first loaded.
    pub(crate) seq: Option<u64>,
    /// Insertion order per slot, [`DEAD`] for dead slots; `len()` is the committed slot count.
    pub(crate) ords: Vec<u64>,
    /// One bit per slot, set for the live ones: `ords` in 1/64 of the space, which the
    /// graph walk checks for every node it meets (the `ords` table would not stay in cache).
    pub(crate) live_bits: Vec<u64>,
    /// Number of live slots.
    pub(crate) live: u64,
    /// The vector generation the slots are of, when loaded from a snapshot.
    pub(crate) generation: Option<u64>,
    /// The table was last loaded from the checkpoint file (`live.<generation>.bin`), not
    /// from SQLite (this process's writes since then patched it).
    pub(crate) from_checkpoint: bool,
}

impl LiveSlots {
    /// Rebuilds the table from the sidecar as of `row` (read in the caller's transaction).
    pub(crate) fn reload(
        &mut self,
        conn: &rusqlite::Connection,
        row: &CollectionRow,
        dir: Option<&std::path::Path>,
    ) -> Result<()> {
        if self.seq.is_none()
            && let Some(saved) = dir.and_then(|d| live_checkpoint::load(d, row))
        {
            *self = saved;
            return Ok(());
        }
        let mut ords = vec![DEAD; row.slot_count as usize];
        let pairs = meta::records::slots_and_ords(conn, row.key)?;
        for &(slot, ord) in &pairs {
            let cell = ords.get_mut(slot as usize).ok_or_else(|| Error::Corrupt {
                path: meta::SQLITE_FILE.into(),
                detail: format!(
                    "a record points at slot {slot} past the committed {}",
                    row.slot_count
                ),
            })?;
            *cell = ord;
        }
        self.ords = ords;
        self.live = pairs.len() as u64;
        self.seq = Some(row.seq);
        self.generation = Some(row.generation);
        self.live_bits = live_bits(&self.ords);
        self.from_checkpoint = false;
        Ok(())
    }

    /// Grows the table to `slots` slots (new ones dead), then marks `died` dead and sets the
    /// ords of `born`: a committed write's effect.
    pub(crate) fn apply(&mut self, slots: u64, died: &[u64], born: &[(u64, u64)]) {
        let slots = slots as usize;
        self.ords.resize(slots, DEAD);
        self.live_bits.resize(slots.div_ceil(64), 0);
        for &slot in died {
            self.ords[slot as usize] = DEAD;
            self.live_bits[(slot / 64) as usize] &= !(1 << (slot % 64));
        }
        for &(slot, ord) in born {
            self.ords[slot as usize] = ord;
            self.live_bits[(slot / 64) as usize] |= 1 << (slot % 64);
        }
        self.live = self.live + born.len() as u64 - died.len() as u64;
    }
}

/// The bitmap of the slots whose ord is not [`DEAD`].
pub(crate) fn live_bits(ords: &[u64]) -> Vec<u64> {
    let mut bits = vec![0u64; ords.len().div_ceil(64)];
    for (slot, &ord) in ords.iter().enumerate() {
        if ord != DEAD {
            bits[slot / 64] |= 1 << (slot % 64);
        }
    }
    bits
}

impl LiveSlots {
    /// The slots of the live records with these ords (sorted), sorted: a filter's candidates
    /// for a search. One pass over the slots with a bitmap of the ords, so the cost is linear
    /// and no ord-to-slot map has to be kept up to date.
    pub(crate) fn slots_of(&self, ords: &[u64]) -> Vec<u64> {
        let Some(&max) = ords.last() else {
            return Vec::new();
        };
        let mut wanted = vec![0u64; (max / 64 + 1) as usize];
        for &o in ords {
            wanted[(o / 64) as usize] |= 1 << (o % 64);
        }
        let mut slots = Vec::with_capacity(ords.len());
        for (slot, &ord) in self.ords.iter().enumerate() {
            if ord != DEAD && ord <= max && wanted[(ord / 64) as usize] & (1 << (ord % 64)) != 0 {
                slots.push(slot as u64);
            }
        }
        slots
    }
}

impl Collection {
    pub(crate) fn new(db: Arc<DbShared>, shared: Arc<CollectionShared>) -> Collection {
        Collection { db, shared }
    }

    /// The collection's stable id.
    pub fn id(&self) -> Uuid {
        self.shared.uuid
    }

    /// The distance the collection ranks by.
    pub fn space(&self) -> Space {
        self.shared.kernel.space()
    }

    /// The catalog's current view of the collection (name, dimension, metadata).
    pub fn info(&self) -> Result<CollectionInfo> {
        self.db.sidecar.read(|tx| Ok(self.row(tx)?.info()))
    }

    /// The current name.
    pub fn name(&self) -> Result<String> {
        Ok(self.info()?.name)
    }

    /// Storage figures: live records (what `count` says), expired ones waiting for their
    /// sweep, slots, dead slots, writes so far.
    pub fn stats(&self) -> Result<CollectionStats> {
        self.db.sidecar.read(|tx| {
            let row = self.row(tx)?;
            let stored = meta::records::count(tx, row.key)?;
            // Counted without queuing a sweep, as reads do: `inspect` reads stats and must not
            // write.
            let expired = meta::records::expired(tx, row.key, self.db.now_ms())?.len() as u64;
            Ok(CollectionStats {
                records: stored - expired,
                expired,
                slots: row.slot_count,
                dead_slots: row.slot_count - stored,
                seq: row.seq,
                indexed_slots: self.shared.indexed_slots(row.generation),
            })
        })
    }

    /// Slots this process's graph linked itself since it was opened or picked up from a
    /// file (for tests).
    pub(crate) fn index_slots_linked_here(&self) -> u64 {
        self.shared.linked_here()
    }

    /// Whether this process's graph of the collection's current generation was loaded from
    /// its file (`hnsw.<generation>.bin`) rather than built; false without a graph.
    pub(crate) fn index_loaded_from_file(&self) -> Result<bool> {
        let row = self.db.sidecar.read(|tx| self.row(tx))?;
        Ok(self.shared.index_loaded_from_file(row.generation))
    }

    /// Builds of this process's filter index from the sidecar so far, and its bytes now.
    pub(crate) fn filter_index_figures(&self) -> (u64, usize) {
        (
            self.shared.filter_index.loads(),
            self.shared.filter_index.bytes(),
        )
    }

    /// Times this process loaded the live-slots table (from SQLite or its checkpoint file).
    pub(crate) fn live_slots_loads(&self) -> u64 {
        self.shared
            .live_loads
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether this process's live-slots table was last loaded from the checkpoint file
    /// (`live.<generation>.bin`) rather than from SQLite.
    pub(crate) fn live_slots_from_checkpoint(&self) -> bool {
        self.shared
            .live
            .read()
            .is_ok_and(|live| live.from_checkpoint)
    }

    /// Slots from which this database's collections get an HNSW graph.
    fn index_min_slots(&self) -> u64 {
        self.db.index_min_slots.load(Ordering::Relaxed)
    }

    /// The collection's catalog row, or `CollectionNotFound` if it was deleted.
    fn row(&self, conn: &rusqlite::Connection) -> Result<CollectionRow> {
        meta::collection_by_id_memo(conn, self.shared.uuid, &self.shared.row_memo)?
            .ok_or_else(|| Error::CollectionNotFound(self.shared.uuid.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::{DEAD, LiveSlots, live_bits};

    /// Writes keep the bitmap the graph walk reads in step with the `ords` table.
    #[test]
    fn applied_writes_keep_live_bits_in_step() {
        let mut live = LiveSlots::default();
        live.apply(70, &[], &(0..70).map(|s| (s, s)).collect::<Vec<_>>());
        live.apply(130, &[3, 64, 69], &[(100, 70), (129, 71)]);
        live.apply(130, &[129], &[]);
        assert_eq!(live.live_bits, live_bits(&live.ords));
        assert_eq!(
            live.live,
            live.ords.iter().filter(|&&o| o != DEAD).count() as u64
        );
        assert_eq!(live.live, 70 - 3 + 1);
        assert_eq!(live.live_bits.len(), 3, "one word per 64 slots");
    }
}
