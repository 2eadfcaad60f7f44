//! Background jobs as a database user sees them: listed with their collection and progress,
//! finished or cancelled by `Database::close`, which saves the derived files.

use std::time::Duration;

use mnemodb::{
    AddBatch, Collection, Database, Include, JobKind, JobState, QueryRequest, Space, Vectors,
};

use crate::support::Rng;

const DIM: usize = 8;

fn fill(c: &Collection, n: usize, seed: u64) -> Vec<f32> {
    fill_as(c, "r", n, seed)
}

/// Adds `n` random records with ids `{prefix}0`, `{prefix}1`, ...; returns their vectors.
fn fill_as(c: &Collection, prefix: &str, n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let data: Vec<f32> = (0..n * DIM)
        .map(|_| rng.below(1 << 24) as f32 / (1u32 << 24) as f32 - 0.5)
        .collect();
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    c.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(&data, DIM),
        ..AddBatch::default()
    })
    .unwrap();
    data
}

fn nearest(c: &Collection, q: &[f32]) -> String {
    let hits = c
        .query(QueryRequest {
            embeddings: q,
            dim: DIM,
            n_results: 1,
            ids: None,
            include: Include::default(),
        })
        .unwrap();
    hits[0].ids[0].clone()
}

#[test]
fn close_finishes_the_build_saves_graph_and_checkpoint_and_lists_every_job() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let c = db.create_collection("jobs", Space::L2, None).unwrap();
    let data = fill(&c, 5_000, 1);
    assert_eq!(nearest(&c, &data[..DIM]), "r0");
    assert!(
        db.close(Duration::from_secs(600)),
        "every job ended in time"
    );
    let jobs = db.jobs();
    let of = |kind| jobs.iter().filter(move |j| j.kind == kind);
    let catch_up: Vec<_> = of(JobKind::IndexCatchUp).collect();
    assert!(!catch_up.is_empty(), "{jobs:?}");
    assert!(catch_up.iter().all(|j| j.collection == Some(c.id())));
    let last = catch_up.last().unwrap();
    assert_eq!(last.state, JobState::Done, "{jobs:?}");
    assert_eq!(last.done, last.total);
    for kind in [JobKind::GraphSave, JobKind::LiveCheckpoint] {
        assert!(
            of(kind).any(|j| j.state == JobState::Done),
            "{kind:?}: {jobs:?}"
        );
    }
    assert!(jobs.iter().all(|j| j.state.is_finished()));
    let cdir = dir.path().join("collections").join(c.id().to_string());
    assert!(cdir.join("hnsw.0.bin").exists());
    assert!(cdir.join("live.0.bin").exists());
    let cov = c.index_coverage().unwrap();
    assert_eq!((cov.slots, cov.linked, cov.saved), (5_000, 5_000, 5_000));
    assert!(!cov.exact_only);
    // Another handle loads the graph the close saved, whole.
    let again = Database::open(dir.path()).unwrap();
    let c2 = again.get_collection("jobs").unwrap();
    let cov = c2.index_coverage().unwrap();
    assert_eq!(
        (cov.linked, cov.saved),
        (0, 5_000),
        "the file, not yet loaded"
    );
    assert_eq!(nearest(&c2, &data[DIM * 77..DIM * 78]), "r77");
    assert_eq!(c2.stats().unwrap().indexed_slots, 5_000);
}

#[test]
fn close_at_once_leaves_no_job_running_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let c = db.create_collection("jobs", Space::L2, None).unwrap();
    let data = fill(&c, 30_000, 2);
    db.close(Duration::ZERO);
    let jobs = db.jobs();
    assert!(jobs.iter().all(|j| j.state.is_finished()), "{jobs:?}");
    // After the close nothing more is queued, and queries still see every record.
    fill(&c, 10, 3);
    assert!(db.jobs().iter().all(|j| j.state.is_finished()));
    assert_eq!(nearest(&c, &data[DIM * 29_999..]), "r29999");
    drop((c, db));
    let again = Database::open(dir.path()).unwrap();
    let c = again.get_collection("jobs").unwrap();
    assert_eq!(c.count().unwrap(), 30_000);
    for i in (0..30_000).step_by(4_999) {
        assert_eq!(nearest(&c, &data[DIM * i..DIM * (i + 1)]), format!("r{i}"));
    }
}

#[test]
fn a_dropped_database_saves_its_graph_for_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let linked = {
        let db = Database::open(dir.path()).unwrap();
        let c = db.create_collection("jobs", Space::L2, None).unwrap();
        fill(&c, 20_000, 4);
        c.catch_up_index().unwrap();
        c.stats().unwrap().indexed_slots
    };
    assert_eq!(linked, 20_000);
    let db = Database::open(dir.path()).unwrap();
    let c = db.get_collection("jobs").unwrap();
    assert_eq!(c.stats().unwrap().indexed_slots, 0, "not opened yet");
    let _ = nearest(&c, &[0.0; DIM]);
    assert_eq!(
        c.stats().unwrap().indexed_slots,
        20_000,
        "loaded from the file"
    );
}

#[test]
fn a_second_handle_picks_up_the_graph_another_saved_instead_of_linking_it() {
    let dir = tempfile::tempdir().unwrap();
    // Two databases on one directory: each keeps its own index state, as two processes do.
    let a = Database::open(dir.path()).unwrap();
    let ca = a.create_collection("shared", Space::L2, None).unwrap();
    let data = fill(&ca, 5_000, 5);
    ca.catch_up_index().unwrap();
    let b = Database::open(dir.path()).unwrap();
    let cb = b.get_collection("shared").unwrap();
    assert_eq!(nearest(&cb, &data[..DIM]), "r0");
    assert_eq!(
        cb.stats().unwrap().indexed_slots,
        5_000,
        "loaded from the file"
    );
    // `a` links 3,000 more and saves; `b`'s catch-up takes the file instead of linking them.
    let mut rng = Rng::new(6);
    let more: Vec<f32> = (0..3_000 * DIM)
        .map(|_| rng.below(1 << 24) as f32 / (1u32 << 24) as f32 - 0.5)
        .collect();
    let ids: Vec<String> = (5_000..8_000).map(|i| format!("r{i}")).collect();
    ca.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(&more, DIM),
        ..AddBatch::default()
    })
    .unwrap();
    ca.catch_up_index().unwrap();
    assert_eq!(ca.index_coverage().unwrap().saved, 8_000);
    cb.catch_up_index().unwrap();
    assert_eq!(cb.stats().unwrap().indexed_slots, 8_000);
    assert_eq!(mnemodb::testing::index_slots_linked_here(&cb), 0);
    assert_eq!(nearest(&cb, &more[DIM * 2_999..]), "r7999");
}

/// `catch_up_index` (Python's `wait_for_index`) called while the background build runs, round
/// after round: the wait is taken on the caller's thread. It used to be sent to a scheduler
/// thread, where rayon may run it on the builder's own thread while the builder waits for a
/// piece of its parallel step; both then waited forever (the peers run hung so, once the
/// scheduler had a thread per core). A hang fails the round at its deadline.
#[test]
fn waiting_for_the_index_during_a_background_build_never_hangs() {
    for round in 0..6u64 {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let c = db.create_collection("wait", Space::L2, None).unwrap();
        // Two adds: the first starts the background build, the second lands during it.
        fill(&c, 4_500, 10 + round);
        fill_as(&c, "m", 4_500, 100 + round);
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = c.clone();
        std::thread::spawn(move || {
            let _ = tx.send(waiter.catch_up_index().map(|()| waiter.index_coverage()));
        });
        let cov = rx
            .recv_timeout(Duration::from_secs(300))
            .unwrap_or_else(|_| panic!("round {round}: catch_up_index did not return"))
            .unwrap()
            .unwrap();
        assert_eq!((cov.slots, cov.linked), (9_000, 9_000), "round {round}");
        assert!(
            db.close(Duration::from_secs(300)),
            "round {round}: jobs ended"
        );
    }
}

#[test]
fn deleting_a_collection_stops_its_background_work_before_removing_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let c = db.create_collection("doomed", Space::L2, None).unwrap();
    fill(&c, 40_000, 7);
    let id = c.id();
    let cdir = dir.path().join("collections").join(id.to_string());
    let its_jobs = || {
        db.jobs()
            .into_iter()
            .filter(move |j| j.collection == Some(id))
            .collect::<Vec<_>>()
    };
    assert!(
        its_jobs().iter().any(|j| !j.state.is_finished()),
        "the index is still being built when the collection is deleted: {:?}",
        its_jobs()
    );
    db.delete_collection("doomed").unwrap();
    let after = its_jobs();
    assert!(
        after.iter().all(|j| j.state.is_finished()),
        "a job of the deleted collection still runs: {after:?}"
    );
    assert!(
        after.iter().all(|j| j.state != JobState::Failed),
        "a job of the deleted collection failed: {after:?}"
    );
    assert!(!cdir.exists(), "{} is left behind", cdir.display());
    // Nothing comes back later either (the handle `c` still lives).
    assert!(db.close(Duration::from_secs(60)), "every job ended in time");
    assert!(!cdir.exists(), "{} came back", cdir.display());
    drop(c);
    assert!(
        !cdir.exists(),
        "{} came back when the handle dropped",
        cdir.display()
    );
}
