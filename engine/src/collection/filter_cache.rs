//! The candidate slots of recent filters, per collection and process: agents repeat the same
//! scope filter query after query, and fetching its candidates from SQLite costs more than
//! searching them.
//!
//! **Invariant:** an entry is used only for the collection `seq` it was computed at. A write
//! anywhere (in this process or another) invalidates every entry, except a write of this
//! process that only patched metadata of existing records (no slot born or dead, no document
//! changed): it carries over the entries whose filters name none of the keys it patched
//! ([`FilterCache::advance`]). `Memory.recall` in CrewAI writes an access time after every
//! search; without this, its scope filter was computed again on every call.

use std::collections::BTreeSet;
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
    /// Most recently used last.
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    /// The filters as canonical JSON.
    key: String,
    slots: Arc<Vec<u64>>,
    reads: Reads,
}

/// What a filter's result depends on besides which records exist and their documents (a
/// change to either drops every entry).
#[derive(Debug, Clone, Default)]
pub(crate) struct Reads {
    /// Every object key in the `where` JSON: the metadata keys it tests (and its operators,
    /// which only makes the check more cautious).
    pub(crate) keys: BTreeSet<String>,
}

impl Reads {
    /// What the metadata filter `where_` reads.
    pub(crate) fn of(where_: Option<&serde_json::Value>) -> Reads {
        fn collect(v: &serde_json::Value, keys: &mut BTreeSet<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        keys.insert(k.clone());
                        collect(v, keys);
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| collect(v, keys)),
                _ => {}
            }
        }
        let mut keys = BTreeSet::new();
        if let Some(w) = where_ {
            collect(w, &mut keys);
        }
        Reads { keys }
    }
}

/// What one committed write of this process changed, for [`FilterCache::advance`].
#[derive(Debug, Default)]
pub(crate) struct Change {
    /// Records were added, deleted or moved, or documents changed: no entry survives.
    pub(crate) records_or_documents: bool,
    /// Metadata keys set or removed on existing records.
    pub(crate) metadata_keys: BTreeSet<String>,
}

impl FilterCache {
    /// The slots cached for `key` at `seq`, computing and keeping them on a miss.
    pub(crate) fn get_or_try_insert<E>(
        &self,
        seq: u64,
        key: String,
        reads: impl FnOnce() -> Reads,
        compute: impl FnOnce() -> Result<Vec<u64>, E>,
    ) -> Result<Arc<Vec<u64>>, E> {
        {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if inner.seq != seq {
                inner.entries.clear();
                inner.seq = seq;
            }
            if let Some(i) = inner.entries.iter().position(|e| e.key == key) {
                let entry = inner.entries.remove(i);
                let slots = Arc::clone(&entry.slots);
                inner.entries.push(entry);
                return Ok(slots);
            }
        }
        // Computed without the lock: other queries go on meanwhile.
        let slots = Arc::new(compute()?);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.seq == seq && !inner.entries.iter().any(|e| e.key == key) {
            if inner.entries.len() >= ENTRIES {
                inner.entries.remove(0);
            }
            inner.entries.push(Entry {
                key,
                slots: Arc::clone(&slots),
                reads: reads(),
            });
        }
        Ok(slots)
    }

    /// This process committed a write taking the collection from `before` to `after`: keeps
    /// the entries `change` cannot have affected, if the cache was at `before` (so no other
    /// writer came in between); otherwise the entries go at the next lookup.
    pub(crate) fn advance(&self, before: u64, after: u64, change: &Change) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.seq != before {
            return;
        }
        if change.records_or_documents {
            inner.entries.clear();
        } else {
            inner
                .entries
                .retain(|e| e.reads.keys.is_disjoint(&change.metadata_keys));
        }
        inner.seq = after;
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
                .get_or_try_insert::<()>(seq, key.to_owned(), Reads::default, || {
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

    /// A metadata-only write of this process keeps the entries whose filters do not read the
    /// keys it patched; any other write, or a seq this cache has not seen, drops them.
    #[test]
    fn metadata_patches_keep_the_filters_that_do_not_read_them() {
        let cache = FilterCache::default();
        let scope = serde_json::json!({"scope": {"$eq": "/a"}});
        let seen = serde_json::json!({"$and": [{"seen": 1}, {"k": 2}]});
        let put = |seq: u64, w: &serde_json::Value, computed: &std::cell::Cell<u32>| {
            cache
                .get_or_try_insert::<()>(
                    seq,
                    w.to_string(),
                    || Reads::of(Some(w)),
                    || {
                        computed.set(computed.get() + 1);
                        Ok(vec![seq])
                    },
                )
                .expect("no error")
        };
        let n = std::cell::Cell::new(0);
        put(1, &scope, &n);
        put(1, &seen, &n);
        let touch = Change {
            records_or_documents: false,
            metadata_keys: ["seen".to_owned()].into(),
        };
        cache.advance(1, 2, &touch);
        assert_eq!(
            *put(2, &scope, &n),
            [1],
            "kept: the scope filter does not read `seen`"
        );
        assert_eq!(*put(2, &seen, &n), [2], "recomputed: it reads `seen`");
        assert_eq!(n.get(), 3);
        cache.advance(5, 6, &touch);
        assert_eq!(
            *put(6, &scope, &n),
            [6],
            "another writer came in between: recomputed"
        );
        cache.advance(
            6,
            7,
            &Change {
                records_or_documents: true,
                ..Change::default()
            },
        );
        assert_eq!(*put(7, &scope, &n), [7], "records changed: recomputed");
        assert_eq!(n.get(), 5);
    }
}
