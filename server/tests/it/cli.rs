//! Every CLI verb as a user runs it: help, inspect, compact, export/import (JSON lines and
//! MessagePack), bench, demo, and errors as one line with a non-zero exit.

use std::path::Path;
use std::process::{Command, Output};

use mnemodb::{AddBatch, Database, GetRequest, Include, Metadata, MetadataValue, Space};

fn mnemodb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mnemodb"))
        .args(args)
        .output()
        .expect("run mnemodb")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}; stderr: {}",
        o.status,
        stderr(&o)
    );
    stdout(&o)
}

/// One clear line on stderr, exit code 1.
#[track_caller]
fn fails_with(o: Output, fragment: &str) {
    assert_eq!(o.status.code(), Some(1), "stdout: {}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("mnemodb: "), "{err}");
    assert!(err.contains(fragment), "{err:?} lacks {fragment:?}");
}

/// A database with one collection `notes` of `n` records (dimension 4, cosine).
fn sample_db(dir: &Path, n: usize) -> Database {
    let db = Database::open(dir).unwrap();
    let col = db.create_collection("notes", Space::Cosine, None).unwrap();
    let ids: Vec<String> = (0..n).map(|i| format!("id{i}")).collect();
    let emb: Vec<f32> = (0..n * 4).map(|i| (i % 7) as f32 + 0.5).collect();
    let docs: Vec<Option<String>> = (0..n)
        .map(|i| (i % 2 == 0).then(|| format!("doc {i}")))
        .collect();
    let metas: Vec<Option<Metadata>> = (0..n)
        .map(|i| {
            let mut m = Metadata::new();
            m.insert("i".into(), MetadataValue::Int(i as i64));
            m.insert("f".into(), MetadataValue::Float(i as f64 + 0.25));
            m.insert("whole".into(), MetadataValue::Float(2.0));
            m.insert(
                "tags".into(),
                MetadataValue::StrList(vec!["a".into(), "b".into()]),
            );
            (i % 3 != 0).then_some(m)
        })
        .collect();
    let uris: Vec<Option<String>> = (0..n)
        .map(|i| (i == 1).then(|| "s3://x".to_owned()))
        .collect();
    col.add(AddBatch {
        ids: &ids,
        embeddings: &emb,
        documents: Some(&docs),
        uris: Some(&uris),
        metadatas: Some(&metas),
    })
    .unwrap();
    db
}

#[test]
fn help_on_every_verb() {
    let top = ok(mnemodb(&["--help"]));
    for verb in [
        "serve", "inspect", "compact", "export", "import", "bench", "demo",
    ] {
        assert!(top.contains(verb), "{verb} missing from --help");
        let h = ok(mnemodb(&[verb, "--help"]));
        assert!(h.contains("Usage: mnemodb"), "{verb}: {h}");
    }
    assert!(ok(mnemodb(&["serve", "--help"])).contains("--token"));
    assert!(ok(mnemodb(&["--version"])).contains("mnemodb"));
    let bad = mnemodb(&["frobnicate"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn inspect_shows_collections() {
    let dir = tempfile::tempdir().unwrap();
    sample_db(dir.path(), 10);
    let out = ok(mnemodb(&["inspect", dir.path().to_str().unwrap()]));
    assert!(
        out.contains("database default_tenant/default_database"),
        "{out}"
    );
    assert!(
        out.contains("consistency: ok (1 collections, 10 records)"),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("notes"))
        .expect("notes row");
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cols[2..6], ["10", "0", "4", "cosine"], "{line}");
    assert!(
        line.contains("exact scan (below the index threshold)"),
        "{line}"
    );

    // From 4,096 records the engine keeps an HNSW index file, which inspect reports.
    // Closing the database lets its index build finish and saves the graph.
    let big = tempfile::tempdir().unwrap();
    assert!(sample_db(big.path(), 5000).close(std::time::Duration::from_secs(600)));
    let out = ok(mnemodb(&["inspect", big.path().to_str().unwrap()]));
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("notes"))
        .expect("notes row");
    assert!(line.contains("hnsw file"), "{out}");
    assert!(line.contains("linked 5000/5000 (100%)"), "{out}");
}

#[test]
fn errors_are_one_line_and_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    fails_with(
        mnemodb(&["inspect", missing.to_str().unwrap()]),
        "not a mnemodb database",
    );
    fails_with(
        mnemodb(&["compact", missing.to_str().unwrap()]),
        "not a mnemodb database",
    );
    sample_db(dir.path(), 3);
    let p = dir.path().to_str().unwrap();
    fails_with(
        mnemodb(&[
            "export",
            p,
            "--collection",
            "ghost",
            "--out",
            "/tmp/never-written.jsonl",
        ]),
        "Collection [ghost] does not exist",
    );
    fails_with(
        mnemodb(&["compact", p, "--collection", "ghost"]),
        "Collection [ghost] does not exist",
    );
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "{\"not\": \"a header\"}\n").unwrap();
    fails_with(
        mnemodb(&["import", p, junk.to_str().unwrap()]),
        "junk.jsonl line 1",
    );
    fails_with(
        mnemodb(&["import", p, "/definitely/not/here.jsonl"]),
        "open /definitely/not/here.jsonl",
    );
    fails_with(mnemodb(&["bench", "--records", "0"]), "at least 1");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    fails_with(
        mnemodb(&["serve", "--path", file.to_str().unwrap(), "--port", "0"]),
        "a-file",
    );
}

#[test]
fn compact_reclaims_deleted_slots() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 20);
    let ids: Vec<String> = (0..5).map(|i| format!("id{i}")).collect();
    db.get_collection("notes").unwrap().delete(&ids).unwrap();
    drop(db);
    let out = ok(mnemodb(&["compact", dir.path().to_str().unwrap()]));
    assert!(
        out.contains("default_tenant/default_database/notes: 5 slot(s) reclaimed"),
        "{out}"
    );
    let out = ok(mnemodb(&[
        "compact",
        dir.path().to_str().unwrap(),
        "--collection",
        "notes",
    ]));
    assert!(out.contains("notes: 0 slot(s) reclaimed"), "{out}");
}

fn everything(db: &Database, name: &str) -> mnemodb::GetResult {
    db.get_collection(name)
        .unwrap()
        .get(GetRequest {
            include: Include::all_get(),
            ..GetRequest::default()
        })
        .unwrap()
}

#[test]
fn export_then_import_round_trips_in_both_formats() {
    let src = tempfile::tempdir().unwrap();
    let db = sample_db(src.path(), 2500);
    let want = everything(&db, "notes");
    let info = db.get_collection("notes").unwrap().info().unwrap();
    for (format, file) in [("jsonl", "out.jsonl"), ("msgpack", "out.msgpack")] {
        let out = src.path().join(file);
        let said = ok(mnemodb(&[
            "export",
            src.path().to_str().unwrap(),
            "--collection",
            "notes",
            "--out",
            out.to_str().unwrap(),
            "--format",
            format,
        ]));
        assert!(said.contains("exported 2500 records"), "{said}");
        let dst = tempfile::tempdir().unwrap();
        // The format is taken from the extension for msgpack, and given for jsonl.
        let mut args = vec![
            "import",
            dst.path().to_str().unwrap(),
            out.to_str().unwrap(),
        ];
        if format == "jsonl" {
            args.extend(["--format", "jsonl", "--collection", "copy"]);
        }
        let said = ok(mnemodb(&args));
        let name = if format == "jsonl" { "copy" } else { "notes" };
        assert!(
            said.contains(&format!("imported 2500 records into {name}")),
            "{said}"
        );
        let back_db = Database::open(dst.path()).unwrap();
        assert_eq!(everything(&back_db, name), want, "{format}");
        let back_info = back_db.get_collection(name).unwrap().info().unwrap();
        assert_eq!(back_info.configuration, info.configuration);
        assert_eq!(back_info.space, Space::Cosine);
        // A second import of the same name is refused, in one line.
        fails_with(mnemodb(&args), "already exists");
    }
    let first = std::fs::read_to_string(src.path().join("out.jsonl")).unwrap();
    assert!(
        first
            .lines()
            .next()
            .unwrap()
            .starts_with("{\"mnemodb_export\":1,"),
        "{first:.200}"
    );
    assert_eq!(first.lines().count(), 2501);
}

#[test]
fn bench_prints_a_table() {
    let out = ok(mnemodb(&[
        "bench",
        "--records",
        "3000",
        "--dim",
        "16",
        "--queries",
        "20",
    ]));
    assert!(out.contains("| operation"), "{out}");
    for row in [
        "add (batches of 1000)",
        "query top-10",
        "query top-10, where 10%",
        "get 1 id",
        "count",
    ] {
        assert!(out.contains(row), "{row} missing: {out}");
    }
    assert!(out.contains("3000 records counted"), "{out}");
}

#[test]
fn demo_still_runs() {
    let out = ok(mnemodb(&["demo", "300"]));
    assert!(!out.is_empty());
}
