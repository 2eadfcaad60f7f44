//! The write path: add, upsert, update, delete, compact. Each call is one SQLite transaction
//! under the write lock; vectors are appended and synced before it commits.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

use rusqlite::Transaction;

use super::filter_cache::Change as FilterChange;
use super::filter_index::{Changes as IndexChanges, Put as IndexPut};
use super::{Collection, LiveSlots};
use crate::error::{Error, ErrorKind, Op, Result};
use crate::meta::{self, CollectionRow, RecordRow};
use crate::store::checksum;
use crate::types::{AddBatch, Durability, Metadata, MetadataPatch, UpdateBatch, WriteOptions};
use crate::validate::{self, Records};

/// How a committed write changed the live slots, applied to this process's cache.
#[derive(Debug, Default)]
struct Delta {
    /// New live slots and their insertion order.
    born: Vec<(u64, u64)>,
    /// Slots no longer live.
    died: Vec<u64>,
    /// Slots were renumbered (compaction): reload instead of patching.
    renumbered: bool,
    /// Anything at all changed (bumps the collection's seq).
    changed: bool,
    /// What changed, for the filter cache (records born or dead are in `born` / `died`).
    filter_change: FilterChange,
    /// The records written, for the in-memory filter index (only while it exists).
    index: Option<IndexChanges>,
}

impl Delta {
    /// Carries a record written at `slot` to the filter index, if it wants records: `clear`
    /// lists the keys it had at this slot before; `document` is `None` when unchanged.
    fn put(
        &mut self,
        slot: u64,
        clear: Vec<String>,
        metadata: Option<Metadata>,
        document: Option<Option<String>>,
    ) {
        if let Some(ix) = self.index.as_mut() {
            let document = document.filter(|_| ix.with_docs);
            ix.puts.push(IndexPut {
                slot,
                clear,
                metadata,
                document,
            });
        }
    }

    fn wants_records(&self) -> bool {
        self.index.is_some()
    }
}

impl Collection {
    /// Adds records. Ids that already exist are skipped and keep their stored data (as
    /// chromadb). The first add fixes the collection's dimension.
    pub fn add(&self, batch: AddBatch<'_>) -> Result<()> {
        self.add_with(batch, WriteOptions::default())
    }

    /// [`add`](Self::add) with options: when the records expire (an expired record counts as
    /// absent, so adding its id again replaces it), and the commit's durability.
    pub fn add_with(&self, batch: AddBatch<'_>, opts: WriteOptions) -> Result<()> {
        let n = batch.ids.len();
        let dim = Records::add(&batch)
            .check()?
            .unwrap_or(batch.embeddings.dim);
        let embeddings = batch.embeddings.data;
        self.write_with(opts.durability, |tx, row, delta| {
            validate::dimension(row.dimension, dim)?;
            let now = self.db.now_ms();
            let expires_at = expiry_of_new(opts, row, now);
            let mut existing = meta::records::by_ids(tx, row.key, batch.ids)?;
            // Expired records are gone for every read: their ids are free again.
            drop_expired(tx, row, delta, &mut existing, now)?;
            let fresh: Vec<usize> = if existing.is_empty() {
                (0..n).collect()
            } else {
                let taken: std::collections::HashSet<&str> =
                    existing.iter().map(|r| r.id.as_str()).collect();
                (0..n)
                    .filter(|&i| !taken.contains(batch.ids[i].as_str()))
                    .collect()
            };
            if fresh.is_empty() {
                delta.changed = !delta.died.is_empty();
                return Ok(());
            }
            row.dimension = Some(dim);
            let first_slot = row.slot_count;
            if fresh.len() == n {
                self.append(tx, row, dim, embeddings)?;
            } else {
                let rows: Vec<f32> = fresh
                    .iter()
                    .flat_map(|&i| &embeddings[i * dim..(i + 1) * dim])
                    .copied()
                    .collect();
                self.append(tx, row, dim, &rows)?;
            }
            for (j, &i) in fresh.iter().enumerate() {
                let record = RecordRow {
                    id: batch.ids[i].clone(),
                    slot: first_slot + j as u64,
                    ord: row.next_ord,
                    document: batch.documents.and_then(|d| d[i].clone()),
                    uri: batch.uris.and_then(|u| u[i].clone()),
                    metadata: batch.metadatas.and_then(|m| m[i].clone()),
                    expires_at,
                };
                row.next_ord += 1;
                meta::records::insert(tx, row.key, row.seq + 1, &record)?;
                delta.born.push((record.slot, record.ord));
                delta.put(
                    record.slot,
                    Vec::new(),
                    record.metadata,
                    Some(record.document),
                );
            }
            delta.changed = true;
            Ok(())
        })
    }

    /// Changes existing records; ids that do not exist are skipped (as chromadb).
    ///
    /// Only the fields given change: a `None` document or uri keeps the old one, metadata is
    /// merged key by key (`None` removes a key), a new embedding moves the record to a new slot.
    pub fn update(&self, batch: UpdateBatch<'_>) -> Result<()> {
        self.update_or_upsert(batch, false, WriteOptions::default())
    }

    /// [`update`](Self::update) with a chosen [`Durability`]: `Deferred` skips the sync of
    /// the commit (new vectors, if any, are still synced before it), for writes such as
    /// access times that happen on every read.
    pub fn update_with(&self, batch: UpdateBatch<'_>, durability: Durability) -> Result<()> {
        self.update_or_upsert(
            batch,
            false,
            WriteOptions {
                durability,
                ..WriteOptions::default()
            },
        )
    }

    /// [`update`](Self::update) with options: a new expiry for the records updated (none
    /// given: the collection's `mnemodb:ttl` afresh if it has one, else each keeps its own),
    /// and the commit's durability. Expired records are not there to update.
    pub fn update_with_options(&self, batch: UpdateBatch<'_>, opts: WriteOptions) -> Result<()> {
        self.update_or_upsert(batch, false, opts)
    }

    /// [`upsert`](Self::upsert) with options, as [`add_with`](Self::add_with) for the records
    /// inserted and [`update_with_options`](Self::update_with_options) for those updated.
    pub fn upsert_with(&self, batch: UpdateBatch<'_>, opts: WriteOptions) -> Result<()> {
        self.update_or_upsert(batch, true, opts)
    }

    /// Inserts records that do not exist and updates those that do (as [`update`](Self::update)).
    /// Embeddings are required.
    pub fn upsert(&self, batch: UpdateBatch<'_>) -> Result<()> {
        self.update_or_upsert(batch, true, WriteOptions::default())
    }

    fn update_or_upsert(
        &self,
        batch: UpdateBatch<'_>,
        insert_missing: bool,
        opts: WriteOptions,
    ) -> Result<()> {
        let n = batch.ids.len();
        let op = if insert_missing {
            Op::Upsert
        } else {
            Op::Update
        };
        let dim = Records::update(op, &batch).check()?;
        if insert_missing && dim.is_none() {
            // chromadb would embed the documents here (a `ValueError` when it cannot).
            return Err(Error::Refused {
                kind: ErrorKind::ValueError,
                message: "upsert needs embeddings for every record (the engine embeds nothing)"
                    .into(),
                op: None,
            });
        }
        self.write_with(opts.durability, |tx, row, delta| {
            let now = self.db.now_ms();
            let expires_at = expiry_of_new(opts, row, now);
            // Given, or the collection's ttl afresh; `None`: each record keeps its own.
            let renewed = opts
                .expiry
                .or_else(|| crate::expiry::collection_ttl(row.metadata.as_ref()))
                .map(|e| e.resolve(now));
            if let Some(dim) = dim {
                validate::dimension(row.dimension, dim)?;
                // As chromadb: the first write with vectors fixes the dimension, even an
                // update that matches no record.
                if row.dimension.is_none() {
                    row.dimension = Some(dim);
                    delta.changed = true;
                }
            }
            let mut found = meta::records::by_ids(tx, row.key, batch.ids)?;
            drop_expired(tx, row, delta, &mut found, now)?;
            let mut existing: HashMap<String, RecordRow> =
                found.into_iter().map(|r| (r.id.clone(), r)).collect();
            // Records that get a new slot, in call order.
            let moves: Vec<bool> = batch
                .ids
                .iter()
                .map(|id| dim.is_some() && (insert_missing || existing.contains_key(id)))
                .collect();
            let moving: Vec<usize> = (0..n).filter(|&i| moves[i]).collect();
            let mut next_slot = row.slot_count;
            if let (Some(dim), Some(emb), false) =
                (dim, batch.embeddings.map(|e| e.data), moving.is_empty())
            {
                row.dimension = Some(dim);
                let rows: Vec<f32> = moving
                    .iter()
                    .flat_map(|&i| &emb[i * dim..(i + 1) * dim])
                    .copied()
                    .collect();
                self.append(tx, row, dim, &rows)?;
            }
            for i in 0..n {
                let id = &batch.ids[i];
                let document = batch.documents.and_then(|d| d[i].clone());
                let uri = batch.uris.and_then(|u| u[i].clone());
                let patch = batch.metadatas.and_then(|m| m[i].as_ref());
                let new_slot = moves[i].then(|| {
                    next_slot += 1;
                    next_slot - 1
                });
                if let Some(old) = existing.remove(id) {
                    let mut record = old.clone();
                    if let Some(slot) = new_slot {
                        record.slot = slot;
                        delta.died.push(old.slot);
                        delta.born.push((slot, old.ord));
                    }
                    if document.is_some() || uri.is_some() {
                        delta.filter_change.records_or_documents = true;
                    }
                    if document.is_some() {
                        record.document = document;
                    }
                    if uri.is_some() {
                        record.uri = uri;
                    }
                    if let Some(patch) = patch {
                        let keys = &mut delta.filter_change.metadata_keys;
                        keys.extend(patch.keys().cloned());
                        record.metadata = merge(record.metadata.take(), patch);
                    }
                    if let Some(expires_at) = renewed {
                        record.expires_at = expires_at;
                    }
                    meta::records::replace(tx, row.key, row.seq + 1, &old, &record)?;
                    delta.changed = true;
                    if delta.wants_records() {
                        if new_slot.is_some() {
                            delta.put(
                                record.slot,
                                Vec::new(),
                                record.metadata,
                                Some(record.document),
                            );
                        } else {
                            let clear = old
                                .metadata
                                .map(|m| m.into_keys().collect())
                                .unwrap_or_default();
                            let document =
                                (old.document != record.document).then_some(record.document);
                            delta.put(record.slot, clear, record.metadata, document);
                        }
                    }
                } else if insert_missing {
                    let slot = new_slot.ok_or_else(|| Error::invalid("upsert needs embeddings"))?;
                    let record = RecordRow {
                        id: id.clone(),
                        slot,
                        ord: row.next_ord,
                        document,
                        uri,
                        metadata: patch.and_then(|p| merge(None, p)),
                        expires_at,
                    };
                    row.next_ord += 1;
                    meta::records::insert(tx, row.key, row.seq + 1, &record)?;
                    delta.born.push((slot, record.ord));
                    delta.put(slot, Vec::new(), record.metadata, Some(record.document));
                    delta.changed = true;
                }
            }
            Ok(())
        })
    }

    /// Deletes records by id; ids that do not exist are skipped. Returns how many were
    /// deleted. (chromadb's `delete` reports the number of ids *requested*; the Python layer
    /// reproduces that quirk, the engine reports the truth.)
    pub fn delete(&self, ids: &[String]) -> Result<u64> {
        validate::lookup_ids(ids, Op::Delete)?;
        self.write(|tx, row, delta| {
            for id in ids {
                if let Some(slot) = meta::records::delete(tx, row.key, id)? {
                    delta.died.push(slot);
                }
            }
            delta.changed = !delta.died.is_empty();
            Ok(delta.died.len() as u64)
        })
    }

    /// chromadb's `delete(ids=..., where=..., where_document=..., limit=...)`: deletes the
    /// records that are among `ids` (if given) and pass both filters (given as JSON, checked
    /// as the `chromadb` Python client checks them); with `limit`, only the first `limit` of
    /// them in insertion order. At least one of `ids`, `where_`, `where_document` is needed,
    /// and `limit` only with a filter (chromadb's rules and messages). Returns how many were
    /// deleted.
    pub fn delete_where(
        &self,
        ids: Option<&[String]>,
        where_: Option<&serde_json::Value>,
        where_document: Option<&serde_json::Value>,
        limit: Option<usize>,
    ) -> Result<u64> {
        let filter = validate::delete(ids, where_, where_document, limit)?;
        self.write(|tx, row, delta| {
            let mut ords = meta::sql::matching_ords(tx, row.key, &filter, ids)?;
            ords.truncate(limit.unwrap_or(usize::MAX));
            let doomed = meta::sql::ids_by_ords(tx, row.key, &ords)?;
            for id in &doomed {
                if let Some(slot) = meta::records::delete(tx, row.key, id)? {
                    delta.died.push(slot);
                }
            }
            delta.changed = !delta.died.is_empty();
            Ok(delta.died.len() as u64)
        })
    }

    /// Deletes at most `limit` records expired by now, earliest first, in one transaction;
    /// returns how many.
    pub(super) fn delete_expired(&self, limit: usize) -> Result<usize> {
        self.write(|tx, row, delta| {
            let now = self.db.now_ms();
            let ids = meta::records::expired_ids(tx, row.key, now, limit)?;
            for id in &ids {
                if let Some(slot) = meta::records::delete(tx, row.key, id)? {
                    delta.died.push(slot);
                }
            }
            delta.changed = !delta.died.is_empty();
            Ok(ids.len())
        })
    }

    /// The last step of a compaction: under the write lock, brings generation `old + 1`
    /// (whose first `copied.len()` rows phase one copied from the slots in `copied`, sorted)
    /// up to date with the writes made since (their rows appended), points every record at
    /// its new slot and switches the collection to the new generation, in one commit.
    /// Returns how many slots were reclaimed; `None` if another compaction got there first.
    pub(super) fn commit_compaction(
        &self,
        old: u64,
        dim: usize,
        copied: &[u64],
        copied_sums: &[checksum::BlockSum],
    ) -> Result<Option<u64>> {
        let generation = old + 1;
        let done = self.write(|tx, row, delta| {
            if row.generation != old || row.dimension != Some(dim) {
                return Ok(None);
            }
            let records = meta::records::ids_and_slots(tx, row.key)?;
            let base = copied.len() as u64;
            let mut moves: Vec<(&str, u64)> = Vec::with_capacity(records.len());
            let mut fresh: Vec<u64> = Vec::new();
            for (id, slot) in &records {
                match copied.binary_search(slot) {
                    Ok(i) => moves.push((id, i as u64)),
                    Err(_) => {
                        moves.push((id, base + fresh.len() as u64));
                        fresh.push(*slot);
                    }
                }
            }
            // Rows are checked before their copies get fresh checksums: a compaction must not
            // turn damaged rows into rows that verify.
            self.shared
                .verify_slots(tx, row, copied.iter().chain(&fresh).copied())?;
            let rows = self
                .shared
                .segment
                .with_rows(old, dim, row.slot_count, |rows| {
                    fresh
                        .iter()
                        .flat_map(|&s| &rows[s as usize * dim..(s as usize + 1) * dim])
                        .copied()
                        .collect::<Vec<f32>>()
                })?;
            // The checksums of the rows appended continue those of the copied rows.
            let sums = checksum::for_append(base, dim, &rows, |block| {
                Ok(copied_sums
                    .iter()
                    .find(|s| s.0 == block)
                    .map_or((0, 0), |s| (s.1, s.2)))
            })?;
            // Also checks that the copied rows are all there (length and header).
            self.shared.segment.append(generation, dim, base, &rows)?;
            meta::checksums::put(tx, row.key, generation, copied_sums)?;
            meta::checksums::put(tx, row.key, generation, &sums)?;
            meta::checksums::drop_others(tx, row.key, Some(generation))?;
            for (id, slot) in moves {
                meta::records::set_slot(tx, row.key, id, slot)?;
            }
            let slots = base + fresh.len() as u64;
            let reclaimed = row.slot_count - slots;
            row.generation = generation;
            row.slot_count = slots;
            delta.renumbered = true;
            delta.changed = true;
            Ok(Some(reclaimed))
        })?;
        if done.is_some() {
            // Committed: the old generation is garbage. Mappings of it stay valid (unlink).
            self.shared.segment.remove_other_generations(generation)?;
            self.db.reclaim_space()?;
        }
        Ok(done)
    }

    /// Appends rows at the end of the segment, counts them into `row` and stores the
    /// checksums of the blocks they fill, in the transaction that commits them.
    fn append(
        &self,
        tx: &Transaction<'_>,
        row: &mut CollectionRow,
        dim: usize,
        rows: &[f32],
    ) -> Result<()> {
        let sums = checksum::for_append(row.slot_count, dim, rows, |block| {
            Ok(meta::checksums::get(tx, row.key, row.generation, block)?.unwrap_or((0, 0)))
        })?;
        self.shared
            .segment
            .append(row.generation, dim, row.slot_count, rows)?;
        meta::checksums::put(tx, row.key, row.generation, &sums)?;
        row.slot_count += (rows.len() / dim) as u64;
        Ok(())
    }

    /// Runs one write transaction on this collection and then brings this process's cache of
    /// live slots up to date (when nothing else wrote in between).
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &mut CollectionRow, &mut Delta) -> Result<T>,
    ) -> Result<T> {
        self.write_with(Durability::Synced, f)
    }

    /// [`write`](Self::write) with the sidecar commit synced or deferred.
    fn write_with<T>(
        &self,
        durability: Durability,
        f: impl FnOnce(&Transaction<'_>, &mut CollectionRow, &mut Delta) -> Result<T>,
    ) -> Result<T> {
        let (out, before, before_slots, after, delta) =
            self.db.sidecar.write_with(durability, |tx| {
                let mut row = self.row(tx)?;
                let (before, before_slots) = (row.seq, row.slot_count);
                let mut delta = Delta {
                    index: self.shared.filter_index.wants(),
                    ..Delta::default()
                };
                let out = f(tx, &mut row, &mut delta)?;
                if delta.changed {
                    row.seq += 1;
                    meta::catalog::set_counters(tx, &row)?;
                }
                Ok((out, before, before_slots, row, delta))
            })?;
        if delta.changed {
            self.shared.filter_index.advance(
                (before, after.seq),
                (after.generation, after.slot_count),
                delta.index,
            );
            let mut change = delta.filter_change;
            change.records_or_documents |=
                !delta.born.is_empty() || !delta.died.is_empty() || delta.renumbered;
            self.shared.filter_cache.advance(before, after.seq, &change);
            let mut live = self.shared.live.write().unwrap_or_else(|p| p.into_inner());
            if live.seq.is_none() && before_slots == 0 && !delta.renumbered {
                // Before this write the collection had no slot, so no record: its table at
                // `before` is empty, and the first read after a bulk load need not read every
                // record back from SQLite (25 ms per 100k).
                *live = LiveSlots {
                    seq: Some(before),
                    generation: Some(after.generation),
                    ..LiveSlots::default()
                };
            }
            if live.seq == Some(before) && !delta.renumbered {
                live.apply(after.slot_count, &delta.died, &delta.born);
                live.seq = Some(after.seq);
            } else {
                live.seq = None;
            }
            let live_here = live.seq.map(|_| live.live);
            drop(live);
            // Dead slots are looked at each time the file passes another block of slots, so
            // that a collection that keeps deleting is compacted on its own.
            let min = self.db.auto_compact_min_slots.load(Relaxed);
            let every = (min / 16).clamp(1, DEAD_CHECK_EVERY);
            if after.slot_count / every != before_slots / every && after.slot_count >= min {
                let records = match live_here {
                    Some(n) => Some(n),
                    None => self
                        .db
                        .sidecar
                        .read(|tx| meta::records::count(tx, after.key))
                        .ok(),
                };
                if let Some(records) = records {
                    self.compact_if_mostly_dead(after.slot_count, records);
                }
            }
            // Committed; the index catches up in the background (queries scan what it lacks).
            // A write that added no slot (a metadata update, a delete) gives it nothing new.
            let new_slots = after.slot_count > before_slots || delta.renumbered;
            if new_slots && after.slot_count >= self.index_min_slots() {
                self.catch_up_in_background();
            }
        }
        self.db.after_commit();
        Ok(out)
    }
}

/// New slots between two looks at how many are dead (at most; a sixteenth of the threshold
/// when that is less).
const DEAD_CHECK_EVERY: u64 = 4096;

/// The expiry of a record a write inserts at `now`: the write's own, else the collection's
/// ttl, else none.
fn expiry_of_new(opts: WriteOptions, row: &CollectionRow, now: i64) -> Option<i64> {
    opts.expiry
        .or_else(|| crate::expiry::collection_ttl(row.metadata.as_ref()))
        .and_then(|e| e.resolve(now))
}

/// Deletes the records of `found` that have expired by `now` (they are gone for every read
/// already; the sweep would delete them) and leaves the others in `found`.
fn drop_expired(
    tx: &Transaction<'_>,
    row: &CollectionRow,
    delta: &mut Delta,
    found: &mut Vec<RecordRow>,
    now: i64,
) -> Result<()> {
    if found.iter().all(|r| r.expires_at.is_none_or(|e| e > now)) {
        return Ok(());
    }
    let mut kept = Vec::with_capacity(found.len());
    for r in found.drain(..) {
        if r.expires_at.is_some_and(|e| e <= now) {
            if let Some(slot) = meta::records::delete(tx, row.key, &r.id)? {
                delta.died.push(slot);
            }
        } else {
            kept.push(r);
        }
    }
    *found = kept;
    delta.changed = true;
    Ok(())
}

/// Chroma's metadata update: set the keys given, remove those set to `None`; no keys left
/// means no metadata.
fn merge(old: Option<Metadata>, patch: &MetadataPatch) -> Option<Metadata> {
    let mut m = old.unwrap_or_default();
    for (k, v) in patch {
        match v {
            Some(v) => m.insert(k.clone(), v.clone()),
            None => m.remove(k),
        };
    }
    (!m.is_empty()).then_some(m)
}
