//! Exact search over 100k x 384 f32 (L2 and cosine): single-query latency, batch-of-100
//! throughput, and the memory bandwidth that bounds one scan.
//!
//! Run: `cargo bench -p mnemodb-bench --bench search`. After criterion's report the bench
//! prints a summary with its own timer: read bandwidth, the bandwidth-bound time of one scan
//! (`bytes / bandwidth`) and each single-query latency as a multiple of that bound.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use mnemodb::{
    AddBatch, Collection, Database, Include, Isa, Metadata, MetadataValue, QueryRequest, Space,
    Vectors,
};
use mnemodb_bench::unit_gaussian_rows;
use rayon::prelude::*;

/// Rows in the collection.
const ROWS: usize = 100_000;
/// Floats per row (all-MiniLM-L6-v2's dimension).
const DIM: usize = 384;
/// Queries in a batch.
const BATCH_QUERIES: usize = 100;
/// Records per `add` call (below chroma's maximum batch of 5,461).
const ADD_BATCH: usize = 5_000;
/// Results per query.
const K: usize = 10;
/// Bytes one exact scan must read: every row once.
const SCAN_BYTES: usize = ROWS * DIM * size_of::<f32>();
/// Floats per rayon task in the parallel bandwidth read (256 KiB).
const READ_TASK_FLOATS: usize = 1 << 16;
/// Read/query pairs in the summary (medians are reported).
const SUMMARY_RUNS: usize = 21;

/// The data, the queries and one collection per space, built once in a temporary directory.
struct Fixture {
    /// Keeps the database directory alive while the collections are in use.
    _dir: tempfile::TempDir,
    data: Vec<f32>,
    queries: Vec<f32>,
    collections: Vec<(Space, Collection)>,
    /// Cosine collection whose records carry `{"source": "s" + i % 10, "n": i}` and the
    /// document `"note number {i} about topic {i % 10}"`.
    filtered: Collection,
}

impl Fixture {
    fn new() -> Fixture {
        let started = Instant::now();
        let data = unit_gaussian_rows(ROWS, DIM, 42);
        let queries = unit_gaussian_rows(BATCH_QUERIES, DIM, 43);
        let ids: Vec<String> = (0..ROWS).map(|i| format!("id{i}")).collect();
        let dir = tempfile::tempdir().expect("create a temporary directory");
        // The exact-scan collections get no HNSW graph: building one in the background would
        // load both cores while the scans are measured (and the planner would then walk it).
        let db = Database::open(dir.path().join("exact")).expect("open the database");
        mnemodb::testing::set_index_min_slots(&db, u64::MAX);
        let collections = [Space::L2, Space::Cosine]
            .into_iter()
            .map(|space| {
                let collection = db
                    .create_collection(&format!("bench-{space}"), space, None)
                    .expect("create the collection");
                for (ids, rows) in ids.chunks(ADD_BATCH).zip(data.chunks(ADD_BATCH * DIM)) {
                    collection
                        .add(AddBatch {
                            ids,
                            embeddings: Vectors::new(rows, DIM),
                            ..AddBatch::default()
                        })
                        .expect("add a batch");
                }
                // A row is its own nearest neighbour: the scan being measured works.
                let hits = query(&collection, &data[7 * DIM..8 * DIM]);
                assert_eq!(hits, "id7", "{space}: row 7 should find itself first");
                (space, collection)
            })
            .collect();
        // The filtered collection has its graph, complete before measuring: each filter is
        // answered by the plan the collection picks (an exact scan of the candidates, or the
        // walk with them as an allow-list).
        let filtered_db = Database::open(dir.path().join("filtered")).expect("open the database");
        let filtered = filtered_db
            .create_collection("bench-filtered", Space::Cosine, None)
            .expect("create the collection");
        for (start, (ids, rows)) in (0..)
            .step_by(ADD_BATCH)
            .zip(ids.chunks(ADD_BATCH).zip(data.chunks(ADD_BATCH * DIM)))
        {
            let metadatas: Vec<Option<Metadata>> = (start..start + ids.len())
                .map(|i: usize| {
                    Some(Metadata::from([
                        (
                            "source".to_string(),
                            MetadataValue::Str(format!("s{}", i % 10)),
                        ),
                        ("n".to_string(), MetadataValue::Int(i as i64)),
                    ]))
                })
                .collect();
            let documents: Vec<Option<String>> = (start..start + ids.len())
                .map(|i: usize| Some(format!("note number {i} about topic {}", i % 10)))
                .collect();
            filtered
                .add(AddBatch {
                    ids,
                    embeddings: Vectors::new(rows, DIM),
                    metadatas: Some(&metadatas),
                    documents: Some(&documents),
                    ..AddBatch::default()
                })
                .expect("add a batch");
        }
        filtered.catch_up_index().expect("complete the index");
        let isa = Isa::selected().map_or_else(|e| e.to_string(), |i| i.name().to_owned());
        eprintln!(
            "search fixture: {ROWS} x {DIM} f32 ({:.1} MB) per space, built in {:.1?}; \
             SIMD path {isa}; rayon threads {}",
            SCAN_BYTES as f64 / 1e6,
            started.elapsed(),
            rayon::current_num_threads()
        );
        Fixture {
            _dir: dir,
            data,
            queries,
            collections,
            filtered,
        }
    }
}

/// Ids and distances only: what the scan costs, with the least record lookup on top.
fn ids_and_distances() -> Include {
    Include {
        distances: true,
        ..Include::default()
    }
}

/// Runs `queries` (back to back) through `collection`; returns the first hit's id.
fn query(collection: &Collection, queries: &[f32]) -> String {
    let hits = collection
        .query(QueryRequest {
            embeddings: queries,
            dim: DIM,
            n_results: K,
            ids: None,
            include: ids_and_distances(),
        })
        .expect("query");
    hits.into_iter()
        .next()
        .and_then(|h| h.ids.into_iter().next())
        .unwrap_or_default()
}

/// A sum with 16 independent lanes, so it vectorizes and is limited by loads, not adds.
fn sum_lanes(xs: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let chunks = xs.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (a, x) in acc.iter_mut().zip(chunk) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Reads the whole buffer on rayon's pool (as the scan does).
fn sum_parallel(xs: &[f32]) -> f32 {
    xs.par_chunks(READ_TASK_FLOATS).map(sum_lanes).sum()
}

fn bandwidth(c: &mut Criterion, buffer: &[f32]) {
    let mut group = c.benchmark_group("bandwidth");
    group
        .throughput(Throughput::Bytes(SCAN_BYTES as u64))
        .sample_size(50);
    group.bench_function("read/1-thread", |b| b.iter(|| sum_lanes(black_box(buffer))));
    group.bench_function("read", |b| b.iter(|| sum_parallel(black_box(buffer))));
    group.finish();
}

fn single_query(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("exact/single");
    // Bytes scanned per query: criterion's GB/s is the scan's effective bandwidth.
    group
        .throughput(Throughput::Bytes(SCAN_BYTES as u64))
        .sample_size(20);
    let q = &fx.queries[..DIM];
    for (space, collection) in &fx.collections {
        group.bench_function(space.as_str(), |b| {
            b.iter(|| query(collection, black_box(q)))
        });
    }
    group.finish();
}

fn batch_queries(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("exact/batch100");
    group
        .throughput(Throughput::Elements(BATCH_QUERIES as u64))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat);
    for (space, collection) in &fx.collections {
        group.bench_function(space.as_str(), |b| {
            b.iter(|| query(collection, black_box(&fx.queries)))
        });
    }
    group.finish();
}

/// Wall time of one call.
fn time(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

fn median<T: Copy + PartialOrd>(mut xs: Vec<T>) -> T {
    xs.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    xs[xs.len() / 2]
}

/// The bandwidth bound and how far each single-query scan is from it. Reads and queries
/// alternate, so both see the same background load; each ratio is of one adjacent pair.
fn summary(fx: &Fixture, buffer: &[f32]) {
    let read = || {
        black_box(sum_parallel(black_box(buffer)));
    };
    eprintln!("\nsummary (own timer, median of {SUMMARY_RUNS} alternating read/query pairs):");
    for (space, collection) in &fx.collections {
        let single = || {
            black_box(query(collection, &fx.queries[..DIM]));
        };
        read();
        single();
        let pairs: Vec<(Duration, Duration)> = (0..SUMMARY_RUNS)
            .map(|_| (time(read), time(single)))
            .collect();
        let bound = median(pairs.iter().map(|p| p.0).collect());
        let scan = median(pairs.iter().map(|p| p.1).collect());
        let ratio = median(
            pairs
                .iter()
                .map(|p| p.1.as_secs_f64() / p.0.as_secs_f64())
                .collect(),
        );
        eprintln!(
            "  {space}: read {:.1} GB/s ({} threads) -> bandwidth-bound scan {:.3} ms; \
             exact single query {:.3} ms = {ratio:.2}x the bound (target <= 1.3x)",
            SCAN_BYTES as f64 / bound.as_secs_f64() / 1e9,
            rayon::current_num_threads(),
            bound.as_secs_f64() * 1e3,
            scan.as_secs_f64() * 1e3,
        );
    }
}

/// Filtered search on the cosine collection with metadata: the filter's candidates come from
/// the metadata index, then the collection's plan (at 1 % and 10 %, and for the document
/// filter, an exact scan of the candidates; recall 1.0).
fn filtered_queries(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("filtered");
    group.sample_size(30);
    let q = &fx.queries[..DIM];
    let metadata = |f| (Some(f), None);
    for (name, (where_, where_document)) in [
        ("10pct", metadata(serde_json::json!({"source": "s3"}))),
        ("1pct", metadata(serde_json::json!({"n": {"$lt": 1000}}))),
        ("0.1pct", metadata(serde_json::json!({"n": {"$lt": 100}}))),
        // 10 % of the documents contain "topic 3".
        (
            "document-contains-10pct",
            (None, Some(serde_json::json!({"$contains": "topic 3"}))),
        ),
    ] {
        let run = || filtered(fx, q, where_.as_ref(), where_document.as_ref());
        // The first call of the first metadata (document) filter also reads the collection's
        // metadata (documents) into the in-memory filter index.
        let started = Instant::now();
        let first = run();
        eprintln!("filtered/{name}: first call {:.2?}", started.elapsed());
        assert_eq!(
            first[0].ids.len(),
            K,
            "{name}: the filter should leave k candidates"
        );
        group.bench_function(name, |b| b.iter(run));
    }
    // The same 10 % of the records under a filter never seen before (`$in` with one more
    // value no record has, a new one each time): the candidates come from SQLite every time
    // instead of the filter cache.
    let fresh = std::cell::Cell::new(0i64);
    group.bench_function("10pct-uncached", |b| {
        b.iter(|| {
            fresh.set(fresh.get() + 1);
            let absent = format!("absent-{}", fresh.get());
            let w = serde_json::json!({"source": {"$in": ["s3", absent]}});
            filtered(fx, q, Some(&w), None)
        })
    });
    // The document filter's 10 % under a where_document never seen before: the filter cache
    // cannot answer, so every query searches the documents afresh.
    group.bench_function("document-contains-uncached", |b| {
        b.iter(|| {
            fresh.set(fresh.get() + 1);
            let absent = format!("absent-{}", fresh.get());
            let d = serde_json::json!({"$or": [{"$contains": "topic 3"}, {"$contains": absent}]});
            filtered(fx, q, None, Some(&d))
        })
    });
    group.finish();
    let (loads, bytes) = mnemodb::testing::filter_index_figures(&fx.filtered);
    eprintln!(
        "filter index of the filtered collection: {:.1} MB (metadata and documents), read \
         from the sidecar {loads} times",
        bytes as f64 / 1e6
    );
}

/// One k-nearest query of the filtered collection, ids and distances only.
fn filtered(
    fx: &Fixture,
    q: &[f32],
    where_: Option<&serde_json::Value>,
    where_document: Option<&serde_json::Value>,
) -> Vec<mnemodb::QueryHits> {
    fx.filtered
        .query_where(
            QueryRequest {
                embeddings: q,
                dim: DIM,
                n_results: K,
                ids: None,
                include: ids_and_distances(),
            },
            where_,
            where_document,
        )
        .expect("filtered query")
}

fn search_benches(c: &mut Criterion) {
    let fx = Fixture::new();
    // The bandwidth read uses the generated data: a heap buffer of exactly the scan's size.
    bandwidth(c, &fx.data);
    single_query(c, &fx);
    batch_queries(c, &fx);
    filtered_queries(c, &fx);
    // Only when measuring: `cargo test --benches` (no `--bench`) and `-- --test` are smoke
    // runs, `-- --list` lists.
    let args: Vec<String> = std::env::args().collect();
    let measuring =
        args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list");
    if measuring {
        summary(&fx, &fx.data);
    }
}

criterion_group!(benches, search_benches);
criterion_main!(benches);
