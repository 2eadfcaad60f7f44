//! A reader of chromadb 1.x persistent directories (`chroma.sqlite3` and one HNSW segment
//! directory per collection), and the import of one into a mnemodb [`Database`](crate::Database).
//! It never writes to the Chroma files: SQLite is opened read-only.
//!
//! Where each part of a record lives in a Chroma directory:
//! - the catalog (`collections`, `collection_metadata`, `segments`, `databases`): names,
//!   dimensions, metadata, and the configuration (`schema_str`'s `#embedding` vector index in
//!   1.5; `config_json_str` in earlier 1.x);
//! - the metadata segment (`embeddings`, `embedding_metadata`, `embedding_metadata_array`):
//!   ids, documents (`chroma:document`), uris (`chroma:uri`) and typed metadata, as of the
//!   segment's `max_seq_id`;
//! - the vector segment's files (`hnsw.rs`): the vectors, as of its own `max_seq_id`;
//! - `embeddings_queue`: every write after the older of the two, replayed onto each segment
//!   past its own sequence number (`replay.rs`), so records not yet flushed to the HNSW files
//!   are found, and deletes and updates since then are applied.

mod catalog;
mod hnsw;
mod import;
mod pickle;
mod replay;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::config::CollectionConfig;
use crate::error::{Error, Result};
use crate::types::Metadata;

pub use import::{ImportProgress, ImportReport, import_chroma};

/// chromadb's SQLite file, whose presence makes a directory a Chroma directory.
pub const CHROMA_SQLITE: &str = "chroma.sqlite3";
/// Written into the destination once an import has finished: a Chroma directory holding it
/// opens as the mnemodb database imported into it.
pub const IMPORT_MARKER: &str = "mnemodb-chroma-import.json";

/// Whether `dir` holds a chromadb persistent directory (`chroma.sqlite3`).
pub fn is_chroma_dir(dir: &Path) -> bool {
    dir.join(CHROMA_SQLITE).is_file()
}

/// Refuses to open a Chroma directory that was not imported: it would open as an empty
/// mnemodb database and hide the user's data.
pub(crate) fn refuse_unimported(dir: &Path) -> Result<()> {
    if is_chroma_dir(dir) && !dir.join(IMPORT_MARKER).is_file() {
        return Err(Error::ChromaDirectory {
            path: dir.to_path_buf(),
        });
    }
    Ok(())
}

/// A collection of a Chroma directory, as its catalog describes it.
#[derive(Debug, Clone)]
pub struct ChromaCollection {
    /// Chroma's collection id.
    pub id: String,
    /// The collection's name.
    pub name: String,
    /// Its tenant (`default_tenant` for a `PersistentClient`'s).
    pub tenant: String,
    /// Its database (`default_database` for a `PersistentClient`'s).
    pub database: String,
    /// The dimension of its embeddings (`None` while it has none).
    pub dimension: Option<usize>,
    /// The collection metadata, legacy `hnsw:*` keys included.
    pub metadata: Option<Metadata>,
    /// Its index configuration (space and HNSW settings).
    pub config: CollectionConfig,
    /// The embedding function chromadb saved with it (`{"type": "known", "name": ...,
    /// "config": ...}`), if any.
    pub embedding_function: Option<serde_json::Value>,
    /// Records in its metadata segment (before the replay of unflushed writes).
    pub stored_records: u64,
    metadata_segment: Option<String>,
    vector_segment: Option<String>,
}

impl ChromaCollection {
    /// Whether this collection belongs to chromadb's default tenant and database, the one a
    /// `PersistentClient` shows.
    pub fn is_default_database(&self) -> bool {
        self.tenant == "default_tenant" && self.database == "default_database"
    }
}

/// A collection's records, in Chroma's order (insertion order), every field one entry a record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChromaRecords {
    /// The ids.
    pub ids: Vec<String>,
    /// The embeddings, `ids.len() * dimension` floats, row-major.
    pub embeddings: Vec<f32>,
    /// The documents.
    pub documents: Vec<Option<String>>,
    /// The uris.
    pub uris: Vec<Option<String>>,
    /// The metadata (`None` for a record without keys).
    pub metadatas: Vec<Option<Metadata>>,
}

/// An open Chroma directory, read-only.
#[derive(Debug)]
pub struct ChromaDir {
    path: PathBuf,
    conn: Connection,
}

impl ChromaDir {
    /// Opens the Chroma directory `path` for reading (its SQLite file read-only).
    pub fn open(path: impl AsRef<Path>) -> Result<ChromaDir> {
        let path = path.as_ref().to_path_buf();
        let file = path.join(CHROMA_SQLITE);
        if !file.is_file() {
            return Err(Error::invalid(format!(
                "{}: not a Chroma directory (no {CHROMA_SQLITE} in it)",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(
            &file,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(ChromaDir { path, conn })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every collection, in the catalog's order.
    pub fn collections(&self) -> Result<Vec<ChromaCollection>> {
        catalog::collections(&self.conn, &self.path)
    }

    /// Every record of `collection`: the metadata segment and the HNSW files, with the writes
    /// still in the queue replayed onto each.
    pub fn records(&self, collection: &ChromaCollection) -> Result<ChromaRecords> {
        let sqlite = self.path.join(CHROMA_SQLITE);
        let (mut meta, meta_seq) = match &collection.metadata_segment {
            Some(seg) => (
                catalog::segment_records(&self.conn, seg)?,
                catalog::max_seq_id(&self.conn, seg)?,
            ),
            None => (replay::MetaState::default(), 0),
        };
        let (mut vectors, vector_seq) = match (&collection.vector_segment, collection.dimension) {
            (Some(seg), Some(dim)) => (
                hnsw::read_segment(&self.path.join(seg), dim, collection.config.hnsw.space)?.by_id,
                catalog::max_seq_id(&self.conn, seg)?,
            ),
            _ => (Default::default(), 0),
        };
        let since = meta_seq.min(vector_seq);
        let cosine = collection.config.hnsw.space == crate::distance::Space::Cosine;
        for mut entry in catalog::queue(&self.conn, &collection.id, since, &sqlite)? {
            if let (true, Some(v)) = (cosine, entry.vector.as_mut()) {
                // What chromadb returns for it: the vector normalized, then scaled back.
                hnsw::cosine_round_trip(v);
            }
            if entry.seq > meta_seq {
                meta.apply(&entry);
            }
            if entry.seq > vector_seq {
                replay::apply_vector(&mut vectors, &entry);
            }
        }
        let dim = collection.dimension.unwrap_or(0);
        let mut out = ChromaRecords::default();
        for (id, rec) in meta.into_records() {
            let v = vectors.remove(&id).ok_or_else(|| Error::Corrupt {
                path: self
                    .path
                    .join(collection.vector_segment.as_deref().unwrap_or("")),
                detail: format!(
                    "record {id:?} of collection {:?} has no vector in the HNSW files or \
                     the queue",
                    collection.name
                ),
            })?;
            if v.len() != dim {
                return Err(Error::Corrupt {
                    path: sqlite.clone(),
                    detail: format!(
                        "record {id:?} of collection {:?} has {} dimensions, the collection {dim}",
                        collection.name,
                        v.len()
                    ),
                });
            }
            out.ids.push(id);
            out.embeddings.extend_from_slice(&v);
            out.documents.push(rec.document);
            out.uris.push(rec.uri);
            out.metadatas
                .push((!rec.metadata.is_empty()).then_some(rec.metadata));
        }
        Ok(out)
    }
}
