//! Nearest-neighbour search over a collection's rows.

mod exact;
mod topk;

pub(crate) use exact::{Candidates, Scan, exact_search};
pub(crate) use topk::Hit;
