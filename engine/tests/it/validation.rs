//! The engine is the one validator: the bad requests of `chroma_validation.json` (captured
//! from chromadb 1.5.9 by `tests/chroma_semantics/capture_validation.py`) through the Rust API.
//!
//! Every case must fail with the [`ErrorKind`] of chromadb's exception class and chromadb's
//! message, whole (" in <op>." included), or, for the few cases marked `ours`, with the
//! engine's longer message, which starts with chromadb's. Values the typed API cannot hold
//! (JSON metadata, `include` names, a negative `n_results`, rows of vectors) go through
//! [`mnemodb::request`], as the Python and HTTP layers send them. `tests/test_one_validator.py`
//! sends the same cases through the Python package, its native module and `mnemodb serve`, and
//! requires the same class and message there.

use mnemodb::request::CollectionCall;
use mnemodb::{
    AddBatch, Collection, Database, ErrorKind, GetRequest, Include, Op, QueryRequest, Space,
    UpdateBatch, Vectors, request,
};
use serde_json::Value;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/chroma_validation.json"
);

/// The engine's kind for chromadb's exception class.
fn kind(class: &str) -> ErrorKind {
    match class {
        "InvalidArgumentError" => ErrorKind::InvalidArgument,
        "ValueError" => ErrorKind::ValueError,
        "TypeError" => ErrorKind::TypeError,
        "DuplicateIDError" => ErrorKind::DuplicateId,
        "InternalError" => ErrorKind::Internal,
        other => panic!("no ErrorKind for chromadb's {other}"),
    }
}

#[test]
fn bad_requests_are_refused_as_chromadb_refuses_them() {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(DATA).unwrap()).unwrap();
    assert_eq!(
        doc["chromadb_version"], "1.5.9",
        "captured from another chromadb"
    );
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 15, "only {} cases", cases.len());
    let db = Database::in_memory().unwrap();
    let c = db.create_collection("validation", Space::L2, None).unwrap();
    run(&c, "add", &doc["setup"]).unwrap();
    let before = everything(&c);

    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let chroma = case["error"]["message"].as_str().unwrap();
        let want = match case.get("ours").and_then(Value::as_str) {
            Some(ours) => {
                assert!(
                    ours.starts_with(chroma),
                    "{name}: `ours` must extend chromadb's text"
                );
                ours
            }
            None => chroma,
        };
        let want_kind = kind(case["error"]["class"].as_str().unwrap());
        let got = run(&c, case["op"].as_str().unwrap(), &case["args"]);
        failures.extend(differs(name, got, want_kind, want, chroma));
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        everything(&c),
        before,
        "a refused call changed the collection"
    );
}

/// The bad collection metadata of `collection_cases`, through
/// [`request::collection_metadata`] and the typed calls, as Python and HTTP send them: each
/// refused with chromadb's class and message, leaving the catalog as it was.
#[test]
fn bad_collection_metadata_is_refused_as_chromadb_refuses_it() {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(DATA).unwrap()).unwrap();
    let cases = doc["collection_cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let db = Database::in_memory().unwrap();
    let setup =
        request::collection_metadata(doc["collection_setup"].clone(), CollectionCall::Create)
            .unwrap();
    let base = db
        .create_collection("collection-metadata", Space::L2, setup.as_ref())
        .unwrap();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let want = case["error"]["message"].as_str().unwrap();
        let want_kind = kind(case["error"]["class"].as_str().unwrap());
        let op = case["op"].as_str().unwrap();
        let new_name = format!("collection-metadata-{i}");
        let call = if op == "modify" {
            CollectionCall::Modify
        } else {
            CollectionCall::Create
        };
        let got =
            request::collection_metadata(case["metadata"].clone(), call).and_then(|m| match op {
                "create" => db
                    .create_collection(&new_name, Space::L2, m.as_ref())
                    .map(drop),
                "get_or_create" => db
                    .get_or_create_collection(&new_name, Space::L2, m.as_ref())
                    .map(drop),
                "modify" => base.modify(None, m.as_ref().map(Some)),
                other => panic!("{name}: unknown op {other}"),
            });
        failures.extend(differs(name, got, want_kind, want, want));
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let names: Vec<String> = db
        .list_collections()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        names,
        ["collection-metadata"],
        "a refused create made a collection"
    );
    assert_eq!(
        base.info().unwrap().metadata,
        setup,
        "a refused modify changed the metadata"
    );
}

/// On `modify`, a `null` value drops its key, as chromadb drops it (the rest replaces the
/// metadata).
#[test]
fn modify_drops_null_metadata_values() {
    let db = Database::in_memory().unwrap();
    let m = |v: Value| request::collection_metadata(v, CollectionCall::Create).unwrap();
    let c = db
        .create_collection(
            "nulls",
            Space::L2,
            m(serde_json::json!({"k": 1, "m": 2})).as_ref(),
        )
        .unwrap();
    let patch = request::collection_metadata(
        serde_json::json!({"m": null, "z": 1}),
        CollectionCall::Modify,
    )
    .unwrap();
    c.modify(None, patch.as_ref().map(Some)).unwrap();
    assert_eq!(c.info().unwrap().metadata, m(serde_json::json!({"z": 1})));
}

/// Every record with every field, to see that refused calls changed nothing.
fn everything(c: &Collection) -> mnemodb::GetResult {
    c.get(GetRequest {
        include: Include::all_get(),
        ..GetRequest::default()
    })
    .unwrap()
}

/// Runs one operation of the capture on the engine.
fn run(c: &Collection, op: &str, a: &Value) -> mnemodb::Result<()> {
    let ids = a.get("ids").map(strings);
    let (w, d) = (a.get("where"), a.get("where_document"));
    match op {
        "add" => {
            let (data, dim) = rows(&a["embeddings"], Op::Add)?;
            let metadatas = a
                .get("metadatas")
                .map(|m| request::metadatas(list(m), Op::Add))
                .transpose()?;
            let (documents, uris) = (opt_strings(a, "documents"), opt_strings(a, "uris"));
            c.add(AddBatch {
                ids: ids.as_deref().unwrap_or_default(),
                embeddings: Vectors::new(&data, dim),
                documents: documents.as_deref(),
                uris: uris.as_deref(),
                metadatas: metadatas.as_deref(),
            })
        }
        "update" | "upsert" => {
            let op = if op == "update" {
                Op::Update
            } else {
                Op::Upsert
            };
            let vectors = a.get("embeddings").map(|e| rows(e, op)).transpose()?;
            let metadatas = a
                .get("metadatas")
                .map(|m| request::metadata_patches(list(m), op))
                .transpose()?;
            let (documents, uris) = (opt_strings(a, "documents"), opt_strings(a, "uris"));
            let batch = UpdateBatch {
                ids: ids.as_deref().unwrap_or_default(),
                embeddings: vectors.as_ref().map(|(data, dim)| Vectors::new(data, *dim)),
                documents: documents.as_deref(),
                uris: uris.as_deref(),
                metadatas: metadatas.as_deref(),
            };
            if op == Op::Update {
                c.update(batch)
            } else {
                c.upsert(batch)
            }
        }
        "get" => {
            let include = a
                .get("include")
                .map(|i| request::include(i, Op::Get))
                .transpose()?
                .unwrap_or_else(Include::get_default);
            c.get(GetRequest {
                ids: ids.as_deref(),
                include,
                where_: w,
                where_document: d,
                ..GetRequest::default()
            })
            .map(drop)
        }
        "query" => {
            let (data, dim) = rows(&a["query_embeddings"], Op::Query)?;
            // A count the typed request holds goes in as is; others (negative) are converted.
            let n_results = match a.get("n_results") {
                None => 10,
                Some(n) => match n.as_u64() {
                    Some(n) => n as usize,
                    None => request::n_results(n)?,
                },
            };
            let include = a
                .get("include")
                .map(|i| request::include(i, Op::Query))
                .transpose()?
                .unwrap_or_else(Include::query_default);
            c.query_where(
                QueryRequest {
                    embeddings: &data,
                    dim,
                    n_results,
                    ids: ids.as_deref(),
                    include,
                },
                w,
                d,
            )
            .map(drop)
        }
        "delete" => {
            let limit = match a.get("limit") {
                None => None,
                Some(l) => Some(match l.as_u64() {
                    Some(l) => l as usize,
                    None => request::delete_limit(l)?,
                }),
            };
            c.delete_where(ids.as_deref(), w, d, limit).map(drop)
        }
        other => panic!("unknown op {other}"),
    }
}

fn list(v: &Value) -> Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {v}"))
        .clone()
}

fn strings(v: &Value) -> Vec<String> {
    list(v)
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn opt_strings(a: &Value, key: &str) -> Option<Vec<Option<String>>> {
    a.get(key).map(|v| {
        list(v)
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect()
    })
}

/// Rows of vectors ("NaN" is NaN), flattened with the rule every layer applies to rows.
fn rows(v: &Value, op: Op) -> mnemodb::Result<(Vec<f32>, usize)> {
    let rows: Vec<Vec<f32>> = list(v)
        .iter()
        .map(|r| {
            list(r)
                .iter()
                .map(|x| match x {
                    Value::String(s) if s == "NaN" => f32::NAN,
                    x => x.as_f64().unwrap() as f32,
                })
                .collect()
        })
        .collect();
    let dim = request::embedding_rows(rows.iter().map(Vec::len), op)?;
    Ok((rows.concat(), dim))
}

/// How `got` differs from chromadb's refusal (`want_kind`, `want`; `chroma`: chromadb's own
/// text, shown when the engine accepted the request), or `None` when it does not.
fn differs(
    name: &str,
    got: mnemodb::Result<()>,
    want_kind: ErrorKind,
    want: &str,
    chroma: &str,
) -> Option<String> {
    match got {
        Ok(()) => Some(format!("{name}: accepted; chromadb: {chroma:?}")),
        Err(e) if e.kind() != want_kind || e.to_string() != want => Some(format!(
            "{name}: {:?} {:?}; want {want_kind:?} {want:?}",
            e.kind(),
            e.to_string()
        )),
        Err(_) => None,
    }
}
