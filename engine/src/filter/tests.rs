//! Tests of the filter language: parity with chromadb 1.5.9 on the captured cases, and the
//! parser on hostile keys and deep nesting.

// Tests fail by panicking: unwrapping a result is how a test says "this must succeed".
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::{
    CmpOp, Filter, INVALID_WHERE, INVALID_WHERE_DOCUMENT, MAX_JSON_DEPTH, Scalar, ScalarList,
    Validation, Where, WhereDocument, parse_filter, parse_where, parse_where_document,
};
use crate::error::{Error, ErrorKind, Op};
use crate::types::{Metadata, MetadataValue};

/// Captured by `tests/chroma_semantics/capture_filters.py`.
const CAPTURE: &str = include_str!("../../tests/data/chroma_filters.json");

/// Cases where the engine knowingly differs from chromadb, and the message it gives instead.
const DIVERGENCES: &[(&str, &str)] = &[
    // chromadb compiles the regex only when SQLite runs it and fails with
    // `InternalError: ... (code: 1043) constraint failed`; the engine refuses it up front.
    (
        "doc_regex_too_big_to_compile",
        "Unexpected regex error: Compiled regex exceeds size limit",
    ),
    // chromadb's Python recursion (json.dumps) gives up at ~600 levels with RecursionError;
    // the engine has no recursion limit to hit and answers as for any too-deep filter.
    ("and_depth_600", INVALID_WHERE),
];

struct Record {
    id: String,
    metadata: Option<Metadata>,
    document: Option<String>,
}

fn capture() -> Value {
    serde_json::from_str(CAPTURE).unwrap()
}

fn records(capture: &Value) -> Vec<Record> {
    capture["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Record {
            id: r["id"].as_str().unwrap().to_owned(),
            metadata: serde_json::from_value(r["metadata"].clone()).unwrap(),
            document: r["document"].as_str().map(str::to_owned),
        })
        .collect()
}

/// `generated`: start with `leaf`, then `depth` times wrap it as `{"$and": [sibling, it]}`.
fn generate(spec: &Value) -> Value {
    let mut w = spec["leaf"].clone();
    for _ in 0..spec["depth"].as_u64().unwrap() {
        w = wrap("$and", vec![spec["sibling"].clone(), w]);
    }
    w
}

/// `{op: children}`, built by moving (`json!` would serialize an interpolated `Value`
/// recursively, which overflows the stack for deep values).
fn wrap(op: &str, children: Vec<Value>) -> Value {
    Value::Object(
        [(op.to_owned(), Value::Array(children))]
            .into_iter()
            .collect(),
    )
}

/// The `(where, where_document)` a case passes.
fn filters(case: &Value) -> (Option<Value>, Option<Value>) {
    let mut r#where = case.get("where").cloned();
    let mut where_document = case.get("where_document").cloned();
    if let Some(spec) = case.get("generated") {
        let built = generate(spec);
        if spec["target"] == "where" {
            r#where = Some(built);
        } else {
            where_document = Some(built);
        }
    }
    (r#where, where_document)
}

fn run(records: &[Record], filter: &Filter) -> Vec<String> {
    records
        .iter()
        .filter(|r| filter.matches(r.metadata.as_ref(), r.document.as_deref()))
        .map(|r| r.id.clone())
        .collect()
}

/// Compares one outcome of the engine with chromadb's; `Err` describes the difference.
fn check(
    name: &str,
    records: &[Record],
    got: &Result<Filter, Error>,
    want: &Value,
) -> Result<(), String> {
    if let Some(&(_, message)) = DIVERGENCES.iter().find(|(n, _)| *n == name) {
        return match got {
            Err(e) if e.to_string().starts_with(message) => Ok(()),
            other => Err(format!(
                "known divergence: want an error `{message}...`, got {other:?}"
            )),
        };
    }
    match (got, want.get("ok"), want.get("error")) {
        (Ok(filter), Some(ids), _) => {
            let ids: Vec<String> = serde_json::from_value(ids.clone()).unwrap();
            let got = run(records, filter);
            if got == ids {
                Ok(())
            } else {
                Err(format!("ids {got:?}, chromadb {ids:?}"))
            }
        }
        (Err(e), _, Some(error)) => {
            let class = error["class"].as_str().unwrap();
            let message = error["message"].as_str().unwrap();
            let kind = match class {
                "ValueError" => ErrorKind::ValueError,
                "InvalidArgumentError" => ErrorKind::InvalidArgument,
                _ => {
                    return Err(format!(
                        "chromadb raised {class}: add the case to DIVERGENCES"
                    ));
                }
            };
            if e.kind() != kind {
                return Err(format!("error kind {:?}, want {kind:?}", e.kind()));
            }
            let ours = e.to_string();
            let same = match error.get("origin").and_then(Value::as_str) {
                // Python validation: chromadb's text, " in get." included.
                Some("client") => message == ours,
                // The backend's: the engine's message starts with it.
                _ => ours.starts_with(message),
            };
            if same {
                Ok(())
            } else {
                Err(format!("message {ours:?}, chromadb {message:?}"))
            }
        }
        (Ok(filter), None, _) => Err(format!(
            "accepted (matching {:?}), chromadb raised {}",
            run(records, filter),
            want["error"]
        )),
        (Err(e), ..) => Err(format!(
            "refused with {:?}, chromadb matched {}",
            e.to_string(),
            want["ok"]
        )),
    }
}

#[test]
fn parity_with_chromadb() {
    let capture = capture();
    assert_eq!(capture["chromadb_version"], "1.5.9");
    let records = records(&capture);
    let cases = capture["cases"].as_array().unwrap();
    assert!(cases.len() >= 80, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (r#where, where_document) = filters(case);
        for (validation, side) in [
            (Validation::Client(Op::Get), "client"),
            (Validation::Backend, "backend"),
        ] {
            let got = parse_filter(r#where.as_ref(), where_document.as_ref(), validation);
            if let Err(why) = check(name, &records, &got, &case[side]) {
                failures.push(format!("{name} [{side}]: {why}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} checks differ:\n{}",
        failures.len(),
        2 * cases.len(),
        failures.join("\n")
    );
}

/// Every case the "Type semantics" table of `filter/mod.rs` cites exists in the capture.
#[test]
fn semantics_table_cites_captured_cases() {
    let capture = capture();
    let names: Vec<&str> = capture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let doc = include_str!("mod.rs");
    let mut rows = 0;
    for line in doc
        .lines()
        .filter(|l| l.starts_with("//! | ") && !l.starts_with("//! | question"))
    {
        rows += 1;
        let cited = line
            .trim_end()
            .trim_end_matches('|')
            .rsplit('|')
            .next()
            .unwrap();
        let cited: Vec<&str> = cited.split('`').skip(1).step_by(2).collect();
        assert!(!cited.is_empty(), "row cites no case: {line}");
        for name in cited {
            assert!(
                names.contains(&name),
                "the table cites `{name}`, which is not captured"
            );
        }
    }
    assert!(rows >= 10, "only {rows} rows found");
}

// --- the parser on its own --------------------------------------------------------------------

fn both(value: &Value) -> Where {
    let client = parse_where(value, Validation::Client(Op::Get)).unwrap();
    assert_eq!(parse_where(value, Validation::Backend).unwrap(), client);
    client
}

fn err(value: &Value, validation: Validation) -> String {
    parse_where(value, validation).unwrap_err().to_string()
}

#[test]
fn shorthand_keeps_int_float_bool_and_str_apart() {
    for (operand, scalar) in [
        (json!(1), Scalar::Int(1)),
        (json!(1.0), Scalar::Float(1.0)),
        (json!(true), Scalar::Bool(true)),
        (json!("1"), Scalar::Str("1".into())),
        (json!(i64::MIN), Scalar::Int(i64::MIN)),
        (json!(1e300), Scalar::Float(1e300)),
    ] {
        let want = Where::Cmp {
            key: "n".into(),
            op: CmpOp::Eq,
            value: scalar,
        };
        assert_eq!(both(&json!({ "n": operand.clone() })), want);
        assert_eq!(both(&json!({ "n": { "$eq": operand } })), want);
    }
}

#[test]
fn operators_map_to_the_ast() {
    assert_eq!(
        both(&json!({"t": {"$nin": ["a", "b"]}})),
        Where::In {
            key: "t".into(),
            values: ScalarList::Str(vec!["a".into(), "b".into()]),
            negated: true
        }
    );
    assert_eq!(
        both(&json!({"t": {"$not_contains": 2.5}})),
        Where::Contains {
            key: "t".into(),
            value: Scalar::Float(2.5),
            negated: true
        }
    );
    assert_eq!(
        both(&json!({"#document": {"$contains": "x"}})),
        Where::Document(WhereDocument::Contains("x".into()))
    );
    assert_eq!(
        both(&json!({"$or": [{"a": {"$lte": 1}}, {"b": {"$gt": -1.5}}]})),
        Where::Or(vec![
            Where::Cmp {
                key: "a".into(),
                op: CmpOp::Lte,
                value: Scalar::Int(1)
            },
            Where::Cmp {
                key: "b".into(),
                op: CmpOp::Gt,
                value: Scalar::Float(-1.5)
            },
        ])
    );
    // The backend reads a list that starts with a float as floats; the client refuses it.
    let mixed = json!({"n": {"$in": [1.5, 1]}});
    assert_eq!(
        parse_where(&mixed, Validation::Backend).unwrap(),
        Where::In {
            key: "n".into(),
            values: ScalarList::Float(vec![1.5, 1.0]),
            negated: false
        }
    );
    assert!(err(&mixed, Validation::Client(Op::Get)).starts_with("Expected where operand value"));
    // A regex keeps its source text for SQL.
    let Ok(WhereDocument::Regex(re)) =
        parse_where_document(&json!({"$regex": "^a+"}), Validation::Client(Op::Get))
    else {
        panic!("not a regex")
    };
    assert_eq!(re.as_str(), "^a+");
}

#[test]
fn errors_have_chromadb_classes_and_text() {
    let e = parse_where(&json!({"n": {"$gt": "a"}}), Validation::Client(Op::Query)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ValueError);
    assert_eq!(
        e.to_string(),
        "Expected operand value to be an int or a float for operator $gt, got a in query."
    );
    assert_eq!(
        err(&json!({"n": {"$gt": "a"}}), Validation::Backend),
        INVALID_WHERE
    );
    let e = parse_where_document(&json!({"$regex": "(a"}), Validation::Backend).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Regex syntax errror: regex parse error:"),
        "{e}"
    );
    let e = parse_where_document(&json!({"$bad": "x"}), Validation::Backend).unwrap_err();
    assert_eq!(e.to_string(), INVALID_WHERE_DOCUMENT);
}

#[test]
fn null_means_no_filter() {
    let f = parse_filter(
        Some(&Value::Null),
        Some(&Value::Null),
        Validation::Client(Op::Get),
    )
    .unwrap();
    assert!(f.is_empty());
    assert!(f.matches(None, None));
}

/// Keys are data: quotes, SQL, wildcards, control characters, unicode and 10 kB parse as
/// themselves, and match exactly that key.
#[test]
fn hostile_keys_are_just_strings() {
    let long = "k".repeat(10 * 1024);
    let keys = [
        "it's \"quoted\"",
        "'; DROP TABLE embeddings; --",
        "a\"b`c[d]e",
        "%_\\",
        "nul\0byte\nnewline\ttab",
        "ключ🔑 ✓ 漢字",
        "\u{202e}rtl\u{200b}",
        "",
        "a$b",
        "$",
        "#",
        long.as_str(),
    ];
    for key in keys {
        for (filter, value) in [
            (json!({ key: "v" }), MetadataValue::from("v")),
            (json!({ key: { "$gte": 2 } }), MetadataValue::from(3)),
            (
                json!({ key: { "$in": [1.5, 2.5] } }),
                MetadataValue::from(2.5),
            ),
            (
                json!({ key: { "$contains": "x" } }),
                MetadataValue::StrList(vec!["x".into()]),
            ),
        ] {
            if key.starts_with('$') {
                // `{"$": ...}` is an operator position: the backend refuses it.
                assert_eq!(err(&filter, Validation::Backend), INVALID_WHERE);
                continue;
            }
            let w = both(&filter);
            let hit: Metadata = [(key.to_owned(), value.clone())].into();
            let other: Metadata = [(format!("{key}x"), value)].into();
            assert!(w.matches(Some(&hit), None), "{key:?}");
            assert!(!w.matches(Some(&other), None), "{key:?}");
        }
    }
    // Hostile operand strings are data too.
    let w = both(&json!({"s": "'; DROP TABLE x; --"}));
    let m: Metadata = [("s".to_owned(), MetadataValue::from("'; DROP TABLE x; --"))].into();
    assert!(w.matches(Some(&m), None));
}

/// `{"$and": [sibling, {"$and": [sibling, ... leaf]}]}` `depth` levels deep.
fn nested(depth: usize, sibling: &Value, leaf: Value) -> Value {
    let mut w = leaf;
    for _ in 0..depth {
        w = wrap("$and", vec![sibling.clone(), w]);
    }
    w
}

#[test]
fn nesting_up_to_chromadbs_limit_parses_and_evaluates() {
    // 63 levels x (object + array) + the leaf object = 127 nested containers: the most
    // chromadb's backend parses.
    let w = nested(63, &json!({"s": "a"}), json!({"n": 1}));
    assert_eq!(super::parse::json_depth(&w), MAX_JSON_DEPTH);
    let w = both(&w);
    let hit: Metadata = [("s".into(), "a".into()), ("n".into(), 1.0.into())].into();
    let miss: Metadata = [("s".into(), "a".into()), ("n".into(), 2.into())].into();
    assert!(w.matches(Some(&hit), None));
    assert!(!w.matches(Some(&miss), None));
    // One more container (in the leaf) is too deep, in both modes.
    let w = nested(63, &json!({"s": "a"}), json!({"n": {"$eq": 1}}));
    assert_eq!(err(&w, Validation::Client(Op::Get)), INVALID_WHERE);
    assert_eq!(err(&w, Validation::Backend), INVALID_WHERE);
}

/// chromadb refuses a 200-deep `$and` (`Invalid where clause`, its JSON parser's recursion
/// limit) and its Python client dies of `RecursionError` from about 600 levels. The parser
/// answers without recursing at any depth: 100 000 levels here.
#[test]
fn deep_nesting_never_overflows_the_stack() {
    let sibling = json!({"s": "a"});
    for depth in [200, 100_000] {
        let deep = nested(depth, &sibling, json!({"n": 1}));
        assert_eq!(
            err(&deep, Validation::Client(Op::Get)),
            INVALID_WHERE,
            "depth {depth}"
        );
        assert_eq!(
            err(&deep, Validation::Backend),
            INVALID_WHERE,
            "depth {depth}"
        );
        // A client error deep inside is still found first, as chromadb's Python finds it.
        let bad = nested(depth, &sibling, json!({"n": {"$foo": 1}}));
        assert!(
            err(&bad, Validation::Client(Op::Get)).ends_with("got $foo in get."),
            "depth {depth}"
        );
        // A client error that prints the whole deep value (one-child `$or` at the top).
        let one_child = wrap("$or", vec![deep]);
        let msg = err(&one_child, Validation::Client(Op::Get));
        assert!(
            msg.starts_with("Expected where value for $and or $or to be a list with at least two")
        );
        let docs = {
            let mut d = json!({"$contains": "l"});
            for _ in 0..depth {
                d = wrap("$or", vec![json!({"$contains": "o"}), d]);
            }
            d
        };
        let e = parse_where_document(&docs, Validation::Client(Op::Get)).unwrap_err();
        assert_eq!(e.to_string(), INVALID_WHERE_DOCUMENT);
        // serde_json's `Value` drops recursively: leak the 100 000-deep values instead of
        // overflowing the test thread's stack in their destructors.
        if depth > 10_000 {
            std::mem::forget((bad, one_child, docs));
        }
    }
}
