//! mnemodb: an embedded vector memory database for AI agents.
//!
//! A [`Database`] is a directory (or memory) holding named [`Collection`]s of records: an id,
//! an embedding, and optionally a document, a uri and [`Metadata`]. Writes are durable when
//! the call returns; queries rank by Chroma's distances ([`Space`]) with SIMD kernels chosen
//! for the CPU at run time.
//!
//! ```
//! use mnemodb::{AddBatch, Database, Include, QueryRequest, Space};
//!
//! # fn main() -> mnemodb::Result<()> {
//! let dir = tempfile::tempdir().expect("temp dir");
//! let db = Database::open(dir.path())?;
//! let notes = db.create_collection("notes", Space::Cosine, None)?;
//! let ids = vec!["a".to_string(), "b".to_string()];
//! let docs = vec![Some("apples".to_string()), Some("bicycles".to_string())];
//! notes.add(AddBatch {
//!     ids: &ids,
//!     embeddings: &[1.0, 0.0, 0.0, 1.0],
//!     documents: Some(&docs),
//!     ..AddBatch::default()
//! })?;
//! let hits = notes.query(QueryRequest {
//!     embeddings: &[0.9, 0.1],
//!     dim: 2,
//!     n_results: 1,
//!     ids: None,
//!     include: Include::query_default(),
//! })?;
//! assert_eq!(hits[0].ids, ["a"]);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod check;
mod collection;
mod db;
mod distance;
mod error;
mod filter;
mod meta;
mod search;
mod store;
mod types;
mod validate;

pub use check::ConsistencyReport;
pub use collection::Collection;
pub use db::Database;
pub use distance::{Isa, Kernel, Space};
pub use error::{Error, ErrorKind, Result};
pub use types::{
    AddBatch, CollectionInfo, CollectionStats, Embeddings, GetRequest, GetResult, Include,
    Metadata, MetadataPatch, MetadataValue, QueryHits, QueryRequest, UpdateBatch,
};
