//! The query planner: how a query is answered, decided here and only here, from figures about
//! the snapshot, this process's index and the request ([`choose`], a pure function). `read.rs`
//! gathers the figures and runs the [`Plan`]; [`Collection::explain`](crate::Collection::explain)
//! returns it.
//!
//! The rules, first match wins:
//! 1. No vector yet, no live record, or no candidate (a filter or an id list that nothing
//!    passes): nothing to compare, the result is empty.
//! 2. Below `min_slots` slots (4,096 unless a test lowers it): an exact scan (no graph).
//! 3. An id list, or [`SearchOptions::exact`](crate::SearchOptions::exact): an exact scan.
//! 4. `k` of a quarter of the live records or more: an exact scan reads each row once, which a
//!    walk as wide as `k` cannot beat, and it cannot miss one.
//! 5. A filter whose candidates are few: an exact scan of the candidates. A filter passing a
//!    fraction `f` of the records makes the walk visit about `1 / f` times as many nodes to
//!    collect `ef` allowed ones, while a scan of the candidates costs `f * live` distances, each
//!    [`SCAN_DISCOUNT`] times cheaper: the scan wins when
//!    `candidates^2 <= WALK_COST_PER_EF * ef * SCAN_DISCOUNT * live`.
//! 6. No graph of this generation in this process yet: an exact scan (and a catch-up after).
//! 7. Otherwise the graph, with the candidates (if any) as an allow-list, plus an exact scan of
//!    the slots it has not linked yet.

use std::fmt;

/// A query that finds more unlinked slots than this links them after answering.
const TAIL_CATCH_UP: u64 = 2048;
/// Distance computations a graph walk of beam width 1 makes, about (measured: a walk of
/// `ef` 100 over 100k rows of 384 floats computes some 3,000 distances).
const WALK_COST_PER_EF: u64 = 30;
/// How many times cheaper a distance of an exact scan of candidates is than one of a walk:
/// the scan reads rows in slot order with prefetching, on every core; the walk waits on
/// memory for each row, on one (measured with `query_cost` on 100k x 384: 10k candidates
/// scanned in 0.6 ms, a walk at `ef` 24 under a 10% filter in 1.2 ms for about 7k distances).
/// Measured before scans were bounded by the graph's 8-bit copy, which took that scan to
/// 0.35 ms: kept, so the planner errs toward the walk, as it did.
const SCAN_DISCOUNT: u64 = 3;

/// How a query is answered, and the figures that decided it: what
/// [`Collection::explain`](crate::Collection::explain) returns.
///
/// One plan serves every query vector of a request; costs are per query vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Plan {
    /// The way the query is answered.
    pub strategy: Strategy,
    /// The rule that chose it.
    pub reason: Reason,
    /// Results asked for per query vector (`n_results`).
    pub k: usize,
    /// The beam width a walk uses (the `ef_search` in force, at least `k`).
    pub ef: usize,
    /// Live records in the snapshot.
    pub live: u64,
    /// Committed slots (one vector each, dead records' included until a compaction).
    pub slots: u64,
    /// Records that pass the filter and the id list, when the request has either; `None` when
    /// every live record is a candidate.
    pub candidates: Option<u64>,
    /// What this process's HNSW graph covers; `None` without one (a small collection, or a
    /// graph not built or loaded yet).
    pub index: Option<Coverage>,
    /// Estimated distance computations per query vector of the chosen strategy: 0, the
    /// scan's or the walk's.
    pub cost: u64,
    /// Distance computations of an exact scan per query vector: every committed row, or every
    /// candidate.
    pub scan_cost: u64,
    /// Estimated distance computations of a walk per query vector, the exact scan of what the
    /// graph has not linked included; `None` without a graph. Each costs about
    /// three times a scan's (the walk waits on memory for every row).
    pub walk_cost: Option<u64>,
    /// Whether a query leaves records for the index to link in the background afterwards
    /// (a long unlinked tail, or no graph yet where there should be one).
    pub catch_up: bool,
}

/// How much of the collection this process's HNSW graph covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Coverage {
    /// Slots `0..linked` are linked into the graph (a walk reaches them).
    pub linked: u64,
    /// Committed slots past those, which a walk's query scans exactly.
    pub unlinked: u64,
}

/// The ways a query can be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// Nothing can match: the result is empty, no vector is read.
    Empty,
    /// Every committed row compared with the query (dead ones skipped).
    Scan,
    /// Only the candidates' rows compared with the query.
    ScanCandidates,
    /// The HNSW graph walked, then the slots it has not linked scanned exactly.
    Walk,
    /// The HNSW graph walked returning only candidates (an allow-list), then the candidates
    /// among the slots it has not linked scanned exactly.
    WalkAllowList,
}

impl Strategy {
    /// A short name: `empty`, `scan`, `scan_candidates`, `walk`, `walk_allow_list`.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Empty => "empty",
            Strategy::Scan => "scan",
            Strategy::ScanCandidates => "scan_candidates",
            Strategy::Walk => "walk",
            Strategy::WalkAllowList => "walk_allow_list",
        }
    }

    /// Whether the plan walks the graph.
    pub fn walks(self) -> bool {
        matches!(self, Strategy::Walk | Strategy::WalkAllowList)
    }
}

/// Why a [`Strategy`] was chosen: the planner's rules, in the order it tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The collection holds no vector yet (no dimension).
    NoVectors,
    /// Every record is deleted.
    NoRecords,
    /// No record passes the filter and the id list.
    NoCandidates,
    /// Below the size from which a collection gets a graph, a scan is as fast as a walk.
    SmallCollection,
    /// An id list is answered exactly: it is the caller's own short list.
    IdList,
    /// The caller asked for an exact search ([`SearchOptions::exact`](crate::SearchOptions)).
    ExactAsked,
    /// `n_results` is a quarter of the live records or more: a scan reads each row once.
    ManyResults,
    /// Scanning the candidates costs less than a walk that passes over the records the filter
    /// rejects.
    FewCandidates,
    /// This process has no graph of the collection yet (being built or loaded).
    NoIndex,
    /// The collection is large enough for its graph, and no rule above asks for a scan.
    LargeCollection,
    /// The filter passes too many records for a scan of them to beat a walk with them as
    /// an allow-list.
    ManyCandidates,
}

impl Reason {
    /// A short name: `no_vectors`, `no_records`, `no_candidates`, `small_collection`,
    /// `id_list`, `exact_asked`, `many_results`, `few_candidates`, `no_index`,
    /// `large_collection`, `many_candidates`.
    pub fn name(self) -> &'static str {
        match self {
            Reason::NoVectors => "no_vectors",
            Reason::NoRecords => "no_records",
            Reason::NoCandidates => "no_candidates",
            Reason::SmallCollection => "small_collection",
            Reason::IdList => "id_list",
            Reason::ExactAsked => "exact_asked",
            Reason::ManyResults => "many_results",
            Reason::FewCandidates => "few_candidates",
            Reason::NoIndex => "no_index",
            Reason::LargeCollection => "large_collection",
            Reason::ManyCandidates => "many_candidates",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Plan {
    /// What happened, in a sentence with the figures.
    pub fn detail(&self) -> String {
        let cands = match self.candidates {
            Some(c) => format!("{c} candidates of {} live records", self.live),
            None => format!("{} live records", self.live),
        };
        let why = match self.reason {
            Reason::NoVectors => "the collection holds no vector yet".to_string(),
            Reason::NoRecords => "every record is deleted".to_string(),
            Reason::NoCandidates => "no record passes the filter and the ids".to_string(),
            Reason::SmallCollection => format!(
                "{} slots is below the size from which a graph pays off: an exact scan",
                self.slots
            ),
            Reason::IdList => "an id list is answered by an exact scan of its records".into(),
            Reason::ExactAsked => "an exact search was asked for".into(),
            Reason::ManyResults => format!(
                "n_results {} is a quarter of the live records or more: an exact scan reads \
                 each row once",
                self.k
            ),
            Reason::FewCandidates => format!(
                "scanning the candidates is cheaper than a walk that passes over the records \
                 the filter rejects (candidates^2 <= {} * ef * live)",
                WALK_COST_PER_EF * SCAN_DISCOUNT
            ),
            Reason::NoIndex => {
                "this process has no graph of the collection yet (it is being built or loaded): \
                 an exact scan"
                    .into()
            }
            Reason::LargeCollection => format!(
                "the collection is large enough for its graph: a walk at ef {} instead of an \
                 exact scan ({} distances)",
                self.ef, self.scan_cost
            ),
            Reason::ManyCandidates => format!(
                "the filter passes too many records for a scan of them ({} distances) to beat \
                 a walk at ef {} with them as an allow-list",
                self.scan_cost, self.ef
            ),
        };
        format!(
            "{}: {why}; {cands}; about {} distances per query vector",
            self.strategy, self.cost
        )
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail())
    }
}

/// What the planner decides from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inputs<'a> {
    /// Whether the collection has a dimension (holds or held a vector).
    pub(crate) has_vectors: bool,
    /// Committed slots in the snapshot.
    pub(crate) slots: u64,
    /// Live records in the snapshot.
    pub(crate) live: u64,
    /// Slots from which the collection gets a graph.
    pub(crate) min_slots: u64,
    /// `n_results`.
    pub(crate) k: usize,
    /// The beam width asked for, or the collection's `ef_search`.
    pub(crate) ef: usize,
    /// The request has an id list.
    pub(crate) ids: bool,
    /// The caller asked for an exact search.
    pub(crate) exact: bool,
    /// The sorted candidate slots of the filter and the id list, if the request has either.
    pub(crate) candidates: Option<&'a [u64]>,
    /// This process's graph of the snapshot's generation, if it holds one.
    pub(crate) index: Option<IndexFigures>,
}

/// What the planner needs to know about a graph.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexFigures {
    /// Slots the graph has linked (it may be ahead of the snapshot).
    pub(crate) linked: u64,
    /// The graph was just loaded and its walk's 8-bit copy is not encoded yet.
    pub(crate) walk_copy_lags: bool,
}

/// The plan for a query: the module's rules, first match wins.
pub(crate) fn choose(inp: &Inputs<'_>) -> Plan {
    let below_min = inp.slots < inp.min_slots;
    let index = inp.index.filter(|_| !below_min).map(|ix| {
        let linked = ix.linked.min(inp.slots);
        Coverage {
            linked,
            unlinked: inp.slots - linked,
        }
    });
    let catch_up = inp.has_vectors
        && !below_min
        && match (inp.index, index) {
            (Some(ix), Some(cov)) => cov.unlinked > TAIL_CATCH_UP || ix.walk_copy_lags,
            _ => true,
        };
    let ef = inp.ef.max(inp.k);
    let candidates = inp.candidates.map(|c| c.len() as u64);
    let few_candidates = candidates.is_some_and(|c| {
        let walk = WALK_COST_PER_EF
            .saturating_mul(ef as u64)
            .saturating_mul(SCAN_DISCOUNT);
        c.saturating_mul(c) <= walk.saturating_mul(inp.live)
    });
    let (strategy, reason) = if !inp.has_vectors {
        (Strategy::Empty, Reason::NoVectors)
    } else if inp.live == 0 {
        (Strategy::Empty, Reason::NoRecords)
    } else if candidates == Some(0) {
        (Strategy::Empty, Reason::NoCandidates)
    } else {
        let scan = if candidates.is_some() {
            Strategy::ScanCandidates
        } else {
            Strategy::Scan
        };
        if below_min {
            (scan, Reason::SmallCollection)
        } else if inp.ids {
            (scan, Reason::IdList)
        } else if inp.exact {
            (scan, Reason::ExactAsked)
        } else if (inp.k as u64).saturating_mul(4) >= inp.live {
            (scan, Reason::ManyResults)
        } else if few_candidates {
            (scan, Reason::FewCandidates)
        } else if index.is_none() {
            (scan, Reason::NoIndex)
        } else if candidates.is_some() {
            (Strategy::WalkAllowList, Reason::ManyCandidates)
        } else {
            (Strategy::Walk, Reason::LargeCollection)
        }
    };
    let scan_cost = candidates.unwrap_or(inp.slots);
    let walk_cost = index.map(|cov| {
        let beam = WALK_COST_PER_EF.saturating_mul(ef as u64);
        let (visits, tail) = match inp.candidates {
            // The walk passes over `live / candidates` nodes per allowed one it collects,
            // and the tail scan reads only the candidates past the graph.
            Some(c) => (
                beam.saturating_mul(inp.live) / (c.len() as u64).max(1),
                (c.len() - c.partition_point(|&s| s < cov.linked)) as u64,
            ),
            None => (beam, cov.unlinked),
        };
        // A walk computes a node's distance once at most.
        visits.min(cov.linked).saturating_add(tail)
    });
    let cost = match strategy {
        Strategy::Empty => 0,
        Strategy::Scan | Strategy::ScanCandidates => scan_cost,
        Strategy::Walk | Strategy::WalkAllowList => walk_cost.unwrap_or(0),
    };
    Plan {
        strategy,
        reason,
        k: inp.k,
        ef,
        live: inp.live,
        slots: inp.slots,
        candidates,
        index,
        cost,
        scan_cost,
        walk_cost,
        catch_up,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A collection of 10,000 live records, all linked, queried for 10 at `ef` 100.
    fn inputs() -> Inputs<'static> {
        Inputs {
            has_vectors: true,
            slots: 10_000,
            live: 10_000,
            min_slots: 4096,
            k: 10,
            ef: 100,
            ids: false,
            exact: false,
            candidates: None,
            index: Some(IndexFigures {
                linked: 10_000,
                walk_copy_lags: false,
            }),
        }
    }

    fn slots(n: u64) -> Vec<u64> {
        (0..n).collect()
    }

    fn chosen(inp: &Inputs<'_>) -> (Strategy, Reason) {
        let plan = choose(inp);
        (plan.strategy, plan.reason)
    }

    #[test]
    fn a_large_collection_is_walked() {
        let plan = choose(&inputs());
        assert_eq!(
            (plan.strategy, plan.reason),
            (Strategy::Walk, Reason::LargeCollection)
        );
        assert_eq!(
            plan.index,
            Some(Coverage {
                linked: 10_000,
                unlinked: 0
            })
        );
        assert_eq!(plan.cost, WALK_COST_PER_EF * 100);
        assert_eq!(plan.scan_cost, 10_000);
        assert!(!plan.catch_up);
    }

    #[test]
    fn nothing_to_compare_is_empty() {
        let plan = choose(&Inputs {
            has_vectors: false,
            slots: 0,
            live: 0,
            index: None,
            ..inputs()
        });
        assert_eq!(
            (plan.strategy, plan.reason),
            (Strategy::Empty, Reason::NoVectors)
        );
        assert_eq!(plan.cost, 0);
        assert!(!plan.catch_up, "nothing to link without vectors");

        let all_deleted = Inputs {
            live: 0,
            ..inputs()
        };
        assert_eq!(chosen(&all_deleted), (Strategy::Empty, Reason::NoRecords));

        let none_pass = Inputs {
            candidates: Some(&[]),
            ..inputs()
        };
        assert_eq!(chosen(&none_pass), (Strategy::Empty, Reason::NoCandidates));
        // Even with nothing to compare, a graph missing where there should be one is queued.
        let plan = choose(&Inputs {
            index: None,
            ..none_pass
        });
        assert_eq!(plan.strategy, Strategy::Empty);
        assert!(plan.catch_up);
    }

    #[test]
    fn below_min_slots_is_scanned_without_a_graph() {
        let small = Inputs {
            slots: 4095,
            live: 4095,
            ..inputs()
        };
        let plan = choose(&small);
        assert_eq!(
            (plan.strategy, plan.reason),
            (Strategy::Scan, Reason::SmallCollection)
        );
        assert_eq!(plan.index, None, "no graph below min_slots");
        assert!(!plan.catch_up);
        assert_eq!(plan.cost, 4095);

        let at_min = Inputs {
            slots: 4096,
            live: 4096,
            ..inputs()
        };
        assert_eq!(chosen(&at_min), (Strategy::Walk, Reason::LargeCollection));

        let few = slots(10);
        let filtered = Inputs {
            candidates: Some(&few),
            ..small
        };
        assert_eq!(
            chosen(&filtered),
            (Strategy::ScanCandidates, Reason::SmallCollection)
        );
    }

    #[test]
    fn id_lists_and_exact_requests_are_scanned() {
        let ids = slots(3);
        let by_ids = Inputs {
            ids: true,
            candidates: Some(&ids),
            ..inputs()
        };
        let plan = choose(&by_ids);
        assert_eq!(
            (plan.strategy, plan.reason),
            (Strategy::ScanCandidates, Reason::IdList)
        );
        assert_eq!((plan.candidates, plan.cost), (Some(3), 3));

        let exact = Inputs {
            exact: true,
            ..inputs()
        };
        assert_eq!(chosen(&exact), (Strategy::Scan, Reason::ExactAsked));
    }

    #[test]
    fn a_quarter_of_the_records_or_more_is_scanned() {
        let quarter = Inputs {
            k: 2500,
            ..inputs()
        };
        assert_eq!(chosen(&quarter), (Strategy::Scan, Reason::ManyResults));
        let less = Inputs {
            k: 2499,
            ef: 10,
            ..inputs()
        };
        let plan = choose(&less);
        assert_eq!(plan.strategy, Strategy::Walk);
        assert_eq!(plan.ef, 2499, "the beam is at least k");
    }

    #[test]
    fn few_candidates_are_scanned_many_walked_with_an_allow_list() {
        // 90 * ef 100 * live 10,000 = 90,000,000, between 9,486^2 and 9,487^2.
        let few = slots(9486);
        let plan = choose(&Inputs {
            candidates: Some(&few),
            ..inputs()
        });
        assert_eq!(
            (plan.strategy, plan.reason),
            (Strategy::ScanCandidates, Reason::FewCandidates)
        );
        assert_eq!((plan.candidates, plan.cost), (Some(9486), 9486));

        let many = slots(9487);
        let plan = choose(&Inputs {
            candidates: Some(&many),
            ..inputs()
        });
        assert_eq!(
            (plan.strategy, plan.reason),
            (Strategy::WalkAllowList, Reason::ManyCandidates)
        );
        // 3,000 distances per ef... scaled by live / candidates, under the linked count.
        assert_eq!(plan.cost, WALK_COST_PER_EF * 100 * 10_000 / 9487);

        // The bound takes the beam in force: `k` when it is wider than `ef`.
        let wide_k = Inputs {
            candidates: Some(&many),
            ef: 10,
            k: 100,
            ..inputs()
        };
        assert_eq!(chosen(&wide_k).0, Strategy::WalkAllowList);
        let narrow = Inputs {
            candidates: Some(&many),
            ef: 10,
            ..inputs()
        };
        assert_eq!(chosen(&narrow).0, Strategy::WalkAllowList);
        let few_at_ef_10 = slots(2999);
        let narrow_few = Inputs {
            candidates: Some(&few_at_ef_10),
            ef: 10,
            ..inputs()
        };
        // 90 * 10 * 10,000 = 9,000,000 >= 2,999^2 = 8,994,001.
        assert_eq!(
            chosen(&narrow_few),
            (Strategy::ScanCandidates, Reason::FewCandidates)
        );
        let more_at_ef_10 = slots(3001);
        assert_eq!(
            chosen(&Inputs {
                candidates: Some(&more_at_ef_10),
                ..narrow_few
            })
            .0,
            Strategy::WalkAllowList
        );
    }

    #[test]
    fn without_a_graph_a_large_collection_is_scanned_and_linked_after() {
        let plan = choose(&Inputs {
            index: None,
            ..inputs()
        });
        assert_eq!(
            (plan.strategy, plan.reason),
            (Strategy::Scan, Reason::NoIndex)
        );
        assert!(plan.catch_up);
        assert_eq!(plan.walk_cost, None);
    }

    #[test]
    fn a_long_unlinked_tail_is_scanned_then_linked() {
        let linked = |linked: u64, walk_copy_lags: bool| Inputs {
            index: Some(IndexFigures {
                linked,
                walk_copy_lags,
            }),
            ..inputs()
        };
        let plan = choose(&linked(10_000 - 2048, false));
        assert_eq!(plan.strategy, Strategy::Walk);
        assert_eq!(
            plan.index,
            Some(Coverage {
                linked: 7952,
                unlinked: 2048
            })
        );
        assert_eq!(plan.cost, WALK_COST_PER_EF * 100 + 2048, "walk plus tail");
        assert!(!plan.catch_up);
        assert!(choose(&linked(10_000 - 2049, false)).catch_up);
        assert!(
            choose(&linked(10_000, true)).catch_up,
            "walk copy to encode"
        );
        // A graph ahead of the snapshot (a later write) covers the snapshot whole.
        let ahead = choose(&linked(12_000, false));
        assert_eq!(
            ahead.index,
            Some(Coverage {
                linked: 10_000,
                unlinked: 0
            })
        );
    }

    #[test]
    fn an_allow_list_walk_scans_only_the_tail_candidates() {
        // Every other slot passes; the graph links the first 8,000; 5,000^2 > 90 * 10 * 10,000.
        let every_other: Vec<u64> = (0..10_000).step_by(2).collect();
        let plan = choose(&Inputs {
            candidates: Some(&every_other),
            ef: 10,
            index: Some(IndexFigures {
                linked: 8000,
                walk_copy_lags: false,
            }),
            ..inputs()
        });
        assert_eq!(plan.strategy, Strategy::WalkAllowList);
        let visits = WALK_COST_PER_EF * 10 * 10_000 / 5000;
        assert_eq!(plan.cost, visits + 1000, "the tail's 1,000 candidates");
        // The walk never computes more distances than the graph has nodes; its estimate is
        // there when a scan is chosen too.
        let rare: Vec<u64> = (0..10_000).step_by(1000).collect();
        let plan = choose(&Inputs {
            candidates: Some(&rare),
            ..inputs()
        });
        assert_eq!(plan.strategy, Strategy::ScanCandidates);
        assert_eq!((plan.cost, plan.walk_cost), (10, Some(10_000)));
    }

    #[test]
    fn names_and_details_read() {
        let plan = choose(&inputs());
        assert_eq!(plan.strategy.name(), "walk");
        assert_eq!(plan.reason.name(), "large_collection");
        let text = plan.to_string();
        assert!(text.starts_with("walk: "), "{text}");
        assert!(text.contains("10000 live records"), "{text}");
    }
}
