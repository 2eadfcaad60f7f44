//! Outcomes of finished calls on their way into the ledger: one write transaction per call
//! instead of two.
//!
//! [`ToolExecutor::begin`](super::ToolExecutor::begin) records a call as `running` in a write
//! transaction (it must: the policy's counts are checked in the same transaction, and a
//! process killed while the tool runs leaves that row). Its outcome does not need a
//! transaction of its own: [`ToolExecutor::finish`](super::ToolExecutor::finish) appends it
//! to this process's journal file (`tool-journal/<pid>-<nanos>.jsonl` in the database
//! directory; one `write(2)`, no sync) and queues it here. The next ledger write of this
//! database (the next call's `begin`, usually) applies the queued outcomes first, in its own
//! transaction; a flusher thread applies them after [`FLUSH_DELAY`] when no write comes; every
//! ledger read of this process applies them before it reads.
//!
//! A killed process loses none of them: the journal is in the operating system's page cache
//! once `write` returns (only a power loss can lose it, as it can lose a `Deferred` commit).
//! The journal is held locked (`File::try_lock`) by its process; any process that opens the
//! database or reads the ledger takes over journals whose lock is free (their process died),
//! applies their outcomes and deletes them. Applying an outcome only changes a row still
//! `running`, so applying one twice changes nothing (a success is cached only by the
//! application that moved its row out of `running`).
//!
//! `begin` also journals each call it starts (`{"started": id}`), so a dead process's calls
//! that never finished are known: whoever takes over its journal records them as `error`
//! ([`INTERRUPTED`]) instead of leaving them `running` for ever. Only a process killed between
//! `begin`'s commit and that line (one `write(2)`) leaves a `running` row behind.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::Transaction;
use serde::{Deserialize, Serialize};

use super::CallStatus;
use super::ledger;
use crate::collection::DbShared;
use crate::error::{Error, Result};
use crate::types::Durability;

/// The journals' directory, in the database directory.
pub(crate) const JOURNAL_DIR: &str = "tool-journal";

/// How long an outcome waits for another ledger write before the flusher writes it.
const FLUSH_DELAY: Duration = Duration::from_millis(2);

/// A journal whose outcomes are all applied is emptied once it is this long.
const JOURNAL_TRUNCATE_BYTES: u64 = 1 << 20;

/// The error recorded for a call whose process ended before the call did.
pub(crate) const INTERRUPTED: &str =
    "interrupted: the process making the call ended before the call finished";

/// A journal line saying a call was started (its row is `running`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Started {
    pub(crate) started: i64,
}

/// One finished call's outcome, as queued and as journalled (one JSON line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Finished {
    pub(crate) id: i64,
    pub(crate) status: String,
    pub(crate) result: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) duration_us: i64,
    /// The cache entry a success adds: (tool, args, created_at, expires_at).
    pub(crate) cache: Option<(String, String, i64, Option<i64>)>,
}

/// The queue of one database in this process (held by [`DbShared`]).
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    queued: Condvar,
}

#[derive(Debug, Default)]
struct State {
    pending: Vec<Finished>,
    journal: Option<Journal>,
    flusher: bool,
    /// Calls this process started and has not finished: their `started` lines are written
    /// again when the journal is emptied.
    in_flight: BTreeSet<i64>,
}

#[derive(Debug)]
struct Journal {
    file: File,
    path: PathBuf,
    len: u64,
}

impl Outbox {
    /// Journals that call `id` started (a database with a directory), so that it is known
    /// as interrupted should this process end before [`push`](Self::push) journals its
    /// outcome.
    pub(crate) fn started(&self, shared: &Arc<DbShared>, id: i64) -> Result<()> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = shared.sidecar.dir() {
            journal_line(&mut s, dir, &Started { started: id })?;
            s.in_flight.insert(id);
        }
        Ok(())
    }

    /// Journals `f` (a database with a directory) and queues it for the next ledger write.
    pub(crate) fn push(&self, shared: &Arc<DbShared>, f: Finished) -> Result<()> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = shared.sidecar.dir() {
            journal_line(&mut s, dir, &f)?;
            s.in_flight.remove(&f.id);
        }
        s.pending.push(f);
        let start = !s.flusher;
        s.flusher = true;
        drop(s);
        if start {
            start_flusher(shared);
        }
        self.queued.notify_one();
        Ok(())
    }

    /// Takes the queued outcomes (the caller applies them, or gives them back on failure).
    fn take(&self) -> Vec<Finished> {
        std::mem::take(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()).pending)
    }

    /// Puts back outcomes whose transaction failed, ahead of those queued meanwhile.
    fn give_back(&self, mut taken: Vec<Finished>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        taken.append(&mut s.pending);
        s.pending = taken;
    }

    fn is_empty(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pending
            .is_empty()
    }

    /// After a commit that applied everything queued: empties a long journal, keeping the
    /// `started` lines of the calls still running.
    fn committed(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !s.pending.is_empty() {
            return;
        }
        let State {
            journal, in_flight, ..
        } = &mut *s;
        if let Some(j) = journal.as_mut()
            && j.len >= JOURNAL_TRUNCATE_BYTES
            && j.file.set_len(0).is_ok()
        {
            j.len = 0;
            for &id in in_flight.iter() {
                // A failed line only loses the mark of a crash (the row stays `running`).
                let _ = j.append(&Started { started: id });
            }
        }
    }
}

/// Appends `value` as one line to this process's journal in `dir`, made on first use.
fn journal_line(s: &mut State, dir: &Path, value: &impl Serialize) -> Result<()> {
    if s.journal.is_none() {
        s.journal = Some(Journal::create(dir)?);
    }
    match s.journal.as_mut() {
        Some(j) => j.append(value),
        None => Ok(()),
    }
}

impl Journal {
    /// A new journal, locked before it gets its name (a process that sees it can never take
    /// it for a dead one's).
    fn create(dir: &Path) -> Result<Journal> {
        let jdir = dir.join(JOURNAL_DIR);
        std::fs::create_dir_all(&jdir).map_err(|e| Error::io("create", &jdir, e))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("{}-{nanos}", std::process::id());
        let tmp = jdir.join(format!(".{name}.tmp"));
        let path = jdir.join(format!("{name}.jsonl"));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        file.try_lock()
            .map_err(|e| Error::io("lock", &tmp, std::io::Error::other(e.to_string())))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &tmp, e))?;
        Ok(Journal { file, path, len: 0 })
    }

    /// Appends `value` as one JSON line (one `write(2)`).
    fn append(&mut self, value: &impl Serialize) -> Result<()> {
        let mut line = serde_json::to_vec(value)
            .map_err(|e| Error::invalid(format!("a tool journal line as JSON: {e}")))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(|e| Error::io("append to", &self.path, e))?;
        self.len += line.len() as u64;
        Ok(())
    }
}

/// Applies `f` to its `running` row, and caches a success if that row was still running
/// (an outcome applied already is not cached again), inside `tx`.
fn apply(tx: &Transaction<'_>, f: &Finished) -> Result<()> {
    let Some(status) = CallStatus::parse(&f.status) else {
        return Ok(());
    };
    let changed = ledger::finish(
        tx,
        f.id,
        status,
        f.result.as_deref(),
        f.error.as_deref(),
        Some(f.duration_us),
        CallStatus::Running,
    )?;
    if let (true, Some((tool, args, now, expires)), Some(r)) = (changed, &f.cache, &f.result) {
        ledger::cache_put(tx, tool, args, r, *now, *expires)?;
    }
    Ok(())
}

/// A ledger write: this database's queued outcomes, then `f`, in one write transaction
/// committed without a sync (a killed process loses nothing: the log holds it).
pub(crate) fn write<T>(
    shared: &Arc<DbShared>,
    f: impl FnOnce(&Transaction<'_>) -> Result<T>,
) -> Result<T> {
    let outbox = &shared.tool_outbox;
    let mut taken = Vec::new();
    let out = shared.sidecar.write_with(Durability::Deferred, |tx| {
        // Taken once the write lock is held: nothing queued before is left behind.
        taken = outbox.take();
        for x in &taken {
            apply(tx, x)?;
        }
        f(tx)
    });
    if out.is_err() {
        outbox.give_back(taken);
    } else {
        outbox.committed();
    }
    shared.after_commit();
    out
}

/// Applies this process's queued outcomes (if any), and those of dead processes' journals,
/// before a ledger read.
pub(crate) fn settle(shared: &Arc<DbShared>) -> Result<()> {
    adopt_orphans(shared)?;
    flush(shared)
}

/// Applies this process's queued outcomes, if any (one write transaction).
pub(crate) fn flush(shared: &Arc<DbShared>) -> Result<()> {
    if !shared.tool_outbox.is_empty() {
        write(shared, |_| Ok(()))?;
    }
    Ok(())
}

/// Applies and deletes the journals of processes that died (their lock is free).
pub(crate) fn adopt_orphans(shared: &Arc<DbShared>) -> Result<()> {
    let Some(dir) = shared.sidecar.dir() else {
        return Ok(());
    };
    let jdir = dir.join(JOURNAL_DIR);
    let Ok(entries) = std::fs::read_dir(&jdir) else {
        return Ok(()); // none yet
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        let Ok(file) = OpenOptions::new().read(true).write(true).open(&path) else {
            continue; // taken over and deleted by another process meanwhile
        };
        if file.try_lock().is_err() {
            continue; // its process lives (this one's own journal included)
        }
        let mut outcomes = Vec::new();
        let mut started = BTreeSet::new();
        for line in BufReader::new(&file).lines() {
            let Ok(line) = line else { break };
            // A line cut short by the crash was never acknowledged: skipped.
            if let Ok(f) = serde_json::from_str::<Finished>(&line) {
                outcomes.push(f);
            } else if let Ok(s) = serde_json::from_str::<Started>(&line) {
                started.insert(s.started);
            }
        }
        for f in &outcomes {
            started.remove(&f.id);
        }
        shared.sidecar.write_with(Durability::Deferred, |tx| {
            for f in &outcomes {
                apply(tx, f)?;
            }
            // Started there and never finished: the process died first.
            for &id in &started {
                ledger::finish(
                    tx,
                    id,
                    CallStatus::Error,
                    None,
                    Some(INTERRUPTED),
                    None,
                    CallStatus::Running,
                )?;
            }
            Ok(())
        })?;
        shared.after_commit();
        // Deleted while locked: another process that opened it meanwhile applies it again,
        // which changes nothing.
        let _ = std::fs::remove_file(&path);
    }
    Ok(())
}

/// Starts the thread that applies outcomes no other write picked up within [`FLUSH_DELAY`];
/// it ends with the database.
fn start_flusher(shared: &Arc<DbShared>) {
    let weak: Weak<DbShared> = Arc::downgrade(shared);
    let outbox = Arc::clone(&shared.tool_outbox);
    let spawned = std::thread::Builder::new()
        .name("mnemodb-tool-ledger".to_owned())
        .spawn(move || {
            loop {
                let s = outbox.state.lock().unwrap_or_else(|p| p.into_inner());
                let (s, _) = outbox
                    .queued
                    .wait_timeout_while(s, Duration::from_secs(1), |s| s.pending.is_empty())
                    .unwrap_or_else(|p| p.into_inner());
                let queued = !s.pending.is_empty();
                drop(s);
                let Some(shared) = weak.upgrade() else { return };
                if queued {
                    std::thread::sleep(FLUSH_DELAY);
                    // A failed write keeps them queued (and journalled) for the next one.
                    if !outbox.is_empty() {
                        let _ = write(&shared, |_| Ok(()));
                    }
                }
            }
        });
    if spawned.is_err() {
        // No thread: outcomes are still applied by the next ledger write or read.
        shared
            .tool_outbox
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .flusher = false;
    }
}

/// At the database's end: applies what is queued and deletes this process's journal, unless
/// calls it started are still running (an executor can outlive the database's handles and
/// finish them): then the journal stays, locked while this process lives, for whoever opens
/// the database after it.
pub(crate) fn close(shared: &Arc<DbShared>) {
    if !shared.tool_outbox.is_empty() && write(shared, |_| Ok(())).is_err() {
        return; // the journal keeps them for the next process that opens the database
    }
    let mut s = shared
        .tool_outbox
        .state
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if s.pending.is_empty()
        && s.in_flight.is_empty()
        && let Some(j) = s.journal.take()
    {
        let _ = std::fs::remove_file(&j.path);
    }
}
