//! The tool tables in the sidecar: `tool_calls` (the ledger: every call, its status and
//! timing) and `tool_cache` (results by tool and canonical arguments), and the SQL over them.
//!
//! Both are additive tables (created if missing, no format version bump): older builds ignore
//! them. Every write goes through the sidecar's write transaction, so it shares the
//! database's write lock with every process.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Transaction, params};

use super::{CallFilter, CallRecord, CallStatus, ToolSummary};
use crate::error::Result;

/// The tool tables; applied by `meta::schema::create_or_check` on every open.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tool_calls (
    id          INTEGER PRIMARY KEY,
    run_id      TEXT    NOT NULL,
    tool        TEXT    NOT NULL,
    args        TEXT    NOT NULL,            -- canonical JSON
    status      TEXT    NOT NULL,            -- running, ok, error, timeout, refused, cache-hit, abandoned
    result      TEXT,                        -- JSON (ok, cache-hit, abandoned's late result)
    error       TEXT,
    depth       INTEGER NOT NULL,
    parent_id   INTEGER,
    started_at  INTEGER NOT NULL,            -- ms since the Unix epoch (the database's clock)
    duration_us INTEGER,                     -- NULL while running
    expires_at  INTEGER                      -- ms since the epoch; NULL: kept
);
CREATE INDEX IF NOT EXISTS tool_calls_by_run ON tool_calls(run_id, tool, args);
CREATE INDEX IF NOT EXISTS tool_calls_by_tool ON tool_calls(tool, status);
CREATE INDEX IF NOT EXISTS tool_calls_by_status ON tool_calls(status);
CREATE INDEX IF NOT EXISTS tool_calls_by_expiry ON tool_calls(expires_at)
    WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS tool_cache (
    tool        TEXT    NOT NULL,
    args        TEXT    NOT NULL,            -- canonical JSON
    result      TEXT    NOT NULL,            -- JSON
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,                     -- NULL: until invalidated
    PRIMARY KEY (tool, args)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tool_cache_by_expiry ON tool_cache(expires_at)
    WHERE expires_at IS NOT NULL;
";

/// Rows deleted per statement by the sweep.
const SWEEP_BATCH: i64 = 1024;

/// One new ledger row.
pub(crate) struct NewCall<'a> {
    pub(crate) run_id: &'a str,
    pub(crate) tool: &'a str,
    pub(crate) args: &'a str,
    pub(crate) status: CallStatus,
    pub(crate) result: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
    pub(crate) depth: u32,
    pub(crate) parent_id: Option<i64>,
    pub(crate) started_at: i64,
    pub(crate) duration_us: Option<i64>,
    pub(crate) expires_at: Option<i64>,
}

pub(crate) fn insert(tx: &Transaction<'_>, c: &NewCall<'_>) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO tool_calls (run_id, tool, args, status, result, error, depth, parent_id, \
         started_at, duration_us, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        c.run_id,
        c.tool,
        c.args,
        c.status.as_str(),
        c.result,
        c.error,
        c.depth,
        c.parent_id,
        c.started_at,
        c.duration_us,
        c.expires_at
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Sets a call's outcome. `only_if` restricts it to a row in that status (a late result
/// turns a `timeout` into `abandoned`, nothing else). Returns whether a row changed.
pub(crate) fn finish(
    tx: &Transaction<'_>,
    id: i64,
    status: CallStatus,
    result: Option<&str>,
    error: Option<&str>,
    duration_us: Option<i64>,
    only_if: CallStatus,
) -> Result<bool> {
    let n = tx
        .prepare_cached(
            "UPDATE tool_calls SET status = ?2, result = ?3, error = COALESCE(?4, error), \
             duration_us = COALESCE(?5, duration_us) WHERE id = ?1 AND status = ?6",
        )?
        .execute(params![
            id,
            status.as_str(),
            result,
            error,
            duration_us,
            only_if.as_str()
        ])?;
    Ok(n > 0)
}

/// Calls of `run_id` that were not refused (counted up to `calls_limit`; 0 without one), and
/// those of them with `tool` and `args` (up to `repeat_limit`; 0 without one). Each count stops
/// at its limit, so a long run costs no more than a short one.
pub(crate) fn run_counts(
    tx: &Transaction<'_>,
    run_id: &str,
    tool: &str,
    args: &str,
    calls_limit: Option<u64>,
    repeat_limit: Option<u32>,
) -> Result<(u64, u64)> {
    let all: i64 = match calls_limit {
        None => 0,
        Some(l) => tx
            .prepare_cached(
                "SELECT COUNT(*) FROM (SELECT 1 FROM tool_calls WHERE run_id = ?1 \
                 AND status <> 'refused' LIMIT ?2)",
            )?
            .query_row(params![run_id, i64::try_from(l).unwrap_or(i64::MAX)], |r| {
                r.get(0)
            })?,
    };
    let same: i64 = match repeat_limit {
        None => 0,
        Some(l) => tx
            .prepare_cached(
                "SELECT COUNT(*) FROM (SELECT 1 FROM tool_calls WHERE run_id = ?1 AND tool = ?2 \
                 AND args = ?3 AND status <> 'refused' LIMIT ?4)",
            )?
            .query_row(params![run_id, tool, args, i64::from(l)], |r| r.get(0))?,
    };
    Ok((all.max(0) as u64, same.max(0) as u64))
}

pub(crate) fn cache_get(
    tx: &Transaction<'_>,
    tool: &str,
    args: &str,
    now_ms: i64,
) -> Result<Option<String>> {
    Ok(tx
        .prepare_cached(
            "SELECT result FROM tool_cache WHERE tool = ?1 AND args = ?2 \
             AND (expires_at IS NULL OR expires_at > ?3)",
        )?
        .query_row(params![tool, args, now_ms], |r| r.get(0))
        .optional()?)
}

pub(crate) fn cache_put(
    tx: &Transaction<'_>,
    tool: &str,
    args: &str,
    result: &str,
    now_ms: i64,
    expires_at: Option<i64>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO tool_cache (tool, args, result, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tool, args) DO UPDATE SET \
         result = excluded.result, created_at = excluded.created_at, \
         expires_at = excluded.expires_at",
    )?
    .execute(params![tool, args, result, now_ms, expires_at])?;
    Ok(())
}

/// Deletes `tool`'s cached results (all of them, or the one for `args`); returns how many.
pub(crate) fn invalidate(tx: &Transaction<'_>, tool: &str, args: Option<&str>) -> Result<u64> {
    let n = match args {
        Some(a) => tx
            .prepare_cached("DELETE FROM tool_cache WHERE tool = ?1 AND args = ?2")?
            .execute(params![tool, a])?,
        None => tx
            .prepare_cached("DELETE FROM tool_cache WHERE tool = ?1")?
            .execute(params![tool])?,
    };
    Ok(n as u64)
}

/// Deletes up to one batch of expired ledger rows and cache entries; returns how many.
pub(crate) fn sweep_batch(tx: &Transaction<'_>, now_ms: i64) -> Result<u64> {
    let calls = tx
        .prepare_cached(
            "DELETE FROM tool_calls WHERE id IN (SELECT id FROM tool_calls \
             WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2)",
        )?
        .execute(params![now_ms, SWEEP_BATCH])?;
    let cached = tx
        .prepare_cached(
            "DELETE FROM tool_cache WHERE (tool, args) IN (SELECT tool, args FROM tool_cache \
             WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2)",
        )?
        .execute(params![now_ms, SWEEP_BATCH])?;
    Ok((calls + cached) as u64)
}

/// Whether anything in the tool tables has expired by `now_ms` (one index probe each).
pub(crate) fn anything_expired(tx: &Transaction<'_>, now_ms: i64) -> Result<bool> {
    let calls: Option<i64> = tx
        .prepare_cached("SELECT MIN(expires_at) FROM tool_calls WHERE expires_at IS NOT NULL")?
        .query_row([], |r| r.get(0))?;
    let cached: Option<i64> = tx
        .prepare_cached("SELECT MIN(expires_at) FROM tool_cache WHERE expires_at IS NOT NULL")?
        .query_row([], |r| r.get(0))?;
    Ok([calls, cached].into_iter().flatten().any(|at| at <= now_ms))
}

/// The filters `f` gives, each as its condition and the value bound to it.
fn filters(f: &CallFilter) -> Vec<(&'static str, Value)> {
    let mut out = Vec::with_capacity(3);
    if let Some(run_id) = &f.run_id {
        out.push(("run_id = ?", Value::Text(run_id.clone())));
    }
    if let Some(tool) = &f.tool {
        out.push(("tool = ?", Value::Text(tool.clone())));
    }
    if let Some(status) = f.status {
        out.push(("status = ?", Value::Text(status.as_str().to_owned())));
    }
    out
}

/// The `calls` statement for `filters`: only those, so each combination is planned with the
/// index that serves it (`tool_calls_by_run`, `_by_tool`, `_by_status`). One statement with
/// `(?1 IS NULL OR run_id = ?1)` per filter was planned once for every case, as a scan of the
/// whole ledger (`listing_calls_probes_an_index`). The limit is the last parameter.
fn calls_sql(filters: &[(&'static str, Value)]) -> String {
    let conds: Vec<&str> = filters.iter().map(|(cond, _)| *cond).collect();
    let filter = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    format!(
        "SELECT id, run_id, tool, args, status, result, error, depth, parent_id, started_at, \
         duration_us FROM tool_calls{filter} ORDER BY id LIMIT ?"
    )
}

pub(crate) fn calls(tx: &Transaction<'_>, f: &CallFilter) -> Result<Vec<CallRecord>> {
    let filters = filters(f);
    let mut stmt = tx.prepare_cached(&calls_sql(&filters))?;
    let limit = f.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let values = filters
        .into_iter()
        .map(|(_, v)| v)
        .chain([Value::Integer(limit)]);
    let rows = stmt.query_map(rusqlite::params_from_iter(values), |r| {
        let status: String = r.get(4)?;
        Ok(CallRecord {
            id: r.get(0)?,
            run_id: r.get(1)?,
            tool: r.get(2)?,
            args: r.get(3)?,
            status: CallStatus::parse(&status).unwrap_or(CallStatus::Running),
            result: r.get(5)?,
            error: r.get(6)?,
            depth: r.get(7)?,
            parent_id: r.get(8)?,
            started_at_ms: r.get(9)?,
            duration_us: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn summary(tx: &Transaction<'_>) -> Result<Vec<ToolSummary>> {
    let mut stmt = tx.prepare_cached(
        "SELECT tool, status, COUNT(*) FROM tool_calls GROUP BY tool, status ORDER BY tool",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out: Vec<ToolSummary> = Vec::new();
    for row in rows {
        let (tool, status, n) = row?;
        if out.last().is_none_or(|s| s.tool != tool) {
            out.push(ToolSummary {
                tool: tool.clone(),
                ..ToolSummary::default()
            });
        }
        if let (Some(s), Some(status)) = (out.last_mut(), CallStatus::parse(&status)) {
            s.add(status, n.max(0) as u64);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::{CallFilter, CallStatus, calls_sql, filters};

    /// The plan of the `calls` statement for `f`, one detail line per step.
    fn plan(f: &CallFilter) -> String {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(super::SCHEMA).unwrap();
        let sql = calls_sql(&filters(f));
        let n = sql.matches('?').count();
        let values: Vec<i64> = vec![0; n];
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values), |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("\n")
    }

    /// Listing a run's calls, a tool's or those of one status probes the index for it, never
    /// scans the ledger, which grows with every call an agent makes.
    #[test]
    fn listing_calls_probes_an_index() {
        let run = CallFilter {
            run_id: Some("r".into()),
            ..CallFilter::default()
        };
        let tool = CallFilter {
            tool: Some("t".into()),
            status: Some(CallStatus::Ok),
            ..CallFilter::default()
        };
        let status = CallFilter {
            status: Some(CallStatus::Running),
            ..CallFilter::default()
        };
        for (f, index) in [
            (run, "tool_calls_by_run (run_id=?)"),
            (tool, "tool_calls_by_tool (tool=? AND status=?)"),
            (status, "tool_calls_by_status (status=?)"),
        ] {
            let plan = plan(&f);
            assert!(
                plan.contains(&format!("USING INDEX {index}")),
                "{f:?}: {plan}"
            );
        }
        // No filter: the ledger in id order, the primary key's.
        let all = plan(&CallFilter::default());
        assert!(!all.contains("TEMP B-TREE"), "{all}");
    }
}
