//! The unlinked tail's search against the exact scan, however much of it the walk copy covers.

use super::{CODED_TAIL_MIN, Tail};
use crate::distance::{Kernel, Space};
use crate::scheduler::Share;
use crate::search::{
    Candidates, Hit, Hnsw, HnswParams, HnswRows, Scan, Threads, WalkCopy, exact_search,
};

const DIM: usize = 16;
const LINKED: usize = 2_000;
const SLOTS: usize = LINKED + 3 * CODED_TAIL_MIN as usize;

/// Seeded rows in [-1, 1) with dead slots every 7th: a xorshift generator, enough to spread
/// the points.
fn rows_and_ords() -> (Vec<f32>, Vec<u64>) {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    };
    let rows = (0..(SLOTS + 8) * DIM).map(|_| next()).collect();
    let ords = (0..SLOTS as u64)
        .map(|s| if s % 7 == 3 { u64::MAX } else { s })
        .collect();
    (rows, ords)
}

/// A graph over the first `LINKED` rows whose walk copy covers the first `covered`.
fn graph(space: Space, rows: &[f32], covered: usize) -> Hnsw {
    let kernel = Kernel::new(space).expect("every CPU has the kernels");
    let mut g = Hnsw::new(space, HnswParams::default()).expect("default parameters");
    let linked = HnswRows {
        kernel,
        data: &rows[..LINKED * DIM],
        dim: DIM,
        inv_norms: None,
        coded: None,
    };
    g.insert(linked, LINKED as u32).expect("insert");
    assert_eq!(
        g.walk.len(),
        LINKED,
        "insert encodes the copy of what it links"
    );
    g.walk.append(WalkCopy::encode(
        &rows[LINKED * DIM..covered * DIM],
        DIM,
        space,
        Share::all(),
    ));
    g
}

fn recall(got: &[Vec<Hit>], want: &[Vec<Hit>]) -> f64 {
    let found: usize = got
        .iter()
        .zip(want)
        .map(|(g, w)| {
            g.iter()
                .filter(|h| w.iter().any(|x| x.slot == h.slot))
                .count()
        })
        .sum();
    found as f64 / want.iter().map(Vec::len).sum::<usize>() as f64
}

/// Whatever the copy covers (nothing past the linked rows, a part of the tail too short to
/// rank by it, a long part, all of it, more than the snapshot), with or without an
/// allow-list and on either threads: a shortlist of every candidate gives the exact scan's
/// hits and distances, and one of 40 finds at least 98 % of them with exact distances.
#[test]
fn the_tail_search_matches_the_exact_scan_however_much_the_copy_covers() {
    let (rows, ords) = rows_and_ords();
    let picked: Vec<u64> = (0..SLOTS as u64)
        .filter(|s| s % 3 != 1 && s % 7 != 3)
        .collect();
    let queries: Vec<f32> = rows[..20 * DIM].iter().map(|v| v * 0.9 + 0.05).collect();
    let k = 10;
    for space in [Space::L2, Space::Ip, Space::Cosine] {
        let scan = Scan {
            kernel: Kernel::new(space).expect("every CPU has the kernels"),
            rows: &rows[..SLOTS * DIM],
            dim: DIM,
            ords: &ords,
            dead: u64::MAX,
            live: None,
        };
        let short = LINKED + CODED_TAIL_MIN as usize / 2;
        let long = LINKED + 2 * CODED_TAIL_MIN as usize;
        for covered in [LINKED, short, long, SLOTS, SLOTS + 8] {
            let g = graph(space, &rows, covered);
            let past: Vec<u64> = picked
                .iter()
                .copied()
                .filter(|&s| s >= LINKED as u64)
                .collect();
            for (allowed, all) in [
                (None, Candidates::Tail(LINKED as u64)),
                (Some(&picked[..]), Candidates::Slots(&past)),
            ] {
                let tail = Tail {
                    scan,
                    from: LINKED as u64,
                    allowed,
                };
                let want = exact_search(&scan, &queries, k, all, Threads::Pool);
                for threads in [Threads::Pool, Threads::Caller] {
                    let what = format!("{space:?}, copy of {covered}, {all:?}, {threads:?}");
                    let whole = tail.search(&g, (&queries, k), SLOTS, threads);
                    assert_eq!(whole, want, "{what}: a shortlist of every candidate");
                    let got = tail.search(&g, (&queries, k), 40, threads);
                    let r = recall(&got, &want);
                    assert!(r >= 0.98, "{what}: recall@10 {r}");
                    for (got, want) in got.iter().zip(&want) {
                        for hit in got {
                            if let Some(exact) = want.iter().find(|h| h.slot == hit.slot) {
                                assert_eq!(hit, exact, "{what}: distances are the exact ones");
                            }
                        }
                    }
                }
            }
        }
    }
}
