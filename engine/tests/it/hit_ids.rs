//! Queries that return ids without documents or metadata take the ids from a per-process
//! table by slot instead of SQLite. These tests check that table never gives a stale id:
//! across adds, updates that move a record to a new slot, deletes, upserts, compactions, and
//! another `Database` handle on the same directory (a second process: its own per-process
//! state) writing and compacting between queries.

use std::collections::HashMap;

use mnemodb::{
    Collection, Database, Include, Metadata, MetadataValue, QueryRequest, Space, UpdateBatch,
    Vectors,
};

use crate::support::{Rng, add, vector_for};

const DIM: usize = 8;

fn query(c: &Collection, q: &[f32], k: usize, include: Include) -> mnemodb::QueryHits {
    c.query(QueryRequest {
        embeddings: q,
        dim: DIM,
        n_results: k,
        ids: None,
        include,
    })
    .unwrap()
    .remove(0)
}

fn ids_and_distances() -> Include {
    Include {
        distances: true,
        ..Include::default()
    }
}

/// Chroma's `l2`: the squared distance.
fn l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Checks `c` against the model (id -> version of its vector): every record's own vector
/// finds it first; a random query over everything gives the same ids with and without the
/// records table, each at the distance of that id's current vector.
fn check(c: &Collection, model: &HashMap<String, u64>, rng: &mut Rng, what: &str) {
    let n = model.len();
    let q: Vec<f32> = vector_for("probe", rng.next_u64(), DIM);
    if n == 0 {
        assert!(
            query(c, &q, 3, ids_and_distances()).ids.is_empty(),
            "{what}"
        );
        return;
    }
    // Twice: the first may read SQLite for ids the table lacks, the second reads the table.
    for pass in 0..2 {
        let only = query(c, &q, n, ids_and_distances());
        let mut got: Vec<&String> = only.ids.iter().collect();
        got.sort();
        let mut want: Vec<&String> = model.keys().collect();
        want.sort();
        assert_eq!(
            got, want,
            "{what} (pass {pass}): ids-only query over everything"
        );
        for (id, d) in only.ids.iter().zip(only.distances.as_ref().unwrap()) {
            let v = vector_for(id, model[id], DIM);
            assert!(
                (d - l2(&q, &v)).abs() <= 1e-4 * (1.0 + d.abs()),
                "{what} (pass {pass}): {id} at {d}, its vector is at {}",
                l2(&q, &v)
            );
        }
        let bare = query(c, &q, n, Include::default());
        assert_eq!(bare.ids, only.ids, "{what}: without distances");
        let with_vectors = query(
            c,
            &q,
            n,
            Include {
                embeddings: true,
                ..Include::default()
            },
        );
        assert_eq!(with_vectors.ids, only.ids, "{what}: with embeddings");
        let full = query(c, &q, n, Include::query_default());
        assert_eq!(full.ids, only.ids, "{what}: chroma's include");
    }
    // Each record's own vector (all distinct) finds it at distance 0.
    let mut sample: Vec<(&String, &u64)> = model.iter().collect();
    sample.sort();
    for (id, &version) in sample.into_iter().filter(|_| rng.chance(1, 3)) {
        let hit = query(c, &vector_for(id, version, DIM), 1, ids_and_distances());
        assert_eq!(
            hit.ids,
            std::slice::from_ref(id),
            "{what}: {id} by its vector"
        );
        assert_eq!(hit.distances.unwrap(), [0.0], "{what}: {id}");
    }
}

/// One random write through `c`, applied to the model too. Returns what it did.
fn random_write(
    c: &Collection,
    model: &mut HashMap<String, u64>,
    gone: &mut Vec<String>,
    next: &mut usize,
    rng: &mut Rng,
) -> String {
    let pick = |model: &HashMap<String, u64>, rng: &mut Rng| -> Option<String> {
        let mut ids: Vec<&String> = model.keys().collect();
        ids.sort();
        (!ids.is_empty()).then(|| ids[rng.below(ids.len() as u64) as usize].clone())
    };
    match rng.below(8) {
        0 | 1 => {
            let k = rng.range(1, 3) as usize;
            let ids: Vec<String> = (0..k).map(|i| format!("r{}", *next + i)).collect();
            *next += k;
            let embeddings: Vec<f32> = ids.iter().flat_map(|id| vector_for(id, 0, DIM)).collect();
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            add(c, &refs, &embeddings).unwrap();
            for id in &ids {
                model.insert(id.clone(), 0);
            }
            format!("add {ids:?}")
        }
        2 => {
            let Some(id) = pick(model, rng) else {
                return "nothing".into();
            };
            let version = model[&id] + 1;
            let embeddings = vector_for(&id, version, DIM);
            c.update(UpdateBatch {
                ids: std::slice::from_ref(&id),
                embeddings: Some(Vectors::new(&embeddings, DIM)),
                ..UpdateBatch::default()
            })
            .unwrap();
            model.insert(id.clone(), version);
            format!("update {id} to a new slot")
        }
        3 => {
            let Some(id) = pick(model, rng) else {
                return "nothing".into();
            };
            let mut m = Metadata::new();
            m.insert("v".into(), MetadataValue::Int(rng.below(100) as i64));
            let patch: mnemodb::MetadataPatch = m.into_iter().map(|(k, v)| (k, Some(v))).collect();
            c.update(UpdateBatch {
                ids: std::slice::from_ref(&id),
                documents: Some(&[Some(format!("doc {}", rng.below(100)))]),
                metadatas: Some(&[Some(patch)]),
                ..UpdateBatch::default()
            })
            .unwrap();
            format!("update {id} in place")
        }
        4 => {
            // One existing record (new vector, new slot) and one new or re-used id.
            let mut ids: Vec<String> = pick(model, rng).into_iter().collect();
            let fresh = match gone.pop() {
                Some(id) if rng.chance(1, 2) => id,
                other => {
                    gone.extend(other);
                    *next += 1;
                    format!("r{}", *next - 1)
                }
            };
            ids.push(fresh);
            let versions: Vec<u64> = ids
                .iter()
                .map(|id| model.get(id).map_or(0, |v| v + 1) + u64::from(gone.contains(id)))
                .collect();
            let embeddings: Vec<f32> = ids
                .iter()
                .zip(&versions)
                .flat_map(|(id, &v)| vector_for(id, v, DIM))
                .collect();
            c.upsert(UpdateBatch {
                ids: &ids,
                embeddings: Some(Vectors::new(&embeddings, DIM)),
                ..UpdateBatch::default()
            })
            .unwrap();
            for (id, v) in ids.iter().zip(versions) {
                model.insert(id.clone(), v);
            }
            format!("upsert {ids:?}")
        }
        5 => {
            let Some(id) = pick(model, rng) else {
                return "nothing".into();
            };
            assert_eq!(c.delete(std::slice::from_ref(&id)).unwrap(), 1);
            model.remove(&id);
            gone.push(id.clone());
            format!("delete {id}")
        }
        6 => {
            // A deleted id comes back, at a new slot, with a vector of a new version.
            let Some(id) = gone.pop() else {
                return "nothing".into();
            };
            let version = 1000 + rng.below(1000);
            let embeddings = vector_for(&id, version, DIM);
            c.upsert(UpdateBatch {
                ids: std::slice::from_ref(&id),
                embeddings: Some(Vectors::new(&embeddings, DIM)),
                ..UpdateBatch::default()
            })
            .unwrap();
            model.insert(id.clone(), version);
            format!("re-add {id}")
        }
        _ => format!("compact (reclaimed {})", c.compact_blocking().unwrap()),
    }
}

/// Two handles on one directory take turns writing at random; both query after every write,
/// so each has a table filled from the layout the other's write (often a compaction) changes.
#[test]
fn ids_only_queries_agree_with_the_records_across_writes_and_handles() {
    let seed = 0x6869_7473;
    let tmp = tempfile::tempdir().unwrap();
    let a = Database::open(tmp.path()).unwrap();
    let b = Database::open(tmp.path()).unwrap();
    let ca = a.create_collection("hits", Space::L2, None).unwrap();
    let cb = b.get_collection("hits").unwrap();
    let mut rng = Rng::new(seed);
    let mut model: HashMap<String, u64> = HashMap::new();
    let (mut gone, mut next) = (Vec::new(), 0);
    for step in 0..160 {
        let writer = if rng.chance(1, 2) { &ca } else { &cb };
        let did = random_write(writer, &mut model, &mut gone, &mut next, &mut rng);
        for (name, c) in [("a", &ca), ("b", &cb)] {
            check(
                c,
                &model,
                &mut rng,
                &format!("seed {seed:#x} step {step} ({did}), handle {name}"),
            );
        }
    }
    assert!(a.check().unwrap().is_ok());
}

/// The same in one in-memory database (one handle: every write is this process's own).
#[test]
fn ids_only_queries_agree_with_the_records_in_memory() {
    let db = Database::in_memory().unwrap();
    let c = db.create_collection("hits", Space::L2, None).unwrap();
    let mut rng = Rng::new(7);
    let mut model: HashMap<String, u64> = HashMap::new();
    let (mut gone, mut next) = (Vec::new(), 0);
    for step in 0..120 {
        let did = random_write(&c, &mut model, &mut gone, &mut next, &mut rng);
        check(&c, &model, &mut rng, &format!("step {step} ({did})"));
    }
}

/// The case a table without generations would get wrong: after another handle compacts, a
/// slot this handle has an id for holds another record.
#[test]
fn another_handles_compaction_renumbers_slots_this_handle_has_ids_for() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Database::open(tmp.path()).unwrap();
    let b = Database::open(tmp.path()).unwrap();
    let ca = a.create_collection("hits", Space::L2, None).unwrap();
    let cb = b.get_collection("hits").unwrap();
    add(
        &ca,
        &["x", "y"],
        &[vector_for("x", 0, DIM), vector_for("y", 0, DIM)].concat(),
    )
    .unwrap();
    let q = vector_for("x", 0, DIM);
    assert_eq!(query(&ca, &q, 2, ids_and_distances()).ids.len(), 2);
    // Slot 0 was x, slot 1 y; after the compaction y is at slot 0 and z takes slot 1.
    assert_eq!(cb.delete(&["x".to_owned()]).unwrap(), 1);
    assert_eq!(cb.compact_blocking().unwrap(), 1);
    add(&cb, &["z"], &vector_for("z", 0, DIM)).unwrap();
    let hit = query(&ca, &vector_for("z", 0, DIM), 1, ids_and_distances());
    assert_eq!(hit.ids, ["z"]);
    assert_eq!(hit.distances.unwrap(), [0.0]);
    let hit = query(&ca, &vector_for("y", 0, DIM), 1, ids_and_distances());
    assert_eq!(hit.ids, ["y"]);
    // And again, the table now being of the new generation: b compacts once more.
    cb.update(UpdateBatch {
        ids: &["y".to_owned()],
        embeddings: Some(Vectors::new(&vector_for("y", 1, DIM), DIM)),
        ..UpdateBatch::default()
    })
    .unwrap();
    assert_eq!(cb.compact_blocking().unwrap(), 1);
    let mut all = query(&ca, &q, 5, Include::default()).ids;
    all.sort();
    assert_eq!(all, ["y", "z"]);
    let hit = query(&ca, &vector_for("y", 1, DIM), 1, ids_and_distances());
    assert_eq!(hit.ids, ["y"]);
    assert_eq!(hit.distances.unwrap(), [0.0]);
}
