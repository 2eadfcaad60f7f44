//! HNSW (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
//! Hierarchical Navigable Small World graphs", 2016): a graph index over rows stored elsewhere.
//!
//! The graph holds links only. Node ids are slot numbers (`u32`): node `s` is the row at slot
//! `s` of the collection's vector segment, so the graph covers the slot prefix `0..len()` and
//! grows by appending slots, as the segment does. Vectors are passed in on every call
//! ([`Rows`], or the exact path's [`Scan`](super::Scan) for queries), which keeps the file
//! dimension-independent and lets the same mapping serve both search paths; the graph also
//! keeps an in-memory 8-bit copy of them that the walk reads instead ([`WalkCopy`]).
//!
//! * `graph.rs`: parameters, storage of the links, level assignment, (parallel) insertion and
//!   the neighbour-selection heuristic (the paper's algorithm 4).
//! * `search.rs`: greedy descent on upper layers, beam search with `ef` on layer 0, tombstones
//!   and allow-lists.
//! * `file.rs`: the on-disk format.
//! * `walk_copy.rs`: the 8-bit copy of the rows (never saved).
//! * `coded_scan.rs`: ranking rows by that copy alone, for the scan of the unlinked tail.
//! * `huge_pages.rs`: 2 MiB pages asked for the copy and the layer-0 links.
//!
//! Tombstones are not the graph's business: a deleted record's slot stays in the graph (it is
//! still a useful waypoint) and the query path drops it through the `ords` table, exactly as
//! the exact scan does.

mod coded_scan;
mod file;
mod graph;
mod huge_pages;
mod links;
mod search;
#[cfg(test)]
mod tests;
mod walk_copy;

pub(crate) use graph::{Hnsw, HnswParams};
pub(crate) use walk_copy::WalkCopy;

use crate::distance::sq8::decode;
use crate::distance::{Kernel, Space, prefetch};

/// How many rows ahead of the one being measured the walk asks for ([`Rows::prefetched`]).
/// A row of the 8-bit copy is 6-7 cache lines and a walk is bound by waiting for them: with
/// one row ahead the memory system has one row in flight; with 16 it has most of a
/// neighbour list's. Measured with `hnsw_report` on synthetic-100k (2 shared cores): query
/// p50 at ef 16 0.064 -> 0.039 ms and the build's CPU time 33.4 -> 25.9 s against one row
/// ahead (4 and 8 rows ahead land in between).
const PREFETCH_AHEAD: usize = 16;

/// The vectors a graph is built over: `dim` floats per row, slot `s` at `s * dim`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    /// The distance the graph is built for (its space must be the graph's).
    pub(crate) kernel: Kernel,
    /// The rows, back to back.
    pub(crate) data: &'a [f32],
    /// Floats per row.
    pub(crate) dim: usize,
    /// For cosine: `1 / |row|` per slot (0 for a zero row), so a comparison is one dot
    /// product instead of a dot product and two norms. `None` computes them as needed.
    pub(crate) inv_norms: Option<&'a [f32]>,
    /// The graph's 8-bit copy of the rows (covering every node), which the walk reads
    /// instead of `data` when present: see [`WalkCopy`]. Set by the graph itself.
    pub(crate) coded: Option<CodedRows<'a>>,
}

/// A [`WalkCopy`] as the walk reads it: row `s` is about `lo + step * codes[s * dim..]`
/// with `lo` and `step` from `meta[s]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodedRows<'a> {
    codes: &'a [u8],
    meta: &'a [RowMeta],
}

/// What a comparison with a row of the 8-bit copy needs besides its codes, per row.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[repr(C, align(16))]
pub(crate) struct RowMeta {
    /// The row's minimum: value `i` is about `lo + step * code_i`.
    lo: f32,
    /// The row's range / 255.
    step: f32,
    /// The sum of its codes (exact in an f32: at most 65,536 x 255 < 2^24).
    sum: f32,
    /// Per space: `1 / |row|` for cosine (0 for a zero row), `|row|^2` for l2, 0 for ip;
    /// from the f32 row by [`inv_norm`] / `sq_norm`, as the graph's cache of inverse norms is.
    norm: f32,
}

/// A vector and, for cosine, its inverse norm; when the walk reads coded rows, the sum of
/// its values (for `lo * sum(q)`) and, for l2, its squared norm.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Point<'a> {
    v: &'a [f32],
    inv_norm: f32,
    sum: f32,
    sq_norm: f32,
}

/// A node of the graph as one side of a comparison between two nodes ([`Rows::between`]).
#[derive(Debug, Clone, Copy)]
pub(super) enum Node<'a> {
    /// Its row in the 8-bit copy, compared with another's codes as integers.
    Coded(CodedNode<'a>),
    /// Its f32 row (no copy covers it).
    Row(Point<'a>),
}

/// A row of the 8-bit copy with what a comparison needs besides its codes.
#[derive(Debug, Clone, Copy)]
pub(super) struct CodedNode<'a> {
    codes: &'a [u8],
    lo: f32,
    step: f32,
    /// The sum of its codes.
    sum: f32,
    /// `1 / |row|` for cosine, else 0.
    inv_norm: f32,
    /// `|row|^2` for l2, else 0.
    sq_norm: f32,
}

impl<'a> Rows<'a> {
    /// Row `slot`. Callers pass only slots below the graph's length, which the graph's caller
    /// guarantees are covered by `data`.
    #[inline]
    fn row(&self, slot: u32) -> &'a [f32] {
        let start = slot as usize * self.dim;
        &self.data[start..start + self.dim]
    }

    /// Row `slot` as a point for the f32 walk ([`Rows::distance`]), which needs neither the
    /// sum nor the squared norm: with a coded copy the walk goes through [`Rows::point_in`].
    #[inline]
    fn point(&self, slot: u32) -> Point<'a> {
        let v = self.row(slot);
        Point {
            v,
            inv_norm: self.inv_norm_of(slot, v),
            sum: 0.0,
            sq_norm: 0.0,
        }
    }

    /// Row `slot` as a point, decoded from the 8-bit copy into `buf` when there is one (6
    /// cache lines to read instead of 24 for 384 floats), else the f32 row.
    #[inline]
    fn point_in<'b>(&self, slot: u32, buf: &'b mut Vec<f32>) -> Point<'b>
    where
        'a: 'b,
    {
        let Node::Coded(n) = self.node(slot) else {
            return self.point(slot);
        };
        buf.resize(self.dim, 0.0);
        decode(n.codes, n.lo, n.step, buf);
        Point {
            inv_norm: n.inv_norm,
            v: buf,
            // The sum of the decoded values from the codes' integer sum: a float sum in order
            // would be a chain of `dim` dependent additions.
            sum: self.dim as f32 * n.lo + n.step * n.sum,
            sq_norm: n.sq_norm,
        }
    }

    /// Node `slot` as one side of [`Rows::between`]: its codes when the copy covers it (no
    /// decoding), else its f32 row.
    #[inline]
    pub(super) fn node(&self, slot: u32) -> Node<'a> {
        let Some(c) = self.coded else {
            return Node::Row(self.point(slot));
        };
        let s = slot as usize;
        let m = c.meta[s];
        let (inv_norm, sq_norm) = match self.kernel.space() {
            Space::Cosine => (m.norm, 0.0),
            Space::L2 => (0.0, m.norm),
            Space::Ip => (0.0, 0.0),
        };
        Node::Coded(CodedNode {
            codes: &c.codes[s * self.dim..(s + 1) * self.dim],
            lo: m.lo,
            step: m.step,
            sum: m.sum,
            inv_norm,
            sq_norm,
        })
    }

    /// The distance between two nodes (both from [`Rows::node`] on these rows). Through the
    /// copy, with `x = lo + step * c` per row, `a . b` is
    /// `n lo_a lo_b + lo_a step_b sum(c_b) + lo_b step_a sum(c_a) + step_a step_b (c_a . c_b)`,
    /// the last an integer dot product; summed in f64, as its terms can be much larger than
    /// the result. It is the dot product of the decoded rows, which the walk's distances
    /// approximate too.
    #[inline]
    pub(super) fn between(&self, a: &Node<'_>, b: &Node<'_>) -> f32 {
        let (a, b) = match (a, b) {
            (Node::Coded(a), Node::Coded(b)) => (a, b),
            (Node::Row(a), Node::Row(b)) => return self.distance(*a, *b),
            // `node` gives one kind for all the nodes of one `Rows`.
            (Node::Coded(_), Node::Row(_)) | (Node::Row(_), Node::Coded(_)) => {
                unreachable!("nodes of different rows")
            }
        };
        let codes = self.kernel.dot_code_pair(a.codes, b.codes) as f64;
        let (lo_a, lo_b) = (f64::from(a.lo), f64::from(b.lo));
        let (step_a, step_b) = (f64::from(a.step), f64::from(b.step));
        let dot = (a.codes.len() as f64 * lo_a * lo_b
            + lo_a * step_b * f64::from(b.sum)
            + lo_b * step_a * f64::from(a.sum)
            + step_a * step_b * codes) as f32;
        match self.kernel.space() {
            Space::Cosine => 1.0 - dot * a.inv_norm * b.inv_norm,
            Space::Ip => 1.0 - dot,
            Space::L2 => (a.sq_norm + b.sq_norm - 2.0 * dot).max(0.0),
        }
    }

    /// `1 / |row|` of `slot` (row `v`) for cosine, from the cached norms when there are some.
    #[inline]
    fn inv_norm_of(&self, slot: u32, v: &[f32]) -> f32 {
        match (self.kernel.space(), self.inv_norms) {
            (Space::Cosine, Some(n)) => n[slot as usize],
            (Space::Cosine, None) => inv_norm(v),
            _ => 0.0,
        }
    }

    /// `ids` in order, each yielded once the row [`PREFETCH_AHEAD`] places after it has been
    /// asked for: the rows are scattered through memory, so the walk then waits on memory
    /// less often, with many rows in flight at once instead of one.
    #[inline]
    fn prefetched<'b>(self, ids: &'b [u32]) -> impl Iterator<Item = u32> + 'b
    where
        'a: 'b,
    {
        let ahead = PREFETCH_AHEAD;
        for &id in ids.iter().take(ahead) {
            self.prefetch(id);
        }
        ids.iter().enumerate().map(move |(i, &id)| {
            if let Some(&next) = ids.get(i + ahead) {
                self.prefetch(next);
            }
            id
        })
    }

    /// Hints the CPU to start loading row `slot` (and its norm) into cache.
    #[inline]
    fn prefetch(&self, slot: u32) {
        let start = slot as usize * self.dim;
        if let Some(c) = self.coded {
            // The copy holds the norms too: the walk's cache of them is not read.
            if let Some(row) = c.codes.get(start..start + self.dim) {
                prefetch(row);
            }
            if let Some(m) = c.meta.get(slot as usize) {
                prefetch(std::slice::from_ref(m));
            }
            return;
        }
        if let Some(row) = self.data.get(start..start + self.dim) {
            prefetch(row);
        }
        if let Some(n) = self.inv_norms.and_then(|n| n.get(slot as usize)) {
            prefetch(std::slice::from_ref(n));
        }
    }

    /// A query vector as a point.
    fn query<'q>(&self, v: &'q [f32]) -> Point<'q> {
        let inv_norm = if self.kernel.space() == Space::Cosine {
            inv_norm(v)
        } else {
            0.0
        };
        // What the coded walk needs besides (`distance_to`).
        let coded = self.coded.is_some();
        Point {
            v,
            inv_norm,
            sum: if coded { sum(v) } else { 0.0 },
            sq_norm: if coded && self.kernel.space() == Space::L2 {
                sq_norm(v)
            } else {
                0.0
            },
        }
    }

    /// How many whole rows `data` holds.
    fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(usize::MAX)
    }

    /// The distance between two points in the graph's space. Cosine is computed from the dot
    /// product and the inverse norms: `1 - a.b / (|a| |b|)`, exactly 1 when either is zero
    /// (as Chroma's definition gives). It may differ from the exact kernel in the last bits;
    /// the collection reports the exact kernel's distances for the hits it returns.
    #[inline]
    fn distance(&self, a: Point<'_>, b: Point<'_>) -> f32 {
        if self.kernel.space() == Space::Cosine {
            1.0 - dot(self.kernel, a.v, b.v) * a.inv_norm * b.inv_norm
        } else {
            self.kernel.distance(a.v, b.v)
        }
    }

    /// The distance from `a` to row `slot`, read from the 8-bit copy when there is one:
    /// `a . row = lo * sum(a) + step * (a . codes)`, and every space's distance from that and
    /// the norms. For l2 that is `|a|^2 + |row|^2 - 2 a.row`, clamped at 0. The walk only
    /// ranks with these; the beam is re-ranked with exact distances.
    #[inline]
    fn distance_to(&self, a: Point<'_>, slot: u32) -> f32 {
        let Some(c) = self.coded else {
            return self.distance(a, self.point(slot));
        };
        self.coded_distance(&c, a, slot)
    }

    /// [`distance_to`](Rows::distance_to) through the copy `c`, the row's norm taken from the
    /// copy too (the scan of unlinked rows, `coded_scan.rs`, reads nothing else).
    #[inline]
    fn coded_distance(&self, c: &CodedRows<'_>, a: Point<'_>, slot: u32) -> f32 {
        let s = slot as usize;
        let m = c.meta[s];
        let dot = m.lo * a.sum
            + m.step
                * self
                    .kernel
                    .dot_codes(a.v, &c.codes[s * self.dim..(s + 1) * self.dim]);
        match self.kernel.space() {
            Space::Cosine => 1.0 - dot * a.inv_norm * m.norm,
            Space::Ip => 1.0 - dot,
            Space::L2 => (a.sq_norm + m.norm - 2.0 * dot).max(0.0),
        }
    }
}

/// `|v|^2`.
fn sq_norm(v: &[f32]) -> f32 {
    lanes(v, |x| x * x)
}

/// The sum of `v`'s values.
fn sum(v: &[f32]) -> f32 {
    lanes(v, |x| x)
}

/// `sum(f(x))` in eight running sums, so the loop vectorises (a sum in order cannot: every
/// addition waits for the one before).
#[inline]
fn lanes(v: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let (chunks, tail) = v.as_chunks::<8>();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f(x);
        }
    }
    acc.iter().sum::<f32>() + tail.iter().map(|&x| f(x)).sum::<f32>()
}

/// `a . b` on the kernel's SIMD path (through the `ip` distance, `1 - a.b`).
#[inline]
fn dot(kernel: Kernel, a: &[f32], b: &[f32]) -> f32 {
    1.0 - kernel.with_space(Space::Ip).distance(a, b)
}

/// `1 / |v|`, or 0 for a zero vector.
pub(crate) fn inv_norm(v: &[f32]) -> f32 {
    let sq = sq_norm(v);
    if sq > 0.0 { 1.0 / sq.sqrt() } else { 0.0 }
}
