//! Keeping the k nearest: a bounded max-heap ordered by (distance, insertion order).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One candidate: its distance, its insertion order (the tie-break) and its slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Hit {
    pub(crate) distance: f32,
    pub(crate) ord: u64,
    pub(crate) slot: u64,
}

impl Hit {
    /// Nearest first; a NaN distance (from a NaN query, which chromadb accepts) ranks after
    /// every number; ties by insertion order.
    fn key_cmp(&self, other: &Hit) -> Ordering {
        let by_distance = match (self.distance.is_nan(), other.distance.is_nan()) {
            (false, false) => self.distance.total_cmp(&other.distance),
            (a, b) => a.cmp(&b),
        };
        by_distance.then(self.ord.cmp(&other.ord))
    }
}

impl Eq for Hit {}
impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Hit {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key_cmp(other)
    }
}

/// Whether distance `d` may enter a heap whose worst kept distance is `threshold`: when it is
/// not larger (a tie may still win on insertion order), or when either is NaN (the heap's own
/// order ranks NaN last).
#[inline]
pub(crate) fn admits(d: f32, threshold: f32) -> bool {
    d.partial_cmp(&threshold) != Some(Ordering::Greater)
}

/// The `k` smallest hits seen so far.
#[derive(Debug, Clone)]
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Hit>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
        }
    }

    /// The distance a new hit must beat (or tie with a smaller ord) to enter.
    #[inline]
    pub(crate) fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::INFINITY
        } else {
            self.heap.peek().map_or(f32::INFINITY, |h| h.distance)
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, hit: Hit) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(hit);
        } else if let Some(mut worst) = self.heap.peek_mut().filter(|w| hit < **w) {
            *worst = hit;
        }
    }

    pub(crate) fn merge(mut self, other: TopK) -> TopK {
        for h in other.heap {
            self.push(h);
        }
        self
    }

    /// The hits, nearest first.
    pub(crate) fn into_sorted(self) -> Vec<Hit> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_k_smallest_with_ord_tie_break() {
        let mut t = TopK::new(3);
        for (i, d) in [5.0, 1.0, 3.0, 1.0, 4.0, 0.5, 3.0].into_iter().enumerate() {
            t.push(Hit {
                distance: d,
                ord: i as u64,
                slot: i as u64,
            });
        }
        let got: Vec<(f32, u64)> = t
            .into_sorted()
            .iter()
            .map(|h| (h.distance, h.ord))
            .collect();
        assert_eq!(got, vec![(0.5, 5), (1.0, 1), (1.0, 3)]);
    }

    #[test]
    fn nan_ranks_last() {
        let mut t = TopK::new(2);
        for (i, d) in [f32::NAN, 3.0, -f32::NAN, 1.0].into_iter().enumerate() {
            if admits(d, t.threshold()) {
                t.push(Hit {
                    distance: d,
                    ord: i as u64,
                    slot: i as u64,
                });
            }
        }
        let got: Vec<u64> = t.into_sorted().iter().map(|h| h.ord).collect();
        assert_eq!(got, vec![3, 1]);
        let mut t = TopK::new(3);
        t.push(Hit {
            distance: f32::NAN,
            ord: 0,
            slot: 0,
        });
        t.push(Hit {
            distance: 2.0,
            ord: 1,
            slot: 1,
        });
        let got: Vec<u64> = t.into_sorted().iter().map(|h| h.ord).collect();
        assert_eq!(got, vec![1, 0]);
    }

    #[test]
    fn zero_k_keeps_nothing() {
        let mut t = TopK::new(0);
        t.push(Hit {
            distance: 1.0,
            ord: 0,
            slot: 0,
        });
        assert!(t.into_sorted().is_empty());
    }
}
