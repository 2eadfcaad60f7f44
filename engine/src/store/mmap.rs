//! The one place that maps files into memory, and the contracts that make it sound.
//!
//! Every memmap2 constructor is banned elsewhere (`clippy.toml`, `disallowed-methods`), and
//! the unsafe code that reads mapped memory other than as bytes lives here too
//! ([`MappedWords`]); `tests/it/tidy.rs` names the files allowed to hold `unsafe`.
//! Two kinds of mapping, two contracts:
//! * [`map_committed`]: a read-only map of a vector segment's committed prefix, which is
//!   never rewritten or truncated while it exists;
//! * [`map_copy_on_write`]: a private map of a whole derived file (the HNSW graph) that is only
//!   ever replaced by rename, never written in place.

use std::fmt;
use std::fs::File;
use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::AtomicU32;

use memmap2::{Mmap, MmapMut, MmapOptions, MmapRaw};

use crate::error::{Error, Result};

/// Maps the first `len` bytes of a vector segment file read-only.
///
/// The caller must only read bytes that were committed when `len` was chosen: `len` never
/// exceeds the committed part of the file (`header + committed_slots * stride`, read inside
/// the same SQLite transaction).
#[allow(clippy::disallowed_methods)] // this function is the funnel clippy.toml points to
pub(super) fn map_committed(file: &File, len: usize, path: &Path) -> Result<Mmap> {
    // SAFETY: memory mapping is sound only while nobody changes or removes the mapped bytes.
    // Our contract for segment files (documented in ARCHITECTURE.md, upheld in segment.rs):
    // * only mnemodb writes them, and only while holding the database's write lock;
    // * the committed prefix of a segment (header plus the slots a committed transaction
    //   counts) is never rewritten and never truncated: writes go past it, and truncation on
    //   recovery removes only bytes past it;
    // * compaction writes a new file (a new generation) rather than changing this one, and a
    //   removed file stays valid for the mappings that already exist (POSIX unlink semantics);
    // * we map at most the committed prefix, so the mapping never covers bytes that can change.
    // A process outside mnemodb that rewrites the file breaks the contract; that is corruption
    // we cannot prevent, only detect (headers and the consistency check).
    unsafe { MmapOptions::new().len(len).map(file) }.map_err(|e| Error::io("map", path, e))
}

/// Maps all of `file` privately (copy-on-write): writes through the map stay in this process
/// and never reach the file.
///
/// Only for files mnemodb replaces by renaming a new file over them and never writes in place
/// or truncates: the HNSW graph (`hnsw.<generation>.bin`, written by `Hnsw::save`). The file
/// must not be empty (mapping zero bytes fails).
#[allow(clippy::disallowed_methods)] // this function is the funnel clippy.toml points to
pub(crate) fn map_copy_on_write(file: &File, path: &Path) -> Result<MmapMut> {
    // SAFETY: a private mapping reads the file's pages until this process writes to one (then
    // it gets its own copy). It is sound while nobody changes or shrinks the file underneath,
    // which would change what the map reads or make it fault (SIGBUS). Our contract for the
    // files mapped here: they are derived files that mnemodb writes whole to a temporary name
    // of the writing process, syncs and renames over the old one; no mnemodb code opens them
    // for writing after that, and a file renamed over or removed stays valid for the mappings
    // that exist (POSIX semantics). As with segments, a process outside mnemodb rewriting the
    // file in place breaks the contract: the reader checks every field and link of what it
    // maps (`search/hnsw/file.rs`), so damage present at mapping time is `Error::Corrupt`.
    unsafe { MmapOptions::new().map_copy(file) }.map_err(|e| Error::io("map", path, e))
}

/// `words` 4-byte words of a private mapping, from `offset` bytes in, read and written as
/// [`AtomicU32`] in place: the layer-0 links of a graph opened from its file.
pub(crate) struct MappedWords {
    /// Held raw: its pointer is the mapping's own, never derived from a `&[u8]`.
    map: MmapRaw,
    offset: usize,
    words: usize,
}

impl MappedWords {
    /// Bytes `offset..offset + 4 * words` of `map` as words. `None` when the range is out of
    /// the map or not aligned for `AtomicU32`.
    pub(crate) fn new(map: MmapMut, offset: usize, words: usize) -> Option<MappedWords> {
        let end = offset.checked_add(words.checked_mul(4)?)?;
        if end > map.len() {
            return None;
        }
        let map = MmapRaw::from(map);
        let start = (map.as_ptr() as usize).checked_add(offset)?;
        if !start.is_multiple_of(std::mem::align_of::<AtomicU32>()) {
            return None;
        }
        Some(MappedWords { map, offset, words })
    }
}

impl Deref for MappedWords {
    type Target = [AtomicU32];

    fn deref(&self) -> &[AtomicU32] {
        // SAFETY: `new` checked that `offset..offset + 4 * words` lies in the map and is
        // aligned for `AtomicU32`, which has the size and bit validity of `u32`, so any 4
        // bytes are a valid value. The pointer is the mapping's own (`MmapRaw::as_mut_ptr`,
        // not derived from a `&[u8]`), and `MappedWords` never hands out the bytes as `&[u8]`,
        // so the atomics are the only view of them in this process; the mapping is writable
        // and private (copy-on-write, `map_copy_on_write`, whose contract keeps the file from
        // changing under it) and owned by `self`, so the borrow keeps it alive. Atomics make
        // mutation through `&` sound, as for a `Vec<AtomicU32>`.
        unsafe {
            std::slice::from_raw_parts(
                self.map.as_mut_ptr().add(self.offset).cast::<AtomicU32>(),
                self.words,
            )
        }
    }
}

impl fmt::Debug for MappedWords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MappedWords({} words)", self.words)
    }
}
