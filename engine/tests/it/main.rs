//! Integration tests of the engine: one binary, topic modules.

// Tests fail by panicking: unwrapping a result is how a test says "this must succeed".
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod auto_compact;
mod backup;
mod checksums;
mod chroma_dir;
mod chroma_parity;
mod compaction;
mod crash;
mod disk_full;
mod expiry;
mod export;
mod filters;
mod golden;
mod golden_index;
mod hit_ids;
mod index;
mod jobs;
mod langgraph;
mod model;
mod multiprocess;
mod plan;
mod space;
mod support;
mod tidy;
mod tools;
mod validation;
