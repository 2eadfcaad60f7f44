//! A copy of the live-slots table on disk (`live.<generation>.bin`), written when a process
//! lets go of a collection, so the next open loads 8 bytes per slot instead of reading every
//! record's (slot, ord) pair out of SQLite.
//!
//! Format version 1, little-endian:
//! ```text
//! 0..8    magic b"MNEMOLIV"
//! 8..12   format version (1), u32
//! 12..16  zero
//! 16..24  collection seq the table reflects, u64
//! 24..32  slots n, u64
//! 32..40  live slots, u64
//! 40..    n u64: the ord of each slot, u64::MAX for a dead slot
//! ```
//! **Invariant:** used only when its generation (the name), seq and slot count are the
//! collection's current ones (a collection's seq grows with every committed write, in any
//! process), and after checking every ord; anything else falls back to SQLite.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{DEAD, LiveSlots};
use crate::meta::CollectionRow;

const MAGIC: &[u8; 8] = b"MNEMOLIV";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 40;

/// `dir/live.<generation>.bin`.
pub(crate) fn path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("live.{generation}.bin"))
}

/// The table saved for exactly `row`'s state, if the file holds it and checks out.
pub(crate) fn load(dir: &Path, row: &CollectionRow) -> Option<LiveSlots> {
    let mut file = File::open(path(dir, row.generation)).ok()?;
    let n = usize::try_from(row.slot_count).ok()?;
    let len = HEADER_LEN.checked_add(n.checked_mul(8)?)?;
    if file.metadata().ok()?.len() != len as u64 {
        return None;
    }
    let mut words = vec![0u64; len / 8];
    file.read_exact(bytemuck::cast_slice_mut(&mut words)).ok()?;
    let header: &[u8] = bytemuck::cast_slice(&words[..HEADER_LEN / 8]);
    let u64_at = |o: usize| u64::from_le_bytes(header[o..o + 8].try_into().unwrap_or([0; 8]));
    let version = u32::from_le_bytes(header[8..12].try_into().unwrap_or([0; 4]));
    if &header[..8] != MAGIC || version != VERSION || u64_at(16) != row.seq {
        return None;
    }
    if u64_at(24) != row.slot_count {
        return None;
    }
    let ords: Vec<u64> = words[HEADER_LEN / 8..]
        .iter()
        .map(|&w| u64::from_le(w))
        .collect();
    let live = ords.iter().filter(|&&o| o != DEAD).count() as u64;
    if live != u64_at(32) || ords.iter().any(|&o| o != DEAD && o >= row.next_ord) {
        return None;
    }
    Some(LiveSlots {
        seq: Some(row.seq),
        live_bits: super::live_bits(&ords),
        ords,
        live,
        generation: Some(row.generation),
    })
}

/// Writes `live` (which must reflect a seq) for `generation`: to a temporary file of this
/// process, synced, then renamed into place. Best effort: the table is derived.
pub(crate) fn save(dir: &Path, generation: u64, live: &LiveSlots) {
    let Some(seq) = live.seq else { return };
    let mut bytes = Vec::with_capacity(HEADER_LEN + 8 * live.ords.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.extend_from_slice(&(live.ords.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&live.live.to_le_bytes());
    for o in &live.ords {
        bytes.extend_from_slice(&o.to_le_bytes());
    }
    let target = path(dir, generation);
    let tmp = dir.join(format!("live.{generation}.bin.{}.tmp", std::process::id()));
    let written = File::create(&tmp)
        .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, &target));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}
