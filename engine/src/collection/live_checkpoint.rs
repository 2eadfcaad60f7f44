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
//! process), and after checking every ord; anything else falls back to SQLite. Reading a file
//! of another format version is `Error::UnsupportedFormat`, a damaged one `Error::Corrupt`
//! (both mean: read SQLite instead).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{DEAD, LiveSlots};
use crate::error::{Error, Result};
use crate::meta::CollectionRow;

const MAGIC: &[u8; 8] = b"MNEMOLIV";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 40;

/// `dir/live.<generation>.bin`.
pub(crate) fn path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("live.{generation}.bin"))
}

/// The table saved for exactly `row`'s state, if the file holds it and checks out. Any error
/// (no file, another format version, damage) or another state is `None`: the caller reads the
/// table from SQLite instead.
pub(crate) fn load(dir: &Path, row: &CollectionRow) -> Option<LiveSlots> {
    let path = path(dir, row.generation);
    let (mut file, header) = open(&path).ok()?;
    // Stale (another seq or slot count): rejected before reading the ords.
    if header.seq != row.seq || header.slots != row.slot_count {
        return None;
    }
    let ords = read_ords(&mut file, &header, &path).ok()?;
    if ords.iter().any(|&o| o != DEAD && o >= row.next_ord) {
        return None;
    }
    Some(LiveSlots {
        seq: Some(row.seq),
        live_bits: super::live_bits(&ords),
        ords,
        live: header.live,
        generation: Some(row.generation),
        from_checkpoint: true,
    })
}

/// A checkpoint's header, checked against the file it opens.
pub(crate) struct Header {
    /// The collection seq the table reflects.
    pub(crate) seq: u64,
    /// Slots in the table.
    pub(crate) slots: u64,
    /// Live slots among them.
    pub(crate) live: u64,
}

/// The error for a file that breaks the format: `Error::Corrupt` naming the file.
fn corrupt(path: &Path, detail: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        path: path.to_owned(),
        detail: format!("live-slots table: {detail}"),
    }
}

/// Opens a checkpoint and checks its header: magic, format version, and a length that is
/// exactly what the slot count implies. The file is left positioned at the ords.
fn open(path: &Path) -> Result<(File, Header)> {
    let mut file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io("stat", path, e))?
        .len();
    let mut header = [0u8; HEADER_LEN];
    if len < HEADER_LEN as u64 {
        return Err(corrupt(
            path,
            format!("truncated: {len} bytes, the header alone is {HEADER_LEN}"),
        ));
    }
    file.read_exact(&mut header)
        .map_err(|e| Error::io("read", path, e))?;
    if &header[..8] != MAGIC {
        return Err(corrupt(path, "not a live-slots file (bad magic)"));
    }
    let u64_at = |o: usize| u64::from_le_bytes(header[o..o + 8].try_into().unwrap_or([0; 8]));
    let version = u32::from_le_bytes(header[8..12].try_into().unwrap_or([0; 4]));
    if version != VERSION {
        return Err(Error::UnsupportedFormat {
            path: path.to_owned(),
            found: version,
            supported: VERSION,
        });
    }
    let slots = u64_at(24);
    let expected = slots
        .checked_mul(8)
        .and_then(|b| b.checked_add(HEADER_LEN as u64));
    if expected != Some(len) {
        return Err(corrupt(
            path,
            format!("{len} bytes for {slots} slots (truncated or overwritten)"),
        ));
    }
    let header = Header {
        seq: u64_at(16),
        slots,
        live: u64_at(32),
    };
    Ok((file, header))
}

/// Reads the ords after the header and checks the live count the header states.
fn read_ords(file: &mut File, header: &Header, path: &Path) -> Result<Vec<u64>> {
    let n = usize::try_from(header.slots)
        .map_err(|_| corrupt(path, format!("{} slots", header.slots)))?;
    let mut ords = vec![0u64; n];
    file.read_exact(bytemuck::cast_slice_mut(&mut ords))
        .map_err(|e| Error::io("read", path, e))?;
    for o in &mut ords {
        *o = u64::from_le(*o);
    }
    let live = ords.iter().filter(|&&o| o != DEAD).count() as u64;
    if live != header.live {
        return Err(corrupt(
            path,
            format!("{live} live slots, the header says {}", header.live),
        ));
    }
    Ok(ords)
}

/// Reads and checks a whole checkpoint file on its own (not against a catalog row): for
/// tests and tools.
pub(crate) fn read(path: &Path) -> Result<Header> {
    let (mut file, header) = open(path)?;
    read_ords(&mut file, &header, path)?;
    Ok(header)
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
