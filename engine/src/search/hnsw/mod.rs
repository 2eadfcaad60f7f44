//! HNSW (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
//! Hierarchical Navigable Small World graphs", 2016): a graph index over rows stored elsewhere.
//!
//! The graph holds links only. Node ids are slot numbers (`u32`): node `s` is the row at slot
//! `s` of the collection's vector segment, so the graph covers the slot prefix `0..len()` and
//! grows by appending slots, as the segment does. Vectors are passed in on every call
//! ([`Rows`], or the exact path's [`Scan`](super::Scan) for queries), which keeps the file
//! dimension-independent and lets the same mapping serve both search paths.
//!
//! * `graph.rs`: parameters, storage of the links, level assignment, (parallel) insertion and
//!   the neighbour-selection heuristic (the paper's algorithm 4).
//! * `search.rs`: greedy descent on upper layers, beam search with `ef` on layer 0, tombstones
//!   and allow-lists.
//! * `file.rs`: the on-disk format.
//!
//! Tombstones are not the graph's business: a deleted record's slot stays in the graph (it is
//! still a useful waypoint) and the query path drops it through the `ords` table, exactly as
//! the exact scan does.

mod file;
mod graph;
mod search;
#[cfg(test)]
mod tests;

pub(crate) use graph::{Hnsw, HnswParams};

use crate::distance::Kernel;

/// The vectors a graph is built over: `dim` floats per row, slot `s` at `s * dim`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    /// The distance the graph is built for (its space must be the graph's).
    pub(crate) kernel: Kernel,
    /// The rows, back to back.
    pub(crate) data: &'a [f32],
    /// Floats per row.
    pub(crate) dim: usize,
}

impl<'a> Rows<'a> {
    /// Row `slot`. Callers pass only slots below the graph's length, which the graph's caller
    /// guarantees are covered by `data`.
    #[inline]
    fn row(&self, slot: u32) -> &'a [f32] {
        let start = slot as usize * self.dim;
        &self.data[start..start + self.dim]
    }

    /// How many whole rows `data` holds.
    fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(usize::MAX)
    }

    #[inline]
    fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        self.kernel.distance(a, b)
    }
}
