//! Checksums of vector rows (issue 21): damaged vector data is found by reads, `check()` and
//! the scrub job, and named by file and slot range; it is never returned as numbers.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use mnemodb::{
    AddBatch, Database, Error, GetRequest, Include, JobState, ProblemKind, QueryRequest, Space,
    UpdateBatch, Vectors,
};

pub(crate) const DIM: usize = 8;

pub(crate) fn vector(i: usize) -> Vec<f32> {
    (0..DIM).map(|k| (i * DIM + k) as f32 * 0.25).collect()
}

pub(crate) fn add(c: &mnemodb::Collection, range: std::ops::Range<usize>) {
    let ids: Vec<String> = range.clone().map(|i| format!("r{i:05}")).collect();
    let vectors: Vec<f32> = range.flat_map(vector).collect();
    c.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(&vectors, DIM),
        ..AddBatch::default()
    })
    .unwrap();
}

fn embeddings_of(c: &mnemodb::Collection, ids: &[String]) -> mnemodb::Result<Vec<Vec<f32>>> {
    let got = c.get(GetRequest {
        ids: Some(ids),
        include: Include {
            embeddings: true,
            ..Include::default()
        },
        ..GetRequest::default()
    })?;
    let e = got.embeddings.unwrap_or_default();
    Ok(e.rows().map(<[f32]>::to_vec).collect())
}

/// The only vector file of the only collection in `dir`.
fn vector_file(dir: &Path) -> PathBuf {
    let mut found = Vec::new();
    for c in std::fs::read_dir(dir.join("collections"))
        .unwrap()
        .flatten()
    {
        for f in std::fs::read_dir(c.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.starts_with("vectors.") && name.ends_with(".f32") {
                found.push(f.path());
            }
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

/// Writes `bytes` over the rows of `slot` (64-byte header, then rows of DIM f32).
fn damage(file: &Path, slot: usize, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.write_all_at(bytes, (64 + slot * DIM * 4 + 4) as u64)
        .unwrap();
    f.sync_all().unwrap();
}

#[test]
fn damaged_rows_are_an_error_naming_file_and_slots_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let c = db.create_collection("sums", Space::L2, None).unwrap();
        // Several batches, so blocks are extended across writes.
        add(&c, 0..50);
        add(&c, 50..130);
        add(&c, 130..300);
        assert!(db.check().unwrap().is_ok());
    }
    let file = vector_file(dir.path());
    // Slot 150 is in block 2 (slots 128..192); NaN's bits, a value the API refuses on input.
    damage(&file, 150, &f32::NAN.to_le_bytes());

    let db = Database::open(dir.path()).unwrap();
    let c = db.get_collection("sums").unwrap();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();

    // Rows of other blocks still read; the damaged block is an error, not NaN.
    let fine = embeddings_of(&c, &["r00010".to_owned(), "r00250".to_owned()]).unwrap();
    assert_eq!(fine, vec![vector(10), vector(250)]);
    let err = embeddings_of(&c, &["r00140".to_owned()]).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&name) && msg.contains("slots 128..192"),
        "{msg}"
    );

    // An exact query scans every row: it must not rank on damaged numbers.
    let err = c
        .query(QueryRequest {
            embeddings: &vector(3),
            dim: DIM,
            n_results: 3,
            ids: None,
            include: Include::query_default(),
        })
        .unwrap_err();
    assert!(err.to_string().contains("slots 128..192"), "{err}");

    // check() names the file and the range.
    let report = db.check().unwrap();
    let sums: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::VectorChecksum)
        .collect();
    assert_eq!(sums.len(), 1, "{:?}", report.problems);
    assert!(sums[0].detail.contains("slots 128..192"), "{}", sums[0]);

    // The scrub job fails and says where.
    let job = db.scrub();
    assert_eq!(job.wait(None), JobState::Failed);
    let info = job.info();
    assert_eq!(info.done, info.total);
    let error = info.error.unwrap();
    assert!(
        error.contains("1 damaged block") && error.contains("slots 128..192"),
        "{error}"
    );
}

#[test]
fn checksums_follow_appends_updates_compaction_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let c = db.create_collection("sums", Space::Cosine, None).unwrap();
    // Batch sizes that start and end inside blocks, and one that spans several.
    for (from, to) in [(0, 1), (1, 3), (3, 64), (64, 65), (65, 200), (200, 263)] {
        add(&c, from..to);
        assert!(db.check().unwrap().is_ok(), "after adding {from}..{to}");
    }
    // Updates append new slots for the changed embeddings.
    let ids: Vec<String> = (10..40).map(|i| format!("r{i:05}")).collect();
    let vectors: Vec<f32> = (1000..1030).flat_map(vector).collect();
    c.update(UpdateBatch {
        ids: &ids,
        embeddings: Some(Vectors::new(&vectors, DIM)),
        ..UpdateBatch::default()
    })
    .unwrap();
    assert!(db.check().unwrap().is_ok());
    assert_eq!(db.scrub().wait(None), JobState::Done);
    // Compaction writes a new file with checksums of its own.
    assert!(c.compact_blocking().unwrap() > 0);
    assert!(db.check().unwrap().is_ok());
    add(&c, 263..300);
    drop(c);
    drop(db);

    let db = Database::open(dir.path()).unwrap();
    assert!(db.check().unwrap().is_ok());
    let c = db.get_collection("sums").unwrap();
    assert_eq!(
        embeddings_of(&c, &["r00011".to_owned(), "r00299".to_owned()]).unwrap(),
        vec![vector(1001), vector(299)]
    );
    assert_eq!(db.scrub().wait(None), JobState::Done);
}

/// A block verified once in this process is still checked by `check()` and the scrub, which
/// read the file afresh: damage that appears while the database is open is found.
#[test]
fn damage_after_a_verified_read_is_found_by_check_and_scrub() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let c = db.create_collection("sums", Space::L2, None).unwrap();
    add(&c, 0..200);
    assert_eq!(
        embeddings_of(&c, &["r00070".to_owned()]).unwrap(),
        vec![vector(70)]
    );
    damage(&vector_file(dir.path()), 70, &[0xff, 0xff, 0xff, 0x7f]);
    let report = db.check().unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::VectorChecksum && p.detail.contains("slots 64..128")),
        "{:?}",
        report.problems
    );
    assert_eq!(db.scrub().wait(None), JobState::Failed);
}

/// The short last block is remembered as verified with the rows it held, as a full block is
/// (a small collection's every query checksummed it afresh before): damage after a verified
/// read goes unseen by reads of the same rows (`check` and the scrub find it, above), and the
/// first read after the block grows verifies it again.
#[test]
fn the_short_last_block_is_verified_again_once_it_grows() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let c = db.create_collection("sums", Space::L2, None).unwrap();
    add(&c, 0..100); // block 1 holds slots 64..100
    let id = ["r00070".to_owned()];
    assert_eq!(embeddings_of(&c, &id).unwrap(), vec![vector(70)]);
    damage(&vector_file(dir.path()), 70, &[0xff, 0xff, 0xff, 0x7f]);
    assert!(embeddings_of(&c, &id).is_ok(), "verified before, not again");
    add(&c, 100..110);
    let err = embeddings_of(&c, &id).unwrap_err();
    assert!(err.to_string().contains("slots 64.."), "{err}");
}

/// A compaction copies rows into a new file with new checksums: damaged rows must stop it,
/// not come out verified.
#[test]
fn compaction_does_not_launder_damaged_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let c = db.create_collection("sums", Space::L2, None).unwrap();
    add(&c, 0..200);
    let dead: Vec<String> = (0..20).map(|i| format!("r{i:05}")).collect();
    c.delete(&dead).unwrap();
    let file = vector_file(dir.path());
    damage(&file, 100, &f32::NAN.to_le_bytes());
    let err = c.compact_blocking().unwrap_err();
    assert!(err.to_string().contains("slots 64..128"), "{err}");
    // The old generation is still the current one, and still found damaged.
    assert_eq!(vector_file(dir.path()), file);
    assert!(!db.check().unwrap().is_ok());
}

#[test]
fn in_memory_databases_checksum_too() {
    let db = Database::in_memory().unwrap();
    let c = db.create_collection("sums", Space::L2, None).unwrap();
    add(&c, 0..100);
    add(&c, 100..170);
    assert_eq!(db.scrub().wait(None), JobState::Done);
    assert_eq!(
        embeddings_of(&c, &["r00169".to_owned()]).unwrap(),
        vec![vector(169)]
    );
}
