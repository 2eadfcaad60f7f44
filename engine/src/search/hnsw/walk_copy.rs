//! The rows as the graph walks them: an 8-bit copy of slots `0..len()` kept in memory beside
//! the links (`distance::sq8` says why a quarter of the bytes is most of the time saved).
//!
//! The copy is derived from the vector segment and never saved: an open maps the graph at
//! once and answers with the f32 rows until a background task has encoded the copy
//! (`collection/index.rs`), so a reopen stays a map. It costs `dim + 16` bytes per row, 40 MB
//! for 100k rows of 384 floats.
//!
//! The walk ranks with it; the beam is re-ranked, and the hits' distances computed, from the
//! f32 rows. The scan of the rows a build has not linked yet ranks with it too
//! (`coded_scan.rs`), which is why it is encoded for every row before linking starts.

use rayon::prelude::*;

use super::{CodedRows, RowMeta, inv_norm, sq_norm};
use crate::distance::Space;
use crate::distance::sq8::{code_sum, encode};
use crate::scheduler::Share;

/// Rows as bytes over each row's own range, with what each space needs to get its distance
/// from a dot product.
#[derive(Debug, Default)]
pub(crate) struct WalkCopy {
    dim: usize,
    /// `dim` codes per row, after `skew` bytes of padding that start the first row on a
    /// cache line ([`ROW_ALIGN`]).
    codes: Vec<u8>,
    skew: usize,
    /// Per row, what a comparison needs besides its codes, in one 16-byte record: a visited
    /// node costs its codes' lines and one more.
    meta: Vec<RowMeta>,
}

/// Where the first row starts. The allocator gives a large buffer 16 bytes past a page
/// boundary, so a 384-byte row would span 7 cache lines instead of 6: one more line to wait
/// for at every node a walk visits (`walk_copy_rows_start_on_a_cache_line`).
const ROW_ALIGN: usize = 64;

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
        copy.make_room(n * dim);
        copy.codes.resize(copy.skew + n * dim, 0);
        let skew = copy.skew;
        copy.meta = rows
            .par_chunks_exact(dim)
            .zip(copy.codes[skew..].par_chunks_exact_mut(dim))
            .with_min_len(min_len)
            .map(|(row, out)| {
                let (lo, step) = encode(row, out);
                let norm = match space {
                    Space::Ip => 0.0,
                    Space::L2 => sq_norm(row),
                    Space::Cosine => inv_norm(row),
                };
                RowMeta {
                    lo,
                    step,
                    sum: code_sum(out) as f32,
                    norm,
                }
            })
            .collect();
        copy
    }

    /// Rows held.
    pub(crate) fn len(&self) -> usize {
        self.meta.len()
    }

    /// The codes of every row held, back to back, the first on a cache line.
    fn rows(&self) -> &[u8] {
        &self.codes[self.skew..]
    }

    /// Makes room for `more` bytes of codes after those held, keeping the rows where
    /// [`ROW_ALIGN`] puts them: a buffer that must grow is replaced by one aligned anew.
    fn make_room(&mut self, more: usize) {
        if self.codes.capacity() - self.codes.len() >= more {
            return;
        }
        let held = self.codes.len() - self.skew;
        let mut codes: Vec<u8> = Vec::with_capacity(held + more + ROW_ALIGN - 1);
        let skew = codes.as_ptr().align_offset(ROW_ALIGN).min(ROW_ALIGN - 1);
        codes.resize(skew, 0);
        codes.extend_from_slice(self.rows());
        (self.codes, self.skew) = (codes, skew);
    }

    /// Makes room for `rows` rows in all, so appending up to there copies nothing.
    pub(crate) fn reserve_rows(&mut self, dim: usize, rows: usize) {
        self.dim = dim;
        let more = rows.saturating_sub(self.len());
        self.make_room(more * dim);
        // The walk reads rows at random: fewer TLB misses on 2 MiB pages.
        super::huge_pages::advise(&self.codes);
        self.meta.reserve(more);
    }

    /// Appends `more` (encoded for the same dimension and space) after the rows held.
    pub(crate) fn append(&mut self, more: WalkCopy) {
        debug_assert!(self.len() == 0 || self.dim == more.dim);
        self.dim = more.dim;
        self.make_room(more.rows().len());
        self.codes.extend_from_slice(more.rows());
        self.meta.extend_from_slice(&more.meta);
    }

    /// The copy as the walk reads it, when it covers the first `nodes` rows and was encoded
    /// for rows of `dim` floats.
    pub(crate) fn view(&self, dim: usize, nodes: usize) -> Option<CodedRows<'_>> {
        (self.dim == dim && dim > 0 && self.len() >= nodes).then_some(CodedRows {
            codes: self.rows(),
            meta: &self.meta,
        })
    }
}

/// Two copies are equal when their rows are: where each buffer starts its rows is not part of
/// the value.
impl PartialEq for WalkCopy {
    fn eq(&self, other: &Self) -> bool {
        self.dim == other.dim && self.rows() == other.rows() && self.meta == other.meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, dim: usize) -> Vec<f32> {
        (0..n * dim)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect()
    }

    /// The first row starts on a cache line however the copy was made (encoded at once,
    /// reserved, appended past its room), and appending keeps every row's codes: the copy
    /// grown piece by piece equals the one encoded at once.
    #[test]
    fn walk_copy_rows_start_on_a_cache_line() {
        // Over glibc's threshold for mapping a buffer of its own (128 KiB), which then starts
        // 16 bytes past a page: unaligned unless the copy aligns it.
        let (dim, space) = (384, Space::Cosine);
        let all = rows(400, dim);
        let whole = WalkCopy::encode(&all, dim, space, Share::all());
        let aligned = |c: &WalkCopy| {
            c.view(dim, c.len())
                .map(|v| v.codes.as_ptr() as usize % ROW_ALIGN)
        };
        assert_eq!(aligned(&whole), Some(0));

        let mut grown = WalkCopy::default();
        grown.reserve_rows(dim, 50);
        for piece in all.chunks(70 * dim) {
            // Pieces of 70 rows into room for 50: appends move the buffer.
            grown.append(WalkCopy::encode(piece, dim, space, Share::all()));
            assert_eq!(aligned(&grown), Some(0), "after {} rows", grown.len());
        }
        assert_eq!(grown, whole);
    }
}
