//! Walking the graph: the beam search of one layer (the paper's algorithm 2) shared by the
//! build and the queries, and the query itself (algorithm 5).
//!
//! A query descends the upper layers greedily, then runs a beam of width `ef` on layer 0.
//! Every node is a waypoint, but only *results* (live, and allowed when an allow-list is
//! given) enter the beam's result set: tombstoned and filtered-out nodes are still expanded,
//! so a filter or many deletes do not cut the graph into pieces. With such nodes around the
//! walk stops only when the result set is full and the nearest unexpanded candidate is worse
//! than its worst, as hnswlib does for filtered searches.

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::graph::Hnsw;
use super::{Point, Rows};
use crate::distance::prefetch;
use crate::search::{Hit, Scan};

/// A node and its distance to the point being searched for or inserted; ordered by
/// (distance, id) with `total_cmp`, so sorting is total and deterministic even with NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Cand {
    pub(super) d: f32,
    pub(super) id: u32,
}

impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Cand {
    fn cmp(&self, other: &Self) -> Ordering {
        self.d.total_cmp(&other.d).then(self.id.cmp(&other.id))
    }
}

/// A result of the beam: ordered by (distance, `tie`), where `tie` is the insertion order for
/// queries (the exact path's tie-break) and the node id while building.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Ranked {
    pub(super) d: f32,
    pub(super) tie: u64,
    pub(super) id: u32,
}

impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.d.total_cmp(&other.d).then(self.tie.cmp(&other.tie))
    }
}

/// The set of nodes a search has seen: one mark per node, cleared in O(1) by bumping the
/// epoch, so a query does not pay for zeroing an array as large as the graph.
#[derive(Debug, Default)]
pub(super) struct Visited {
    marks: Vec<u32>,
    epoch: u32,
}

impl Visited {
    fn reset(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Wrapped: old marks could equal the new epoch.
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `id`; whether it was unmarked.
    #[inline]
    fn insert(&mut self, id: u32) -> bool {
        let mark = &mut self.marks[id as usize];
        let fresh = *mark != self.epoch;
        *mark = self.epoch;
        fresh
    }
}

thread_local! {
    /// One visited set per thread for queries (the build passes its own per rayon task).
    static VISITED: RefCell<Visited> = RefCell::default();
}

impl Hnsw {
    /// Beam search of width `ef` on `layer` from `entries`, among nodes below `bound`, reading
    /// lists under the nodes' locks when `locked` (a build). `result` says whether a node may
    /// be returned and with which tie-break key (`None`: traverse only). Returns the results,
    /// nearest first.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn search_layer<F: Fn(u32) -> Option<u64>>(
        &self,
        rows: Rows<'_>,
        q: Point<'_>,
        entries: &[Cand],
        ef: usize,
        layer: usize,
        (locked, bound): (bool, u32),
        result: &F,
        visited: &mut Visited,
    ) -> Vec<Ranked> {
        visited.reset(self.len());
        let mut frontier: BinaryHeap<Reverse<Cand>> = BinaryHeap::with_capacity(ef * 2);
        let mut top: BinaryHeap<Ranked> = BinaryHeap::with_capacity(ef + 1);
        for &e in entries {
            if visited.insert(e.id) {
                frontier.push(Reverse(e));
                if let Some(tie) = result(e.id) {
                    top.push(Ranked {
                        d: e.d,
                        tie,
                        id: e.id,
                    });
                    if top.len() > ef {
                        top.pop();
                    }
                }
            }
        }
        let mut buf = Vec::with_capacity(self.cap(layer));
        while let Some(Reverse(c)) = frontier.pop() {
            if top.len() >= ef && top.peek().is_some_and(|w| c.d > w.d) {
                break;
            }
            // The next candidate's list is read after this one's neighbours are measured:
            // ask for it now (it is a cache miss of its own, like each row).
            if let Some(Reverse(next)) = frontier.peek() {
                prefetch(self.list(next.id, layer));
            }
            self.neighbours(c.id, layer, locked, &mut buf);
            buf.retain(|&nb| nb < bound && visited.insert(nb));
            for nb in rows.prefetched(&buf) {
                let d = rows.distance_to(q, nb);
                let worst = if top.len() < ef {
                    f32::INFINITY
                } else {
                    top.peek().map_or(f32::INFINITY, |w| w.d)
                };
                if top.len() < ef || d < worst {
                    frontier.push(Reverse(Cand { d, id: nb }));
                    if let Some(tie) = result(nb) {
                        top.push(Ranked { d, tie, id: nb });
                        if top.len() > ef {
                            top.pop();
                        }
                    }
                }
            }
        }
        top.into_sorted_vec()
    }

    /// The `k` nearest results to `query`, nearest first, ties by insertion order.
    ///
    /// `scan` supplies the rows (which must cover the graph's slots) and the `ords` table:
    /// slots whose ord is `scan.dead`, or that lie past the table, are tombstones: traversed,
    /// never returned. `allow`, when given, restricts the results further without pruning the
    /// walk. `ef` overrides the graph's `ef_search` and is raised to `k`. `inv_norms` (cosine
    /// only, one per slot the graph covers) saves recomputing row norms on every comparison.
    /// The hits' distances are the exact kernel's on the f32 rows, whatever the walk read.
    ///
    /// # Panics
    /// If the rows do not cover every slot of the graph.
    pub(crate) fn search(
        &self,
        scan: &Scan<'_>,
        query: &[f32],
        k: usize,
        ef: Option<usize>,
        allow: Option<&dyn Fn(u32) -> bool>,
        inv_norms: Option<&[f32]>,
    ) -> Vec<Hit> {
        let rows = self.with_walk_copy(Rows {
            kernel: scan.kernel,
            data: scan.rows,
            dim: scan.dim,
            inv_norms,
            coded: None,
        });
        let q = rows.query(query);
        assert!(rows.len() >= self.len(), "the rows must cover the graph");
        // Only what the last publish covered: nodes past it may still be half linked.
        let Some((entry, bound)) = self.searchable else {
            return Vec::new();
        };
        if k == 0 {
            return Vec::new();
        }
        let ef = ef.unwrap_or(self.params.ef_search).max(k);
        let mut buf = Vec::new();
        let mut cur = Cand {
            d: rows.distance_to(q, entry.node),
            id: entry.node,
        };
        for layer in (1..=entry.level as usize).rev() {
            cur = self.greedy(rows, q, cur, layer, false, bound, &mut buf);
        }
        let (ords, dead) = (scan.ords, scan.dead);
        let live = |id: u32| match scan.live {
            Some(bits) => bits
                .get(id as usize / 64)
                .is_some_and(|w| w >> (id % 64) & 1 == 1),
            None => ords.get(id as usize).is_some_and(|&o| o != dead),
        };
        // During the walk results tie by slot, so the walk reads no ords: a tie at the edge
        // of a full beam keeps the lower slot (not always the older record, after updates).
        // The hits are put in the exact path's order (distance, then insertion order) below.
        let result = |id: u32| (live(id) && allow.is_none_or(|a| a(id))).then_some(u64::from(id));
        let found = VISITED.with(|v| {
            let mut v = v.borrow_mut();
            self.search_layer(rows, q, &[cur], ef, 0, (false, bound), &result, &mut v)
        });
        // The walk ranked with 8-bit rows or cached norms: every result of the beam
        // gets the exact kernel's distance, as the exact scan would give it, and is ranked
        // again with it (an f32 row each, read in place with prefetching).
        let slots: Vec<u64> = found.iter().map(|r| u64::from(r.id)).collect();
        let mut exact = vec![0.0f32; slots.len()];
        scan.kernel.distances_at(
            query,
            &scan.rows[..rows.len() * scan.dim],
            &slots,
            &mut exact,
        );
        let mut hits: Vec<Hit> = slots
            .iter()
            .zip(exact)
            .filter_map(|(&slot, distance)| {
                Some(Hit {
                    distance,
                    ord: *ords.get(slot as usize)?,
                    slot,
                })
            })
            .collect();
        // The exact path's order (NaN last), which differs from `total_cmp` only for NaN.
        hits.sort_unstable();
        hits.truncate(k);
        hits
    }
}
