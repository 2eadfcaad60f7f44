//! LangGraph checkpoints: put, pending writes, reads with their writes and channel blobs, and
//! the maintenance calls (delete a thread, copy one, prune, delete by run).

use std::collections::HashSet;

use rusqlite::{OptionalExtension, Transaction, params};

use crate::db::Database;
use crate::error::{Error, Result};
use crate::types::Durability;

/// A value as LangGraph's serializer gives it: its type tag and bytes, stored as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typed {
    /// The serializer's tag (`"msgpack"`, `"bytes"`, `"null"`, `"msgpack+aes"`, ...).
    pub tag: String,
    /// The encoded value.
    pub bytes: Vec<u8>,
}

/// One checkpoint of a thread's namespace, without its channel values (those are [`LgBlob`]s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LgCheckpoint {
    /// The thread.
    pub thread_id: String,
    /// The namespace (`""` for the root graph).
    pub checkpoint_ns: String,
    /// The checkpoint's id (a uuid6: string order is time order).
    pub checkpoint_id: String,
    /// The checkpoint this one follows, if any.
    pub parent_id: Option<String>,
    /// `metadata.run_id`, which [`Database::lg_delete_for_runs`] matches.
    pub run_id: Option<String>,
    /// The serialized checkpoint.
    pub checkpoint: Typed,
    /// The serialized metadata.
    pub metadata: Typed,
    /// The `(channel, version)` blobs holding this checkpoint's channel values.
    pub channels: Vec<(String, String)>,
}

/// A channel's value at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LgBlob {
    /// The channel.
    pub channel: String,
    /// The version, as the caller keys it.
    pub version: String,
    /// The serialized value.
    pub value: Typed,
}

/// A pending write of a task against a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LgWrite {
    /// The task that wrote.
    pub task_id: String,
    /// Its index: the position in the task's writes, or a negative number for the special
    /// channels, whose writes replace earlier ones (a normal write never does).
    pub idx: i64,
    /// The task's path.
    pub task_path: String,
    /// The channel written.
    pub channel: String,
    /// The serialized value.
    pub value: Typed,
}

/// A checkpoint with its pending writes and the blobs of its channel values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LgTuple {
    /// The checkpoint.
    pub checkpoint: LgCheckpoint,
    /// Its pending writes, by task id then index.
    pub writes: Vec<LgWrite>,
    /// Its channel values that are stored (a missing blob is left out).
    pub blobs: Vec<LgBlob>,
}

/// Which checkpoints [`Database::lg_list`] returns, newest first.
#[derive(Debug, Clone, Default)]
pub struct LgListQuery {
    /// Only this thread (`None`: every thread).
    pub thread_id: Option<String>,
    /// Only this namespace (`None`: every namespace).
    pub checkpoint_ns: Option<String>,
    /// Only this checkpoint.
    pub checkpoint_id: Option<String>,
    /// Only checkpoints with an id strictly below this one.
    pub before: Option<String>,
    /// At most this many.
    pub limit: Option<usize>,
}

const CHECKPOINT_COLUMNS: &str = "thread_id, checkpoint_ns, checkpoint_id, parent_id, run_id, \
     type, checkpoint, metadata_type, metadata, channels";

/// Newest first (ids are uuid6: string order is time order). One statement per scope, so the
/// thread and namespace are index probes; the optional bounds (`?3 IS NULL OR ...`) filter
/// within the range.
const LIST_NS: &str = "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_id, run_id, \
     type, checkpoint, metadata_type, metadata, channels FROM lg_checkpoints \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 \
     AND (?3 IS NULL OR checkpoint_id = ?3) AND (?4 IS NULL OR checkpoint_id < ?4) \
     ORDER BY checkpoint_id DESC, thread_id, checkpoint_ns LIMIT ?5";
const LIST_THREAD: &str = "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_id, run_id, \
     type, checkpoint, metadata_type, metadata, channels FROM lg_checkpoints \
     WHERE thread_id = ?1 AND ?2 IS NULL \
     AND (?3 IS NULL OR checkpoint_id = ?3) AND (?4 IS NULL OR checkpoint_id < ?4) \
     ORDER BY checkpoint_id DESC, thread_id, checkpoint_ns LIMIT ?5";
const LIST_ALL: &str = "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_id, run_id, \
     type, checkpoint, metadata_type, metadata, channels FROM lg_checkpoints \
     WHERE ?1 IS NULL AND (?2 IS NULL OR checkpoint_ns = ?2) \
     AND (?3 IS NULL OR checkpoint_id = ?3) AND (?4 IS NULL OR checkpoint_id < ?4) \
     ORDER BY checkpoint_id DESC, thread_id, checkpoint_ns LIMIT ?5";

impl Database {
    /// Stores a checkpoint (replacing one with the same id) and the blobs of the channels it
    /// changed, in one transaction, synced or not as `durability` says.
    pub fn lg_put(
        &self,
        checkpoint: &LgCheckpoint,
        blobs: &[LgBlob],
        durability: Durability,
    ) -> Result<()> {
        let channels = serde_json::to_string(&checkpoint.channels)
            .map_err(|e| Error::InvalidArgument(format!("checkpoint channels: {e}")))?;
        self.inner().sidecar().write_with(durability, |tx| {
            let mut put_blob = tx.prepare_cached(
                "INSERT OR REPLACE INTO lg_blobs \
                 (thread_id, checkpoint_ns, channel, version, type, value) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for b in blobs {
                put_blob.execute(params![
                    checkpoint.thread_id,
                    checkpoint.checkpoint_ns,
                    b.channel,
                    b.version,
                    b.value.tag,
                    b.value.bytes
                ])?;
            }
            tx.prepare_cached(
                "INSERT OR REPLACE INTO lg_checkpoints (thread_id, checkpoint_ns, checkpoint_id, \
                 parent_id, run_id, type, checkpoint, metadata_type, metadata, channels) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                checkpoint.thread_id,
                checkpoint.checkpoint_ns,
                checkpoint.checkpoint_id,
                checkpoint.parent_id,
                checkpoint.run_id,
                checkpoint.checkpoint.tag,
                checkpoint.checkpoint.bytes,
                checkpoint.metadata.tag,
                checkpoint.metadata.bytes,
                channels
            ])?;
            Ok(())
        })
    }

    /// Stores pending writes against a checkpoint: a write with `idx >= 0` is kept only if the
    /// task has none at that index yet (a retried task changes nothing), a negative `idx`
    /// replaces the earlier one.
    pub fn lg_put_writes(
        &self,
        thread_id: &str,
        checkpoint_ns: &str,
        checkpoint_id: &str,
        writes: &[LgWrite],
        durability: Durability,
    ) -> Result<()> {
        self.inner().sidecar().write_with(durability, |tx| {
            let mut keep_first = tx.prepare_cached(
                "INSERT OR IGNORE INTO lg_writes (thread_id, checkpoint_ns, checkpoint_id, \
                 task_id, idx, task_path, channel, type, value) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut replace = tx.prepare_cached(
                "INSERT OR REPLACE INTO lg_writes (thread_id, checkpoint_ns, checkpoint_id, \
                 task_id, idx, task_path, channel, type, value) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for w in writes {
                let stmt = if w.idx >= 0 {
                    &mut keep_first
                } else {
                    &mut replace
                };
                stmt.execute(params![
                    thread_id,
                    checkpoint_ns,
                    checkpoint_id,
                    w.task_id,
                    w.idx,
                    w.task_path,
                    w.channel,
                    w.value.tag,
                    w.value.bytes
                ])?;
            }
            Ok(())
        })
    }

    /// The checkpoint `checkpoint_id` of `(thread_id, checkpoint_ns)`, or the newest (largest
    /// id) when `None`, with its writes and blobs; `None` when there is no such checkpoint.
    pub fn lg_get(
        &self,
        thread_id: &str,
        checkpoint_ns: &str,
        checkpoint_id: Option<&str>,
    ) -> Result<Option<LgTuple>> {
        self.inner().sidecar().read(|tx| {
            let row = match checkpoint_id {
                Some(id) => tx
                    .prepare_cached(
                        "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_id, run_id, \
                         type, checkpoint, metadata_type, metadata, channels FROM lg_checkpoints \
                         WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND checkpoint_id = ?3",
                    )?
                    .query_row(params![thread_id, checkpoint_ns, id], checkpoint_row)
                    .optional()?,
                None => tx
                    .prepare_cached(
                        "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_id, run_id, \
                         type, checkpoint, metadata_type, metadata, channels FROM lg_checkpoints \
                         WHERE thread_id = ?1 AND checkpoint_ns = ?2 \
                         ORDER BY checkpoint_id DESC LIMIT 1",
                    )?
                    .query_row(params![thread_id, checkpoint_ns], checkpoint_row)
                    .optional()?,
            };
            row.map(|r| complete(tx, r)).transpose()
        })
    }

    /// The checkpoints `query` selects, newest first within each `(thread, namespace)`, with
    /// their writes and blobs, read from one snapshot.
    pub fn lg_list(&self, query: &LgListQuery) -> Result<Vec<LgTuple>> {
        let limit = query
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        self.inner().sidecar().read(|tx| {
            let rows = tx
                .prepare_cached(match (&query.thread_id, &query.checkpoint_ns) {
                    (Some(_), Some(_)) => LIST_NS,
                    (Some(_), None) => LIST_THREAD,
                    (None, _) => LIST_ALL,
                })?
                .query_map(
                    params![
                        query.thread_id,
                        query.checkpoint_ns,
                        query.checkpoint_id,
                        query.before,
                        limit
                    ],
                    checkpoint_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(|r| complete(tx, r)).collect()
        })
    }

    /// Deletes every checkpoint, write and blob of `thread_id`, in every namespace (an unknown
    /// thread is no error).
    pub fn lg_delete_thread(&self, thread_id: &str) -> Result<()> {
        self.inner().sidecar().write(|tx| {
            for sql in [
                "DELETE FROM lg_checkpoints WHERE thread_id = ?1",
                "DELETE FROM lg_writes WHERE thread_id = ?1",
                "DELETE FROM lg_blobs WHERE thread_id = ?1",
            ] {
                tx.prepare_cached(sql)?.execute([thread_id])?;
            }
            Ok(())
        })
    }

    /// Makes `target` a copy of thread `source` (every namespace, same ids, parents, metadata,
    /// values and writes), replacing whatever `target` held; `source` is unchanged.
    pub fn lg_copy_thread(&self, source: &str, target: &str) -> Result<()> {
        if source == target {
            return Ok(());
        }
        self.inner().sidecar().write(|tx| {
            for sql in [
                "DELETE FROM lg_checkpoints WHERE thread_id = ?2",
                "DELETE FROM lg_writes WHERE thread_id = ?2",
                "DELETE FROM lg_blobs WHERE thread_id = ?2",
                "INSERT INTO lg_checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_id, \
                 run_id, type, checkpoint, metadata_type, metadata, channels) \
                 SELECT ?2, checkpoint_ns, checkpoint_id, parent_id, run_id, type, checkpoint, \
                 metadata_type, metadata, channels FROM lg_checkpoints WHERE thread_id = ?1",
                "INSERT INTO lg_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, \
                 task_path, channel, type, value) \
                 SELECT ?2, checkpoint_ns, checkpoint_id, task_id, idx, task_path, channel, \
                 type, value FROM lg_writes WHERE thread_id = ?1",
                "INSERT INTO lg_blobs (thread_id, checkpoint_ns, channel, version, type, value) \
                 SELECT ?2, checkpoint_ns, channel, version, type, value FROM lg_blobs \
                 WHERE thread_id = ?1",
            ] {
                tx.prepare_cached(sql)?.execute([source, target])?;
            }
            Ok(())
        })
    }

    /// Prunes each thread: with `keep_latest`, every namespace keeps only its newest checkpoint
    /// (with its writes and the blobs it reads); otherwise everything of the thread goes.
    pub fn lg_prune(&self, thread_ids: &[String], keep_latest: bool) -> Result<()> {
        if !keep_latest {
            for t in thread_ids {
                self.lg_delete_thread(t)?;
            }
            return Ok(());
        }
        self.inner().sidecar().write(|tx| {
            for thread in thread_ids {
                let namespaces: Vec<String> = tx
                    .prepare_cached(
                        "SELECT DISTINCT checkpoint_ns FROM lg_checkpoints WHERE thread_id = ?1",
                    )?
                    .query_map([thread], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                for ns in namespaces {
                    let latest: String = tx
                        .prepare_cached(
                            "SELECT MAX(checkpoint_id) FROM lg_checkpoints \
                             WHERE thread_id = ?1 AND checkpoint_ns = ?2",
                        )?
                        .query_row([thread, &ns], |r| r.get(0))?;
                    for sql in [
                        "DELETE FROM lg_checkpoints WHERE thread_id = ?1 AND checkpoint_ns = ?2 \
                         AND checkpoint_id <> ?3",
                        "DELETE FROM lg_writes WHERE thread_id = ?1 AND checkpoint_ns = ?2 \
                         AND checkpoint_id <> ?3",
                    ] {
                        tx.prepare_cached(sql)?.execute([thread, &ns, &latest])?;
                    }
                    drop_unread_blobs(tx, thread, &ns)?;
                }
                // Writes and blobs of namespaces without checkpoints.
                tx.prepare_cached(
                    "DELETE FROM lg_writes WHERE thread_id = ?1 AND checkpoint_ns NOT IN \
                     (SELECT checkpoint_ns FROM lg_checkpoints WHERE thread_id = ?1)",
                )?
                .execute([thread])?;
                tx.prepare_cached(
                    "DELETE FROM lg_blobs WHERE thread_id = ?1 AND checkpoint_ns NOT IN \
                     (SELECT checkpoint_ns FROM lg_checkpoints WHERE thread_id = ?1)",
                )?
                .execute([thread])?;
            }
            Ok(())
        })
    }

    /// Deletes the checkpoints whose `run_id` is one of `run_ids`, with their writes, in every
    /// thread and namespace, and the blobs no remaining checkpoint reads.
    pub fn lg_delete_for_runs(&self, run_ids: &[String]) -> Result<()> {
        if run_ids.is_empty() {
            return Ok(());
        }
        self.inner().sidecar().write(|tx| {
            let mut touched: HashSet<(String, String)> = HashSet::new();
            for run in run_ids {
                let hits: Vec<(String, String, String)> = tx
                    .prepare_cached(
                        "SELECT thread_id, checkpoint_ns, checkpoint_id FROM lg_checkpoints \
                         WHERE run_id = ?1",
                    )?
                    .query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                for (thread, ns, id) in hits {
                    for sql in [
                        "DELETE FROM lg_checkpoints WHERE thread_id = ?1 AND checkpoint_ns = ?2 \
                         AND checkpoint_id = ?3",
                        "DELETE FROM lg_writes WHERE thread_id = ?1 AND checkpoint_ns = ?2 \
                         AND checkpoint_id = ?3",
                    ] {
                        tx.prepare_cached(sql)?.execute([&thread, &ns, &id])?;
                    }
                    touched.insert((thread, ns));
                }
            }
            for (thread, ns) in touched {
                drop_unread_blobs(tx, &thread, &ns)?;
            }
            Ok(())
        })
    }
}

/// A row of `lg_checkpoints` (columns [`CHECKPOINT_COLUMNS`]), with its channels' JSON still
/// to parse ([`complete`]).
fn checkpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(LgCheckpoint, String)> {
    debug_assert!(CHECKPOINT_COLUMNS.starts_with("thread_id"));
    Ok((
        LgCheckpoint {
            thread_id: r.get(0)?,
            checkpoint_ns: r.get(1)?,
            checkpoint_id: r.get(2)?,
            parent_id: r.get(3)?,
            run_id: r.get(4)?,
            checkpoint: Typed {
                tag: r.get(5)?,
                bytes: r.get(6)?,
            },
            metadata: Typed {
                tag: r.get(7)?,
                bytes: r.get(8)?,
            },
            channels: Vec::new(),
        },
        r.get(9)?,
    ))
}

/// The `(channel, version)` pairs of a checkpoint row (JSON only this module writes).
fn parse_channels(json: &str) -> Result<Vec<(String, String)>> {
    serde_json::from_str(json).map_err(|e| Error::Corrupt {
        path: crate::meta::SQLITE_FILE.into(),
        detail: format!(
            "a LangGraph checkpoint row's channels are not a JSON list of pairs ({e}); \
             delete the thread (MnemoSaver.delete_thread) and run it again"
        ),
    })
}

/// A checkpoint with its writes and the blobs its channels name.
fn complete(
    tx: &Transaction<'_>,
    (mut checkpoint, channels): (LgCheckpoint, String),
) -> Result<LgTuple> {
    checkpoint.channels = parse_channels(&channels)?;
    let writes = tx
        .prepare_cached(
            "SELECT task_id, idx, task_path, channel, type, value FROM lg_writes \
             WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND checkpoint_id = ?3 \
             ORDER BY task_id, idx",
        )?
        .query_map(
            params![
                checkpoint.thread_id,
                checkpoint.checkpoint_ns,
                checkpoint.checkpoint_id
            ],
            |r| {
                Ok(LgWrite {
                    task_id: r.get(0)?,
                    idx: r.get(1)?,
                    task_path: r.get(2)?,
                    channel: r.get(3)?,
                    value: Typed {
                        tag: r.get(4)?,
                        bytes: r.get(5)?,
                    },
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut blob = tx.prepare_cached(
        "SELECT type, value FROM lg_blobs \
         WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND channel = ?3 AND version = ?4",
    )?;
    let mut blobs = Vec::with_capacity(checkpoint.channels.len());
    for (channel, version) in &checkpoint.channels {
        let found = blob
            .query_row(
                params![
                    checkpoint.thread_id,
                    checkpoint.checkpoint_ns,
                    channel,
                    version
                ],
                |r| {
                    Ok(Typed {
                        tag: r.get(0)?,
                        bytes: r.get(1)?,
                    })
                },
            )
            .optional()?;
        if let Some(value) = found {
            blobs.push(LgBlob {
                channel: channel.clone(),
                version: version.clone(),
                value,
            });
        }
    }
    Ok(LgTuple {
        checkpoint,
        writes,
        blobs,
    })
}

/// Deletes the blobs of `(thread, ns)` that no checkpoint left there reads.
fn drop_unread_blobs(tx: &Transaction<'_>, thread: &str, ns: &str) -> Result<()> {
    let mut read: HashSet<(String, String)> = HashSet::new();
    let lists: Vec<String> = tx
        .prepare_cached(
            "SELECT channels FROM lg_checkpoints WHERE thread_id = ?1 AND checkpoint_ns = ?2",
        )?
        .query_map([thread, ns], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for list in lists {
        read.extend(parse_channels(&list)?);
    }
    let stored: Vec<(String, String)> = tx
        .prepare_cached(
            "SELECT channel, version FROM lg_blobs WHERE thread_id = ?1 AND checkpoint_ns = ?2",
        )?
        .query_map([thread, ns], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut delete = tx.prepare_cached(
        "DELETE FROM lg_blobs \
         WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND channel = ?3 AND version = ?4",
    )?;
    for (channel, version) in stored {
        if !read.contains(&(channel.clone(), version.clone())) {
            delete.execute([thread, ns, &channel, &version])?;
        }
    }
    Ok(())
}
