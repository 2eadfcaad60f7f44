//! The scheduler: the database's background work (index catch-up, graph saves, live-slots
//! checkpoints, walk-copy encoding) as [`Job`]s with an id, a kind, progress, a state and a
//! cancel flag, run on the scheduler's own threads, never on the pool that answers queries.
//!
//! One [`Scheduler`] per [`Database`](crate::Database), shared by its collections. It owns a
//! rayon `ThreadPool` of its own (made on the first job; a thread per core on Linux, where
//! its threads yield by priority, one fewer elsewhere: [`priority`]): a job runs on one of
//! its workers, and the parallel parts of a job (the graph's `link`, norms, the walk copy's
//! encoding) run on the same pool, because rayon runs a worker's `par_iter` on that worker's
//! pool. The link and the encoding take only the workers the queries leave ([`Share`]).
//! Queries' exact scans use rayon's global pool; before the scheduler both shared it, and a
//! query's scan tasks queued behind a 50,000-node link for seconds
//! (`benches/src/bin/stall.rs`).
//!
//! Why threads and a rayon pool rather than tokio: every job is CPU-bound work over mapped
//! memory (linking, encoding) or a blocking file write; none waits on the network. Such work
//! on a tokio runtime would go to `spawn_blocking` threads anyway, and the parallel link
//! needs a rayon pool whatever drives it. A job's state, progress and result are plain
//! atomics and a mutex with a condition variable, which [`Job::wait`] blocks on with a
//! timeout; an async caller (the Python async client) can wait on the same handle from its
//! own executor.
//!
//! A job is cancelled cooperatively: [`Job::cancel`] sets a flag the job checks between
//! bounded steps ([`JobCtx::cancelled`]), and a job still queued is never started. A job never
//! holds a lock a read or a write needs for longer than one such step (see
//! `collection/index.rs`).
//!
//! **Invariant:** no background job runs on rayon's global pool (queries' pool): every job
//! goes through [`Scheduler::submit`] (or runs inline, for foreground callers, inside
//! [`Scheduler::install`]). The scheduler's threads run at a lower priority than the
//! foreground's ([`priority`]).

mod priority;
mod share;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use uuid::Uuid;

pub(crate) use share::{Foreground, Share};

/// Finished jobs kept for [`Scheduler::jobs`] after they end.
const KEEP_FINISHED: usize = 64;
/// How long [`Scheduler::close`] waits for cancelled jobs to stop.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobKind {
    /// Links the records a collection's index lacks into its graph.
    IndexCatchUp,
    /// Writes a collection's graph to its file.
    GraphSave,
    /// Writes a collection's live-slots table to its checkpoint file.
    LiveCheckpoint,
    /// Encodes the 8-bit copy of the rows a graph loaded from its file walks on.
    WalkCopyEncode,
    /// Copies the sidecar's write-ahead log into the database file and truncates it.
    WalCheckpoint,
    /// Deletes a collection's expired records.
    ExpirySweep,
    /// Rewrites a collection's vector file without its dead slots.
    Compaction,
    /// Verifies every block of vector rows against its checksum (`Database::scrub`).
    Scrub,
}

impl JobKind {
    const ALL: [JobKind; 8] = [
        JobKind::IndexCatchUp,
        JobKind::GraphSave,
        JobKind::LiveCheckpoint,
        JobKind::WalkCopyEncode,
        JobKind::WalCheckpoint,
        JobKind::ExpirySweep,
        JobKind::Compaction,
        JobKind::Scrub,
    ];

    /// The kind's name, as `jobs()` reports it (`index_catch_up`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::IndexCatchUp => "index_catch_up",
            JobKind::GraphSave => "graph_save",
            JobKind::LiveCheckpoint => "live_checkpoint",
            JobKind::WalkCopyEncode => "walk_copy_encode",
            JobKind::WalCheckpoint => "wal_checkpoint",
            JobKind::ExpirySweep => "expiry_sweep",
            JobKind::Compaction => "compaction",
            JobKind::Scrub => "scrub",
        }
    }

    fn code(self) -> u8 {
        JobKind::ALL.iter().position(|k| *k == self).unwrap_or(0) as u8
    }

    fn from_code(c: u8) -> JobKind {
        JobKind::ALL
            .get(c as usize)
            .copied()
            .unwrap_or(JobKind::IndexCatchUp)
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Submitted, not started.
    Queued,
    /// Running.
    Running,
    /// Finished its work.
    Done,
    /// Stopped on an error ([`JobInfo::error`] says which).
    Failed,
    /// Stopped (or never started) because it was cancelled.
    Cancelled,
}

impl JobState {
    /// The state's name (`queued`, `running`, `done`, `failed`, `cancelled`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Whether the job has ended (done, failed or cancelled).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

/// A snapshot of one job, as [`Database::jobs`](crate::Database::jobs) lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    /// Unique within the database handle, increasing in submission order.
    pub id: u64,
    /// What the job does.
    pub kind: JobKind,
    /// The collection it works on.
    pub collection: Option<Uuid>,
    /// Units of work done (slots linked, rows encoded, files written).
    pub done: u64,
    /// Units of work the job knows of (0 until it knows).
    pub total: u64,
    /// Where the job is.
    pub state: JobState,
    /// The error of a failed job.
    pub error: Option<String>,
}

#[derive(Debug)]
struct JobShared {
    id: u64,
    kind: AtomicU8,
    collection: Option<Uuid>,
    done: AtomicU64,
    total: AtomicU64,
    cancel: AtomicBool,
    status: Mutex<(JobState, Option<String>)>,
    changed: Condvar,
    /// The scheduler's count of running jobs, which [`JobShared::run`] keeps.
    running: Arc<AtomicUsize>,
}

impl JobShared {
    fn status(&self) -> std::sync::MutexGuard<'_, (JobState, Option<String>)> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, state: JobState, error: Option<String>) {
        *self.status() = (state, error);
        self.changed.notify_all();
    }

    fn info(&self) -> JobInfo {
        let (state, error) = self.status().clone();
        JobInfo {
            id: self.id,
            kind: JobKind::from_code(self.kind.load(SeqCst)),
            collection: self.collection,
            done: self.done.load(SeqCst),
            total: self.total.load(SeqCst),
            state,
            error,
        }
    }

    /// Runs `work` unless the job was cancelled first, and records how it ended.
    fn run(&self, work: impl FnOnce(&JobCtx<'_>) -> crate::Result<()>) {
        {
            let mut status = self.status();
            if self.cancel.load(SeqCst) || status.0 != JobState::Queued {
                *status = (JobState::Cancelled, None);
                drop(status);
                self.changed.notify_all();
                return;
            }
            status.0 = JobState::Running;
        }
        let _counted = Running::counted(&self.running);
        let ctx = JobCtx {
            job: Some(self),
            saw_cancel: AtomicBool::new(false),
        };
        let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&ctx)));
        match ended {
            Ok(Ok(())) if ctx.saw_cancel.load(SeqCst) => self.set(JobState::Cancelled, None),
            Ok(Ok(())) => self.set(JobState::Done, None),
            Ok(Err(e)) => self.set(JobState::Failed, Some(e.to_string())),
            Err(_) => self.set(JobState::Failed, Some("the job panicked".to_owned())),
        }
    }
}

/// A handle to a submitted job: watch it, cancel it, wait for it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Job {
    shared: Arc<JobShared>,
}

impl Job {
    /// The job's id.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// A snapshot of the job.
    pub fn info(&self) -> JobInfo {
        self.shared.info()
    }

    /// Asks the job to stop: a queued job never starts; a running one stops at its next
    /// check, between two bounded steps, keeping what it finished (a graph linked so far is
    /// kept and used).
    pub fn cancel(&self) {
        self.shared.cancel.store(true, SeqCst);
    }

    /// Waits until the job has ended or `timeout` has passed (`None`: no limit), and returns
    /// its state then.
    pub fn wait(&self, timeout: Option<Duration>) -> JobState {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut status = self.shared.status();
        loop {
            if status.0.is_finished() {
                return status.0;
            }
            status = match deadline {
                None => self
                    .shared
                    .changed
                    .wait(status)
                    .unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return status.0;
                    }
                    self.shared
                        .changed
                        .wait_timeout(status, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

/// What a running job sees of itself: report progress, check for cancellation.
#[derive(Debug)]
pub(crate) struct JobCtx<'a> {
    /// `None` for work run outside any job (a foreground catch-up).
    job: Option<&'a JobShared>,
    saw_cancel: AtomicBool,
}

impl JobCtx<'_> {
    /// A context for work that is no job: never cancelled, progress goes nowhere.
    pub(crate) fn detached() -> JobCtx<'static> {
        JobCtx {
            job: None,
            saw_cancel: AtomicBool::new(false),
        }
    }

    /// Whether the job was asked to stop; a job that sees `true` stops and returns `Ok`,
    /// and is recorded as cancelled.
    pub(crate) fn cancelled(&self) -> bool {
        let c = self.job.is_some_and(|j| j.cancel.load(SeqCst));
        if c {
            self.saw_cancel.store(true, SeqCst);
        }
        c
    }

    /// Adds `n` units to the work the job knows of.
    pub(crate) fn add_total(&self, n: u64) {
        if let Some(j) = self.job {
            j.total.fetch_add(n, SeqCst);
        }
    }

    /// Records `n` more units done.
    pub(crate) fn advance(&self, n: u64) {
        if let Some(j) = self.job {
            j.done.fetch_add(n, SeqCst);
        }
    }

    /// Says what the job turned out to do (a catch-up that finds only the walk copy to
    /// encode).
    pub(crate) fn set_kind(&self, kind: JobKind) {
        if let Some(j) = self.job {
            j.kind.store(kind.code(), SeqCst);
        }
    }
}

/// The database's background work: its jobs and the threads that run them.
#[derive(Debug)]
pub(crate) struct Scheduler {
    threads: usize,
    pool: OnceLock<Option<rayon::ThreadPool>>,
    jobs: Mutex<VecDeque<Arc<JobShared>>>,
    next_id: AtomicU64,
    /// Set by [`Scheduler::close`]: jobs submitted from then on are cancelled at once.
    closed: AtomicBool,
    /// Jobs running now (a job run inline within another counts too), for
    /// [`Scheduler::busy`].
    running: Arc<AtomicUsize>,
    /// The cores this process's queries use, which jobs' loops leave them ([`Share`]).
    foreground: Foreground,
}

impl Default for Scheduler {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Scheduler::new(priority::background_threads(cores))
    }
}

impl Scheduler {
    /// A scheduler running jobs on `threads` threads (made on the first job).
    pub(crate) fn new(threads: usize) -> Scheduler {
        Scheduler {
            threads: threads.max(1),
            pool: OnceLock::new(),
            jobs: Mutex::default(),
            next_id: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            running: Arc::default(),
            foreground: Foreground::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
        }
    }

    fn pool(&self) -> Option<&rayon::ThreadPool> {
        self.pool
            .get_or_init(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(self.threads)
                    .thread_name(|i| format!("mnemodb-bg-{i}"))
                    .start_handler(|_| priority::lower_this_threads_priority())
                    .build()
                    .ok()
            })
            .as_ref()
    }

    fn register(&self, kind: JobKind, collection: Option<Uuid>) -> Arc<JobShared> {
        let job = Arc::new(JobShared {
            id: self.next_id.fetch_add(1, SeqCst),
            kind: AtomicU8::new(kind.code()),
            collection,
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            cancel: AtomicBool::new(false),
            status: Mutex::new((JobState::Queued, None)),
            changed: Condvar::new(),
            running: Arc::clone(&self.running),
        });
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let finished = jobs.iter().filter(|j| j.status().0.is_finished()).count();
        if finished >= KEEP_FINISHED {
            let mut drop_n = finished + 1 - KEEP_FINISHED;
            jobs.retain(|j| {
                if drop_n > 0 && j.status().0.is_finished() {
                    drop_n -= 1;
                    false
                } else {
                    true
                }
            });
        }
        jobs.push_back(Arc::clone(&job));
        job
    }

    /// Queues `work` as a job on the scheduler's threads. After [`close`](Self::close), or
    /// when no thread could be started, the job is recorded as cancelled and never runs.
    pub(crate) fn submit(
        &self,
        kind: JobKind,
        collection: Option<Uuid>,
        work: impl FnOnce(&JobCtx<'_>) -> crate::Result<()> + Send + 'static,
    ) -> Job {
        let job = self.register(kind, collection);
        let handle = Job {
            shared: Arc::clone(&job),
        };
        match self.pool() {
            Some(pool) if !self.closed.load(SeqCst) => pool.spawn(move || job.run(work)),
            _ => job.set(JobState::Cancelled, None),
        }
        handle
    }

    /// Queues `work` as a job on a thread of its own, for short jobs that must not wait behind
    /// a long one on the pool (a WAL checkpoint must not wait for a graph to be linked, or the
    /// log grows meanwhile). After [`close`](Self::close), or when no thread could be
    /// started, the job is recorded as cancelled and never runs.
    pub(crate) fn submit_on_own_thread(
        &self,
        kind: JobKind,
        collection: Option<Uuid>,
        work: impl FnOnce(&JobCtx<'_>) -> crate::Result<()> + Send + 'static,
    ) -> Job {
        let job = self.register(kind, collection);
        let handle = Job {
            shared: Arc::clone(&job),
        };
        if self.closed.load(SeqCst) {
            job.set(JobState::Cancelled, None);
            return handle;
        }
        let runner = Arc::clone(&job);
        let spawned = std::thread::Builder::new()
            .name(format!("mnemodb-{}", kind.as_str()))
            .spawn(move || {
                priority::lower_this_threads_priority();
                runner.run(work)
            });
        if spawned.is_err() {
            job.set(JobState::Cancelled, None);
        }
        handle
    }

    /// Runs `work` as a job on the calling thread (a step of a job already running, or a
    /// foreground call that should still be listed), inside the scheduler's pool.
    pub(crate) fn run_inline(
        &self,
        kind: JobKind,
        collection: Option<Uuid>,
        work: impl FnOnce(&JobCtx<'_>) -> crate::Result<()> + Send,
    ) -> Job {
        let job = self.register(kind, collection);
        self.install(|| job.run(work));
        Job { shared: job }
    }

    /// Whether a job is running now: its threads are taking the cores, so a query's scan
    /// stays on the query's own thread ([`crate::search::Threads::Caller`]).
    pub(crate) fn busy(&self) -> bool {
        self.running.load(SeqCst) > 0
    }

    /// The cores this process's queries are using, as jobs' parallel loops see them.
    pub(crate) fn foreground(&self) -> &Foreground {
        &self.foreground
    }

    /// Runs `f` inside the scheduler's pool, so its parallel work stays off the queries'
    /// pool (on the calling thread when no pool could be made).
    pub(crate) fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        // (On one of the pool's own workers `install` runs `f` there and then.)
        match self.pool() {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// Every job still queued or running, and the last finished ones, oldest first.
    pub(crate) fn jobs(&self) -> Vec<JobInfo> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.iter().map(|j| j.info()).collect()
    }

    /// A handle to the job with this id, while it is listed.
    pub(crate) fn job(&self, id: u64) -> Option<Job> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.iter().find(|j| j.id == id).map(|j| Job {
            shared: Arc::clone(j),
        })
    }

    /// Handles to the jobs not finished yet.
    fn unfinished(&self) -> Vec<Job> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.iter()
            .filter(|j| !j.status().0.is_finished())
            .map(|j| Job {
                shared: Arc::clone(j),
            })
            .collect()
    }

    /// Stops taking jobs, lets the running and queued ones finish until `deadline`, then
    /// cancels the rest and waits for them to stop (each stops within one bounded step; a
    /// job that has not stopped [`STOP_GRACE`] later is left to end on its own). Returns
    /// whether every job ended by itself before the deadline.
    pub(crate) fn close(&self, deadline: Instant) -> bool {
        self.closed.store(true, SeqCst);
        let mut all_done = true;
        for job in self.unfinished() {
            let left = deadline.saturating_duration_since(Instant::now());
            if !job.wait(Some(left)).is_finished() {
                all_done = false;
            }
        }
        if !all_done {
            self.cancel_all();
        }
        all_done
    }

    /// Cancels every job not finished and waits (at most [`STOP_GRACE`]) for them to stop,
    /// without closing: jobs submitted later run.
    pub(crate) fn cancel_all(&self) {
        cancel_and_wait(self.unfinished());
    }

    /// Cancels the unfinished jobs about `collection` and waits (at most [`STOP_GRACE`]) for
    /// them to stop: a deleted collection's directory is removed once nothing writes into it
    /// (a graph saved while the directory was being removed left its file behind).
    pub(crate) fn cancel_jobs_of(&self, collection: Uuid) {
        let theirs = self
            .unfinished()
            .into_iter()
            .filter(|j| j.shared.collection == Some(collection))
            .collect();
        cancel_and_wait(theirs);
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }
}

/// Cancels `jobs` and waits (at most [`STOP_GRACE`] in all) for them to stop.
fn cancel_and_wait(jobs: Vec<Job>) {
    for job in &jobs {
        job.cancel();
    }
    let stop_by = Instant::now() + STOP_GRACE;
    for job in &jobs {
        job.wait(Some(stop_by.saturating_duration_since(Instant::now())));
    }
}

/// Counts a job in [`Scheduler::running`] while it lives (uncounted however the job ends).
struct Running<'a>(&'a AtomicUsize);

impl Running<'_> {
    fn counted(running: &AtomicUsize) -> Running<'_> {
        running.fetch_add(1, SeqCst);
        Running(running)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}
