//! How many cores a job's parallel loop takes: the ones the foreground leaves it.
//!
//! A job's threads run at a lower priority ([`super::priority`]), but on a machine whose
//! cores are all taken a query's thread still shares one with a build thread, and the kernel
//! hands that build thread a slice of a few milliseconds now and then: a query of 4 ms took
//! 10-20 ms in some seconds of a build (`benches/build_latency.py`, 14 involuntary context
//! switches in one). So the queries say what they use ([`Foreground::enter`]: one core for a
//! query scanned on its own thread, every core for a batch on the query pool), and a job's
//! loop ([`Share::for_each`]) lets only as many of its workers take new chunks as there are
//! cores left, never fewer than one: a build under a steady stream of queries goes on at one
//! thread on a core of its own, and takes every core again once the queries pause for
//! [`RECENT`].

use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// How long after its last query the foreground still counts as using a core: a query loop
/// in Python comes back within tens of microseconds, so a build's helpers stay off its core
/// between two queries instead of taking it back for the next chunk.
pub(crate) const RECENT: Duration = Duration::from_millis(50);

/// The cores the foreground (queries of this process) is using.
#[derive(Debug)]
pub(crate) struct Foreground {
    cores: usize,
    /// Cores taken by the queries running now.
    taken: AtomicUsize,
    /// When the last query ended, in microseconds since `epoch` (0: none yet).
    last_end_us: AtomicU64,
    epoch: Instant,
}

impl Foreground {
    pub(crate) fn new(cores: usize) -> Foreground {
        Foreground {
            cores: cores.max(1),
            taken: AtomicUsize::new(0),
            last_end_us: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Counts a query's use of the cores until the guard drops: one core for a scan on the
    /// caller's thread (`all_cores` false), every core for one on the query pool.
    pub(crate) fn enter(&self, all_cores: bool) -> InForeground<'_> {
        let cores = if all_cores { self.cores } else { 1 };
        self.taken.fetch_add(cores, Relaxed);
        InForeground { fg: self, cores }
    }

    /// The cores the foreground uses now: those of the queries running, or one when the last
    /// query ended less than [`RECENT`] ago.
    pub(crate) fn demand(&self) -> usize {
        let now = self.taken.load(Relaxed);
        if now > 0 {
            return now;
        }
        let last = self.last_end_us.load(Relaxed);
        let recent = last > 0 && self.micros_now().saturating_sub(last) < RECENT.as_micros() as u64;
        usize::from(recent)
    }

    fn micros_now(&self) -> u64 {
        // At least 1: 0 means "no query yet".
        (self.epoch.elapsed().as_micros() as u64).max(1)
    }
}

/// A query's hold on the cores (see [`Foreground::enter`]).
#[derive(Debug)]
pub(crate) struct InForeground<'a> {
    fg: &'a Foreground,
    cores: usize,
}

impl Drop for InForeground<'_> {
    fn drop(&mut self) {
        self.fg.last_end_us.store(self.fg.micros_now(), Relaxed);
        self.fg.taken.fetch_sub(self.cores, Relaxed);
    }
}

/// The share of the current rayon pool a job's loop takes: every worker, or those the
/// foreground leaves (see the module's comment).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Share<'a> {
    foreground: Option<&'a Foreground>,
}

impl<'a> Share<'a> {
    /// Every worker of the pool, whatever the foreground does.
    #[cfg(test)]
    pub(crate) fn all() -> Share<'static> {
        Share { foreground: None }
    }

    /// The workers `foreground` leaves free.
    pub(crate) fn around(foreground: &'a Foreground) -> Share<'a> {
        Share {
            foreground: Some(foreground),
        }
    }

    /// How many of the pool's `workers` may take work now (at least one).
    pub(crate) fn workers(&self, workers: usize) -> usize {
        let demand = self.foreground.map_or(0, Foreground::demand);
        workers.saturating_sub(demand).max(1)
    }

    /// Whether a loop should run in parallel at all now.
    pub(crate) fn parallel(&self) -> bool {
        self.workers(rayon::current_num_threads()) > 1
    }

    /// Calls `body(&mut state, i)` for every `i` in `range`, on the current rayon pool: each
    /// worker takes `chunk` indices at a time (its `state` made by `init`), and a worker other
    /// than the first stops taking chunks when [`workers`](Self::workers) says it is not
    /// wanted; the first always goes on, so every index is visited exactly once.
    pub(crate) fn for_each<S>(
        &self,
        range: Range<u64>,
        chunk: u64,
        init: impl Fn() -> S + Sync,
        body: impl Fn(&mut S, u64) + Sync,
    ) {
        let chunk = chunk.max(1);
        let next = AtomicU64::new(range.start);
        let pool = rayon::current_num_threads();
        let work = |worker: usize| {
            let mut state = init();
            loop {
                if worker > 0 && worker >= self.workers(pool) {
                    return;
                }
                let at = next.fetch_add(chunk, Relaxed);
                if at >= range.end {
                    return;
                }
                for i in at..range.end.min(at.saturating_add(chunk)) {
                    body(&mut state, i);
                }
            }
        };
        if pool <= 1 || range.end.saturating_sub(range.start) <= chunk {
            return work(0);
        }
        rayon::scope(|scope| {
            for worker in 1..pool {
                let work = &work;
                scope.spawn(move |_| work(worker));
            }
            work(0);
        });
    }
}
