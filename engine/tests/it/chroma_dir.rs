//! The Chroma directory reader and import, on a directory written by chromadb 1.5.9
//! (`tests/data/chroma-1.5.9/`, made by `tests/chroma_dir/make_fixture.py` with what chromadb
//! read back from it in `expected.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mnemodb::{
    ChromaDir, Database, Error, ErrorKind, GetRequest, Include, Metadata, Op, QueryRequest,
    SearchOptions, Space, import_chroma,
};
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/chroma-1.5.9")
}

fn expected() -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(fixture().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A copy of the fixture's Chroma directory in a temporary directory.
fn copy_of_fixture() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("chroma");
    copy_dir(&fixture().join("chroma"), &dest);
    (tmp, dest)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(snapshot(&e.path()));
        } else {
            out.insert(e.path(), std::fs::read(e.path()).unwrap());
        }
    }
    out
}

fn metadatas(v: &Value) -> Vec<Option<Metadata>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| mnemodb::request::metadata(m.clone(), Op::Add).unwrap())
        .collect()
}

fn strings(v: &Value) -> Vec<Option<String>> {
    serde_json::from_value(v.clone()).unwrap()
}

fn embeddings(v: &Value) -> Vec<f32> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    rows.into_iter().flatten().map(|x| x as f32).collect()
}

#[test]
fn every_collection_and_record_reads_as_chromadb_reads_it() {
    let dir = ChromaDir::open(fixture().join("chroma")).unwrap();
    let exp = expected();
    let collections = dir.collections().unwrap();
    let names: Vec<&str> = collections.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), exp.len());
    for c in &collections {
        let e = &exp[&c.name];
        assert!(c.is_default_database());
        assert_eq!(
            c.metadata,
            mnemodb::request::metadata(e["metadata"].clone(), Op::Add).unwrap(),
            "{}",
            c.name
        );
        assert_eq!(
            c.config.hnsw.space.as_str(),
            e["space"].as_str().unwrap_or("l2")
        );
        if c.name.starts_with("col-") {
            assert_eq!(c.config.hnsw.sync_threshold, 20);
        }
        let r = dir.records(c).unwrap();
        assert_eq!(
            r.ids.len() as u64,
            e["count"].as_u64().unwrap(),
            "{}",
            c.name
        );
        let want_ids: Vec<String> = serde_json::from_value(e["ids"].clone()).unwrap();
        assert_eq!(r.ids, want_ids, "{}", c.name);
        assert_eq!(r.embeddings, embeddings(&e["embeddings"]), "{}", c.name);
        assert_eq!(r.documents, strings(&e["documents"]), "{}", c.name);
        assert_eq!(r.uris, strings(&e["uris"]), "{}", c.name);
        assert_eq!(r.metadatas, metadatas(&e["metadatas"]), "{}", c.name);
    }
    let spaces: Vec<Space> = collections.iter().map(|c| c.config.hnsw.space).collect();
    for s in [Space::L2, Space::Ip, Space::Cosine] {
        assert!(spaces.contains(&s), "the fixture covers {s:?}");
    }
}

#[test]
fn a_chroma_directory_is_refused_until_imported_then_opens_with_everything() {
    let (_tmp, dir) = copy_of_fixture();
    let before = snapshot(&dir);
    let err = Database::open(&dir).unwrap_err();
    assert!(matches!(err, Error::ChromaDirectory { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::ChromaDirectory);
    assert!(err.to_string().contains("mnemodb import-chroma"), "{err}");
    assert!(
        !dir.join("mnemo.sqlite3").exists(),
        "the refusal wrote nothing"
    );

    let mut seen = 0;
    let report = import_chroma(&dir, &dir, &mut |_| seen += 1).unwrap();
    assert!(seen > 0);
    let exp = expected();
    assert_eq!(report.collections.len(), exp.len());
    for (name, n) in &report.collections {
        assert_eq!(*n, exp[name]["count"].as_u64().unwrap());
    }
    // Chroma's files are byte for byte as they were.
    let after = snapshot(&dir);
    for (path, bytes) in &before {
        assert_eq!(after.get(path), Some(bytes), "{} changed", path.display());
    }

    let db = Database::open(&dir).unwrap();
    for (name, e) in &exp {
        let col = db.get_collection(name).unwrap();
        assert_eq!(col.space().as_str(), e["space"].as_str().unwrap_or("l2"));
        let got = col
            .get(GetRequest {
                include: Include::all_get(),
                ..GetRequest::default()
            })
            .unwrap();
        let want_ids: Vec<String> = serde_json::from_value(e["ids"].clone()).unwrap();
        assert_eq!(got.ids, want_ids, "{name}");
        let emb = got.embeddings.unwrap();
        let flat: Vec<f32> = emb.rows().flatten().copied().collect();
        assert_eq!(flat, embeddings(&e["embeddings"]), "{name}");
        assert_eq!(got.documents.unwrap(), strings(&e["documents"]), "{name}");
        assert_eq!(got.uris.unwrap(), strings(&e["uris"]), "{name}");
        // chromadb (and mnemodb after it) shows a record with a uri and no metadata as `{}`;
        // expected.json writes every empty metadata as null.
        let got_metadatas: Vec<Option<Metadata>> = got
            .metadatas
            .unwrap()
            .into_iter()
            .map(|m| m.filter(|m| !m.is_empty()))
            .collect();
        assert_eq!(got_metadatas, metadatas(&e["metadatas"]), "{name}");
        let Some(q) = e.get("query") else { continue };
        let queries = [[1.0f32, 0.0, 0.0], [0.5, -2.0, 1.0], [3.0, 3.0, -1.0]];
        for (i, qv) in queries.iter().enumerate() {
            let hits = col
                .query_with(
                    QueryRequest {
                        embeddings: qv,
                        dim: 3,
                        n_results: 5,
                        ids: None,
                        include: Include::query_default(),
                    },
                    None,
                    None,
                    SearchOptions {
                        exact: true,
                        ..SearchOptions::default()
                    },
                )
                .unwrap();
            let want: Vec<String> = serde_json::from_value(q["ids"][i].clone()).unwrap();
            assert_eq!(hits[0].ids, want, "{name} query {i}");
            let dist: Vec<f64> = serde_json::from_value(q["distances"][i].clone()).unwrap();
            for (got, want) in hits[0].distances.as_ref().unwrap().iter().zip(dist) {
                assert!(
                    (f64::from(*got) - want).abs() <= 1e-4 * want.abs().max(1.0),
                    "{name} query {i}: {got} vs {want}"
                );
            }
        }
    }

    // A second import into the same place is refused; nothing changes.
    let again = import_chroma(&dir, &dir, &mut |_| {}).unwrap_err();
    assert!(
        again.to_string().contains("already holds an import"),
        "{again}"
    );
}

#[test]
fn an_import_into_a_directory_with_a_collection_of_the_same_name_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    {
        let db = Database::open(&dest).unwrap();
        db.create_collection("col-ip", Space::L2, None).unwrap();
    }
    let err = import_chroma(&fixture().join("chroma"), &dest, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("col-ip"), "{err}");
    let db = Database::open(&dest).unwrap();
    let names: Vec<String> = db
        .list_collections()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["col-ip"]);
    assert!(!dest.join(mnemodb::IMPORT_MARKER).exists());
}

#[test]
fn damaged_segment_files_are_named_errors_and_the_import_leaves_nothing() {
    let (_tmp, dir) = copy_of_fixture();
    let segments: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("index_metadata.pickle").is_file())
        .collect();
    assert_eq!(segments.len(), 3, "one flushed segment per space");
    // Each segment in turn, so a collection after those already copied fails too (the
    // import then deletes what it created).
    for (n, seg) in segments.iter().enumerate() {
        let level0 = seg.join("data_level0.bin");
        let full = std::fs::read(&level0).unwrap();
        for (file, damage) in [
            ("data_level0.bin", full[..full.len() / 3].to_vec()),
            ("header.bin", vec![1, 0, 0, 0]),
            ("index_metadata.pickle", b"\x80\x03}q\x00(X".to_vec()),
        ] {
            let path = seg.join(file);
            let good = std::fs::read(&path).unwrap();
            std::fs::write(&path, &damage).unwrap();
            let chroma = ChromaDir::open(&dir).unwrap();
            let failures: Vec<Error> = chroma
                .collections()
                .unwrap()
                .iter()
                .filter_map(|c| chroma.records(c).err())
                .collect();
            assert_eq!(failures.len(), 1, "{file}");
            match &failures[0] {
                Error::Corrupt { path: p, .. } => assert!(p.ends_with(file), "{}", p.display()),
                other => panic!("{file}: {other}"),
            }
            let dest = dir.parent().unwrap().join(format!("dest-{n}-{file}"));
            assert!(import_chroma(&dir, &dest, &mut |_| {}).is_err(), "{file}");
            let db = Database::open(&dest).unwrap();
            assert!(db.list_collections().unwrap().is_empty(), "{file}");
            assert!(!dest.join(mnemodb::IMPORT_MARKER).exists());
            std::fs::write(&path, &good).unwrap();
        }
    }
}
