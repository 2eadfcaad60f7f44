//! Ranking rows by the graph's 8-bit copy alone, for a scan that the exact kernel then
//! re-ranks ([`shortlist_search`](crate::search::exact::shortlist_search)). The unlinked tail of
//! an index being built is scanned this way: the copy is encoded for every row before linking
//! starts, and reading it is a quarter of the bytes of the f32 rows, so a query during a build
//! pays a quarter of the scan it used to (and leaves the cores to the build sooner).

use super::{CodedRows, Hnsw, Point, Rows};
use crate::search::exact::{Ranker, Scan};

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
