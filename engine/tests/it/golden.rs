//! Golden databases: the same tiny database written by sidecar format versions 1 and 3, kept
//! under `engine/tests/data/golden-v1/` and `golden-v3/`, must keep opening with the same
//! contents (each is migrated to the current version on open).
//!
//! Besides records, they cover the filter indexes (metadata key/value rows, the documents' FTS
//! table, rebuilt by the migration to version 4) through filtered reads and `Database::check`.
//!
//! Written only when a new format version is introduced, by the code of the version before it,
//! into a directory that does not exist yet (old directories are kept):
//! `MNEMODB_WRITE_GOLDEN=1 cargo test -p mnemodb --test it golden::write_golden -- --ignored`
//! writes `golden_dir(CURRENT)`.

use std::path::{Path, PathBuf};

use mnemodb::{
    AddBatch, Database, GetRequest, Include, Metadata, MetadataPatch, MetadataValue, QueryRequest,
    Space, UpdateBatch, Vectors,
};

use serde_json::json;

use crate::support::ids;

/// The golden directory of sidecar format `version`.
fn golden_dir(version: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/golden-v{version}"))
}

/// The sidecar format version this code writes (`meta::schema`).
const CURRENT: u32 = 4;

fn record_meta(i: i64) -> Metadata {
    Metadata::from([
        ("int".to_string(), MetadataValue::Int(i)),
        ("float".to_string(), MetadataValue::Float(i as f64 + 0.5)),
        ("bool".to_string(), MetadataValue::Bool(i % 2 == 0)),
        ("str".to_string(), MetadataValue::Str(format!("s{i}"))),
        (
            "tags".to_string(),
            MetadataValue::StrList(vec!["x".into(), format!("t{i}")]),
        ),
    ])
}

fn write(dir: &Path) {
    let db = Database::open(dir).unwrap();
    let l2 = db.create_collection("golden-l2", Space::L2, None).unwrap();
    let i = ids(&["r0", "r1", "r2", "r3"]);
    let docs: Vec<Option<String>> = vec![
        Some("zero".into()),
        None,
        Some("two".into()),
        Some("three".into()),
    ];
    let metas: Vec<Option<Metadata>> = (0..4).map(|n| (n != 1).then(|| record_meta(n))).collect();
    l2.add(AddBatch {
        ids: &i,
        embeddings: Vectors::new(
            &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 3.0],
            3,
        ),
        documents: Some(&docs),
        metadatas: Some(&metas),
        uris: Some(&[None, Some("file:///r1".into()), None, None]),
    })
    .unwrap();
    // r2 moves to a new slot (a dead slot stays behind), r3 is deleted.
    l2.update(UpdateBatch {
        ids: &ids(&["r2"]),
        embeddings: Some(Vectors::new(&[5.0, 5.0, 5.0], 3)),
        metadatas: Some(&[Some(MetadataPatch::from([("int".to_string(), None)]))]),
        ..UpdateBatch::default()
    })
    .unwrap();
    l2.delete(&ids(&["r3"])).unwrap();
    // r4 is deleted by a filter: its metadata and document index rows go with it.
    l2.add(AddBatch {
        ids: &ids(&["r4"]),
        embeddings: Vectors::new(&[4.0, 0.0, 0.0], 3),
        documents: Some(&[Some("four".into())]),
        metadatas: Some(&[Some(record_meta(4))]),
        ..AddBatch::default()
    })
    .unwrap();
    let deleted = l2
        .delete_where(None, Some(&json!({"str": "s4"})), None, None)
        .unwrap();
    assert_eq!(deleted, 1);
    let coll_meta = Metadata::from([("owner".to_string(), MetadataValue::Str("tests".into()))]);
    let cos = db
        .create_collection("golden-cosine", Space::Cosine, Some(&coll_meta))
        .unwrap();
    cos.add(AddBatch {
        ids: &ids(&["c0", "c1"]),
        embeddings: Vectors::new(&[1.0, 0.0, 0.0, 1.0], 2),
        ..AddBatch::default()
    })
    .unwrap();
    db.create_collection("golden-empty", Space::Ip, None)
        .unwrap();
}

#[test]
#[ignore = "writes the golden database; run only when introducing a new format version"]
fn write_golden() {
    write(&new_golden_dir(golden_dir(CURRENT)));
}

/// `dir`, checked to be writable as a golden directory: asked for by name
/// (`MNEMODB_WRITE_GOLDEN`) and not there yet, since a released format is never rewritten.
pub(crate) fn new_golden_dir(dir: PathBuf) -> PathBuf {
    assert!(
        std::env::var_os("MNEMODB_WRITE_GOLDEN").is_some(),
        "set MNEMODB_WRITE_GOLDEN=1"
    );
    assert!(
        !dir.exists(),
        "{} exists: formats are never rewritten",
        dir.display()
    );
    dir
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn golden_v1_opens_with_its_contents() {
    opens_with_its_contents(1);
}

#[test]
fn golden_v3_opens_with_its_contents() {
    opens_with_its_contents(3);
}

fn opens_with_its_contents(version: u32) {
    // Work on a copy: opening recovers and may write (WAL files), never in the source tree.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&golden_dir(version), tmp.path());
    let db = Database::open(tmp.path()).unwrap();
    assert!(db.check().unwrap().is_ok());
    let names: Vec<String> = db
        .list_collections()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["golden-l2", "golden-cosine", "golden-empty"]);

    let l2 = db.get_collection("golden-l2").unwrap();
    let got = l2
        .get(GetRequest {
            include: Include::all_get(),
            ..GetRequest::default()
        })
        .unwrap();
    assert_eq!(got.ids, ids(&["r0", "r1", "r2"]));
    assert_eq!(
        got.embeddings.unwrap().data,
        vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 5.0, 5.0, 5.0]
    );
    assert_eq!(
        got.documents.unwrap(),
        vec![Some("zero".into()), None, Some("two".into())]
    );
    assert_eq!(
        got.uris.unwrap(),
        vec![None, Some("file:///r1".into()), None]
    );
    let mut r2 = record_meta(2);
    r2.remove("int");
    assert_eq!(
        got.metadatas.unwrap(),
        // r1 has a uri and no metadata: it reads back as `{}`, as in chromadb.
        vec![Some(record_meta(0)), Some(Metadata::new()), Some(r2)]
    );
    let stats = l2.stats().unwrap();
    assert_eq!((stats.records, stats.slots, stats.dead_slots), (3, 6, 3));
    // The metadata key/value rows and the document index of the old version answer filters.
    let filtered = |w: Option<serde_json::Value>, d: Option<serde_json::Value>| {
        l2.get(GetRequest {
            where_: w.as_ref(),
            where_document: d.as_ref(),
            ..GetRequest::default()
        })
        .unwrap()
        .ids
    };
    assert_eq!(filtered(Some(json!({"str": "s0"})), None), ids(&["r0"]));
    assert_eq!(
        filtered(Some(json!({"tags": {"$contains": "x"}})), None),
        ids(&["r0", "r2"])
    );
    assert_eq!(
        filtered(Some(json!({"int": {"$ne": 0}})), None),
        ids(&["r1", "r2"])
    );
    assert_eq!(
        filtered(Some(json!({"float": {"$gte": 2}})), None),
        ids(&["r2"])
    );
    assert_eq!(
        filtered(None, Some(json!({"$contains": "two"}))),
        ids(&["r2"])
    );
    assert_eq!(
        filtered(None, Some(json!({"$not_contains": "t"}))),
        ids(&["r0", "r1"])
    );
    assert_eq!(filtered(None, Some(json!({"$contains": "four"}))), ids(&[]));
    assert_eq!(filtered(Some(json!({"str": "s4"})), None), ids(&[]));
    let hits = l2
        .query_where(
            QueryRequest {
                embeddings: &[1.0, 0.0, 0.0],
                dim: 3,
                n_results: 5,
                ids: None,
                include: Include::query_default(),
            },
            Some(&json!({"bool": true})),
            Some(&json!({"$regex": "^t|o$"})),
        )
        .unwrap();
    assert_eq!(hits[0].ids, ids(&["r0", "r2"]));
    let hits = l2
        .query(QueryRequest {
            embeddings: &[1.0, 0.0, 0.0],
            dim: 3,
            n_results: 2,
            ids: None,
            include: Include::query_default(),
        })
        .unwrap();
    assert_eq!(hits[0].ids, ids(&["r1", "r0"]));
    assert_eq!(hits[0].distances.as_deref(), Some(&[0.0, 1.0][..]));

    let cos = db.get_collection("golden-cosine").unwrap();
    let info = cos.info().unwrap();
    assert_eq!((info.space, info.dimension), (Space::Cosine, Some(2)));
    assert_eq!(
        info.metadata.unwrap()["owner"],
        MetadataValue::Str("tests".into())
    );
    let empty = db.get_collection("golden-empty").unwrap().info().unwrap();
    assert_eq!((empty.space, empty.dimension), (Space::Ip, None));

    // Versions 1 and 2 are migrated to version 3 on open: records may expire from now on.
    cos.add_with(
        AddBatch {
            ids: &ids(&["c2"]),
            embeddings: Vectors::new(&[0.0, 1.0], 2),
            ..AddBatch::default()
        },
        mnemodb::WriteOptions {
            expiry: Some(mnemodb::Expiry::AtMs(0)),
            ..mnemodb::WriteOptions::default()
        },
    )
    .unwrap();
    assert_eq!(cos.count().unwrap(), 2);
    drop((l2, cos, db));
    let db = Database::open(tmp.path()).unwrap();
    assert!(db.check().unwrap().is_ok());
    assert_eq!(
        db.get_collection("golden-cosine").unwrap().count().unwrap(),
        2
    );
}
