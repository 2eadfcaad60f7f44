//! mnemodb: an embedded vector memory database for AI agents.
//!
//! A [`Database`] is a directory (or memory) holding named [`Collection`]s of records: an id,
//! an embedding, and optionally a document, a uri and [`Metadata`]. Writes are durable when
//! the call returns; queries rank by Chroma's distances ([`Space`]) with SIMD kernels chosen
//! for the CPU at run time.
//!
//! ```
//! use mnemodb::{AddBatch, Database, Include, QueryRequest, Space, Vectors};
//!
//! # fn main() -> mnemodb::Result<()> {
//! let dir = tempfile::tempdir().expect("temp dir");
//! let db = Database::open(dir.path())?;
//! let notes = db.create_collection("notes", Space::Cosine, None)?;
//! let ids = vec!["a".to_string(), "b".to_string()];
//! let docs = vec![Some("apples".to_string()), Some("bicycles".to_string())];
//! notes.add(AddBatch {
//!     ids: &ids,
//!     embeddings: Vectors::new(&[1.0, 0.0, 0.0, 1.0], 2),
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
//!
//! Reads and deletes take chromadb's filters as the JSON a Python or HTTP caller passes:
//! `where` on metadata and `where_document` on documents ([`GetRequest::where_`],
//! [`Collection::query_where`], [`Collection::delete_where`]), with chromadb 1.5.9's type
//! semantics and error messages.
//!
//! The engine is the one validator of every request: each call runs chromadb's checks (its
//! Python client's, then its backend's) in chromadb's order and words, so a Rust caller, the
//! Python package and the HTTP server refuse a bad input with the same [`ErrorKind`] and the
//! same message, ending in chromadb's `" in <op>."` where chromadb's has it ([`Op`]). The
//! [`request`] module converts loosely typed values (JSON metadata, `include` names,
//! `n_results`) with the same messages.
//!
//! Collections of 4,096 records or more are searched through an HNSW index kept up to date
//! by every write and saved beside the vectors; smaller ones, and queries that ask for it
//! ([`SearchOptions::exact`]), are scanned exactly, and so are a filter's candidates when they
//! are few. [`Collection::explain`] returns a query's [`Plan`] (the strategy, the rule that
//! chose it, the candidate count and the estimated cost) without running it. The index settings
//! are chromadb's `hnsw` configuration ([`CollectionConfig`]).
#![deny(missing_docs)]

mod check;
mod chroma_dir;
pub mod codec;
mod collection;
mod config;
mod db;
mod distance;
mod embed;
mod error;
mod expiry;
mod filter;
mod langgraph;
mod meta;
pub mod request;
mod scheduler;
mod search;
mod store;
mod tools;
mod types;
mod validate;

pub use check::{ConsistencyReport, Problem, ProblemKind};
pub use chroma_dir::{
    CHROMA_SQLITE, ChromaCollection, ChromaDir, ChromaRecords, IMPORT_MARKER, ImportProgress,
    ImportReport, import_chroma, is_chroma_dir,
};
pub use collection::{Collection, Coverage, Plan, Reason, SearchOptions, Strategy};
pub use config::{CollectionConfig, HnswConfig, HnswConfigUpdate};
pub use db::Database;
pub use distance::{Isa, Kernel, Space};
pub use embed::{
    BATCH as EMBED_BATCH, EMBEDDING_DIMENSION, Embedder, MAX_TOKENS, MODEL_ENV, MODEL_FILES,
};
pub use error::{Error, ErrorKind, Op, Result};
pub use expiry::{Clock, Expiry, TTL_KEY};
pub use langgraph::{
    LgBlob, LgCheckpoint, LgItem, LgItemWrite, LgListQuery, LgTuple, LgWrite, Typed,
};
pub use scheduler::{Job, JobInfo, JobKind, JobState};
pub use tools::{
    Begin, CallFilter, CallRecord, CallSpec, CallStatus, DEFAULT_LEDGER_RETENTION, Outcome,
    Refusal, Ticket, ToolExecutor, ToolPolicy, ToolSummary, canonical_json,
};

/// Checks chromadb's rule for collection names (3-512 characters of `[a-zA-Z0-9._-]`, starting
/// and ending with a letter or digit, no `..`, not an IPv4 address), which chroma also applies
/// to database names; the error says what is wrong, in chromadb's words.
pub fn validate_collection_name(name: &str) -> Result<()> {
    validate::collection_name(name)
}

/// Hooks for the engine's own integration tests; not part of the API (no stability promise).
#[doc(hidden)]
pub mod testing {
    use crate::filter::{Validation, parse_filter};
    use crate::types::Metadata;

    /// Has every compaction of `db` call `hook` between copying the live rows and its
    /// commit, so tests can write, read or cancel while it is there.
    pub fn set_compaction_hook(db: &crate::Database, hook: Option<Box<dyn Fn() + Send + Sync>>) {
        *db.inner()
            .shared
            .compaction_hook
            .lock()
            .unwrap_or_else(|p| p.into_inner()) =
            hook.map(|h| crate::collection::CompactionHook(std::sync::Arc::from(h)));
    }

    /// Gives collections of `db` an HNSW graph from `slots` slots on (4,096 by default), so
    /// tests can exercise the index on small data.
    pub fn set_index_min_slots(db: &crate::Database, slots: u64) {
        db.inner()
            .shared
            .index_min_slots
            .store(slots.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Has writes through `db` compact a collection on their own from `slots` slots on
    /// (65,536 by default) when more than half of them are dead.
    pub fn set_auto_compact_min_slots(db: &crate::Database, slots: u64) {
        db.inner()
            .shared
            .auto_compact_min_slots
            .store(slots.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Has writes through `db` ask for a checkpoint of the sidecar's write-ahead log once it
    /// is `bytes` long (32 MiB by default), so tests can see the bound on small data.
    pub fn set_wal_bound(db: &crate::Database, bytes: u64) {
        db.inner()
            .shared
            .sidecar
            .wal_bound
            .store(bytes.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// The length in bytes of the sidecar's write-ahead log as `db` sees it.
    pub fn wal_bytes(db: &crate::Database) -> u64 {
        db.inner().shared.sidecar.wal_bytes()
    }

    /// Whether `collection`'s HNSW graph in this process was loaded from its file
    /// (`hnsw.<generation>.bin`) rather than built (false while it has none).
    pub fn index_loaded_from_file(collection: &crate::Collection) -> crate::Result<bool> {
        collection.index_loaded_from_file()
    }

    /// Slots `collection`'s graph in this process linked itself, rather than loaded from a
    /// graph file another process (or an earlier open) saved.
    pub fn index_slots_linked_here(collection: &crate::Collection) -> u64 {
        collection.index_slots_linked_here()
    }

    /// Stops `db` from starting background jobs (as `close` does) while its handles stay
    /// usable, so a test can run a pass itself.
    pub fn stop_background_jobs(db: &crate::Database) {
        db.inner().shared.scheduler.close(std::time::Instant::now());
    }

    /// Runs one index pass of `collection` on this thread as if it had begun when only
    /// `began` slots were committed, told that rows up to `committed` came in meanwhile;
    /// returns the slots linked and the rows of the graph's 8-bit walk copy.
    pub fn catch_up_as_if(
        collection: &crate::Collection,
        began: u64,
        committed: u64,
    ) -> crate::Result<(u64, usize)> {
        collection.catch_up_as_if(began, committed)
    }

    /// Times `collection`'s live-slots table was loaded in this process (from SQLite or its
    /// checkpoint file); writes through this process patch it instead.
    pub fn live_slots_loads(collection: &crate::Collection) -> u64 {
        collection.live_slots_loads()
    }

    /// Whether `collection`'s live-slots table in this process was last loaded from its
    /// checkpoint file (`live.<generation>.bin`) rather than from SQLite.
    pub fn live_slots_from_checkpoint(collection: &crate::Collection) -> bool {
        collection.live_slots_from_checkpoint()
    }

    /// How many times `collection`'s in-memory filter index was built from the sidecar in
    /// this process, and the bytes it holds now.
    pub fn filter_index_figures(collection: &crate::Collection) -> (u64, usize) {
        collection.filter_index_figures()
    }

    /// Reads an HNSW graph file for `space` as an open does (every check included) and
    /// returns its node count.
    pub fn read_index_file(path: &std::path::Path, space: crate::Space) -> crate::Result<usize> {
        crate::search::Hnsw::load(path, space).map(|g| g.len())
    }

    /// Reads a live-slots checkpoint file as an open does (on its own, not against the
    /// catalog) and returns its seq, slot count and live count.
    pub fn read_live_checkpoint(path: &std::path::Path) -> crate::Result<(u64, u64, u64)> {
        crate::collection::read_live_checkpoint(path).map(|h| (h.seq, h.slots, h.live))
    }

    /// The naive filter evaluator (plain Rust over one record, the oracle of the SQL
    /// execution), for `where` / `where_document` parsed as the Python client does
    /// (`backend: false`) or as chroma's server does (`backend: true`).
    #[allow(clippy::type_complexity)]
    pub fn oracle(
        where_: Option<&serde_json::Value>,
        where_document: Option<&serde_json::Value>,
        backend: bool,
    ) -> crate::Result<Box<dyn Fn(Option<&Metadata>, Option<&str>) -> bool>> {
        let validation = if backend {
            Validation::Backend
        } else {
            Validation::Client(crate::Op::Get)
        };
        let filter = parse_filter(where_, where_document, validation)?;
        Ok(Box::new(move |m, d| filter.matches(m, d)))
    }
}

pub use types::{
    AddBatch, CollectionInfo, CollectionStats, Durability, Embeddings, GetRequest, GetResult,
    Include, IndexCoverage, Metadata, MetadataPatch, MetadataValue, QueryHits, QueryRequest,
    UpdateBatch, Vectors, WriteOptions,
};
pub use validate::MAX_DIMENSION;
