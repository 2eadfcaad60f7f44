//! The candidate slots of recent filters, per collection and process: agents repeat the same
//! scope filter query after query, and fetching its candidates from SQLite costs more than
//! searching them.
//!
//! **Invariant:** an entry is used only for the collection `seq` it was computed at, so a
//! write anywhere (in this process or another) invalidates every entry.

use std::sync::{Arc, Mutex};

/// Entries kept; each holds at most one slot number per record.
const ENTRIES: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct FilterCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The collection `seq` every entry was computed at.
    seq: u64,
    /// Most recently used last: (the filters as canonical JSON, their candidate slots).
    entries: Vec<(String, Arc<Vec<u64>>)>,
}

impl FilterCache {
    /// The slots cached for `key` at `seq`, computing and keeping them on a miss.
    pub(crate) fn get_or_try_insert<E>(
        &self,
        seq: u64,
        key: String,
        compute: impl FnOnce() -> Result<Vec<u64>, E>,
    ) -> Result<Arc<Vec<u64>>, E> {
        {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if inner.seq != seq {
                inner.entries.clear();
                inner.seq = seq;
            }
            if let Some(i) = inner.entries.iter().position(|(k, _)| *k == key) {
                let entry = inner.entries.remove(i);
                let slots = Arc::clone(&entry.1);
                inner.entries.push(entry);
                return Ok(slots);
            }
        }
        // Computed without the lock: other queries go on meanwhile.
        let slots = Arc::new(compute()?);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.seq == seq && !inner.entries.iter().any(|(k, _)| *k == key) {
            if inner.entries.len() >= ENTRIES {
                inner.entries.remove(0);
            }
            inner.entries.push((key, Arc::clone(&slots)));
        }
        Ok(slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_for_one_seq_and_the_least_recent_goes_first() {
        let cache = FilterCache::default();
        let computed = std::cell::Cell::new(0);
        let get = |seq, key: &str| {
            cache
                .get_or_try_insert::<()>(seq, key.to_owned(), || {
                    computed.set(computed.get() + 1);
                    Ok(vec![seq])
                })
                .expect("no error")
        };
        assert_eq!(*get(1, "a"), [1]);
        assert_eq!(*get(1, "a"), [1]);
        assert_eq!(computed.get(), 1);
        assert_eq!(*get(2, "a"), [2], "a new seq recomputes");
        assert_eq!(computed.get(), 2);
        for k in 0..ENTRIES {
            get(2, &k.to_string());
        }
        assert_eq!(computed.get(), 2 + ENTRIES);
        get(2, "a");
        assert_eq!(
            computed.get(),
            3 + ENTRIES,
            "\"a\" was the least recently used"
        );
    }
}
