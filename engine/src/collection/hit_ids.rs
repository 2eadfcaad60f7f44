//! The ids of query hits, cached per process by slot, so a query that returns ids (and
//! distances or embeddings, which do not live in SQLite) reads no record per hit.
//!
//! Why a slot's id can be cached: within one vector generation a committed slot is written
//! once and never renumbered. An update with a new embedding moves the record to a *new* slot,
//! a delete only kills the slot, rows of a rolled-back write lie past the committed
//! `slot_count` (and no committed record points at them), and only compaction renumbers, into
//! a new generation. So `(generation, slot) -> id`, read in any committed snapshot, holds for
//! every later snapshot of that generation, in any process. A dead slot keeps its old id
//! here, which is harmless: searches never return dead slots. Entries are only ever added
//! from records read in the caller's snapshot, for that snapshot's generation; a snapshot of
//! another generation neither reads nor fills them (a newer one starts the table over).
//!
//! Memory: 8 bytes per slot up to the highest slot looked up (the same again as the
//! live-slots table's `ords`), plus the ids' bytes, packed in one string. A 1M-record
//! collection whose every record has been a hit holds 8 MB plus its ids (36 MB more with
//! 36-character UUID ids). The id text stops growing at [`MAX_TEXT_BYTES`]; past it misses
//! are read from SQLite without being kept.

use std::sync::RwLock;

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::meta::{self, CollectionRow};

/// The most id bytes kept per collection: 64 MiB, so long ids cannot make the cache grow with
/// the collection beyond what its slot table costs.
pub(crate) const MAX_TEXT_BYTES: usize = 64 << 20;

/// A `spans` entry for a slot whose id is not held.
const UNKNOWN: u64 = u64::MAX;
/// Bits of a span for the id's length; the offset into `text` takes the rest.
const LEN_BITS: u32 = 24;

/// The cache: a table of ids by slot for one generation, behind a lock (queries read it,
/// misses fill it).
#[derive(Debug, Default)]
pub(crate) struct HitIds {
    table: RwLock<Table>,
}

#[derive(Debug, Default)]
struct Table {
    /// The generation the slots are of; `None` until the first fill.
    generation: Option<u64>,
    /// Per slot, `offset << LEN_BITS | len` of its id in `text`, or [`UNKNOWN`].
    spans: Vec<u64>,
    /// The ids held, back to back.
    text: String,
}

impl Table {
    fn get(&self, slot: u64) -> Option<&str> {
        let span = *self.spans.get(usize::try_from(slot).ok()?)?;
        if span == UNKNOWN {
            return None;
        }
        let start = (span >> LEN_BITS) as usize;
        let len = (span & ((1 << LEN_BITS) - 1)) as usize;
        self.text.get(start..start + len)
    }

    /// Keeps `id` as the id of `slot`, unless the table is full or the id too long to pack.
    fn put(&mut self, slot: u64, id: &str) {
        let Ok(slot) = usize::try_from(slot) else {
            return;
        };
        if id.len() >= 1 << LEN_BITS
            || self.text.len() + id.len() > MAX_TEXT_BYTES
            || self.spans.get(slot).is_some_and(|&s| s != UNKNOWN)
        {
            return;
        }
        if slot >= self.spans.len() {
            self.spans.resize(slot + 1, UNKNOWN);
        }
        self.spans[slot] = (self.text.len() as u64) << LEN_BITS | id.len() as u64;
        self.text.push_str(id);
    }
}

impl HitIds {
    /// The ids of the records at `slots` (each live in the snapshot `conn` reads, whose
    /// catalog row is `row`), in the same order: from the table where it holds them, the
    /// rest from SQLite in one statement, which also fills the table.
    pub(crate) fn ids(
        &self,
        conn: &Connection,
        row: &CollectionRow,
        slots: &[u64],
    ) -> Result<Vec<String>> {
        let mut out: Vec<Option<String>> = vec![None; slots.len()];
        let mut missing: Vec<u64> = Vec::new();
        {
            let table = self.table.read().unwrap_or_else(|p| p.into_inner());
            let same_generation = table.generation == Some(row.generation);
            for (cell, &slot) in out.iter_mut().zip(slots) {
                match table.get(slot).filter(|_| same_generation) {
                    Some(id) => *cell = Some(id.to_owned()),
                    None => missing.push(slot),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out.into_iter().flatten().collect());
        }
        let found = meta::records::ids_by_slots(conn, row.key, &missing)?;
        self.remember(
            row.generation,
            found.iter().map(|(slot, id)| (*slot, id.as_str())),
        );
        let found: std::collections::HashMap<u64, String> = found.into_iter().collect();
        out.into_iter()
            .zip(slots)
            .map(|(cell, slot)| {
                cell.or_else(|| found.get(slot).cloned())
                    .ok_or_else(|| Error::Corrupt {
                        path: meta::SQLITE_FILE.into(),
                        detail: format!("live slot {slot} has no record"),
                    })
            })
            .collect()
    }

    /// Keeps the ids of records read in a snapshot of vector generation `generation`, as
    /// `(slot, id)`.
    pub(crate) fn remember<'a>(
        &self,
        generation: u64,
        records: impl IntoIterator<Item = (u64, &'a str)> + Clone,
    ) {
        {
            // Usually every id is held already: check under the read lock, so concurrent
            // queries do not queue for the write lock.
            let table = self.table.read().unwrap_or_else(|p| p.into_inner());
            if table.generation == Some(generation)
                && records
                    .clone()
                    .into_iter()
                    .all(|(slot, _)| table.get(slot).is_some())
            {
                return;
            }
        }
        let mut table = self.table.write().unwrap_or_else(|p| p.into_inner());
        match table.generation {
            Some(g) if g == generation => {}
            // Generations only grow: the caller's snapshot is older than the table's, and its
            // slots mean something else now.
            Some(g) if g > generation => return,
            _ => {
                *table = Table {
                    generation: Some(generation),
                    ..Table::default()
                }
            }
        }
        for (slot, id) in records {
            table.put(slot, id);
        }
    }

    /// The generation held and how many slots have an id (tests).
    #[cfg(test)]
    fn held(&self) -> (Option<u64>, usize) {
        let table = self.table.read().unwrap_or_else(|p| p.into_inner());
        let n = table.spans.iter().filter(|&&s| s != UNKNOWN).count();
        (table.generation, n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::{HitIds, MAX_TEXT_BYTES, Table};
    use crate::{AddBatch, Database, Include, QueryRequest, Space, Vectors};

    #[test]
    fn table_keeps_ids_by_slot_and_never_overwrites() {
        let mut t = Table::default();
        t.put(5, "five");
        t.put(0, "zero");
        t.put(5, "other");
        assert_eq!(t.get(5), Some("five"), "a slot's id is written once");
        assert_eq!(t.get(0), Some("zero"));
        assert_eq!(t.get(1), None, "slots between filled ones are unknown");
        assert_eq!(t.get(6), None, "slots past the table are unknown");
        assert_eq!(t.spans.len(), 6);
    }

    #[test]
    fn table_stops_growing_at_its_text_budget() {
        let mut t = Table::default();
        let long = "x".repeat(1 << 20);
        for slot in 0..(MAX_TEXT_BYTES >> 20) as u64 + 3 {
            t.put(slot, &long);
        }
        assert_eq!(t.text.len(), MAX_TEXT_BYTES);
        assert_eq!(
            t.get((MAX_TEXT_BYTES >> 20) as u64),
            None,
            "over budget: not kept"
        );
        assert_eq!(t.get(0).map(str::len), Some(1 << 20));
        // An id too long to pack is not kept either (and breaks nothing).
        let mut t = Table::default();
        t.put(0, &"y".repeat(1 << 24));
        assert_eq!(t.get(0), None);
    }

    #[test]
    fn a_newer_generation_starts_over_and_an_older_one_is_ignored() {
        let h = HitIds::default();
        h.remember(3, [(0, "a"), (1, "b")]);
        assert_eq!(h.held(), (Some(3), 2));
        // A snapshot older than the table's: its slots are of the old layout.
        h.remember(2, [(0, "old")]);
        assert_eq!(h.held(), (Some(3), 2));
        assert_eq!(h.table.read().unwrap().get(0), Some("a"));
        h.remember(4, [(0, "b")]);
        assert_eq!(h.held(), (Some(4), 1));
        assert_eq!(h.table.read().unwrap().get(0), Some("b"));
        assert_eq!(h.table.read().unwrap().get(1), None);
    }

    fn ids_only(c: &crate::Collection, q: &[f32]) -> Vec<String> {
        let hits = c
            .query(QueryRequest {
                embeddings: q,
                dim: q.len(),
                n_results: 10,
                ids: None,
                include: Include {
                    distances: true,
                    ..Include::default()
                },
            })
            .unwrap();
        hits[0].ids.clone()
    }

    /// An ids-only query fills the table from its snapshot and then answers from it: a planted
    /// id comes back, which shows SQLite was not asked. (Planting is the test's doing; the
    /// write path never changes a filled slot.)
    #[test]
    fn ids_only_queries_fill_and_read_the_table() {
        let db = Database::in_memory().unwrap();
        let c = db.create_collection("hits", Space::L2, None).unwrap();
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        c.add(AddBatch {
            ids: &ids,
            embeddings: Vectors::new(&[0.0, 0.0, 1.0, 0.0, 2.0, 0.0], 2),
            ..AddBatch::default()
        })
        .unwrap();
        assert_eq!(ids_only(&c, &[0.0, 0.0]), ["a", "b", "c"]);
        assert_eq!(c.shared.hit_ids.held(), (Some(0), 3));
        {
            let mut t = c.shared.hit_ids.table.write().unwrap();
            t.spans.clear();
            t.put(0, "planted");
        }
        assert_eq!(ids_only(&c, &[0.0, 0.0]), ["planted", "b", "c"]);
        // A query that reads records (documents) reads them from SQLite.
        let full = c
            .query(QueryRequest {
                embeddings: &[0.0, 0.0],
                dim: 2,
                n_results: 10,
                ids: None,
                include: Include::query_default(),
            })
            .unwrap();
        assert_eq!(full[0].ids, ["a", "b", "c"]);
    }
}
