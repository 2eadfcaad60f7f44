//! `mnemodb bench`: a quick benchmark on generated data in a temporary directory: add
//! throughput, query latency (plain and filtered), get by id, count; printed as a table.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use mnemodb::{
    AddBatch, Database, GetRequest, Include, Metadata, MetadataValue, QueryRequest, Space, Vectors,
};
use serde_json::json;

use super::progress;
use crate::error::{Error, Result};

const BATCH: usize = 1000;

/// xorshift64*: repeatable data, not quality.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn row(out: &mut String, what: &str, n: usize, mut times: Vec<Duration>, unit: &str) {
    times.sort();
    let total: Duration = times.iter().sum();
    let rate = if total.is_zero() {
        0.0
    } else {
        n as f64 / total.as_secs_f64()
    };
    let _ = writeln!(
        out,
        "| {what:<28} | {n:>8} | {:>9.3} | {:>9.3} | {:>9.3} | {rate:>12.0} {unit:<7} |",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

/// Runs the benchmark and returns the table.
pub(crate) fn run(records: usize, dim: usize, queries: usize) -> Result<String> {
    if records == 0 || dim == 0 || queries == 0 {
        return Err(Error::invalid(
            "bench: --records, --dim and --queries must be at least 1",
        ));
    }
    let tmp = tempfile::tempdir().map_err(|e| Error::io("create", "a temporary directory", e))?;
    let db = Database::open(tmp.path())?;
    let col = db.create_collection("bench", Space::Cosine, None)?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);

    let bar = progress(records as u64, "add");
    let mut add_times = Vec::new();
    let mut start = 0;
    while start < records {
        let n = BATCH.min(records - start);
        let ids: Vec<String> = (start..start + n).map(|i| format!("r{i}")).collect();
        let embeddings: Vec<f32> = (0..n * dim).map(|_| rng.next_f32()).collect();
        let metadatas: Vec<Option<Metadata>> = (start..start + n)
            .map(|i| {
                let mut m = Metadata::new();
                m.insert("bucket".into(), MetadataValue::Int((i % 100) as i64));
                Some(m)
            })
            .collect();
        let t = Instant::now();
        col.add(AddBatch {
            ids: &ids,
            embeddings: Vectors::new(&embeddings, dim),
            metadatas: Some(&metadatas),
            ..AddBatch::default()
        })?;
        add_times.push(t.elapsed());
        bar.inc(n as u64);
        start += n;
    }
    bar.finish_and_clear();

    let qs: Vec<Vec<f32>> = (0..queries)
        .map(|_| (0..dim).map(|_| rng.next_f32()).collect())
        .collect();
    let time_queries = |filter: Option<&serde_json::Value>| -> Result<Vec<Duration>> {
        qs.iter()
            .map(|q| {
                let t = Instant::now();
                col.query_where(
                    QueryRequest {
                        embeddings: q,
                        dim,
                        n_results: 10,
                        ids: None,
                        include: Include::query_default(),
                    },
                    filter,
                    None,
                )?;
                Ok(t.elapsed())
            })
            .collect()
    };
    let plain = time_queries(None)?;
    let where_ = json!({"bucket": {"$lt": 10}});
    let filtered = time_queries(Some(&where_))?;
    let mut get_times = Vec::new();
    for i in 0..queries {
        let ids = vec![format!("r{}", (rng.next_u64() as usize + i) % records)];
        let t = Instant::now();
        col.get(GetRequest {
            ids: Some(&ids),
            include: Include::all_get(),
            ..GetRequest::default()
        })?;
        get_times.push(t.elapsed());
    }
    let t = Instant::now();
    let count = col.count()?;
    let count_time = t.elapsed();

    let mut out = String::new();
    let _ = writeln!(
        out,
        "mnemodb bench: {records} records x {dim} dims (cosine), {queries} queries, SIMD path {:?}",
        mnemodb::Isa::detect()
    );
    let _ = writeln!(
        out,
        "| {:<28} | {:>8} | {:>9} | {:>9} | {:>9} | {:>20} |",
        "operation", "calls", "p50 ms", "p99 ms", "max ms", "throughput"
    );
    let _ = writeln!(
        out,
        "|{:-<30}|{:-<10}|{:-<11}|{:-<11}|{:-<11}|{:-<22}|",
        "", "", "", "", "", ""
    );
    let batches = add_times.len();
    let mut add_row = String::new();
    row(
        &mut add_row,
        &format!("add (batches of {BATCH})"),
        records,
        add_times,
        "rec/s",
    );
    out.push_str(&add_row.replacen(
        &format!("| {records:>8} |"),
        &format!("| {batches:>8} |"),
        1,
    ));
    row(&mut out, "query top-10", queries, plain, "q/s");
    row(
        &mut out,
        "query top-10, where 10%",
        queries,
        filtered,
        "q/s",
    );
    row(&mut out, "get 1 id", queries, get_times, "get/s");
    row(&mut out, "count", 1, vec![count_time], "/s");
    let _ = writeln!(
        out,
        "({count} records counted; data in a temporary directory, removed)"
    );
    Ok(out)
}
