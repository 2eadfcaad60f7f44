//! Tests of filter execution: hostile input never reaches SQL text, and every captured case and
//! extra edge case gives the oracle's answer.

use serde_json::json;

use super::leaves::*;
use super::*;
use crate::Op;
use crate::distance::Space;
use crate::filter::{CHROMA_DOCUMENT_KEY, Scalar, ScalarList};
use crate::filter::{Validation, parse_filter};
use crate::meta::{Sidecar, catalog, records};

/// The statements of the leaves of a filter with hostile keys and values.
fn leaf_statements(key: &str) -> Vec<Sql> {
    let s = |v: &str| Scalar::Str(v.to_owned());
    vec![
        compare(7, key, CmpOp::Eq, &s("x'y")),
        compare(7, key, CmpOp::Gte, &Scalar::Float(1.5)),
        compare(7, CHROMA_DOCUMENT_KEY, CmpOp::Eq, &s("x'y")),
        in_list(7, key, &ScalarList::Str(vec!["a'".into(), "b\"".into()])),
        in_list(7, key, &ScalarList::Float(vec![1.5])),
        list_contains(7, key, &s("z; --")),
        document_contains(7, "'); DROP"),
        document_contains(7, "a'"),
        document_regex(7, "a'b"),
    ]
}

/// The statement text is made of this file's fragments and placeholders only: none of the
/// caller's strings, whatever they hold, appears in it.
#[test]
fn no_caller_text_in_sql() {
    let long = "k".repeat(10_000);
    let hostile = [
        "it's",
        "\"q\"",
        "a; DROP TABLE records; --",
        "ключ 🚀",
        "?1",
        "%_\\",
        long.as_str(),
    ];
    for key in hostile {
        for sql in leaf_statements(key) {
            // (`?1` is also our own first placeholder, so it is not looked for.)
            let key_needle = if key == "?1" { "x'y" } else { key };
            for needle in [key_needle, "x'y", "a'", "z; --", "DROP", "a'b"] {
                assert!(
                    !sql.text.contains(needle),
                    "caller text {needle:?} in SQL: {}",
                    sql.text
                );
            }
            assert!(
                sql.text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " _?(),=<>-.*".contains(c)),
                "unexpected character in {}",
                sql.text
            );
        }
    }
}

/// The records of the chromadb capture in a sidecar, and the collection's key.
fn captured_records() -> (Sidecar, i64, Vec<RecordRow>) {
    let capture: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/data/chroma_filters.json"))
            .unwrap_or_else(|e| panic!("{e}"));
    let records: Vec<RecordRow> = capture["records"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, r)| RecordRow {
            id: r["id"].as_str().unwrap_or_default().to_owned(),
            slot: i as u64,
            ord: i as u64,
            document: r["document"].as_str().map(str::to_owned),
            uri: None,
            metadata: serde_json::from_value(r["metadata"].clone())
                .unwrap_or_else(|e| panic!("{e}")),
            expires_at: None,
        })
        .collect();
    let sidecar = Sidecar::in_memory().unwrap_or_else(|e| panic!("{e}"));
    let key = sidecar
        .write(|tx| {
            // Another collection first, so the collection key is not 1 and the FTS rowid
            // ranges of two collections are both in play.
            for name in ["other", "captured"] {
                catalog::insert_collection(
                    tx,
                    uuid::Uuid::new_v4(),
                    name,
                    &Space::L2.into(),
                    None,
                )?;
                let row = catalog::collection_by_name(tx, name)?
                    .unwrap_or_else(|| panic!("no collection"));
                for r in &records {
                    records::insert(tx, row.key, 1, r)?;
                }
            }
            let row = catalog::collection_by_name(tx, "captured")?
                .unwrap_or_else(|| panic!("no collection"));
            Ok(row.key)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    (sidecar, key, records)
}

fn check_against_oracle(
    sidecar: &Sidecar,
    key: i64,
    records: &[RecordRow],
    filter: &Filter,
) -> Result<(), String> {
    let want: Vec<String> = records
        .iter()
        .filter(|r| filter.matches(r.metadata.as_ref(), r.document.as_deref()))
        .map(|r| r.id.clone())
        .collect();
    let got = sidecar
        .read(|tx| {
            let ords = matching_ords(tx, key, filter, None)?;
            ids_by_ords(tx, key, &ords)
        })
        .map_err(|e| e.to_string())?;
    if got == want {
        Ok(())
    } else {
        Err(format!("sql {got:?}, oracle {want:?}"))
    }
}

/// Every captured case, parsed as the client and as the backend does (so `$and` / `$or`
/// of no or one child, empty needles and `#document` regexes are in), gives the oracle's
/// answer through SQL.
#[test]
fn captured_cases_in_both_modes_equal_oracle() {
    let (sidecar, key, records) = captured_records();
    let capture: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/data/chroma_filters.json"))
            .unwrap_or_else(|e| panic!("{e}"));
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in capture["cases"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if case.get("generated").is_some() {
            continue; // deep nesting: covered below
        }
        for validation in [Validation::Client(Op::Get), Validation::Backend] {
            let Ok(filter) =
                parse_filter(case.get("where"), case.get("where_document"), validation)
            else {
                continue;
            };
            checked += 1;
            if let Err(e) = check_against_oracle(&sidecar, key, &records, &filter) {
                failures.push(format!("{} {validation:?}: {e}", case["name"]));
            }
        }
    }
    let extra = [
        (json!({"$and": []}), None),
        (json!({"$or": []}), None),
        (json!({"$and": [{"n": 1}]}), None),
        (json!({"$or": [{"$and": []}, {"n": 1}]}), None),
        (
            json!({"$and": [{"$or": []}]}),
            Some(json!({"$contains": ""})),
        ),
        (
            json!({"#document": {"$regex": "^h"}}),
            Some(json!({"$or": []})),
        ),
        (
            json!({"#document": {"$not_regex": "o"}}),
            Some(json!({"$and": []})),
        ),
        // Bounds on one key are merged into one range lookup.
        (
            json!({"$and": [{"n": {"$gte": 0.5}}, {"n": {"$lt": 1.5}}]}),
            None,
        ),
        (
            json!({"$and": [{"n": {"$gt": -0.5}}, {"n": {"$lte": 1}}]}),
            None,
        ),
        (
            json!({"$and": [{"n": {"$gt": -1.5}}, {"s": "a"}, {"n": {"$lt": 1e300}}]}),
            None,
        ),
        (
            json!({"$and": [{"n": {"$gte": -2}}, {"n": {"$lt": 0.5}}, {"n": {"$ne": 0}}]}),
            None,
        ),
        (
            json!({"$and": [
                {"big": {"$gte": 9_007_199_254_740_993_i64}},
                {"big": {"$lte": 9_007_199_254_740_993_i64}}
            ]}),
            None,
        ),
        (
            json!({"$and": [{"n2": {"$gt": -1e300}}, {"n2": {"$lt": 1e300}}]}),
            None,
        ),
    ];
    for (w, d) in &extra {
        let filter = parse_filter(Some(w), d.as_ref(), Validation::Backend)
            .unwrap_or_else(|e| panic!("{w}: {e}"));
        checked += 1;
        if let Err(e) = check_against_oracle(&sidecar, key, &records, &filter) {
            failures.push(format!("{w} {d:?}: {e}"));
        }
    }
    assert!(checked >= 250, "only {checked} filters checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The deepest filters the parser accepts (127 JSON levels), alternating `$and` / `$or`
/// so nothing flattens, compile to SQL that SQLite accepts and answers exactly.
#[test]
fn deepest_filters_run() {
    let (sidecar, key, records) = captured_records();
    for (leaf, sibling) in [
        (json!({"n": {"$gte": 0}}), json!({"s": {"$ne": "b"}})),
        (
            json!({"#document": {"$contains": "hello"}}),
            json!({"tags": {"$contains": "x"}}),
        ),
    ] {
        let mut w = leaf;
        let mut levels = 0;
        loop {
            let op = if levels % 2 == 0 { "$and" } else { "$or" };
            let next = json!({ op: [sibling.clone(), w.clone()] });
            if crate::filter::parse_filter(Some(&next), None, Validation::Backend).is_err() {
                break;
            }
            w = next;
            levels += 1;
        }
        assert!(levels >= 60, "only {levels} levels");
        let filter =
            parse_filter(Some(&w), None, Validation::Backend).unwrap_or_else(|e| panic!("{e}"));
        check_against_oracle(&sidecar, key, &records, &filter)
            .unwrap_or_else(|e| panic!("{levels} levels: {e}"));
    }
}

/// A wide `$or` runs one cached statement per leaf.
#[test]
fn wide_or() {
    let (sidecar, key, records) = captured_records();
    let children: Vec<serde_json::Value> = (0..5000).map(|i| json!({"n": i - 10})).collect();
    let filter = parse_filter(
        Some(&json!({ "$or": children })),
        None,
        Validation::Client(Op::Get),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    check_against_oracle(&sidecar, key, &records, &filter).unwrap_or_else(|e| panic!("{e}"));
}

/// `$contains` through the trigram index: documents holding every trigram of the text but not
/// the text itself (the index keeps no positions) are left out, and texts with quotes,
/// repeated trigrams, characters outside ASCII, exactly three characters or more trigrams
/// than one query asks for give the oracle's answer.
#[test]
fn contains_is_exact_though_the_trigram_index_keeps_no_positions() {
    let long: String = (0..40).map(|i| format!("w{i} ")).collect();
    let docs = [
        "xx pic 3 topi yy",    // every trigram of "topic 3", never adjacent
        "hello topic 3 world", // holds it
        "topic 33",
        "say \"hi\" now",
        "say \"h\" i\" now",
        "ababab",
        "abab",
        "größer als grün",
        "grün größer",
        &long,
        &long.replace("w39", "w93"),
    ];
    let records: Vec<RecordRow> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| RecordRow {
            id: format!("r{i}"),
            slot: i as u64,
            ord: i as u64,
            document: Some((*d).to_owned()),
            uri: None,
            metadata: None,
            expires_at: None,
        })
        .collect();
    let sidecar = Sidecar::in_memory().unwrap_or_else(|e| panic!("{e}"));
    let key = sidecar
        .write(|tx| {
            catalog::insert_collection(tx, uuid::Uuid::new_v4(), "c", &Space::L2.into(), None)?;
            let row =
                catalog::collection_by_name(tx, "c")?.unwrap_or_else(|| panic!("no collection"));
            for r in &records {
                records::insert(tx, row.key, 1, r)?;
            }
            Ok(row.key)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let mut matched = 0;
    for text in [
        "topic 3", "\"hi\"", "\"h", "ababa", "abab", "bab", "größer", "rün", "ößer a", &long,
    ] {
        let filter = parse_filter(
            None,
            Some(&json!({ "$contains": text })),
            Validation::Backend,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        check_against_oracle(&sidecar, key, &records, &filter)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        matched += records
            .iter()
            .filter(|r| filter.matches(None, r.document.as_deref()))
            .count();
    }
    assert!(
        matched >= 12,
        "the texts match too little to test: {matched}"
    );
}
