//! Nearest-neighbour search over a collection's rows.

mod exact;
mod hnsw;
mod topk;

pub(crate) use exact::{Candidates, Scan, Threads, exact_search, shortlist_search};
pub(crate) use hnsw::{Hnsw, HnswParams, Rows as HnswRows, WalkCopy, inv_norm};
pub(crate) use topk::Hit;
