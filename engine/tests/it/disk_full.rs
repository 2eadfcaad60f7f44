//! A full disk: writes on a small file system that fills up fail with a clear error and change
//! nothing; once space is freed the database opens, passes its check and accepts writes.
//!
//! The file system is a tmpfs mounted for the test, which needs root (CAP_SYS_ADMIN); where it
//! cannot be made the test says so and returns.

use std::path::PathBuf;
use std::process::Command;

use mnemodb::{AddBatch, Database, Error, GetRequest, Include, Space, Vectors};

const DIM: usize = 64;
const BATCH: usize = 20;

/// A tmpfs of a given size mounted over a temporary directory, unmounted on drop.
struct SmallVolume {
    dir: tempfile::TempDir,
}

impl SmallVolume {
    fn mount(size: &str) -> Result<SmallVolume, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(SmallVolume { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("db")
    }

    fn grow(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for SmallVolume {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn batch(from: usize) -> (Vec<String>, Vec<f32>, Vec<Option<String>>) {
    let ids = (from..from + BATCH).map(|i| format!("r{i:06}")).collect();
    let vectors = (0..BATCH * DIM)
        .map(|k| ((from * DIM + k) % 113) as f32 * 0.5)
        .collect();
    let docs = (from..from + BATCH)
        .map(|i| Some(format!("document {i} ").repeat(40)))
        .collect();
    (ids, vectors, docs)
}

fn add(c: &mnemodb::Collection, from: usize) -> mnemodb::Result<()> {
    let (ids, vectors, docs) = batch(from);
    c.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(&vectors, DIM),
        documents: Some(&docs),
        ..AddBatch::default()
    })
}

fn ids_and_docs(c: &mnemodb::Collection) -> (Vec<String>, Vec<Option<String>>) {
    let got = c
        .get(GetRequest {
            include: Include {
                documents: true,
                ..Include::default()
            },
            ..GetRequest::default()
        })
        .unwrap();
    (got.ids, got.documents.unwrap())
}

fn expected(records: usize) -> (Vec<String>, Vec<Option<String>>) {
    let mut ids = Vec::new();
    let mut docs = Vec::new();
    for from in (0..records).step_by(BATCH) {
        let (i, _, d) = batch(from);
        ids.extend(i);
        docs.extend(d);
    }
    (ids, docs)
}

#[test]
fn a_full_disk_refuses_the_write_changes_nothing_and_recovers_when_space_is_freed() {
    let volume = match SmallVolume::mount("3m") {
        Ok(v) => v,
        Err(why) => {
            println!("skipped: cannot mount a small tmpfs for the disk-full test ({why})");
            return;
        }
    };
    let path = volume.path();
    let db = Database::open(&path).unwrap();
    let c = db.create_collection("fill", Space::L2, None).unwrap();

    let mut acknowledged = 0;
    let err = loop {
        match add(&c, acknowledged) {
            Ok(()) => acknowledged += BATCH,
            Err(e) => break e,
        }
        assert!(acknowledged < 1_000_000, "a 3 MiB volume never filled");
    };
    assert!(acknowledged > 0, "some writes fit before the disk filled");
    assert!(
        matches!(err, Error::DiskFull { .. }),
        "a full disk is reported as such, not as {err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("no space left") && message.contains("free some space"),
        "{message}"
    );

    // Nothing of the refused write is visible, and every acknowledged one is.
    assert_eq!(c.count().unwrap(), acknowledged as u64);
    assert_eq!(ids_and_docs(&c), expected(acknowledged));
    // Further writes keep failing cleanly while the disk is full.
    assert!(add(&c, acknowledged).is_err());
    assert_eq!(c.count().unwrap(), acknowledged as u64);

    volume.grow("64m");
    add(&c, acknowledged).unwrap();
    acknowledged += BATCH;
    drop(c);
    drop(db);

    let db = Database::open(&path).unwrap();
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let c = db.get_collection("fill").unwrap();
    assert_eq!(ids_and_docs(&c), expected(acknowledged));
    add(&c, acknowledged).unwrap();
    assert_eq!(c.count().unwrap(), (acknowledged + BATCH) as u64);
    // The database closes before the volume is unmounted (a busy mount cannot be).
    drop(c);
    drop(db);
    drop(volume);
}
