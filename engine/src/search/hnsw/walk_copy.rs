//! The rows as the graph walks them: an 8-bit copy of slots `0..len()` kept in memory beside
//! the links (`distance::sq8` says why a quarter of the bytes is most of the time saved).
//!
//! The copy is derived from the vector segment and never saved: an open maps the graph at
//! once and answers with the f32 rows until a background task has encoded the copy
//! (`collection/index.rs`), so a reopen stays a map. It costs `dim + 12` bytes per row (`dim + 8`
//! for ip), 39 MB for 100k rows of 384 floats.
//!
//! The walk ranks with it; the beam is re-ranked, and the hits' distances computed, from the
//! f32 rows. The scan of the rows a build has not linked yet ranks with it too
//! (`coded_scan.rs`), which is why it is encoded for every row before linking starts.

use rayon::prelude::*;

use super::CodedRows;
use crate::distance::Space;
use crate::distance::sq8::encode;
use crate::scheduler::Share;

/// Rows as bytes over each row's own range, with what each space needs to get its distance
/// from a dot product.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct WalkCopy {
    dim: usize,
    /// `dim` codes per row.
    codes: Vec<u8>,
    /// Per row: its minimum and its range / 255 (value `i` is about `lo + step * code_i`).
    lo_step: Vec<[f32; 2]>,
    /// `|row|^2` per row for l2 (computed as `|q|^2 + |row|^2 - 2 q.row`) and cosine (the
    /// norm of a row the graph has not linked, whose norm it does not cache); empty for ip.
    sq_norms: Vec<f32>,
}

/// Whether rows of `space` keep their squared norms in the copy.
fn needs_norms(space: Space) -> bool {
    space != Space::Ip
}

impl WalkCopy {
    /// The rows of `rows` (`dim` floats each) encoded, in parallel when `share` gives the
    /// loop more than one worker now.
    pub(crate) fn encode(rows: &[f32], dim: usize, space: Space, share: Share<'_>) -> WalkCopy {
        let mut copy = WalkCopy {
            dim,
            ..WalkCopy::default()
        };
        if dim == 0 {
            return copy;
        }
        let n = rows.len() / dim;
        // One piece (this thread only) when the loop is not to run in parallel.
        let min_len = if share.parallel() { 1 } else { n.max(1) };
        copy.codes = vec![0u8; n * dim];
        copy.lo_step = rows
            .par_chunks_exact(dim)
            .zip(copy.codes.par_chunks_exact_mut(dim))
            .with_min_len(min_len)
            .map(|(row, out)| {
                let (lo, step) = encode(row, out);
                [lo, step]
            })
            .collect();
        if needs_norms(space) {
            copy.sq_norms = rows
                .par_chunks_exact(dim)
                .with_min_len(min_len)
                .map(super::sq_norm)
                .collect();
        }
        copy
    }

    /// Rows held.
    pub(crate) fn len(&self) -> usize {
        self.lo_step.len()
    }

    /// Makes room for `rows` rows in all, so appending up to there copies nothing.
    pub(crate) fn reserve_rows(&mut self, dim: usize, space: Space, rows: usize) {
        self.dim = dim;
        let more = rows.saturating_sub(self.len());
        self.codes.reserve(more * dim);
        // The walk reads rows at random: fewer TLB misses on 2 MiB pages.
        super::huge_pages::advise(&self.codes);
        self.lo_step.reserve(more);
        if needs_norms(space) {
            self.sq_norms.reserve(more);
        }
    }

    /// Appends `more` (encoded for the same dimension and space) after the rows held.
    pub(crate) fn append(&mut self, more: WalkCopy) {
        debug_assert!(self.len() == 0 || self.dim == more.dim);
        self.dim = more.dim;
        self.codes.extend_from_slice(&more.codes);
        self.lo_step.extend_from_slice(&more.lo_step);
        self.sq_norms.extend_from_slice(&more.sq_norms);
    }

    /// The copy as the walk reads it, when it covers the first `nodes` rows and was encoded
    /// for rows of `dim` floats.
    pub(crate) fn view(&self, dim: usize, nodes: usize) -> Option<CodedRows<'_>> {
        (self.dim == dim && dim > 0 && self.len() >= nodes).then_some(CodedRows {
            codes: &self.codes,
            lo_step: &self.lo_step,
            sq_norms: &self.sq_norms,
        })
    }
}
