//! Unit tests of the scheduler: submission, progress, cancellation, waiting, failures.

use std::sync::mpsc;
use std::time::Duration;

use super::*;

const LONG: Option<Duration> = Some(Duration::from_secs(60));

#[test]
fn a_job_runs_reports_progress_and_ends_done() {
    let s = Scheduler::new(1);
    let (tx, rx) = mpsc::channel();
    let job = s.submit(JobKind::GraphSave, None, move |ctx| {
        ctx.add_total(10);
        ctx.advance(4);
        tx.send(()).ok();
        ctx.advance(6);
        Ok(())
    });
    assert_eq!(job.wait(LONG), JobState::Done);
    rx.recv().expect("the job ran");
    let info = job.info();
    assert_eq!((info.done, info.total), (10, 10));
    assert_eq!(info.kind, JobKind::GraphSave);
    assert!(
        s.jobs()
            .iter()
            .any(|j| j.id == job.id() && j.state == JobState::Done)
    );
}

/// Blocks the scheduler's only thread until the returned sender is dropped or sent to.
fn occupy(s: &Scheduler) -> (Job, mpsc::Sender<()>) {
    let (go, wait) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel();
    let job = s.submit(JobKind::IndexCatchUp, None, move |_| {
        started_tx.send(()).ok();
        wait.recv().ok();
        Ok(())
    });
    started.recv().expect("the blocker started");
    (job, go)
}

#[test]
fn a_job_cancelled_before_it_starts_never_runs() {
    let s = Scheduler::new(1);
    let (blocker, go) = occupy(&s);
    let (tx, rx) = mpsc::channel::<()>();
    let job = s.submit(JobKind::LiveCheckpoint, None, move |_| {
        tx.send(()).ok();
        Ok(())
    });
    assert_eq!(job.info().state, JobState::Queued);
    job.cancel();
    go.send(()).ok();
    assert_eq!(blocker.wait(LONG), JobState::Done);
    assert_eq!(job.wait(LONG), JobState::Cancelled);
    assert!(rx.try_recv().is_err(), "a cancelled job must not run");
}

#[test]
fn a_running_job_stops_at_its_next_check_when_cancelled() {
    let s = Scheduler::new(1);
    let (started_tx, started) = mpsc::channel();
    let job = s.submit(JobKind::IndexCatchUp, None, move |ctx| {
        ctx.add_total(u64::MAX);
        started_tx.send(()).ok();
        while !ctx.cancelled() {
            ctx.advance(1);
            std::thread::yield_now();
        }
        Ok(())
    });
    started.recv().expect("started");
    assert_eq!(job.info().state, JobState::Running);
    job.cancel();
    assert_eq!(job.wait(LONG), JobState::Cancelled);
}

#[test]
fn wait_returns_at_its_timeout_while_the_job_runs() {
    let s = Scheduler::new(1);
    let (job, go) = occupy(&s);
    assert_eq!(job.wait(Some(Duration::from_millis(20))), JobState::Running);
    go.send(()).ok();
    assert_eq!(job.wait(LONG), JobState::Done);
}

#[test]
fn a_failure_and_a_panic_are_recorded() {
    let s = Scheduler::new(1);
    let failed = s.submit(JobKind::GraphSave, None, |_| {
        Err(crate::Error::InvalidArgument("disk full".into()))
    });
    assert_eq!(failed.wait(LONG), JobState::Failed);
    assert_eq!(failed.info().error.as_deref(), Some("disk full"));
    #[allow(clippy::panic)]
    let panicked = s.submit(JobKind::GraphSave, None, |_| panic!("boom"));
    assert_eq!(panicked.wait(LONG), JobState::Failed);
    // The pool survives a panicking job.
    assert_eq!(
        s.submit(JobKind::GraphSave, None, |_| Ok(())).wait(LONG),
        JobState::Done
    );
}

#[test]
fn close_cancels_what_is_left_at_the_deadline_and_refuses_new_jobs() {
    let s = Scheduler::new(1);
    let job = s.submit(JobKind::IndexCatchUp, None, |ctx| {
        while !ctx.cancelled() {
            std::thread::yield_now();
        }
        Ok(())
    });
    let queued = s.submit(JobKind::GraphSave, None, |_| Ok(()));
    assert!(!s.close(Instant::now()));
    assert_eq!(job.info().state, JobState::Cancelled);
    assert_eq!(queued.wait(LONG), JobState::Cancelled);
    let late = s.submit(JobKind::GraphSave, None, |_| Ok(()));
    assert_eq!(late.info().state, JobState::Cancelled);
}

#[test]
fn close_lets_jobs_finish_before_the_deadline() {
    let s = Scheduler::new(1);
    let job = s.submit(JobKind::GraphSave, None, |ctx| {
        ctx.add_total(1);
        ctx.advance(1);
        Ok(())
    });
    assert!(s.close(Instant::now() + Duration::from_secs(60)));
    assert_eq!(job.info().state, JobState::Done);
}

#[test]
fn inline_jobs_run_inside_the_pool_and_are_listed() {
    let s = Scheduler::new(1);
    let job = s.run_inline(JobKind::LiveCheckpoint, None, |_| {
        assert!(rayon::current_thread_index().is_some(), "on a pool worker");
        Ok(())
    });
    assert_eq!(job.info().state, JobState::Done);
    assert_eq!(s.jobs().len(), 1);
}

#[test]
fn finished_jobs_are_pruned_beyond_the_limit() {
    let s = Scheduler::new(1);
    for _ in 0..KEEP_FINISHED + 10 {
        s.run_inline(JobKind::GraphSave, None, |_| Ok(()));
    }
    assert_eq!(s.jobs().len(), KEEP_FINISHED);
}

/// A job on a thread of its own starts while the pool's only thread is busy with a long job
/// (a log checkpoint must not wait for a graph to be linked), and is listed like the others.
#[test]
fn a_job_on_its_own_thread_does_not_wait_for_the_pool() {
    let s = Scheduler::new(1);
    let long = s.submit(JobKind::IndexCatchUp, None, |ctx| {
        while !ctx.cancelled() {
            std::thread::yield_now();
        }
        Ok(())
    });
    // The pool's only thread is busy before the other job is submitted (a queued long job
    // would make the check below race with the pool starting it).
    while long.info().state == JobState::Queued {
        std::thread::yield_now();
    }
    let own = s.submit_on_own_thread(JobKind::WalCheckpoint, None, |_| Ok(()));
    assert_eq!(
        own.wait(LONG),
        JobState::Done,
        "ran while the pool was busy"
    );
    assert_eq!(long.info().state, JobState::Running);
    assert!(s.jobs().iter().any(|j| j.kind == JobKind::WalCheckpoint));
    long.cancel();
    assert_eq!(long.wait(LONG), JobState::Cancelled);
    s.close(Instant::now());
    let late = s.submit_on_own_thread(JobKind::WalCheckpoint, None, |_| Ok(()));
    assert_eq!(
        late.info().state,
        JobState::Cancelled,
        "refused after close"
    );
}

/// Jobs, on the pool and on threads of their own, run at a lower priority than the thread
/// that submitted them, which keeps its own.
#[cfg(target_os = "linux")]
#[test]
fn jobs_run_at_a_lower_priority_than_the_foreground() {
    use super::priority::{BACKGROUND_NICE, this_threads_nice};
    let ours = this_threads_nice().expect("this thread's nice value is readable");
    let want = (ours + BACKGROUND_NICE).min(19);
    let s = Scheduler::new(1);
    for own_thread in [false, true] {
        let (tx, rx) = mpsc::channel();
        let work = move |_: &JobCtx<'_>| {
            tx.send(this_threads_nice()).ok();
            Ok(())
        };
        let job = if own_thread {
            s.submit_on_own_thread(JobKind::WalCheckpoint, None, work)
        } else {
            s.submit(JobKind::GraphSave, None, work)
        };
        assert_eq!(job.wait(LONG), JobState::Done);
        let theirs = rx.recv().expect("the job ran");
        assert_eq!(theirs, Some(want), "own thread: {own_thread}");
    }
    assert_eq!(
        this_threads_nice(),
        Some(ours),
        "the caller's priority is unchanged"
    );
}

/// The background pool has a thread per core where its threads yield to the foreground by
/// priority (Linux), so a build uses the cores no query wants; one less elsewhere.
#[test]
fn the_background_pool_has_a_thread_per_core_where_it_yields_by_priority() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let want = if cfg!(target_os = "linux") {
        cores
    } else {
        cores.saturating_sub(1).max(1)
    };
    let s = Scheduler::default();
    assert_eq!(s.install(rayon::current_num_threads), want);
}

/// A pool of `threads` workers, like the scheduler's.
fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a test pool")
}

/// The pool's workers that ran `share.for_each` over 0..n (each index must come once).
fn workers_used(pool: &rayon::ThreadPool, share: Share<'_>, n: u64, wait_for_two: bool) -> usize {
    let seen = Mutex::new(vec![0u32; n as usize]);
    let threads = Mutex::new(std::collections::HashSet::new());
    let both = Condvar::new();
    pool.install(|| {
        share.for_each(
            0..n,
            2,
            || (),
            |_, i| {
                let mut t = threads.lock().expect("threads");
                t.insert(rayon::current_thread_index());
                both.notify_all();
                if wait_for_two && i == 0 {
                    // The first chunk waits for another worker to take one (or gives up).
                    let _ = both.wait_timeout_while(t, Duration::from_secs(10), |t| t.len() < 2);
                } else {
                    drop(t);
                    std::thread::sleep(Duration::from_micros(200));
                }
                seen.lock().expect("seen")[i as usize] += 1;
            },
        );
    });
    let seen = seen.into_inner().expect("seen");
    assert!(
        seen.iter().all(|&c| c == 1),
        "every index exactly once: {seen:?}"
    );
    threads.into_inner().expect("threads").len()
}

#[test]
fn a_jobs_loop_takes_every_worker_while_no_query_runs() {
    let fg = Foreground::new(2);
    assert_eq!(fg.demand(), 0);
    assert_eq!(workers_used(&pool(2), Share::around(&fg), 64, true), 2);
    assert!(workers_used(&pool(3), Share::all(), 64, true) >= 2);
}

#[test]
fn a_jobs_loop_leaves_the_cores_a_query_takes() {
    let fg = Foreground::new(2);
    {
        // A query on its own thread: one core of two, so one worker of two.
        let _q = fg.enter(false);
        assert_eq!(fg.demand(), 1);
        assert_eq!(Share::around(&fg).workers(2), 1);
        assert_eq!(Share::around(&fg).workers(4), 3);
        assert_eq!(workers_used(&pool(2), Share::around(&fg), 64, false), 1);
        // A batch on the query pool: every core, but a job keeps one worker.
        let _batch = fg.enter(true);
        assert_eq!(fg.demand(), 3);
        assert_eq!(Share::around(&fg).workers(4), 1);
        assert_eq!(workers_used(&pool(4), Share::around(&fg), 64, false), 1);
    }
    // Between two queries of a loop the core still counts, for RECENT.
    let dropped = Instant::now();
    let demand = fg.demand();
    if dropped.elapsed() < share::RECENT {
        assert_eq!(demand, 1);
    }
    std::thread::sleep(share::RECENT + Duration::from_millis(10));
    assert_eq!(fg.demand(), 0);
    assert_eq!(workers_used(&pool(2), Share::around(&fg), 64, true), 2);
}

#[test]
fn the_walk_copy_encodes_the_same_on_one_worker_as_on_all() {
    use crate::distance::Space;
    use crate::search::WalkCopy;
    let dim = 24;
    let rows: Vec<f32> = (0..dim * 5000)
        .map(|i| ((i * 7919) % 1013) as f32 / 97.0 - 5.0)
        .collect();
    let fg = Foreground::new(2);
    let pool = pool(2);
    for space in [Space::L2, Space::Cosine, Space::Ip] {
        let all = pool.install(|| WalkCopy::encode(&rows, dim, space, Share::around(&fg)));
        let _q = fg.enter(false);
        assert!(!pool.install(|| Share::around(&fg).parallel()));
        let one = pool.install(|| WalkCopy::encode(&rows, dim, space, Share::around(&fg)));
        assert_eq!(all, one, "{space:?}");
    }
}
