//! Where a single query's time goes: the same k=10 query through the collection API with
//! more and more of the work switched on, from `count()` (a snapshot and nothing else) to a
//! filtered query returning documents and metadata. Meant to be run under `perf record`.
//!
//! `cargo run --release -p mnemodb-bench --bin query_cost [N] [DIR]`: N generated records
//! (100,000 by default) in DIR (a temporary directory by default; an existing DIR holding the
//! `bench` collection is reused, so repeated profiles skip the build). `QUERY_COST_ONLY=<part
//! of a label>` runs one variant, `QUERY_COST_ROUNDS` sets the rounds (3).

#![allow(clippy::print_stdout)] // a report binary: its output is the point

use std::time::Instant;

use mnemodb::{
    AddBatch, Database, Include, Metadata, MetadataValue, QueryRequest, SearchOptions, Vectors,
};
use mnemodb_bench::clustered_unit_rows;

const DIM: usize = 384;
const QUERIES: usize = 1_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let temp = tempfile::tempdir()?;
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temp.path().to_path_buf());
    let db = Database::open(&dir)?;
    // The queries are kept beside the database, so a reused one is queried the same way
    // without generating its records again.
    let queries_file = dir.join("queries.f32");
    let (c, queries) = match db.get_collection("bench") {
        Ok(c) if queries_file.exists() => {
            let bytes = std::fs::read(&queries_file)?;
            let queries: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (c, queries)
        }
        _ => {
            let _ = db.delete_collection("bench");
            let (data, queries) = clustered_unit_rows(n, QUERIES, DIM, 1_000, 42);
            let c = db.create_collection("bench", mnemodb::Space::Cosine, None)?;
            let ids: Vec<String> = (0..n).map(|i| format!("id{i}")).collect();
            let docs: Vec<Option<String>> = (0..n)
                .map(|i| Some(format!("document number {i}")))
                .collect();
            let metas: Vec<Option<Metadata>> = (0..n)
                .map(|i| {
                    let mut m = Metadata::new();
                    m.insert("source".into(), MetadataValue::Str(format!("s{}", i % 10)));
                    m.insert("n".into(), MetadataValue::Int(i as i64));
                    Some(m)
                })
                .collect();
            for start in (0..n).step_by(10_000) {
                let end = (start + 10_000).min(n);
                c.add(AddBatch {
                    ids: &ids[start..end],
                    embeddings: Vectors::new(&data[start * DIM..end * DIM], DIM),
                    metadatas: Some(&metas[start..end]),
                    documents: Some(&docs[start..end]),
                    ..AddBatch::default()
                })?;
            }
            let bytes: Vec<u8> = queries.iter().flat_map(|q| q.to_le_bytes()).collect();
            std::fs::write(&queries_file, bytes)?;
            (c, queries)
        }
    };
    c.catch_up_index()?;

    let ef16 = SearchOptions {
        ef_search: Some(16),
        exact: false,
    };
    let exact = SearchOptions {
        exact: true,
        ..SearchOptions::default()
    };
    let filter = serde_json::json!({"source": "s3"});
    let ids_only = Include::default();
    let chroma = Include::query_default();

    // `QUERY_COST_ONLY=<part of a label>` runs one variant (for a profile of it alone).
    let only = std::env::var("QUERY_COST_ONLY").ok();
    let rounds: usize = std::env::var("QUERY_COST_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    for round in 0..rounds {
        println!("round {round}");
        let per = |label: &str, f: &mut dyn FnMut(&[f32])| {
            if only.as_deref().is_some_and(|o| !label.contains(o)) {
                return;
            }
            let mut times: Vec<f64> = queries
                .chunks_exact(DIM)
                .map(|q| {
                    let t = Instant::now();
                    f(q);
                    t.elapsed().as_secs_f64() * 1e6
                })
                .collect();
            let mean = times.iter().sum::<f64>() / times.len() as f64;
            times.sort_by(f64::total_cmp);
            let p50 = times[times.len() / 2];
            println!("  {label:<40} mean {mean:8.1} µs  p50 {p50:8.1} µs");
        };
        let query = |q: &[f32], include, filter: Option<&serde_json::Value>, opts| {
            query_in(&c, q, include, filter, opts)
        };
        let ef24 = SearchOptions {
            ef_search: Some(24),
            exact: false,
        };
        per("query ef 24, chroma's include", &mut |q| {
            query(q, chroma, None, ef24)
        });
        per("count()", &mut |_| {
            c.count().ok();
        });
        per("query ef 16, ids only", &mut |q| {
            query(q, ids_only, None, ef16)
        });
        per("query ef 16, chroma's include", &mut |q| {
            query(q, chroma, None, ef16)
        });
        per("query exact, ids only", &mut |q| {
            query(q, ids_only, None, exact)
        });
        per("query 10% filter, ids only", &mut |q| {
            query(q, ids_only, Some(&filter), SearchOptions::default())
        });
        let fresh = std::cell::Cell::new(0u64);
        per("query 10% new filter each time, ids only", &mut |q| {
            fresh.set(fresh.get() + 1);
            let absent = format!("absent-{}", fresh.get());
            let w = serde_json::json!({"source": {"$in": ["s3", absent]}});
            query(q, ids_only, Some(&w), SearchOptions::default())
        });
        per("get 10% new filter each time, limit 1", &mut |_| {
            fresh.set(fresh.get() + 1);
            let absent = format!("absent-{}", fresh.get());
            let w = serde_json::json!({"source": {"$in": ["s3", absent]}});
            c.get(mnemodb::GetRequest {
                where_: Some(&w),
                limit: Some(1),
                ..mnemodb::GetRequest::default()
            })
            .ok();
        });
        per("query 10% filter exact, ids only", &mut |q| {
            query(q, ids_only, Some(&filter), exact)
        });
        if only.as_deref().is_none_or(|o| "reopen".contains(o)) {
            // A second handle on the directory has its own per-process state: it loads the
            // saved graph and live-slots table as a fresh process would.
            let mut times = Vec::new();
            for q in queries.chunks_exact(DIM).take(20) {
                let t = Instant::now();
                let db = Database::open(&dir)?;
                let c = db.get_collection("bench")?;
                query_in(&c, q, ids_only, None, ef16);
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "  {:<40} p50 {:8.2} ms",
                "reopen + first query",
                times[times.len() / 2]
            );
        }
    }
    Ok(())
}

fn query_in(
    c: &mnemodb::Collection,
    q: &[f32],
    include: Include,
    filter: Option<&serde_json::Value>,
    opts: SearchOptions,
) {
    c.query_with(
        QueryRequest {
            embeddings: q,
            dim: DIM,
            n_results: 10,
            ids: None,
            include,
        },
        filter,
        None,
        opts,
    )
    .ok();
}
