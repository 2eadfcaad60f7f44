//! Filters through the real engine: records added with the API, `get` / `query_where` /
//! `delete_where` answered by the SQL the filter compiles to, compared with
//! (a) the naive evaluator (`mnemodb::testing::oracle`) on random records and random filter
//! trees, and (b) chromadb 1.5.9's answers on the captured cases of
//! `engine/tests/data/chroma_filters.json`.
//!
//! The proptest runs here, against the public API, rather than as a unit test: what is checked
//! is the whole path a caller takes (JSON parsing, the SQL, slots to hits, the write path that
//! keeps the key/value and FTS tables in step through updates, deletes and compaction). The
//! oracle is reached through a `#[doc(hidden)]` hook.

use std::collections::BTreeMap;

use mnemodb::{
    AddBatch, Collection, Database, ErrorKind, GetRequest, Include, Metadata, MetadataPatch,
    MetadataValue, QueryRequest, Space, UpdateBatch, Vectors,
};
use proptest::prelude::*;
use serde_json::{Value, json};

// ---- random records ---------------------------------------------------------------------------

const KEYS: &[&str] = &["a", "b", "it's \"q\"", "ключ; --"];
const STRS: &[&str] = &[
    "",
    "a",
    "b",
    "A",
    "1",
    "it's",
    "ü",
    "a'; DROP TABLE records; --",
];
const INTS: &[i64] = &[
    -2,
    -1,
    0,
    1,
    2,
    3,
    9_007_199_254_740_993,
    i64::MAX,
    i64::MIN,
];
const FLOATS: &[f64] = &[
    -1.5,
    -0.5,
    -0.0,
    0.0,
    0.5,
    1.0,
    1.5,
    2.0,
    9_007_199_254_740_992.0,
    1e300,
];
const DOC_CHARS: &[char] = &[
    'a', 'b', 'A', ' ', 'ü', '\'', '"', '%', '_', '\n', '🚀', 'c',
];
const DOCS: &[&str] = &[
    "hello world",
    "Hello World",
    "abc",
    "xabcx",
    "ab",
    "",
    "üüü",
    "it's \"quoted\"",
    "50% off_price",
];

fn pick<T: Clone + std::fmt::Debug + 'static>(xs: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(xs)
}

/// A key: mostly the same one, so filters and records meet.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![3 => Just("a"), 1 => pick(KEYS)].prop_map(str::to_owned)
}

fn metadata_value() -> impl Strategy<Value = MetadataValue> {
    let list = |n| 1..n;
    prop_oneof![
        3 => pick(INTS).prop_map(MetadataValue::Int),
        3 => pick(FLOATS).prop_map(MetadataValue::Float),
        1 => any::<bool>().prop_map(MetadataValue::Bool),
        2 => pick(STRS).prop_map(MetadataValue::from),
        1 => prop::collection::vec(pick(INTS), list(4)).prop_map(MetadataValue::IntList),
        1 => prop::collection::vec(pick(FLOATS), list(4)).prop_map(MetadataValue::FloatList),
        1 => prop::collection::vec(any::<bool>(), list(3)).prop_map(MetadataValue::BoolList),
        1 => prop::collection::vec(pick(STRS).prop_map(str::to_owned), list(4))
            .prop_map(MetadataValue::StrList),
    ]
}

fn metadata() -> impl Strategy<Value = Option<Metadata>> {
    prop::option::weighted(
        0.8,
        prop::collection::btree_map(key(), metadata_value(), 1..4),
    )
}

fn short_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(pick(DOC_CHARS), 0..max).prop_map(|cs| cs.into_iter().collect())
}

fn document() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(
        0.8,
        prop_oneof![pick(DOCS).prop_map(str::to_owned), short_text(8)],
    )
}

// ---- random filters (JSON, as a caller passes them) -------------------------------------------

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        pick(INTS).prop_map(Value::from),
        pick(FLOATS).prop_map(|f| json!(f)),
        any::<bool>().prop_map(Value::from),
        pick(STRS).prop_map(Value::from),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        pick(INTS).prop_map(Value::from),
        pick(FLOATS).prop_map(|f| json!(f))
    ]
}

/// A non-empty list of one scalar type (the client refuses mixed lists).
fn scalar_list() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::collection::vec(pick(INTS).prop_map(Value::from), 1..4),
        prop::collection::vec(pick(FLOATS).prop_map(|f| json!(f)), 1..4),
        prop::collection::vec(any::<bool>().prop_map(Value::from), 1..3),
        prop::collection::vec(pick(STRS).prop_map(Value::from), 1..4),
    ]
    .prop_map(Value::Array)
}

/// A needle or pattern: non-empty (the client refuses empty ones).
fn needle() -> impl Strategy<Value = String> {
    prop_oneof![
        short_text(5).prop_filter("non-empty", |s| !s.is_empty()),
        pick(&[
            "abc", "ab", "b", "llo", "World", "it's", "%", "_p", "🚀", "ü"
        ])
        .prop_map(str::to_owned),
    ]
}

fn pattern() -> impl Strategy<Value = String> {
    pick(&[
        "a",
        "^h",
        "o$",
        "(?i)hello",
        "a.b",
        "[0-9]",
        "\\w+'",
        "ü",
        ".",
        "(?s)a.b",
        "^$",
        "b|c",
        "(?m)^l",
    ])
    .prop_map(str::to_owned)
}

fn where_leaf() -> impl Strategy<Value = Value> {
    let op_leaf = |ops: &'static [&'static str], v: BoxedStrategy<Value>| {
        (key(), pick(ops), v).prop_map(|(k, op, v)| json!({ k: { op: v } }))
    };
    prop_oneof![
        2 => (key(), scalar()).prop_map(|(k, v)| json!({ k: v })),
        2 => op_leaf(&["$eq", "$ne"], scalar().boxed()),
        3 => op_leaf(&["$gt", "$gte", "$lt", "$lte"], number().boxed()),
        2 => op_leaf(&["$in", "$nin"], scalar_list().boxed()),
        1 => op_leaf(&["$contains", "$not_contains"], scalar().boxed()),
        1 => (pick(&["$contains", "$not_contains"]), needle())
            .prop_map(|(op, s)| json!({ "#document": { op: s } })),
        1 => (
            pick(&["$eq", "$ne"]),
            prop_oneof![pick(DOCS).prop_map(str::to_owned), needle()]
        )
            .prop_map(|(op, s)| json!({ "chroma:document": { op: s } })),
        1 => prop::collection::vec(pick(DOCS).prop_map(Value::from), 1..3)
            .prop_map(|v| json!({ "chroma:document": { "$nin": v } })),
        // Two bounds on one key: the engine merges them into one range lookup.
        2 => (key(), pick(&["$gt", "$gte"]), number(), pick(&["$lt", "$lte"]), number())
            .prop_map(|(k, lo, a, hi, b)| json!({"$and": [{ &k: { lo: a } }, { &k: { hi: b } }]})),
    ]
}

/// A `where` tree of depth <= 4; `$and` / `$or` with 2 to 4 children (the client's rule).
fn where_tree() -> impl Strategy<Value = Value> {
    where_leaf().prop_recursive(3, 24, 4, |inner| {
        (pick(&["$and", "$or"]), prop::collection::vec(inner, 2..5))
            .prop_map(|(op, children)| json!({ op: children }))
    })
}

fn document_tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        (pick(&["$contains", "$not_contains"]), needle()).prop_map(|(op, s)| json!({ op: s })),
        (pick(&["$regex", "$not_regex"]), pattern()).prop_map(|(op, s)| json!({ op: s })),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        (pick(&["$and", "$or"]), prop::collection::vec(inner, 2..4))
            .prop_map(|(op, children)| json!({ op: children }))
    })
}

/// `(where, where_document)`, each possibly absent.
fn filter() -> impl Strategy<Value = (Option<Value>, Option<Value>)> {
    prop_oneof![
        3 => (where_tree(), Just(None)).prop_map(|(w, d)| (Some(w), d)),
        1 => document_tree().prop_map(|d| (None, Some(d))),
        1 => (where_tree(), document_tree()).prop_map(|(w, d)| (Some(w), Some(d))),
    ]
}

// ---- the check --------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Rec {
    id: String,
    emb: [f32; 2],
    meta: Option<Metadata>,
    doc: Option<String>,
}

/// Changes applied after the add, so the index tables go through the write path's updates,
/// deletes and compaction: per record, a new document, a metadata patch, or deletion.
#[derive(Debug, Clone)]
enum Change {
    Keep,
    /// A new document, with a new vector (the record moves to a new slot) or without.
    Document(String, bool),
    Patch(MetadataPatch),
    Delete,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        6 => Just(Change::Keep),
        1 => (pick(DOCS), any::<bool>()).prop_map(|(d, moves)| Change::Document(d.to_owned(), moves)),
        1 => prop::collection::btree_map(
            key(),
            prop::option::of(metadata_value()),
            1..3
        )
        .prop_map(Change::Patch),
        1 => Just(Change::Delete),
    ]
}

fn merge(old: Option<Metadata>, p: &MetadataPatch) -> Option<Metadata> {
    let mut m = old.unwrap_or_default();
    for (k, v) in p {
        match v {
            Some(v) => m.insert(k.clone(), v.clone()),
            None => m.remove(k),
        };
    }
    (!m.is_empty()).then_some(m)
}

/// A record to add (metadata, document, vector) and what happens to it afterwards.
type Item = (Option<Metadata>, Option<String>, [i8; 2], Change);

/// Builds the collection and the model of it: records added, then changed. With `warm`, a
/// filtered read before the changes builds the in-memory filter index (metadata and
/// documents), so the changes patch it instead of its being read afresh afterwards.
fn build(items: &[Item], compact: bool, warm: bool) -> (Database, Collection, Vec<Rec>) {
    let db = Database::in_memory().unwrap();
    let c = db.create_collection("filters", Space::L2, None).unwrap();
    let mut recs: Vec<Rec> = items
        .iter()
        .enumerate()
        .map(|(i, (m, d, e, _))| Rec {
            id: format!("r{i}"),
            emb: [f32::from(e[0]), f32::from(e[1])],
            meta: m.clone(),
            doc: d.clone(),
        })
        .collect();
    if !recs.is_empty() {
        let ids: Vec<String> = recs.iter().map(|r| r.id.clone()).collect();
        let emb: Vec<f32> = recs.iter().flat_map(|r| r.emb).collect();
        let docs: Vec<Option<String>> = recs.iter().map(|r| r.doc.clone()).collect();
        let metas: Vec<Option<Metadata>> = recs.iter().map(|r| r.meta.clone()).collect();
        c.add(AddBatch {
            ids: &ids,
            embeddings: Vectors::new(&emb, 2),
            documents: Some(&docs),
            metadatas: Some(&metas),
            ..AddBatch::default()
        })
        .unwrap();
    }
    if warm {
        c.count_where(
            Some(&json!({"a": {"$ne": 0}})),
            Some(&json!({"$not_contains": "zz"})),
        )
        .unwrap();
    }
    let mut deleted = Vec::new();
    for (i, (.., ch)) in items.iter().enumerate() {
        let id = vec![recs[i].id.clone()];
        match ch {
            Change::Keep => {}
            Change::Document(d, moves) => {
                c.update(UpdateBatch {
                    ids: &id,
                    // With a new vector, the record moves to another slot.
                    embeddings: moves.then(|| Vectors::new(&recs[i].emb, 2)),
                    documents: Some(&[Some(d.clone())]),
                    ..UpdateBatch::default()
                })
                .unwrap();
                recs[i].doc = Some(d.clone());
            }
            Change::Patch(p) => {
                c.update(UpdateBatch {
                    ids: &id,
                    metadatas: Some(&[Some(p.clone())]),
                    ..UpdateBatch::default()
                })
                .unwrap();
                recs[i].meta = merge(recs[i].meta.take(), p);
            }
            Change::Delete => {
                c.delete(&id).unwrap();
                deleted.push(i);
            }
        }
    }
    for i in deleted.into_iter().rev() {
        recs.remove(i);
    }
    if compact {
        c.compact_blocking().unwrap();
    }
    (db, c, recs)
}

fn get_ids(
    c: &Collection,
    w: Option<&Value>,
    d: Option<&Value>,
    ids: Option<&[String]>,
    limit: Option<usize>,
    offset: usize,
) -> mnemodb::Result<Vec<String>> {
    c.get(GetRequest {
        ids,
        limit,
        offset,
        include: Include::default(),
        where_: w,
        where_document: d,
    })
    .map(|r| r.ids)
}

fn l2(a: [f32; 2], b: [f32; 2]) -> f32 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Runs one filter through get (plain, paged, with ids), query and finally delete, and
/// compares each with the oracle. Returns whether the filter was valid.
fn check_filter(
    c: &Collection,
    recs: &[Rec],
    (w, d): (&Option<Value>, &Option<Value>),
    page: (usize, usize),
    q: [f32; 2],
) -> Result<bool, TestCaseError> {
    let (w, d) = (w.as_ref(), d.as_ref());
    let oracle = match mnemodb::testing::oracle(w, d, false) {
        Ok(o) => o,
        Err(e) => {
            // Invalid for the client: the engine refuses it too, with the same words.
            let got = get_ids(c, w, d, None, None, 0).unwrap_err();
            prop_assert_eq!(got.to_string(), e.to_string());
            prop_assert_eq!(c.count_where(w, d).unwrap_err().to_string(), e.to_string());
            return Ok(false);
        }
    };
    let want: Vec<&Rec> = recs
        .iter()
        .filter(|r| oracle(r.meta.as_ref(), r.doc.as_deref()))
        .collect();
    let want_ids: Vec<String> = want.iter().map(|r| r.id.clone()).collect();
    prop_assert_eq!(&get_ids(c, w, d, None, None, 0).unwrap(), &want_ids);
    prop_assert_eq!(c.count_where(w, d).unwrap(), want_ids.len() as u64);

    let (limit, offset) = page;
    let paged: Vec<String> = want_ids.iter().skip(offset).take(limit).cloned().collect();
    prop_assert_eq!(get_ids(c, w, d, None, Some(limit), offset).unwrap(), paged);

    // Every other record's id, plus one that does not exist.
    let mut some: Vec<String> = recs.iter().step_by(2).map(|r| r.id.clone()).collect();
    some.push("missing".into());
    let among: Vec<String> = want_ids
        .iter()
        .filter(|id| some.contains(id))
        .cloned()
        .collect();
    prop_assert_eq!(get_ids(c, w, d, Some(&some), None, 0).unwrap(), among);

    if !recs.is_empty() {
        let k = 3;
        let mut ranked: Vec<(f32, usize, &Rec)> = want
            .iter()
            .map(|r| {
                (
                    l2(r.emb, q),
                    recs.iter().position(|x| x.id == r.id).unwrap_or(0),
                    *r,
                )
            })
            .collect();
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let nearest: Vec<String> = ranked.iter().take(k).map(|x| x.2.id.clone()).collect();
        let hits = c
            .query_where(
                QueryRequest {
                    embeddings: &q,
                    dim: 2,
                    n_results: k,
                    ids: None,
                    include: Include::default(),
                },
                w,
                d,
            )
            .unwrap();
        prop_assert_eq!(&hits[0].ids, &nearest);
    }
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// SQL execution and the in-memory filter index (built before or after the writes) equal
    /// the naive evaluator for get, count, query and delete.
    #[test]
    fn sql_equals_oracle(
        items in prop::collection::vec((metadata(), document(), prop::array::uniform2(-3i8..=3), change()), 0..16),
        compact in any::<bool>(),
        warm in any::<bool>(),
        filters in prop::collection::vec(filter(), 1..4),
        page in (0usize..5, 0usize..4),
        q in prop::array::uniform2(-3i8..=3),
        delete_limit in prop::option::of(0usize..4),
    ) {
        let (_db, c, recs) = build(&items, compact, warm);
        let q = [f32::from(q[0]), f32::from(q[1])];
        for (w, d) in &filters {
            check_filter(&c, &recs, (w, d), page, q)?;
        }
        // Delete with the first filter (and a limit, sometimes): the first matches in insertion
        // order go, the rest stay.
        let (w, d) = &filters[0];
        if let Ok(oracle) = mnemodb::testing::oracle(w.as_ref(), d.as_ref(), false) {
            let matching: Vec<String> = recs
                .iter()
                .filter(|r| oracle(r.meta.as_ref(), r.doc.as_deref()))
                .map(|r| r.id.clone())
                .collect();
            let doomed: Vec<String> =
                matching.iter().take(delete_limit.unwrap_or(usize::MAX)).cloned().collect();
            let n = c.delete_where(None, w.as_ref(), d.as_ref(), delete_limit).unwrap();
            prop_assert_eq!(n, doomed.len() as u64);
            let left: Vec<String> = recs
                .iter()
                .map(|r| r.id.clone())
                .filter(|id| !doomed.contains(id))
                .collect();
            prop_assert_eq!(get_ids(&c, None, None, None, None, 0).unwrap(), left);
            prop_assert_eq!(c.count().unwrap(), (recs.len() - doomed.len()) as u64);
            // Nothing matches any more (unless a limit kept some).
            if delete_limit.is_none() {
                prop_assert!(get_ids(&c, w.as_ref(), d.as_ref(), None, None, 0).unwrap().is_empty());
            }
        }
    }
}

// ---- chromadb's captured cases through the engine --------------------------------------------

const CAPTURE: &str = include_str!("../data/chroma_filters.json");

/// Cases where the engine knowingly differs from chromadb (see `filter/tests.rs`).
const DIVERGENCES: &[&str] = &["doc_regex_too_big_to_compile", "and_depth_600"];

/// `{op: children}`, built by moving (no recursive `json!` on deep values).
fn wrap(op: &str, children: Vec<Value>) -> Value {
    Value::Object(
        [(op.to_owned(), Value::Array(children))]
            .into_iter()
            .collect(),
    )
}

/// The `(where, where_document)` a case passes (`generated` cases nest `$and`s).
fn case_filters(case: &Value) -> (Option<Value>, Option<Value>) {
    let mut w = case.get("where").cloned();
    let mut d = case.get("where_document").cloned();
    if let Some(spec) = case.get("generated") {
        let mut built = spec["leaf"].clone();
        for _ in 0..spec["depth"].as_u64().unwrap() {
            built = wrap("$and", vec![spec["sibling"].clone(), built]);
        }
        if spec["target"] == "where" {
            w = Some(built);
        } else {
            d = Some(built);
        }
    }
    (w, d)
}

#[test]
fn chroma_cases_through_the_engine() {
    let capture: Value = serde_json::from_str(CAPTURE).unwrap();
    let records = capture["records"].as_array().unwrap();
    let db = Database::in_memory().unwrap();
    let c = db.create_collection("chroma", Space::L2, None).unwrap();
    let ids: Vec<String> = records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let docs: Vec<Option<String>> = records
        .iter()
        .map(|r| r["document"].as_str().map(str::to_owned))
        .collect();
    let metas: Vec<Option<Metadata>> = records
        .iter()
        .map(|r| serde_json::from_value(r["metadata"].clone()).unwrap())
        .collect();
    let emb: Vec<f32> = (0..ids.len()).flat_map(|i| [i as f32, 0.0]).collect();
    c.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(&emb, 2),
        documents: Some(&docs),
        metadatas: Some(&metas),
        ..AddBatch::default()
    })
    .unwrap();

    let mut failures = Vec::new();
    let mut answered = 0;
    for case in capture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if DIVERGENCES.contains(&name) {
            continue;
        }
        let (w, d) = case_filters(case);
        let got = get_ids(&c, w.as_ref(), d.as_ref(), None, None, 0);
        let want = &case["client"];
        let same = match (&got, want.get("ok"), want.get("error")) {
            (Ok(got), Some(ok), _) => {
                answered += 1;
                let ok: Vec<String> = serde_json::from_value(ok.clone()).unwrap();
                // The query path too: the same set, nearest first (here: insertion order).
                let hits = c
                    .query_where(
                        QueryRequest {
                            embeddings: &[-1.0, 0.0],
                            dim: 2,
                            n_results: ids.len(),
                            ids: None,
                            include: Include::default(),
                        },
                        w.as_ref(),
                        d.as_ref(),
                    )
                    .unwrap();
                *got == ok && hits[0].ids == ok
            }
            (Err(e), _, Some(error)) => {
                let message = error["message"].as_str().unwrap();
                match error["class"].as_str() {
                    // chromadb's client: its class and text, " in get." included.
                    Some("ValueError") => {
                        e.kind() == ErrorKind::ValueError && e.to_string() == message
                    }
                    // Its backend: the engine may say more after chromadb's text.
                    _ => {
                        e.kind() == ErrorKind::InvalidArgument && e.to_string().starts_with(message)
                    }
                }
            }
            _ => false,
        };
        if !same {
            failures.push(format!("{name}: engine {got:?}, chromadb {want}"));
        }
    }
    assert!(answered >= 100, "only {answered} cases answered");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- API rules ----------------------------------------------------------------------------------

fn small(db: &Database) -> Collection {
    let c = db.create_collection("small", Space::L2, None).unwrap();
    let ids: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    let metas: Vec<Option<Metadata>> = (0..10)
        .map(|i| {
            Some(BTreeMap::from([
                (
                    "source".to_string(),
                    MetadataValue::from(format!("s{}", i % 3)),
                ),
                ("n".to_string(), MetadataValue::Int(i)),
            ]))
        })
        .collect();
    let docs: Vec<Option<String>> = (0..10).map(|i| Some(format!("document {i}"))).collect();
    let emb: Vec<f32> = (0..10).flat_map(|i| [i as f32, 0.0]).collect();
    c.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(&emb, 2),
        documents: Some(&docs),
        metadatas: Some(&metas),
        ..AddBatch::default()
    })
    .unwrap();
    c
}

#[test]
fn delete_needs_ids_or_a_filter_and_limit_needs_a_filter() {
    let db = Database::in_memory().unwrap();
    let c = small(&db);
    let e = c.delete_where(None, None, None, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "At least one of ids, where, or where_document must be provided in delete."
    );
    let null = Value::Null;
    assert!(
        c.delete_where(None, Some(&null), Some(&null), None)
            .is_err()
    );
    let ids = vec!["r1".to_string()];
    let e = c.delete_where(Some(&ids), None, None, Some(1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "limit can only be specified when a where or where_document clause is provided in \
         delete."
    );
    // An invalid filter changes nothing.
    let bad = json!({"n": {"$gt": "x"}});
    assert_eq!(
        c.delete_where(None, Some(&bad), None, None)
            .unwrap_err()
            .kind(),
        ErrorKind::ValueError
    );
    assert_eq!(c.count().unwrap(), 10);
}

#[test]
fn delete_with_ids_and_filter_takes_both() {
    let db = Database::in_memory().unwrap();
    let c = small(&db);
    let ids: Vec<String> = ["r0", "r1", "r3", "r6"].map(String::from).to_vec();
    let w = json!({"source": "s0"});
    // r0, r3 and r6 are s0 and among the ids; r9 is s0 but not among them.
    assert_eq!(c.delete_where(Some(&ids), Some(&w), None, None).unwrap(), 3);
    assert_eq!(
        get_ids(&c, Some(&w), None, None, None, 0).unwrap(),
        ["r9"].map(String::from)
    );
    // Ids alone behave as `delete`.
    assert_eq!(c.delete_where(Some(&ids), None, None, None).unwrap(), 1);
    assert_eq!(c.count().unwrap(), 6);
}

#[test]
fn get_filter_with_ids_limit_offset() {
    let db = Database::in_memory().unwrap();
    let c = small(&db);
    let w = json!({"n": {"$gte": 2}});
    let d = json!({"$not_contains": "5"});
    let all = get_ids(&c, Some(&w), Some(&d), None, None, 0).unwrap();
    assert_eq!(
        all,
        ["r2", "r3", "r4", "r6", "r7", "r8", "r9"].map(String::from)
    );
    let page = get_ids(&c, Some(&w), Some(&d), None, Some(2), 2).unwrap();
    assert_eq!(page, ["r4", "r6"].map(String::from));
    let ids: Vec<String> = ["r9", "r0", "r5", "r3"].map(String::from).to_vec();
    let among = get_ids(&c, Some(&w), Some(&d), Some(&ids), Some(5), 0).unwrap();
    assert_eq!(among, ["r3", "r9"].map(String::from));
}

#[test]
fn query_with_filter_and_ids() {
    let db = Database::in_memory().unwrap();
    let c = small(&db);
    let req = |ids| QueryRequest {
        embeddings: &[0.0, 0.0],
        dim: 2,
        n_results: 3,
        ids,
        include: Include::query_default(),
    };
    let w = json!({"source": "s1"});
    let hits = c.query_where(req(None), Some(&w), None).unwrap();
    assert_eq!(hits[0].ids, ["r1", "r4", "r7"].map(String::from));
    assert_eq!(hits[0].distances.as_deref(), Some(&[1.0, 16.0, 49.0][..]));
    let ids: Vec<String> = ["r7", "r2", "r4"].map(String::from).to_vec();
    let hits = c.query_where(req(Some(&ids)), Some(&w), None).unwrap();
    assert_eq!(hits[0].ids, ["r4", "r7"].map(String::from));
    // Nothing passes: empty hits, not an error.
    let none = json!({"source": "nope"});
    let hits = c.query_where(req(None), Some(&none), None).unwrap();
    assert!(hits[0].ids.is_empty());
    // Missing ids are still an error, filter or not.
    let missing = vec!["zz".to_string()];
    assert!(c.query_where(req(Some(&missing)), Some(&w), None).is_err());
}

/// Keys are data: quotes, `;`, unicode and 10 kB keys are stored and filtered like any other.
#[test]
fn hostile_keys() {
    let db = Database::in_memory().unwrap();
    let c = db.create_collection("hostile", Space::L2, None).unwrap();
    let long = "k".repeat(10_000);
    let keys = [
        "it's",
        "\"q\"",
        "a; DROP TABLE records; --",
        "') OR 1=1 --",
        "ключ 🚀",
        "?1",
        "%_\\",
        long.as_str(),
    ];
    let ids: Vec<String> = (0..keys.len()).map(|i| format!("h{i}")).collect();
    let metas: Vec<Option<Metadata>> = keys
        .iter()
        .map(|k| Some(BTreeMap::from([(k.to_string(), MetadataValue::from(*k))])))
        .collect();
    let emb: Vec<f32> = (0..keys.len()).flat_map(|i| [i as f32, 1.0]).collect();
    c.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(&emb, 2),
        metadatas: Some(&metas),
        ..AddBatch::default()
    })
    .unwrap();
    for (i, k) in keys.iter().enumerate() {
        let w = json!({ *k: *k });
        assert_eq!(
            get_ids(&c, Some(&w), None, None, None, 0).unwrap(),
            [ids[i].clone()]
        );
        let w = json!({ *k: { "$ne": *k } });
        assert_eq!(
            get_ids(&c, Some(&w), None, None, None, 0).unwrap().len(),
            keys.len() - 1
        );
        let w = json!({ *k: { "$in": [*k, "'"] } });
        assert_eq!(
            get_ids(&c, Some(&w), None, None, None, 0).unwrap(),
            [ids[i].clone()]
        );
    }
    // The tables are intact.
    assert_eq!(c.count().unwrap(), keys.len() as u64);
    assert!(db.check().unwrap().is_ok());
}

/// A filter's cached candidates survive a metadata patch of other keys (an access time, say)
/// and are recomputed when the patch touches a key the filter reads, or records change.
#[test]
fn cached_filters_follow_metadata_patches() {
    let db = Database::in_memory().unwrap();
    let c = db.create_collection("cache", Space::L2, None).unwrap();
    let ids: Vec<String> = (0..6).map(|i| format!("r{i}")).collect();
    let emb: Vec<f32> = (0..6).flat_map(|i| [i as f32, 0.0]).collect();
    let metas: Vec<Option<Metadata>> = (0..6)
        .map(|i| {
            let mut m = Metadata::new();
            m.insert(
                "scope".into(),
                MetadataValue::Str(if i < 3 { "a" } else { "b" }.into()),
            );
            m.insert("seen".into(), MetadataValue::Int(0));
            Some(m)
        })
        .collect();
    c.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(&emb, 2),
        metadatas: Some(&metas),
        ..AddBatch::default()
    })
    .unwrap();
    let query = |w: Value| {
        let mut ids = c
            .query_where(
                QueryRequest {
                    embeddings: &[0.0, 0.0],
                    dim: 2,
                    n_results: 10,
                    ids: None,
                    include: Include::default(),
                },
                Some(&w),
                None,
            )
            .unwrap()
            .remove(0)
            .ids;
        ids.sort();
        ids
    };
    let patch = |id: &str, key: &str, v: MetadataValue| {
        let mut p = MetadataPatch::new();
        p.insert(key.to_owned(), Some(v));
        c.update(UpdateBatch {
            ids: &[id.to_owned()],
            metadatas: Some(&[Some(p)]),
            ..UpdateBatch::default()
        })
        .unwrap();
    };
    assert_eq!(query(json!({"scope": "a"})), ["r0", "r1", "r2"]);
    assert_eq!(query(json!({"seen": 1})), Vec::<String>::new());
    patch("r1", "seen", MetadataValue::Int(1));
    assert_eq!(query(json!({"scope": "a"})), ["r0", "r1", "r2"]);
    assert_eq!(
        query(json!({"seen": 1})),
        ["r1"],
        "a filter on the patched key"
    );
    patch("r2", "scope", MetadataValue::Str("b".into()));
    assert_eq!(query(json!({"scope": "a"})), ["r0", "r1"]);
    c.delete(&["r0".to_owned()]).unwrap();
    assert_eq!(query(json!({"scope": "a"})), ["r1"]);
    assert_eq!(query(json!({"seen": 1})), ["r1"]);
}

/// The in-memory filter index follows every write: this handle's own writes patch it (it is
/// not read again from the sidecar), and another handle's writes on the same directory (its
/// own process state, as another process has) and its compaction are seen by the next read
/// at once, which reads the index afresh.
#[test]
fn the_filter_index_follows_writes_here_and_in_another_handle() {
    let dir = tempfile::tempdir().unwrap();
    let db1 = Database::open(dir.path()).unwrap();
    let c1 = small(&db1);
    let db2 = Database::open(dir.path()).unwrap();
    let c2 = db2.get_collection("small").unwrap();
    let source = |s: &str| json!({"source": s});
    let docs = |t: &str| json!({"$contains": t});
    let ids = |c: &Collection, w: Option<&Value>, d: Option<&Value>| {
        get_ids(c, w, d, None, None, 0).unwrap()
    };
    assert_eq!(ids(&c1, Some(&source("s1")), None), ["r1", "r4", "r7"]);
    assert_eq!(ids(&c1, None, Some(&docs("ment 1"))), ["r1"]);
    let (loads, bytes) = mnemodb::testing::filter_index_figures(&c1);
    assert_eq!(loads, 2, "metadata, then documents, read once each");
    assert!(bytes > 0);

    // Writes here: added, updated in place and moved, deleted.
    let patch = |k: &str, v: Option<MetadataValue>| {
        let mut p = MetadataPatch::new();
        p.insert(k.to_owned(), v);
        Some(p)
    };
    c1.add(AddBatch {
        ids: &["r10".to_owned()],
        embeddings: Vectors::new(&[10.0, 0.0], 2),
        metadatas: Some(&[Some(BTreeMap::from([(
            "source".to_string(),
            MetadataValue::from("s1"),
        )]))]),
        documents: Some(&[Some("document 10".to_owned())]),
        ..AddBatch::default()
    })
    .unwrap();
    c1.update(UpdateBatch {
        ids: &["r4".to_owned(), "r2".to_owned()],
        metadatas: Some(&[patch("source", None), patch("source", Some("s1".into()))]),
        documents: Some(&[Some("moved 4".to_owned()), None]),
        ..UpdateBatch::default()
    })
    .unwrap();
    c1.upsert(UpdateBatch {
        ids: &["r7".to_owned()],
        embeddings: Some(Vectors::new(&[7.5, 0.0], 2)),
        documents: Some(&[Some("document 1 again".to_owned())]),
        ..UpdateBatch::default()
    })
    .unwrap();
    c1.delete(&["r1".to_owned()]).unwrap();
    assert_eq!(ids(&c1, Some(&source("s1")), None), ["r2", "r7", "r10"]);
    assert_eq!(
        ids(&c1, Some(&json!({"source": {"$ne": "s1"}})), None),
        ["r0", "r3", "r4", "r5", "r6", "r8", "r9"]
    );
    assert_eq!(ids(&c1, None, Some(&docs("ment 1"))), ["r7", "r10"]);
    assert_eq!(ids(&c1, None, Some(&docs("moved"))), ["r4"]);
    assert_eq!(
        mnemodb::testing::filter_index_figures(&c1).0,
        2,
        "this handle's writes patched the index"
    );

    // Writes by the other handle are seen at once.
    c2.delete(&["r2".to_owned()]).unwrap();
    let mut moved_and_cleared = patch("source", Some("s1".into()));
    if let Some(p) = moved_and_cleared.as_mut() {
        p.insert("n".to_owned(), None);
    }
    c2.update(UpdateBatch {
        ids: &["r0".to_owned()],
        metadatas: Some(&[moved_and_cleared]),
        documents: Some(&[Some("document 100".to_owned())]),
        ..UpdateBatch::default()
    })
    .unwrap();
    assert_eq!(ids(&c1, Some(&source("s1")), None), ["r0", "r7", "r10"]);
    assert_eq!(ids(&c1, None, Some(&docs("ment 10"))), ["r0", "r10"]);
    assert_eq!(c1.count_where(Some(&source("s1")), None).unwrap(), 3);
    assert_eq!(
        ids(&c1, Some(&json!({"n": {"$lt": 1}})), None),
        Vec::<String>::new()
    );
    assert_eq!(
        mnemodb::testing::filter_index_figures(&c1).0,
        2,
        "caught up with the records the other handle wrote, not read afresh"
    );

    // The other handle's compaction renumbers the slots.
    c2.compact_blocking().unwrap();
    assert_eq!(ids(&c1, Some(&source("s1")), None), ["r0", "r7", "r10"]);
    assert_eq!(ids(&c1, None, Some(&docs("ment 10"))), ["r0", "r10"]);
    let hits = c1
        .query_where(
            QueryRequest {
                embeddings: &[10.0, 0.0],
                dim: 2,
                n_results: 2,
                ids: None,
                include: Include::default(),
            },
            Some(&source("s1")),
            None,
        )
        .unwrap();
    assert_eq!(hits[0].ids, ["r10", "r7"]);
    assert!(mnemodb::testing::filter_index_figures(&c1).0 > 2);
}
