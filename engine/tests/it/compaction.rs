//! Compaction in the background: reads and writes go on while it copies, the new generation
//! takes in the writes made meanwhile and switches in one commit, and a cancelled compaction
//! leaves the old generation as it was.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mnemodb::{
    AddBatch, Collection, Database, GetRequest, Include, JobKind, JobState, Space, UpdateBatch,
    Vectors,
};

use crate::support::ids;

const DIM: usize = 4;
const WAIT: Option<Duration> = Some(Duration::from_secs(120));

fn row(i: usize) -> Vec<f32> {
    (0..DIM).map(|d| (i * DIM + d) as f32).collect()
}

fn add_range(c: &Collection, range: std::ops::Range<usize>) {
    let names: Vec<String> = range.clone().map(|i| format!("r{i}")).collect();
    let data: Vec<f32> = range.flat_map(row).collect();
    c.add(AddBatch {
        ids: &names,
        embeddings: Vectors::new(&data, DIM),
        ..AddBatch::default()
    })
    .unwrap();
}

/// Every record's id and vector, in insertion order.
fn contents(c: &Collection) -> Vec<(String, Vec<f32>)> {
    let got = c
        .get(GetRequest {
            include: Include {
                embeddings: true,
                ..Include::default()
            },
            ..GetRequest::default()
        })
        .unwrap();
    let e = got.embeddings.unwrap();
    got.ids
        .into_iter()
        .zip(e.data.chunks(DIM).map(<[f32]>::to_vec))
        .collect()
}

/// Pauses every compaction of `db` before its commit: returns a receiver told when one is
/// there and a sender that lets it go on.
fn pause_compactions(db: &Database) -> (mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (reached_tx, reached) = mpsc::channel::<()>();
    let (go, go_rx) = mpsc::channel::<()>();
    let (reached_tx, go_rx) = (Mutex::new(reached_tx), Arc::new(Mutex::new(go_rx)));
    mnemodb::testing::set_compaction_hook(
        db,
        Some(Box::new(move || {
            let _ = reached_tx.lock().unwrap().send(());
            let _ = go_rx.lock().unwrap().recv_timeout(Duration::from_secs(120));
        })),
    );
    (reached, go)
}

#[test]
fn writes_during_a_compaction_are_taken_into_the_new_generation() {
    for on_disk in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let db = if on_disk {
            Database::open(dir.path()).unwrap()
        } else {
            Database::in_memory().unwrap()
        };
        let c = db.create_collection("compacted", Space::L2, None).unwrap();
        add_range(&c, 0..100);
        c.delete(&ids(&["r0", "r1", "r2", "r3"])).unwrap();
        let (reached, go) = pause_compactions(&db);
        let job = c.compact();
        reached.recv_timeout(Duration::from_secs(120)).unwrap();
        // The copy is made; the commit has not happened. Reads and writes go on.
        assert_eq!(job.info().kind, JobKind::Compaction);
        assert_eq!(job.info().state, JobState::Running);
        add_range(&c, 100..110);
        c.delete(&ids(&["r10", "r105"])).unwrap();
        c.update(UpdateBatch {
            ids: &ids(&["r20"]),
            embeddings: Some(Vectors::new(&row(999), DIM)),
            ..UpdateBatch::default()
        })
        .unwrap();
        let before = contents(&c);
        assert_eq!(before.len(), 96 + 10 - 2);
        let slots_before = c.stats().unwrap().slots;
        go.send(()).unwrap();
        assert_eq!(job.wait(WAIT), JobState::Done, "{:?}", job.info());
        assert_eq!(contents(&c), before, "on disk: {on_disk}");
        let stats = c.stats().unwrap();
        // The rows of r10 and of r20's old vector were copied before they died.
        assert_eq!(stats.dead_slots, 2, "on disk: {on_disk}");
        assert!(stats.slots < slots_before);
        // Reopened, the new generation is what is read.
        if on_disk {
            drop(c);
            drop(db);
            let db = Database::open(dir.path()).unwrap();
            assert!(db.check().unwrap().is_ok());
            let c = db.get_collection("compacted").unwrap();
            assert_eq!(contents(&c), before);
        }
    }
}

#[test]
fn a_cancelled_compaction_leaves_the_old_generation_intact() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let c = db.create_collection("compacted", Space::L2, None).unwrap();
    add_range(&c, 0..50);
    c.delete(&ids(&["r0", "r1"])).unwrap();
    let (reached, go) = pause_compactions(&db);
    let job = c.compact();
    reached.recv_timeout(Duration::from_secs(120)).unwrap();
    add_range(&c, 50..55);
    let before = contents(&c);
    let stats_before = c.stats().unwrap();
    job.cancel();
    go.send(()).unwrap();
    assert_eq!(job.wait(WAIT), JobState::Cancelled);
    assert_eq!(contents(&c), before);
    assert_eq!(c.stats().unwrap(), stats_before);
    let cdir = dir.path().join("collections").join(c.id().to_string());
    let vector_files: Vec<String> = std::fs::read_dir(&cdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("vectors."))
        .collect();
    assert_eq!(vector_files, ["vectors.0.f32"], "the new file is removed");
    // A later compaction works.
    mnemodb::testing::set_compaction_hook(&db, None);
    assert_eq!(c.compact_blocking().unwrap(), 2);
    assert_eq!(contents(&c), before);
}
