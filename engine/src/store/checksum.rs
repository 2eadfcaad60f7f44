//! Checksums of vector rows: one CRC-32 per block of [`BLOCK_ROWS`] slots, over the rows'
//! little-endian bytes. The sidecar keeps them (`meta::checksums`), written in the same
//! transaction that commits the rows, so a checksum never describes rows that are not
//! committed, and a crash between appending rows and committing leaves none behind.
//!
//! Blocks are small so that a read verifies little more than it returns, and a damaged
//! block names a short slot range.

use std::ops::Range;

/// Slots per checksummed block.
pub(crate) const BLOCK_ROWS: u64 = 64;

/// The block holding `slot`.
pub(crate) fn block_of(slot: u64) -> u64 {
    slot / BLOCK_ROWS
}

/// The slots of `block` that exist when `slots` are committed (the last block may be short).
pub(crate) fn block_slots(block: u64, slots: u64) -> Range<u64> {
    let start = block * BLOCK_ROWS;
    start.min(slots)..(start + BLOCK_ROWS).min(slots)
}

/// The blocks covering `slots` committed slots.
pub(crate) fn blocks(slots: u64) -> Range<u64> {
    0..slots.div_ceil(BLOCK_ROWS)
}

/// The checksum of whole rows.
pub(crate) fn of_rows(rows: &[f32]) -> u32 {
    crc32fast::hash(bytemuck::cast_slice(rows))
}

/// The checksum of a block's rows followed by `more`, from the checksum of the rows alone:
/// appending to a short block needs only its stored checksum, not its rows.
pub(crate) fn extend(previous: u32, more: &[f32]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(previous);
    h.update(bytemuck::cast_slice(more));
    h.finalize()
}

/// One block's checksum as computed for `append`: `(block, rows in it, checksum)`.
pub(crate) type BlockSum = (u64, u64, u32);

/// The checksums of the blocks that `rows` (of dimension `dim`, appended at slot `first`)
/// touch. `stored` gives the checksum and row count already stored for a block that `first`
/// falls inside of (a short last block); blocks starting at or after `first` start afresh.
pub(crate) fn for_append(
    first: u64,
    dim: usize,
    rows: &[f32],
    mut stored: impl FnMut(u64) -> crate::Result<(u64, u32)>,
) -> crate::Result<Vec<BlockSum>> {
    let n = (rows.len() / dim.max(1)) as u64;
    let mut out = Vec::new();
    let mut done = 0u64;
    while done < n {
        let slot = first + done;
        let block = block_of(slot);
        let offset = slot % BLOCK_ROWS;
        let take = (BLOCK_ROWS - offset).min(n - done);
        let chunk = &rows[(done as usize) * dim..((done + take) as usize) * dim];
        let sum = if offset == 0 {
            of_rows(chunk)
        } else {
            let (have, previous) = stored(block)?;
            if have != offset {
                return Err(crate::Error::Corrupt {
                    path: std::path::PathBuf::from("vector checksums"),
                    detail: format!(
                        "block {block} has a checksum of {have} rows but {offset} are committed"
                    ),
                });
            }
            extend(previous, chunk)
        };
        out.push((block, offset + take, sum));
        done += take;
    }
    Ok(out)
}

/// A block whose rows do not match what the sidecar stores for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Damage {
    /// The block's slots.
    pub(crate) slots: Range<u64>,
    /// What disagreed, one phrase.
    pub(crate) why: String,
}

impl Damage {
    /// The message naming the file and the slots.
    pub(crate) fn describe(&self, file: &str) -> String {
        format!(
            "{file} slots {}..{}: {}",
            self.slots.start, self.slots.end, self.why
        )
    }
}

/// Checks `blocks` of `rows` (the `slots` committed rows of dimension `dim`) against the
/// stored checksums `stored(block)`; returns the damaged ones, in the order given.
pub(crate) fn find_damage(
    rows: &[f32],
    dim: usize,
    slots: u64,
    blocks: impl IntoIterator<Item = u64>,
    mut stored: impl FnMut(u64) -> Option<(u64, u32)>,
) -> Vec<Damage> {
    let mut out = Vec::new();
    for block in blocks {
        let range = block_slots(block, slots);
        let len = range.end - range.start;
        if len == 0 {
            continue;
        }
        let why = match stored(block) {
            None => Some("no checksum is stored for these rows".to_owned()),
            Some((n, _)) if n != len => Some(format!(
                "the stored checksum covers {n} rows, {len} are committed"
            )),
            Some((_, crc)) => {
                let got = of_rows(&rows[range.start as usize * dim..range.end as usize * dim]);
                (got != crc).then(|| {
                    format!(
                        "the rows do not match their checksum (stored {crc:08x}, read {got:08x})"
                    )
                })
            }
        };
        if let Some(why) = why {
            out.push(Damage { slots: range, why });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The oracle: every block's checksum computed from all its rows at once.
    fn whole(rows: &[f32], dim: usize) -> Vec<BlockSum> {
        let slots = (rows.len() / dim) as u64;
        blocks(slots)
            .map(|b| {
                let r = block_slots(b, slots);
                let sum = of_rows(&rows[r.start as usize * dim..r.end as usize * dim]);
                (b, r.end - r.start, sum)
            })
            .collect()
    }

    proptest! {
        /// Appending in batches of any size, each extending the stored checksum of the short
        /// block it starts in, gives the checksums of the whole rows computed at once.
        #[test]
        fn appends_in_batches_match_the_whole(
            dim in 1usize..6,
            batches in proptest::collection::vec(0usize..150, 1..8),
            seed in any::<u32>(),
        ) {
            let total: usize = batches.iter().sum();
            let rows: Vec<f32> = (0..total * dim)
                .map(|i| (i as u32 ^ seed) as f32 * 0.5)
                .collect();
            let mut table: std::collections::BTreeMap<u64, (u64, u32)> = Default::default();
            let mut slot = 0usize;
            for n in batches {
                let chunk = &rows[slot * dim..(slot + n) * dim];
                let sums = for_append(slot as u64, dim, chunk, |b| {
                    Ok(table.get(&b).copied().unwrap_or((0, 0)))
                })
                .unwrap();
                for (b, count, sum) in sums {
                    table.insert(b, (count, sum));
                }
                slot += n;
            }
            let got: Vec<BlockSum> = table.into_iter().map(|(b, (c, s))| (b, c, s)).collect();
            prop_assert_eq!(got, whole(&rows, dim));
        }
    }

    #[test]
    fn a_short_block_with_a_wrong_count_is_corrupt() {
        let rows = vec![1.0f32; 4];
        let err = for_append(3, 2, &rows, |_| Ok((1, 0))).unwrap_err();
        assert!(matches!(err, crate::Error::Corrupt { .. }), "{err}");
    }

    #[test]
    fn damage_is_found_and_named_by_its_slots() {
        let dim = 3;
        let rows: Vec<f32> = (0..200 * dim).map(|i| i as f32).collect();
        let table: std::collections::BTreeMap<u64, (u64, u32)> = whole(&rows, dim)
            .into_iter()
            .map(|(b, c, s)| (b, (c, s)))
            .collect();
        let look = |b: u64| table.get(&b).copied();
        assert!(find_damage(&rows, dim, 200, blocks(200), look).is_empty());
        let mut bad = rows.clone();
        bad[130 * dim + 1] = f32::NAN;
        let found = find_damage(&bad, dim, 200, blocks(200), look);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].slots, 128..192);
        assert!(
            found[0]
                .describe("vectors.0.f32")
                .starts_with("vectors.0.f32 slots 128..192: ")
        );
        // A missing checksum and one of the wrong length are damage too.
        let found = find_damage(&rows, dim, 200, [3], |_| None);
        assert_eq!(found[0].slots, 192..200);
        let found = find_damage(&rows, dim, 200, [3], |_| Some((5, 0)));
        assert!(found[0].why.contains("covers 5 rows, 8 are committed"));
    }

    #[test]
    fn one_changed_bit_changes_the_checksum() {
        let rows: Vec<f32> = (0..64 * 3).map(|i| i as f32).collect();
        let mut bad = rows.clone();
        bad[100] = f32::from_bits(bad[100].to_bits() ^ 1);
        assert_ne!(of_rows(&rows), of_rows(&bad));
    }
}
