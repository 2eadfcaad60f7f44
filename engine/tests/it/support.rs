//! Helpers shared by the integration tests: building batches and reading results compactly.

use mnemodb::{AddBatch, Collection, GetRequest, Include, QueryRequest};

pub(crate) fn ids(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

/// Adds `ids` with the given flat embeddings and nothing else.
pub(crate) fn add(c: &Collection, ids_: &[&str], embeddings: &[f32]) -> mnemodb::Result<()> {
    let ids = ids(ids_);
    c.add(AddBatch {
        ids: &ids,
        embeddings,
        ..AddBatch::default()
    })
}

/// All ids in insertion order.
pub(crate) fn all_ids(c: &Collection) -> Vec<String> {
    c.get(GetRequest {
        include: Include::default(),
        ..GetRequest::default()
    })
    .unwrap()
    .ids
}

/// Ids and distances of the `k` nearest to one query.
pub(crate) fn nearest(c: &Collection, q: &[f32], k: usize) -> Vec<(String, f32)> {
    let hits = c
        .query(QueryRequest {
            embeddings: q,
            dim: q.len(),
            n_results: k,
            ids: None,
            include: Include::query_default(),
        })
        .unwrap();
    let h = &hits[0];
    h.ids
        .iter()
        .cloned()
        .zip(h.distances.clone().unwrap())
        .collect()
}
