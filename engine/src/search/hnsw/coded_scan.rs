//! Ranking rows by the graph's 8-bit copy alone, for a scan that the exact kernel then
//! re-ranks ([`shortlist_search`](crate::search::exact::shortlist_search)). The unlinked tail of
//! an index being built is scanned this way: the copy is encoded for every row before linking
//! starts, and reading it is a quarter of the bytes of the f32 rows, so a query during a build
//! pays a quarter of the scan it used to (and leaves the cores to the build sooner).

use rayon::prelude::*;

use super::{CodedRows, Hnsw, PREFETCH_AHEAD, Point, Rows};
use crate::distance::Space;
use crate::search::Hit;
use crate::search::exact::{Candidates, Ranker, Scan, Threads, exact_search};
use crate::search::topk::TopK;

/// Rows ranked by the 8-bit copy: see [`Hnsw::coded_ranker`].
pub(crate) struct CodedRanker<'a> {
    /// The rows with their copy (`coded` is set), for [`Rows::query`].
    rows: Rows<'a>,
    coded: CodedRows<'a>,
}

impl Hnsw {
    /// A ranker for the rows of `scan` by this graph's 8-bit copy, when the copy covers every
    /// one of them (with the norms their space needs); `None` sends the caller to the exact
    /// scan.
    pub(crate) fn coded_ranker<'a>(&'a self, scan: &Scan<'a>) -> Option<CodedRanker<'a>> {
        let n = scan.rows.len().checked_div(scan.dim)?;
        let coded = self.walk.view(scan.dim, n)?;
        let rows = Rows {
            kernel: scan.kernel,
            data: scan.rows,
            dim: scan.dim,
            inv_norms: None,
            coded: Some(coded),
        };
        Some(CodedRanker { rows, coded })
    }

    /// Whether [`Hnsw::coded_ranker`] gives a ranker for `rows` rows of `dim` floats, before
    /// they are mapped: whether the copy covers them.
    pub(crate) fn coded_ranker_covers(&self, dim: usize, rows: u64) -> bool {
        usize::try_from(rows).is_ok_and(|n| self.walk.view(dim, n).is_some())
    }
}

impl CodedRanker<'_> {
    /// The distance from `q` to row `slot` by the copy and its norms alone.
    #[inline]
    fn distance(&self, q: Point<'_>, slot: usize) -> f32 {
        self.rows.coded_distance(&self.coded, q, slot as u32)
    }
}

impl Ranker for CodedRanker<'_> {
    // The query's sum and norm are computed per block of rows: two passes over `dim` floats
    // against a block's 64-odd rows, a few per cent.
    fn block(&self, q: &[f32], first: usize, out: &mut [f32]) {
        let q = self.rows.query(q);
        for (i, d) in out.iter_mut().enumerate() {
            *d = self.distance(q, first + i);
        }
    }

    fn at(&self, q: &[f32], slots: &[u64], out: &mut [f32]) {
        let q = self.rows.query(q);
        for (&slot, d) in slots.iter().zip(out) {
            *d = self.distance(q, slot as usize);
        }
    }
}

/// Candidates past which a bounded scan on the pool is split between its threads.
const BOUNDED_PIECE: usize = 8192;

impl CodedRanker<'_> {
    /// The exact `k` nearest of `candidates` to each of `queries`, as [`exact_search`] finds
    /// them (the same hits, distances and order), reading the f32 rows of only the few that
    /// can be among them.
    ///
    /// The copy gives each candidate a distance `d` and a bound `b` on how far the exact
    /// kernel's distance can be from it (the row's quantization step, the query's L1 norm and
    /// the floating-point error of both, [`CodedRanker::error_bound`]). The `k` smallest
    /// `d + b` bound the `k`-th exact distance from above by `t`; a candidate whose `d - b`
    /// exceeds `t` is farther than `k` others for certain, so only the rest are ranked
    /// exactly. A row whose bound is unknown (a constant row's step is 0) is always ranked
    /// exactly, as is everything for a query holding a value that is not finite.
    pub(crate) fn bounded_search(
        &self,
        scan: &Scan<'_>,
        queries: &[f32],
        k: usize,
        candidates: Candidates<'_>,
        threads: Threads,
    ) -> Vec<Vec<Hit>> {
        let exact_one = |q: &[f32], among: Candidates<'_>| {
            exact_search(scan, q, k, among, Threads::Caller)
                .pop()
                .unwrap_or_default()
        };
        if k == 0 {
            return exact_search(scan, queries, k, candidates, threads);
        }
        let dim = scan.dim;
        let n = scan.rows.len().checked_div(dim).unwrap_or(0);
        // The candidates as a list the pieces split, once for the whole batch.
        let slots: Vec<u64> = match candidates {
            Candidates::Slots(s) => s.to_vec(),
            Candidates::All | Candidates::Tail(_) => {
                let from = match candidates {
                    Candidates::Tail(f) => f,
                    _ => 0,
                };
                (from..n as u64)
                    .filter(|&s| scan.ords.get(s as usize).is_some_and(|&o| o != scan.dead))
                    .collect()
            }
        };
        let one = |q: &[f32], parallel: bool| -> Vec<Hit> {
            if !q.iter().all(|x| x.is_finite()) {
                return exact_one(q, candidates);
            }
            let point = self.rows.query(q);
            let q_l1: f32 = q.iter().map(|x| x.abs()).sum();
            let piece = |part: &[u64]| self.shortlist(point, q_l1, k, part);
            let pieces: Vec<Shortlist> = if parallel && slots.len() > BOUNDED_PIECE {
                // One piece per thread of the pool: the pieces cost the same.
                let per = slots
                    .len()
                    .div_ceil(rayon::current_num_threads())
                    .max(BOUNDED_PIECE / 2);
                slots.par_chunks(per).map(piece).collect()
            } else {
                vec![piece(&slots)]
            };
            let t = pieces
                .iter()
                .fold(TopK::new(k), |all, p| all.merge(p.uppers.clone()))
                .threshold();
            let mut near: Vec<u64> = pieces
                .iter()
                .flat_map(|p| p.near.iter())
                .filter(|&&(lower, _)| lower <= t)
                .map(|&(_, slot)| slot)
                .collect();
            near.sort_unstable();
            exact_one(q, Candidates::Slots(&near))
        };
        let queries: Vec<&[f32]> = queries.chunks_exact(dim).collect();
        match (threads, queries.len()) {
            (Threads::Pool, 2..) => queries.par_iter().map(|q| one(q, false)).collect(),
            (Threads::Pool, _) => queries.iter().map(|q| one(q, true)).collect(),
            (Threads::Caller, _) => queries.iter().map(|q| one(q, false)).collect(),
        }
    }

    /// The `k` smallest upper bounds among `part`'s rows, and the rows whose lower bound
    /// does not exceed the `k`-th of them as the scan went (a superset of those that pass the
    /// final cut, which can only be lower).
    fn shortlist(&self, q: Point<'_>, q_l1: f32, k: usize, part: &[u64]) -> Shortlist {
        // The upper bounds as hits (the slot for the order): the threshold is the cut.
        let mut uppers = TopK::new(k);
        let mut near: Vec<(f32, u64)> = Vec::new();
        for (i, &slot) in part.iter().enumerate() {
            // The candidates are scattered rows: ask for the rows ahead, as the walk does.
            if let Some(&next) = part.get(i + PREFETCH_AHEAD) {
                self.rows.prefetch(next as u32);
            }
            let d = self.distance(q, slot as usize);
            let b = self.error_bound(q, q_l1, slot as usize, d);
            // A NaN bound is no bound: the row is kept and does not tighten the cut (the
            // threshold is never NaN: infinity or one of the finite uppers).
            let (lower, upper) = (d - b, d + b);
            let (lower, upper) = if lower.is_nan() || upper.is_nan() {
                (f32::NEG_INFINITY, f32::INFINITY)
            } else {
                (lower, upper)
            };
            let t = uppers.threshold();
            if lower > t {
                continue;
            }
            near.push((lower, slot));
            if upper.is_finite() && upper < t {
                uppers.push(Hit {
                    distance: upper,
                    ord: slot,
                    slot,
                });
            }
            // Keep the list short once the cut has settled.
            if near.len() >= 4 * k + 1024 {
                let t = uppers.threshold();
                near.retain(|&(lower, _)| lower <= t);
            }
        }
        Shortlist { uppers, near }
    }

    /// How far the exact kernel's distance from `q` to row `slot` can be from the copy's `d`.
    ///
    /// Each value of the row is decoded within half a step of the f32 value (rounding to the
    /// nearest code), so the dot product with `q` is within `|q|_1 * step / 2`; the terms of
    /// `2e-4 * (|lo| + 256 step)` per unit of `|q|_1` cover the floating-point error of the
    /// encoding, the decoding and both kernels' sums over up to a few thousand values (each
    /// at most `dim * 2^-24` relative, here several times over). Each space's distance is
    /// an affine function of the dot product with exactly known norms: the bound scales
    /// with the factor and gets an allowance for the rounding of that last step. A row with
    /// step 0 (constant, or a range too wide for the encoding) has no bound: infinity.
    fn error_bound(&self, q: Point<'_>, q_l1: f32, slot: usize, d: f32) -> f32 {
        let m = self.coded.meta[slot];
        if m.step <= 0.0 || !m.step.is_finite() {
            return f32::INFINITY;
        }
        let per_value = 0.5001 * m.step + 2e-4 * (m.lo.abs() + 256.0 * m.step);
        let dot = q_l1 * per_value;
        match self.rows.kernel.space() {
            Space::Cosine => dot * q.inv_norm * m.norm + 1e-5 * (1.0 + d.abs()),
            Space::Ip => dot + 1e-5 * (1.0 + d.abs()),
            Space::L2 => 2.0 * dot + 1e-4 * (q.sq_norm + m.norm + d.abs()) + 1e-6,
        }
    }
}

/// One piece of a bounded scan: see [`CodedRanker::shortlist`].
struct Shortlist {
    /// The `k` smallest upper bounds, as hits.
    uppers: TopK,
    near: Vec<(f32, u64)>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::BOUNDED_PIECE;
    use crate::distance::{Kernel, Space};
    use crate::scheduler::Share;
    use crate::search::exact::{Candidates, Scan, Threads, exact_search};
    use crate::search::{Hnsw, HnswParams, WalkCopy};

    /// Seeded values in [-1, 1).
    fn values(seed: u64) -> impl FnMut() -> f32 {
        let mut x = seed | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        }
    }

    /// Rows of one of four kinds: spread at `scale`; a few tight clusters (neighbours closer
    /// than the copy's step, so the copy alone cannot order them); exact duplicates (ties
    /// broken by insertion order); spread rows among constant and zero ones.
    fn rows(kind: u8, n: usize, dim: usize, scale: f32, seed: u64) -> Vec<f32> {
        let mut next = values(seed);
        let centres: Vec<f32> = (0..4 * dim).map(|_| next() * scale).collect();
        (0..n)
            .flat_map(|i| {
                let row: Vec<f32> = match kind {
                    0 => (0..dim).map(|_| next() * scale).collect(),
                    1 => {
                        let c = &centres[(i % 4) * dim..(i % 4 + 1) * dim];
                        c.iter().map(|&v| v + next() * scale * 1e-3).collect()
                    }
                    2 => {
                        let c = &centres[(i % 4) * dim..(i % 4 + 1) * dim];
                        c.to_vec()
                    }
                    _ => match i % 5 {
                        0 => vec![0.0; dim],
                        1 => vec![scale * 0.5; dim],
                        _ => (0..dim).map(|_| next() * scale).collect(),
                    },
                };
                row
            })
            .collect()
    }

    /// The worst case of the bound: every value of row A lies just under half a step above
    /// a code, so its 8-bit copy rounds each one down and the copy's dot product with an
    /// all-ones query falls short by almost `|q|_1 * step / 2`. Row B's copy is exact (its
    /// range, and so its step, is tiny) and its dot product lies between A's copy's and A's
    /// own: the copy ranks B first, the exact kernel A. A bound under about 0.35 of a step
    /// per value would rule A out and return B.
    #[test]
    fn the_bound_holds_where_every_value_rounds_the_same_way() {
        const DIM: usize = 64;
        let step = 1.0f32 / 255.0;
        let mut a = vec![(100.0 + 0.499) * step; DIM];
        (a[0], a[1]) = (0.0, 1.0);
        let copy_dot = (255.0 + 100.0 * (DIM - 2) as f32) * step;
        let between = copy_dot + 0.4 * (DIM - 2) as f32 * step;
        let eta = 1e-4;
        let v = (between - eta) / DIM as f32;
        let mut b = vec![v; DIM];
        b[1] += eta;
        let data: Vec<f32> = a.iter().chain(&b).copied().collect();
        let ords = [0u64, 1];
        let kernel = Kernel::new(Space::Ip).expect("every CPU has the kernels");
        let scan = Scan {
            kernel,
            rows: &data,
            dim: DIM,
            ords: &ords,
            dead: u64::MAX,
            live: None,
        };
        let q = vec![1.0f32; DIM];
        let want = exact_search(&scan, &q, 1, Candidates::All, Threads::Caller);
        assert_eq!(want[0][0].slot, 0, "A is the nearest by the f32 rows");
        let mut g = Hnsw::new(Space::Ip, HnswParams::default()).expect("default parameters");
        g.walk
            .append(WalkCopy::encode(&data, DIM, Space::Ip, Share::all()));
        let ranker = g.coded_ranker(&scan).expect("the copy covers every row");
        let point = ranker.rows.query(&q);
        assert!(
            ranker.distance(point, 1) < ranker.distance(point, 0),
            "the copy ranks B first"
        );
        let got = ranker.bounded_search(&scan, &q, 1, Candidates::All, Threads::Caller);
        assert_eq!(got, want);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The bounded scan gives the exact scan's hits, distances and order, in every space,
        /// for every kind of candidates, on either threads, with dead slots, whatever the
        /// rows: where the copy ranks them wrongly (clusters tighter than its step), where
        /// they tie, where it has no bound (constant rows), and for a query that is a row.
        #[test]
        fn the_bounded_scan_is_the_exact_scan(
            space in prop_oneof![Just(Space::L2), Just(Space::Ip), Just(Space::Cosine)],
            kind in 0u8..4,
            n in 1usize..(2 * BOUNDED_PIECE + 300),
            dim in 1usize..24,
            scale_exp in -3i32..4,
            n_queries in 1usize..4,
            k in 1usize..25,
            seed in any::<u64>(),
            which in 0u8..3,
            dead_every in 2u64..9,
            pool in any::<bool>(),
        ) {
            let scale = 10f32.powi(scale_exp);
            let data = rows(kind, n, dim, scale, seed);
            let mut next = values(seed ^ 0x5555);
            let mut queries: Vec<f32> = (0..n_queries * dim).map(|_| next() * scale).collect();
            // The first query is a row, nudged: its own row is its nearest.
            for (q, r) in queries.iter_mut().zip(&data[..dim]) {
                *q = r + next() * scale * 1e-4;
            }
            let ords: Vec<u64> = (0..n as u64)
                .map(|s| if s % dead_every == 1 { u64::MAX } else { s })
                .collect();
            let kernel = Kernel::new(space).expect("every CPU has the kernels");
            let scan = Scan {
                kernel,
                rows: &data,
                dim,
                ords: &ords,
                dead: u64::MAX,
                live: None,
            };
            let picked: Vec<u64> = (0..n as u64)
                .filter(|&s| ords[s as usize] != u64::MAX && s % 3 != 2)
                .collect();
            let candidates = match which {
                0 => Candidates::All,
                1 => Candidates::Tail(n as u64 / 3),
                _ => Candidates::Slots(&picked),
            };
            let mut g = Hnsw::new(space, HnswParams::default()).expect("default parameters");
            g.walk.append(WalkCopy::encode(&data, dim, space, Share::all()));
            let ranker = g.coded_ranker(&scan).expect("the copy covers every row");
            let threads = if pool { Threads::Pool } else { Threads::Caller };
            let want = exact_search(&scan, &queries, k, candidates, threads);
            let got = ranker.bounded_search(&scan, &queries, k, candidates, threads);
            prop_assert_eq!(got, want);
        }
    }
}
