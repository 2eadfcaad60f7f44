//! The collection API's semantics, case by case (as chromadb 1.5.9 behaves).

use mnemodb::{
    AddBatch, CollectionConfig, Database, Error, ErrorKind, GetRequest, HnswConfigUpdate, Include,
    Metadata, MetadataPatch, MetadataValue, QueryRequest, Space, UpdateBatch, Vectors,
};

use crate::support::{add, all_ids, ids, nearest};

fn both() -> Vec<(Database, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    vec![
        (Database::open(dir.path()).unwrap(), Some(dir)),
        (Database::in_memory().unwrap(), None),
    ]
}

#[test]
fn chroma_distance_examples() {
    for (db, _dir) in both() {
        for (space, expect) in [
            (Space::L2, [("b", 2.0), ("c", 5.0)]),
            (Space::Ip, [("c", -4.0), ("b", -3.0)]),
            (Space::Cosine, [("b", 0.2), ("c", 0.29289323)]),
        ] {
            let c = db
                .create_collection(&format!("c-{space}"), space, None)
                .unwrap();
            add(&c, &["b", "c"], &[1.0, 2.0, 3.0, -1.0]).unwrap();
            let got = nearest(&c, &[2.0, 1.0], 10);
            assert_eq!(got.len(), 2);
            for ((id, d), (eid, ed)) in got.iter().zip(expect) {
                assert_eq!(id, eid, "{space}");
                assert!((d - ed).abs() < 1e-6, "{space}: {d} vs {ed}");
            }
        }
    }
}

#[test]
fn add_existing_is_a_silent_no_op_and_get_is_in_insertion_order() {
    for (db, _dir) in both() {
        let c = db.create_collection("abc", Space::L2, None).unwrap();
        add(&c, &["b", "a"], &[1.0, 1.0, 2.0, 2.0]).unwrap();
        add(&c, &["a", "c"], &[9.0, 9.0, 3.0, 3.0]).unwrap();
        assert_eq!(all_ids(&c), ids(&["b", "a", "c"]));
        let got = c
            .get(GetRequest {
                ids: Some(&ids(&["c", "a", "zzz"])),
                include: Include {
                    embeddings: true,
                    ..Include::default()
                },
                ..GetRequest::default()
            })
            .unwrap();
        assert_eq!(got.ids, ids(&["a", "c"]));
        assert_eq!(got.embeddings.unwrap().data, vec![2.0, 2.0, 3.0, 3.0]);
        assert_eq!(c.count().unwrap(), 3);
    }
}

#[test]
fn failed_calls_change_nothing() {
    for (db, _dir) in both() {
        let c = db.create_collection("abc", Space::L2, None).unwrap();
        add(&c, &["a"], &[1.0, 2.0]).unwrap();
        let e = add(&c, &["x", "y"], &[1.0, 2.0, 3.0]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueError);
        assert_eq!(
            e.to_string(),
            "Unequal lengths for fields: ids: 2, embeddings: 3 in add."
        );
        let e = add(&c, &["x"], &[1.0, 2.0, 3.0]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::DimensionMismatch {
                    expected: 2,
                    got: 3
                }
            ),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "Collection expecting embedding with dimension of 2, got 3"
        );
        let e = add(&c, &["x", "x"], &[1.0, 2.0, 3.0, 4.0]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DuplicateId);
        assert!(matches!(add(&c, &[""], &[1.0, 2.0]), Err(Error::EmptyId)));
        assert!(matches!(
            add(&c, &["x", "y"], &[1.0, 2.0, f32::NAN, 0.0]),
            Err(Error::NonFiniteEmbedding { index: 1 })
        ));
        assert_eq!(all_ids(&c), ids(&["a"]));
        assert_eq!(c.stats().unwrap().slots, 1);
    }
}

#[test]
fn update_merges_and_upsert_inserts() {
    for (db, _dir) in both() {
        let c = db.create_collection("abc", Space::L2, None).unwrap();
        let meta: Metadata = [
            ("k".to_string(), MetadataValue::Int(1)),
            ("s".into(), "x".into()),
        ]
        .into();
        let i = ids(&["a", "b"]);
        c.add(AddBatch {
            ids: &i,
            embeddings: Vectors::new(&[0.0, 0.0, 5.0, 5.0], 2),
            documents: Some(&[Some("doc a".into()), None]),
            metadatas: Some(&[Some(meta.clone()), None]),
            ..AddBatch::default()
        })
        .unwrap();
        // Update: missing id skipped, doc None keeps, metadata merged, None removes a key.
        let patch: MetadataPatch = [("k".to_string(), None), ("n".into(), Some(2.5.into()))].into();
        let u = ids(&["a", "nope"]);
        c.update(UpdateBatch {
            ids: &u,
            embeddings: Some(Vectors::new(&[10.0, 10.0, 7.0, 7.0], 2)),
            documents: Some(&[None, Some("never".into())]),
            metadatas: Some(&[Some(patch), None]),
            ..UpdateBatch::default()
        })
        .unwrap();
        let got = c
            .get(GetRequest {
                include: Include::all_get(),
                ..GetRequest::default()
            })
            .unwrap();
        assert_eq!(got.ids, ids(&["a", "b"]));
        assert_eq!(
            got.documents.unwrap(),
            vec![Some("doc a".to_string()), None]
        );
        let expect: Metadata = [("n".to_string(), 2.5.into()), ("s".into(), "x".into())].into();
        assert_eq!(got.metadatas.unwrap(), vec![Some(expect), None]);
        assert_eq!(got.embeddings.unwrap().data, vec![10.0, 10.0, 5.0, 5.0]);
        assert_eq!(nearest(&c, &[10.0, 10.0], 1)[0].0, "a");
        let st = c.stats().unwrap();
        assert_eq!((st.records, st.slots, st.dead_slots), (2, 3, 1));
        // Upsert: c is new, b is updated in place.
        let u = ids(&["c", "b"]);
        c.upsert(UpdateBatch {
            ids: &u,
            embeddings: Some(Vectors::new(&[1.0, 1.0, 2.0, 2.0], 2)),
            documents: Some(&[Some("doc c".into()), Some("doc b".into())]),
            ..UpdateBatch::default()
        })
        .unwrap();
        assert_eq!(all_ids(&c), ids(&["a", "b", "c"]));
        assert_eq!(nearest(&c, &[2.0, 2.0], 1)[0].0, "b");
        assert_eq!(c.delete(&ids(&["b", "zz"])).unwrap(), 1);
        assert_eq!(c.compact_blocking().unwrap(), 3);
        assert_eq!(c.stats().unwrap().dead_slots, 0);
        assert_eq!(all_ids(&c), ids(&["a", "c"]));
        assert_eq!(nearest(&c, &[1.0, 1.0], 2)[0], ("c".to_string(), 0.0));
    }
}

#[test]
fn query_shapes() {
    for (db, _dir) in both() {
        let c = db.create_collection("abc", Space::L2, None).unwrap();
        let empty = c
            .query(QueryRequest {
                embeddings: &[1.0, 2.0, 3.0, 4.0],
                dim: 2,
                n_results: 3,
                ids: None,
                include: Include::query_default(),
            })
            .unwrap();
        assert_eq!(empty.len(), 2);
        assert!(empty.iter().all(|h| h.ids.is_empty()));
        add(&c, &["a", "b", "c"], &[0.0, 0.0, 1.0, 0.0, 0.0, 1.0]).unwrap();
        let restricted = c
            .query(QueryRequest {
                embeddings: &[0.0, 0.0],
                dim: 2,
                n_results: 10,
                ids: Some(&ids(&["c", "b"])),
                include: Include::query_default(),
            })
            .unwrap();
        // b and c tie at distance 1: insertion order decides.
        assert_eq!(restricted[0].ids, ids(&["b", "c"]));
        let e = c
            .query(QueryRequest {
                embeddings: &[0.0, 0.0],
                dim: 2,
                n_results: 0,
                ids: None,
                include: Include::query_default(),
            })
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TypeError);
        assert_eq!(
            e.to_string(),
            "Number of requested results 0, cannot be negative, or zero. in query."
        );
    }
}

#[test]
fn collections_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    assert!(matches!(
        db.create_collection("a", Space::L2, None),
        Err(Error::InvalidCollectionName(_))
    ));
    let c = db.create_collection("notes", Space::Cosine, None).unwrap();
    assert_eq!(
        db.create_collection("notes", Space::L2, None)
            .unwrap_err()
            .to_string(),
        "Collection [notes] already exists"
    );
    assert_eq!(
        db.get_or_create_collection("notes", Space::L2, None)
            .unwrap()
            .space(),
        Space::Cosine
    );
    add(&c, &["x"], &[1.0, 0.0]).unwrap();
    db.modify_collection("notes", Some("notes2"), None).unwrap();
    assert_eq!(c.name().unwrap(), "notes2");
    assert!(matches!(
        db.get_collection("notes"),
        Err(Error::CollectionNotFound(_))
    ));
    assert_eq!(db.list_collections().unwrap().len(), 1);
    db.delete_collection("notes2").unwrap();
    assert_eq!(c.count().unwrap_err().kind(), ErrorKind::NotFound);
    assert!(db.list_collections().unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(dir.path().join("collections"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let c = db.create_collection("notes", Space::L2, None).unwrap();
        add(&c, &["a", "b"], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        c.delete(&ids(&["a"])).unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    let c = db.get_collection("notes").unwrap();
    assert_eq!(all_ids(&c), ids(&["b"]));
    assert_eq!(nearest(&c, &[3.0, 4.0], 5), vec![("b".to_string(), 0.0)]);
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Database>();
    assert_send_sync::<mnemodb::Collection>();
}

#[test]
fn check_reports_filter_index_tables_out_of_step() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let c = db.create_collection("abc", Space::L2, None).unwrap();
    let i = ids(&["a", "b"]);
    let meta: Metadata = [("k".to_string(), MetadataValue::Int(1))].into();
    c.add(AddBatch {
        ids: &i,
        embeddings: Vectors::new(&[0.0, 0.0, 1.0, 1.0], 2),
        documents: Some(&[Some("hello world".into()), None]),
        metadatas: Some(&[Some(meta), None]),
        ..AddBatch::default()
    })
    .unwrap();
    assert!(db.check().unwrap().is_ok());
    // Damage the index tables behind the engine's back, as a bug in the write path would.
    let raw = rusqlite::Connection::open(dir.path().join("mnemo.sqlite3")).unwrap();
    raw.execute("DELETE FROM record_metadata", []).unwrap();
    let problems = db.check().unwrap().problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].kind, mnemodb::ProblemKind::FilterIndex);
    assert_eq!(problems[0].collection.as_deref(), Some("abc"));
    assert!(
        problems[0]
            .to_string()
            .starts_with("abc: 1 records with metadata have no metadata index rows"),
        "{problems:?}"
    );
}

#[test]
fn configuration_persists_and_only_mutable_settings_change() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = serde_json::json!({"hnsw": {"space": "cosine", "ef_search": 42}});
    let mut legacy = Metadata::new();
    legacy.insert("hnsw:M".into(), MetadataValue::Int(8));
    legacy.insert("hnsw:space".into(), MetadataValue::Str("ip".into()));
    {
        let db = Database::open(dir.path()).unwrap();
        let config = CollectionConfig::resolve(Some(&cfg), Some(&legacy)).unwrap();
        let c = db.create_collection("cfg", config, Some(&legacy)).unwrap();
        assert_eq!(c.space(), Space::Cosine);
        let update =
            HnswConfigUpdate::from_json(&serde_json::json!({"hnsw": {"ef_search": 7}})).unwrap();
        assert_eq!(c.modify_configuration(&update).unwrap().hnsw.ef_search, 7);
        // chromadb refuses a new distance through the legacy metadata key.
        let err = c.modify(None, Some(Some(&legacy))).unwrap_err();
        assert!(
            err.to_string().contains("Changing the distance function"),
            "{err}"
        );
    }
    let db = Database::open(dir.path()).unwrap();
    let info = db.get_collection("cfg").unwrap().info().unwrap();
    let hnsw = &info.configuration.hnsw;
    assert_eq!(
        (hnsw.space, hnsw.ef_search, hnsw.max_neighbors),
        (Space::Cosine, 7, 8)
    );
    assert_eq!(
        info.metadata,
        Some(legacy),
        "the legacy keys stay in the metadata verbatim"
    );
}

/// A collection filled through this process keeps its live-slots table up to date from its
/// own writes, from the first one on: the first read after a bulk load does not read every
/// record back out of SQLite (25 ms per 100k records). Another process's write (here a second
/// handle on the directory) makes the next read load it, and the answers stay right.
#[test]
fn reads_after_filling_a_new_collection_load_no_live_slots_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let c = db.create_collection("filled", Space::L2, None).unwrap();
    add(&c, &["a", "b"], &[1.0, 0.0, 0.0, 1.0]).unwrap();
    add(&c, &["c"], &[1.0, 1.0]).unwrap();
    c.delete(&ids(&["b"])).unwrap();
    assert_eq!(all_ids(&c), ids(&["a", "c"]));
    assert_eq!(nearest(&c, &[0.0, 1.0], 1)[0].0, "c");
    assert_eq!(mnemodb::testing::live_slots_loads(&c), 0);

    let other = Database::open(dir.path()).unwrap();
    let c2 = other.get_collection("filled").unwrap();
    add(&c2, &["d"], &[0.0, 1.0]).unwrap();
    assert_eq!(nearest(&c, &[0.0, 1.0], 1)[0].0, "d");
    assert_eq!(all_ids(&c), ids(&["a", "c", "d"]));
    assert_eq!(mnemodb::testing::live_slots_loads(&c), 1);
}
