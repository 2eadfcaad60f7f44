//! Background threads yield the CPU to foreground ones.
//!
//! A job's threads run at a lower scheduling priority (nice + [`BACKGROUND_NICE`]) than the
//! threads answering queries and writes. On a machine whose cores are all busy, the kernel
//! then gives a query's threads (the caller and rayon's pool, which runs its exact scans)
//! the CPU before an index build's: a build takes the time the foreground leaves, instead of
//! an equal share of it. A job still makes progress under load (nice 10 weighs about a tenth
//! of nice 0 in Linux's scheduler) and runs at full speed on idle cores.
//!
//! Linux only: there the nice value belongs to a thread, so lowering it affects only the
//! calling thread. Elsewhere the threads keep the process's priority.

/// How much lower than the process a background thread runs.
pub(crate) const BACKGROUND_NICE: i32 = 10;

/// The threads of the background pool on a machine of `cores` cores: all of them where the
/// threads yield to the foreground by priority (Linux), so a build uses every core that no
/// query wants (a 2-core machine built on one core and took twice hnswlib's time: 58.3 s
/// against 29.7 s in the peers run of 2026-12-04 18:11 UTC, at the same CPU time); elsewhere
/// one less, which keeps a core for the foreground.
pub(crate) fn background_threads(cores: usize) -> usize {
    if cfg!(target_os = "linux") {
        cores.max(1)
    } else {
        cores.saturating_sub(1).max(1)
    }
}

/// Lowers the calling thread's scheduling priority by [`BACKGROUND_NICE`] (best effort: a
/// thread that cannot change it runs on at the process's priority, which only costs the
/// foreground some latency under load).
pub(crate) fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `nice` takes an integer and changes only the scheduling priority of the
        // calling thread (on Linux the nice value is per thread); it touches no memory of ours.
        // Its result is ignored on purpose: failure leaves the priority as it was.
        unsafe {
            libc::nice(BACKGROUND_NICE);
        }
    }
}

/// The calling thread's nice value, for the tests (`/proc/thread-self/stat`, field 19).
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn this_threads_nice() -> Option<i32> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis
    // start at field 3.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(16)?.parse().ok()
}
