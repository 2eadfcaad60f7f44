//! Every CLI verb as a user runs it: help, inspect, compact, export/import (every codec
//! format), bench, demo, and errors as one line with a non-zero exit.

use std::path::Path;
use std::process::{Command, Output};

use mnemodb::{AddBatch, Database, GetRequest, Include, Metadata, MetadataValue, Space, Vectors};

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
    fill(&db, n);
    db
}

/// Adds the collection `notes` of `n` records (dimension 4, cosine) to `db`.
fn fill(db: &Database, n: usize) {
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
        embeddings: Vectors::new(&emb, emb.len() / ids.len()),
        documents: Some(&docs),
        uris: Some(&uris),
        metadatas: Some(&metas),
    })
    .unwrap();
}

#[test]
fn help_on_every_verb() {
    let top = ok(mnemodb(&["--help"]));
    for verb in [
        "serve",
        "inspect",
        "compact",
        "export",
        "import",
        "backup",
        "import-chroma",
        "bench",
        "demo",
    ] {
        assert!(top.contains(verb), "{verb} missing from --help");
        let h = ok(mnemodb(&[verb, "--help"]));
        assert!(h.contains("Usage: mnemodb"), "{verb}: {h}");
    }
    let serve_help = ok(mnemodb(&["serve", "--help"]));
    assert!(serve_help.contains("--token"), "{serve_help}");
    assert!(serve_help.contains("--insecure"), "{serve_help}");
    assert!(ok(mnemodb(&["--version"])).contains("mnemodb"));
    let bad = mnemodb(&["frobnicate"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// `inspect` summarises the tool ledger per tool: calls, cache hits and their rate, timeouts.
#[test]
fn inspect_summarises_the_tool_ledger() {
    use mnemodb::{CallSpec, ToolPolicy};
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 3);
    let tools = db.tools(ToolPolicy::default());
    tools.set_policy(
        "slow_tool",
        ToolPolicy {
            timeout: Some(std::time::Duration::from_millis(1)),
            ..ToolPolicy::default()
        },
    );
    let args = serde_json::json!({"q": "x"});
    let spec = CallSpec {
        tool: "search",
        args: &args,
        run_id: "r",
        depth: 0,
        parent_id: None,
    };
    tools
        .call(&spec, |_| Ok(serde_json::json!("found")))
        .unwrap();
    tools
        .call(&spec, |_| Ok(serde_json::json!("found")))
        .unwrap();
    let slow = CallSpec {
        tool: "slow_tool",
        ..spec
    };
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    assert!(
        tools
            .call(&slow, move |_| {
                let _ = rx.recv();
                Ok(serde_json::json!(1))
            })
            .is_err()
    );
    drop(tx);
    drop(db);
    let out = ok(mnemodb(&["inspect", dir.path().to_str().unwrap()]));
    let row = |tool: &str| -> Vec<String> {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(tool))
            .unwrap_or_else(|| panic!("no {tool} row in {out}"));
        line.split_whitespace().map(str::to_owned).collect()
    };
    assert!(out.contains("cache hits"), "{out}");
    // tool, calls, ok, cache hits, hit rate, errors, timeouts, refused
    assert_eq!(
        row("search"),
        ["search", "2", "1", "1", "50.0%", "0", "0", "0"]
    );
    assert_eq!(row("slow_tool")[1], "1");
    assert_eq!(row("slow_tool")[6], "1");
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
    // records, expired (waiting for the sweep), dead slots, dimension, space
    assert_eq!(&cols[2..7], ["10", "0", "0", "4", "cosine"], "{line}");
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
fn export_then_import_round_trips_in_every_format() {
    let src = tempfile::tempdir().unwrap();
    let db = sample_db(src.path(), 2500);
    let want = everything(&db, "notes");
    let info = db.get_collection("notes").unwrap().info().unwrap();
    for (format, file) in [
        ("jsonl", "out.jsonl"),
        ("msgpack", "out.msgpack"),
        ("postcard+zstd", "out.postcard.zst"),
    ] {
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
        // The file's header says its format; `--format` on import is accepted and ignored.
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
    // A codec stream: its 16-byte header line, the export header, one record a line.
    let first = std::fs::read_to_string(src.path().join("out.jsonl")).unwrap();
    let mut lines = first.lines();
    assert!(
        lines.next().unwrap().starts_with("MNEMOCDC"),
        "{first:.200}"
    );
    assert!(
        lines.next().unwrap().starts_with("{\"mnemodb_export\":2,"),
        "{first:.200}"
    );
    assert_eq!(first.lines().count(), 2502);
}

/// `mnemodb backup SRC DEST`, which must succeed: what it printed.
fn backup(src: &Path, dest: &Path) -> String {
    ok(mnemodb(&[
        "backup",
        src.to_str().unwrap(),
        dest.to_str().unwrap(),
    ]))
}

#[test]
fn backup_copies_a_database_that_opens_with_everything() {
    let src = tempfile::tempdir().unwrap();
    let db = sample_db(src.path(), 300);
    let want = everything(&db, "notes");
    let out_dir = tempfile::tempdir().unwrap();
    let dest = out_dir.path().join("copy");
    let said = backup(src.path(), &dest);
    assert!(
        said.contains("backed up 1 collections (300 records"),
        "{said}"
    );
    let copy = Database::open(&dest).unwrap();
    assert_eq!(everything(&copy, "notes"), want);
    let out = ok(mnemodb(&["inspect", dest.to_str().unwrap()]));
    assert!(out.contains("consistency: ok"), "{out}");
    // Not over something: the destination must be new or empty.
    fails_with(
        mnemodb(&[
            "backup",
            src.path().to_str().unwrap(),
            dest.to_str().unwrap(),
        ]),
        "new or empty directory",
    );
}

#[test]
fn backup_of_a_servers_directory_copies_every_database_and_the_catalog() {
    use mnemodb_server::namespace::{DEFAULT_DATABASE, DEFAULT_TENANT, Namespaces};
    let src = tempfile::tempdir().unwrap();
    let ns = Namespaces::open(src.path()).unwrap();
    let default = ns.database(DEFAULT_TENANT, DEFAULT_DATABASE).unwrap();
    fill(&default, 30);
    let notes = default.get_collection("notes").unwrap().id();
    let ef = serde_json::json!({"type": "known", "name": "default", "config": {}});
    ns.set_embedding_function(notes, &ef, true).unwrap();
    ns.create_tenant("acme").unwrap();
    ns.create_database("acme", "prod").unwrap();
    ns.create_database("acme", "empty").unwrap(); // named, never written
    let prod = ns.database("acme", "prod").unwrap();
    fill(&prod, 70);
    let want = (everything(&default, "notes"), everything(&prod, "notes"));
    ns.close();
    drop((default, prod, ns));

    let out_dir = tempfile::tempdir().unwrap();
    let dest = out_dir.path().join("copy");
    let said = backup(src.path(), &dest);
    assert!(
        said.contains("backed up 2 collections (100 records") && said.contains("in 2 databases"),
        "{said}"
    );
    let copy = Namespaces::open(&dest).unwrap();
    let got_default = copy.database(DEFAULT_TENANT, DEFAULT_DATABASE).unwrap();
    let got_prod = copy.database("acme", "prod").unwrap();
    assert_eq!(
        (
            everything(&got_default, "notes"),
            everything(&got_prod, "notes")
        ),
        want
    );
    assert!(copy.database("acme", "empty").is_ok());
    assert_eq!(copy.embedding_function(notes), Some(ef));
    copy.close();
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

/// `mnemodb serve ARGS` over a fresh directory with `MNEMODB_TOKEN` unset or set to `env`.
fn serve_cmd(dir: &Path, args: &[&str], env: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mnemodb"));
    cmd.args(["serve", "--port", "0", "--path"])
        .arg(dir)
        .args(args)
        .env_remove("MNEMODB_TOKEN")
        .env("RUST_LOG", "warn");
    if let Some(v) = env {
        cmd.env("MNEMODB_TOKEN", v);
    }
    cmd
}

/// Starts `serve`, waits for its listening line, asks `probe` for the status of
/// `GET /api/v2/collections` without a token, stops it, and returns (status, stderr).
fn serve_and_probe(dir: &Path, args: &[&str], env: Option<&str>) -> (u16, String) {
    use std::io::{BufRead as _, BufReader, Read as _};
    let _ = crate::common::bind_loopback();
    let mut child = serve_cmd(dir, args, env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn mnemodb serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the listening line");
    let mut err = String::new();
    let Some(port) = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
    else {
        let _ = child.kill();
        let _ = child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err);
        panic!("serve did not start: {line:?}; stderr: {err}");
    };
    let url = format!(
        "http://127.0.0.1:{port}/api/v2/tenants/default_tenant/databases/default_database/collections"
    );
    let status = reqwest::blocking::get(url)
        .expect("request")
        .status()
        .as_u16();
    let _ = child.kill();
    let _ = child.wait();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    (status, err)
}

#[test]
fn blank_tokens_are_refused_at_start_up() {
    // `--path` names a file, which serve would refuse after the checks under test: a
    // regression then fails with another message instead of serving (and hanging the test).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let run = |args: &[&str], env: Option<&str>| serve_cmd(&file, args, env).output().unwrap();
    fails_with(
        run(&["--token", ""], None),
        "token (--token or MNEMODB_TOKEN) is empty",
    );
    fails_with(run(&["--token", "  \t"], None), "is empty");
    fails_with(run(&[], Some("")), "is empty");
    fails_with(run(&[], Some("   ")), "is empty");
    // Also on a non-loopback address, where a blank token used to mean an open server.
    fails_with(run(&["--host", "0.0.0.0", "--token", ""], None), "is empty");
    fails_with(
        run(&["--host", "0.0.0.0", "--insecure"], Some("")),
        "is empty",
    );
    fails_with(run(&["--token", "pässword"], None), "printable ASCII");
}

#[test]
fn non_loopback_without_a_token_needs_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    for host in ["0.0.0.0", "::"] {
        // On a file, as above: a regression fails, never serves.
        let out = serve_cmd(&file, &["--host", host], None).output().unwrap();
        fails_with(out, &format!("refusing to serve {host} without a token"));
    }
    // --insecure serves it open, with a warning on stderr.
    let (status, err) = serve_and_probe(dir.path(), &["--host", "0.0.0.0", "--insecure"], None);
    assert_eq!(status, 200, "{err}");
    assert!(
        err.contains("--insecure: serving a non-loopback address"),
        "{err}"
    );
    // A token, from the flag or the environment, needs neither and is enforced.
    let (status, err) = serve_and_probe(
        dir.path(),
        &["--host", "0.0.0.0", "--token", "s3cret"],
        None,
    );
    assert_eq!(status, 401, "{err}");
    assert!(!err.contains("WARN"), "{err}");
    let (status, err) = serve_and_probe(dir.path(), &["--host", "0.0.0.0"], Some("s3cret"));
    assert_eq!(status, 401, "{err}");
    // Loopback without a token stays open and quiet.
    let (status, err) = serve_and_probe(dir.path(), &[], None);
    assert_eq!(status, 200, "{err}");
    assert!(!err.contains("WARN"), "{err}");
}

/// The one vector file of the one collection in `dir`.
fn vector_file(dir: &Path) -> std::path::PathBuf {
    let cols: Vec<_> = std::fs::read_dir(dir.join("collections"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cols.len(), 1, "{cols:?}");
    let file = cols[0].join("vectors.0.f32");
    assert!(file.is_file(), "{}", file.display());
    file
}

#[test]
fn inspect_fails_on_a_damaged_vector_file_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    drop(sample_db(dir.path(), 10));
    let p = dir.path().to_str().unwrap();
    let file = vector_file(dir.path());
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[..8].copy_from_slice(b"garbage!");
    std::fs::write(&file, &bytes).unwrap();
    let out = mnemodb(&["inspect", p]);
    let report = stdout(&out);
    fails_with(out, "inspect found 1 problem(s)");
    assert!(report.contains("consistency: 1 problem(s)"), "{report}");
    assert!(
        report.contains(&format!("notes: {}", file.display())),
        "{report}"
    );
    assert!(report.contains("what to do next:"), "{report}");
    assert!(
        report.contains(&format!(
            "notes: embeddings are stored only in the vector file and cannot be rebuilt from \
             the other files: stop every process using {p} and restore it from a backup"
        )),
        "{report}"
    );

    // A file shorter than its committed rows.
    let dir = tempfile::tempdir().unwrap();
    drop(sample_db(dir.path(), 10));
    let file = vector_file(dir.path());
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 4)
        .unwrap();
    // The engine refuses to open such a collection, so inspect stops there, non-zero too.
    fails_with(
        mnemodb(&["inspect", dir.path().to_str().unwrap()]),
        "10 slots are committed but the file holds 220 bytes of 224; the database may be \
         damaged: restore it from a backup",
    );
}

#[test]
fn inspect_fails_on_rows_changed_on_disk_and_names_the_slots() {
    let dir = tempfile::tempdir().unwrap();
    drop(sample_db(dir.path(), 10));
    let p = dir.path().to_str().unwrap();
    let file = vector_file(dir.path());
    let mut bytes = std::fs::read(&file).unwrap();
    // A byte inside the rows (past the 64-byte header): the file's shape stays valid.
    bytes[64 + 9] ^= 0x40;
    std::fs::write(&file, &bytes).unwrap();
    let out = mnemodb(&["inspect", p]);
    let report = stdout(&out);
    fails_with(out, "inspect found 1 problem(s)");
    assert!(
        report.contains(&format!(
            "{} slots 0..10: the rows do not match",
            file.display()
        )),
        "{report}"
    );
    assert!(
        report.contains("were changed on disk after they were written"),
        "{report}"
    );
}

#[test]
fn inspect_names_the_rebuild_for_a_damaged_filter_index() {
    let dir = tempfile::tempdir().unwrap();
    drop(sample_db(dir.path(), 10));
    let p = dir.path().to_str().unwrap();
    // Damage a derived table behind the engine's back, as a bug in the write path would.
    let raw = rusqlite::Connection::open(dir.path().join("mnemo.sqlite3")).unwrap();
    raw.execute("DELETE FROM record_metadata", []).unwrap();
    drop(raw);
    let out = mnemodb(&["inspect", p]);
    let report = stdout(&out);
    fails_with(out, "inspect found 1 problem(s)");
    let export = format!("`mnemodb export {p} --collection notes --out notes.jsonl`");
    assert!(report.contains(&export), "{report}");
    // The advice works: the rebuilt copy is sound and holds every record.
    let work = tempfile::tempdir().unwrap();
    let run_in = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mnemodb"))
            .args(args)
            .current_dir(work.path())
            .output()
            .unwrap()
    };
    ok(run_in(&[
        "export",
        p,
        "--collection",
        "notes",
        "--out",
        "notes.jsonl",
    ]));
    ok(run_in(&[
        "import",
        p,
        "notes.jsonl",
        "--collection",
        "notes-rebuilt",
    ]));
    let db = Database::open(dir.path()).unwrap();
    let copy = everything(&db, "notes-rebuilt");
    assert_eq!(copy.ids.len(), 10);
    let report = db.check().unwrap();
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.collection.as_deref() == Some("notes")),
        "{:?}",
        report.problems
    );
}

/// A copy of the Chroma directory chromadb 1.5.9 wrote for the engine's reader tests.
fn chroma_fixture(into: &Path) -> std::path::PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/data/chroma-1.5.9");
    let dest = into.join("chroma");
    copy(&src.join("chroma"), &dest);
    dest
}

#[test]
fn a_chroma_directory_is_named_as_such_until_import_chroma_copies_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = chroma_fixture(tmp.path());
    let p = dir.to_str().unwrap();
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../engine/tests/data/chroma-1.5.9/expected.json"),
        )
        .unwrap(),
    )
    .unwrap();

    // inspect says what it is and what to run; serve and compact refuse to start empty.
    let o = mnemodb(&["inspect", p]);
    let out = stdout(&o);
    assert!(out.contains("is a Chroma directory"), "{out}");
    assert!(
        out.contains("default_tenant/default_database/col-cosine"),
        "{out}"
    );
    fails_with(o, "mnemodb import-chroma");
    let served = mnemodb(&["serve", "--path", p, "--port", "0"]);
    assert_eq!(stdout(&served), "", "nothing announced a server");
    fails_with(served, "mnemodb import-chroma");
    fails_with(mnemodb(&["compact", p]), "mnemodb import-chroma");
    assert!(!dir.join("mnemo.sqlite3").exists());

    // Into another directory, then in place.
    let other = tmp.path().join("other");
    let out = ok(mnemodb(&["import-chroma", p, other.to_str().unwrap()]));
    assert!(out.contains("imported 4 collections"), "{out}");
    let out = ok(mnemodb(&["import-chroma", p]));
    assert!(out.contains("the Chroma files were not changed"), "{out}");
    for target in [&other, &dir] {
        let db = Database::open(target).unwrap();
        for (name, e) in expected.as_object().unwrap() {
            let col = db.get_collection(name).unwrap();
            assert_eq!(col.count().unwrap(), e["count"].as_u64().unwrap(), "{name}");
            let got = everything(&db, name);
            let ids: Vec<String> = serde_json::from_value(e["ids"].clone()).unwrap();
            assert_eq!(got.ids, ids, "{name}");
        }
    }
    let out = ok(mnemodb(&["inspect", p]));
    assert!(out.contains("consistency: ok"), "{out}");
    fails_with(mnemodb(&["import-chroma", p]), "already holds an import");
}
