//! The child writer's choice of calls.

use super::*;

/// The ids the child believes exist, for picking update and delete targets.
#[derive(Debug)]
pub(super) struct IdPool {
    pub(super) ids: Vec<String>,
    pub(super) index: HashMap<String, usize>,
}

impl IdPool {
    pub(super) fn new(ids: Vec<String>) -> IdPool {
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        IdPool { ids, index }
    }

    pub(super) fn insert(&mut self, id: &str) {
        if !self.index.contains_key(id) {
            self.index.insert(id.to_owned(), self.ids.len());
            self.ids.push(id.to_owned());
        }
    }

    pub(super) fn remove(&mut self, id: &str) {
        if let Some(i) = self.index.remove(id) {
            self.ids.swap_remove(i);
            if let Some(moved) = self.ids.get(i) {
                self.index.insert(moved.clone(), i);
            }
        }
    }

    /// `k` distinct existing ids (`k <= len`).
    pub(super) fn sample(&self, rng: &mut Rng, k: usize) -> Vec<String> {
        let mut picked = HashSet::with_capacity(k);
        while picked.len() < k {
            picked.insert(rng.below(self.ids.len() as u64) as usize);
        }
        picked.into_iter().map(|i| self.ids[i].clone()).collect()
    }

    pub(super) fn apply(&mut self, op: &Op) {
        match op {
            Op::Add { ids, .. } | Op::Upsert { ids, .. } => {
                ids.iter().for_each(|id| self.insert(id))
            }
            Op::Delete { ids } => ids.iter().for_each(|id| self.remove(id)),
            Op::Update { .. } | Op::Compact => {}
        }
    }
}

pub(super) fn next_op(rng: &mut Rng, pool: &IdPool, tag: u64, version: u64, fresh: &mut u64) -> Op {
    let n = pool.ids.len();
    let mut fresh_ids = |k: u64| -> Vec<String> {
        (0..k)
            .map(|_| {
                *fresh += 1;
                format!("r{tag}-{fresh}")
            })
            .collect()
    };
    // An id that never exists: updates and deletes must skip it.
    let ghost = format!("ghost-{version}");
    let roll = if n < 10 { 10 } else { rng.below(100) };
    let mut ids = match roll {
        0..3 => return Op::Compact,
        3..33 => {
            let mut ids = fresh_ids(rng.range(1, 50));
            // Sometimes an existing id too: add skips it and keeps its stored data.
            if n > 0 && rng.chance(1, 4) {
                ids.extend(pool.sample(rng, 1));
            }
            ids
        }
        33..48 => {
            let k = rng.range(0, 12).min(n as u64) as usize;
            let mut ids = pool.sample(rng, k);
            ids.extend(fresh_ids(rng.range(u64::from(ids.is_empty()), 5)));
            ids
        }
        48..70 => {
            let k = rng.range(1, 20).min(n as u64) as usize;
            let mut ids = pool.sample(rng, k);
            if rng.chance(1, 5) {
                ids.push(ghost);
            }
            ids
        }
        _ => {
            let most = if n > TARGET_RECORDS { 120 } else { 20 };
            let k = rng.range(1, most).min(n as u64) as usize;
            let mut ids = pool.sample(rng, k);
            if rng.chance(1, 5) {
                ids.push(ghost);
            }
            ids
        }
    };
    // Mix the kinds of ids within the call (Fisher-Yates).
    for i in (1..ids.len()).rev() {
        ids.swap(i, rng.below(i as u64 + 1) as usize);
    }
    match roll {
        3..33 => Op::Add { version, ids },
        33..48 => Op::Upsert { version, ids },
        48..70 => Op::Update {
            version,
            embeddings: rng.chance(2, 3),
            ids,
        },
        _ => Op::Delete { ids },
    }
}
