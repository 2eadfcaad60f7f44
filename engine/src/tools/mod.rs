//! The tool executor: tool calls guarded by a policy (timeout, nesting depth, calls per run,
//! repetition limit), every call in a durable ledger, results in a cache shared by every
//! process that opens the database.
//!
//! A call is a tool name, its arguments as JSON (kept in canonical form, [`canonical_json`]),
//! a run id and a depth. [`ToolExecutor::begin`] checks the policy and the cache in one write
//! transaction (so the counts are right across processes) and either refuses the call
//! ([`Error::ToolRefused`], recorded as `refused`), answers it from the cache (recorded as
//! `cache-hit`), or records it as `running` and hands back a [`Ticket`];
//! [`ToolExecutor::finish`] records the outcome and caches a success. The tool itself runs in
//! the caller's code (Python runs its own functions); [`ToolExecutor::call`] runs a Rust
//! closure on a worker thread with the timeout.
//!
//! Ledger writes commit with [`Durability::Deferred`]: a killed process loses no recorded
//! call (the WAL holds it), a power loss may lose the last ones. A call costs one write
//! transaction: its outcome goes to this process's journal and into the next one
//! (`outbox.rs`).

mod canonical;
mod ledger;
mod outbox;

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use canonical::canonical_json;
pub(crate) use ledger::SCHEMA;
pub(crate) use outbox::Outbox;
pub(crate) use outbox::{adopt_orphans, close as close_outbox};

use crate::Database;
use crate::collection::DbShared;
use crate::error::{Error, Result};
use crate::types::Durability;

/// What the ledger says of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallStatus {
    /// Started and not finished (or its process died while it ran).
    Running,
    /// Returned a result.
    Ok,
    /// Raised or returned an error.
    Error,
    /// Did not finish within its timeout.
    Timeout,
    /// Refused by the policy without being called.
    Refused,
    /// Answered from the cache without being called.
    CacheHit,
    /// Timed out, then returned: the late result was recorded and discarded (not cached).
    Abandoned,
}

impl CallStatus {
    const ALL: [CallStatus; 7] = [
        CallStatus::Running,
        CallStatus::Ok,
        CallStatus::Error,
        CallStatus::Timeout,
        CallStatus::Refused,
        CallStatus::CacheHit,
        CallStatus::Abandoned,
    ];

    /// The status as the ledger stores it: `running`, `ok`, `error`, `timeout`, `refused`,
    /// `cache-hit`, `abandoned`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Running => "running",
            CallStatus::Ok => "ok",
            CallStatus::Error => "error",
            CallStatus::Timeout => "timeout",
            CallStatus::Refused => "refused",
            CallStatus::CacheHit => "cache-hit",
            CallStatus::Abandoned => "abandoned",
        }
    }

    /// The status named `s` ([`as_str`](Self::as_str)'s names).
    pub fn parse(s: &str) -> Option<CallStatus> {
        CallStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Why a call was refused without being called.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The same tool and arguments were called `limit` times in this run already.
    Repeated {
        /// The run.
        run_id: String,
        /// The policy's `max_repeats`.
        limit: u32,
    },
    /// The run made `limit` calls already.
    TooManyCalls {
        /// The run.
        run_id: String,
        /// The policy's `max_calls_per_run`.
        limit: u64,
    },
    /// A tool called by tools nested deeper than allowed.
    TooDeep {
        /// The call's depth (0: called by the agent).
        depth: u32,
        /// The policy's `max_depth`.
        limit: u32,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Repeated { run_id, limit } => write!(
                f,
                "it was already called {limit} times with these same arguments in run \
                 `{run_id}` (max_repeats={limit}); use the result you have, change the \
                 arguments, or raise max_repeats"
            ),
            Refusal::TooManyCalls { run_id, limit } => write!(
                f,
                "run `{run_id}` already made {limit} tool calls (max_calls_per_run={limit}); \
                 start a new run or raise max_calls_per_run"
            ),
            Refusal::TooDeep { depth, limit } => write!(
                f,
                "it would run at nesting depth {depth}, past max_depth={limit}; a tool calling \
                 tools may be recursing"
            ),
        }
    }
}

/// How calls of one tool are guarded and cached.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolPolicy {
    /// How long a call may run (`None`: no limit).
    pub timeout: Option<Duration>,
    /// Deepest nesting allowed (a call made by the agent is at depth 0).
    pub max_depth: u32,
    /// Calls one run may make, refused ones not counted (`None`: no limit).
    pub max_calls_per_run: Option<u64>,
    /// Calls with the same tool and arguments one run may make; the next is refused
    /// (`None`: no limit).
    pub max_repeats: Option<u32>,
    /// Whether successful results are cached (failures never are).
    pub cache: bool,
    /// How long a cached result is used (`None`: until invalidated).
    pub cache_ttl: Option<Duration>,
}

impl Default for ToolPolicy {
    /// No timeout, depth 8, no call limit, 3 repeats, cached without expiry.
    fn default() -> Self {
        ToolPolicy {
            timeout: None,
            max_depth: 8,
            max_calls_per_run: None,
            max_repeats: Some(3),
            cache: true,
            cache_ttl: None,
        }
    }
}

/// One call as the caller describes it.
#[derive(Debug, Clone, Copy)]
pub struct CallSpec<'a> {
    /// The tool's name.
    pub tool: &'a str,
    /// The arguments (any JSON value; kept in canonical form).
    pub args: &'a Value,
    /// The run (an agent's task, a crew's kickoff...) the call belongs to.
    pub run_id: &'a str,
    /// 0 for a call made by the agent, one more for each tool calling a tool.
    pub depth: u32,
    /// The ledger id of the call that made this one, if a tool called it.
    pub parent_id: Option<i64>,
}

/// A call the policy let through: the caller runs the tool, then passes this to
/// [`ToolExecutor::finish`].
#[derive(Debug)]
pub struct Ticket {
    /// The call's ledger id.
    pub id: i64,
    /// The tool's name.
    pub tool: String,
    /// The canonical arguments.
    pub args: String,
    /// The policy the call runs under.
    pub policy: ToolPolicy,
    started: Instant,
}

impl Ticket {
    /// Time since the call was recorded as started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// What [`ToolExecutor::begin`] decided.
#[derive(Debug)]
pub enum Begin {
    /// Run the tool, then [`finish`](ToolExecutor::finish) the ticket.
    Run(Ticket),
    /// The cache answered: the result (JSON), and the ledger id of the `cache-hit` row.
    Cached {
        /// The ledger id.
        id: i64,
        /// The cached result.
        result: Value,
    },
}

/// How a call ended, for [`ToolExecutor::finish`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The tool returned this result.
    Ok(Value),
    /// The tool returned a result that is recorded (as this JSON, e.g. its `repr`) but not
    /// cached: it does not round-trip through JSON.
    OkUncached(Value),
    /// The tool failed with this message.
    Error(String),
    /// The deadline passed first.
    Timeout,
    /// The caller answered it from a cached result of similar arguments (a semantic hit):
    /// recorded as `cache-hit` with this result, and not cached again.
    CacheHit(Value),
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// The ledger id (increasing in the order calls began).
    pub id: i64,
    /// The run.
    pub run_id: String,
    /// The tool.
    pub tool: String,
    /// The canonical arguments.
    pub args: String,
    /// The status.
    pub status: CallStatus,
    /// The result as JSON (ok, cache-hit, and abandoned's late result).
    pub result: Option<String>,
    /// The error message (error, timeout, refused).
    pub error: Option<String>,
    /// The nesting depth.
    pub depth: u32,
    /// The call that made this one.
    pub parent_id: Option<i64>,
    /// When it began, in ms since the Unix epoch (the database's clock).
    pub started_at_ms: i64,
    /// How long it ran, in microseconds (`None` while running).
    pub duration_us: Option<i64>,
}

/// Which ledger rows to list; `None` fields match anything.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    /// Only this run.
    pub run_id: Option<String>,
    /// Only this tool.
    pub tool: Option<String>,
    /// Only this status.
    pub status: Option<CallStatus>,
    /// At most this many rows, oldest first.
    pub limit: Option<u64>,
}

/// Counts of one tool's calls by status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolSummary {
    /// The tool.
    pub tool: String,
    /// Every call recorded.
    pub calls: u64,
    /// Returned a result.
    pub ok: u64,
    /// Failed.
    pub errors: u64,
    /// Timed out (abandoned ones included).
    pub timeouts: u64,
    /// Refused by the policy.
    pub refused: u64,
    /// Answered from the cache.
    pub cache_hits: u64,
    /// Still running (or their process died).
    pub running: u64,
}

impl ToolSummary {
    fn add(&mut self, status: CallStatus, n: u64) {
        self.calls += n;
        match status {
            CallStatus::Ok => self.ok += n,
            CallStatus::Error => self.errors += n,
            CallStatus::Timeout | CallStatus::Abandoned => self.timeouts += n,
            CallStatus::Refused => self.refused += n,
            CallStatus::CacheHit => self.cache_hits += n,
            CallStatus::Running => self.running += n,
        }
    }

    /// Cache hits over the calls that were answered (refused ones left out); 0 without any.
    pub fn hit_rate(&self) -> f64 {
        let answered = self.calls - self.refused;
        if answered == 0 {
            0.0
        } else {
            self.cache_hits as f64 / answered as f64
        }
    }
}

/// The default time a ledger row is kept ([`ToolExecutor::set_ledger_retention`]).
pub const DEFAULT_LEDGER_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Runs tool calls under policies, records them in the ledger and caches their results.
/// Cheap to clone; clones share policies.
#[derive(Debug, Clone)]
pub struct ToolExecutor {
    shared: Arc<DbShared>,
    inner: Arc<RwLock<Policies>>,
}

#[derive(Debug)]
struct Policies {
    defaults: ToolPolicy,
    per_tool: HashMap<String, ToolPolicy>,
    retention: Option<Duration>,
}

impl Database {
    /// A tool executor on this database with `defaults` for tools without a policy of their
    /// own. Every executor on the directory, in any process, shares the ledger and the cache.
    pub fn tools(&self, defaults: ToolPolicy) -> ToolExecutor {
        // Outcomes journalled by processes that died are applied before this one's calls.
        let _ = outbox::adopt_orphans(&self.inner().shared);
        ToolExecutor {
            shared: Arc::clone(&self.inner().shared),
            inner: Arc::new(RwLock::new(Policies {
                defaults,
                per_tool: HashMap::new(),
                retention: Some(DEFAULT_LEDGER_RETENTION),
            })),
        }
    }

    /// Ledger rows matching `filter`, oldest first.
    pub fn tool_calls(&self, filter: &CallFilter) -> Result<Vec<CallRecord>> {
        outbox::settle(&self.inner().shared)?;
        self.inner().sidecar().read(|tx| ledger::calls(tx, filter))
    }

    /// Counts of every tool's calls by status, by tool name.
    pub fn tool_summary(&self) -> Result<Vec<ToolSummary>> {
        outbox::settle(&self.inner().shared)?;
        self.inner().sidecar().read(ledger::summary)
    }
}

/// Deletes expired ledger rows and cache entries (the expiry timer calls this each time it
/// looks); returns how many.
pub(crate) fn sweep_expired(shared: &Arc<DbShared>) -> Result<u64> {
    let now = shared.now_ms();
    if !shared
        .sidecar
        .read(|tx| ledger::anything_expired(tx, now))?
    {
        return Ok(0);
    }
    let mut total = 0;
    loop {
        let n = shared
            .sidecar
            .write_with(Durability::Deferred, |tx| ledger::sweep_batch(tx, now))?;
        shared.after_commit();
        total += n;
        if n == 0 {
            return Ok(total);
        }
    }
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl ToolExecutor {
    /// A ledger or cache write: the database's write transaction, committed without a sync
    /// (a killed process loses nothing), with the outcomes queued before it applied first,
    /// then the log's bound kept as every write keeps it.
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        outbox::write(&self.shared, f)
    }

    /// Gives `tool` its own policy.
    pub fn set_policy(&self, tool: &str, policy: ToolPolicy) {
        let mut p = self.inner.write().unwrap_or_else(|p| p.into_inner());
        p.per_tool.insert(tool.to_owned(), policy);
    }

    /// The policy calls of `tool` run under.
    pub fn policy(&self, tool: &str) -> ToolPolicy {
        let p = self.inner.read().unwrap_or_else(|p| p.into_inner());
        p.per_tool.get(tool).unwrap_or(&p.defaults).clone()
    }

    /// How long ledger rows written from now on are kept (`None`: until deleted by hand);
    /// the database's expiry sweep deletes them after that.
    pub fn set_ledger_retention(&self, keep: Option<Duration>) {
        self.inner
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retention = keep;
    }

    fn retention(&self) -> Option<Duration> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .retention
    }

    /// Checks the policy and the cache for `call`, and records it: refused
    /// ([`Error::ToolRefused`]), answered from the cache, or started.
    pub fn begin(&self, call: &CallSpec<'_>) -> Result<Begin> {
        if call.tool.is_empty() {
            return Err(Error::invalid("a tool needs a name (got an empty string)"));
        }
        let policy = self.policy(call.tool);
        let args = canonical_json(call.args);
        let now = self.shared.now_ms();
        let expires_at = self.retention().map(|r| now.saturating_add(ms(r)));
        let started = Instant::now();
        enum Decided {
            Refused(Refusal),
            Cached(i64, String),
            Run(i64),
        }
        let decided = self.write(|tx| {
            let refusal = if call.depth > policy.max_depth {
                Some(Refusal::TooDeep {
                    depth: call.depth,
                    limit: policy.max_depth,
                })
            } else {
                let (all, same) = ledger::run_counts(
                    tx,
                    call.run_id,
                    call.tool,
                    &args,
                    policy.max_calls_per_run,
                    policy.max_repeats,
                )?;
                if policy.max_calls_per_run.is_some_and(|l| all >= l) {
                    Some(Refusal::TooManyCalls {
                        run_id: call.run_id.to_owned(),
                        limit: policy.max_calls_per_run.unwrap_or(0),
                    })
                } else if policy.max_repeats.is_some_and(|l| same >= u64::from(l)) {
                    Some(Refusal::Repeated {
                        run_id: call.run_id.to_owned(),
                        limit: policy.max_repeats.unwrap_or(0),
                    })
                } else {
                    None
                }
            };
            let mut row = ledger::NewCall {
                run_id: call.run_id,
                tool: call.tool,
                args: &args,
                status: CallStatus::Running,
                result: None,
                error: None,
                depth: call.depth,
                parent_id: call.parent_id,
                started_at: now,
                duration_us: None,
                expires_at,
            };
            if let Some(refusal) = refusal {
                let message = refusal.to_string();
                row.status = CallStatus::Refused;
                row.error = Some(&message);
                row.duration_us = Some(0);
                ledger::insert(tx, &row)?;
                return Ok(Decided::Refused(refusal));
            }
            if policy.cache
                && let Some(hit) = ledger::cache_get(tx, call.tool, &args, now)?
            {
                row.status = CallStatus::CacheHit;
                row.result = Some(&hit);
                row.duration_us = Some(micros(started.elapsed()));
                let id = ledger::insert(tx, &row)?;
                return Ok(Decided::Cached(id, hit));
            }
            Ok(Decided::Run(ledger::insert(tx, &row)?))
        })?;
        match decided {
            Decided::Refused(reason) => Err(Error::ToolRefused {
                tool: call.tool.to_owned(),
                reason,
            }),
            Decided::Cached(id, text) => Ok(Begin::Cached {
                id,
                result: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            }),
            Decided::Run(id) => {
                // Best effort: without the line, a crash leaves the row `running`, as it did
                // before journals knew of started calls; the call itself is unaffected.
                let _ = self.shared.tool_outbox.started(&self.shared, id);
                Ok(Begin::Run(Ticket {
                    id,
                    tool: call.tool.to_owned(),
                    args,
                    policy,
                    started,
                }))
            }
        }
    }

    /// Records how `ticket`'s call ended, and caches a success when its policy says so: in
    /// this process's journal at once (a killed process loses nothing), in the ledger with
    /// the next ledger write of this process (within a few milliseconds; every ledger read
    /// applies it first), and visible to other processes from then on.
    pub fn finish(&self, ticket: &Ticket, outcome: &Outcome) -> Result<()> {
        let took = micros(ticket.started.elapsed());
        let now = self.shared.now_ms();
        let (status, result, error) = match outcome {
            Outcome::Ok(v) | Outcome::OkUncached(v) => (CallStatus::Ok, Some(json_text(v)), None),
            Outcome::CacheHit(v) => (CallStatus::CacheHit, Some(json_text(v)), None),
            Outcome::Error(m) => (CallStatus::Error, None, Some(m.clone())),
            Outcome::Timeout => (
                CallStatus::Timeout,
                None,
                Some(timeout_error(ticket).to_string()),
            ),
        };
        let cacheable = matches!(outcome, Outcome::Ok(_)) && ticket.policy.cache;
        let cache = cacheable.then(|| {
            let expires = ticket.policy.cache_ttl.map(|t| now.saturating_add(ms(t)));
            (ticket.tool.clone(), ticket.args.clone(), now, expires)
        });
        self.shared.tool_outbox.push(
            &self.shared,
            outbox::Finished {
                id: ticket.id,
                status: status.as_str().to_owned(),
                result,
                error,
                duration_us: took,
                cache,
            },
        )
    }

    /// Writes the outcomes [`finish`](Self::finish) queued in this process into the ledger
    /// now (and the results they cache), rather than with the next ledger write or within a
    /// few milliseconds: other processes see them from its return.
    pub fn flush(&self) -> Result<()> {
        outbox::flush(&self.shared)
    }

    /// Records the late end of a call that timed out: `abandoned`, with its result (or
    /// error), which is not cached. Returns false if the call was not in `timeout`.
    pub fn abandoned(&self, id: i64, late: &Outcome) -> Result<bool> {
        let (result, error) = match late {
            Outcome::Ok(v) | Outcome::OkUncached(v) | Outcome::CacheHit(v) => {
                (Some(json_text(v)), None)
            }
            Outcome::Error(m) => (None, Some(format!("late error: {m}"))),
            Outcome::Timeout => (None, None),
        };
        self.write(|tx| {
            ledger::finish(
                tx,
                id,
                CallStatus::Abandoned,
                result.as_deref(),
                error.as_deref(),
                None,
                CallStatus::Timeout,
            )
        })
    }

    /// Runs `f(args)` for `call` under the policy: refused or answered from the cache without
    /// calling it; otherwise on a worker thread, waited for up to the timeout. On timeout the
    /// thread is abandoned ([`Error::ToolTimeout`]; its late result is recorded as
    /// `abandoned`), and an `Err` from `f` is [`Error::ToolFailed`].
    pub fn call<F>(&self, call: &CallSpec<'_>, f: F) -> Result<Value>
    where
        F: FnOnce(Value) -> std::result::Result<Value, String> + Send + 'static,
    {
        let ticket = match self.begin(call)? {
            Begin::Cached { result, .. } => return Ok(result),
            Begin::Run(t) => t,
        };
        let slot = Arc::new(Handoff::default());
        let args = call.args.clone();
        let late = self.clone();
        let id = ticket.id;
        let theirs = Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name(format!("mnemodb-tool-{}", ticket.tool))
            .spawn(move || {
                let run = std::panic::AssertUnwindSafe(move || f(args));
                let outcome = match std::panic::catch_unwind(run) {
                    Ok(Ok(v)) => Outcome::Ok(v),
                    Ok(Err(m)) => Outcome::Error(m),
                    Err(_) => Outcome::Error("the tool panicked".to_owned()),
                };
                if let Some(outcome) = theirs.deliver(outcome) {
                    // The caller gave up waiting (the row says `timeout` already).
                    let _ = late.abandoned(id, &outcome);
                }
            });
        if let Err(e) = spawned {
            let message = format!("could not start a thread for the tool: {e}");
            self.finish(&ticket, &Outcome::Error(message.clone()))?;
            return Err(Error::ToolFailed {
                tool: ticket.tool,
                message,
            });
        }
        let outcome = slot.wait(ticket.policy.timeout);
        self.finish(&ticket, &outcome)?;
        if outcome == Outcome::Timeout {
            // Recorded as `timeout` first, then given up: a result arriving from now on is
            // recorded as `abandoned` by the thread, one that came meanwhile by us.
            if let Some(late_outcome) = slot.give_up() {
                self.abandoned(ticket.id, &late_outcome)?;
            }
        }
        match outcome {
            Outcome::Ok(v) | Outcome::OkUncached(v) | Outcome::CacheHit(v) => Ok(v),
            Outcome::Error(message) => Err(Error::ToolFailed {
                tool: ticket.tool,
                message,
            }),
            Outcome::Timeout => Err(timeout_error(&ticket)),
        }
    }

    /// The cached result of `tool` for `args`, if fresh (no ledger row: a plain lookup, as
    /// CrewAI's cache handler reads).
    pub fn cache_get(&self, tool: &str, args: &Value) -> Result<Option<Value>> {
        let args = canonical_json(args);
        // A success of this process still queued is cached once applied.
        outbox::flush(&self.shared)?;
        let now = self.shared.now_ms();
        let hit = self
            .shared
            .sidecar
            .read(|tx| ledger::cache_get(tx, tool, &args, now))?;
        Ok(hit.map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t))))
    }

    /// Caches `result` for `tool` and `args` for `ttl` (`None`: `tool`'s policy's TTL).
    pub fn cache_put(
        &self,
        tool: &str,
        args: &Value,
        result: &Value,
        ttl: Option<Duration>,
    ) -> Result<()> {
        let args = canonical_json(args);
        let now = self.shared.now_ms();
        let ttl = ttl.or(self.policy(tool).cache_ttl);
        let expires = ttl.map(|t| now.saturating_add(ms(t)));
        let text = json_text(result);
        self.write(|tx| ledger::cache_put(tx, tool, &args, &text, now, expires))
    }

    /// Removes `tool`'s cached results: every one, or only the one for `args`. Returns how
    /// many were removed.
    pub fn invalidate(&self, tool: &str, args: Option<&Value>) -> Result<u64> {
        let args = args.map(canonical_json);
        self.write(|tx| ledger::invalidate(tx, tool, args.as_deref()))
    }
}

/// Where a tool's worker thread leaves its outcome for the caller, or learns the caller left.
#[derive(Debug, Default)]
struct Handoff {
    state: Mutex<HandoffState>,
    ready: Condvar,
}

#[derive(Debug, Default)]
enum HandoffState {
    #[default]
    Waiting,
    Done(Outcome),
    GaveUp,
}

impl Handoff {
    /// From the worker: leaves the outcome, or gives it back if the caller gave up.
    fn deliver(&self, outcome: Outcome) -> Option<Outcome> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(*s, HandoffState::GaveUp) {
            return Some(outcome);
        }
        *s = HandoffState::Done(outcome);
        drop(s);
        self.ready.notify_all();
        None
    }

    /// From the caller: the outcome, or `Timeout` once `timeout` passes without one.
    fn wait(&self, timeout: Option<Duration>) -> Outcome {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if matches!(*s, HandoffState::Done(_)) {
                let HandoffState::Done(o) = std::mem::take(&mut *s) else {
                    return Outcome::Timeout;
                };
                return o;
            }
            match deadline {
                None => s = self.ready.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Outcome::Timeout;
                    }
                    s = self
                        .ready
                        .wait_timeout(s, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }

    /// From the caller after a timeout: stops waiting; returns an outcome that arrived
    /// meanwhile.
    fn give_up(&self) -> Option<Outcome> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *s, HandoffState::GaveUp) {
            HandoffState::Done(o) => Some(o),
            _ => None,
        }
    }
}

fn timeout_error(ticket: &Ticket) -> Error {
    Error::ToolTimeout {
        tool: ticket.tool.clone(),
        after: ticket.policy.timeout.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests;
