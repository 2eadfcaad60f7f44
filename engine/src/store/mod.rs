//! Vector storage: append-only, fixed-stride f32 rows, in a memory-mapped file or in memory;
//! and `mmap.rs`, the one place that maps files (the HNSW graph's too); `checksum.rs`, the
//! per-block checksums of the rows.

pub(crate) mod checksum;
mod mmap;
mod positional;
mod segment;

pub(crate) use mmap::{MappedWords, map_copy_on_write};
pub(crate) use segment::{HEADER_LEN, Segment, read_header};
