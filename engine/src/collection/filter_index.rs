//! This process's in-memory index of a collection's metadata and documents, so that a filter
//! never seen before is answered without SQLite: the filter cache (`filter_cache.rs`) keeps
//! the answers of repeated filters, this answers new ones.
//!
//! * **Metadata**: per key, a column of `(slot, value)` sorted by slot (strings interned per
//!   key, arrays kept whole). A leaf scans its key's column and tests each value with the
//!   naive evaluator's own leaf functions (`filter::compare`, `in_list`, `array_contains`),
//!   strings once per distinct value. Built from the typed rows of `record_metadata` (55 ms
//!   at 100k records, six times less than decoding each record's JSON). Scanning a column of
//!   100k values costs about a tenth of a millisecond, and numeric ranges, `$in` and `$ne` cost the same as `$eq`, so no
//!   per-value bitmaps or sorted structures are kept (they would cost more memory for
//!   high-cardinality keys such as timestamps and make in-place updates dearer).
//! * **Documents**: one copy of every document in one buffer, searched for `$contains` by a
//!   single `memchr::memmem` pass over all of them (a match that runs past the end of its
//!   document is not one, and the search restarts at the next document). At 100k short
//!   documents that is one pass over ~3 MB, about a millisecond; SQLite's trigram index
//!   was tens of milliseconds the first time (it probes `records` once per candidate to
//!   confirm with `instr`), and a trigram index of our own would cost several times the text
//!   in memory. `$regex` runs the compiled pattern on each document of the copy. Built only
//!   when a document filter first comes, and not at all past [`DOCS_MAX_BYTES`] (SQLite then
//!   answers).
//!
//! Leaves give bitsets over slots; `$and` / `$or` are word-wise, negations (`$ne`, `$nin`,
//! `$not_contains`, document negations) are complements, and the result is cut to the live
//! slots of the snapshot, so deleted records (dead slots) never come out whatever their
//! column entries say, and records without the key or without metadata match the negations
//! exactly as the evaluator says.
//!
//! **Invariant:** the index is used only at the collection `seq` and generation it reflects.
//! This process's writes patch it in step (their records' metadata and documents are carried
//! in the write's delta, only while an index exists). After another process's writes, the
//! next filtered read catches up by `seq`: it reads again only the records whose `seq` (the
//! write that last changed them) is newer than the index's, in one pass over the collection's
//! rows; deleted records are dead slots already. A compaction (new generation, slots
//! renumbered) or a write of this process that began before the index existed drops it, and
//! the next filtered read builds it afresh from its snapshot. A read whose snapshot is older
//! than the index is answered by SQLite. Expired records are left out by the callers, as for
//! every read.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rusqlite::Connection;

use super::{DEAD, LiveSlots};
use crate::error::Result;
use crate::filter::{
    CHROMA_DOCUMENT_KEY, CmpOp, Filter, Stored, Where, WhereDocument, array_contains, compare,
    in_list,
};
use crate::meta::{self, CollectionRow};
use crate::types::{Metadata, MetadataValue};

/// Documents larger than this in total are not copied: SQLite's trigram index answers.
const DOCS_MAX_BYTES: usize = 256 << 20;

/// The in-memory index of one collection in this process.
#[derive(Debug, Default)]
pub(crate) struct FilterIndex {
    state: RwLock<Option<State>>,
    /// An index exists: writes carry their records' metadata for it.
    active: AtomicBool,
    /// The index holds the documents: writes carry their documents for it.
    docs_active: AtomicBool,
    /// Times the metadata or the documents were read from the sidecar (for tests).
    loads: AtomicU64,
}

/// What one committed write of this process did to records, for [`FilterIndex::advance`].
#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// Records written (born in a new slot, or changed in place).
    pub(crate) puts: Vec<Put>,
    /// The documents were carried too.
    pub(crate) with_docs: bool,
}

/// One record as a write left it.
#[derive(Debug)]
pub(crate) struct Put {
    pub(crate) slot: u64,
    /// Keys the record had at this slot before the write (an in-place update); cleared first.
    pub(crate) clear: Vec<String>,
    /// Its metadata now.
    pub(crate) metadata: Option<Metadata>,
    /// Its document now, when it changed or the record is in a new slot (`None`: unchanged).
    pub(crate) document: Option<Option<String>>,
}

#[derive(Debug)]
struct State {
    seq: u64,
    generation: u64,
    /// The collection's slot count at `seq`.
    slots: u64,
    keys: HashMap<String, Column>,
    /// `None` until a document filter asks for them (or past [`DOCS_MAX_BYTES`]).
    docs: Option<Docs>,
}

/// The values of one key, by slot.
#[derive(Debug, Default)]
struct Column {
    /// Sorted.
    slots: Vec<u32>,
    tags: Vec<Tag>,
    /// The value's bits: an interned string or list number, an `i64`, an `f64`, a bool.
    vals: Vec<u64>,
    strs: Vec<String>,
    str_ids: HashMap<String, u32>,
    lists: Vec<MetadataValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    /// The key was removed from the record at this slot.
    Gone,
    Str,
    Int,
    Float,
    Bool,
    List,
}

impl Column {
    fn encode(&mut self, v: &MetadataValue) -> (Tag, u64) {
        match v {
            MetadataValue::Str(s) => (Tag::Str, u64::from(self.intern(s))),
            MetadataValue::Int(i) => (Tag::Int, *i as u64),
            MetadataValue::Float(f) => (Tag::Float, f.to_bits()),
            MetadataValue::Bool(b) => (Tag::Bool, u64::from(*b)),
            list => {
                self.lists.push(list.clone());
                (Tag::List, (self.lists.len() - 1) as u64)
            }
        }
    }

    /// The number of a string of this key, given one if new.
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.str_ids.get(s) {
            return id;
        }
        let id = self.strs.len() as u32;
        self.strs.push(s.to_owned());
        self.str_ids.insert(s.to_owned(), id);
        id
    }

    /// Sets the value at `slot` (appending when it is past every slot held).
    fn set(&mut self, slot: u32, v: &MetadataValue) {
        let (tag, val) = self.encode(v);
        if self.slots.last().is_none_or(|&l| l < slot) {
            self.slots.push(slot);
            self.tags.push(tag);
            self.vals.push(val);
            return;
        }
        match self.slots.binary_search(&slot) {
            Ok(i) => {
                self.tags[i] = tag;
                self.vals[i] = val;
            }
            Err(i) => {
                self.slots.insert(i, slot);
                self.tags.insert(i, tag);
                self.vals.insert(i, val);
            }
        }
    }

    fn clear(&mut self, slot: u32) {
        if let Ok(i) = self.slots.binary_search(&slot) {
            self.tags[i] = Tag::Gone;
        }
    }

    /// The slots whose value passes `pred` (which must be false for a missing value).
    fn scan(&self, words: usize, pred: impl Fn(Stored<'_>) -> bool) -> Vec<u64> {
        let mut bits = vec![0u64; words];
        // Each distinct string is tested once.
        let str_pass: Vec<bool> = self.strs.iter().map(|s| pred(Stored::Str(s))).collect();
        for ((&slot, &tag), &val) in self.slots.iter().zip(&self.tags).zip(&self.vals) {
            let pass = match tag {
                Tag::Gone => false,
                Tag::Str => str_pass[val as usize],
                Tag::Int => pred(Stored::Int(val as i64)),
                Tag::Float => pred(Stored::Float(f64::from_bits(val))),
                Tag::Bool => pred(Stored::Bool(val != 0)),
                Tag::List => pred(Stored::List(&self.lists[val as usize])),
            };
            if pass && let Some(w) = bits.get_mut(slot as usize / 64) {
                *w |= 1 << (slot % 64);
            }
        }
        bits
    }

    fn bytes(&self) -> usize {
        self.slots.capacity() * 4
            + self.tags.capacity()
            + self.vals.capacity() * 8
            + self.strs.iter().map(|s| 2 * s.len() + 56).sum::<usize>()
            + self.lists.capacity() * 32
    }
}

/// Every document, one after the other in one buffer.
#[derive(Debug, Default)]
struct Docs {
    text: String,
    /// `(start, end, slot)` of each document copied, by `start`.
    entries: Vec<(u32, u32, u32)>,
    /// Per slot, its document's entry ([`NO_DOC`]: none).
    current: Vec<u32>,
    /// Bytes of `text` no current entry covers (documents since replaced).
    garbage: usize,
}

const NO_DOC: u32 = u32::MAX;

impl Docs {
    /// Copies a document for `slot`; `false` when the buffer would pass its bound.
    fn set(&mut self, slot: u32, document: Option<&str>) -> bool {
        let slot_ix = slot as usize;
        if self.current.len() <= slot_ix {
            self.current.resize(slot_ix + 1, NO_DOC);
        }
        let old = self.current[slot_ix];
        if old != NO_DOC {
            let (s, e, _) = self.entries[old as usize];
            self.garbage += (e - s) as usize;
        }
        self.current[slot_ix] = NO_DOC;
        let Some(d) = document else { return true };
        if self.text.len() + d.len() > DOCS_MAX_BYTES || self.entries.len() >= NO_DOC as usize {
            return false;
        }
        let start = self.text.len() as u32;
        self.text.push_str(d);
        self.entries.push((start, self.text.len() as u32, slot));
        self.current[slot_ix] = (self.entries.len() - 1) as u32;
        true
    }

    fn doc(&self, entry: usize) -> &str {
        let (s, e, _) = self.entries[entry];
        // Entries start and end where a copied string did: always char boundaries.
        self.text.get(s as usize..e as usize).unwrap_or_default()
    }

    fn is_current(&self, entry: usize) -> bool {
        let slot = self.entries[entry].2 as usize;
        self.current.get(slot) == Some(&(entry as u32))
    }

    /// The slots whose document passes `pred`.
    fn scan(&self, words: usize, pred: impl Fn(&str) -> bool) -> Vec<u64> {
        let mut bits = vec![0u64; words];
        for (i, &(_, _, slot)) in self.entries.iter().enumerate() {
            if self.is_current(i) && pred(self.doc(i)) {
                set_bit(&mut bits, slot);
            }
        }
        bits
    }

    /// The slots whose document contains `needle`: one search over the whole buffer.
    fn contains(&self, words: usize, needle: &str) -> Vec<u64> {
        if needle.is_empty() {
            return self.scan(words, |_| true);
        }
        let mut bits = vec![0u64; words];
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        let text = self.text.as_bytes();
        let mut pos = 0usize;
        while let Some(i) = finder.find(&text[pos..]) {
            let at = pos + i;
            // The entry holding byte `at`: the first whose end is past it.
            let e = self
                .entries
                .partition_point(|&(_, end, _)| end as usize <= at);
            let Some(&(_, end, slot)) = self.entries.get(e) else {
                break;
            };
            // A match running past its document's end is none; no later start in the same
            // document can fit either, so the search goes on at the next document.
            if at + needle.len() <= end as usize && self.is_current(e) {
                set_bit(&mut bits, slot);
            }
            pos = end as usize;
            if pos >= text.len() {
                break;
            }
        }
        bits
    }

    fn bytes(&self) -> usize {
        self.text.capacity() + self.entries.capacity() * 12 + self.current.capacity() * 4
    }
}

/// Columns being built: per key, the column (its interned strings and arrays) and its
/// `(slot, tag, value)` entries in any slot order.
type Building = HashMap<String, (Column, Vec<(u32, Tag, u64)>)>;

/// Adds one value of one record to the columns being built (in any slot order).
fn put(building: &mut Building, slot: u32, key: &str, value: &MetadataValue) {
    let (c, entries) = match building.get_mut(key) {
        Some(b) => b,
        None => building.entry(key.to_owned()).or_default(),
    };
    let (tag, val) = c.encode(value);
    entries.push((slot, tag, val));
}

/// [`put`] for a scalar string, interned without a copy when seen before.
fn put_str(building: &mut Building, slot: u32, key: &str, value: &str) {
    let (c, entries) = match building.get_mut(key) {
        Some(b) => b,
        None => building.entry(key.to_owned()).or_default(),
    };
    entries.push((slot, Tag::Str, u64::from(c.intern(value))));
}

/// Appends an element to an array of its type; `false` if the types differ.
fn push(list: &mut MetadataValue, element: &MetadataValue) -> bool {
    match (list, element) {
        (MetadataValue::StrList(l), MetadataValue::Str(v)) => l.push(v.clone()),
        (MetadataValue::IntList(l), MetadataValue::Int(v)) => l.push(*v),
        (MetadataValue::FloatList(l), MetadataValue::Float(v)) => l.push(*v),
        (MetadataValue::BoolList(l), MetadataValue::Bool(v)) => l.push(*v),
        _ => return false,
    }
    true
}

fn set_bit(bits: &mut [u64], slot: u32) {
    if let Some(w) = bits.get_mut(slot as usize / 64) {
        *w |= 1 << (slot % 64);
    }
}

/// Whether answering `filter` reads documents.
fn needs_docs(filter: &Filter) -> bool {
    fn where_needs(w: &Where) -> bool {
        match w {
            Where::And(c) | Where::Or(c) => c.iter().any(where_needs),
            Where::Cmp { key, .. } | Where::In { key, .. } => key == CHROMA_DOCUMENT_KEY,
            // `$contains` on `chroma:document` never matches: no document needed.
            Where::Contains { .. } => false,
            Where::Document(_) => true,
        }
    }
    filter.where_document.is_some() || filter.r#where.as_ref().is_some_and(where_needs)
}

impl FilterIndex {
    /// Whether writes should carry their records for [`advance`](Self::advance), and their
    /// documents too: `None` while no index exists.
    pub(crate) fn wants(&self) -> Option<Changes> {
        self.active.load(Ordering::Acquire).then(|| Changes {
            puts: Vec::new(),
            with_docs: self.docs_active.load(Ordering::Acquire),
        })
    }

    /// The slots of the live records of `live` (this snapshot, at `row`) that pass `filter`,
    /// sorted; `None` when the index cannot answer (SQLite must). Builds or rebuilds the index
    /// from the snapshot when it is not at `row`'s seq.
    pub(crate) fn slots(
        &self,
        conn: &Connection,
        row: &CollectionRow,
        live: &LiveSlots,
        filter: &Filter,
    ) -> Result<Option<Vec<u64>>> {
        if row.slot_count >= u64::from(u32::MAX) || live.seq != Some(row.seq) {
            return Ok(None);
        }
        let docs = needs_docs(filter);
        {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = state.as_ref()
                && s.seq == row.seq
                && s.generation == row.generation
                && (!docs || s.docs.is_some())
            {
                return Ok(s.answer(filter, live));
            }
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        match state.as_mut() {
            Some(s) if s.seq == row.seq && s.generation == row.generation => {}
            // This snapshot is older than the index (a write of this process came since):
            // SQLite answers it.
            Some(s) if s.seq > row.seq && s.generation == row.generation => return Ok(None),
            // Another process wrote: the records it wrote since are read again.
            Some(s) if s.generation == row.generation => {
                s.catch_up(conn, row)?;
                self.docs_active.store(s.docs.is_some(), Ordering::Release);
            }
            _ => {
                *state = Some(State::load(conn, row, live)?);
                self.loads.fetch_add(1, Ordering::Relaxed);
                self.active.store(true, Ordering::Release);
                self.docs_active.store(false, Ordering::Release);
            }
        }
        let Some(s) = state.as_mut() else {
            return Ok(None);
        };
        if docs && s.docs.is_none() {
            s.docs = load_docs(conn, row)?;
            self.loads.fetch_add(1, Ordering::Relaxed);
            self.docs_active.store(s.docs.is_some(), Ordering::Release);
        }
        Ok(s.answer(filter, live))
    }

    /// This process committed a write taking the collection from seq `before` to `after`
    /// (generation `generation` and `slots` slots after it): patches the index if it was at `before` and the
    /// write carried what it changed; otherwise drops it (rebuilt when next needed).
    pub(crate) fn advance(
        &self,
        (before, after): (u64, u64),
        (generation, slots): (u64, u64),
        changes: Option<Changes>,
    ) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let Some(s) = state.as_mut() else { return };
        if s.seq != before {
            // Behind already: rebuilt at the next filtered read.
            return;
        }
        let Some(changes) = changes.filter(|_| s.generation == generation) else {
            *state = None;
            self.active.store(false, Ordering::Release);
            self.docs_active.store(false, Ordering::Release);
            return;
        };
        if !changes.with_docs {
            s.docs = None;
            self.docs_active.store(false, Ordering::Release);
        }
        for put in changes.puts {
            let Ok(slot) = u32::try_from(put.slot) else {
                *state = None;
                self.active.store(false, Ordering::Release);
                return;
            };
            for k in &put.clear {
                if let Some(c) = s.keys.get_mut(k) {
                    c.clear(slot);
                }
            }
            if let Some(m) = &put.metadata {
                s.add(slot, m);
            }
            if let (Some(docs), Some(document)) = (s.docs.as_mut(), &put.document)
                && !docs.set(slot, document.as_deref())
            {
                s.docs = None;
                self.docs_active.store(false, Ordering::Release);
            }
        }
        if s.docs
            .as_ref()
            .is_some_and(|d| d.garbage > (1 << 20) && d.garbage > d.text.len() / 2)
        {
            // Mostly replaced documents: copied afresh when next needed.
            s.docs = None;
            self.docs_active.store(false, Ordering::Release);
        }
        s.seq = after;
        s.slots = slots;
    }

    /// Times the index read metadata or documents from the sidecar.
    pub(crate) fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// Bytes held (estimated from capacities), for benchmarks and tests.
    pub(crate) fn bytes(&self) -> usize {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        state.as_ref().map_or(0, |s| {
            s.keys
                .iter()
                .map(|(k, c)| k.len() + c.bytes())
                .sum::<usize>()
                + s.docs.as_ref().map_or(0, Docs::bytes)
        })
    }
}

impl State {
    /// Reads every record's metadata of the snapshot from the typed key/value rows of
    /// `record_metadata` (no JSON to decode, no map per record: a third of the time of
    /// decoding the `metadata` column); `live` (the same snapshot) maps their ords to slots.
    fn load(conn: &Connection, row: &CollectionRow, live: &LiveSlots) -> Result<State> {
        // (ord, slot) of every record, by ord: the rows come by ord.
        let mut by_ord: Vec<(u64, u32)> = live
            .ords
            .iter()
            .enumerate()
            .filter(|&(_, &o)| o != DEAD)
            .map(|(slot, &o)| (o, slot as u32))
            .collect();
        by_ord.sort_unstable();
        let mut stmt = conn.prepare_cached(
            "SELECT ord, key, in_list, str_value, int_value, float_value, bool_value \
             FROM record_metadata WHERE collection_id = ?1 ORDER BY ord, key, idx",
        )?;
        let mut rows = stmt.query([row.key])?;
        let mut building: Building = HashMap::new();
        // The array being read: its slot, key and elements so far.
        let mut list: Option<(u32, String, MetadataValue)> = None;
        let mut at = 0usize;
        while let Some(r) = rows.next()? {
            let ord = r.get::<_, i64>(0)? as u64;
            while by_ord.get(at).is_some_and(|&(o, _)| o < ord) {
                at += 1;
            }
            let Some(&(o, slot)) = by_ord.get(at) else {
                break;
            };
            if o != ord {
                // No live record has this ord (cannot happen in one snapshot).
                continue;
            }
            let key = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
            let in_list: bool = r.get(2)?;
            let text = r
                .get_ref(3)?
                .as_str_or_null()
                .map_err(rusqlite::Error::from)?;
            if let (Some(v), false) = (text, in_list) {
                // The common case without a copy of the string.
                if let Some((s, k, l)) = list.take() {
                    put(&mut building, s, &k, &l);
                }
                put_str(&mut building, slot, key, v);
                continue;
            }
            let value = if let Some(v) = text {
                MetadataValue::Str(v.to_owned())
            } else if let Some(v) = r.get::<_, Option<i64>>(4)? {
                MetadataValue::Int(v)
            } else if let Some(v) = r.get::<_, Option<f64>>(5)? {
                MetadataValue::Float(v)
            } else if let Some(v) = r.get::<_, Option<bool>>(6)? {
                MetadataValue::Bool(v)
            } else {
                continue;
            };
            if !in_list {
                if let Some((s, k, l)) = list.take() {
                    put(&mut building, s, &k, &l);
                }
                put(&mut building, slot, key, &value);
                continue;
            }
            let same = matches!(&list, Some((s, k, _)) if *s == slot && k == key);
            let pushed = same && list.as_mut().is_some_and(|(_, _, l)| push(l, &value));
            if !pushed {
                if let Some((s, k, l)) = list.take() {
                    put(&mut building, s, &k, &l);
                }
                let first = match value {
                    MetadataValue::Str(v) => MetadataValue::StrList(vec![v]),
                    MetadataValue::Int(v) => MetadataValue::IntList(vec![v]),
                    MetadataValue::Float(v) => MetadataValue::FloatList(vec![v]),
                    MetadataValue::Bool(v) => MetadataValue::BoolList(vec![v]),
                    other => other,
                };
                list = Some((slot, key.to_owned(), first));
            }
        }
        if let Some((s, k, l)) = list.take() {
            put(&mut building, s, &k, &l);
        }
        let keys = building
            .into_iter()
            .map(|(k, (mut c, mut entries))| {
                entries.sort_unstable_by_key(|e| e.0);
                c.slots = entries.iter().map(|e| e.0).collect();
                c.tags = entries.iter().map(|e| e.1).collect();
                c.vals = entries.iter().map(|e| e.2).collect();
                (k, c)
            })
            .collect();
        Ok(State {
            seq: row.seq,
            generation: row.generation,
            slots: row.slot_count,
            keys,
            docs: None,
        })
    }

    /// Brings the index from its seq to `row`'s (same generation) by reading the records
    /// whose `seq` (the write that last changed them) is newer: one pass over the collection's
    /// rows that decodes only those. Records deleted since are dead slots in the snapshot's
    /// live table, so they need nothing here.
    fn catch_up(&mut self, conn: &Connection, row: &CollectionRow) -> Result<()> {
        let mut stmt = conn.prepare_cached(
            "SELECT slot, metadata, document FROM records WHERE collection_id = ?1 AND seq > ?2",
        )?;
        let mut rows = stmt.query(rusqlite::params![row.key, self.seq as i64])?;
        let mut changed: Vec<(u32, Option<Metadata>, Option<String>)> = Vec::new();
        let with_docs = self.docs.is_some();
        while let Some(r) = rows.next()? {
            let slot = r.get::<_, i64>(0)? as u32;
            let metadata = r
                .get_ref(1)?
                .as_str_or_null()
                .map_err(rusqlite::Error::from)?
                .map(meta::records::metadata_from_json)
                .transpose()?;
            let document = if with_docs { r.get(2)? } else { None };
            changed.push((slot, metadata, document));
        }
        changed.sort_unstable_by_key(|c| c.0);
        for (slot, metadata, document) in changed {
            if u64::from(slot) < self.slots {
                // Changed in place: the keys it had go first.
                for c in self.keys.values_mut() {
                    c.clear(slot);
                }
            }
            if let Some(m) = &metadata {
                self.add(slot, m);
            }
            if let Some(docs) = self.docs.as_mut()
                && !docs.set(slot, document.as_deref())
            {
                self.docs = None;
            }
        }
        self.seq = row.seq;
        self.slots = row.slot_count;
        Ok(())
    }

    fn add(&mut self, slot: u32, m: &Metadata) {
        for (k, v) in m {
            match self.keys.get_mut(k) {
                Some(c) => c.set(slot, v),
                None => {
                    let mut c = Column::default();
                    c.set(slot, v);
                    self.keys.insert(k.clone(), c);
                }
            }
        }
    }

    /// The sorted live slots passing `filter`; `None` if it needs documents not held.
    fn answer(&self, filter: &Filter, live: &LiveSlots) -> Option<Vec<u64>> {
        let words = live.live_bits.len();
        let mut bits = live.live_bits.clone();
        if let Some(w) = &filter.r#where {
            and(&mut bits, &self.where_bits(w, words)?);
        }
        if let Some(d) = &filter.where_document {
            and(&mut bits, &self.document_bits(d, words)?);
        }
        let mut slots = Vec::new();
        for (i, &w) in bits.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                slots.push(i as u64 * 64 + u64::from(w.trailing_zeros()));
                w &= w - 1;
            }
        }
        Some(slots)
    }

    fn column_scan(
        &self,
        key: &str,
        words: usize,
        pred: impl Fn(Stored<'_>) -> bool,
    ) -> Option<Vec<u64>> {
        if key == CHROMA_DOCUMENT_KEY {
            // chromadb keeps documents under this key as string values.
            return Some(self.docs.as_ref()?.scan(words, |d| pred(Stored::Str(d))));
        }
        Some(match self.keys.get(key) {
            Some(c) => c.scan(words, pred),
            None => vec![0; words],
        })
    }

    fn where_bits(&self, w: &Where, words: usize) -> Option<Vec<u64>> {
        Some(match w {
            Where::And(children) => {
                let mut acc = vec![u64::MAX; words];
                for c in children {
                    and(&mut acc, &self.where_bits(c, words)?);
                }
                acc
            }
            Where::Or(children) => {
                let mut acc = vec![0; words];
                for c in children {
                    or(&mut acc, &self.where_bits(c, words)?);
                }
                acc
            }
            Where::Cmp { key, op, value } => {
                let positive = if *op == CmpOp::Ne { CmpOp::Eq } else { *op };
                let bits = self.column_scan(key, words, |s| compare(s, positive, value))?;
                if *op == CmpOp::Ne { not(bits) } else { bits }
            }
            Where::In {
                key,
                values,
                negated,
            } => {
                let bits = self.column_scan(key, words, |s| in_list(s, values))?;
                if *negated { not(bits) } else { bits }
            }
            Where::Contains {
                key,
                value,
                negated,
            } => {
                let bits = if key == CHROMA_DOCUMENT_KEY {
                    // A scalar string there: no array to look into.
                    vec![0; words]
                } else {
                    self.column_scan(key, words, |s| array_contains(s, value))?
                };
                if *negated { not(bits) } else { bits }
            }
            Where::Document(d) => self.document_bits(d, words)?,
        })
    }

    fn document_bits(&self, d: &WhereDocument, words: usize) -> Option<Vec<u64>> {
        let docs = self.docs.as_ref()?;
        Some(match d {
            WhereDocument::And(children) => {
                let mut acc = vec![u64::MAX; words];
                for c in children {
                    and(&mut acc, &self.document_bits(c, words)?);
                }
                acc
            }
            WhereDocument::Or(children) => {
                let mut acc = vec![0; words];
                for c in children {
                    or(&mut acc, &self.document_bits(c, words)?);
                }
                acc
            }
            WhereDocument::Contains(text) => docs.contains(words, text),
            WhereDocument::NotContains(text) => not(docs.contains(words, text)),
            WhereDocument::Regex(re) => docs.scan(words, |d| re.regex().is_match(d)),
            WhereDocument::NotRegex(re) => not(docs.scan(words, |d| re.regex().is_match(d))),
        })
    }
}

/// Every document of the snapshot, or `None` past [`DOCS_MAX_BYTES`].
fn load_docs(conn: &Connection, row: &CollectionRow) -> Result<Option<Docs>> {
    let mut docs = Docs {
        current: vec![NO_DOC; row.slot_count as usize],
        ..Docs::default()
    };
    let mut stmt = conn.prepare_cached(
        "SELECT slot, document FROM records WHERE collection_id = ?1 AND document IS NOT NULL",
    )?;
    let mut rows = stmt.query([row.key])?;
    while let Some(r) = rows.next()? {
        let slot = r.get::<_, i64>(0)? as u32;
        let d: String = r.get(1)?;
        if !docs.set(slot, Some(&d)) {
            return Ok(None);
        }
    }
    docs.text.shrink_to_fit();
    docs.entries.shrink_to_fit();
    Ok(Some(docs))
}

fn and(acc: &mut [u64], other: &[u64]) {
    acc.iter_mut().zip(other).for_each(|(a, b)| *a &= b);
}

fn or(acc: &mut [u64], other: &[u64]) {
    acc.iter_mut().zip(other).for_each(|(a, b)| *a |= b);
}

fn not(mut bits: Vec<u64>) -> Vec<u64> {
    bits.iter_mut().for_each(|w| *w = !*w);
    bits
}

#[cfg(test)]
mod tests {
    use super::{Column, Docs};
    use crate::filter::{CmpOp, Scalar, compare};
    use crate::types::MetadataValue;

    fn slots(bits: &[u64]) -> Vec<u32> {
        (0..bits.len() as u32 * 64)
            .filter(|&s| bits[s as usize / 64] & (1 << (s % 64)) != 0)
            .collect()
    }

    /// One search over the documents laid end to end finds exactly the documents holding the
    /// needle: a match running across two documents is none, and does not hide one that
    /// starts inside it; replaced documents are not searched.
    #[test]
    fn contains_never_matches_across_documents() {
        let mut docs = Docs::default();
        for (slot, d) in [(0, "xa"), (1, "bc"), (2, "a"), (3, "aa"), (4, "ab")] {
            assert!(docs.set(slot, Some(d)));
        }
        assert_eq!(slots(&docs.contains(1, "ab")), [4]);
        assert_eq!(slots(&docs.contains(1, "aa")), [3]);
        assert_eq!(slots(&docs.contains(1, "a")), [0, 2, 3, 4]);
        assert_eq!(slots(&docs.contains(1, "")), [0, 1, 2, 3, 4]);
        assert!(docs.set(4, Some("zz")));
        assert!(docs.set(3, None));
        assert_eq!(slots(&docs.contains(1, "a")), [0, 2]);
        assert_eq!(slots(&docs.contains(1, "zz")), [4]);
        assert_eq!(docs.garbage, 4, "the two replaced documents");
    }

    /// Values set out of slot order, overwritten and cleared are scanned as last set.
    #[test]
    fn a_column_keeps_the_last_value_of_each_slot() {
        let mut c = Column::default();
        c.set(5, &MetadataValue::Int(1));
        c.set(9, &MetadataValue::Str("a".into()));
        c.set(2, &MetadataValue::Float(1.0));
        c.set(9, &MetadataValue::Int(1));
        c.set(7, &MetadataValue::IntList(vec![1]));
        c.clear(5);
        let one = Scalar::Int(1);
        assert_eq!(slots(&c.scan(1, |s| compare(s, CmpOp::Eq, &one))), [2, 9]);
        assert_eq!(c.slots, [2, 5, 7, 9]);
    }
}
