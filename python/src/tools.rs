//! `_native.ToolExecutor`: the engine's tool executor (policies, ledger, shared cache) for
//! `mnemodb.tools`, which runs the tools themselves. Arguments and results cross as JSON text.

use std::time::Duration;

use mnemodb::{Begin, CallFilter, CallSpec, CallStatus, Outcome, ToolPolicy};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;

use crate::database::Database;
use crate::error::IntoPy;

/// Tool calls guarded by policies, recorded in the database's ledger, cached in its cache.
#[pyclass(frozen, module = "mnemodb._native")]
pub(crate) struct ToolExecutor {
    db: mnemodb::Database,
    inner: mnemodb::ToolExecutor,
}

/// A call let through by the policy; pass it to `finish`.
#[pyclass(frozen, module = "mnemodb._native")]
pub(crate) struct Ticket {
    inner: mnemodb::Ticket,
}

#[pymethods]
impl Ticket {
    /// The call's ledger id.
    #[getter]
    fn id(&self) -> i64 {
        self.inner.id
    }

    /// The call's timeout in seconds (`None`: none).
    #[getter]
    fn timeout(&self) -> Option<f64> {
        self.inner.policy.timeout.map(|t| t.as_secs_f64())
    }
}

fn seconds(what: &str, s: Option<f64>) -> PyResult<Option<Duration>> {
    s.map(|s| {
        Duration::try_from_secs_f64(s).map_err(|_| {
            PyValueError::new_err(format!("{what} must be a number of seconds >= 0, got {s}"))
        })
    })
    .transpose()
}

fn parse(what: &str, text: &str) -> PyResult<Value> {
    serde_json::from_str(text)
        .map_err(|e| PyValueError::new_err(format!("{what} is not valid JSON: {e}")))
}

#[allow(clippy::too_many_arguments)]
fn policy(
    timeout: Option<f64>,
    max_depth: u32,
    max_calls_per_run: Option<u64>,
    max_repeats: Option<u32>,
    cache: bool,
    cache_ttl: Option<f64>,
) -> PyResult<ToolPolicy> {
    Ok(ToolPolicy {
        timeout: seconds("timeout", timeout)?,
        max_depth,
        max_calls_per_run,
        max_repeats,
        cache,
        cache_ttl: seconds("cache_ttl", cache_ttl)?,
    })
}

fn outcome(status: &str, payload: Option<&str>) -> PyResult<Outcome> {
    match status {
        "ok" => Ok(Outcome::Ok(parse("the result", payload.unwrap_or("null"))?)),
        // A result that does not round-trip through JSON: recorded (its repr), not cached.
        "ok-uncached" => Ok(Outcome::OkUncached(Value::String(
            payload.unwrap_or("").to_owned(),
        ))),
        // Answered by the caller from a similar call's cached result (a semantic hit).
        "cache-hit" => Ok(Outcome::CacheHit(parse(
            "the result",
            payload.unwrap_or("null"),
        )?)),
        "error" => Ok(Outcome::Error(payload.unwrap_or("").to_owned())),
        "timeout" => Ok(Outcome::Timeout),
        other => Err(PyValueError::new_err(format!(
            "status must be ok, ok-uncached, cache-hit, error or timeout, got {other:?}"
        ))),
    }
}

#[pymethods]
impl ToolExecutor {
    /// An executor on `db` with a default policy.
    #[new]
    #[pyo3(signature = (db, *, timeout=None, max_depth=8, max_calls_per_run=None, max_repeats=Some(3), cache=true, cache_ttl=None, ledger_ttl=Some(30.0 * 86400.0)))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        db: &Database,
        timeout: Option<f64>,
        max_depth: u32,
        max_calls_per_run: Option<u64>,
        max_repeats: Option<u32>,
        cache: bool,
        cache_ttl: Option<f64>,
        ledger_ttl: Option<f64>,
    ) -> PyResult<Self> {
        let defaults = policy(
            timeout,
            max_depth,
            max_calls_per_run,
            max_repeats,
            cache,
            cache_ttl,
        )?;
        let db = db.engine().clone();
        let inner = db.tools(defaults);
        inner.set_ledger_retention(seconds("ledger_ttl", ledger_ttl)?);
        Ok(ToolExecutor { db, inner })
    }

    /// Gives `tool` its own policy.
    #[pyo3(signature = (tool, *, timeout, max_depth, max_calls_per_run, max_repeats, cache, cache_ttl))]
    #[allow(clippy::too_many_arguments)]
    fn set_policy(
        &self,
        tool: &str,
        timeout: Option<f64>,
        max_depth: u32,
        max_calls_per_run: Option<u64>,
        max_repeats: Option<u32>,
        cache: bool,
        cache_ttl: Option<f64>,
    ) -> PyResult<()> {
        let p = policy(
            timeout,
            max_depth,
            max_calls_per_run,
            max_repeats,
            cache,
            cache_ttl,
        )?;
        self.inner.set_policy(tool, p);
        Ok(())
    }

    /// The policy of `tool` as a dict.
    fn policy<'py>(&self, py: Python<'py>, tool: &str) -> PyResult<Bound<'py, PyDict>> {
        let p = self.inner.policy(tool);
        let d = PyDict::new(py);
        d.set_item("timeout", p.timeout.map(|t| t.as_secs_f64()))?;
        d.set_item("max_depth", p.max_depth)?;
        d.set_item("max_calls_per_run", p.max_calls_per_run)?;
        d.set_item("max_repeats", p.max_repeats)?;
        d.set_item("cache", p.cache)?;
        d.set_item("cache_ttl", p.cache_ttl.map(|t| t.as_secs_f64()))?;
        Ok(d)
    }

    /// Checks and records a call: returns `(ledger id, cached result JSON or None, ticket or
    /// None)`; a refused call raises `ToolRefusedError`.
    #[pyo3(signature = (tool, args, run_id, depth=0, parent_id=None))]
    fn begin(
        &self,
        py: Python<'_>,
        tool: &str,
        args: &str,
        run_id: &str,
        depth: u32,
        parent_id: Option<i64>,
    ) -> PyResult<(i64, Option<String>, Option<Ticket>)> {
        let args = parse("the arguments", args)?;
        let begun = py
            .detach(|| {
                self.inner.begin(&CallSpec {
                    tool,
                    args: &args,
                    run_id,
                    depth,
                    parent_id,
                })
            })
            .py_err()?;
        Ok(match begun {
            Begin::Cached { id, result } => (id, Some(result.to_string()), None),
            Begin::Run(t) => (t.id, None, Some(Ticket { inner: t })),
        })
    }

    /// Records how a call ended: `status` is `ok` (payload: the result as JSON), `error`
    /// (payload: the message) or `timeout`.
    #[pyo3(signature = (ticket, status, payload=None))]
    fn finish(
        &self,
        py: Python<'_>,
        ticket: &Ticket,
        status: &str,
        payload: Option<&str>,
    ) -> PyResult<()> {
        let o = outcome(status, payload)?;
        py.detach(|| self.inner.finish(&ticket.inner, &o)).py_err()
    }

    /// Writes the outcomes `finish` queued in this process into the ledger now (other
    /// processes see them, and the results they cache, from its return).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.flush()).py_err()
    }

    /// Records the late end of a call that timed out (`abandoned`); `status` as for `finish`.
    #[pyo3(signature = (id, status, payload=None))]
    fn abandoned(
        &self,
        py: Python<'_>,
        id: i64,
        status: &str,
        payload: Option<&str>,
    ) -> PyResult<bool> {
        let o = outcome(status, payload)?;
        py.detach(|| self.inner.abandoned(id, &o)).py_err()
    }

    /// The cached result (JSON) of `tool` for `args` (JSON), if fresh.
    fn cache_get(&self, py: Python<'_>, tool: &str, args: &str) -> PyResult<Option<String>> {
        let args = parse("the arguments", args)?;
        let hit = py.detach(|| self.inner.cache_get(tool, &args)).py_err()?;
        Ok(hit.map(|v| v.to_string()))
    }

    /// Caches `result` (JSON) for `tool` and `args` for `ttl` seconds (`None`: the tool's
    /// policy's TTL).
    #[pyo3(signature = (tool, args, result, ttl=None))]
    fn cache_put(
        &self,
        py: Python<'_>,
        tool: &str,
        args: &str,
        result: &str,
        ttl: Option<f64>,
    ) -> PyResult<()> {
        let args = parse("the arguments", args)?;
        let result = parse("the result", result)?;
        let ttl = seconds("ttl", ttl)?;
        py.detach(|| self.inner.cache_put(tool, &args, &result, ttl))
            .py_err()
    }

    /// Removes `tool`'s cached results (all, or the one for `args`); returns how many.
    #[pyo3(signature = (tool, args=None))]
    fn invalidate(&self, py: Python<'_>, tool: &str, args: Option<&str>) -> PyResult<u64> {
        let args = args.map(|a| parse("the arguments", a)).transpose()?;
        py.detach(|| self.inner.invalidate(tool, args.as_ref()))
            .py_err()
    }

    /// Ledger rows as dicts, oldest first.
    #[pyo3(signature = (run_id=None, tool=None, status=None, limit=None))]
    fn calls<'py>(
        &self,
        py: Python<'py>,
        run_id: Option<String>,
        tool: Option<String>,
        status: Option<&str>,
        limit: Option<u64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let status = status
            .map(|s| {
                CallStatus::parse(s).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "status must be one of running, ok, error, timeout, refused, \
                         cache-hit, abandoned; got {s:?}"
                    ))
                })
            })
            .transpose()?;
        let filter = CallFilter {
            run_id,
            tool,
            status,
            limit,
        };
        let rows = py.detach(|| self.db.tool_calls(&filter)).py_err()?;
        let out = PyList::empty(py);
        for c in rows {
            let d = PyDict::new(py);
            d.set_item("id", c.id)?;
            d.set_item("run_id", c.run_id)?;
            d.set_item("tool", c.tool)?;
            d.set_item("args", c.args)?;
            d.set_item("status", c.status.as_str())?;
            d.set_item("result", c.result)?;
            d.set_item("error", c.error)?;
            d.set_item("depth", c.depth)?;
            d.set_item("parent_id", c.parent_id)?;
            d.set_item("started_at", c.started_at_ms as f64 / 1000.0)?;
            d.set_item("duration", c.duration_us.map(|u| u as f64 / 1e6))?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// Counts of each tool's calls by status, as dicts.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows = py.detach(|| self.db.tool_summary()).py_err()?;
        let out = PyList::empty(py);
        for s in rows {
            let d = PyDict::new(py);
            d.set_item("tool", &s.tool)?;
            d.set_item("calls", s.calls)?;
            d.set_item("ok", s.ok)?;
            d.set_item("errors", s.errors)?;
            d.set_item("timeouts", s.timeouts)?;
            d.set_item("refused", s.refused)?;
            d.set_item("cache_hits", s.cache_hits)?;
            d.set_item("running", s.running)?;
            d.set_item("hit_rate", s.hit_rate())?;
            out.append(d)?;
        }
        Ok(out)
    }
}
