//! Model-based test: random sequences of writes and reads against a plain in-memory model with
//! exact top-k; the engine must give identical results (file-backed, with reopens, and in
//! memory).
//!
//! Vectors have small integer coordinates, so every distance is computed exactly in f32 by
//! both sides and ties are frequent: the tie-break (insertion order) is checked too.

use mnemodb::{
    AddBatch, Database, GetRequest, Include, Metadata, MetadataPatch, MetadataValue, QueryRequest,
    Space, UpdateBatch, Vectors,
};
use proptest::prelude::*;

const DIM: usize = 3;
const IDS: &[&str] = &["a", "b", "c", "d", "e", "f", "g", "h"];

/// A record to add: id index, vector, document number, metadata number.
type AddItem = (usize, [i8; DIM], Option<u8>, Option<u8>);
/// A record to upsert or update: id index, vector (optional for update), document number, and
/// a metadata patch (`Some(None)` removes the key "n").
type UpsertItem = (usize, [i8; DIM], Option<u8>, Option<Option<u8>>);
type UpdateOp = (usize, Option<[i8; DIM]>, Option<u8>, Option<Option<u8>>);

#[derive(Debug, Clone)]
enum Op {
    Add(Vec<AddItem>),
    Upsert(Vec<UpsertItem>),
    Update(Vec<UpdateOp>),
    Delete(Vec<usize>),
    Get(Option<Vec<usize>>, Option<usize>, usize),
    Query([i8; DIM], usize, Option<Vec<usize>>),
    Compact,
    Reopen,
}

/// A record in the model: insertion order is the position in `Model::records`.
#[derive(Debug, Clone, PartialEq)]
struct Rec {
    id: String,
    emb: Vec<f32>,
    doc: Option<String>,
    meta: Option<Metadata>,
}

#[derive(Debug, Default)]
struct Model {
    records: Vec<Rec>,
    /// Whether a write with vectors has fixed the collection's dimension (even an update that
    /// matched nothing): from then on chromadb checks query ids, before it returns nothing.
    dimension_fixed: bool,
}

fn vector(v: [i8; DIM]) -> Vec<f32> {
    v.iter().map(|&x| f32::from(x)).collect()
}
fn doc(n: u8) -> String {
    format!("doc {n}")
}
fn meta(n: u8) -> Metadata {
    [
        ("n".to_string(), MetadataValue::Int(i64::from(n))),
        ("even".into(), n.is_multiple_of(2).into()),
    ]
    .into()
}
/// Patch: `Some(n)` sets "n" (and "even"), `None` removes "n".
fn patch(p: Option<u8>) -> MetadataPatch {
    match p {
        Some(n) => meta(n).into_iter().map(|(k, v)| (k, Some(v))).collect(),
        None => [("n".to_string(), None)].into(),
    }
}

fn dedup<T: Clone>(items: &[(usize, T)]) -> Vec<(usize, T)> {
    let mut seen = std::collections::HashSet::new();
    items
        .iter()
        .filter(|(i, _)| seen.insert(*i))
        .cloned()
        .collect()
}

fn distance(space: Space, a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    match space {
        Space::L2 => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
        Space::Ip => 1.0 - dot,
        Space::Cosine => {
            let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
            let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
            1.0 - dot / (na * nb + 1e-30)
        }
    }
}

impl Model {
    fn find(&self, id: &str) -> Option<usize> {
        self.records.iter().position(|r| r.id == id)
    }

    fn merge(old: Option<Metadata>, p: &MetadataPatch) -> Option<Metadata> {
        let mut m = old.unwrap_or_default();
        for (k, v) in p {
            match v {
                Some(v) => m.insert(k.clone(), v.clone()),
                None => m.remove(k),
            };
        }
        (!m.is_empty()).then_some(m)
    }
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let id = 0..IDS.len();
    let v = || prop::array::uniform3(-3i8..=3);
    let small = || prop::option::of(0u8..4);
    let pat = || prop::option::of(prop::option::of(0u8..4));
    prop_oneof![
        3 => prop::collection::vec((id.clone(), v(), small(), small()), 1..4).prop_map(Op::Add),
        2 => prop::collection::vec((id.clone(), v(), small(), pat()), 1..4).prop_map(Op::Upsert),
        2 => prop::collection::vec((id.clone(), prop::option::of(v()), small(), pat()), 1..4).prop_map(Op::Update),
        1 => prop::collection::vec(id.clone(), 1..3).prop_map(Op::Delete),
        2 => (prop::option::of(prop::collection::vec(id.clone(), 1..4)), prop::option::of(0usize..5), 0usize..4)
            .prop_map(|(ids, limit, offset)| Op::Get(ids, limit, offset)),
        3 => (v(), 1usize..6, prop::option::of(prop::collection::vec(id.clone(), 0..4)))
            .prop_map(|(q, k, ids)| Op::Query(q, k, ids)),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

fn names(ix: &[usize]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for &i in ix {
        if !out.iter().any(|s| s == IDS[i]) {
            out.push(IDS[i].to_string());
        }
    }
    out
}

fn run(space: Space, ops: &[Op], on_disk: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        if on_disk {
            Database::open(dir.path()).unwrap()
        } else {
            Database::in_memory().unwrap()
        }
    };
    let mut db = open();
    let mut col = db.create_collection("model", space, None).unwrap();
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Add(items) => {
                let items = dedup(
                    &items
                        .iter()
                        .map(|(i, v, d, m)| (*i, (*v, *d, *m)))
                        .collect::<Vec<_>>(),
                );
                let ids: Vec<String> = items.iter().map(|(i, _)| IDS[*i].to_string()).collect();
                let emb: Vec<f32> = items.iter().flat_map(|(_, (v, _, _))| vector(*v)).collect();
                let docs: Vec<Option<String>> =
                    items.iter().map(|(_, (_, d, _))| d.map(doc)).collect();
                let metas: Vec<Option<Metadata>> =
                    items.iter().map(|(_, (_, _, m))| m.map(meta)).collect();
                model.dimension_fixed = true;
                col.add(AddBatch {
                    ids: &ids,
                    embeddings: Vectors::new(&emb, DIM),
                    documents: Some(&docs),
                    metadatas: Some(&metas),
                    uris: None,
                })
                .unwrap();
                for (k, id) in ids.iter().enumerate() {
                    if model.find(id).is_none() {
                        model.records.push(Rec {
                            id: id.clone(),
                            emb: emb[k * DIM..(k + 1) * DIM].to_vec(),
                            doc: docs[k].clone(),
                            meta: metas[k].clone(),
                        });
                    }
                }
            }
            Op::Upsert(items) => {
                let items = dedup(
                    &items
                        .iter()
                        .map(|(i, v, d, m)| (*i, (Some(*v), *d, *m)))
                        .collect::<Vec<_>>(),
                );
                apply_update(&col, &mut model, &items, true);
            }
            Op::Update(items) => {
                let items = dedup(
                    &items
                        .iter()
                        .map(|(i, v, d, m)| (*i, (*v, *d, *m)))
                        .collect::<Vec<_>>(),
                );
                // One call gives embeddings for all records or none.
                let all = items.iter().all(|(_, (v, _, _))| v.is_some());
                let items: Vec<_> = items
                    .into_iter()
                    .map(|(i, (v, d, m))| (i, (if all { v } else { None }, d, m)))
                    .collect();
                apply_update(&col, &mut model, &items, false);
            }
            Op::Delete(ix) => {
                let ids = names(ix);
                let n = col.delete(&ids).unwrap();
                let before = model.records.len();
                model.records.retain(|r| !ids.contains(&r.id));
                prop_assert_eq!(n as usize, before - model.records.len());
            }
            Op::Get(ix, limit, offset) => {
                let ids = ix.as_ref().map(|ix| names(ix));
                let got = col
                    .get(GetRequest {
                        ids: ids.as_deref(),
                        limit: *limit,
                        offset: *offset,
                        include: Include::all_get(),
                        ..GetRequest::default()
                    })
                    .unwrap();
                let expect: Vec<&Rec> = model
                    .records
                    .iter()
                    .filter(|r| ids.as_ref().is_none_or(|ids| ids.contains(&r.id)))
                    .skip(*offset)
                    .take(limit.unwrap_or(usize::MAX))
                    .collect();
                prop_assert_eq!(
                    &got.ids,
                    &expect.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
                );
                prop_assert_eq!(
                    got.documents.unwrap(),
                    expect.iter().map(|r| r.doc.clone()).collect::<Vec<_>>()
                );
                prop_assert_eq!(
                    got.metadatas.unwrap(),
                    expect.iter().map(|r| r.meta.clone()).collect::<Vec<_>>()
                );
                let emb = got.embeddings.unwrap();
                prop_assert_eq!(
                    emb.data,
                    expect
                        .iter()
                        .flat_map(|r| r.emb.clone())
                        .collect::<Vec<_>>()
                );
            }
            Op::Query(q, k, ix) => {
                let ids = ix.as_ref().map(|ix| names(ix));
                let qv = vector(*q);
                let result = col.query(QueryRequest {
                    embeddings: &qv,
                    dim: DIM,
                    n_results: *k,
                    ids: ids.as_deref(),
                    include: Include::all(),
                });
                // As chromadb: restricting a query to an id the collection lacks is an error.
                let missing: Vec<String> = ids
                    .iter()
                    .flatten()
                    .filter(|id| model.find(id).is_none())
                    .cloned()
                    .collect();
                if !missing.is_empty() && model.dimension_fixed {
                    match result {
                        Err(mnemodb::Error::QueryIdsNotFound(got)) => prop_assert_eq!(got, missing),
                        other => prop_assert!(false, "expected QueryIdsNotFound, got {other:?}"),
                    }
                    continue;
                }
                let hits = result.unwrap();
                if !model.dimension_fixed {
                    prop_assert!(hits[0].ids.is_empty());
                    continue;
                }
                let mut expect: Vec<(f32, usize, &Rec)> = model
                    .records
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| ids.as_ref().is_none_or(|ids| ids.contains(&r.id)))
                    .map(|(ord, r)| (distance(space, &qv, &r.emb), ord, r))
                    .collect();
                expect.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                expect.truncate(*k);
                let h = &hits[0];
                prop_assert_eq!(
                    &h.ids,
                    &expect.iter().map(|e| e.2.id.clone()).collect::<Vec<_>>()
                );
                prop_assert_eq!(
                    h.distances.clone().unwrap(),
                    expect.iter().map(|e| e.0).collect::<Vec<_>>()
                );
                prop_assert_eq!(
                    h.documents.clone().unwrap(),
                    expect.iter().map(|e| e.2.doc.clone()).collect::<Vec<_>>()
                );
                prop_assert_eq!(
                    h.metadatas.clone().unwrap(),
                    expect.iter().map(|e| e.2.meta.clone()).collect::<Vec<_>>()
                );
            }
            Op::Compact => {
                col.compact_blocking().unwrap();
                prop_assert_eq!(col.stats().unwrap().dead_slots, 0);
            }
            Op::Reopen => {
                if on_disk {
                    drop(col);
                    drop(db);
                    db = open();
                    col = db.get_collection("model").unwrap();
                }
            }
        }
        prop_assert_eq!(col.count().unwrap() as usize, model.records.len());
    }
    if on_disk {
        let report = db.check().unwrap();
        prop_assert!(report.is_ok(), "{:?}", report.problems);
    }
    Ok(())
}

type UpdateItem = (usize, (Option<[i8; DIM]>, Option<u8>, Option<Option<u8>>));

fn apply_update(col: &mnemodb::Collection, model: &mut Model, items: &[UpdateItem], upsert: bool) {
    let ids: Vec<String> = items.iter().map(|(i, _)| IDS[*i].to_string()).collect();
    let with_emb = items.iter().all(|(_, (v, _, _))| v.is_some());
    let emb: Vec<f32> = items
        .iter()
        .flat_map(|(_, (v, _, _))| v.map(vector).unwrap_or_default())
        .collect();
    let docs: Vec<Option<String>> = items.iter().map(|(_, (_, d, _))| d.map(doc)).collect();
    let patches: Vec<Option<MetadataPatch>> =
        items.iter().map(|(_, (_, _, m))| m.map(patch)).collect();
    let batch = UpdateBatch {
        ids: &ids,
        embeddings: with_emb.then_some(Vectors::new(&emb, DIM)),
        documents: Some(&docs),
        metadatas: Some(&patches),
        uris: None,
    };
    if upsert {
        col.upsert(batch).unwrap()
    } else {
        col.update(batch).unwrap()
    }
    model.dimension_fixed |= with_emb;
    for (k, id) in ids.iter().enumerate() {
        let new_emb = with_emb.then(|| emb[k * DIM..(k + 1) * DIM].to_vec());
        match model.find(id) {
            Some(pos) => {
                let r = &mut model.records[pos];
                if let Some(e) = new_emb {
                    r.emb = e;
                }
                if docs[k].is_some() {
                    r.doc = docs[k].clone();
                }
                if let Some(p) = &patches[k] {
                    r.meta = Model::merge(r.meta.take(), p);
                }
            }
            None if upsert => model.records.push(Rec {
                id: id.clone(),
                emb: new_emb.unwrap_or_default(),
                doc: docs[k].clone(),
                meta: patches[k].as_ref().and_then(|p| Model::merge(None, p)),
            }),
            None => {}
        }
    }
}

fn space_strategy() -> impl Strategy<Value = Space> {
    prop_oneof![Just(Space::L2), Just(Space::Ip), Just(Space::Cosine)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_model_on_disk(space in space_strategy(), ops in prop::collection::vec(op_strategy(), 1..60)) {
        run(space, &ops, true)?;
    }

    #[test]
    fn engine_matches_model_in_memory(space in space_strategy(), ops in prop::collection::vec(op_strategy(), 1..60)) {
        run(space, &ops, false)?;
    }
}

#[test]
fn model_distance_is_chromas() {
    assert_eq!(distance(Space::L2, &[2.0, 1.0], &[1.0, 2.0]), 2.0);
    assert_eq!(distance(Space::Ip, &[2.0, 1.0], &[3.0, -1.0]), -4.0);
}
