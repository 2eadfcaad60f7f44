//! The parent's model of what the database must hold, replayed from acknowledged calls.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Record {
    pub(super) embedding: Vec<f32>,
    pub(super) document: Option<String>,
    pub(super) metadata: Option<Metadata>,
}

/// What the collection should hold: records by id and the ids in insertion order.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Model {
    pub(super) order: Vec<String>,
    pub(super) records: HashMap<String, Record>,
}

impl Model {
    /// The engine's documented semantics of each call, written out naively.
    pub(super) fn apply(&mut self, op: &Op) {
        match op {
            Op::Add { version, ids } => {
                for id in ids {
                    if !self.records.contains_key(id) {
                        let record = Record {
                            embedding: vector_for(id, *version, DIM),
                            document: added_document(id, *version),
                            metadata: added_metadata(id, *version),
                        };
                        self.records.insert(id.clone(), record);
                        self.order.push(id.clone());
                    }
                }
            }
            Op::Upsert { version, ids } | Op::Update { version, ids, .. } => {
                let upsert = matches!(op, Op::Upsert { .. });
                let with_vectors = !matches!(
                    op,
                    Op::Update {
                        embeddings: false,
                        ..
                    }
                );
                for id in ids {
                    let document = updated_document(id, *version);
                    let patch = updated_metadata(id, *version);
                    if let Some(r) = self.records.get_mut(id) {
                        if with_vectors {
                            r.embedding = vector_for(id, *version, DIM);
                        }
                        if document.is_some() {
                            r.document = document;
                        }
                        if let Some(patch) = &patch {
                            r.metadata = merge(r.metadata.take(), patch);
                        }
                    } else if upsert {
                        let record = Record {
                            embedding: vector_for(id, *version, DIM),
                            document,
                            metadata: patch.and_then(|p| merge(None, &p)),
                        };
                        self.records.insert(id.clone(), record);
                        self.order.push(id.clone());
                    }
                }
            }
            Op::Delete { ids } => {
                let gone: HashSet<&String> = ids
                    .iter()
                    .filter(|id| self.records.remove(*id).is_some())
                    .collect();
                if !gone.is_empty() {
                    self.order.retain(|id| !gone.contains(id));
                }
            }
            Op::Compact => {}
        }
    }

    /// Everything the collection holds, through the public API.
    pub(super) fn read(c: &Collection) -> Result<Model, String> {
        let got = c
            .get(GetRequest {
                include: Include {
                    embeddings: true,
                    documents: true,
                    metadatas: true,
                    ..Include::default()
                },
                ..GetRequest::default()
            })
            .map_err(|e| format!("get of everything failed: {e}"))?;
        let n = got.ids.len();
        let embeddings = got.embeddings.unwrap_or_default();
        let documents = got.documents.unwrap_or_default();
        let metadatas = got.metadatas.unwrap_or_default();
        if n > 0 && (embeddings.len() != n || documents.len() != n || metadatas.len() != n) {
            return Err(format!(
                "get returned {n} ids but {} vectors, {} documents, {} metadatas",
                embeddings.len(),
                documents.len(),
                metadatas.len()
            ));
        }
        let mut model = Model::default();
        for (i, id) in got.ids.into_iter().enumerate() {
            let record = Record {
                embedding: embeddings.row(i).to_vec(),
                document: documents[i].clone(),
                metadata: metadatas[i].clone(),
            };
            if model.records.insert(id.clone(), record).is_some() {
                return Err(format!("get returned id {id:?} twice"));
            }
            model.order.push(id);
        }
        Ok(model)
    }

    /// How `actual` differs from `self`, for a failure message.
    pub(super) fn difference(&self, actual: &Model) -> String {
        let mut out = format!(
            "expected {} records, found {}",
            self.order.len(),
            actual.order.len()
        );
        let missing: Vec<&String> = self
            .order
            .iter()
            .filter(|id| !actual.records.contains_key(*id))
            .collect();
        let extra: Vec<&String> = actual
            .order
            .iter()
            .filter(|id| !self.records.contains_key(*id))
            .collect();
        if !missing.is_empty() {
            out += &format!(
                "; {} missing, first {:?}",
                missing.len(),
                &missing[..missing.len().min(8)]
            );
        }
        if !extra.is_empty() {
            out += &format!(
                "; {} unexpected, first {:?}",
                extra.len(),
                &extra[..extra.len().min(8)]
            );
        }
        let changed: Vec<String> = self
            .order
            .iter()
            .filter_map(|id| {
                let (want, got) = (&self.records[id], actual.records.get(id)?);
                let fields: Vec<&str> = [
                    ("embedding", want.embedding != got.embedding),
                    ("document", want.document != got.document),
                    ("metadata", want.metadata != got.metadata),
                ]
                .into_iter()
                .filter_map(|(name, differs)| differs.then_some(name))
                .collect();
                (!fields.is_empty())
                    .then(|| format!("{id}: {} (want {want:?}, got {got:?})", fields.join("+")))
            })
            .collect();
        if !changed.is_empty() {
            out += &format!(
                "; {} records differ, first: {}",
                changed.len(),
                changed[..changed.len().min(3)].join("; ")
            );
        }
        if missing.is_empty() && extra.is_empty() && self.order != actual.order {
            let at = self
                .order
                .iter()
                .zip(&actual.order)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            out += &format!("; insertion order differs from position {at}");
        }
        out
    }
}
