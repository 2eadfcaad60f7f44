//! Record expiry (TTL): expired records are invisible to every read at once, on the exact and
//! the HNSW paths, and an `ExpirySweep` job deletes them on its own; expiry survives reopen.

use std::time::{Duration, Instant};

use mnemodb::{
    AddBatch, Clock, Collection, Database, Expiry, GetRequest, Include, JobKind, JobState,
    Metadata, MetadataValue, QueryRequest, SearchOptions, Space, Strategy, TTL_KEY, UpdateBatch,
    Vectors, WriteOptions,
};
use serde_json::json;

use crate::support::{Rng, ids};

const DIM: usize = 8;
/// Far in the future, so the system clock (before `set_clock`) never expires anything.
const T0: i64 = 4_000_000_000_000;

fn rows(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n * DIM)
        .map(|_| rng.below(1 << 24) as f32 / (1u32 << 24) as f32 - 0.5)
        .collect()
}

/// Adds `names` with `data` and `{"n": i}` metadata, expiring as `expiry` says.
fn add(c: &Collection, names: &[String], data: &[f32], first: i64, expiry: Option<Expiry>) {
    let metas: Vec<Option<Metadata>> = (0..names.len())
        .map(|i| {
            Some(Metadata::from([(
                "n".to_string(),
                MetadataValue::Int(first + i as i64),
            )]))
        })
        .collect();
    c.add_with(
        AddBatch {
            ids: names,
            embeddings: Vectors::new(data, DIM),
            metadatas: Some(&metas),
            ..AddBatch::default()
        },
        WriteOptions {
            expiry,
            ..WriteOptions::default()
        },
    )
    .unwrap();
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn req(q: &[f32], k: usize) -> QueryRequest<'_> {
    QueryRequest {
        embeddings: q,
        dim: DIM,
        n_results: k,
        ids: None,
        include: Include::default(),
    }
}

/// A narrow beam (`ef` = `k`), so walks are chosen on a small collection.
fn opts(exact: bool) -> SearchOptions {
    SearchOptions {
        exact,
        ef_search: Some(1),
    }
}

/// The ids a query returns and the plan it ran.
fn query_plan(
    c: &Collection,
    q: &[f32],
    k: usize,
    exact: bool,
    where_: Option<&serde_json::Value>,
) -> (Vec<String>, mnemodb::Plan) {
    let plan = c.explain(req(q, k), where_, None, opts(exact)).unwrap();
    let hits = c.query_with(req(q, k), where_, None, opts(exact)).unwrap();
    (hits[0].ids.clone(), plan)
}

fn get_ids(c: &Collection, req: GetRequest<'_>) -> Vec<String> {
    c.get(req).unwrap().ids
}

/// Waits (at most a minute, polling) for `done` to hold; false if it never did.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

#[test]
fn expired_records_are_invisible_to_every_read_at_once() {
    let db = Database::in_memory().unwrap();
    let clock = Clock::manual(T0);
    db.set_clock(clock.clone());
    mnemodb::testing::set_index_min_slots(&db, 16);
    let c = db.create_collection("ttl", Space::L2, None).unwrap();
    let (keep, gone) = (names("keep", 600), names("gone", 600));
    let (keep_rows, gone_rows) = (rows(600, 1), rows(600, 2));
    add(&c, &keep, &keep_rows, 0, None);
    let ten_s = Some(Expiry::After(Duration::from_secs(10)));
    add(&c, &gone, &gone_rows, 1000, ten_s);
    c.catch_up_index().unwrap();
    // No sweep may run from here on: what the reads leave out, they leave out themselves.
    assert!(db.close(Duration::from_secs(60)));

    let q = &gone_rows[..DIM];
    let all = GetRequest {
        include: Include::default(),
        ..GetRequest::default()
    };
    assert_eq!(c.count().unwrap(), 1200);
    assert_eq!(query_plan(&c, q, 1, true, None).0, ["gone0"]);

    clock.advance(Duration::from_secs(10));
    assert_eq!(c.count().unwrap(), 600);
    let every = json!({"n": {"$gte": 0}});
    assert_eq!(c.count_where(Some(&every), None).unwrap(), 600);
    assert_eq!(get_ids(&c, all), keep);
    let by_ids = GetRequest {
        ids: Some(&gone),
        ..all
    };
    assert!(get_ids(&c, by_ids).is_empty());
    // Pages are cut after the expired records are left out.
    let page = GetRequest {
        limit: Some(5),
        offset: 3,
        ..all
    };
    assert_eq!(get_ids(&c, page), keep[3..8]);
    let late = json!({"n": {"$gte": 590}});
    let filtered = GetRequest {
        where_: Some(&late),
        ..all
    };
    assert_eq!(get_ids(&c, filtered), keep[590..]);
    assert_eq!(c.peek(3).unwrap().ids, keep[..3]);

    // Queries on every path: an exact scan, the graph walk, the walk with an allow-list, a
    // scan of a few candidates.
    let (hits, plan) = query_plan(&c, q, 1200, true, None);
    assert_eq!((plan.strategy, plan.live), (Strategy::Scan, 600));
    assert_eq!(hits, {
        let mut k = keep.clone();
        k.sort_by_key(|id| hits.iter().position(|h| h == id));
        k
    });
    let cases = [
        (None, Strategy::Walk),
        (Some(json!({"n": {"$ne": 5}})), Strategy::WalkAllowList),
        (
            Some(json!({"n": {"$in": [1, 2, 1000, 1001]}})),
            Strategy::ScanCandidates,
        ),
    ];
    for (where_, strategy) in cases {
        let (hits, plan) = query_plan(&c, q, 5, false, where_.as_ref());
        assert_eq!(plan.strategy, strategy, "{where_:?}");
        assert!(!hits.is_empty(), "{where_:?}");
        assert!(
            hits.iter()
                .all(|id| id.starts_with("keep") && id != "keep5"),
            "{where_:?}: {hits:?}"
        );
    }
    // A query by the id of an expired record: the id is not there.
    let mut by_id = req(q, 1);
    by_id.ids = Some(&gone[..1]);
    assert!(c.query(by_id).is_err());
    // Only hidden: the rows are still stored (no sweep ran), and `stats` tells them apart
    // from the live ones.
    let stats = c.stats().unwrap();
    assert_eq!((stats.records, stats.expired), (600, 600));
    assert_eq!((stats.slots, stats.dead_slots), (1200, 0));
}

#[test]
fn writes_treat_expired_records_as_absent_and_renew_expiry() {
    let db = Database::in_memory().unwrap();
    let clock = Clock::manual(T0);
    db.set_clock(clock.clone());
    let ttl = Metadata::from([(TTL_KEY.to_string(), MetadataValue::Int(60))]);
    let c = db.create_collection("ttl", Space::L2, Some(&ttl)).unwrap();
    let a = ids(&["a", "b"]);
    add(&c, &a, &rows(2, 3), 0, None);
    clock.advance(Duration::from_secs(30));
    // An update renews the collection's ttl for the records it changes.
    c.update(UpdateBatch {
        ids: &a[..1],
        documents: Some(&[Some("renewed".into())]),
        ..UpdateBatch::default()
    })
    .unwrap();
    clock.advance(Duration::from_secs(30));
    assert_eq!(get_ids(&c, GetRequest::default()), ["a"]);
    // Updating an expired record does nothing; adding its id again inserts it afresh.
    c.update(UpdateBatch {
        ids: &a[1..],
        documents: Some(&[Some("ghost".into())]),
        ..UpdateBatch::default()
    })
    .unwrap();
    assert_eq!(get_ids(&c, GetRequest::default()), ["a"]);
    add(&c, &a[1..], &rows(1, 4), 7, Some(Expiry::Never));
    let got = c
        .get(GetRequest {
            include: Include::all_get(),
            ..GetRequest::default()
        })
        .unwrap();
    assert_eq!(got.ids, ["a", "b"]);
    assert_eq!(
        got.documents.unwrap()[1],
        None,
        "a new record, not the expired one"
    );
    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        get_ids(&c, GetRequest::default()),
        ["b"],
        "Expiry::Never outlives the ttl"
    );
    // An expiry already past hides the record at once; upsert revives the id.
    let b = &a[1..];
    let opts = WriteOptions {
        expiry: Some(Expiry::AtMs(T0)),
        ..WriteOptions::default()
    };
    c.upsert_with(
        UpdateBatch {
            ids: b,
            embeddings: Some(Vectors::new(&rows(1, 5), DIM)),
            ..UpdateBatch::default()
        },
        opts,
    )
    .unwrap();
    assert_eq!(c.count().unwrap(), 0);
    // The collection's ttl is checked by the engine.
    for bad in [MetadataValue::Int(0), MetadataValue::Str("1h".into())] {
        let m = Metadata::from([(TTL_KEY.to_string(), bad)]);
        let err = db
            .create_collection("bad-ttl", Space::L2, Some(&m))
            .unwrap_err();
        assert!(err.to_string().contains(TTL_KEY), "{err}");
    }
    assert!(Expiry::ttl_secs(-1.0).is_err());
}

#[test]
fn the_sweep_deletes_expired_rows_on_its_own_and_expiry_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let (keep, gone) = (names("keep", 30), names("gone", 50));
    {
        let db = Database::open(dir.path()).unwrap();
        db.set_clock(clock.clone());
        db.set_sweep_interval(Duration::from_millis(20));
        let c = db.create_collection("ttl", Space::Cosine, None).unwrap();
        add(
            &c,
            &keep,
            &rows(30, 6),
            0,
            Some(Expiry::After(Duration::from_secs(3600))),
        );
        add(
            &c,
            &gone,
            &rows(50, 7),
            100,
            Some(Expiry::After(Duration::from_secs(60))),
        );
        clock.advance(Duration::from_secs(61));
        // No read meets them (`stats` counts them without queuing a sweep): the timer
        // queues the sweep.
        assert!(
            eventually(|| db
                .jobs()
                .iter()
                .filter(|j| j.kind == JobKind::ExpirySweep && j.state == JobState::Done)
                .map(|j| j.done)
                .sum::<u64>()
                == 50),
            "no sweep deleted the expired records: {:?}",
            db.jobs()
        );
        let sweeps: Vec<_> = db
            .jobs()
            .into_iter()
            .filter(|j| j.kind == JobKind::ExpirySweep && j.state == JobState::Done)
            .collect();
        assert_eq!(sweeps.iter().map(|j| j.done).sum::<u64>(), 50, "{sweeps:?}");
        assert_eq!(sweeps[0].collection, Some(c.id()));
        // Their vectors' slots are dead, and compaction gives them back.
        let stats = c.stats().unwrap();
        assert_eq!((stats.records, stats.expired), (30, 0));
        assert_eq!((stats.slots, stats.dead_slots), (80, 50));
        assert_eq!(c.compact_blocking().unwrap(), 50);
        assert_eq!(get_ids(&c, GetRequest::default()), keep);
    }
    // Reopened later: the survivors' expiry was stored with them.
    let db = Database::open(dir.path()).unwrap();
    let later = Clock::manual(T0 + 3_600_000);
    db.set_clock(later.clone());
    let c = db.get_collection("ttl").unwrap();
    assert_eq!(c.count().unwrap(), 0);
    // (`count` met them and queued a sweep already; this waits for it or a fresh one.)
    let job = c.sweep_expired();
    assert_eq!(job.wait(Some(Duration::from_secs(60))), JobState::Done);
    let after = c.stats().unwrap();
    assert_eq!((after.records, after.expired, after.dead_slots), (0, 0, 30));
}
