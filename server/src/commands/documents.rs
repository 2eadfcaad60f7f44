//! `add-documents`: a text file's lines embedded with chromadb's default function and added to
//! a collection, with the embedding's progress on a terminal.

use std::path::Path;

use mnemodb::{AddBatch, CollectionConfig, Database, Embedder, Vectors};

use super::progress;
use crate::error::{Error, Result};

/// Documents embedded and added per step: the progress moves within a step, batch by batch,
/// and each step is one write.
const STEP: usize = 1024;

/// Adds the non-blank lines of `file` to `collection` (created with chromadb's default
/// embedding function if missing) under ids `<id_prefix><line number>`; returns how many.
/// The progress bar goes to standard error, drawn only on a terminal.
pub(crate) fn add(
    path: &Path,
    collection: &str,
    file: &Path,
    id_prefix: &str,
    embedder: &Embedder,
) -> Result<u64> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::BadFile(format!("{}: {e}", file.display())))?;
    let (ids, docs): (Vec<String>, Vec<String>) = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| (format!("{id_prefix}{}", n + 1), line.to_owned()))
        .unzip();
    let db = Database::open(path)?;
    let config = CollectionConfig {
        embedding_function: Some(serde_json::json!({
            "type": "known", "name": "default", "config": {}
        })),
        ..CollectionConfig::default()
    };
    let col = db.get_or_create_collection(collection, config, None)?;
    let bar = progress(docs.len() as u64, "embed");
    for (step, (ids, docs)) in ids.chunks(STEP).zip(docs.chunks(STEP)).enumerate() {
        let before = (step * STEP) as u64;
        let vectors = embedder.embed_with_progress(docs, &|done| {
            bar.set_position(before + done as u64);
        });
        let documents: Vec<Option<String>> = docs.iter().cloned().map(Some).collect();
        col.add(AddBatch {
            ids,
            embeddings: Vectors::new(&vectors, mnemodb::EMBEDDING_DIMENSION),
            documents: Some(&documents),
            ..AddBatch::default()
        })?;
    }
    bar.finish_and_clear();
    Ok(docs.len() as u64)
}
