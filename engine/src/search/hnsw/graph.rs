//! The graph: parameters, link storage, level assignment and insertion.
//!
//! # Storage
//! Layer 0 is one flat array with a fixed stride of `1 + 2M` words per node (a count, then up
//! to `2M` neighbour ids), so a node's layer-0 links are found by multiplication, as in the
//! file; a graph loaded from its file keeps layer 0 in the file's mapped pages until it
//! grows (`links.rs`). Upper layers are one compact array: a node of level `l > 0` owns `l` records of
//! `1 + M` words starting at `upper_offsets[node]`. Links are `AtomicU32` so that the parallel
//! build can share the graph (`&self`) between threads, and queries can walk it while a build
//! links new nodes ([`Hnsw::link`]). A list's count is stored with `Release` after its ids
//! and loaded with `Acquire`, so a reader that takes no lock sees ids at least as new as the
//! count; every id ever stored in a list slot is valid for that layer (the invariant below),
//! so a reader racing a writer reads a mix of old and new neighbours, never garbage. The ids
//! themselves are `Relaxed`. On x86-64 these are plain loads and stores.
//!
//! # Concurrency scheme of the parallel build
//! [`Hnsw::grow`] takes `&mut self` to grow the arrays (levels of all new nodes are drawn up
//! front, so every node's storage exists before any thread starts), then [`Hnsw::link`]
//! inserts the new nodes in parallel through `&self`:
//! * each node has a `Mutex<()>` guarding all its link lists; a builder reads a list by
//!   copying it under that lock and writes one only under it;
//! * a thread holds **at most one node lock at a time** and takes the entry-point lock only
//!   while holding no node lock, so there is no lock-order cycle and no deadlock;
//! * the entry point (node and top level) sits behind its own mutex; a node whose level
//!   exceeds the current top keeps that mutex for its whole insertion (as hnswlib does), so
//!   the top layer changes hands one node at a time, and becomes the entry when it is done.
//!
//! **Invariant:** every id stored in a list at layer `l` is a node below `len()` whose level
//! is at least `l`, and a list never holds more than its capacity (`2M` on layer 0, `M`
//! above). New nodes become reachable only through links written after their own storage
//! exists, so a reader never follows an id to storage that is not there. A node that another
//! thread links to before it has written its own list at that layer (possible when it is
//! found through an upper layer) keeps those links: its own list is merged with, not written
//! over, what is already there.
//!
//! Built on one thread (a one-thread rayon pool), the graph is a function of the rows, the
//! parameters and the seed; on several threads only the level of each node is.

use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::{Mutex, MutexGuard};

use super::links::Links;
use super::search::{Cand, Visited};
use super::{Point, Rows, WalkCopy};
use crate::config::{DEFAULT_EF_CONSTRUCTION, DEFAULT_EF_SEARCH, DEFAULT_MAX_NEIGHBORS};
use crate::distance::Space;
use crate::error::{Error, Result};
use crate::scheduler::Share;

/// Largest `M` accepted: beyond it a node's list is bigger than any useful graph needs, and
/// the bound keeps a damaged file from asking for absurd allocations.
pub(crate) const MAX_NEIGHBORS_LIMIT: usize = 4096;
/// Highest level a node may get. With `M = 2` (the smallest allowed) a level above 30 has
/// probability 2^-30 per node; the cap keeps the level in a byte and the file check simple.
pub(crate) const MAX_LEVEL: u8 = 30;
/// `upper_offsets` value of a node that lives on layer 0 only.
pub(crate) const NO_UPPER: u32 = u32::MAX;

/// Build and search parameters, with chromadb's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HnswParams {
    /// `M`: links per node on upper layers; layer 0 keeps `2M`.
    pub(crate) max_neighbors: usize,
    /// Beam width while inserting.
    pub(crate) ef_construction: usize,
    /// Beam width of a query (raised to `k` when smaller).
    pub(crate) ef_search: usize,
    /// Seeds the level of every node: node `s` gets a level drawn from `(seed, s)` alone, so
    /// levels do not depend on how inserts were batched or scheduled.
    pub(crate) seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            max_neighbors: DEFAULT_MAX_NEIGHBORS,
            ef_construction: DEFAULT_EF_CONSTRUCTION,
            ef_search: DEFAULT_EF_SEARCH,
            seed: 0x6d6e_656d_6f64_6221,
        }
    }
}

/// The node queries start from and the top layer of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) node: u32,
    pub(crate) level: u8,
}

/// An HNSW graph over the slots `0..len()` of a collection.
#[derive(Debug)]
pub(crate) struct Hnsw {
    pub(super) params: HnswParams,
    /// The space the links were chosen for.
    pub(super) space: Space,
    /// The collection `seq` the graph covers (all records committed up to it are inserted).
    pub(super) watermark: u64,
    /// Level of each node.
    pub(super) levels: Vec<u8>,
    /// Layer 0: `1 + 2M` words per node, a count then the neighbours.
    pub(super) layer0: Links,
    /// Start of each node's upper records in `upper`, or [`NO_UPPER`].
    pub(super) upper_offsets: Vec<u32>,
    /// Upper layers: `1 + M` words per (node, layer >= 1).
    pub(super) upper: Vec<AtomicU32>,
    /// Cosine graphs kept by a collection: `1 / |row|` per node (see `Rows::inv_norms`),
    /// saved with the links; empty otherwise.
    pub(crate) inv_norms: Vec<f32>,
    /// The rows in 8 bits for the walk, covering the first `walk.len()` slots: used
    /// only when it covers every node (`walk_copy.rs`). Not saved: a loaded graph has none
    /// until the collection encodes it, and walks the f32 rows meanwhile.
    pub(crate) walk: WalkCopy,
    /// One lock per node, taken only by the parallel build.
    pub(super) locks: Vec<Mutex<()>>,
    pub(super) entry: Mutex<Option<Entry>>,
    /// What queries may walk: the entry point and node count as of the last [`Hnsw::publish`],
    /// when every node below that count was fully linked. A build in progress allocates
    /// nodes with empty lists and links other nodes to them layer by layer, top first, so a
    /// query that followed such links could reach a node whose layer-0 list is still empty
    /// and stop there; queries ignore nodes past the published count (the collection scans
    /// them exactly instead).
    pub(super) searchable: Option<(Entry, u32)>,
}

/// Locks a mutex, ignoring poisoning: the data behind every lock here is `()` or a plain
/// value that a panicking thread cannot leave half-written.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Hnsw {
    /// An empty graph for `space`. Errors if `max_neighbors` is below 2 (the level
    /// distribution `1 / ln M` needs `M > 1`) or above [`MAX_NEIGHBORS_LIMIT`], or an `ef`
    /// is 0.
    pub(crate) fn new(space: Space, params: HnswParams) -> Result<Hnsw> {
        if !(2..=MAX_NEIGHBORS_LIMIT).contains(&params.max_neighbors) {
            return Err(Error::invalid(format!(
                "max_neighbors must be between 2 and {MAX_NEIGHBORS_LIMIT}, got {}",
                params.max_neighbors
            )));
        }
        if params.ef_construction == 0 || params.ef_search == 0 {
            return Err(Error::invalid(
                "ef_construction and ef_search must be positive",
            ));
        }
        Ok(Hnsw {
            params,
            space,
            watermark: 0,
            levels: Vec::new(),
            layer0: Links::default(),
            upper_offsets: Vec::new(),
            upper: Vec::new(),
            inv_norms: Vec::new(),
            walk: WalkCopy::default(),
            locks: Vec::new(),
            entry: Mutex::new(None),
            searchable: None,
        })
    }

    /// Number of nodes (slots `0..len()`).
    pub(crate) fn len(&self) -> usize {
        self.levels.len()
    }

    pub(crate) fn params(&self) -> HnswParams {
        self.params
    }

    /// Sets the default beam width of queries (a query-time setting, not stored in the file).
    pub(crate) fn set_ef_search(&mut self, ef: usize) {
        self.params.ef_search = ef.max(1);
    }

    /// The collection `seq` this graph covers.
    #[cfg(test)]
    pub(crate) fn watermark(&self) -> u64 {
        self.watermark
    }

    /// Records that every record committed up to `seq` is in the graph.
    pub(crate) fn set_watermark(&mut self, seq: u64) {
        self.watermark = seq;
    }

    pub(super) fn m(&self) -> usize {
        self.params.max_neighbors
    }

    /// Capacity of a list on `layer`.
    #[inline]
    pub(super) fn cap(&self, layer: usize) -> usize {
        if layer == 0 { 2 * self.m() } else { self.m() }
    }

    /// The words of `node`'s list on `layer` (count first). The node's level must be at least
    /// `layer` (the graph invariant guarantees it for every id read from a list).
    #[inline]
    pub(super) fn list(&self, node: u32, layer: usize) -> &[AtomicU32] {
        if layer == 0 {
            let stride = 1 + 2 * self.m();
            let start = node as usize * stride;
            &self.layer0[start..start + stride]
        } else {
            let stride = 1 + self.m();
            let start = self.upper_offsets[node as usize] as usize + (layer - 1) * stride;
            &self.upper[start..start + stride]
        }
    }

    /// Copies `node`'s neighbours on `layer` into `out`, under the node's lock when `locked`
    /// (during a build, when other threads may be writing the list).
    #[inline]
    pub(super) fn neighbours(&self, node: u32, layer: usize, locked: bool, out: &mut Vec<u32>) {
        out.clear();
        let _guard = locked.then(|| lock(&self.locks[node as usize]));
        let list = self.list(node, layer);
        // `min` keeps a torn count (impossible under the invariant) inside the list.
        let count = (list[0].load(Acquire) as usize).min(list.len() - 1);
        out.extend(list[1..=count].iter().map(|w| w.load(Relaxed)));
    }

    /// Overwrites a list; the caller holds the node's lock (or `&mut self`).
    fn write_list(&self, node: u32, layer: usize, ids: &[u32]) {
        let list = self.list(node, layer);
        debug_assert!(ids.len() < list.len());
        for (w, &id) in list[1..].iter().zip(ids) {
            w.store(id, Relaxed);
        }
        list[0].store(ids.len() as u32, Release);
    }

    /// Inserts the slots `len()..upto` (their rows must be in `rows`), in parallel on the
    /// current rayon pool. The watermark is the caller's to advance afterwards.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, rows: Rows<'_>, upto: u32) -> Result<()> {
        let first = self.len() as u32;
        if upto <= first {
            return Ok(());
        }
        if rows.len() < upto as usize {
            return Err(Error::invalid(format!(
                "HNSW insert up to slot {upto} but only {} rows given",
                rows.len()
            )));
        }
        self.grow(upto)?;
        if self.walk.len() == first as usize {
            let dim = rows.dim;
            let new = &rows.data[first as usize * dim..upto as usize * dim];
            self.walk
                .append(WalkCopy::encode(new, dim, self.space, Share::all()));
        }
        self.link(rows, first..upto, Share::all());
        self.publish();
        Ok(())
    }

    /// Links the nodes `new` (allocated by [`Hnsw::grow`], their rows in `rows`) into the
    /// graph, in parallel on the current rayon pool's workers that `share` gives it. Takes
    /// `&self`: queries may run on the graph meanwhile (they may or may not find the new nodes
    /// until this returns).
    pub(crate) fn link(&self, rows: Rows<'_>, new: std::ops::Range<u32>, share: Share<'_>) {
        debug_assert_eq!(rows.kernel.space(), self.space);
        let rows = self.with_walk_copy(rows);
        debug_assert!(new.end as usize <= self.len() && rows.len() >= new.end as usize);
        let mut start = new.start;
        if start < new.end && lock(&self.entry).is_none() {
            // The first node has nothing to link to; it only becomes the entry point.
            self.insert_one(rows, start);
            start += 1;
        }
        // A few nodes per claim: a worker told to step aside does so within a millisecond
        // or two (a node takes ~0.4 ms to link at 100k x 384).
        share.for_each(
            u64::from(start)..u64::from(new.end),
            4,
            Visited::default,
            // In u32: the range is of u32 nodes.
            |visited, s| self.insert_with(rows, s as u32, visited),
        );
    }

    /// Lets queries walk every node: the caller has linked them all (no build is running).
    pub(crate) fn publish(&mut self) {
        let entry = *lock(&self.entry);
        self.searchable = entry.map(|e| (e, self.len() as u32));
    }

    /// Draws levels for the new nodes and allocates their (empty) lists. Checks the size
    /// before changing anything, so a refused insert leaves the graph as it was.
    pub(crate) fn grow(&mut self, upto: u32) -> Result<()> {
        let m = self.m();
        let first = self.len() as u32;
        let levels: Vec<u8> = (first..upto)
            .map(|s| draw_level(self.params.seed, s, m))
            .collect();
        let new_words: usize = levels.iter().map(|&l| l as usize * (1 + m)).sum();
        if self.upper.len() + new_words >= NO_UPPER as usize {
            return Err(Error::invalid("HNSW graph too large for 32-bit offsets"));
        }
        for &level in &levels {
            let offset = if level == 0 {
                NO_UPPER
            } else {
                // In range: the total was checked above.
                let start = self.upper.len() as u32;
                let words = level as usize * (1 + m);
                self.upper
                    .resize_with(self.upper.len() + words, AtomicU32::default);
                start
            };
            self.upper_offsets.push(offset);
        }
        self.levels.extend_from_slice(&levels);
        let n = upto as usize;
        let layer0 = self.layer0.to_mut();
        layer0.reserve((n * (1 + 2 * m)).saturating_sub(layer0.len()));
        // Walks read lists at random: fewer TLB misses on 2 MiB pages.
        super::huge_pages::advise(layer0);
        layer0.resize_with(n * (1 + 2 * m), AtomicU32::default);
        self.locks.resize_with(n, Mutex::default);
        Ok(())
    }

    /// Whether the walk's copy lacks rows of some nodes (a graph just loaded), so walks read
    /// the f32 rows until it is encoded.
    pub(crate) fn walk_copy_lags(&self) -> bool {
        self.walk.len() < self.len()
    }

    /// `rows` reading the walk's copy when it covers every node.
    pub(super) fn with_walk_copy<'a>(&'a self, rows: Rows<'a>) -> Rows<'a> {
        Rows {
            coded: self.walk.view(rows.dim, self.len()),
            ..rows
        }
    }

    fn insert_one(&self, rows: Rows<'_>, s: u32) {
        self.insert_with(rows, s, &mut Visited::default());
    }

    /// Algorithm 1 of the paper, with the locking described in the module docs.
    fn insert_with(&self, rows: Rows<'_>, s: u32, visited: &mut Visited) {
        let level = self.levels[s as usize];
        let mut q_buf = Vec::new();
        let q = rows.point_in(s, &mut q_buf);
        let mut guard = lock(&self.entry);
        let Some(entry) = *guard else {
            *guard = Some(Entry { node: s, level });
            return;
        };
        // Keep the entry lock only when this node will become the new top.
        let top_guard = if level > entry.level {
            Some(guard)
        } else {
            drop(guard);
            None
        };
        let mut buf = Vec::new();
        let mut cur = Cand {
            d: rows.distance_to(q, entry.node),
            id: entry.node,
        };
        for layer in (level as usize + 1..=entry.level as usize).rev() {
            cur = self.greedy(rows, q, cur, layer, true, u32::MAX, &mut buf);
        }
        let mut eps = vec![cur];
        for layer in (0..=level.min(entry.level) as usize).rev() {
            // Nearest first, by (distance, id): the order `select` expects.
            let found: Vec<Cand> = self
                .search_layer(
                    rows,
                    q,
                    &eps,
                    self.params.ef_construction,
                    layer,
                    (true, u32::MAX),
                    &|id| Some(u64::from(id)),
                    visited,
                )
                .into_iter()
                // `s` itself can be found when another thread already linked to it.
                .filter(|r| r.id != s)
                .map(|r| Cand { d: r.d, id: r.id })
                .collect();
            let chosen = self.select(rows, &found, self.m(), false);
            self.set_own_links(rows, s, layer, &chosen);
            for c in &chosen {
                self.connect(rows, c.id, s, c.d, layer, &mut buf);
            }
            if !found.is_empty() {
                eps = found;
            }
        }
        if let Some(mut g) = top_guard {
            *g = Some(Entry { node: s, level });
        }
    }

    /// Writes `s`'s own list on `layer`, merged with links other threads added meanwhile.
    fn set_own_links(&self, rows: Rows<'_>, s: u32, layer: usize, chosen: &[Cand]) {
        let _guard = lock(&self.locks[s as usize]);
        let list = self.list(s, layer);
        let existing = list[0].load(Relaxed) as usize;
        if existing == 0 {
            let ids: Vec<u32> = chosen.iter().map(|c| c.id).collect();
            self.write_list(s, layer, &ids);
            return;
        }
        let own = rows.node(s);
        let mut all: Vec<Cand> = chosen.to_vec();
        for w in &list[1..=existing.min(list.len() - 1)] {
            let id = w.load(Relaxed);
            if all.iter().all(|c| c.id != id) {
                all.push(Cand {
                    d: rows.between(&own, &rows.node(id)),
                    id,
                });
            }
        }
        all.sort_unstable();
        let kept = self.select(rows, &all, self.cap(layer), true);
        let ids: Vec<u32> = kept.iter().map(|c| c.id).collect();
        self.write_list(s, layer, &ids);
    }

    /// Adds the link `node -> s` (at distance `d`) on `layer`, shrinking `node`'s list with
    /// the heuristic when it is full.
    fn connect(&self, rows: Rows<'_>, node: u32, s: u32, d: f32, layer: usize, buf: &mut Vec<u32>) {
        let _guard = lock(&self.locks[node as usize]);
        self.neighbours(node, layer, false, buf);
        if buf.contains(&s) {
            return;
        }
        let cap = self.cap(layer);
        if buf.len() < cap {
            buf.push(s);
            self.write_list(node, layer, buf);
            return;
        }
        let base = rows.node(node);
        // The neighbours' rows are scattered and were not read lately: asked for ahead, as
        // the walk does, they arrive together (the pruning below reads each again, from
        // cache).
        let mut all: Vec<Cand> = rows
            .prefetched(buf)
            .map(|id| Cand {
                d: rows.between(&base, &rows.node(id)),
                id,
            })
            .collect();
        all.push(Cand { d, id: s });
        all.sort_unstable();
        let kept = self.select(rows, &all, cap, true);
        buf.clear();
        buf.extend(kept.iter().map(|c| c.id));
        self.write_list(node, layer, buf);
    }

    /// The neighbour-selection heuristic (algorithm 4, without extending the candidates):
    /// walking `sorted` nearest first, keep a candidate only if it is closer to the base than
    /// to every candidate kept so far, so links spread in different directions instead of
    /// crowding into one cluster. `fill` (the paper's keepPrunedConnections) tops the result
    /// up to `m` with the nearest pruned candidates; it is used when shrinking an existing
    /// list, not for a new node's first links (as hnswlib chooses those).
    pub(super) fn select(
        &self,
        rows: Rows<'_>,
        sorted: &[Cand],
        m: usize,
        fill: bool,
    ) -> Vec<Cand> {
        if sorted.len() <= m {
            return sorted.to_vec();
        }
        // Each kept candidate with its node, compared with every later candidate.
        let mut kept: Vec<(Cand, super::Node<'_>)> = Vec::with_capacity(m);
        for c in sorted {
            if kept.len() >= m {
                break;
            }
            let node = rows.node(c.id);
            // Kept when no kept neighbour is nearer to it than the base is (`>=`, as hnswlib).
            // An exact duplicate of a kept neighbour (both at distance 0) is redundant: without
            // this rule a group of duplicates fills each other's lists and every other node
            // near them loses its incoming links, becoming unreachable.
            let diverse = kept.iter().all(|(_, k)| {
                let dk = rows.between(&node, k);
                dk > c.d || (dk == c.d && dk != 0.0)
            });
            if diverse {
                kept.push((*c, node));
            }
        }
        let mut kept: Vec<Cand> = kept.into_iter().map(|(c, _)| c).collect();
        if fill {
            // Algorithm 4's keepPrunedConnections: top the list up with the nearest pruned
            // candidates. A full list loses fewer incoming links of recent nodes when it is
            // pruned again, which keeps nodes with many near-duplicates reachable.
            for c in sorted {
                if kept.len() >= m {
                    break;
                }
                if !kept.iter().any(|k| k.id == c.id) {
                    kept.push(*c);
                }
            }
        }
        kept
    }
}

/// Greedy search on one layer, kept here so the build's use of it sits beside the insert.
impl Hnsw {
    /// Moves to nearer neighbours on `layer` while there are some, among nodes below `bound`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn greedy(
        &self,
        rows: Rows<'_>,
        q: Point<'_>,
        mut cur: Cand,
        layer: usize,
        locked: bool,
        bound: u32,
        buf: &mut Vec<u32>,
    ) -> Cand {
        loop {
            let mut moved = false;
            self.neighbours(cur.id, layer, locked, buf);
            buf.retain(|&nb| nb < bound);
            for nb in rows.prefetched(buf) {
                let d = rows.distance_to(q, nb);
                if d < cur.d {
                    cur = Cand { d, id: nb };
                    moved = true;
                }
            }
            if !moved {
                return cur;
            }
        }
    }
}

/// The level of node `s`: `floor(-ln(U) / ln(M))` with `U` uniform in (0, 1] drawn from
/// `(seed, s)` by SplitMix64, so it depends on nothing else.
pub(super) fn draw_level(seed: u64, s: u32, m: usize) -> u8 {
    let bits = splitmix64(seed ^ u64::from(s).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let u = ((bits >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let level = (-u.ln() / (m as f64).ln()).floor();
    if level >= f64::from(MAX_LEVEL) {
        MAX_LEVEL
    } else {
        level as u8
    }
}

pub(super) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
