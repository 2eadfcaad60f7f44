//! The one place that maps files into memory, and the contract that makes it sound.

use std::fs::File;
use std::path::Path;

use memmap2::{Mmap, MmapOptions};

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
