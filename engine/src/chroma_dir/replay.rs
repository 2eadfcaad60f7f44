//! The records of a Chroma collection as state, and the replay of `embeddings_queue` entries
//! onto it with chromadb's semantics: add skips an existing id, update skips a missing one and
//! merges metadata (a `null` removes the key), upsert is add or update, delete removes.

use std::collections::HashMap;

use crate::types::{Metadata, MetadataValue};

/// chromadb's operation codes in `embeddings_queue.operation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Add,
    Update,
    Upsert,
    Delete,
}

impl Operation {
    pub(crate) fn from_code(code: i64) -> Option<Operation> {
        Some(match code {
            0 => Operation::Add,
            1 => Operation::Update,
            2 => Operation::Upsert,
            3 => Operation::Delete,
            _ => return None,
        })
    }
}

/// One queued write.
#[derive(Debug, Clone)]
pub(crate) struct QueueEntry {
    pub(crate) seq: u64,
    pub(crate) op: Operation,
    pub(crate) id: String,
    pub(crate) vector: Option<Vec<f32>>,
    /// `Some(None)`: the key is removed.
    pub(crate) document: Option<Option<String>>,
    pub(crate) uri: Option<Option<String>>,
    pub(crate) metadata: Vec<(String, Option<MetadataValue>)>,
}

/// One record's document, uri and metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Rec {
    pub(crate) document: Option<String>,
    pub(crate) uri: Option<String>,
    pub(crate) metadata: Metadata,
}

/// The records of a metadata segment, in insertion order.
#[derive(Debug, Default)]
pub(crate) struct MetaState {
    order: Vec<String>,
    /// id -> (position in `order`, record).
    recs: HashMap<String, (usize, Rec)>,
}

impl MetaState {
    /// Adds a record at the end (the segment's rows, read in order).
    pub(crate) fn push(&mut self, id: String, rec: Rec) {
        self.recs.insert(id.clone(), (self.order.len(), rec));
        self.order.push(id);
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Rec> {
        self.recs.get_mut(id).map(|(_, r)| r)
    }

    /// Applies one queued write.
    pub(crate) fn apply(&mut self, e: &QueueEntry) {
        let exists = self.recs.contains_key(&e.id);
        match (e.op, exists) {
            (Operation::Delete, _) => {
                self.recs.remove(&e.id);
            }
            (Operation::Add | Operation::Upsert, false) => {
                let mut rec = Rec::default();
                merge(&mut rec, e);
                self.push(e.id.clone(), rec);
            }
            (Operation::Update | Operation::Upsert, true) => {
                if let Some(rec) = self.get_mut(&e.id) {
                    merge(rec, e);
                }
            }
            (Operation::Add, true) | (Operation::Update, false) => {}
        }
    }

    /// The live records in insertion order.
    pub(crate) fn into_records(mut self) -> Vec<(String, Rec)> {
        let mut out = Vec::with_capacity(self.recs.len());
        for (i, id) in self.order.into_iter().enumerate() {
            if self.recs.get(&id).is_some_and(|(at, _)| *at == i)
                && let Some((_, rec)) = self.recs.remove(&id)
            {
                out.push((id, rec));
            }
        }
        out
    }
}

fn merge(rec: &mut Rec, e: &QueueEntry) {
    if let Some(d) = &e.document {
        rec.document.clone_from(d);
    }
    if let Some(u) = &e.uri {
        rec.uri.clone_from(u);
    }
    for (k, v) in &e.metadata {
        match v {
            Some(v) => {
                rec.metadata.insert(k.clone(), v.clone());
            }
            None => {
                rec.metadata.remove(k);
            }
        }
    }
}

/// Applies one queued write to the vectors by id.
pub(crate) fn apply_vector(vectors: &mut HashMap<String, Vec<f32>>, e: &QueueEntry) {
    let exists = vectors.contains_key(&e.id);
    match (e.op, &e.vector) {
        (Operation::Delete, _) => {
            vectors.remove(&e.id);
        }
        (Operation::Add, Some(v)) if !exists => {
            vectors.insert(e.id.clone(), v.clone());
        }
        (Operation::Update, Some(v)) if exists => {
            vectors.insert(e.id.clone(), v.clone());
        }
        (Operation::Upsert, Some(v)) => {
            vectors.insert(e.id.clone(), v.clone());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, op: Operation, id: &str, doc: Option<&str>) -> QueueEntry {
        QueueEntry {
            seq,
            op,
            id: id.into(),
            vector: Some(vec![seq as f32]),
            document: doc.map(|d| Some(d.to_owned())),
            uri: None,
            metadata: vec![("k".into(), Some(MetadataValue::Int(seq as i64)))],
        }
    }

    #[test]
    fn replay_follows_chromas_semantics() {
        let mut m = MetaState::default();
        let mut v = HashMap::new();
        let entries = [
            entry(1, Operation::Add, "a", Some("first")),
            entry(2, Operation::Add, "a", Some("ignored")), // add of an existing id
            entry(3, Operation::Update, "b", Some("ignored")), // update of a missing id
            entry(4, Operation::Upsert, "b", None),
            entry(5, Operation::Add, "c", None),
            entry(6, Operation::Delete, "a", None),
            entry(7, Operation::Add, "a", Some("again")), // re-added: goes to the end
            entry(8, Operation::Update, "c", Some("changed")),
        ];
        for e in &entries {
            m.apply(e);
            apply_vector(&mut v, e);
        }
        let recs = m.into_records();
        let ids: Vec<&str> = recs.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "a"]);
        assert_eq!(recs[2].1.document.as_deref(), Some("again"));
        assert_eq!(recs[1].1.document.as_deref(), Some("changed"));
        assert_eq!(recs[1].1.metadata.get("k"), Some(&MetadataValue::Int(8)));
        assert_eq!(v.get("a"), Some(&vec![7.0]));
        assert_eq!(v.get("b"), Some(&vec![4.0]));
        assert_eq!(v.get("c"), Some(&vec![8.0]));
    }

    #[test]
    fn a_null_removes_a_key() {
        let mut m = MetaState::default();
        m.apply(&entry(1, Operation::Add, "a", None));
        let mut e = entry(2, Operation::Update, "a", None);
        e.metadata = vec![("k".into(), None)];
        e.document = Some(None);
        m.apply(&e);
        let recs = m.into_records();
        assert!(recs[0].1.metadata.is_empty());
        assert_eq!(recs[0].1.document, None);
    }
}
