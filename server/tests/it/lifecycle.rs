//! The server's life: shutdown on SIGTERM while a request is in flight (it completes, and
//! the data is there after exit); a slow engine call never stalls the heartbeat.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{ChildServer, T, TestServer};

#[test]
fn sigterm_drains_the_request_in_flight_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ChildServer::start(dir.path(), &[]);
    let http = reqwest::blocking::Client::new();
    let url = format!("http://{}", server.addr);
    let created: serde_json::Value = http
        .post(format!("{url}{T}/collections"))
        .json(&json!({"name": "drain"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();

    // A request whose body is half sent when the signal arrives.
    let body = json!({"ids": ["late"], "embeddings": [[1.0, 2.0, 3.0]], "documents": ["arrived during shutdown"]}).to_string();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST {T}/collections/{id}/add HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        body.len()
    )
    .unwrap();
    stream.write_all(first).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.terminate();
    std::thread::sleep(Duration::from_millis(300));
    // Still running: it waits for the request in flight.
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );
    stream.write_all(rest).unwrap();
    stream.flush().unwrap();
    let mut answer = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(server.wait(30), Some(0), "exit code after SIGTERM");

    let db = mnemodb::Database::open(dir.path()).unwrap();
    let col = db.get_collection("drain").unwrap();
    assert_eq!(col.count().unwrap(), 1);
}

#[test]
fn sigint_stops_an_idle_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ChildServer::start(dir.path(), &[]);
    let status = std::process::Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(server.wait(30), Some(0));
}

#[test]
fn slow_queries_do_not_stall_the_heartbeat() {
    // Two reactor threads; more slow queries than that in flight at once.
    let s = Arc::new(TestServer::start(|_| {}));
    let id = s.create("slow", json!({}));
    let dim = 128;
    let n = 10_000;
    for batch in 0..(n / 5000) {
        let ids: Vec<String> = (0..5000)
            .map(|i| format!("r{}", batch * 5000 + i))
            .collect();
        let emb: Vec<Vec<f32>> = (0..5000)
            .map(|i| {
                (0..dim)
                    .map(|j| ((i * 31 + j * 7) % 97) as f32 / 97.0)
                    .collect()
            })
            .collect();
        let (st, v) = s.post(
            &format!("{T}/collections/{id}/add"),
            json!({"ids": ids, "embeddings": emb}),
        );
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }
    let queries: Vec<Vec<f32>> = (0..100)
        .map(|i| vec![(i % 13) as f32 / 13.0; dim])
        .collect();
    let body = json!({"query_embeddings": queries, "n_results": 50, "include": ["distances", "metadatas", "documents", "embeddings"]});
    let done = Arc::new(AtomicUsize::new(0));
    let clients = 4;
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (s, body, done, id) = (Arc::clone(&s), body.clone(), Arc::clone(&done), id.clone());
            std::thread::spawn(move || {
                let (st, _) = s.post(&format!("{T}/collections/{id}/query"), body);
                assert_eq!(st, StatusCode::OK);
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut worst = Duration::ZERO;
    let mut beats_while_busy = 0;
    while done.load(Ordering::SeqCst) < clients {
        let t = Instant::now();
        assert_eq!(s.get("/api/v2/heartbeat").0, StatusCode::OK);
        let took = t.elapsed();
        if done.load(Ordering::SeqCst) < clients {
            beats_while_busy += 1;
            worst = worst.max(took);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for h in handles {
        h.join().unwrap();
    }
    let busy = started.elapsed();
    println!(
        "queries busy for {busy:?}; {beats_while_busy} heartbeats meanwhile, slowest {worst:?}"
    );
    assert!(
        beats_while_busy >= 3,
        "queries finished too fast to tell ({busy:?})"
    );
    assert!(
        worst < Duration::from_millis(500),
        "heartbeat took {worst:?} while queries ran"
    );
}
