//! A fair way in to the database's write lock for the processes sharing a directory.
//!
//! SQLite's write lock is the authority: every write still takes it (`BEGIN IMMEDIATE`), and
//! it alone keeps writes serial, in this build and in any other that opens the file. But a
//! writer that finds it taken waits in SQLite's busy handler, which sleeps between attempts
//! for longer and longer (up to 100 ms), while a writer that arrives later tries at once. With
//! four processes writing in a loop one of them waited 4 to 9 s for writes the others finished
//! in milliseconds (issue 21's soak). So writers first take an advisory lock on `write.lock`
//! here, trying every [`POLL`]: whoever waits notices a release within about that, whatever
//! it has waited already, and by the time it begins its transaction SQLite's lock is free.
//! The kernel drops the lock of a process that dies, as it drops SQLite's.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The lock file's name in the database directory.
pub(crate) const WRITE_LOCK_FILE: &str = "write.lock";

/// How often a waiting writer tries again: short next to a write (milliseconds), long next to
/// a failed `try_lock` (a system call).
const POLL: Duration = Duration::from_micros(250);

/// The queue in front of one directory's write lock (`None` inside: a database in memory has
/// one connection and the writer mutex).
#[derive(Debug)]
pub(crate) struct WriteQueue {
    file: Option<(File, PathBuf)>,
}

impl WriteQueue {
    /// Opens (creating if needed) the lock file in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<WriteQueue> {
        let path = dir.join(WRITE_LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        Ok(WriteQueue {
            file: Some((file, path)),
        })
    }

    pub(crate) fn in_memory() -> WriteQueue {
        WriteQueue { file: None }
    }

    /// Waits (up to `timeout`) until no other process is writing, and holds the lock until
    /// the returned turn is dropped. Callers hold the sidecar's writer mutex, so within a
    /// process one turn is taken at a time.
    pub(crate) fn turn(&self, timeout: Duration) -> Result<Turn<'_>> {
        let Some((file, path)) = &self.file else {
            return Ok(Turn { file: None });
        };
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Turn { file: Some(file) }),
                Err(TryLockError::WouldBlock) if start.elapsed() < timeout => {
                    std::thread::sleep(POLL);
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::invalid(format!(
                        "the database is locked by another writer for more than {} s \
                         (`{}`); is a process stuck in a write?",
                        timeout.as_secs(),
                        path.display()
                    )));
                }
                Err(TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
            }
        }
    }
}

/// This process's turn to write; the next writer's comes when it is dropped.
#[must_use]
pub(crate) struct Turn<'a> {
    file: Option<&'a File>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if let Some(file) = self.file {
            // Fails only if the descriptor is bad, which it cannot be while the queue lives;
            // closing it would release the lock anyway.
            let _ = file.unlock();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::WriteQueue;

    #[test]
    fn a_turn_waits_for_the_holder_and_follows_its_release() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Two opens are two open file descriptions: their locks conflict as two processes'.
        let first = WriteQueue::open(dir.path()).expect("open");
        let second = WriteQueue::open(dir.path()).expect("open again");
        let held = first.turn(Duration::from_secs(5)).expect("first turn");
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let turn = second.turn(Duration::from_secs(30));
                tx.send(turn.is_ok()).expect("send");
            });
            assert!(
                rx.recv_timeout(Duration::from_millis(200)).is_err(),
                "the second turn came while the first was held"
            );
            drop(held);
            assert!(rx.recv().expect("second turn"), "the second turn failed");
        });
    }

    #[test]
    fn a_turn_not_given_in_time_is_an_error_naming_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = WriteQueue::open(dir.path()).expect("open");
        let second = WriteQueue::open(dir.path()).expect("open again");
        let _held = first.turn(Duration::from_secs(5)).expect("first turn");
        let err = second
            .turn(Duration::from_millis(20))
            .err()
            .expect("no turn while another holds the lock");
        assert!(err.to_string().contains("write.lock"), "{err}");
        assert!(err.to_string().contains("stuck in a write"), "{err}");
    }
}
