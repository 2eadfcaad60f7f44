//! Online backup (`Database::backup`): taken while a thread and another process write and a
//! third collection keeps compacting, the copy opens, passes `check()`, and holds every record
//! committed before the backup began, each as written (and nothing the source never had).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mnemodb::{AddBatch, Collection, Database, GetRequest, Include, Space, Vectors};

use crate::support::{ChildEvent, ChildProcess, forward_lines, vector_for};

const DIM: usize = 8;
const BATCH: u64 = 10;
const ROLE_ENV: &str = "MNEMODB_BACKUP_CHILD";
const STOP_FILE: &str = "stop-writing";

fn add_batch(col: &Collection, prefix: &str, batch: u64) {
    let ids: Vec<String> = (batch * BATCH..(batch + 1) * BATCH)
        .map(|k| format!("{prefix}-{k}"))
        .collect();
    let flat: Vec<f32> = ids.iter().flat_map(|id| vector_for(id, 0, DIM)).collect();
    col.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(&flat, DIM),
        ..AddBatch::default()
    })
    .unwrap();
}

#[test]
#[ignore = "child process of the backup test; a no-op unless MNEMODB_BACKUP_CHILD is set"]
fn child() {
    let Ok(dir) = std::env::var(ROLE_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    let db = Database::open(dir.join("src")).unwrap();
    let col = db.get_collection("proc").unwrap();
    let mut batch = 0;
    while !dir.join(STOP_FILE).exists() {
        add_batch(&col, "p", batch);
        batch += 1;
        // Acknowledged: every batch below `batch` is committed.
        println!("acked {batch}");
    }
}

/// Every record `prefix-0 .. prefix-(batches * BATCH)` is in `col` with its vector.
fn holds(col: &Collection, prefix: &str, batches: u64) {
    let ids: Vec<String> = (0..batches * BATCH)
        .map(|k| format!("{prefix}-{k}"))
        .collect();
    let got = col
        .get(GetRequest {
            ids: Some(&ids),
            include: Include {
                embeddings: true,
                ..Include::default()
            },
            ..GetRequest::default()
        })
        .unwrap();
    assert_eq!(got.ids.len(), ids.len(), "{prefix}: records missing");
    let e = got.embeddings.unwrap();
    for (i, id) in got.ids.iter().enumerate() {
        assert_eq!(e.row(i), vector_for(id, 0, DIM), "{id}");
    }
}

#[test]
fn a_backup_taken_while_others_write_opens_checks_and_holds_every_earlier_record() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let db = Database::open(&src).unwrap();
    let thread_col = db.create_collection("thread", Space::L2, None).unwrap();
    db.create_collection("proc", Space::L2, None).unwrap();
    let churn = db.create_collection("churn", Space::Cosine, None).unwrap();
    for b in 0..300 {
        add_batch(&thread_col, "t", b);
    }
    for b in 0..50 {
        add_batch(&churn, "c", b);
    }
    let thread_acked = Arc::new(AtomicU64::new(300));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (col, acked, stop) = (thread_col.clone(), thread_acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut b = acked.load(Ordering::SeqCst);
            while !stop.load(Ordering::SeqCst) {
                add_batch(&col, "t", b);
                b += 1;
                acked.store(b, Ordering::SeqCst);
            }
        })
    };
    // Deletes and compactions: generations change (and old files go) during the backup.
    let compactor = {
        let (col, stop) = (churn.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut next = 50;
            let mut first = 0;
            while !stop.load(Ordering::SeqCst) {
                let gone: Vec<String> = (first * BATCH..(first + 1) * BATCH)
                    .map(|k| format!("c-{k}"))
                    .collect();
                col.delete(&gone).unwrap();
                first += 1;
                add_batch(&col, "c", next);
                next += 1;
                col.compact_blocking().unwrap();
            }
        })
    };
    let mut child = ChildProcess::spawn(
        "backup::child",
        &[(ROLE_ENV, dir.path().to_string_lossy().into_owned())],
        &dir.path().join("child.stderr"),
    );
    let (tx, rx) = mpsc::channel();
    let _lines = forward_lines(0, child.take_stdout(), tx);
    let mut proc_acked = 0u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    let read_line = |proc_acked: &mut u64, wait: Duration| match rx.recv_timeout(wait) {
        Ok(ChildEvent::Line {
            text,
            complete: true,
            ..
        }) => {
            if let Some(n) = text.strip_prefix("acked ") {
                *proc_acked = n.parse().unwrap();
            }
            true
        }
        Ok(ChildEvent::Eof { .. }) => panic!("the writer process ended: {}", child.stderr_text()),
        _ => false,
    };
    while proc_acked < 20 || thread_acked.load(Ordering::SeqCst) < 320 {
        assert!(Instant::now() < deadline, "the writers do not get going");
        read_line(&mut proc_acked, Duration::from_millis(100));
    }
    while read_line(&mut proc_acked, Duration::ZERO) {}
    // Every batch acknowledged so far was committed before the backup begins.
    let thread_before = thread_acked.load(Ordering::SeqCst);
    let proc_before = proc_acked;
    let dest = dir.path().join("copy");
    let report = db.backup(&dest).unwrap();
    let thread_after = thread_acked.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    std::fs::write(dir.path().join(STOP_FILE), b"").unwrap();
    writer.join().unwrap();
    compactor.join().unwrap();
    assert!(child.wait().success(), "{}", child.stderr_text());
    eprintln!(
        "backup: {report:?}; the thread wrote {} batches during it",
        thread_after - thread_before
    );
    assert_eq!(report.collections, 3);

    let copy = Database::open(&dest).unwrap();
    let check = copy.check().unwrap();
    assert!(check.is_ok(), "{:?}", check.problems);
    holds(&copy.get_collection("thread").unwrap(), "t", thread_before);
    holds(&copy.get_collection("proc").unwrap(), "p", proc_before);
    // Nothing the source never had: every record of the copy is in the source, as written.
    for name in ["thread", "proc", "churn"] {
        let got = copy
            .get_collection(name)
            .unwrap()
            .get(GetRequest {
                include: Include {
                    embeddings: true,
                    ..Include::default()
                },
                ..GetRequest::default()
            })
            .unwrap();
        let e = got.embeddings.unwrap_or_default();
        for (i, id) in got.ids.iter().enumerate() {
            assert_eq!(e.row(i), vector_for(id, 0, DIM), "{name}/{id}");
        }
        if name == "churn" {
            // A delete and an add per round: the snapshot falls between two rounds or
            // between the two writes of one.
            let n = got.ids.len() as u64;
            assert!(n == 50 * BATCH || n == 49 * BATCH, "churn holds {n}");
        }
    }
    // The copy is a database of its own: it takes writes.
    add_batch(&copy.get_collection("proc").unwrap(), "after", 0);
}

#[test]
fn a_backup_needs_files_and_a_new_or_empty_destination() {
    let e = Database::in_memory()
        .unwrap()
        .backup("/nonexistent/x")
        .unwrap_err();
    assert!(e.to_string().contains("in-memory database"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("src")).unwrap();
    let dest = dir.path().join("dest");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("something"), b"x").unwrap();
    let e = db.backup(&dest).unwrap_err();
    assert!(e.to_string().contains("new or empty directory"), "{e}");
    // An empty database backs up into an empty directory and opens.
    std::fs::remove_file(dest.join("something")).unwrap();
    db.backup(&dest).unwrap();
    assert!(Database::open(&dest).unwrap().check().unwrap().is_ok());
}
