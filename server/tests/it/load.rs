//! A bounded load test, run by hand: 8 clients x 30 s (MNEMODB_LOAD_SECS) of mixed add and
//! query against `mnemodb serve` on loopback. Zero errors; prints p50/p99 latencies and the
//! server's RSS before and after.
//!
//! `cargo test -p mnemodb-server --release --test it load:: -- --ignored --nocapture`

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{ChildServer, T};

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

#[test]
#[ignore = "a 30 s load test, run by hand (see the module doc)"]
fn eight_clients_mixed_add_and_query() {
    let secs: u64 = std::env::var("MNEMODB_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let clients = 8;
    let dim = 384;
    let dir = tempfile::tempdir().unwrap();
    let mut server = ChildServer::start(dir.path(), &[]);
    let url = format!("http://{}", server.addr);
    let http = reqwest::blocking::Client::new();
    let created: serde_json::Value = http
        .post(format!("{url}{T}/collections"))
        .json(&json!({"name": "load", "configuration": {"hnsw": {"space": "cosine"}}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let rss_before = server.rss_kib();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (url, id) = (url.clone(), id.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                let (mut adds, mut queries, mut errors) = (Vec::new(), Vec::new(), 0u64);
                let mut seq = 0u64;
                while Instant::now() < deadline {
                    seq += 1;
                    let v = |k: u64| -> Vec<f32> {
                        (0..dim)
                            .map(|j| {
                                (((k * 2654435761 + j as u64 * 40503) % 1000) as f32) / 1000.0 - 0.5
                            })
                            .collect()
                    };
                    let t = Instant::now();
                    let resp = if seq.is_multiple_of(4) {
                        let ids: Vec<String> = (0..32).map(|i| format!("c{c}-{seq}-{i}")).collect();
                        let emb: Vec<Vec<f32>> = (0..32)
                            .map(|i| v(seq * 100 + i + c as u64 * 1_000_000))
                            .collect();
                        let metas: Vec<_> = (0..32).map(|i| json!({"client": c, "i": i})).collect();
                        http.post(format!("{url}{T}/collections/{id}/add"))
                            .json(&json!({"ids": ids, "embeddings": emb, "metadatas": metas}))
                            .send()
                    } else {
                        http.post(format!("{url}{T}/collections/{id}/query"))
                            .json(
                                &json!({"query_embeddings": [v(seq + c as u64)], "n_results": 10}),
                            )
                            .send()
                    };
                    let ok = resp.map(|r| r.status().is_success()).unwrap_or(false);
                    if !ok {
                        errors += 1;
                    }
                    if seq.is_multiple_of(4) {
                        adds.push(t.elapsed())
                    } else {
                        queries.push(t.elapsed())
                    }
                }
                (adds, queries, errors)
            })
        })
        .collect();
    let (mut adds, mut queries, mut errors) = (Vec::new(), Vec::new(), 0);
    for h in handles {
        let (a, q, e) = h.join().unwrap();
        adds.extend(a);
        queries.extend(q);
        errors += e;
    }
    adds.sort();
    queries.sort();
    let count: u64 = http
        .get(format!("{url}{T}/collections/{id}/count"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let rss_after = server.rss_kib();
    println!(
        "load: {clients} clients x {secs} s: {} adds of 32 (p50 {:.2} ms, p99 {:.2} ms), {} queries top-10 (p50 {:.2} ms, p99 {:.2} ms), {errors} errors; {count} records at the end; server RSS {:?} KiB before, {:?} KiB after",
        adds.len(),
        pct(&adds, 0.5),
        pct(&adds, 0.99),
        queries.len(),
        pct(&queries, 0.5),
        pct(&queries, 0.99),
        rss_before,
        rss_after
    );
    assert_eq!(errors, 0);
    server.terminate();
    assert_eq!(server.wait(30), Some(0));
}
