//! Export and import through the codec: every record shape `add` accepts comes back bit for
//! bit in every format, a bad record leaves no collection behind, and files of export format
//! 1 still import.

use std::io::{BufRead, Read};

use mnemodb::codec::{self, Format, Value};
use mnemodb::{
    AddBatch, Database, GetRequest, GetResult, Include, Metadata, MetadataValue, Space, Vectors,
};
use proptest::prelude::*;

/// One record as `add` takes it.
#[derive(Debug, Clone)]
struct Rec {
    embedding: Vec<f32>,
    document: Option<String>,
    uri: Option<String>,
    metadata: Option<Metadata>,
}

fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<f32>().prop_filter("finite", |f| f.is_finite()),
        Just(-0.0f32),
        Just(f32::MIN_POSITIVE / 4.0),
        Just(f32::MAX),
        Just(0.1f32),
    ]
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        Just(-0.0),
        Just(0.1),
        Just(1.0),
        Just(f64::MAX),
    ]
}

/// Metadata values of every type chromadb allows.
fn metadata_value() -> impl Strategy<Value = MetadataValue> {
    prop_oneof![
        any::<bool>().prop_map(MetadataValue::Bool),
        any::<i64>().prop_map(MetadataValue::Int),
        finite_f64().prop_map(MetadataValue::Float),
        ".{0,10}".prop_map(MetadataValue::Str),
        proptest::collection::vec(any::<bool>(), 1..4).prop_map(MetadataValue::BoolList),
        proptest::collection::vec(any::<i64>(), 1..4).prop_map(MetadataValue::IntList),
        proptest::collection::vec(finite_f64(), 1..4).prop_map(MetadataValue::FloatList),
        proptest::collection::vec(".{0,6}", 1..4).prop_map(MetadataValue::StrList),
    ]
}

fn record(dim: usize) -> impl Strategy<Value = Rec> {
    (
        proptest::collection::vec(finite_f32(), dim),
        proptest::option::of(".{0,16}"),
        proptest::option::of("[a-z]{1,5}://[a-z/]{0,10}"),
        proptest::option::of(proptest::collection::btree_map(
            "[a-z_]{1,6}",
            metadata_value(),
            1..5,
        )),
    )
        .prop_map(|(embedding, document, uri, metadata)| Rec {
            embedding,
            document,
            uri,
            metadata,
        })
}

fn records() -> impl Strategy<Value = Vec<Rec>> {
    (1usize..6).prop_flat_map(|dim| proptest::collection::vec(record(dim), 1..24))
}

fn add(db: &Database, name: &str, recs: &[Rec]) {
    let col = db.create_collection(name, Space::Cosine, None).unwrap();
    let ids: Vec<String> = (0..recs.len()).map(|i| format!("id{i}")).collect();
    let dim = recs[0].embedding.len();
    let flat: Vec<f32> = recs.iter().flat_map(|r| r.embedding.clone()).collect();
    let documents: Vec<Option<String>> = recs.iter().map(|r| r.document.clone()).collect();
    let uris: Vec<Option<String>> = recs.iter().map(|r| r.uri.clone()).collect();
    let metadatas: Vec<Option<Metadata>> = recs.iter().map(|r| r.metadata.clone()).collect();
    col.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(&flat, dim),
        documents: Some(&documents),
        uris: Some(&uris),
        metadatas: Some(&metadatas),
    })
    .unwrap();
}

fn everything(db: &Database, name: &str) -> GetResult {
    db.get_collection(name)
        .unwrap()
        .get(GetRequest {
            include: Include::all_get(),
            ..GetRequest::default()
        })
        .unwrap()
}

/// The records as codec values, floats compared by their bits.
fn bits(got: &GetResult) -> Vec<Value> {
    let e = got.embeddings.clone().unwrap_or_default();
    (0..got.ids.len())
        .map(|i| {
            let doc = got.documents.as_ref().and_then(|d| d[i].clone());
            let uri = got.uris.as_ref().and_then(|u| u[i].clone());
            let meta = got.metadatas.as_ref().and_then(|m| m[i].clone());
            Value::List(vec![
                Value::Str(got.ids[i].clone()),
                Value::List(
                    e.row(i)
                        .iter()
                        .map(|f| Value::Int(i64::from(f.to_bits())))
                        .collect(),
                ),
                doc.map_or(Value::Null, Value::Str),
                uri.map_or(Value::Null, Value::Str),
                meta.as_ref().map_or(Value::Null, codec::metadata_to_value),
            ])
        })
        .collect()
}

fn same_records(a: &GetResult, b: &GetResult) -> bool {
    let (a, b) = (bits(a), bits(b));
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.same(y))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Every record shape `add` accepts (with or without documents, uris, metadata of every
    /// value type; any finite f32, -0.0 and subnormals included) survives export and import
    /// bit for bit, in every format, and so do the collection's configuration and metadata.
    #[test]
    fn every_record_shape_add_accepts_survives_export_and_import_bit_exact(recs in records()) {
        let src = Database::in_memory().unwrap();
        add(&src, "notes", &recs);
        let want = everything(&src, "notes");
        let info = src.get_collection("notes").unwrap().info().unwrap();
        for format in Format::ALL {
            let col = src.get_collection("notes").unwrap();
            let (n, bytes) = codec::export_to(&col, Vec::new(), format, &mut |_, _| {}).unwrap();
            prop_assert_eq!(n, recs.len() as u64);
            let dst = Database::in_memory().unwrap();
            let report = codec::import_from(&dst, bytes.as_slice(), "mem", None, &mut |_, _| {}).unwrap();
            prop_assert_eq!(report.records, recs.len() as u64);
            let got = everything(&dst, &report.name);
            prop_assert!(same_records(&got, &want), "{format}: {got:?} != {want:?}");
            let back = dst.get_collection("notes").unwrap().info().unwrap();
            prop_assert_eq!(&back.configuration, &info.configuration);
            prop_assert_eq!(&back.metadata, &info.metadata);
        }
    }
}

/// A record with a uri and no metadata: `get` gives `{}` for its metadata (as chromadb), which
/// export format 1 wrote and then could not import. It comes back with a uri and no metadata.
#[test]
fn a_record_with_a_uri_and_no_metadata_round_trips() {
    let src = Database::in_memory().unwrap();
    let recs = [Rec {
        embedding: vec![1.0, 2.0],
        document: None,
        uri: Some("s3://b".into()),
        metadata: None,
    }];
    add(&src, "notes", &recs);
    let want = everything(&src, "notes");
    assert_eq!(want.metadatas, Some(vec![Some(Metadata::new())]));
    for format in Format::ALL {
        let col = src.get_collection("notes").unwrap();
        let (_, bytes) = codec::export_to(&col, Vec::new(), format, &mut |_, _| {}).unwrap();
        let record = &codec::read_all(bytes.as_slice()).unwrap()[1];
        assert!(record.get("metadata").is_none(), "{format}: {record:?}");
        let dst = Database::in_memory().unwrap();
        codec::import_from(&dst, bytes.as_slice(), "mem", None, &mut |_, _| {}).unwrap();
        assert_eq!(everything(&dst, "notes"), want, "{format}");
    }
}

/// `lines` with line `bad` replaced by `with`.
fn replace_line(text: &str, bad: usize, with: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| if i + 1 == bad { with } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A bad record, in the parse or refused by the collection, fails the import naming its line
/// (or value), and leaves no collection, visible or hidden, nor its files; the corrected file
/// then imports under the same name.
#[test]
fn a_bad_record_leaves_no_collection_behind_and_a_rerun_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let src = Database::in_memory().unwrap();
    let recs: Vec<Rec> = (0..2500)
        .map(|i| Rec {
            embedding: vec![i as f32, 1.0],
            document: Some(format!("doc {i}")),
            uri: None,
            metadata: None,
        })
        .collect();
    add(&src, "notes", &recs);
    let path = dir.path().join("notes.jsonl");
    codec::export_file(
        &src,
        "notes",
        &path,
        "json".parse().unwrap(),
        &mut |_, _| {},
    )
    .unwrap();
    let good = std::fs::read_to_string(&path).unwrap();
    // Line 1 is the stream header, 2 the export header, records from 3 on. Line 2200 is in
    // the third batch of 1,000: two batches are already in when it fails.
    let cases = [
        (
            2200,
            r#"{"id":"x","embedding":"no"}"#.to_owned(),
            "line 2200",
            "an embedding must be",
        ),
        (
            2201,
            r#"{"id":"","embedding":[1.0,2.0]}"#.to_owned(),
            "line",
            "Empty ID",
        ),
        (
            2202,
            r#"{"id":"y","embedding":[1.0,2.0,3.0]}"#.to_owned(),
            "line 2202",
            "dimension 3, earlier records 2",
        ),
        (
            2203,
            r#"{"id":"z","embedding":[1.0,2.0],"metadata":{"k":{"nested":1}}}"#.to_owned(),
            "line 2203",
            "is not a metadata value",
        ),
    ];
    let db_dir = dir.path().join("db");
    for (line, with, at, says) in cases {
        let bad = dir.path().join("bad.jsonl");
        std::fs::write(&bad, replace_line(&good, line, &with)).unwrap();
        let db = Database::open(&db_dir).unwrap();
        let err = codec::import_file(&db, &bad, None, &mut |_, _| {}).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(at) && msg.contains(says), "{msg}");
        assert!(db.list_collections().unwrap().is_empty());
        let report = db.check().unwrap();
        assert_eq!(report.collections, 0, "no hidden collection either");
        assert!(report.is_ok(), "{:?}", report.problems);
        drop(db);
        let leftovers = std::fs::read_dir(db_dir.join("collections"))
            .unwrap()
            .count();
        assert_eq!(leftovers, 0, "no collection directory left");
    }
    let db = Database::open(&db_dir).unwrap();
    let report = codec::import_file(&db, &path, None, &mut |_, _| {}).unwrap();
    assert_eq!(report.records, 2500);
    assert!(same_records(
        &everything(&db, "notes"),
        &everything(&src, "notes")
    ));
    // A second import of the same name is refused before it reads a record.
    let err = codec::import_file(&db, &path, None, &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(db.check().unwrap().collections, 1);
}

/// A reader that fails (panics) after `after` bytes, as a process dying mid-import would stop.
struct DiesAfter<R> {
    inner: R,
    left: usize,
}

impl<R: Read> Read for DiesAfter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        assert!(self.left > 0, "the importer dies here");
        let n = buf.len().min(self.left);
        let got = self.inner.read(&mut buf[..n])?;
        self.left -= got;
        Ok(got)
    }
}

/// An importer that dies midway leaves a hidden collection nobody sees; the next open
/// removes it and its files.
#[test]
fn an_import_cut_short_is_invisible_and_removed_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let src = Database::in_memory().unwrap();
    let recs: Vec<Rec> = (0..3000)
        .map(|i| Rec {
            embedding: vec![i as f32; 4],
            document: None,
            uri: None,
            metadata: None,
        })
        .collect();
    add(&src, "notes", &recs);
    let col = src.get_collection("notes").unwrap();
    let (_, bytes) = codec::export_to(&col, Vec::new(), Format::ALL[4], &mut |_, _| {}).unwrap();
    let db = Database::open(dir.path()).unwrap();
    let reader = std::io::BufReader::with_capacity(
        64,
        DiesAfter {
            inner: bytes.as_slice(),
            left: bytes.len() * 2 / 3,
        },
    );
    let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let r: &mut dyn BufRead = &mut { reader };
        codec::import_from(&db, r, "mem", None, &mut |_, _| {})
    }));
    assert!(died.is_err(), "the reader panics");
    assert!(db.list_collections().unwrap().is_empty());
    assert_eq!(
        db.check().unwrap().collections,
        1,
        "the hidden one, half full"
    );
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(db.check().unwrap().collections, 0, "removed on open");
    assert_eq!(
        std::fs::read_dir(dir.path().join("collections"))
            .unwrap()
            .count(),
        0
    );
}

/// Files written by the exporter before codec streams (export format 1, JSON lines and
/// MessagePack) import, `"metadata": {}` of a record with a uri included.
#[test]
fn export_format_1_files_still_import() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/export-v1");
    let mut seen = Vec::new();
    for file in ["notes.jsonl", "notes.msgpack"] {
        let db = Database::in_memory().unwrap();
        let report = codec::import_file(&db, &data.join(file), None, &mut |_, _| {}).unwrap();
        assert_eq!((report.name.as_str(), report.records), ("notes", 4));
        let info = db.get_collection("notes").unwrap().info().unwrap();
        assert_eq!(info.space, Space::Cosine);
        assert_eq!(
            info.metadata.unwrap()["topic"],
            MetadataValue::Str("fruit".into())
        );
        let got = everything(&db, "notes");
        assert_eq!(got.ids, ["a", "b", "c", "d"]);
        assert_eq!(
            got.embeddings.as_ref().unwrap().row(2),
            [-0.0, 1e-30, 3.4e38]
        );
        assert_eq!(
            got.uris.as_ref().unwrap()[1].as_deref(),
            Some("s3://bucket/b")
        );
        let a = got.metadatas.as_ref().unwrap()[0].clone().unwrap();
        assert_eq!(a["fl"], MetadataValue::FloatList(vec![0.5, 1.5]));
        assert_eq!(a["l"], MetadataValue::IntList(vec![1, 2]));
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1]);
}
