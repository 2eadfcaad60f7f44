//! Vector storage: append-only, fixed-stride f32 rows, in a memory-mapped file or in memory.

mod mmap;
mod segment;

pub(crate) use segment::{HEADER_LEN, Segment, read_header};
