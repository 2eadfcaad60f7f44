//! Parity with the real chromadb 1.5.9: replays the scenarios captured from the package itself.
//!
//! `tests/chroma_semantics/capture.py` (see its header for the exact command) ran every
//! scenario on a fresh `chromadb.EphemeralClient()` collection and wrote each operation's
//! outcome to `engine/tests/data/chroma_semantics.json`. Here every scenario is replayed on
//! the engine, in memory and on disk (and the on-disk end state is checked again after a
//! reopen), and every outcome must match chromadb's:
//!
//! * results: same ids in the same order, same documents, metadata (with `1` and `1.0`
//!   distinct), uris and embeddings (bit for bit: both store float32), same counts, and
//!   distances within [`DIST_REL`] / [`DIST_ABS`] (see there why);
//! * errors: [`ErrorKind`] of chromadb's exception class (see [`expected_kind`]); when the
//!   message came from chromadb's Rust backend (not its Python checks) the engine's message
//!   must start with chromadb's text, verbatim (it may go on to name what to fix).
//!
//! Known, deliberate differences, each checked explicitly rather than skipped:
//!
//! 1. `delete`: chromadb returns the number of ids *requested*, missing ones included; the
//!    engine returns the number actually deleted (the Python layer reproduces the quirk). So
//!    the test checks that chromadb's number is the number requested, that the engine's is the
//!    number of requested ids that existed (the capture asked chromadb, `existing`), and the
//!    resulting state through the following operations.
//! 2. Ties at the cut-off: when `n_results` cuts through a group of records at equal distance,
//!    chromadb returns a random subset of the group (30 runs of one query gave 29 different
//!    subsets; the capture records the whole group as `tie_cut`). There the engine's ids must be
//!    distinct members of the group in insertion order, and fields other than ids and distances
//!    are compared only before the group. Everywhere else ties are exact: chromadb returns
//!    equal distances in insertion order, and so must the engine.
//! 3. Integers outside `i64` in metadata: chromadb stores them as floats; the engine's
//!    [`MetadataValue`] cannot hold them, so the replay passes them as `Float` as the Python
//!    layer does, and the stored values are compared.
//! 4. Embeddings of `cosine` collections: chromadb keeps them normalized (hnswlib) and scales
//!    them back on read, so it returns them up to 1 ulp off the float32 given (measured on the
//!    captured data); the engine returns them as given. For `cosine` they are compared within
//!    [`COSINE_EMBEDDING_ULPS`], bit for bit everywhere else.
//! 5. `add` and `upsert` without embeddings: chromadb's Python client turns to its embedding
//!    function (Python's business: the engine has none) and fails there; the engine refuses
//!    the empty vectors with chromadb's own check. Same class; the messages differ.
//!
//! Messages of chromadb's client-side checks (Python `ValueError`, `TypeError`,
//! `DuplicateIDError`, ending in " in <op>.") are the engine's too, and compared whole.
//! Whatever the engine's API cannot express (wrong Python types, ...) is not a scenario at
//! all; the capture script lists those cases.

use std::collections::BTreeMap;

use mnemodb::{
    AddBatch, Collection, Database, Error, ErrorKind, GetRequest, GetResult, Include, Metadata,
    MetadataPatch, MetadataValue, Op, QueryHits, QueryRequest, Space, UpdateBatch, Vectors,
};
use serde_json::Value;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/chroma_semantics.json"
);

/// Relative tolerance on distances.
///
/// Both sides compute distances in float32, in different orders: hnswlib sums in SIMD lanes
/// and, for cosine, normalizes both vectors first and returns `1 - dot`; the engine has its own
/// kernels. Each result is within about `(dim + 1) * 2^-24 * sum|terms|` of the exact value.
/// For `l2` every term is non-negative, so that error is relative: ~5e-7 for the 8-dimensional
/// data here, and 1e-5 leaves a wide margin (it also covers large `l2` values such as 1.5e10).
const DIST_REL: f64 = 1e-5;

/// Absolute tolerance on distances: `ip` and `cosine` cancel (`1 - dot`), so near zero the
/// error is absolute, bounded by `9 * 2^-24 * sum|a_i b_i|` ~ 1e-6 for the unit vectors of
/// cosine and the [-1, 1] components here (observed differences are ~1e-7).
const DIST_ABS: f64 = 1e-6;

/// How far (in units in the last place) an embedding read back from a `cosine` collection
/// may be from chromadb's: its normalize-and-rescale round trip is off by at most 1 ulp.
const COSINE_EMBEDDING_ULPS: u32 = 2;

#[test]
fn engine_matches_chromadb_1_5_9() {
    let text = std::fs::read_to_string(DATA).expect("read chroma_semantics.json");
    let doc: Value = serde_json::from_str(&text).expect("parse chroma_semantics.json");
    assert_eq!(
        doc["chromadb_version"], "1.5.9",
        "captured from another chromadb"
    );
    let scenarios = doc["scenarios"].as_array().expect("scenarios");
    assert!(scenarios.len() >= 40, "only {} scenarios", scenarios.len());

    let mut mismatches = Mismatches::default();
    for sc in scenarios {
        let name = sc["name"].as_str().expect("scenario name");
        let space: Space = sc["space"].as_str().expect("space").parse().expect("space");
        let ops = sc["ops"].as_array().expect("ops");
        assert!(
            ops.iter().any(|o| o["final"] == true),
            "{name}: no final state"
        );

        let db = Database::in_memory().unwrap();
        let c = db.create_collection("parity", space, None).unwrap();
        replay(&c, name, space, ops, "memory", false, &mut mismatches);

        let dir = tempfile::tempdir().unwrap();
        {
            let db = Database::open(dir.path()).unwrap();
            let c = db.create_collection("parity", space, None).unwrap();
            replay(&c, name, space, ops, "disk", false, &mut mismatches);
        }
        let db = Database::open(dir.path()).unwrap();
        let c = db.get_collection("parity").unwrap();
        replay(
            &c,
            name,
            space,
            ops,
            "disk, reopened",
            true,
            &mut mismatches,
        );
    }
    assert!(
        mismatches.0.is_empty(),
        "the engine differs from chromadb 1.5.9 in {} places:\n\n{}",
        mismatches.0.len(),
        mismatches.render()
    );
}

/// Mismatches, keyed by where and what, with the backends they showed up on.
#[derive(Debug, Default)]
struct Mismatches(BTreeMap<(String, usize, String), Vec<&'static str>>);

impl Mismatches {
    fn push(&mut self, scenario: &str, index: usize, what: String, backend: &'static str) {
        self.0
            .entry((scenario.to_owned(), index, what))
            .or_default()
            .push(backend);
    }

    fn render(&self) -> String {
        self.0
            .iter()
            .map(|((sc, i, what), backends)| {
                format!("- {sc} op #{i} [{}]: {what}", backends.join(", "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Runs `ops` (only the final-state ones if `final_only`) and records every difference.
fn replay(
    c: &Collection,
    scenario: &str,
    space: Space,
    ops: &[Value],
    backend: &'static str,
    final_only: bool,
    out: &mut Mismatches,
) {
    for (i, op) in ops.iter().enumerate() {
        if final_only && op["final"] != true {
            continue;
        }
        let got = run(c, op);
        for problem in compare(op, space, got) {
            let args = serde_json::to_string(&op["args"]).unwrap();
            let args: String = args.chars().take(160).collect();
            out.push(
                scenario,
                i,
                format!("{} {args}: {problem}", op["op"].as_str().unwrap()),
                backend,
            );
        }
    }
}

// --- running an operation on the engine ------------------------------------------------------

/// What an engine call returned.
#[derive(Debug)]
enum Got {
    Unit,
    Get(GetResult),
    Query(Vec<QueryHits>),
    Count(u64),
    Deleted(u64),
}

fn run(c: &Collection, op: &Value) -> mnemodb::Result<Got> {
    let a = &op["args"];
    match op["op"].as_str().unwrap() {
        "add" => {
            let ids = strings(&a["ids"]);
            let (emb, dim) = rows(&a["embeddings"])?;
            let documents = opt_strings(&a["documents"]);
            let uris = opt_strings(&a["uris"]);
            let metadatas = a
                .get("metadatas")
                .map(|m| list(m).iter().map(metadata).collect::<Vec<_>>());
            c.add(AddBatch {
                ids: &ids,
                embeddings: Vectors::new(&emb, dim),
                documents: documents.as_deref(),
                uris: uris.as_deref(),
                metadatas: metadatas.as_deref(),
            })
            .map(|()| Got::Unit)
        }
        kind @ ("update" | "upsert") => {
            let ids = strings(&a["ids"]);
            let emb = a.get("embeddings").map(rows).transpose()?;
            let documents = opt_strings(&a["documents"]);
            let uris = opt_strings(&a["uris"]);
            let metadatas = a
                .get("metadatas")
                .map(|m| list(m).iter().map(patch).collect::<Vec<_>>());
            let batch = UpdateBatch {
                ids: &ids,
                embeddings: emb.as_ref().map(|(e, dim)| Vectors::new(e, *dim)),
                documents: documents.as_deref(),
                uris: uris.as_deref(),
                metadatas: metadatas.as_deref(),
            };
            if kind == "update" {
                c.update(batch)
            } else {
                c.upsert(batch)
            }
            .map(|()| Got::Unit)
        }
        "delete" => c.delete(&strings(&a["ids"])).map(Got::Deleted),
        "count" => c.count().map(Got::Count),
        "get" => {
            let ids = a.get("ids").map(strings);
            c.get(GetRequest {
                ids: ids.as_deref(),
                limit: a.get("limit").map(|l| l.as_u64().unwrap() as usize),
                offset: a.get("offset").map_or(0, |o| o.as_u64().unwrap() as usize),
                include: include(a.get("include"), Include::get_default()),
                where_: a.get("where"),
                where_document: a.get("where_document"),
            })
            .map(Got::Get)
        }
        "query" => {
            let (emb, dim) = rows(&a["query_embeddings"])?;
            let ids = a.get("ids").map(strings);
            c.query(QueryRequest {
                embeddings: &emb,
                dim,
                n_results: a["n_results"].as_u64().unwrap() as usize,
                ids: ids.as_deref(),
                include: include(a.get("include"), Include::query_default()),
            })
            .map(Got::Query)
        }
        other => panic!("unknown op {other}"),
    }
}

fn list(v: &Value) -> &Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {v}"))
}

fn strings(v: &Value) -> Vec<String> {
    list(v)
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn opt_strings(v: &Value) -> Option<Vec<Option<String>>> {
    if v.is_null() {
        return None;
    }
    Some(
        list(v)
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect(),
    )
}

/// A float as the capture writes it: a number, or "NaN" / "Infinity" / "-Infinity".
fn float(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "NaN" => f64::NAN,
        Value::String(s) if s == "Infinity" => f64::INFINITY,
        Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
        other => panic!("not a float: {other}"),
    }
}

/// Rows of floats flattened (as float32, what chromadb stores) and their common dimension,
/// checked as the Python and HTTP layers check rows they flatten. A missing field is the
/// empty buffer.
fn rows(v: &Value) -> mnemodb::Result<(Vec<f32>, usize)> {
    if v.is_null() {
        return Ok((Vec::new(), 0));
    }
    let rows = list(v);
    let dim = mnemodb::request::embedding_rows(rows.iter().map(|r| list(r).len()), Op::Add)?;
    let flat = rows
        .iter()
        .flat_map(|r| list(r).iter().map(|x| float(x) as f32))
        .collect();
    Ok((flat, dim))
}

fn include(v: Option<&Value>, default: Include) -> Include {
    let Some(v) = v else { return default };
    let mut inc = Include::default();
    for name in list(v) {
        match name.as_str().unwrap() {
            "embeddings" => inc.embeddings = true,
            "documents" => inc.documents = true,
            "metadatas" => inc.metadatas = true,
            "uris" => inc.uris = true,
            "distances" => inc.distances = true,
            other => panic!("not expressible: include {other}"),
        }
    }
    inc
}

/// A metadata value as chromadb stores it: JSON keeps `1` and `1.0` apart, integers beyond
/// `i64` become floats (difference 3 in the module docs).
fn value(v: &Value) -> MetadataValue {
    match v {
        Value::Bool(b) => MetadataValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => MetadataValue::Int(i),
            None => MetadataValue::Float(n.as_f64().unwrap()),
        },
        Value::String(s) => MetadataValue::Str(s.clone()),
        Value::Array(items) => {
            if items.iter().all(Value::is_boolean) && !items.is_empty() {
                MetadataValue::BoolList(items.iter().map(|x| x.as_bool().unwrap()).collect())
            } else if items.iter().all(Value::is_i64) && !items.is_empty() {
                MetadataValue::IntList(items.iter().map(|x| x.as_i64().unwrap()).collect())
            } else if items.iter().all(Value::is_number) && !items.is_empty() {
                MetadataValue::FloatList(items.iter().map(|x| x.as_f64().unwrap()).collect())
            } else {
                MetadataValue::StrList(
                    items
                        .iter()
                        .map(|x| x.as_str().unwrap().to_owned())
                        .collect(),
                )
            }
        }
        other => panic!("not expressible: metadata value {other}"),
    }
}

fn metadata(v: &Value) -> Option<Metadata> {
    let m = v.as_object()?;
    Some(m.iter().map(|(k, v)| (k.clone(), value(v))).collect())
}

fn patch(v: &Value) -> Option<MetadataPatch> {
    let m = v.as_object()?;
    Some(
        m.iter()
            .map(|(k, v)| (k.clone(), (!v.is_null()).then(|| value(v))))
            .collect(),
    )
}

// --- comparing outcomes ----------------------------------------------------------------------

/// The chromadb exception class an engine error must map to.
fn expected_kind(class: &str) -> ErrorKind {
    match class {
        "InvalidArgumentError" => ErrorKind::InvalidArgument,
        "ValueError" => ErrorKind::ValueError,
        "TypeError" => ErrorKind::TypeError,
        "DuplicateIDError" => ErrorKind::DuplicateId,
        "NotFoundError" => ErrorKind::NotFound,
        "UniqueConstraintError" => ErrorKind::AlreadyExists,
        "InternalError" => ErrorKind::Internal,
        other => panic!("no ErrorKind for chromadb's {other}"),
    }
}

/// Every difference between chromadb's recorded outcome of `op` and the engine's.
fn compare(op: &Value, space: Space, got: mnemodb::Result<Got>) -> Vec<String> {
    let outcome = &op["outcome"];
    if let Some(err) = outcome.get("error") {
        let class = err["class"].as_str().unwrap();
        let message = err["message"].as_str().unwrap();
        let chroma = format!("chromadb raised {class}({message:?})");
        return match got {
            Ok(g) => vec![format!("{chroma}; the engine succeeded: {}", brief(&g))],
            Err(e) => {
                // Difference 5: chromadb failed in its embedding function.
                let embeds = matches!(op["op"].as_str(), Some("add" | "upsert"))
                    && op["args"].get("embeddings").is_none();
                let rule = match err["origin"].as_str() {
                    _ if embeds => Message::Skip,
                    Some("client") => Message::Same,
                    _ => Message::Extends,
                };
                error_problems(&chroma, class, message, rule, &e)
            }
        };
    }
    let ok = &outcome["ok"];
    let got = match got {
        Ok(g) => g,
        Err(e) => {
            let chroma: String = ok.to_string().chars().take(200).collect();
            return vec![format!(
                "chromadb succeeded ({chroma}); the engine failed: {:?} {e:?}: {e}",
                e.kind()
            )];
        }
    };
    match (op["op"].as_str().unwrap(), got) {
        ("add" | "update" | "upsert", Got::Unit) => Vec::new(),
        ("count", Got::Count(n)) => {
            let want = ok["count"].as_u64().unwrap();
            if n == want {
                Vec::new()
            } else {
                vec![format!("count: chromadb {want}, engine {n}")]
            }
        }
        ("delete", Got::Deleted(n)) => {
            // Difference 1: chromadb counts the ids requested, the engine those deleted.
            let mut problems = Vec::new();
            let requested = list(&op["args"]["ids"]).len() as u64;
            let reported = ok["deleted"].as_u64().unwrap();
            assert_eq!(reported, requested, "chromadb's delete quirk changed: {op}");
            let existing = op["existing"]
                .as_u64()
                .expect("capture recorded `existing`");
            if n != existing {
                problems.push(format!(
                    "deleted: {existing} of the ids existed, the engine says {n}"
                ));
            }
            problems
        }
        ("get", Got::Get(g)) => compare_rows(&chroma_get(ok), &engine_get(g), None, space),
        ("query", Got::Query(hits)) => {
            let want = list(&ok["ids"]).len();
            if hits.len() != want {
                return vec![format!(
                    "{want} result lists from chromadb, {} from the engine",
                    hits.len()
                )];
            }
            let mut problems = Vec::new();
            for (q, h) in hits.into_iter().enumerate() {
                let cut = op.get("tie_cut").map(|c| &c[q]).filter(|c| !c.is_null());
                for p in compare_rows(&chroma_query(ok, q), &engine_hits(h), cut, space) {
                    problems.push(format!("query vector {q}: {p}"));
                }
            }
            problems
        }
        (kind, g) => vec![format!("{kind} returned {g:?}")],
    }
}

/// How the engine's message must relate to chromadb's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message {
    /// The same text (chromadb's client-side checks, " in <op>." included).
    Same,
    /// chromadb's text, possibly followed by what to fix (its backend's checks).
    Extends,
    /// Not compared (difference 5).
    Skip,
}

fn error_problems(
    chroma: &str,
    class: &str,
    message: &str,
    rule: Message,
    e: &Error,
) -> Vec<String> {
    let mut problems = Vec::new();
    let want = expected_kind(class);
    if e.kind() != want {
        problems.push(format!(
            "{chroma}; the engine's error is {:?}, not {want:?}: {e}",
            e.kind()
        ));
    }
    // The engine keeps chromadb's text verbatim and may append what to fix (the offending
    // key, record or id) to the messages of chromadb's backend.
    let ours = e.to_string();
    let differs = match rule {
        Message::Same => ours != message,
        Message::Extends => !ours.starts_with(message),
        Message::Skip => false,
    };
    if differs {
        problems.push(format!(
            "{chroma}; the engine's message differs: {:?}",
            e.to_string()
        ));
    }
    problems
}

fn brief(g: &Got) -> String {
    match g {
        Got::Unit => "no result".into(),
        Got::Get(r) => format!("get ids {:?}", r.ids),
        Got::Query(h) => format!(
            "query ids {:?}",
            h.iter().map(|h| &h.ids).collect::<Vec<_>>()
        ),
        Got::Count(n) => format!("count {n}"),
        Got::Deleted(n) => format!("deleted {n}"),
    }
}

/// One list of records, from either side, in one shape.
#[derive(Debug, Clone, PartialEq)]
struct Rows {
    ids: Vec<String>,
    embeddings: Option<Vec<Vec<f32>>>,
    documents: Option<Vec<Option<String>>>,
    metadatas: Option<Vec<Option<Metadata>>>,
    uris: Option<Vec<Option<String>>>,
    /// chromadb's distances are float32 printed as f64; the engine's are f32.
    distances: Option<Vec<f64>>,
}

fn chroma_rows(
    ids: &Value,
    emb: &Value,
    docs: &Value,
    metas: &Value,
    uris: &Value,
    dist: &Value,
) -> Rows {
    let embeddings = (!emb.is_null()).then(|| {
        list(emb)
            .iter()
            .map(|r| list(r).iter().map(|x| float(x) as f32).collect())
            .collect()
    });
    Rows {
        ids: strings(ids),
        embeddings,
        documents: opt_strings(docs),
        metadatas: (!metas.is_null()).then(|| list(metas).iter().map(metadata).collect()),
        uris: opt_strings(uris),
        distances: (!dist.is_null()).then(|| list(dist).iter().map(float).collect()),
    }
}

fn chroma_get(ok: &Value) -> Rows {
    chroma_rows(
        &ok["ids"],
        &ok["embeddings"],
        &ok["documents"],
        &ok["metadatas"],
        &ok["uris"],
        &Value::Null,
    )
}

/// Row `q` of a query result (each field is one list per query vector, or null).
fn chroma_query(ok: &Value, q: usize) -> Rows {
    let at = |field: &str| {
        if ok[field].is_null() {
            Value::Null
        } else {
            ok[field][q].clone()
        }
    };
    chroma_rows(
        &at("ids"),
        &at("embeddings"),
        &at("documents"),
        &at("metadatas"),
        &at("uris"),
        &at("distances"),
    )
}

fn engine_get(g: GetResult) -> Rows {
    Rows {
        ids: g.ids,
        embeddings: g
            .embeddings
            .map(|e| e.rows().map(<[f32]>::to_vec).collect()),
        documents: g.documents,
        metadatas: g.metadatas,
        uris: g.uris,
        distances: None,
    }
}

fn engine_hits(h: QueryHits) -> Rows {
    Rows {
        ids: h.ids,
        embeddings: h
            .embeddings
            .map(|e| e.rows().map(<[f32]>::to_vec).collect()),
        documents: h.documents,
        metadatas: h.metadatas,
        uris: h.uris,
        distances: h.distances.map(|d| d.into_iter().map(f64::from).collect()),
    }
}

/// Units in the last place between two finite float32 of the same sign (`u32::MAX` if the
/// signs differ, unless both are zero).
fn ulps(a: f32, b: f32) -> u32 {
    if a == b {
        return 0;
    }
    if a.is_sign_negative() != b.is_sign_negative() {
        return u32::MAX;
    }
    a.to_bits().abs_diff(b.to_bits())
}

fn close(chroma: f64, engine: f64) -> bool {
    if chroma.is_nan() || chroma.is_infinite() {
        return chroma.is_nan() && engine.is_nan() || chroma == engine;
    }
    (chroma - engine).abs() <= DIST_REL * chroma.abs().max(engine.abs()) + DIST_ABS
}

/// Differences between chromadb's records and the engine's; `cut` is chromadb's tie group at
/// the `n_results` cut-off, if any (difference 2).
fn compare_rows(want: &Rows, got: &Rows, cut: Option<&Value>, space: Space) -> Vec<String> {
    let mut problems = Vec::new();
    let n = want.ids.len();
    let mut head = n;
    match cut {
        None if got.ids != want.ids => {
            problems.push(format!(
                "ids: chromadb {:?}, engine {:?}",
                want.ids, got.ids
            ));
        }
        None => {}
        Some(cut) => {
            let group = strings(&cut["ids"]);
            head = want.ids.iter().take_while(|id| !group.contains(id)).count();
            let tail = &got.ids[head.min(got.ids.len())..];
            let positions: Vec<Option<usize>> = tail
                .iter()
                .map(|id| group.iter().position(|g| g == id))
                .collect();
            let in_order = positions
                .windows(2)
                .all(|w| matches!(w, [Some(a), Some(b)] if a < b));
            if got.ids.len() != n
                || got.ids[..head] != want.ids[..head]
                || positions.iter().any(Option::is_none)
                || !in_order
            {
                problems.push(format!(
                    "ids: chromadb {:?} (the last {} are any of the tied {group:?}, in that order), \
                     engine {:?}",
                    want.ids,
                    n - head,
                    got.ids
                ));
            }
        }
    }
    match (&want.distances, &got.distances) {
        (Some(w), Some(g))
            if w.len() != g.len() || w.iter().zip(g).any(|(a, b)| !close(*a, *b)) =>
        {
            problems.push(format!("distances: chromadb {w:?}, engine {g:?}"));
        }
        (Some(_), Some(_)) | (None, None) => {}
        (w, g) => problems.push(format!("distances: chromadb {w:?}, engine {g:?}")),
    }
    fn first<T: Clone>(v: &Option<Vec<T>>, k: usize) -> Option<Vec<T>> {
        v.as_ref().map(|v| v[..k.min(v.len())].to_vec())
    }
    let k = if cut.is_some() { head } else { usize::MAX };
    let same_vectors = match (first(&want.embeddings, k), first(&got.embeddings, k)) {
        (Some(w), Some(g)) if space == Space::Cosine => {
            w.len() == g.len()
                && w.iter().zip(&g).all(|(a, b)| {
                    a.len() == b.len()
                        && a.iter()
                            .zip(b)
                            .all(|(x, y)| ulps(*x, *y) <= COSINE_EMBEDDING_ULPS)
                })
        }
        (w, g) => w == g,
    };
    if !same_vectors {
        problems.push(format!(
            "embeddings: chromadb {:?}, engine {:?}",
            want.embeddings, got.embeddings
        ));
    }
    if first(&want.documents, k) != first(&got.documents, k) {
        problems.push(format!(
            "documents: chromadb {:?}, engine {:?}",
            want.documents, got.documents
        ));
    }
    if first(&want.metadatas, k) != first(&got.metadatas, k) {
        problems.push(format!(
            "metadatas: chromadb {:?}, engine {:?}",
            want.metadatas, got.metadatas
        ));
    }
    if first(&want.uris, k) != first(&got.uris, k) {
        problems.push(format!(
            "uris: chromadb {:?}, engine {:?}",
            want.uris, got.uris
        ));
    }
    problems
}
