//! A collection handle and the per-process state behind it: the vector segment and a cache of
//! which slots are live, kept in step with the sidecar.

mod filter_cache;
mod index;
mod read;
mod write;

pub(crate) use index::EXACT_BELOW_SLOTS;
pub use index::SearchOptions;

use std::sync::{Arc, RwLock};

use uuid::Uuid;

use crate::config::{CollectionConfig, HnswConfigUpdate};
use crate::db::DbInner;
use crate::distance::{Kernel, Space};
use crate::error::{Error, Result};
use crate::meta::{self, CollectionRow};
use crate::store::Segment;
use crate::types::{CollectionInfo, CollectionStats, Metadata};

/// `ords[slot]` of a slot no record points to.
pub(crate) const DEAD: u64 = u64::MAX;

/// A collection of records: the handle returned by [`Database`](crate::Database).
///
/// Cheap to clone; every clone (and every handle to the same collection in this process)
/// shares one segment mapping and one liveness cache.
#[derive(Debug, Clone)]
pub struct Collection {
    db: Arc<DbInner>,
    shared: Arc<CollectionShared>,
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
}

impl Drop for CollectionShared {
    fn drop(&mut self) {
        // The last handle in this process is gone: save what the index file lacks, so the
        // next open maps a graph instead of linking the newest records again.
        self.flush_index();
    }
}

/// Which slots hold live records, as of one committed `seq`.
#[derive(Debug, Default)]
pub(crate) struct LiveSlots {
    /// The collection's `seq` this table reflects; `None` until first loaded.
    pub(crate) seq: Option<u64>,
    /// Insertion order per slot, [`DEAD`] for dead slots; `len()` is the committed slot count.
    pub(crate) ords: Vec<u64>,
    /// Number of live slots.
    pub(crate) live: u64,
}

impl LiveSlots {
    /// Rebuilds the table from the sidecar as of `row` (read in the caller's transaction).
    pub(crate) fn reload(
        &mut self,
        conn: &rusqlite::Connection,
        row: &CollectionRow,
    ) -> Result<()> {
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
        Ok(())
    }
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
    pub(crate) fn new(db: Arc<DbInner>, shared: Arc<CollectionShared>) -> Collection {
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

    /// Renames the collection and/or replaces its metadata (as chromadb's `modify`).
    pub fn modify(
        &self,
        new_name: Option<&str>,
        metadata: Option<Option<&Metadata>>,
    ) -> Result<()> {
        crate::db::modify(&self.db, self.shared.uuid, new_name, metadata)
    }

    /// Changes the settings chromadb lets a collection change after creation (`ef_search`
    /// and the bookkeeping knobs) and returns the new configuration.
    pub fn modify_configuration(&self, update: &HnswConfigUpdate) -> Result<CollectionConfig> {
        crate::db::modify_configuration(&self.db, self.shared.uuid, update)
    }

    /// Storage figures: live records, slots, dead slots, writes so far.
    pub fn stats(&self) -> Result<CollectionStats> {
        self.db.sidecar.read(|tx| {
            let row = self.row(tx)?;
            let records = meta::records::count(tx, row.key)?;
            Ok(CollectionStats {
                records,
                slots: row.slot_count,
                dead_slots: row.slot_count - records,
                seq: row.seq,
                indexed_slots: self.shared.indexed_slots(row.generation),
            })
        })
    }

    /// Slots from which this database's collections get an HNSW graph.
    fn index_min_slots(&self) -> u64 {
        self.db
            .index_min_slots
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The collection's catalog row, or `CollectionNotFound` if it was deleted.
    fn row(&self, conn: &rusqlite::Connection) -> Result<CollectionRow> {
        meta::collection_by_id(conn, self.shared.uuid)?
            .ok_or_else(|| Error::CollectionNotFound(self.shared.uuid.to_string()))
    }
}
