//! The crash test's write calls: what each stores, derived from its ids and version.

use super::*;

/// One write call. Every value it stores follows from its ids and `version`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Op {
    Add {
        version: u64,
        ids: Vec<String>,
    },
    Upsert {
        version: u64,
        ids: Vec<String>,
    },
    /// `embeddings: false` changes documents and metadata only (the record keeps its slot).
    Update {
        version: u64,
        embeddings: bool,
        ids: Vec<String>,
    },
    Delete {
        ids: Vec<String>,
    },
    Compact,
}

impl Op {
    pub(super) fn encode(&self) -> String {
        match self {
            Op::Add { version, ids } => format!("add {version} {}", ids.join(",")),
            Op::Upsert { version, ids } => format!("upsert {version} {}", ids.join(",")),
            Op::Update {
                version,
                embeddings,
                ids,
            } => {
                format!(
                    "update {version} {} {}",
                    if *embeddings { "e" } else { "k" },
                    ids.join(",")
                )
            }
            Op::Delete { ids } => format!("delete {}", ids.join(",")),
            Op::Compact => "compact".to_owned(),
        }
    }

    pub(super) fn decode(s: &str) -> Option<Op> {
        let parts: Vec<&str> = s.split(' ').collect();
        let version = |i: usize| parts.get(i)?.parse::<u64>().ok();
        let ids = |i: usize| Some(split_ids(parts.get(i)?));
        let (op, len) = match parts[0] {
            "add" => (
                Op::Add {
                    version: version(1)?,
                    ids: ids(2)?,
                },
                3,
            ),
            "upsert" => (
                Op::Upsert {
                    version: version(1)?,
                    ids: ids(2)?,
                },
                3,
            ),
            "update" => {
                let embeddings = *parts.get(2)? == "e";
                (
                    Op::Update {
                        version: version(1)?,
                        embeddings,
                        ids: ids(3)?,
                    },
                    4,
                )
            }
            "delete" => (Op::Delete { ids: ids(1)? }, 2),
            "compact" => (Op::Compact, 1),
            _ => return None,
        };
        (parts.len() == len).then_some(op)
    }
}

pub(super) fn split_ids(s: &str) -> Vec<String> {
    s.split(',').map(str::to_owned).collect()
}

/// Spreads the per-record choices below over the records of one call.
pub(super) fn variant(id: &str, version: u64) -> u64 {
    id.bytes().fold(version, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    })
}

/// An added record's document; some records have none.
pub(super) fn added_document(id: &str, version: u64) -> Option<String> {
    (!variant(id, version).is_multiple_of(7)).then(|| format!("{id} added in {version}"))
}

/// An added record's metadata (every value type but lists); some records have none.
pub(super) fn added_metadata(id: &str, version: u64) -> Option<Metadata> {
    let x = variant(id, version);
    (!x.is_multiple_of(5)).then(|| {
        Metadata::from([
            ("v".to_owned(), MetadataValue::Int(version as i64)),
            ("id".to_owned(), MetadataValue::Str(id.to_owned())),
            ("even".to_owned(), MetadataValue::Bool(x.is_multiple_of(2))),
            // x.25 is exact in binary and in decimal, so JSON keeps it bit for bit.
            (
                "score".to_owned(),
                MetadataValue::Float((x % 1000) as f64 + 0.25),
            ),
        ])
    })
}

/// An update's document: `None` (keep the stored one) for some records.
pub(super) fn updated_document(id: &str, version: u64) -> Option<String> {
    (!variant(id, version).is_multiple_of(3)).then(|| format!("{id} updated in {version}"))
}

/// An update's metadata patch: `None` (keep) for some records, a removal of every key (no
/// metadata left) for a few, otherwise set `v` and `tag` and set or remove `even`.
pub(super) fn updated_metadata(id: &str, version: u64) -> Option<MetadataPatch> {
    let x = variant(id, version);
    if x.is_multiple_of(4) {
        return None;
    }
    if x.is_multiple_of(11) {
        return Some(
            ["v", "id", "even", "score", "tag"]
                .map(|k| (k.to_owned(), None))
                .into(),
        );
    }
    let even = (!x.is_multiple_of(3)).then_some(MetadataValue::Bool(x.is_multiple_of(2)));
    Some(MetadataPatch::from([
        ("v".to_owned(), Some(MetadataValue::Int(version as i64))),
        (
            "tag".to_owned(),
            Some(MetadataValue::Str(format!("u{version}"))),
        ),
        ("even".to_owned(), even),
    ]))
}

/// Chroma's metadata merge, as the engine documents it: set the keys given, remove those set
/// to `None`; no keys left means no metadata.
pub(super) fn merge(old: Option<Metadata>, patch: &MetadataPatch) -> Option<Metadata> {
    let mut m = old.unwrap_or_default();
    for (k, v) in patch {
        match v {
            Some(v) => m.insert(k.clone(), v.clone()),
            None => m.remove(k),
        };
    }
    (!m.is_empty()).then_some(m)
}

pub(super) fn execute(c: &Collection, op: &Op) -> mnemodb::Result<()> {
    let vectors = |ids: &[String], version| -> Vec<f32> {
        ids.iter()
            .flat_map(|id| vector_for(id, version, DIM))
            .collect()
    };
    match op {
        Op::Add { version, ids } => {
            let embeddings = vectors(ids, *version);
            let documents: Vec<_> = ids.iter().map(|id| added_document(id, *version)).collect();
            let metadatas: Vec<_> = ids.iter().map(|id| added_metadata(id, *version)).collect();
            c.add(AddBatch {
                ids,
                embeddings: Vectors::new(&embeddings, DIM),
                documents: Some(&documents),
                metadatas: Some(&metadatas),
                uris: None,
            })
        }
        Op::Upsert { version, ids } | Op::Update { version, ids, .. } => {
            let with_vectors = !matches!(
                op,
                Op::Update {
                    embeddings: false,
                    ..
                }
            );
            let embeddings = vectors(ids, *version);
            let documents: Vec<_> = ids
                .iter()
                .map(|id| updated_document(id, *version))
                .collect();
            let metadatas: Vec<_> = ids
                .iter()
                .map(|id| updated_metadata(id, *version))
                .collect();
            let batch = UpdateBatch {
                ids,
                embeddings: with_vectors.then_some(Vectors::new(&embeddings, DIM)),
                documents: Some(&documents),
                metadatas: Some(&metadatas),
                uris: None,
            };
            if matches!(op, Op::Upsert { .. }) {
                c.upsert(batch)
            } else {
                c.update(batch)
            }
        }
        Op::Delete { ids } => c.delete(ids).map(drop),
        Op::Compact => c.compact_blocking().map(drop),
    }
}
