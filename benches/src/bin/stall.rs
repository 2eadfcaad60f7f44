//! Foreground latency while the index builds: adds N x D records in one `add`, then queries
//! in a loop from the moment the add returns, printing p50 / p99 / max per second of the
//! build and the p50 once the index is complete (issue 23: a query must never wait for
//! background work).
//!
//! `cargo run --release -p mnemodb-bench --bin stall [N] [D] [SECONDS_AFTER]`: 50,000 x 64 by
//! default; after the index is complete it queries SECONDS_AFTER (2) more seconds.

#![allow(clippy::print_stdout)] // a report binary: its output is the point

use std::time::{Duration, Instant};

use mnemodb::{AddBatch, Database, Include, QueryRequest, Vectors};
use mnemodb_bench::clustered_unit_rows;

const QUERIES: usize = 256;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let dim: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let after: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2.0);
    let temp = tempfile::tempdir()?;
    let db = Database::open(temp.path())?;
    let c = db.create_collection("stall", mnemodb::Space::Cosine, None)?;
    let (data, queries) = clustered_unit_rows(n, QUERIES, dim, 1_000, 7);
    let ids: Vec<String> = (0..n).map(|i| format!("id{i}")).collect();
    let t = Instant::now();
    c.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(&data, dim),
        ..AddBatch::default()
    })?;
    println!(
        "added {n} x {dim} in one add: {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let mut second = 0u64;
    let mut times: Vec<f64> = Vec::new();
    let mut done_at: Option<Instant> = None;
    let mut complete: Vec<f64> = Vec::new();
    let mut worst = 0f64;
    let mut i = 0usize;
    loop {
        let q = &queries[(i % QUERIES) * dim..(i % QUERIES + 1) * dim];
        i += 1;
        let t = Instant::now();
        c.query(QueryRequest {
            embeddings: q,
            dim,
            n_results: 10,
            ids: None,
            include: Include::default(),
        })?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if done_at.is_some() {
            complete.push(ms);
        } else {
            times.push(ms);
            worst = worst.max(ms);
        }
        let now = start.elapsed().as_secs();
        if now > second && done_at.is_none() {
            let linked = c.stats()?.indexed_slots;
            report(
                &format!("second {second:>3} (linked {linked:>7})"),
                &mut times,
            );
            second = now;
            if linked >= n as u64 {
                done_at = Some(Instant::now());
            }
        }
        if done_at.is_some_and(|d| d.elapsed().as_secs_f64() >= after) {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            println!("index not complete after 600 s");
            break;
        }
    }
    println!("max during the build: {worst:.2} ms");
    report("index complete", &mut complete);
    Ok(())
}

/// Prints and clears one window's latencies.
fn report(label: &str, times: &mut Vec<f64>) {
    if times.is_empty() {
        println!("{label}: no query finished");
        return;
    }
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!(
        "{label}: {:>6} queries  p50 {:7.2} ms  p99 {:7.2} ms  max {:8.2} ms",
        times.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    times.clear();
}
