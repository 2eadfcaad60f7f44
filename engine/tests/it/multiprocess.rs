//! Several writers and readers on one database directory: separate processes, and separate
//! handles within one process. Writes are serialized, a write is visible to every reader once
//! it returned, and a process that dies holding the write lock blocks nobody.
//!
//! The processes are this test binary re-run as children (`multiprocess::child`, a no-op
//! unless `MNEMODB_MP_CHILD` names a role); they talk to the parent through stdin and stdout.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use mnemodb::{
    AddBatch, Collection, Database, GetRequest, Include, Metadata, MetadataPatch, MetadataValue,
    QueryRequest, Space, UpdateBatch, Vectors,
};

use crate::support::{
    ChildEvent, ChildProcess, add, all_ids, emit, forward_lines, nearest, vector_for,
};

const CHILD_ROLE_ENV: &str = "MNEMODB_MP_CHILD";
const CHILD_DIR_ENV: &str = "MNEMODB_MP_DIR";
const COLLECTION: &str = "shared";
const DIM: usize = 8;
const WRITERS: usize = 2;
/// Each writer adds `BATCHES` batches of `BATCH` records.
const BATCHES: usize = 200;
const BATCH: usize = 5;
const PER_WRITER: usize = BATCHES * BATCH;
const TOTAL: u64 = (WRITERS * PER_WRITER) as u64;
/// A generous bound for a whole multi-process scenario; reaching it means something hangs.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
#[ignore = "child process of the multiprocess tests; a no-op unless MNEMODB_MP_CHILD is set"]
fn child() {
    let Ok(role) = std::env::var(CHILD_ROLE_ENV) else {
        return;
    };
    let dir = std::env::var(CHILD_DIR_ENV).unwrap();
    match role.as_str() {
        "writer-0" => writer(Path::new(&dir), 0),
        "writer-1" => writer(Path::new(&dir), 1),
        "reader" => reader(Path::new(&dir)),
        "locker" => locker(Path::new(&dir)),
        other => panic!("unknown child role {other:?}"),
    }
}

// ---- Records of the writers: every value follows from the id and a version ----

fn record_id(writer: usize, k: usize) -> String {
    format!("w{writer}-{k:04}")
}

fn parse_id(id: &str) -> Option<(usize, usize)> {
    let (w, k) = id.strip_prefix('w')?.split_once('-')?;
    Some((w.parse().ok()?, k.parse().ok()?))
}

fn document(id: &str, version: u64) -> String {
    format!("{id} v{version}")
}

fn metadata(writer: usize, version: u64) -> Metadata {
    Metadata::from([
        ("writer".to_owned(), MetadataValue::Int(writer as i64)),
        ("v".to_owned(), MetadataValue::Int(version as i64)),
    ])
}

/// Every tenth record is rewritten once (version 1), the others keep version 0.
fn final_version(k: usize) -> u64 {
    u64::from(k.is_multiple_of(10))
}

// ---- Two writers and a reader in separate processes ----

#[test]
fn two_writer_processes_and_a_reader_process() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let roles = ["writer-0", "writer-1", "reader"];
    // The children create the database and the collection themselves, racing on both.
    let mut crew = Crew::spawn(tmp.path(), &dir, &roles);
    crew.pump_until("every child ready", |c| (0..3).all(|i| c.saw(i, "@ready")));
    // Released together, so the reader's rounds overlap the writes.
    (0..3).for_each(|i| crew.children[i].send("go"));
    crew.pump_until("both writers to finish", |c| c.ended[0] && c.ended[1]);
    // Closing the reader's stdin tells it to stop after one more round, which must see
    // everything: both writers' calls have returned.
    crew.children[2].close_stdin();
    crew.pump_until("the reader to finish", |c| c.ended[2]);
    let stats = crew.lines[2]
        .iter()
        .find_map(|l| l.strip_prefix("@stats "))
        .expect("reader stats");
    println!("reader: {stats}");
    let midway: u64 = stats
        .split("midway=")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(
        midway > 0,
        "the reader never ran while the writers were writing ({stats})"
    );

    let db = Database::open(&dir).unwrap();
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(
        db.list_collections().unwrap().len(),
        1,
        "both writers created the collection"
    );
    let c = db.get_collection(COLLECTION).unwrap();
    assert_eq!(c.count().unwrap(), TOTAL);
    let seen = check_records(&c, &mut HashMap::new());
    assert_eq!(
        seen, [PER_WRITER; WRITERS],
        "each writer's records, all of them"
    );
    let got = everything(&c);
    for (i, id) in got.ids.iter().enumerate() {
        let (_, k) = parse_id(id).unwrap();
        assert_eq!(
            got.documents.as_ref().unwrap()[i],
            Some(document(id, final_version(k)))
        );
    }
}

fn writer(dir: &Path, w: usize) {
    let db = Database::open(dir).expect("writer: open");
    let c = db
        .get_or_create_collection(COLLECTION, Space::L2, None)
        .expect("writer: collection");
    emit("@ready");
    wait_for_go();
    for b in 0..BATCHES {
        let ids: Vec<String> = (b * BATCH..(b + 1) * BATCH)
            .map(|k| record_id(w, k))
            .collect();
        let embeddings: Vec<f32> = ids.iter().flat_map(|id| vector_for(id, 0, DIM)).collect();
        let documents: Vec<Option<String>> = ids.iter().map(|id| Some(document(id, 0))).collect();
        let metadatas = vec![Some(metadata(w, 0)); ids.len()];
        c.add(AddBatch {
            ids: &ids,
            embeddings: Vectors::new(&embeddings, DIM),
            documents: Some(&documents),
            metadatas: Some(&metadatas),
            uris: None,
        })
        .expect("writer: add");
        if b % 10 == 9 {
            // Rewrite every tenth record of the last ten batches: vector, document and
            // metadata change together, by update and upsert in turn.
            let ids: Vec<String> = ((b - 9) * BATCH..(b + 1) * BATCH)
                .filter(|&k| final_version(k) == 1)
                .map(|k| record_id(w, k))
                .collect();
            let embeddings: Vec<f32> = ids.iter().flat_map(|id| vector_for(id, 1, DIM)).collect();
            let documents: Vec<Option<String>> =
                ids.iter().map(|id| Some(document(id, 1))).collect();
            let patch = MetadataPatch::from([("v".to_owned(), Some(MetadataValue::Int(1)))]);
            let batch = UpdateBatch {
                ids: &ids,
                embeddings: Some(Vectors::new(&embeddings, DIM)),
                documents: Some(&documents),
                metadatas: Some(&vec![Some(patch); ids.len()]),
                uris: None,
            };
            if (b / 10) % 2 == 0 {
                c.update(batch)
            } else {
                c.upsert(batch)
            }
            .expect("writer: update");
        }
    }
}

fn reader(dir: &Path) {
    let db = Database::open(dir).expect("reader: open");
    let c = db
        .get_or_create_collection(COLLECTION, Space::L2, None)
        .expect("reader: collection");
    emit("@ready");
    wait_for_go();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_set = Arc::clone(&stop);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        stop_set.store(true, Ordering::SeqCst);
    });
    let mut versions = HashMap::new();
    let (mut last_count, mut rounds, mut midway) = (0, 0, 0);
    loop {
        // Read before the round: the round after the stop must see every write.
        let last = stop.load(Ordering::SeqCst);
        let before = c.count().expect("reader: count");
        assert!(
            before >= last_count,
            "count went back from {last_count} to {before}"
        );
        let seen = check_records(&c, &mut versions);
        let got = seen.iter().sum::<usize>() as u64;
        assert!(
            got >= before,
            "get returned {got} records after count said {before}"
        );
        let after = c.count().expect("reader: count");
        assert!(after >= got, "count says {after} after get returned {got}");
        last_count = after;
        rounds += 1;
        midway += u64::from(before > 0 && before < TOTAL);
        if last {
            assert_eq!(after, TOTAL, "the last round misses writes that returned");
            let stale = versions
                .iter()
                .filter(|(id, v)| **v != final_version(parse_id(id).map_or(0, |(_, k)| k)));
            assert_eq!(
                stale.count(),
                0,
                "the last round sees records before their rewrite"
            );
            break;
        }
    }
    emit(&format!("@stats rounds={rounds} midway={midway}"));
}

fn wait_for_go() {
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() || line.trim() != "go" {
        // The parent is gone (or confused): nothing to do.
        std::process::exit(0);
    }
}

fn everything(c: &Collection) -> mnemodb::GetResult {
    c.get(GetRequest {
        include: Include {
            embeddings: true,
            documents: true,
            metadatas: true,
            ..Include::default()
        },
        ..GetRequest::default()
    })
    .expect("get everything")
}

/// Reads every record and checks what any snapshot must show: each writer's records are a
/// prefix of its sequence, in insertion order; each record is whole (vector, document and
/// metadata of one version) and never older than seen before; each never-rewritten record
/// is its own nearest neighbour; a query for everything returns at least these records.
/// Returns how many records of each writer it saw.
fn check_records(c: &Collection, versions: &mut HashMap<String, u64>) -> [usize; WRITERS] {
    let got = everything(c);
    let (docs, metas) = (got.documents.unwrap(), got.metadatas.unwrap());
    let embeddings = got.embeddings.unwrap();
    let mut next = [0; WRITERS];
    let mut stable = Vec::new();
    for (i, id) in got.ids.iter().enumerate() {
        let (w, k) = parse_id(id).unwrap_or_else(|| panic!("unexpected id {id:?}"));
        assert_eq!(
            k, next[w],
            "writer {w}'s records are not a prefix in insertion order at {id}"
        );
        next[w] += 1;
        let v = (0..=final_version(k))
            .find(|&v| docs[i].as_deref() == Some(document(id, v).as_str()))
            .unwrap_or_else(|| panic!("{id}: document {:?}", docs[i]));
        assert_eq!(
            embeddings.row(i),
            vector_for(id, v, DIM),
            "{id}: vector of another version"
        );
        assert_eq!(
            metas[i],
            Some(metadata(w, v)),
            "{id}: metadata of another version"
        );
        let previous = versions.insert(id.clone(), v).unwrap_or(0);
        assert!(
            v >= previous,
            "{id}: version went back from {previous} to {v}"
        );
        if final_version(k) == 0 && stable.len() < 4 && i % 97 == 0 {
            stable.push(id.clone());
        }
    }
    for id in &stable {
        let q = vector_for(id, 0, DIM);
        assert_eq!(
            nearest(c, &q, 1),
            [(id.clone(), 0.0)],
            "nearest neighbour of {id}"
        );
    }
    if !got.ids.is_empty() {
        let probe = vector_for("probe", got.ids.len() as u64, DIM);
        let include = Include::default();
        let req = QueryRequest {
            embeddings: &probe,
            dim: DIM,
            n_results: got.ids.len() + 10,
            ids: None,
            include,
        };
        let hits = c.query(req).expect("query");
        assert!(
            hits[0].ids.len() >= got.ids.len(),
            "a later query sees fewer records than get"
        );
    }
    next
}

/// Children started together, their stdout lines, and which have ended.
struct Crew {
    children: Vec<ChildProcess>,
    rx: Receiver<ChildEvent>,
    lines: Vec<Vec<String>>,
    ended: Vec<bool>,
    deadline: Instant,
}

impl Crew {
    fn spawn(tmp: &Path, dir: &Path, roles: &[&str]) -> Crew {
        let (tx, rx) = mpsc::channel();
        let children = roles
            .iter()
            .enumerate()
            .map(|(i, role)| {
                let envs = [
                    (CHILD_ROLE_ENV, role.to_string()),
                    (CHILD_DIR_ENV, dir.display().to_string()),
                ];
                let mut child = ChildProcess::spawn(
                    "multiprocess::child",
                    &envs,
                    &tmp.join(format!("{role}.stderr")),
                );
                // The reader threads end on their own when the pipes close.
                drop(forward_lines(i, child.take_stdout(), tx.clone()));
                child
            })
            .collect();
        Crew {
            children,
            rx,
            lines: vec![Vec::new(); roles.len()],
            ended: vec![false; roles.len()],
            deadline: Instant::now() + SCENARIO_TIMEOUT,
        }
    }

    fn saw(&self, child: usize, line: &str) -> bool {
        self.lines[child].iter().any(|l| l == line)
    }

    /// Collects events until `done` holds. A child that ends must have succeeded.
    fn pump_until(&mut self, what: &str, done: impl Fn(&Crew) -> bool) {
        while !done(self) {
            let wait = self.deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(ChildEvent::Line {
                    from,
                    text,
                    complete: true,
                }) => self.lines[from].push(text),
                Ok(ChildEvent::Line { .. }) => {}
                Ok(ChildEvent::Eof { from }) => {
                    let status = self.children[from].wait();
                    assert!(
                        status.success(),
                        "child {from} failed ({status}) while waiting for {what}; its stderr:\n{}",
                        self.children[from].stderr_text()
                    );
                    self.ended[from] = true;
                }
                Err(_) => {
                    let stderr: Vec<String> = self
                        .children
                        .iter()
                        .map(ChildProcess::stderr_text)
                        .collect();
                    panic!("timed out waiting for {what}; children's stderr: {stderr:#?}");
                }
            }
        }
    }
}

// ---- Two handles in one process ----

#[test]
fn two_handles_in_one_process_see_each_others_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Database::open(tmp.path()).unwrap();
    let b = Database::open(tmp.path()).unwrap();
    let ca = a.create_collection("pair", Space::L2, None).unwrap();
    let cb = b.get_collection("pair").unwrap();
    // id -> version of its current vector.
    let mut model: HashMap<String, u64> = HashMap::new();
    for step in 0..24_u64 {
        // Alternate the writing handle; the other one has queried before (so its per-process
        // cache of live slots is loaded) and must still see the write at once.
        let (w, r) = if step % 2 == 0 {
            (&ca, &cb)
        } else {
            (&cb, &ca)
        };
        let id = format!("x{step:02}");
        add(w, &[&id], &vector_for(&id, 0, DIM)).unwrap();
        model.insert(id.clone(), 0);
        assert_eq!(
            nearest(r, &vector_for(&id, 0, DIM), 1),
            [(id.clone(), 0.0)],
            "step {step}: add"
        );
        if step % 5 == 4 {
            let old = format!("x{:02}", step - 3);
            let version = model[&old] + 1;
            let ids = vec![old.clone()];
            let embeddings = vector_for(&old, version, DIM);
            w.update(UpdateBatch {
                ids: &ids,
                embeddings: Some(Vectors::new(&embeddings, DIM)),
                ..UpdateBatch::default()
            })
            .unwrap();
            model.insert(old.clone(), version);
            assert_eq!(
                nearest(r, &embeddings, 1),
                [(old, 0.0)],
                "step {step}: update"
            );
        }
        if step % 7 == 6 {
            let gone = format!("x{:02}", step - 5);
            assert_eq!(w.delete(std::slice::from_ref(&gone)).unwrap(), 1);
            model.remove(&gone);
            let all = nearest(r, &vector_for(&gone, 0, DIM), model.len() + 5);
            assert!(
                all.iter().all(|(id, _)| *id != gone),
                "step {step}: deleted {gone} still found"
            );
            assert_eq!(all.len(), model.len(), "step {step}: query after delete");
        }
        assert_eq!(r.count().unwrap(), model.len() as u64, "step {step}: count");
    }
    // Compaction through one handle renumbers slots and moves to a new vector file; the other
    // handle's cache and mapping describe the old layout and must be replaced, not patched.
    assert!(cb.compact_blocking().unwrap() > 0);
    for (id, &version) in &model {
        assert_eq!(
            nearest(&ca, &vector_for(id, version, DIM), 1),
            [(id.clone(), 0.0)],
            "{id}"
        );
    }
    add(&ca, &["after"], &vector_for("after", 0, DIM)).unwrap();
    assert_eq!(
        nearest(&cb, &vector_for("after", 0, DIM), 1),
        [("after".to_owned(), 0.0)]
    );
    assert_eq!(all_ids(&ca), all_ids(&cb));
    assert!(a.check().unwrap().is_ok());
}

// ---- A process that dies holding the write lock ----

#[test]
fn a_process_killed_holding_the_write_lock_blocks_nobody() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Database::open(&dir).unwrap();
    let c = db.create_collection("locked", Space::L2, None).unwrap();
    add(
        &c,
        &["a", "b"],
        &[vector_for("a", 0, DIM), vector_for("b", 0, DIM)].concat(),
    )
    .unwrap();
    let seq = c.stats().unwrap().seq;

    let mut crew = Crew::spawn(tmp.path(), &dir, &["locker"]);
    crew.pump_until("the child to take the write lock", |c| c.saw(0, "@locked"));
    let sqlite = dir.join("mnemo.sqlite3");
    let probe = rusqlite::Connection::open(&sqlite).unwrap();
    probe.busy_timeout(Duration::ZERO).unwrap();
    let refused = probe.execute_batch("BEGIN IMMEDIATE").unwrap_err();
    assert_eq!(
        refused.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy),
        "the child holds the lock"
    );
    drop(probe);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(crew.children[0].kill().signal(), Some(9));

    // A liveness check, not a benchmark: the lock dies with its holder (SQLite's locks are
    // POSIX locks the kernel drops), so these writes must not wait anywhere near the 30 s busy
    // timeout; 10 s leaves room for a loaded CI machine.
    let started = Instant::now();
    add(&c, &["after"], &vector_for("after", 0, DIM)).unwrap();
    let db2 = Database::open(&dir).unwrap();
    let c2 = db2.get_collection("locked").unwrap();
    add(&c2, &["after-2"], &vector_for("after-2", 0, DIM)).unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(10),
        "writes after the kill took {elapsed:?}"
    );

    assert_eq!(all_ids(&c), ["a", "b", "after", "after-2"]);
    assert_eq!(
        c.stats().unwrap().seq,
        seq + 2,
        "the dead transaction's change was rolled back"
    );
    let report = db2.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let probe = rusqlite::Connection::open(&sqlite).unwrap();
    let junk: i64 = probe
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'junk'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(junk, 0, "the dead transaction's table was rolled back");
}

fn locker(dir: &Path) {
    let conn = rusqlite::Connection::open(dir.join("mnemo.sqlite3")).expect("locker: open");
    // A tiny page cache makes SQLite spill the uncommitted pages into the WAL, so the dead
    // transaction leaves frames behind that the survivors must ignore.
    conn.execute_batch(
        "PRAGMA cache_size = 10;
         BEGIN IMMEDIATE;
         UPDATE collections SET seq = seq + 1000;
         CREATE TABLE junk(x BLOB);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
         INSERT INTO junk SELECT randomblob(1000) FROM n;",
    )
    .expect("locker: write without committing");
    emit("@locked");
    // Hold the lock until killed (or until the parent goes away and stdin closes).
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
}
