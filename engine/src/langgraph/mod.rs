//! LangGraph's state in the sidecar: checkpoints, pending writes and channel blobs
//! (`checkpoints.rs`, behind `mnemodb.integrations.langgraph.MnemoSaver`) and the long-term
//! store's items (`store.rs`, behind `MnemoStore`).
//!
//! The engine keeps LangGraph's serialized values as they come from its serializer: a type tag
//! and bytes, never decoded here. Every write is one transaction of the sidecar
//! ([`Sidecar::write`](crate::meta::Sidecar)), so it takes the database's write lock, shared
//! by every process on the directory, and has the records' durability.

mod checkpoints;
mod store;

pub use checkpoints::{LgBlob, LgCheckpoint, LgListQuery, LgTuple, LgWrite, Typed};
pub use store::{LgItem, LgItemWrite};

/// The tables, additive to the sidecar's format: created when missing, ignored by builds that
/// do not know them (`meta::schema::create_or_check` applies this).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS lg_checkpoints (
    thread_id     TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    parent_id     TEXT,
    run_id        TEXT,               -- metadata.run_id, for delete_for_runs
    type          TEXT NOT NULL,      -- the serializer's tag of `checkpoint`
    checkpoint    BLOB NOT NULL,      -- without channel_values (those are lg_blobs)
    metadata_type TEXT NOT NULL,
    metadata      BLOB NOT NULL,
    channels      TEXT NOT NULL,      -- JSON [[channel, version], ...]: the blobs it reads
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lg_checkpoints_by_run ON lg_checkpoints(run_id)
    WHERE run_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS lg_writes (
    thread_id     TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    idx           INTEGER NOT NULL,
    task_path     TEXT NOT NULL,
    channel       TEXT NOT NULL,
    type          TEXT NOT NULL,
    value         BLOB NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lg_blobs (
    thread_id     TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL,
    channel       TEXT NOT NULL,
    version       TEXT NOT NULL,      -- typed by the caller: 1 and '1' are different keys
    type          TEXT NOT NULL,
    value         BLOB NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lg_store (
    namespace     BLOB NOT NULL,      -- each label followed by a NUL byte: label-wise prefixes
    key           TEXT NOT NULL,      -- are byte prefixes
    value         TEXT NOT NULL,      -- JSON
    ord           INTEGER NOT NULL,   -- insertion order; a re-put keeps it
    created_at    INTEGER NOT NULL,   -- milliseconds since the Unix epoch
    updated_at    INTEGER NOT NULL,
    expires_at    INTEGER,            -- NULL: never
    ttl_ms        INTEGER,            -- what a refreshing read sets expires_at to, from now
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lg_store_by_ord ON lg_store(ord);
CREATE INDEX IF NOT EXISTS lg_store_by_expiry ON lg_store(expires_at)
    WHERE expires_at IS NOT NULL;
";
