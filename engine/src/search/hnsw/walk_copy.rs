//! The rows as the graph walks them: a half-precision copy of slots `0..len()` kept in memory
//! beside the links (`distance::half` says why half the bytes is nearly half the time).
//!
//! The copy is derived from the vector segment and never saved: an open maps the graph at
//! once and answers with the f32 rows until a background task has encoded the copy
//! (`collection/index.rs`), so a reopen stays a map. It costs `2 * dim + 4` bytes per row
//! (`+ 4` more for l2), 77 MB for 100k rows of 384 floats.
//!
//! The walk ranks with it; the hits' distances are always recomputed from the f32 rows.

use rayon::prelude::*;

use super::HalfRows;
use crate::distance::Space;
use crate::distance::half::encode;

/// Rows in f16, scaled to `[-1, 1]`, with what each space needs to get its distance from a
/// dot product.
#[derive(Debug, Default)]
pub(crate) struct WalkCopy {
    dim: usize,
    /// `dim` f16 bit patterns per row.
    bits: Vec<u16>,
    /// The factor each row was divided by (its largest magnitude; 0 for a zero row).
    scales: Vec<f32>,
    /// `|row|^2` per row for l2, which is computed as `|q|^2 + |row|^2 - 2 q.row`; empty
    /// otherwise.
    sq_norms: Vec<f32>,
}

impl WalkCopy {
    /// The rows of `rows` (`dim` floats each) encoded, in parallel.
    pub(crate) fn encode(rows: &[f32], dim: usize, space: Space) -> WalkCopy {
        let mut copy = WalkCopy {
            dim,
            ..WalkCopy::default()
        };
        if dim == 0 {
            return copy;
        }
        let n = rows.len() / dim;
        copy.bits = vec![0u16; n * dim];
        copy.scales = rows
            .par_chunks_exact(dim)
            .zip(copy.bits.par_chunks_exact_mut(dim))
            .map_init(Vec::new, |scratch, (row, out)| encode(row, out, scratch))
            .collect();
        if space == Space::L2 {
            copy.sq_norms = rows
                .par_chunks_exact(dim)
                .map(|r| r.iter().map(|x| x * x).sum())
                .collect();
        }
        copy
    }

    /// Rows held.
    pub(crate) fn len(&self) -> usize {
        self.scales.len()
    }

    /// Makes room for `rows` rows in all, so appending up to there copies nothing.
    pub(crate) fn reserve_rows(&mut self, dim: usize, rows: usize) {
        self.dim = dim;
        let more = rows.saturating_sub(self.len());
        self.bits.reserve(more * dim);
        self.scales.reserve(more);
        if !self.sq_norms.is_empty() || self.len() == 0 {
            self.sq_norms.reserve(more);
        }
    }

    /// Appends `more` (encoded for the same dimension and space) after the rows held.
    pub(crate) fn append(&mut self, more: WalkCopy) {
        debug_assert!(self.len() == 0 || self.dim == more.dim);
        self.dim = more.dim;
        self.bits.extend_from_slice(&more.bits);
        self.scales.extend_from_slice(&more.scales);
        self.sq_norms.extend_from_slice(&more.sq_norms);
    }

    /// The copy as the walk reads it, when it covers the first `nodes` rows and was encoded
    /// for rows of `dim` floats.
    pub(crate) fn view(&self, dim: usize, nodes: usize) -> Option<HalfRows<'_>> {
        (self.dim == dim && dim > 0 && self.len() >= nodes).then_some(HalfRows {
            bits: &self.bits,
            scales: &self.scales,
            sq_norms: &self.sq_norms,
        })
    }
}
