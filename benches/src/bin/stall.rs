//! Foreground latency while the index builds: adds N x D records in one `add`, then queries
//! in a loop from the moment the add returns, printing p50 / p99 / max per second of the
//! build and the p50 once the index is complete (issue 23: a query must never wait for
//! background work).
//!
//! `cargo run --release -p mnemodb-bench --bin stall [N] [D] [SECONDS_AFTER]`: 50,000 x 64 by
//! default; after the index is complete it queries SECONDS_AFTER (2) more seconds.
//!
//! On a shared machine a slow query may only have been waiting for a CPU. Each query's time
//! is split with the kernel's scheduler counters (`/proc/thread-self/schedstat`: time on a
//! CPU, time runnable but waiting for one), and every line also gives the worst query's time
//! *less* its run-queue wait: what the query itself spent, computing or blocked on a lock.

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
    let mut times: Vec<Sample> = Vec::new();
    let mut done_at: Option<Instant> = None;
    let mut complete: Vec<Sample> = Vec::new();
    let mut worst = 0f64;
    let mut worst_own = 0f64;
    let mut i = 0usize;
    loop {
        let q = &queries[(i % QUERIES) * dim..(i % QUERIES + 1) * dim];
        i += 1;
        let before = SchedStat::read();
        let t = Instant::now();
        c.query(QueryRequest {
            embeddings: q,
            dim,
            n_results: 10,
            ids: None,
            include: Include::default(),
        })?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let stat = SchedStat::read();
        let waited = stat.waiting_ms_since(before);
        let sample = Sample {
            ms,
            own_ms: (ms - waited).max(0.0),
            on_cpu_ms: stat.on_cpu_ms_since(before),
        };
        if done_at.is_some() {
            complete.push(sample);
        } else {
            times.push(sample);
            worst = worst.max(ms);
            worst_own = worst_own.max(sample.own_ms);
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
    println!("max during the build: {worst:.2} ms; less run-queue waits: {worst_own:.2} ms");
    report("index complete", &mut complete);
    Ok(())
}

/// One query's wall time, and the same less the time its thread waited for a CPU.
#[derive(Clone, Copy)]
struct Sample {
    ms: f64,
    own_ms: f64,
    on_cpu_ms: f64,
}

/// This thread's scheduler counters (nanoseconds on a CPU, nanoseconds waiting on a run
/// queue), or `None` where the kernel does not expose them (then nothing is subtracted).
#[derive(Clone, Copy)]
struct SchedStat(Option<(u64, u64)>);

impl SchedStat {
    fn read() -> Self {
        let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
        let mut words = text.split_whitespace().map(|w| w.parse::<u64>().ok());
        Self(match (words.next().flatten(), words.next().flatten()) {
            (Some(on_cpu), Some(waiting)) => Some((on_cpu, waiting)),
            _ => None,
        })
    }

    fn waiting_ms_since(self, before: Self) -> f64 {
        match (before.0, self.0) {
            (Some(a), Some(b)) => b.1.saturating_sub(a.1) as f64 / 1e6,
            _ => 0.0,
        }
    }

    fn on_cpu_ms_since(self, before: Self) -> f64 {
        match (before.0, self.0) {
            (Some(a), Some(b)) => b.0.saturating_sub(a.0) as f64 / 1e6,
            _ => 0.0,
        }
    }
}

/// Prints and clears one window's latencies.
fn report(label: &str, samples: &mut Vec<Sample>) {
    if samples.is_empty() {
        println!("{label}: no query finished");
        return;
    }
    let mut times: Vec<f64> = samples.iter().map(|s| s.ms).collect();
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    let own_max = samples.iter().map(|s| s.own_ms).fold(0.0, f64::max);
    let on_cpu_max = samples.iter().map(|s| s.on_cpu_ms).fold(0.0, f64::max);
    println!(
        "{label}: {:>6} queries  p50 {:7.2} ms  p99 {:7.2} ms  max {:8.2} ms  (less run-queue wait {:7.2} ms, on a CPU {:7.2} ms)",
        times.len(),
        at(0.5),
        at(0.99),
        at(1.0),
        own_max,
        on_cpu_max
    );
    samples.clear();
}
