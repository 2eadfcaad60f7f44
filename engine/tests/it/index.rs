//! The HNSW index as collections use it: recall against exact search, filters as allow-lists,
//! reopening from the saved graph, and a model test with deletes and updates interleaved.

use mnemodb::{
    AddBatch, Collection, CollectionConfig, Database, Include, Metadata, MetadataValue,
    QueryRequest, SearchOptions, Space, UpdateBatch, Vectors,
};
use proptest::prelude::*;

use crate::support::Rng;

/// `n` points of a Gaussian mixture (`clusters` centres), `dim` floats each.
fn clustered(rng: &mut Rng, n: usize, dim: usize, centres: &[f32]) -> Vec<f32> {
    let clusters = centres.len() / dim;
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = rng.below(clusters as u64) as usize;
        for j in 0..dim {
            out.push(centres[c * dim + j] + 0.35 * normal(rng));
        }
    }
    out
}

/// The directory of the one collection in the database at `db`.
fn only_collection_dir(db: &std::path::Path) -> std::path::PathBuf {
    std::fs::read_dir(db.join("collections"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

fn normal(rng: &mut Rng) -> f32 {
    // Box-Muller; u1 in (0, 1].
    let u1 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 + f64::EPSILON;
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

/// `n` points around `clusters` centres, from `seed`.
fn mixture(seed: u64, clusters: usize, n: usize, dim: usize) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let centres = centres(&mut rng, clusters, dim);
    clustered(&mut rng, n, dim, &centres)
}

fn centres(rng: &mut Rng, clusters: usize, dim: usize) -> Vec<f32> {
    (0..clusters * dim).map(|_| normal(rng)).collect()
}

fn add_with_buckets(c: &Collection, from: usize, rows: &[f32], dim: usize) {
    let n = rows.len() / dim;
    let ids: Vec<String> = (from..from + n).map(|i| format!("r{i}")).collect();
    let metas: Vec<Option<Metadata>> = (from..from + n)
        .map(|i| {
            let mut m = Metadata::new();
            m.insert("bucket".into(), MetadataValue::Int((i % 10) as i64));
            Some(m)
        })
        .collect();
    c.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(rows, dim),
        metadatas: Some(&metas),
        ..AddBatch::default()
    })
    .unwrap();
}

fn search(
    c: &Collection,
    queries: &[f32],
    dim: usize,
    where_: Option<&serde_json::Value>,
    opts: SearchOptions,
) -> Vec<(Vec<String>, Vec<f32>)> {
    c.query_with(
        QueryRequest {
            embeddings: queries,
            dim,
            n_results: 10,
            ids: None,
            include: Include::query_default(),
        },
        where_,
        None,
        opts,
    )
    .unwrap()
    .into_iter()
    .map(|h| (h.ids, h.distances.unwrap()))
    .collect()
}

fn recall(approx: &[(Vec<String>, Vec<f32>)], exact: &[(Vec<String>, Vec<f32>)]) -> f64 {
    let mut found = 0;
    let mut total = 0;
    for ((a, _), (e, _)) in approx.iter().zip(exact) {
        total += e.len();
        found += e.iter().filter(|id| a.contains(id)).count();
    }
    found as f64 / total as f64
}

const EXACT: SearchOptions = SearchOptions {
    ef_search: None,
    exact: true,
};

#[test]
fn recall_at_defaults_on_20k_with_and_without_filters() {
    let (dim, n) = (64, 20_000);
    let mut rng = Rng::new(7);
    let centres = centres(&mut rng, 100, dim);
    let data = clustered(&mut rng, n, dim, &centres);
    let queries = clustered(&mut rng, 200, dim, &centres);
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let c = db.create_collection("recall", Space::Cosine, None).unwrap();
    // In batches, so the graph is built incrementally, as records arrive.
    for (b, chunk) in data.chunks(5_000 * dim).enumerate() {
        add_with_buckets(&c, b * 5_000, chunk, dim);
    }
    // Writes queue the linking in the background; wait for it.
    c.catch_up_index().unwrap();
    assert_eq!(c.stats().unwrap().indexed_slots, n as u64);

    let exact = search(&c, &queries, dim, None, EXACT);
    let approx = search(&c, &queries, dim, None, SearchOptions::default());
    let r_default = recall(&approx, &exact);
    eprintln!("recall@10 at defaults: {r_default:.3}");
    assert!(
        r_default >= 0.95,
        "recall@10 {r_default:.3} at chromadb's defaults"
    );
    // Distances of the hits are the exact path's distances.
    for ((ids_a, d_a), (ids_e, d_e)) in approx.iter().zip(&exact) {
        for (id, d) in ids_a.iter().zip(d_a) {
            if let Some(j) = ids_e.iter().position(|e| e == id) {
                assert!((d - d_e[j]).abs() <= 1e-6, "{id}: {d} vs {}", d_e[j]);
            }
        }
    }

    // 80% of the records pass: too many for the exact plan (16k^2 > 3 * 30 * ef 100 * 20k),
    // so the graph walks with them as an allow-list.
    let filter = serde_json::json!({"bucket": {"$lt": 8}});
    let exact = search(&c, &queries, dim, Some(&filter), EXACT);
    let approx = search(&c, &queries, dim, Some(&filter), SearchOptions::default());
    let r = recall(&approx, &exact);
    eprintln!("filtered (80%) recall@10: {r:.3}");
    assert!(r >= 0.95, "filtered recall@10 {r:.3}");
    for (ids, _) in &approx {
        assert_eq!(ids.len(), 10);
        for id in ids {
            let i: usize = id[1..].parse().unwrap();
            assert!(i % 10 < 8, "{id} does not pass the filter");
        }
    }

    // The beam width option reaches the search: a beam of 10 finds less than one of 100.
    let narrow = search(
        &c,
        &queries,
        dim,
        None,
        SearchOptions {
            ef_search: Some(10),
            exact: false,
        },
    );
    let exact = search(&c, &queries, dim, None, EXACT);
    let r_narrow = recall(&narrow, &exact);
    eprintln!("recall@10 at ef 10: {r_narrow:.3}");
    assert!(
        r_narrow < r_default,
        "ef 10: {r_narrow:.3}, ef 100: {r_default:.3}"
    );
}

#[test]
fn records_not_yet_linked_are_found_by_the_exact_tail() {
    let dim = 16;
    let data = mixture(11, 20, 6_000, dim);
    let dir = tempfile::tempdir().unwrap();
    let writer = Database::open(dir.path()).unwrap();
    let w = writer.create_collection("tail", Space::L2, None).unwrap();
    add_with_buckets(&w, 0, &data[..5_000 * dim], dim);
    // A second process-like handle: a separate Database sees the records the first one adds
    // next, without having linked them.
    let reader = Database::open(dir.path()).unwrap();
    let r = reader.get_collection("tail").unwrap();
    let _ = search(&r, &data[..dim], dim, None, SearchOptions::default());
    add_with_buckets(&w, 5_000, &data[5_000 * dim..], dim);
    for i in (5_000..6_000).step_by(97) {
        let q = &data[i * dim..(i + 1) * dim];
        let hits = search(&r, q, dim, None, SearchOptions::default());
        assert_eq!(
            hits[0].0[0],
            format!("r{i}"),
            "a record added elsewhere is found"
        );
        assert_eq!(hits[0].1[0], 0.0);
    }
}

/// A batch of queries walks the graph on several threads: each query's hits are the ones it
/// gets alone, in the batch's order, with and without a filter.
#[test]
fn a_batch_through_the_graph_answers_each_query_as_alone() {
    let dim = 16;
    let data = mixture(5, 30, 6_000, dim);
    let db = Database::in_memory().unwrap();
    let c = db.create_collection("batch", Space::Cosine, None).unwrap();
    add_with_buckets(&c, 0, &data, dim);
    c.catch_up_index().unwrap();
    let queries = mixture(6, 30, 64, dim);
    let filter = serde_json::json!({"bucket": {"$in": [1, 4]}});
    for where_ in [None, Some(&filter)] {
        let batch = search(&c, &queries, dim, where_, SearchOptions::default());
        assert_eq!(batch.len(), 64);
        for (q, got) in queries.chunks_exact(dim).zip(&batch) {
            let alone = search(&c, q, dim, where_, SearchOptions::default());
            assert_eq!(got, &alone[0], "filter {where_:?}");
        }
    }
}

#[test]
fn reopen_answers_from_the_saved_graph_as_before_close() {
    let dim = 32;
    let mut rng = Rng::new(3);
    let centres = centres(&mut rng, 30, dim);
    let data = clustered(&mut rng, 6_000, dim, &centres);
    let queries = clustered(&mut rng, 50, dim, &centres);
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let db = Database::open(dir.path()).unwrap();
        let c = db.create_collection("reopen", Space::Ip, None).unwrap();
        add_with_buckets(&c, 0, &data, dim);
        c.catch_up_index().unwrap();
        search(&c, &queries, dim, None, SearchOptions::default())
    };
    let cdir = only_collection_dir(dir.path());
    assert!(cdir.join("hnsw.0.bin").exists(), "closing saves the graph");
    let db = Database::open(dir.path()).unwrap();
    let c = db.get_collection("reopen").unwrap();
    let after = search(&c, &queries, dim, None, SearchOptions::default());
    assert_eq!(before, after);
    assert_eq!(
        c.stats().unwrap().indexed_slots,
        6_000,
        "loaded, not rebuilt"
    );
}

#[test]
fn a_damaged_index_file_is_rebuilt_not_trusted() {
    let dim = 8;
    let data = mixture(5, 10, 5_000, dim);
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let c = db.create_collection("damaged", Space::L2, None).unwrap();
        add_with_buckets(&c, 0, &data, dim);
        c.catch_up_index().unwrap();
    }
    let cdir = only_collection_dir(dir.path());
    let path = cdir.join("hnsw.0.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    bytes.truncate(len / 2);
    std::fs::write(&path, &bytes).unwrap();
    let db = Database::open(dir.path()).unwrap();
    let c = db.get_collection("damaged").unwrap();
    for i in (0..5_000).step_by(499) {
        let hits = search(
            &c,
            &data[i * dim..(i + 1) * dim],
            dim,
            None,
            SearchOptions::default(),
        );
        assert_eq!(hits[0].0[0], format!("r{i}"));
    }
    c.catch_up_index().unwrap();
    assert_eq!(
        c.stats().unwrap().indexed_slots,
        5_000,
        "rebuilt from the vectors"
    );
}

#[test]
fn compaction_rebuilds_the_graph_for_the_new_slots() {
    let dim = 8;
    let data = mixture(9, 10, 5_000, dim);
    let db = Database::in_memory().unwrap();
    let c = db.create_collection("compact", Space::L2, None).unwrap();
    mnemodb::testing::set_index_min_slots(&db, 100);
    add_with_buckets(&c, 0, &data, dim);
    let gone: Vec<String> = (0..5_000).step_by(2).map(|i| format!("r{i}")).collect();
    c.delete(&gone).unwrap();
    assert_eq!(c.compact_blocking().unwrap(), 2_500);
    c.catch_up_index().unwrap();
    assert_eq!(c.stats().unwrap().indexed_slots, 2_500);
    for i in (1..5_000).step_by(250) {
        let hits = search(
            &c,
            &data[i * dim..(i + 1) * dim],
            dim,
            None,
            SearchOptions::default(),
        );
        assert_eq!(hits[0].0[0], format!("r{i}"));
    }
}

#[derive(Debug, Clone)]
enum Op {
    Add(u8),
    Delete(u8),
    Move(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u8..40).prop_map(Op::Add),
        any::<u8>().prop_map(Op::Delete),
        any::<u8>().prop_map(Op::Move),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random adds, deletes and vector updates on a collection that is indexed from its
    /// first slot: a query never returns a deleted id, and the stored vector of any live
    /// record, used as a query, finds that record first (at distance 0).
    #[test]
    fn index_model(ops in proptest::collection::vec(op(), 1..30), seed in any::<u64>()) {
        let dim = 6;
        let db = Database::in_memory().unwrap();
        mnemodb::testing::set_index_min_slots(&db, 1);
        let c = db.create_collection("model", CollectionConfig::with_space(Space::L2), None).unwrap();
        let mut rng = Rng::new(seed);
        let mut live: Vec<(String, Vec<f32>)> = Vec::new();
        let mut deleted: Vec<String> = Vec::new();
        let mut next = 0;
        let fresh = |rng: &mut Rng| -> Vec<f32> {
            (0..dim).map(|_| normal(rng) * 10.0).collect()
        };
        for op in ops {
            match op {
                Op::Add(k) => {
                    let rows: Vec<Vec<f32>> = (0..k).map(|_| fresh(&mut rng)).collect();
                    let ids: Vec<String> = (0..k).map(|j| format!("m{}", next + j as usize)).collect();
                    next += k as usize;
                    c.add(AddBatch { ids: &ids, embeddings: Vectors::new(&rows.concat(), dim), ..AddBatch::default() }).unwrap();
                    live.extend(ids.into_iter().zip(rows));
                }
                Op::Delete(i) if !live.is_empty() => {
                    let (id, _) = live.remove(i as usize % live.len());
                    c.delete(std::slice::from_ref(&id)).unwrap();
                    deleted.push(id);
                }
                Op::Move(i) if !live.is_empty() => {
                    let j = i as usize % live.len();
                    let v = fresh(&mut rng);
                    c.update(UpdateBatch {
                        ids: std::slice::from_ref(&live[j].0),
                        embeddings: Some(Vectors::new(&v, dim)),
                        ..UpdateBatch::default()
                    }).unwrap();
                    live[j].1 = v;
                }
                _ => {}
            }
            // Half the checks on a complete graph, half with records it may not have reached.
            if rng.chance(1, 2) {
                c.catch_up_index().unwrap();
            }
            for (id, v) in live.iter().step_by(3) {
                let hits = search(&c, v, dim, None, SearchOptions::default());
                prop_assert_eq!(&hits[0].0[0], id);
                prop_assert_eq!(hits[0].1[0], 0.0);
                for got in &hits[0].0 {
                    prop_assert!(!deleted.contains(got), "deleted {} returned", got);
                }
            }
        }
    }
}

#[test]
fn the_live_slots_file_is_used_only_for_its_own_seq() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 4;
    let rows: Vec<f32> = (0..40).map(|i| i as f32).collect();
    {
        let db = Database::open(dir.path()).unwrap();
        let c = db.create_collection("live", Space::L2, None).unwrap();
        add_with_buckets(&c, 0, &rows, dim);
        // The table a process has read is what it saves.
        assert_eq!(c.count().unwrap(), 10);
    }
    let cdir = only_collection_dir(dir.path());
    assert!(cdir.join("live.0.bin").exists(), "closing saves the table");
    // A writer that never closes (as if killed) leaves the file one seq behind.
    let db = Database::open(dir.path()).unwrap();
    let c = db.get_collection("live").unwrap();
    c.delete(&["r3".to_string(), "r7".to_string()]).unwrap();
    std::mem::forget(c);
    std::mem::forget(db);
    let db = Database::open(dir.path()).unwrap();
    let c = db.get_collection("live").unwrap();
    assert_eq!(c.count().unwrap(), 8, "the deletes are seen");
    let hits = search(
        &c,
        &rows[3 * dim..4 * dim],
        dim,
        None,
        SearchOptions::default(),
    );
    assert!(!hits[0].0.contains(&"r3".to_string()));
}

/// A pass links the rows committed when it began, and before each step encodes the walk copy
/// of rows committed since, so queries rank those by the copy until the next pass links them.
/// Here the pass is told it began at 5,000 of 20,000 rows (and, for contrast, told of nothing
/// more); every record is found either way.
#[test]
fn a_pass_encodes_the_copy_of_rows_committed_while_it_links() {
    const DIM: usize = 8;
    let n = 20_000;
    let mut rng = Rng::new(23);
    let rows: Vec<f32> = (0..n * DIM)
        .map(|_| rng.below(1 << 20) as f32 / (1u32 << 20) as f32 - 0.5)
        .collect();
    let ids: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
    for told_of_more in [false, true] {
        let db = Database::in_memory().unwrap();
        // No background pass: the test runs the one pass itself.
        mnemodb::testing::stop_background_jobs(&db);
        let c = db.create_collection("pass", Space::L2, None).unwrap();
        c.add(AddBatch {
            ids: &ids,
            embeddings: Vectors::new(&rows, DIM),
            ..AddBatch::default()
        })
        .unwrap();
        let committed = if told_of_more { n as u64 } else { 5_000 };
        let (linked, copy) = mnemodb::testing::catch_up_as_if(&c, 5_000, committed).unwrap();
        assert_eq!(
            linked, 5_000,
            "a pass links what was committed when it began"
        );
        assert_eq!(
            copy as u64, committed,
            "walk copy rows (told of more: {told_of_more})"
        );
        for slot in [4_999, 5_000, 12_345, n - 1] {
            let q = &rows[slot * DIM..(slot + 1) * DIM];
            let hit = &crate::support::nearest(&c, q, 1)[0];
            assert_eq!(hit.0, format!("r{slot}"), "told of more: {told_of_more}");
        }
    }
}
