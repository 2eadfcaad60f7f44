//! Reads verify the vector rows they return or scan against the blocks' checksums
//! (`store::checksum`), so damaged vector data is a `Corrupt` error naming the file and the
//! slots, never silently wrong numbers. A full block, once verified, is remembered for this
//! process and generation (its rows never change); so is the short last block with the
//! number of rows it held (the committed rows of a block never change either; appending
//! rows changes its checksum, and it is verified again). Every query of a small collection
//! verified its short block afresh before (a checksum of up to 63 rows and a sidecar lookup,
//! a tenth of a 100-record query). Walks of the HNSW graph are not verified per step (that
//! would cost a block's checksum per visited node); the scrub job (`Database::scrub`) and
//! `check()` cover every block.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::Connection;

use super::{Collection, CollectionShared};
use crate::error::{Error, Result};
use crate::meta::{self, CollectionRow};
use crate::store::Segment;
use crate::store::checksum::{self, BLOCK_ROWS, Damage};

/// Blocks verified in this process, for one generation.
#[derive(Debug, Default)]
pub(crate) struct Verified {
    inner: Mutex<VerifiedBlocks>,
}

#[derive(Debug, Default)]
struct VerifiedBlocks {
    generation: u64,
    /// A bit per full block.
    full: Vec<u64>,
    /// The short last block verified last, and how many rows it held then.
    short: Option<(u64, u64)>,
}

/// Rows of block `b` among the first `slots` (at most [`BLOCK_ROWS`]).
fn rows_in(b: u64, slots: u64) -> u64 {
    slots.saturating_sub(b * BLOCK_ROWS).min(BLOCK_ROWS)
}

impl Verified {
    /// Drops from `blocks` those verified before as they are now (of `slots` committed
    /// slots), under one lock.
    fn keep_unverified(&self, generation: u64, blocks: &mut Vec<u64>, slots: u64) {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.generation != generation {
            return;
        }
        blocks.retain(|&b| {
            let rows = rows_in(b, slots);
            let seen = if rows == BLOCK_ROWS {
                g.full
                    .get((b / 64) as usize)
                    .is_some_and(|w| w & (1 << (b % 64)) != 0)
            } else {
                g.short == Some((b, rows))
            };
            !seen
        });
    }

    /// Remembers `blocks` (of `slots` committed slots) as verified.
    fn mark(&self, generation: u64, blocks: impl IntoIterator<Item = u64>, slots: u64) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.generation != generation {
            *g = VerifiedBlocks {
                generation,
                ..VerifiedBlocks::default()
            };
        }
        for block in blocks {
            let rows = rows_in(block, slots);
            if rows < BLOCK_ROWS {
                g.short = Some((block, rows));
                continue;
            }
            let word = (block / 64) as usize;
            if g.full.len() <= word {
                g.full.resize(word + 1, 0);
            }
            g.full[word] |= 1 << (block % 64);
        }
    }
}

/// Blocks at least this many are read from the sidecar in one range query.
const RANGE_QUERY_FROM: usize = 16;

impl CollectionShared {
    /// The vector file's name, for messages.
    pub(crate) fn vector_file(&self, generation: u64) -> PathBuf {
        match self.segment.dir() {
            Some(dir) => Segment::file_path(dir, generation),
            None => PathBuf::from(":memory:"),
        }
    }

    /// Verifies the blocks holding `slots` (any order, repeats allowed) unless this process
    /// verified them before; an error names the first damaged block.
    pub(crate) fn verify_slots(
        &self,
        conn: &Connection,
        row: &CollectionRow,
        slots: impl IntoIterator<Item = u64>,
    ) -> Result<()> {
        let mut blocks: Vec<u64> = slots.into_iter().map(checksum::block_of).collect();
        blocks.sort_unstable();
        blocks.dedup();
        self.verify_blocks(conn, row, blocks, false)
    }

    /// Verifies every block of the committed rows.
    pub(crate) fn verify_all(&self, conn: &Connection, row: &CollectionRow) -> Result<()> {
        self.verify_blocks(conn, row, checksum::blocks(row.slot_count).collect(), false)
    }

    fn verify_blocks(
        &self,
        conn: &Connection,
        row: &CollectionRow,
        blocks: Vec<u64>,
        force: bool,
    ) -> Result<()> {
        match self.damage(conn, row, blocks, force)?.first() {
            None => Ok(()),
            Some(d) => Err(Error::Corrupt {
                path: self.vector_file(row.generation),
                detail: format!(
                    "slots {}..{}: {} (`mnemodb inspect` lists every damaged range)",
                    d.slots.start, d.slots.end, d.why
                ),
            }),
        }
    }

    fn damage(
        &self,
        conn: &Connection,
        row: &CollectionRow,
        mut blocks: Vec<u64>,
        force: bool,
    ) -> Result<Vec<Damage>> {
        let Some(dim) = row.dimension else {
            return Ok(Vec::new());
        };
        let slots = row.slot_count;
        if !force {
            self.verified
                .keep_unverified(row.generation, &mut blocks, slots);
        }
        blocks.retain(|&b| b * BLOCK_ROWS < slots);
        if blocks.is_empty() {
            return Ok(Vec::new());
        }
        let stored: std::collections::HashMap<u64, (u64, u32)> = if blocks.len() >= RANGE_QUERY_FROM
        {
            let (lo, hi) = (blocks[0], blocks[blocks.len() - 1] + 1);
            meta::checksums::range(conn, row.key, row.generation, lo..hi)?
                .into_iter()
                .map(|(b, n, c)| (b, (n, c)))
                .collect()
        } else {
            let mut m = std::collections::HashMap::new();
            for &b in &blocks {
                if let Some(v) = meta::checksums::get(conn, row.key, row.generation, b)? {
                    m.insert(b, v);
                }
            }
            m
        };
        let damage = self.segment.with_rows(row.generation, dim, slots, |rows| {
            checksum::find_damage(rows, dim, slots, blocks.iter().copied(), |b| {
                stored.get(&b).copied()
            })
        })?;
        let bad: std::collections::HashSet<u64> = damage
            .iter()
            .map(|d| checksum::block_of(d.slots.start))
            .collect();
        self.verified.mark(
            row.generation,
            blocks.into_iter().filter(|&b| !bad.contains(&b)),
            slots,
        );
        Ok(damage)
    }
}

/// Blocks a scrub verifies in one read snapshot (4 MiB of 256-dimensional rows): a step holds
/// no snapshot for long, so the sidecar's log can be checkpointed meanwhile.
const SCRUB_STEP: u64 = 64;

/// Where a scrub of one collection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScrubAt {
    generation: Option<u64>,
    /// The next block to verify.
    pub(crate) block: u64,
}

impl ScrubAt {
    pub(crate) const START: ScrubAt = ScrubAt {
        generation: None,
        block: 0,
    };
}

/// One step of a scrub: blocks verified, damage found, and where to go on (`None`: done).
pub(crate) struct ScrubStep {
    pub(crate) verified: u64,
    pub(crate) blocks: u64,
    pub(crate) damage: Vec<String>,
    pub(crate) next: Option<ScrubAt>,
}

impl Collection {
    /// Verifies up to [`SCRUB_STEP`] blocks from `at`, afresh (whatever this process verified
    /// before). A compaction since the last step starts the scrub over on the new file.
    pub(crate) fn scrub_step(&self, at: ScrubAt) -> Result<ScrubStep> {
        self.db.sidecar.read(|tx| {
            let row = self.row(tx)?;
            let blocks = checksum::blocks(row.slot_count).end;
            let from = match at.generation {
                Some(g) if g == row.generation => at.block,
                _ => 0,
            };
            let to = (from + SCRUB_STEP).min(blocks);
            let damage = self
                .shared
                .damage(tx, &row, (from..to).collect(), true)?
                .iter()
                .map(|d| {
                    d.describe(
                        &self
                            .shared
                            .vector_file(row.generation)
                            .display()
                            .to_string(),
                    )
                })
                .collect();
            Ok(ScrubStep {
                verified: to - from,
                blocks,
                damage,
                next: (to < blocks).then_some(ScrubAt {
                    generation: Some(row.generation),
                    block: to,
                }),
            })
        })
    }
}
