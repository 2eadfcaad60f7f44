//! The query planner through `Collection::explain`: the plan a request gets on a tiny
//! collection, on one with a graph (unfiltered, selective and broad filters, ids), on an empty
//! one, and that explaining changes nothing and checks the request as a query does.

use mnemodb::{
    AddBatch, Collection, Database, Error, GetRequest, Include, Metadata, MetadataValue, Plan,
    QueryRequest, Reason, SearchOptions, Space, Strategy, Vectors,
};
use serde_json::json;

use crate::support::Rng;

const DIM: usize = 8;

/// `n` records `r0..` with random vectors and `bucket = i % 10`.
fn fill(c: &Collection, n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let data: Vec<f32> = (0..n * DIM)
        .map(|_| (rng.below(2001) as f32 - 1000.0) / 1000.0)
        .collect();
    let ids: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
    let metas: Vec<Option<Metadata>> = (0..n)
        .map(|i| {
            let mut m = Metadata::new();
            m.insert("bucket".into(), MetadataValue::Int((i % 10) as i64));
            Some(m)
        })
        .collect();
    c.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(&data, DIM),
        metadatas: Some(&metas),
        ..AddBatch::default()
    })
    .unwrap();
    data
}

fn request(q: &[f32], n_results: usize) -> QueryRequest<'_> {
    QueryRequest {
        embeddings: q,
        dim: DIM,
        n_results,
        ids: None,
        include: Include::query_default(),
    }
}

fn explain(c: &Collection, n_results: usize, where_: Option<&serde_json::Value>) -> Plan {
    explain_with(c, n_results, where_, SearchOptions::default())
}

fn explain_with(
    c: &Collection,
    n_results: usize,
    where_: Option<&serde_json::Value>,
    opts: SearchOptions,
) -> Plan {
    c.explain(request(&[0.5; DIM], n_results), where_, None, opts)
        .unwrap()
}

/// A collection of 2,000 records whose graph (from 256 slots here) links them all.
fn indexed(db: &Database) -> Collection {
    mnemodb::testing::set_index_min_slots(db, 256);
    let c = db.create_collection("indexed", Space::L2, None).unwrap();
    fill(&c, 2000, 3);
    c.catch_up_index().unwrap();
    c
}

#[test]
fn a_tiny_collection_is_scanned_exactly() {
    let db = Database::in_memory().unwrap();
    let c = db.create_collection("tiny", Space::L2, None).unwrap();
    let plan = explain(&c, 3, None);
    assert_eq!(
        (plan.strategy, plan.reason),
        (Strategy::Empty, Reason::NoVectors)
    );
    fill(&c, 20, 1);
    let plan = explain(&c, 3, None);
    assert_eq!(
        (plan.strategy, plan.reason),
        (Strategy::Scan, Reason::SmallCollection)
    );
    assert_eq!((plan.live, plan.slots, plan.cost), (20, 20, 20));
    assert_eq!(plan.index, None);
    assert!(!plan.catch_up);
    let plan = explain(&c, 3, Some(&json!({"bucket": {"$in": [1, 2]}})));
    assert_eq!(plan.strategy, Strategy::ScanCandidates);
    assert_eq!((plan.candidates, plan.cost), (Some(4), 4));
    let plan = explain(&c, 3, Some(&json!({"bucket": 99})));
    assert_eq!(
        (plan.strategy, plan.reason, plan.candidates),
        (Strategy::Empty, Reason::NoCandidates, Some(0))
    );
}

#[test]
fn a_graph_is_walked_with_or_without_an_allow_list() {
    let db = Database::in_memory().unwrap();
    let c = indexed(&db);
    let plan = explain(&c, 10, None);
    assert_eq!(
        (plan.strategy, plan.reason),
        (Strategy::Walk, Reason::LargeCollection)
    );
    let index = plan.index.unwrap();
    assert_eq!((index.linked, index.unlinked), (2000, 0));
    assert_eq!(plan.ef, 100, "the collection's ef_search");

    // A tenth of the records: 200^2 <= 90 * 100 * 2,000, a scan of the candidates.
    let tenth = json!({"bucket": 3});
    let plan = explain(&c, 10, Some(&tenth));
    assert_eq!(
        (plan.strategy, plan.reason),
        (Strategy::ScanCandidates, Reason::FewCandidates)
    );
    assert_eq!((plan.candidates, plan.cost), (Some(200), 200));

    // Half of them at a beam of 1: 1,000^2 > 90 * 1 * 2,000, the walk with an allow-list.
    let half = json!({"bucket": {"$lt": 5}});
    let narrow = SearchOptions {
        ef_search: Some(1),
        exact: false,
    };
    let plan = explain_with(&c, 1, Some(&half), narrow);
    assert_eq!(
        (plan.strategy, plan.reason),
        (Strategy::WalkAllowList, Reason::ManyCandidates)
    );
    assert_eq!(plan.candidates, Some(1000));
    assert!(plan.cost < plan.scan_cost, "{plan}");
    assert!(plan.to_string().starts_with("walk_allow_list: "), "{plan}");

    let exact = SearchOptions {
        ef_search: None,
        exact: true,
    };
    assert_eq!(explain_with(&c, 10, None, exact).reason, Reason::ExactAsked);
    assert_eq!(explain(&c, 500, None).reason, Reason::ManyResults);
    let ids = vec!["r1".to_string(), "r7".to_string()];
    let plan = c
        .explain(
            QueryRequest {
                ids: Some(&ids),
                ..request(&[0.5; DIM], 1)
            },
            None,
            None,
            SearchOptions::default(),
        )
        .unwrap();
    assert_eq!(
        (plan.strategy, plan.reason, plan.candidates),
        (Strategy::ScanCandidates, Reason::IdList, Some(2))
    );
}

#[test]
fn explaining_changes_nothing() {
    let db = Database::in_memory().unwrap();
    let c = indexed(&db);
    let everything = |c: &Collection| {
        c.get(GetRequest {
            include: Include {
                embeddings: true,
                ..Include::get_default()
            },
            ..GetRequest::default()
        })
        .unwrap()
    };
    let q = [0.25; DIM];
    let filter = json!({"bucket": {"$lt": 5}});
    let query = |c: &Collection| c.query_where(request(&q, 5), Some(&filter), None).unwrap();
    let (records, stats, hits) = (everything(&c), c.stats().unwrap(), query(&c));
    for n in [1, 5, 1999] {
        explain(&c, n, Some(&filter));
        explain(&c, n, None);
    }
    assert_eq!(everything(&c), records);
    assert_eq!(c.stats().unwrap(), stats);
    assert_eq!(query(&c), hits);
}

#[test]
fn a_process_without_the_graph_scans_and_explain_does_not_link() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let c = indexed(&db);
        assert_eq!(c.stats().unwrap().indexed_slots, 2000);
    }
    // The saved graph gone: the next process has none until it links the records again.
    let cdir = std::fs::read_dir(dir.path().join("collections"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(cdir.join("hnsw.0.bin")).unwrap();
    let db = Database::open(dir.path()).unwrap();
    mnemodb::testing::set_index_min_slots(&db, 256);
    let c = db.get_collection("indexed").unwrap();
    let plan = explain(&c, 10, None);
    assert_eq!(
        (plan.strategy, plan.reason),
        (Strategy::Scan, Reason::NoIndex)
    );
    assert!(
        plan.catch_up,
        "a query would link the records after answering"
    );
    assert_eq!(c.stats().unwrap().indexed_slots, 0);
    c.catch_up_index().unwrap();
    assert_eq!(explain(&c, 10, None).strategy, Strategy::Walk);
}

#[test]
fn explain_checks_the_request_as_a_query_does() {
    let db = Database::in_memory().unwrap();
    let c = db.create_collection("checks", Space::L2, None).unwrap();
    fill(&c, 20, 2);
    let q = [0.5; DIM];
    let both = |req: QueryRequest<'_>, w: Option<&serde_json::Value>| {
        let a = c
            .explain(req, w, None, SearchOptions::default())
            .unwrap_err();
        let b = c.query_where(req, w, None).unwrap_err();
        assert_eq!(a.to_string(), b.to_string());
        a
    };
    both(request(&q, 0), None);
    both(request(&q[..4], 1), None);
    let twelve = [0.5; 12];
    both(request(&twelve, 1), None);
    let e = both(
        QueryRequest {
            dim: DIM - 1,
            ..request(&q[..DIM - 1], 1)
        },
        None,
    );
    assert!(matches!(e, Error::DimensionMismatch { .. }), "{e}");
    both(request(&q, 1), Some(&json!({"bucket": {"$bad": 1}})));
    let ids = vec!["nope".to_string()];
    let e = both(
        QueryRequest {
            ids: Some(&ids),
            ..request(&q, 1)
        },
        None,
    );
    assert!(matches!(e, Error::QueryIdsNotFound(_)), "{e}");
}
