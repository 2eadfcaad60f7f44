//! Add throughput: 100k x 384 f32 records in batches of 5,000 into a fresh database, with
//! vectors and ids only, and with ids, small metadata and short documents.
//!
//! Run: `cargo bench -p mnemodb-bench --bench ingest`. Each iteration opens a new database in
//! a temporary directory (`TMPDIR`, so put it on the disk you want measured) and times the
//! `add` calls only; criterion reports elements/s, i.e. records per second.

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use mnemodb::{AddBatch, Database, Metadata, MetadataValue, Space, Vectors};
use mnemodb_bench::unit_gaussian_rows;

/// Records added per iteration.
const RECORDS: usize = 100_000;
/// Floats per vector.
const DIM: usize = 384;
/// Records per `add` call (below chroma's maximum batch of 5,461).
const ADD_BATCH: usize = 5_000;

/// The records to add, built once; each iteration adds all of them to a new database.
struct Records {
    ids: Vec<String>,
    embeddings: Vec<f32>,
    metadatas: Vec<Option<Metadata>>,
    documents: Vec<Option<String>>,
}

impl Records {
    fn new() -> Records {
        let metadata = |i: usize| {
            Metadata::from([
                (
                    "source".to_owned(),
                    MetadataValue::Str(format!("s{}", i % 10)),
                ),
                ("n".to_owned(), MetadataValue::Int(i as i64)),
            ])
        };
        Records {
            ids: (0..RECORDS).map(|i| format!("id{i}")).collect(),
            embeddings: unit_gaussian_rows(RECORDS, DIM, 42),
            metadatas: (0..RECORDS).map(|i| Some(metadata(i))).collect(),
            documents: (0..RECORDS)
                .map(|i| Some(format!("note {i}: a short document about topic {}", i % 10)))
                .collect(),
        }
    }
}

/// Adds every record to a new collection in a new database; returns the time of the adds.
fn add_all(records: &Records, with_fields: bool) -> Duration {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let db = Database::open(dir.path()).expect("open the database");
    let collection = db
        .create_collection("ingest", Space::L2, None)
        .expect("create");
    let started = Instant::now();
    for (b, ids) in records.ids.chunks(ADD_BATCH).enumerate() {
        let range = b * ADD_BATCH..b * ADD_BATCH + ids.len();
        let embeddings = &records.embeddings[range.start * DIM..range.end * DIM];
        let batch = if with_fields {
            AddBatch {
                ids,
                embeddings: Vectors::new(embeddings, DIM),
                documents: Some(&records.documents[range.clone()]),
                metadatas: Some(&records.metadatas[range]),
                ..AddBatch::default()
            }
        } else {
            AddBatch {
                ids,
                embeddings: Vectors::new(embeddings, DIM),
                ..AddBatch::default()
            }
        };
        collection.add(batch).expect("add a batch");
    }
    let elapsed = started.elapsed();
    assert_eq!(collection.count().expect("count"), RECORDS as u64);
    elapsed
}

fn ingest_benches(c: &mut Criterion) {
    let records = Records::new();
    let mut group = c.benchmark_group("add_100k");
    group
        .throughput(Throughput::Elements(RECORDS as u64))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat);
    for (name, with_fields) in [("vectors+ids", false), ("ids+metadata+documents", true)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| add_all(&records, with_fields)).sum())
        });
    }
    group.finish();
}

criterion_group!(benches, ingest_benches);
criterion_main!(benches);
