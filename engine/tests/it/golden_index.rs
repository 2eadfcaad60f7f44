//! Golden derived files: a tiny database whose collections carry an HNSW graph file (format
//! version 2, `hnsw.<generation>.bin`) and a live-slots checkpoint (format version 1,
//! `live.<generation>.bin`), kept under `engine/tests/data/golden-hnsw-v2/`. An open must use
//! both (the graph loaded, not rebuilt; the live slots read from the checkpoint, not SQLite)
//! and answer queries as the data says; a file of another version is a format error, never
//! misread.
//!
//! The files are of generation 1 (written after a compaction) and the tables hold dead slots
//! (a deleted record, a record whose vector moved), so the slot numbering, tombstones and a
//! cosine graph's inverse norms are all covered. Sizes: a few KB of graph and checkpoint
//! (`M = 4`, about 40 nodes) beside the sidecar.
//!
//! Regenerate only when a format version changes (and then keep the old directory):
//! `MNEMODB_WRITE_GOLDEN=1 cargo test -p mnemodb --test it golden_index::write_golden_hnsw_v2 -- --ignored`

use std::path::{Path, PathBuf};

use mnemodb::{
    CollectionConfig, Database, Error, HnswConfig, Include, QueryRequest, SearchOptions, Space,
    UpdateBatch, Vectors, testing,
};

use crate::golden::{copy_dir, new_golden_dir};
use crate::support::{add, ids};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden-hnsw-v2")
}

const DIM: usize = 3;
/// The generation the files are of: the one compaction made.
const GENERATION: u64 = 1;
/// Graphs from this many slots on, in the writer and in the tests.
const MIN_SLOTS: u64 = 16;

fn config(space: Space) -> CollectionConfig {
    CollectionConfig {
        hnsw: HnswConfig {
            space,
            max_neighbors: 4,
            ..HnswConfig::default()
        },
        embedding_function: None,
    }
}

/// The vector of `p{i}` in the L2 collection: small integers, so every squared distance is
/// exact in f32 and ties break by insertion order alone.
fn point(i: usize) -> [f32; DIM] {
    [
        ((i * 37 + 11) % 23) as f32,
        ((i * 17 + 5) % 19) as f32,
        ((i * 7 + 3) % 11) as f32,
    ]
}

/// The vector of `c{i}` in the cosine collection: never zero, no two in one direction (so
/// each is its own nearest).
fn cos_point(i: usize) -> [f32; DIM] {
    [
        (i % 5) as f32 + 1.0,
        ((i * i) % 11) as f32,
        ((i * 7) % 13) as f32 - 6.0,
    ]
}

/// The L2 collection's live records after the writer's history, in insertion order:
/// `p0..p39`, every fifth deleted before the compaction; `p40..p47` after it, `p41`
/// deleted; `p11`'s vector replaced by `point(100)` (a new slot, the old one dead).
fn l2_records() -> Vec<(String, [f32; DIM])> {
    (0..48)
        .filter(|&i| !(i < 40 && i % 5 == 0) && i != 41)
        .map(|i| {
            let v = if i == 11 { point(100) } else { point(i) };
            (format!("p{i}"), v)
        })
        .collect()
}

fn flat(points: impl IntoIterator<Item = [f32; DIM]>) -> Vec<f32> {
    points.into_iter().flatten().collect()
}

fn write(dir: &Path) {
    let db = Database::open(dir).unwrap();
    testing::set_index_min_slots(&db, MIN_SLOTS);
    let l2 = db
        .create_collection("graph-l2", config(Space::L2), None)
        .unwrap();
    let names: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    add(&l2, &names, &flat((0..40).map(point))).unwrap();
    let gone: Vec<String> = (0..40).step_by(5).map(|i| format!("p{i}")).collect();
    assert_eq!(l2.delete(&gone).unwrap(), 8);
    assert_eq!(l2.compact_blocking().unwrap(), 8, "slots reclaimed");
    let names: Vec<String> = (40..48).map(|i| format!("p{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    add(&l2, &names, &flat((40..48).map(point))).unwrap();
    l2.update(UpdateBatch {
        ids: &ids(&["p11"]),
        embeddings: Some(Vectors::new(&point(100), 3)),
        ..UpdateBatch::default()
    })
    .unwrap();
    assert_eq!(l2.delete(&ids(&["p41"])).unwrap(), 1);
    l2.catch_up_index().unwrap();
    // The process saves the table it has read, for the last seq: read it now.
    assert_eq!(l2.count().unwrap(), l2_records().len() as u64);
    let stats = l2.stats().unwrap();
    assert_eq!(
        (stats.slots, stats.dead_slots, stats.indexed_slots),
        (41, 2, 41)
    );

    let cos = db
        .create_collection("graph-cosine", config(Space::Cosine), None)
        .unwrap();
    let names: Vec<String> = (0..25).map(|i| format!("c{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    add(&cos, &names, &flat((0..25).map(cos_point))).unwrap();
    // One dead slot, so compaction makes generation 1 here too.
    assert_eq!(cos.delete(&ids(&["c24"])).unwrap(), 1);
    assert_eq!(cos.compact_blocking().unwrap(), 1);
    cos.catch_up_index().unwrap();
    assert_eq!(cos.count().unwrap(), 24);
    let (l2_dir, cos_dir) = (collection_dir(dir, &l2), collection_dir(dir, &cos));
    drop((l2, cos, db));
    // Closing saved both derived files, for the generation compaction made.
    for cdir in [l2_dir, cos_dir] {
        assert_eq!(
            files_in(&cdir),
            ["hnsw.1.bin", "live.1.bin", "vectors.1.f32"],
            "{}",
            cdir.display()
        );
    }
}

#[test]
#[ignore = "writes the golden database; run only when a derived file's format version changes"]
fn write_golden_hnsw_v2() {
    write(&new_golden_dir(golden_dir()));
}

fn collection_dir(db_dir: &Path, c: &mnemodb::Collection) -> PathBuf {
    db_dir.join("collections").join(c.id().to_string())
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Ids and distances of the `k` nearest records to each query, by the collection's plan
/// (`exact: false`) or an exact scan.
fn search(
    c: &mnemodb::Collection,
    queries: &[f32],
    k: usize,
    exact: bool,
) -> Vec<(Vec<String>, Vec<f32>)> {
    c.query_with(
        QueryRequest {
            embeddings: queries,
            dim: DIM,
            n_results: k,
            ids: None,
            include: Include::query_default(),
        },
        None,
        None,
        SearchOptions {
            exact,
            ..SearchOptions::default()
        },
    )
    .unwrap()
    .into_iter()
    .map(|h| (h.ids, h.distances.unwrap()))
    .collect()
}

/// The `k` nearest of `records` to `q` by squared L2, ties by insertion order: the answer
/// worked out from the data alone.
fn brute_force_l2(
    records: &[(String, [f32; DIM])],
    q: &[f32],
    k: usize,
) -> (Vec<String>, Vec<f32>) {
    let mut scored: Vec<(f32, usize)> = records
        .iter()
        .enumerate()
        .map(|(ord, (_, v))| {
            let d: f32 = v.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum();
            (d, ord)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    scored.truncate(k);
    (
        scored.iter().map(|&(_, o)| records[o].0.clone()).collect(),
        scored.iter().map(|&(d, _)| d).collect(),
    )
}

/// A fresh copy of the golden database (opening may write: WAL files, recovery).
fn golden_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&golden_dir(), tmp.path());
    tmp
}

/// Queries of the L2 collection: every record's own vector, and points between them (halves
/// keep the squared distances exact).
fn l2_queries() -> Vec<f32> {
    let records = l2_records();
    let mut queries = flat(records.iter().map(|(_, v)| *v));
    queries.extend(flat((0..10).map(|i| point(i * 3).map(|x| x + 0.5))));
    queries
}

fn check_l2_answers(c: &mnemodb::Collection) {
    let records = l2_records();
    let queries = l2_queries();
    let k = 5;
    let got = search(c, &queries, k, false);
    for (q, hits) in queries.chunks_exact(DIM).zip(&got) {
        assert_eq!(*hits, brute_force_l2(&records, q, k), "query {q:?}");
    }
    // Each record's own vector finds it first (p11 at its new vector, p41 nowhere).
    for ((id, _), hits) in records.iter().zip(&got) {
        assert_eq!((&hits.0[0], hits.1[0]), (id, 0.0));
    }
}

#[test]
fn golden_hnsw_v2_and_live_v1_are_used_as_written() {
    let tmp = golden_copy();
    let db = Database::open(tmp.path()).unwrap();
    testing::set_index_min_slots(&db, MIN_SLOTS);
    let l2 = db.get_collection("graph-l2").unwrap();
    let cdir = collection_dir(tmp.path(), &l2);
    assert_eq!(
        files_in(&cdir),
        ["hnsw.1.bin", "live.1.bin", "vectors.1.f32"],
        "the open kept the derived files of the current generation"
    );
    let stats = l2.stats().unwrap();
    assert_eq!((stats.records, stats.slots, stats.dead_slots), (39, 41, 2));
    // Each file read on its own, as an open reads it.
    let hnsw = cdir.join(format!("hnsw.{GENERATION}.bin"));
    let live = cdir.join(format!("live.{GENERATION}.bin"));
    assert_eq!(testing::read_index_file(&hnsw, Space::L2).unwrap(), 41);
    assert_eq!(
        testing::read_live_checkpoint(&live).unwrap(),
        (stats.seq, 41, 39)
    );
    assert!(
        !testing::index_loaded_from_file(&l2).unwrap(),
        "nothing read yet"
    );

    check_l2_answers(&l2);
    assert!(
        testing::index_loaded_from_file(&l2).unwrap(),
        "the graph is the file's, not rebuilt"
    );
    assert!(
        testing::live_slots_from_checkpoint(&l2),
        "the live slots came from live.1.bin, not SQLite"
    );
    assert_eq!(l2.stats().unwrap().indexed_slots, 41);
    // The plan's answers are the exact scan's too.
    let queries = l2_queries();
    assert_eq!(
        search(&l2, &queries, 5, false),
        search(&l2, &queries, 5, true)
    );

    let cos = db.get_collection("graph-cosine").unwrap();
    let cdir = collection_dir(tmp.path(), &cos);
    assert_eq!(
        testing::read_index_file(&cdir.join("hnsw.1.bin"), Space::Cosine).unwrap(),
        24
    );
    let queries = flat((0..24).map(cos_point));
    let got = search(&cos, &queries, 4, false);
    assert_eq!(got, search(&cos, &queries, 4, true));
    for (i, hits) in got.iter().enumerate() {
        assert_eq!(hits.0[0], format!("c{i}"));
        assert!(hits.1[0].abs() < 1e-6, "c{i} at {}", hits.1[0]);
    }
    assert!(testing::index_loaded_from_file(&cos).unwrap());
    assert!(testing::live_slots_from_checkpoint(&cos));
    // A file holding norms read for another space is refused, not misread.
    assert!(matches!(
        testing::read_index_file(&cdir.join("hnsw.1.bin"), Space::L2),
        Err(Error::Corrupt { .. })
    ));
    assert!(db.check().unwrap().is_ok());
}

/// Overwrites the 4-byte format version of `path` (bytes 8..12 in both formats).
fn set_version(path: &Path, version: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[8..12].copy_from_slice(&version.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn derived_files_of_an_unknown_version_are_format_errors_never_misread() {
    let tmp = golden_copy();
    let cdir = {
        let db = Database::open(tmp.path()).unwrap();
        collection_dir(tmp.path(), &db.get_collection("graph-l2").unwrap())
    };
    let (hnsw, live) = (cdir.join("hnsw.1.bin"), cdir.join("live.1.bin"));
    set_version(&hnsw, 3);
    set_version(&live, 2);
    match testing::read_index_file(&hnsw, Space::L2) {
        Err(e @ Error::UnsupportedFormat { .. }) => {
            assert!(matches!(
                &e,
                Error::UnsupportedFormat { path, found: 3, supported: 2 } if *path == hnsw
            ));
            assert!(
                e.to_string().contains("format version 3 is not supported"),
                "{e}"
            );
        }
        other => panic!("expected UnsupportedFormat, got {other:?}"),
    }
    assert!(matches!(
        testing::read_live_checkpoint(&live),
        Err(Error::UnsupportedFormat { found: 2, supported: 1, ref path }) if *path == live
    ));
    // Damage other than the version is a corrupt file, naming it.
    let bad_magic = cdir.join("copy.bin");
    let mut bytes = std::fs::read(&live).unwrap();
    bytes[0] = b'X';
    std::fs::write(&bad_magic, bytes).unwrap();
    assert!(matches!(
        testing::read_live_checkpoint(&bad_magic),
        Err(Error::Corrupt { ref path, .. }) if *path == bad_magic
    ));
    std::fs::remove_file(&bad_magic).unwrap();

    // The database still opens and answers from the vectors: the graph rebuilt, the live
    // slots read from SQLite.
    let db = Database::open(tmp.path()).unwrap();
    testing::set_index_min_slots(&db, MIN_SLOTS);
    let l2 = db.get_collection("graph-l2").unwrap();
    l2.catch_up_index().unwrap();
    check_l2_answers(&l2);
    assert_eq!(l2.stats().unwrap().indexed_slots, 41);
    assert!(!testing::index_loaded_from_file(&l2).unwrap(), "rebuilt");
    assert!(
        !testing::live_slots_from_checkpoint(&l2),
        "read from SQLite"
    );
}
