//! The HNSW index through the collection API on a 100k x 384 Gaussian mixture (cosine, k=10,
//! chromadb's defaults): ingest with the index ready, query latency, recall against the exact
//! scan, filtered queries, index size and reopen. Prints one table; nothing is asserted.
//!
//! `cargo run --release -p mnemodb-bench --bin hnsw_report [N | DIR]`: N generated records
//! (100,000 by default), or a `bench-data` set directory holding `base.npy` and `queries.npy`
//! (float32, 384 columns; e.g. `bench-data/out/synthetic-100k`).

#![allow(clippy::print_stdout)] // a report binary: its output is the point

use std::time::{Duration, Instant};

use mnemodb::{
    AddBatch, Collection, Database, Include, Metadata, MetadataValue, QueryRequest, SearchOptions,
    Space, Vectors,
};
use mnemodb_bench::clustered_unit_rows;

const DIM: usize = 384;
const QUERIES: usize = 1_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    let (data, queries) = match arg.as_deref().map(std::path::Path::new) {
        Some(dir) if dir.is_dir() => (
            read_npy(&dir.join("base.npy"))?,
            read_npy(&dir.join("queries.npy"))?,
        ),
        _ => {
            let n = arg.and_then(|a| a.parse().ok()).unwrap_or(100_000);
            clustered_unit_rows(n, QUERIES, DIM, 1_000, 42)
        }
    };
    let n = data.len() / DIM;
    let dir = tempfile::tempdir()?;
    let ids: Vec<String> = (0..n).map(|i| format!("id{i}")).collect();
    let metas: Vec<Option<Metadata>> = (0..n)
        .map(|i| {
            let mut m = Metadata::new();
            m.insert("source".into(), MetadataValue::Str(format!("s{}", i % 10)));
            Some(m)
        })
        .collect();

    let rss_data = proc_kib("VmRSS:");
    let db = Database::open(dir.path())?;
    let c = db.create_collection("bench", Space::Cosine, None)?;
    let t = Instant::now();
    let cpu0 = cpu_seconds();
    for start in (0..n).step_by(10_000) {
        let end = (start + 10_000).min(n);
        c.add(AddBatch {
            ids: &ids[start..end],
            embeddings: Vectors::new(&data[start * DIM..end * DIM], DIM),
            metadatas: Some(&metas[start..end]),
            ..AddBatch::default()
        })?;
    }
    let durable = t.elapsed();
    c.catch_up_index()?;
    let ingest = t.elapsed();
    let ingest_cpu = cpu_seconds() - cpu0;
    let rss_ingest = proc_kib("VmHWM:") - rss_data;

    let exact = SearchOptions {
        exact: true,
        ..SearchOptions::default()
    };
    let (_, _, truth) = run(&c, &queries, None, exact);
    let (p50, p95, got) = run(&c, &queries, None, SearchOptions::default());
    let recall = recall(&got, &truth);
    let mut sweep = String::new();
    for ef in [16, 24, 32, 48, 64] {
        let opts = SearchOptions {
            ef_search: Some(ef),
            exact: false,
        };
        let (p50, _, got) = run(&c, &queries, None, opts);
        sweep.push_str(&format!(
            "ef {ef}: {:.3} ms, recall {:.3}; ",
            p50.as_secs_f64() * 1e3,
            recall_of(&got, &truth)
        ));
    }
    let filter = serde_json::json!({"source": "s3"});
    let (fp50_exact, _, ftruth) = run(&c, &queries, Some(&filter), exact);
    let (fp50, _, fgot) = run(&c, &queries, Some(&filter), SearchOptions::default());
    let frecall = recall_of(&fgot, &ftruth);

    // Batch of 100 queries at once.
    let t = Instant::now();
    let mut batches = 0;
    for chunk in queries.chunks_exact(100 * DIM) {
        c.query(QueryRequest {
            embeddings: chunk,
            dim: DIM,
            n_results: 10,
            ids: None,
            include: Include::default(),
        })?;
        batches += 1;
    }
    let qps = (batches * 100) as f64 / t.elapsed().as_secs_f64();
    let rss_peak = proc_kib("VmHWM:") - rss_data;

    drop(c);
    drop(db);
    let index_bytes: u64 = walk_size(&dir.path().join("collections"), "hnsw.");
    let t = Instant::now();
    let db = Database::open(dir.path())?;
    let c = db.get_collection("bench")?;
    let opened = t.elapsed();
    c.query(QueryRequest {
        embeddings: &queries[..DIM],
        dim: DIM,
        n_results: 10,
        ids: None,
        include: Include::default(),
    })?;
    let reopen = t.elapsed();
    let (p50_after, _, _) = run(&c, &queries, None, SearchOptions::default());

    let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1e3);
    let rows = [
        (
            "records",
            format!("{n} x {DIM}, cosine, {} queries", queries.len() / DIM),
        ),
        (
            "add, durable (index building behind)",
            format!(
                "{:.1} s ({:.0}/s)",
                durable.as_secs_f64(),
                n as f64 / durable.as_secs_f64()
            ),
        ),
        (
            "ingest, index ready",
            format!(
                "{:.1} s ({:.0}/s)",
                ingest.as_secs_f64(),
                n as f64 / ingest.as_secs_f64()
            ),
        ),
        (
            "query p50 / p95 (ef 100)",
            format!("{} / {}", ms(p50), ms(p95)),
        ),
        ("recall@10", format!("{recall:.3}")),
        ("p50 and recall@10 by ef_search", sweep),
        ("batch-100 QPS", format!("{qps:.0}")),
        (
            "ingest CPU seconds (all threads)",
            format!("{ingest_cpu:.1} s"),
        ),
        (
            "peak RSS over the data: after ingest / after the queries",
            format!("{:.0} / {:.0} MB", rss_ingest / 1e3, rss_peak / 1e3),
        ),
        (
            "filtered 10 % p50 (planner's choice / exact plan)",
            format!("{} / {}", ms(fp50), ms(fp50_exact)),
        ),
        ("filtered 10 % recall@10", format!("{frecall:.3}")),
        ("index file", format!("{:.1} MB", index_bytes as f64 / 1e6)),
        ("reopen + first query", ms(reopen)),
        ("of which open", ms(opened)),
        ("query p50 after reopen", ms(p50_after)),
    ];
    let mut out = String::from("| measure | mnemodb |\n|---|---|\n");
    for (k, v) in rows {
        out.push_str(&format!("| {k} | {v} |\n"));
    }
    print!("{out}");
    Ok(())
}

/// User + system CPU time of this process (all threads) so far, from `/proc/self/stat`
/// (Linux; 0 elsewhere), in seconds at the usual 100 ticks a second.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces, hence the last ')').
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// A `kB` line of `/proc/self/status` (Linux; 0 elsewhere), in KiB.
fn proc_kib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// p50, p95 and the ids of `k = 10` single queries, one per row of `queries`.
fn run(
    c: &Collection,
    queries: &[f32],
    filter: Option<&serde_json::Value>,
    opts: SearchOptions,
) -> (Duration, Duration, Vec<Vec<String>>) {
    let mut times = Vec::with_capacity(QUERIES);
    let mut hits = Vec::with_capacity(QUERIES);
    for q in queries.chunks_exact(DIM) {
        let t = Instant::now();
        let h = c.query_with(
            QueryRequest {
                embeddings: q,
                dim: DIM,
                n_results: 10,
                ids: None,
                include: Include::default(),
            },
            filter,
            None,
            opts,
        );
        times.push(t.elapsed());
        hits.push(h.map(|mut h| h.remove(0).ids).unwrap_or_default());
    }
    times.sort();
    (times[times.len() / 2], times[times.len() * 95 / 100], hits)
}

/// The float32 rows of a `.npy` file of shape (rows, 384), C order.
fn read_npy(path: &std::path::Path) -> Result<Vec<f32>, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path)?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(format!("{}: not a .npy file", path.display()).into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        _ => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
    };
    let header = String::from_utf8_lossy(&bytes[start..start + header_len]);
    if !header.contains("'<f4'") || header.contains("'fortran_order': True") {
        return Err(format!("{}: want little-endian float32 in C order", path.display()).into());
    }
    let data = &bytes[start + header_len..];
    if data.len() % (4 * DIM) != 0 {
        return Err(format!("{}: not rows of {DIM} floats", path.display()).into());
    }
    Ok(data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn recall(got: &[Vec<String>], truth: &[Vec<String>]) -> f64 {
    recall_of(got, truth)
}

fn recall_of(got: &[Vec<String>], truth: &[Vec<String>]) -> f64 {
    let (mut found, mut total) = (0usize, 0usize);
    for (g, t) in got.iter().zip(truth) {
        total += t.len();
        found += t.iter().filter(|id| g.contains(id)).count();
    }
    found as f64 / total.max(1) as f64
}

fn walk_size(dir: &std::path::Path, prefix: &str) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            total += walk_size(&path, prefix);
        } else if entry.file_name().to_string_lossy().starts_with(prefix) {
            total += entry.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    total
}
