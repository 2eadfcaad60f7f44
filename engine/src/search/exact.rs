//! Exact search: a rayon-parallel scan over the rows, per-thread top-k, merged.
//!
//! A batch of queries is scanned block by block: each block of rows (small enough to stay in
//! cache) is compared with every query of the batch before the scan moves on, so the data is
//! read from memory once per batch rather than once per query.
//!
//! A scan ranks through a [`Ranker`]: the kernel over the f32 rows ([`exact_search`]), or a
//! cheaper stand-in for them that keeps a shortlist per query, which the kernel then ranks
//! exactly ([`shortlist_search`]: the graph's 8-bit copy, for the long unlinked tail of an
//! index being built, reads a quarter of the bytes).

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

/// Scans comparing at most this many floats of rows (rows x dimensions x queries) run on the
/// calling thread: 8 MiB of rows for one query, about half a millisecond on one core.
///
/// A parallel scan hands its work to rayon's pool and the calling thread sleeps until the pool
/// is done. When the cores are busy (an index build runs beside the queries) the pool's
/// threads wait for a CPU, and the query waited tens of milliseconds for a scan of a few
/// thousand rows (`benches/src/bin/stall.rs` showed the query thread asleep in rayon's
/// `in_worker_cold`, with under 1 ms of its own CPU time). A small scan is not worth the
/// hand-off: the unlinked tail of a building index is at most a few build steps long.
const INLINE_FLOATS: usize = 2 * 1024 * 1024;

/// Which threads a scan runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    /// Rayon's pool for a scan of more than [`INLINE_FLOATS`] floats, the calling thread below.
    Pool,
    /// The calling thread only: the cores are taken by background work, whose threads the
    /// pool's would wait behind (a running thread is not preempted by one waking up before
    /// its slice ends), so handing off costs more than the scan saves.
    Caller,
}

impl Threads {
    /// The most floats a scan compares on the calling thread.
    fn inline_floats(self) -> usize {
        match self {
            Threads::Pool => INLINE_FLOATS,
            Threads::Caller => usize::MAX,
        }
    }
}

/// Where a scan's distances come from.
pub(crate) trait Ranker: Sync {
    /// The distances from `q` to rows `first..first + out.len()`.
    fn block(&self, q: &[f32], first: usize, out: &mut [f32]);
    /// The distances from `q` to the rows `slots`.
    fn at(&self, q: &[f32], slots: &[u64], out: &mut [f32]);
}

/// The scan's own kernel over its f32 rows.
struct Exact<'a>(&'a Scan<'a>);

impl Ranker for Exact<'_> {
    fn block(&self, q: &[f32], first: usize, out: &mut [f32]) {
        let Scan {
            kernel, rows, dim, ..
        } = *self.0;
        kernel.distances(q, &rows[first * dim..(first + out.len()) * dim], out);
    }

    fn at(&self, q: &[f32], slots: &[u64], out: &mut [f32]) {
        self.0.kernel.distances_at(q, self.0.rows, slots, out);
    }
}

/// The `k` nearest live rows to each of the `queries` (back to back), nearest first, on
/// `threads`.
pub(crate) fn exact_search(
    scan: &Scan<'_>,
    queries: &[f32],
    k: usize,
    candidates: Candidates<'_>,
    threads: Threads,
) -> Vec<Vec<Hit>> {
    exact_search_inline_up_to(scan, queries, k, candidates, threads.inline_floats())
}

/// The `k` nearest live rows to each of the `queries`, nearest first with the kernel's exact
/// distances: the candidates ranked by `ranker` (a stand-in for the rows that is cheaper to
/// read), the `keep` best of them per query then ranked by the kernel. It finds what
/// [`exact_search`] finds when the stand-in ranks every true hit among its `keep` best; with
/// `keep` at least the candidate count it is [`exact_search`].
pub(crate) fn shortlist_search(
    scan: &Scan<'_>,
    ranker: &dyn Ranker,
    (queries, k): (&[f32], usize),
    keep: usize,
    candidates: Candidates<'_>,
    threads: Threads,
) -> Vec<Vec<Hit>> {
    let shortlists = scan_with(
        scan,
        ranker,
        queries,
        keep.max(k),
        candidates,
        threads.inline_floats(),
    );
    queries
        .chunks_exact(scan.dim)
        .zip(shortlists)
        .map(|(q, short)| {
            let mut slots: Vec<u64> = short.iter().map(|h| h.slot).collect();
            slots.sort_unstable();
            let exact = Exact(scan);
            let mut hits = scan_with(scan, &exact, q, k, Candidates::Slots(&slots), usize::MAX);
            hits.pop().unwrap_or_default()
        })
        .collect()
}

/// [`exact_search`], scanning on the calling thread when it compares at most `inline_floats`
/// floats (the tests force each path).
fn exact_search_inline_up_to(
    scan: &Scan<'_>,
    queries: &[f32],
    k: usize,
    candidates: Candidates<'_>,
    inline_floats: usize,
) -> Vec<Vec<Hit>> {
    scan_with(scan, &Exact(scan), queries, k, candidates, inline_floats)
}

/// The `k` nearest by `ranker`'s distances, on the calling thread when the scan compares at
/// most `inline_floats` floats.
fn scan_with(
    scan: &Scan<'_>,
    ranker: &dyn Ranker,
    queries: &[f32],
    k: usize,
    candidates: Candidates<'_>,
    inline_floats: usize,
) -> Vec<Vec<Hit>> {
    let Scan {
        kernel: _,
        rows,
        dim,
        ords,
        dead,
        live: _,
    } = *scan;
    let n_queries = queries.len() / dim;
    let block_rows = (ROW_BLOCK_BYTES / (dim * 4)).clamp(1, TASK_ROWS);
    let fresh = || vec![TopK::new(k); n_queries];
    let heaps = match candidates {
        Candidates::All | Candidates::Tail(_) => {
            let n_rows = rows.len() / dim;
            let from = match candidates {
                Candidates::Tail(first) => (first as usize).min(n_rows),
                _ => 0,
            };
            let scan_task = |mut heaps: Vec<TopK>, task: usize| {
                let start = from + task * TASK_ROWS;
                let end = (start + TASK_ROWS).min(n_rows);
                let mut dist = vec![0.0f32; block_rows];
                let mut first = start;
                while first < end {
                    let last = (first + block_rows).min(end);
                    let out = &mut dist[..last - first];
                    for (q, heap) in queries.chunks_exact(dim).zip(heaps.iter_mut()) {
                        ranker.block(q, first, out);
                        offer(heap, out, (first as u64).., ords, dead);
                    }
                    first = last;
                }
                heaps
            };
            let inline = (n_rows - from) * dim * n_queries <= inline_floats;
            run_tasks(
                (n_rows - from).div_ceil(TASK_ROWS),
                inline,
                fresh,
                scan_task,
            )
        }
        Candidates::Slots(slots) => {
            let scan_task = |mut heaps: Vec<TopK>, task: usize| {
                let chunk = &slots[task * TASK_ROWS..((task + 1) * TASK_ROWS).min(slots.len())];
                // The kernel reads the candidates' rows in place, one dispatch per group.
                let mut dist = vec![0.0f32; block_rows];
                for group in chunk.chunks(block_rows) {
                    let out = &mut dist[..group.len()];
                    for (q, heap) in queries.chunks_exact(dim).zip(heaps.iter_mut()) {
                        ranker.at(q, group, out);
                        offer(heap, out, group.iter().copied(), ords, dead);
                    }
                }
                heaps
            };
            let inline = slots.len() * dim * n_queries <= inline_floats;
            run_tasks(slots.len().div_ceil(TASK_ROWS), inline, fresh, scan_task)
        }
    };
    heaps.into_iter().map(TopK::into_sorted).collect()
}

/// Runs `task` for `0..n_tasks`, folding into per-thread heaps from `fresh`: in order on the
/// calling thread when `inline`, else on rayon's pool.
fn run_tasks(
    n_tasks: usize,
    inline: bool,
    fresh: impl Fn() -> Vec<TopK> + Sync + Send,
    task: impl Fn(Vec<TopK>, usize) -> Vec<TopK> + Sync + Send,
) -> Vec<TopK> {
    if inline {
        (0..n_tasks).fold(fresh(), task)
    } else {
        (0..n_tasks)
            .into_par_iter()
            .fold(&fresh, &task)
            .reduce(&fresh, merge_all)
    }
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::distance::Space;

    /// The oracle: every candidate's distance, sorted by (distance, insertion order).
    fn brute_force(scan: &Scan<'_>, q: &[f32], k: usize, slots: &[u64]) -> Vec<Hit> {
        let mut all: Vec<Hit> = slots
            .iter()
            .filter(|&&s| scan.ords[s as usize] != scan.dead)
            .map(|&slot| {
                let row = &scan.rows[slot as usize * scan.dim..(slot as usize + 1) * scan.dim];
                Hit {
                    distance: scan.kernel.distance(q, row),
                    ord: scan.ords[slot as usize],
                    slot,
                }
            })
            .collect();
        all.sort();
        all.truncate(k);
        all
    }

    /// A stand-in ranking that disagrees with the kernel: the exact distance plus a
    /// per-slot offset, so its order is not the kernel's.
    struct Skewed<'a>(&'a Scan<'a>);

    impl Ranker for Skewed<'_> {
        fn block(&self, q: &[f32], first: usize, out: &mut [f32]) {
            let slots: Vec<u64> = (first as u64..(first + out.len()) as u64).collect();
            self.at(q, &slots, out);
        }
        fn at(&self, q: &[f32], slots: &[u64], out: &mut [f32]) {
            Exact(self.0).at(q, slots, out);
            for (d, &s) in out.iter_mut().zip(slots) {
                *d += ((s * 2_654_435_761) % 17) as f32;
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The calling-thread scan and the pool's scan give the oracle's answer, for every kind
        /// of candidates, across several tasks and with dead slots.
        #[test]
        fn inline_and_parallel_scans_agree_with_brute_force(
            n in 1usize..(3 * TASK_ROWS),
            dim in 1usize..12,
            n_queries in 1usize..4,
            k in 1usize..20,
            seed in any::<u64>(),
            tail_at in 0usize..(3 * TASK_ROWS),
        ) {
            // Small integers: distances tie often, so insertion order decides.
            let mut x = seed | 1;
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 7) as f32 - 3.0
            };
            let rows: Vec<f32> = (0..n * dim).map(|_| next()).collect();
            let queries: Vec<f32> = (0..n_queries * dim).map(|_| next()).collect();
            let dead = u64::MAX;
            let ords: Vec<u64> = (0..n as u64)
                .map(|s| if s % 5 == 3 { dead } else { n as u64 - s })
                .collect();
            let kernel = Kernel::new(Space::L2).expect("the L2 kernel exists on every CPU");
            let scan = Scan { kernel, rows: &rows, dim, ords: &ords, dead, live: None };
            let tail = tail_at.min(n) as u64;
            let picked: Vec<u64> = (0..n as u64).filter(|s| s % 3 != 1).collect();
            let cases: [(Candidates<'_>, Vec<u64>); 3] = [
                (Candidates::All, (0..n as u64).collect()),
                (Candidates::Tail(tail), (tail..n as u64).collect()),
                (Candidates::Slots(&picked), picked.clone()),
            ];
            for (candidates, slots) in cases {
                let want: Vec<Vec<Hit>> = queries
                    .chunks_exact(dim)
                    .map(|q| brute_force(&scan, q, k, &slots))
                    .collect();
                let inline = exact_search_inline_up_to(&scan, &queries, k, candidates, usize::MAX);
                let parallel = exact_search_inline_up_to(&scan, &queries, k, candidates, 0);
                prop_assert_eq!(&inline, &want, "inline, {:?}", candidates);
                prop_assert_eq!(&parallel, &want, "parallel, {:?}", candidates);
                // Ranked by the kernel itself, a shortlist of k already holds the answer; by a
                // ranking that disagrees, one of every candidate still does.
                for threads in [Threads::Pool, Threads::Caller] {
                    let own = shortlist_search(&scan, &Exact(&scan), (&queries, k), k, candidates, threads);
                    prop_assert_eq!(&own, &want, "shortlist by the kernel, {:?} {:?}", candidates, threads);
                    let skewed = shortlist_search(&scan, &Skewed(&scan), (&queries, k), slots.len(), candidates, threads);
                    prop_assert_eq!(&skewed, &want, "shortlist of all by a skewed ranking, {:?} {:?}", candidates, threads);
                    let on = exact_search(&scan, &queries, k, candidates, threads);
                    prop_assert_eq!(&on, &want, "exact on {:?}, {:?}", threads, candidates);
                }
            }
        }
    }
}
