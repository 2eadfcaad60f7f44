//! LangGraph's long-term store: items keyed by `(namespace, key)` holding a JSON value, in
//! insertion order, with an optional time to live read from the database's clock.
//!
//! A namespace is stored as its labels each followed by a NUL byte, so a label-wise prefix
//! (`("a",)` covers `("a", "b")`, never `("ab",)`) is a byte-range probe of the primary key.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};

use crate::db::Database;
use crate::error::{Error, Result};
use crate::types::Durability;

/// An item of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LgItem {
    /// Its namespace's labels.
    pub namespace: Vec<String>,
    /// Its key in the namespace.
    pub key: String,
    /// Its value, a JSON object as text.
    pub value: String,
    /// When it was first put (milliseconds since the Unix epoch, the database's clock).
    pub created_at_ms: i64,
    /// When it was last put.
    pub updated_at_ms: i64,
    /// When it expires (`None`: never).
    pub expires_at_ms: Option<i64>,
}

/// One put (or delete, with `value: None`) of [`Database::lg_store_write`].
#[derive(Debug, Clone, PartialEq)]
pub struct LgItemWrite {
    /// The namespace's labels (at least one, none holding a NUL character).
    pub namespace: Vec<String>,
    /// The key.
    pub key: String,
    /// The JSON value, or `None` to delete the item.
    pub value: Option<String>,
    /// How long the item lives after this put and after each refreshing read (`None`: always).
    pub ttl: Option<Duration>,
}

/// The stored form of a namespace: each label followed by a NUL byte.
fn encode(namespace: &[String]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(namespace.iter().map(|l| l.len() + 1).sum());
    for label in namespace {
        if label.contains('\0') {
            return Err(Error::InvalidArgument(format!(
                "namespace label {label:?} holds a NUL character; remove it"
            )));
        }
        out.extend_from_slice(label.as_bytes());
        out.push(0);
    }
    Ok(out)
}

/// The labels of a stored namespace.
fn decode(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .take(bytes.iter().filter(|b| **b == 0).count())
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

const ITEM_COLUMNS: &str = "namespace, key, value, created_at, updated_at, expires_at";

fn item_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LgItem> {
    debug_assert!(ITEM_COLUMNS.starts_with("namespace"));
    let ns: Vec<u8> = r.get(0)?;
    Ok(LgItem {
        namespace: decode(&ns),
        key: r.get(1)?,
        value: r.get(2)?,
        created_at_ms: r.get(3)?,
        updated_at_ms: r.get(4)?,
        expires_at_ms: r.get(5)?,
    })
}

impl Database {
    /// Applies puts and deletes in order, in one transaction. A put over a live item keeps its
    /// place in the insertion order and its `created_at`; a put over an expired or deleted one
    /// is a new item.
    pub fn lg_store_write(&self, writes: &[LgItemWrite]) -> Result<()> {
        let encoded = writes
            .iter()
            .map(|w| {
                if w.namespace.is_empty() && w.value.is_some() {
                    return Err(Error::InvalidArgument(
                        "a store item needs a namespace of at least one label".to_owned(),
                    ));
                }
                encode(&w.namespace)
            })
            .collect::<Result<Vec<_>>>()?;
        let now = self.inner().shared.now_ms();
        self.inner().sidecar().write(|tx| {
            let mut next_ord: i64 =
                tx.query_row("SELECT COALESCE(MAX(ord), 0) + 1 FROM lg_store", [], |r| {
                    r.get(0)
                })?;
            let mut drop_dead = tx.prepare_cached(
                "DELETE FROM lg_store WHERE namespace = ?1 AND key = ?2 AND expires_at <= ?3",
            )?;
            let mut delete =
                tx.prepare_cached("DELETE FROM lg_store WHERE namespace = ?1 AND key = ?2")?;
            let mut upsert = tx.prepare_cached(
                "INSERT INTO lg_store \
                 (namespace, key, value, ord, created_at, updated_at, expires_at, ttl_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7) \
                 ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, \
                 updated_at = excluded.updated_at, expires_at = excluded.expires_at, \
                 ttl_ms = excluded.ttl_ms",
            )?;
            for (w, ns) in writes.iter().zip(&encoded) {
                match &w.value {
                    None => {
                        delete.execute(params![ns, w.key])?;
                    }
                    Some(value) => {
                        drop_dead.execute(params![ns, w.key, now])?;
                        let ttl = w.ttl.map(millis);
                        let expires = ttl.map(|t| now.saturating_add(t));
                        upsert.execute(params![ns, w.key, value, next_ord, now, expires, ttl])?;
                        next_ord += 1;
                    }
                }
            }
            Ok(())
        })
    }

    /// The live items at these `(namespace, key)`s, `None` where there is none.
    pub fn lg_store_get(&self, keys: &[(Vec<String>, String)]) -> Result<Vec<Option<LgItem>>> {
        let encoded = keys
            .iter()
            .map(|(ns, _)| encode(ns))
            .collect::<Result<Vec<_>>>()?;
        let now = self.inner().shared.now_ms();
        self.inner().sidecar().read(|tx| {
            let mut get = tx.prepare_cached(
                "SELECT namespace, key, value, created_at, updated_at, expires_at FROM lg_store \
                 WHERE namespace = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)",
            )?;
            let mut out = Vec::with_capacity(keys.len());
            for ((_, key), ns) in keys.iter().zip(&encoded) {
                out.push(get.query_row(params![ns, key, now], item_row).optional()?);
            }
            Ok(out)
        })
    }

    /// Every live item whose namespace starts with the labels of `prefix` (all items for an
    /// empty prefix), in insertion order.
    pub fn lg_store_search(&self, prefix: &[String]) -> Result<Vec<LgItem>> {
        let low = encode(prefix)?;
        let now = self.inner().shared.now_ms();
        self.inner().sidecar().read(|tx| {
            let rows = if low.is_empty() {
                tx.prepare_cached(
                    "SELECT namespace, key, value, created_at, updated_at, expires_at FROM lg_store \
                     WHERE expires_at IS NULL OR expires_at > ?1 ORDER BY ord",
                )?
                .query_map([now], item_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
            } else {
                // Every encoding under the prefix starts with `low`, which ends in NUL: the
                // range is `low` up to `low` with that NUL made 0x01.
                let mut high = low.clone();
                if let Some(last) = high.last_mut() {
                    *last = 1;
                }
                tx.prepare_cached(
                    "SELECT namespace, key, value, created_at, updated_at, expires_at FROM lg_store \
                     WHERE namespace >= ?1 AND namespace < ?2 \
                     AND (expires_at IS NULL OR expires_at > ?3) ORDER BY ord",
                )?
                .query_map(params![low, high, now], item_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
            };
            Ok(rows)
        })
    }

    /// Restarts the time to live of these live items from now (items without one, missing or
    /// expired are left alone). Committed without waiting for the disk
    /// ([`Durability::Deferred`]): a power loss may undo a refresh, never damage the store.
    pub fn lg_store_refresh(&self, keys: &[(Vec<String>, String)]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let encoded = keys
            .iter()
            .map(|(ns, _)| encode(ns))
            .collect::<Result<Vec<_>>>()?;
        let now = self.inner().shared.now_ms();
        self.inner()
            .sidecar()
            .write_with(Durability::Deferred, |tx| {
                let mut touch = tx.prepare_cached(
                    "UPDATE lg_store SET expires_at = ?3 + ttl_ms \
                     WHERE namespace = ?1 AND key = ?2 AND ttl_ms IS NOT NULL \
                     AND expires_at > ?3",
                )?;
                for ((_, key), ns) in keys.iter().zip(&encoded) {
                    touch.execute(params![ns, key, now])?;
                }
                Ok(())
            })
    }

    /// Every namespace holding a live item, in byte order of the labels.
    pub fn lg_store_namespaces(&self) -> Result<Vec<Vec<String>>> {
        let now = self.inner().shared.now_ms();
        self.inner().sidecar().read(|tx| {
            let rows = tx
                .prepare_cached(
                    "SELECT DISTINCT namespace FROM lg_store \
                     WHERE expires_at IS NULL OR expires_at > ?1 ORDER BY namespace",
                )?
                .query_map([now], |r| r.get::<_, Vec<u8>>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows.iter().map(|ns| decode(ns)).collect())
        })
    }

    /// Deletes the items expired by now and returns their `(namespace, key)`s (the caller
    /// drops their vectors).
    pub fn lg_store_sweep(&self) -> Result<Vec<(Vec<String>, String)>> {
        let now = self.inner().shared.now_ms();
        self.inner().sidecar().write(|tx| {
            let dead = tx
                .prepare_cached(
                    "DELETE FROM lg_store WHERE expires_at <= ?1 RETURNING namespace, key",
                )?
                .query_map([now], |r| Ok((decode(&r.get::<_, Vec<u8>>(0)?), r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(dead)
        })
    }
}
