//! Exact search: a rayon-parallel scan over the rows, per-thread top-k, merged.
//!
//! A batch of queries is scanned block by block: each block of rows (small enough to stay in
//! cache) is compared with every query of the batch before the scan moves on, so the data is
//! read from memory once per batch rather than once per query.

use rayon::prelude::*;

use super::topk::{Hit, TopK, admits};
use crate::distance::Kernel;

/// Rows compared per kernel call: 64 KiB-ish at 384 dimensions, so a block stays in L2.
const ROW_BLOCK_BYTES: usize = 96 * 1024;
/// Rows handed to one rayon task.
const TASK_ROWS: usize = 4096;

/// Which slots a search may return.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Candidates<'a> {
    /// Every live slot.
    All,
    /// Every live slot from this one on (the part of a collection its index has not reached).
    Tail(u64),
    /// Only these slots (sorted, live).
    Slots(&'a [u64]),
}

/// What a scan reads: the rows and which of them are live.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scan<'a> {
    /// The distance to rank by.
    pub(crate) kernel: Kernel,
    /// The collection's rows, `dim` floats each, slot `s` at `s * dim`.
    pub(crate) rows: &'a [f32],
    /// Floats per row.
    pub(crate) dim: usize,
    /// Insertion order per slot; `dead` marks slots no record points to.
    pub(crate) ords: &'a [u64],
    /// The `ords` value of a dead slot.
    pub(crate) dead: u64,
    /// `ords` as a bitmap (bit set: live), when the caller keeps one: the graph walk reads
    /// it instead of `ords`, which stays in cache where the table would not.
    pub(crate) live: Option<&'a [u64]>,
}

/// The `k` nearest live rows to each of the `queries` (back to back), nearest first.
pub(crate) fn exact_search(
    scan: &Scan<'_>,
    queries: &[f32],
    k: usize,
    candidates: Candidates<'_>,
) -> Vec<Vec<Hit>> {
    let Scan {
        kernel,
        rows,
        dim,
        ords,
        dead,
        live: _,
    } = *scan;
    let n_queries = queries.len() / dim;
    let block_rows = (ROW_BLOCK_BYTES / (dim * 4)).clamp(1, TASK_ROWS);
    let heaps = match candidates {
        Candidates::All | Candidates::Tail(_) => {
            let n_rows = rows.len() / dim;
            let from = match candidates {
                Candidates::Tail(first) => (first as usize).min(n_rows),
                _ => 0,
            };
            (0..(n_rows - from).div_ceil(TASK_ROWS))
                .into_par_iter()
                .fold(
                    || vec![TopK::new(k); n_queries],
                    |mut heaps, task| {
                        let start = from + task * TASK_ROWS;
                        let end = (start + TASK_ROWS).min(n_rows);
                        let mut dist = vec![0.0f32; block_rows];
                        let mut first = start;
                        while first < end {
                            let last = (first + block_rows).min(end);
                            let block = &rows[first * dim..last * dim];
                            let out = &mut dist[..last - first];
                            for (q, heap) in queries.chunks_exact(dim).zip(heaps.iter_mut()) {
                                kernel.distances(q, block, out);
                                offer(heap, out, (first as u64).., ords, dead);
                            }
                            first = last;
                        }
                        heaps
                    },
                )
                .reduce(|| vec![TopK::new(k); n_queries], merge_all)
        }
        Candidates::Slots(slots) => slots
            .par_chunks(TASK_ROWS)
            .fold(
                || vec![TopK::new(k); n_queries],
                |mut heaps, task| {
                    // The kernel reads the candidates' rows in place, one dispatch per group.
                    let mut dist = vec![0.0f32; block_rows];
                    for group in task.chunks(block_rows) {
                        let out = &mut dist[..group.len()];
                        for (q, heap) in queries.chunks_exact(dim).zip(heaps.iter_mut()) {
                            kernel.distances_at(q, rows, group, out);
                            offer(heap, out, group.iter().copied(), ords, dead);
                        }
                    }
                    heaps
                },
            )
            .reduce(|| vec![TopK::new(k); n_queries], merge_all),
    };
    heaps.into_iter().map(TopK::into_sorted).collect()
}

/// Offers the live rows among `slots` (one per distance in `dist`) to `heap`.
#[inline]
fn offer(heap: &mut TopK, dist: &[f32], slots: impl Iterator<Item = u64>, ords: &[u64], dead: u64) {
    let mut threshold = heap.threshold();
    for (&d, slot) in dist.iter().zip(slots) {
        if admits(d, threshold) {
            let ord = ords[slot as usize];
            if ord != dead {
                heap.push(Hit {
                    distance: d,
                    ord,
                    slot,
                });
                threshold = heap.threshold();
            }
        }
    }
}

fn merge_all(a: Vec<TopK>, b: Vec<TopK>) -> Vec<TopK> {
    a.into_iter().zip(b).map(|(x, y)| x.merge(y)).collect()
}
