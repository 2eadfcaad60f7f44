//! A collection that keeps deleting is compacted on its own once most of its slots are dead
//! (issue 21's soak: without it the vector file, and every reader's mapped memory, grew
//! without bound while the live records stayed at 50,000).

use std::time::{Duration, Instant};

use mnemodb::{Database, GetRequest, Include, JobKind, JobState, Space, testing};

// The records and their vectors are the checksum tests' own.
use super::checksums::{add, vector};

fn compactions(db: &Database) -> Vec<JobState> {
    db.jobs()
        .into_iter()
        .filter(|j| j.kind == JobKind::Compaction)
        .map(|j| j.state)
        .collect()
}

/// Waits (at most a minute: a liveness bound, not a timing claim) for a compaction to end.
fn wait_for_compaction(db: &Database) -> Vec<JobState> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let states = compactions(db);
        if !states.is_empty() && states.iter().all(|s| s.is_finished()) {
            return states;
        }
        assert!(Instant::now() < deadline, "no compaction ended: {states:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn mostly_dead_slots_start_a_compaction_that_keeps_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    testing::set_auto_compact_min_slots(&db, 256);
    let c = db.create_collection("churn", Space::L2, None).unwrap();
    add(&c, 0..200);
    // Less than half dead: nothing starts.
    let some: Vec<String> = (0..50).map(|i| format!("r{i:05}")).collect();
    c.delete(&some).unwrap();
    add(&c, 200..300);
    assert!(compactions(&db).is_empty(), "{:?}", db.jobs());
    // Now 300 slots hold 150 records, then more writes pass the threshold's check.
    let more: Vec<String> = (50..200).map(|i| format!("r{i:05}")).collect();
    c.delete(&more).unwrap();
    add(&c, 300..340);
    assert_eq!(wait_for_compaction(&db), [JobState::Done]);
    let stats = c.stats().unwrap();
    assert_eq!(stats.records, 140);
    assert_eq!(stats.dead_slots, 0, "{stats:?}");
    let got = c
        .get(GetRequest {
            include: Include {
                embeddings: true,
                ..Include::default()
            },
            ..GetRequest::default()
        })
        .unwrap();
    let want: Vec<String> = (200..340).map(|i| format!("r{i:05}")).collect();
    assert_eq!(got.ids, want);
    let rows: Vec<Vec<f32>> = got
        .embeddings
        .unwrap()
        .rows()
        .map(<[f32]>::to_vec)
        .collect();
    assert_eq!(rows, (200..340).map(vector).collect::<Vec<_>>());
    assert!(db.check().unwrap().is_ok());
}
