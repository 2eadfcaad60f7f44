//! Nearest-neighbour search over a collection's rows.

mod exact;
// Wired into Collection::query by the HNSW issue's integration step.
#[allow(dead_code)]
mod hnsw;
mod topk;

pub(crate) use exact::{Candidates, Scan, exact_search};
pub(crate) use topk::Hit;
