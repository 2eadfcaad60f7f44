//! A collection's vector file replaced by arbitrary bytes: opening, reading and checking the
//! database give records or errors, never a panic, and never numbers from rows that do not
//! match their checksums.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mnemodb::{AddBatch, Database, GetRequest, Include, Space, Vectors};

const DIM: usize = 4;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let ids: Vec<String> = (0..70).map(|i| format!("r{i}")).collect();
    let vectors: Vec<f32> = (0..70 * DIM).map(|i| i as f32).collect();
    {
        let Ok(db) = Database::open(dir.path()) else { return };
        let Ok(c) = db.create_collection("fuzz", Space::L2, None) else { return };
        if c.add(AddBatch {
            ids: &ids,
            embeddings: Vectors::new(&vectors, DIM),
            ..AddBatch::default()
        })
        .is_err()
        {
            return;
        }
    }
    // Replace the file's body, keeping its name; the header comes from the input too.
    let Ok(collections) = std::fs::read_dir(dir.path().join("collections")) else { return };
    for c in collections.flatten() {
        let _ = std::fs::write(c.path().join("vectors.0.f32"), data);
    }
    let Ok(db) = Database::open(dir.path()) else { return };
    let _ = db.check();
    let Ok(c) = db.get_collection("fuzz") else { return };
    if let Ok(got) = c.get(GetRequest {
        include: Include {
            embeddings: true,
            ..Include::default()
        },
        ..GetRequest::default()
    }) {
        // Rows returned passed their checksums: they are the rows written.
        let e = got.embeddings.unwrap_or_default();
        for (id, row) in got.ids.iter().zip(e.rows()) {
            let i: usize = id[1..].parse().unwrap_or(0);
            assert_eq!(row, &vectors[i * DIM..(i + 1) * DIM], "{id}");
        }
    }
});
