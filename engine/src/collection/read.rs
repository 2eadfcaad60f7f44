//! The read path: get, query, count (optionally filtered), peek, and explain (a query's plan
//! without running it). Each call reads one SQLite snapshot and the vector rows that snapshot
//! commits, so it sees every write committed before it started. A query finds its candidates
//! and this process's graph, asks `plan.rs` how to answer, and runs that plan here (walks in
//! `index.rs`).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLockWriteGuard};

use rusqlite::Transaction;

use super::expiry::Expired;
use super::index::IndexView;
use super::plan::{self, Inputs, Plan, Strategy};
use super::{Collection, DEAD, LiveSlots, SearchOptions, filter_cache};
use crate::error::{Error, Result};
use crate::filter::{Filter, Validation, parse_filter};
use crate::meta::{self, CollectionRow, RecordRow};
use crate::search::{Candidates, Hit, Scan, Threads, exact_search};
use crate::types::{Embeddings, GetRequest, GetResult, Include, Metadata, QueryHits, QueryRequest};
use crate::validate;

/// Attempts at a read that raced with a compaction removing the file it was about to map.
const READ_ATTEMPTS: usize = 3;
/// A scan bounds its candidates' distances by the graph's 8-bit copy (reading their f32 rows
/// only where the bound cannot rule them out) when it asks for at most one in this many of
/// them; asked for more, most rows would be read twice.
const BOUNDED_SCAN_MIN_RATIO: u64 = 8;

impl Collection {
    /// Number of records.
    pub fn count(&self) -> Result<u64> {
        self.snapshot(|tx, row, live| Ok(live.live.saturating_sub(self.expired(tx, row)?.len())))
    }

    /// Number of records that pass chromadb's `where` and `where_document` filters (JSON, checked
    /// as `get` checks them; neither given: [`count`](Self::count)). Reads no record: the
    /// filter's indexed statements give the matching ords, which are counted.
    pub fn count_where(
        &self,
        where_: Option<&serde_json::Value>,
        where_document: Option<&serde_json::Value>,
    ) -> Result<u64> {
        let filter = parse_filter(where_, where_document, Validation::Client(crate::Op::Get))?;
        if filter.is_empty() {
            return self.count();
        }
        self.snapshot(|tx, row, live| {
            let expired = self.expired(tx, row)?;
            if let Some(slots) = self.shared.filter_index.slots(tx, row, live, &filter)? {
                return Ok(slots.iter().filter(|&&s| !expired.hides_slot(s)).count() as u64);
            }
            let ords = meta::sql::matching_ords(tx, row.key, &filter, None)?;
            Ok(ords.iter().filter(|&&o| !expired.hides_ord(o)).count() as u64)
        })
    }

    /// The first `limit` records with embeddings, documents and metadata (chromadb's `peek`).
    pub fn peek(&self, limit: usize) -> Result<GetResult> {
        self.get(GetRequest {
            limit: Some(limit),
            include: Include {
                embeddings: true,
                ..Include::get_default()
            },
            ..GetRequest::default()
        })
    }

    /// Records by id or by page, in insertion order. Ids that do not exist are skipped.
    pub fn get(&self, req: GetRequest<'_>) -> Result<GetResult> {
        let filter = validate::get(&req)?;
        self.snapshot(|tx, row, live| {
            // Expired records are left out before the page is cut.
            let expired = self.expired(tx, row)?;
            let limit = req.limit.unwrap_or(usize::MAX);
            let records = match req.ids {
                _ if !filter.is_empty() => {
                    let ords = match self.indexed_ords(tx, row, live, &filter, req.ids)? {
                        Some(ords) => ords,
                        None => meta::sql::matching_ords(tx, row.key, &filter, req.ids)?,
                    };
                    let page: Vec<u64> = ords
                        .into_iter()
                        .filter(|&o| !expired.hides_ord(o))
                        .skip(req.offset)
                        .take(limit)
                        .collect();
                    meta::sql::records_by_ords(tx, row.key, &page)?
                }
                Some(ids) => {
                    let all = meta::records::by_ids(tx, row.key, ids)?;
                    all.into_iter()
                        .filter(|r| !expired.hides_ord(r.ord))
                        .skip(req.offset)
                        .take(limit)
                        .collect()
                }
                None if expired.is_empty() => {
                    meta::records::page(tx, row.key, req.limit, req.offset)?
                }
                None => {
                    // At most `expired.len()` of the first `offset + limit + that` are hidden.
                    let wider = req
                        .offset
                        .saturating_add(limit)
                        .saturating_add(expired.len() as usize);
                    meta::records::page(tx, row.key, Some(wider), 0)?
                        .into_iter()
                        .filter(|r| !expired.hides_ord(r.ord))
                        .skip(req.offset)
                        .take(limit)
                        .collect()
                }
            };
            let embeddings = if req.include.embeddings {
                Some(self.gather(tx, row, records.iter().map(|r| r.slot))?)
            } else {
                None
            };
            let mut out = fields(records, req.include);
            out.embeddings = embeddings;
            Ok(GetResult {
                ids: out.ids,
                embeddings: out.embeddings,
                documents: out.documents,
                uris: out.uris,
                metadatas: out.metadatas,
            })
        })
    }

    /// The `n_results` nearest records to each query vector, nearest first, ties in insertion
    /// order. An empty collection gives empty results, not an error.
    pub fn query(&self, req: QueryRequest<'_>) -> Result<Vec<QueryHits>> {
        self.query_where(req, None, None)
    }

    /// [`query`](Self::query) among the records that pass chromadb's `where` (metadata) and
    /// `where_document` filters, given as JSON (`None` or JSON `null`: no filter) and checked as
    /// the `chromadb` Python client checks them. With `req.ids` too, a record must be among
    /// them and pass the filters. Fewer than `n_results` records may pass: the hits are those.
    ///
    /// Collections of 4,096 slots or more are searched through their HNSW index (see [`SearchOptions`] for the beam width and for asking for an exact scan, and
    /// [`explain`](Self::explain) for the way a request is answered and why).
    pub fn query_where(
        &self,
        req: QueryRequest<'_>,
        where_: Option<&serde_json::Value>,
        where_document: Option<&serde_json::Value>,
    ) -> Result<Vec<QueryHits>> {
        self.query_with(req, where_, where_document, SearchOptions::default())
    }

    /// [`query_where`](Self::query_where) with search options: a beam width for this query,
    /// or an exact scan.
    pub fn query_with(
        &self,
        req: QueryRequest<'_>,
        where_: Option<&serde_json::Value>,
        where_document: Option<&serde_json::Value>,
        opts: SearchOptions,
    ) -> Result<Vec<QueryHits>> {
        let (n_queries, filter) = check_query(&req, where_, where_document, opts)?;
        // Query vectors are not checked for NaN or infinity: chromadb accepts them and returns
        // NaN / infinite distances, and nothing is stored.
        let (out, catch_up) = self.snapshot(|tx, row, live| {
            let filters = (&filter, (where_, where_document), opts);
            let (catch_up, hits) =
                self.planned(tx, row, live, &req, filters, |live, planned| {
                    Ok((
                        planned.plan.catch_up,
                        self.run(tx, row, live, &req, planned)?,
                    ))
                })?;
            let embeddings: Option<Vec<Embeddings>> = if req.include.embeddings {
                Some(
                    hits.iter()
                        .map(|h| self.gather(tx, row, h.iter().map(|h| h.slot)))
                        .collect::<Result<_>>()?,
                )
            } else {
                None
            };
            let mut out = Vec::with_capacity(n_queries);
            for (q, hits) in hits.into_iter().enumerate() {
                out.push(self.materialize(
                    tx,
                    row,
                    &hits,
                    req.include,
                    embeddings.as_ref().map(|e| e[q].clone()),
                )?);
            }
            Ok((out, catch_up))
        })?;
        if catch_up {
            // Records this process has not linked (written by another process, or a graph
            // missing on open): link them in the background; queries meanwhile scan them.
            self.catch_up_in_background();
        }
        Ok(out)
    }

    /// How [`query_with`](Self::query_with) would answer this request now, without running
    /// it: the [`Plan`] (an exact scan, a walk of the HNSW graph with or without the filter's
    /// candidates as an allow-list, or nothing to do), the rule that chose it, the candidate
    /// count and the estimated cost, so one can see why a filtered query is slow. The request
    /// is checked as a query checks it.
    ///
    /// Nothing changes: no record is read past the filter's candidates, nothing is linked
    /// into the index (`plan.catch_up` says whether the query would queue that). Like the
    /// first query of a process, it may map the saved index file, and it keeps the filter's
    /// candidates for the query that follows.
    pub fn explain(
        &self,
        req: QueryRequest<'_>,
        where_: Option<&serde_json::Value>,
        where_document: Option<&serde_json::Value>,
        opts: SearchOptions,
    ) -> Result<Plan> {
        let (_, filter) = check_query(&req, where_, where_document, opts)?;
        self.snapshot(|tx, row, live| {
            let filters = (&filter, (where_, where_document), opts);
            self.planned(tx, row, live, &req, filters, |_, planned| Ok(planned.plan))
        })
    }

    /// Plans a query in the caller's snapshot: finds the candidates of its ids and filters and
    /// this process's graph, and asks the planner. Errors for ids that do not exist.
    /// Plans a query with the expired records hidden from `live`, and runs `then` on the
    /// live slots it planned with and the plan (`query` and `explain` share it).
    fn planned<T>(
        &self,
        tx: &Transaction<'_>,
        row: &CollectionRow,
        live: &LiveSlots,
        req: &QueryRequest<'_>,
        (filter, filters, opts): (&Filter, FilterJson<'_>, SearchOptions),
        then: impl FnOnce(&LiveSlots, Planned<'_>) -> Result<T>,
    ) -> Result<T> {
        let expired = self.expired(tx, row)?;
        let masked;
        let live = if expired.is_empty() {
            live
        } else {
            masked = expired.mask(live);
            &masked
        };
        let planned = self.plan(tx, row, (live, &expired), req, filter, filters, opts)?;
        then(live, planned)
    }

    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        tx: &Transaction<'_>,
        row: &CollectionRow,
        (live, expired): (&LiveSlots, &Expired),
        req: &QueryRequest<'_>,
        filter: &Filter,
        (where_, where_document): (Option<&serde_json::Value>, Option<&serde_json::Value>),
        opts: SearchOptions,
    ) -> Result<Planned<'_>> {
        let mut inputs = Inputs {
            has_vectors: row.dimension.is_some(),
            slots: row.slot_count,
            live: live.live,
            min_slots: self.index_min_slots(),
            k: req.n_results,
            ef: opts.ef_search.unwrap_or(row.config.hnsw.ef_search),
            // An id list is answered exactly: it is the caller's own short list.
            ids: req.ids.is_some(),
            exact: opts.exact,
            candidates: None,
            index: None,
        };
        if row.dimension.is_none() {
            return Ok(Planned {
                plan: plan::choose(&inputs),
                candidates: None,
                index: IndexView::none(),
            });
        }
        validate::dimension(row.dimension, req.dim)?;
        let restricted: Option<Arc<Vec<u64>>> = match req.ids {
            Some([]) => Some(Arc::default()),
            Some(ids) => {
                // Duplicates are fine (chromadb de-duplicates); missing ids are an error.
                let mut found = meta::records::by_ids(tx, row.key, ids)?;
                found.retain(|r| !expired.hides_ord(r.ord));
                let known: std::collections::HashSet<&str> =
                    found.iter().map(|r| r.id.as_str()).collect();
                let mut missing: Vec<String> = Vec::new();
                for id in ids.iter().filter(|id| !known.contains(id.as_str())) {
                    if !missing.contains(id) {
                        missing.push(id.clone());
                    }
                }
                if !missing.is_empty() {
                    return Err(Error::QueryIdsNotFound(missing));
                }
                let mut slots: Vec<u64> = found.iter().map(|r| r.slot).collect();
                slots.sort_unstable();
                Some(Arc::new(slots))
            }
            None => None,
        };
        let restricted = if filter.is_empty() || restricted.as_ref().is_some_and(|r| r.is_empty()) {
            restricted
        } else if req.ids.is_some() {
            // The ids (checked above) are one more set to intersect with.
            let ords = meta::sql::matching_ords(tx, row.key, filter, req.ids)?;
            Some(Arc::new(live.slots_of(&ords)))
        } else {
            let key = serde_json::json!([where_, where_document]).to_string();
            Some(self.shared.filter_cache.get_or_try_insert(
                row.seq,
                key,
                || filter_cache::Reads::of(where_),
                || {
                    // The in-memory index answers; SQLite when it cannot (see its docs).
                    if let Some(slots) = self.shared.filter_index.slots(tx, row, live, filter)? {
                        return Ok(slots);
                    }
                    let ords = meta::sql::matching_ords(tx, row.key, filter, None)?;
                    Ok::<_, Error>(live.slots_of(&ords))
                },
            )?)
        };
        // Candidates kept for this `seq` may name records expired since.
        let restricted = match restricted {
            Some(c) if !expired.is_empty() && c.iter().any(|&s| expired.hides_slot(s)) => {
                Some(Arc::new(
                    c.iter()
                        .copied()
                        .filter(|&s| !expired.hides_slot(s))
                        .collect(),
                ))
            }
            other => other,
        };
        let index = self.shared.index_view(row, inputs.min_slots);
        inputs.candidates = restricted.as_deref().map(Vec::as_slice);
        inputs.index = index.figures();
        let plan = plan::choose(&inputs);
        Ok(Planned {
            plan,
            candidates: restricted,
            index,
        })
    }

    /// The ords (sorted) of the live records of this snapshot that pass `filter`, from the
    /// in-memory filter index; `None` when it cannot answer or `ids` restricts the records
    /// (SQLite answers those).
    fn indexed_ords(
        &self,
        tx: &Transaction<'_>,
        row: &CollectionRow,
        live: &LiveSlots,
        filter: &Filter,
        ids: Option<&[String]>,
    ) -> Result<Option<Vec<u64>>> {
        if ids.is_some() {
            return Ok(None);
        }
        let Some(slots) = self.shared.filter_index.slots(tx, row, live, filter)? else {
            return Ok(None);
        };
        let mut ords: Vec<u64> = slots
            .iter()
            .filter_map(|&s| live.ords.get(s as usize).copied())
            .collect();
        ords.sort_unstable();
        Ok(Some(ords))
    }

    /// Runs a plan: the hits of each query vector, nearest first.
    fn run(
        &self,
        tx: &Transaction<'_>,
        row: &CollectionRow,
        live: &LiveSlots,
        req: &QueryRequest<'_>,
        planned: Planned<'_>,
    ) -> Result<Vec<Vec<Hit>>> {
        let Planned {
            plan,
            candidates,
            index,
        } = planned;
        // Checked: a plan that is not `Empty` is for a collection of this dimension.
        let dim = req.dim;
        let n_queries = req.embeddings.len() / dim;
        let candidates = candidates.as_deref().map(Vec::as_slice);
        // One query's scan stays on this thread while background work takes the cores; a
        // batch's is worth handing to the pool.
        let busy = self.db.scheduler.busy();
        let threads = if n_queries == 1 && busy {
            Threads::Caller
        } else {
            Threads::Pool
        };
        // While jobs run, they leave the cores this query takes to it (`scheduler::Share`).
        let _in_foreground = busy.then(|| {
            self.db
                .scheduler
                .foreground()
                .enter(threads == Threads::Pool)
        });
        match (plan.strategy, index.graph()) {
            (Strategy::Empty, _) => Ok(vec![Vec::new(); n_queries]),
            (Strategy::Walk | Strategy::WalkAllowList, Some(graph)) => self.shared.walk(
                graph,
                row,
                live,
                (req.embeddings, dim),
                (&plan, candidates),
                threads,
            ),
            // The scans (a plan walks only a graph `index` holds; were it gone, a scan would
            // still be the exact answer).
            _ => {
                // A scan holds the index's lock only to read the graph's 8-bit copy (see
                // below): when the copy covers the rows and the scan asks for few of them.
                // Otherwise it lets go, as a build waiting to publish would stall the queries
                // behind it.
                let n_scanned = candidates.map_or(row.slot_count, |c| c.len() as u64);
                let few =
                    (req.n_results as u64).saturating_mul(BOUNDED_SCAN_MIN_RATIO) <= n_scanned;
                let covered = index
                    .graph()
                    .is_some_and(|g| g.coded_ranker_covers(dim, row.slot_count));
                let index = if few && covered {
                    index
                } else {
                    IndexView::none()
                };
                let graph = index.graph();
                let candidates = match candidates {
                    Some(slots) => {
                        self.shared.verify_slots(tx, row, slots.iter().copied())?;
                        Candidates::Slots(slots)
                    }
                    None => {
                        self.shared.verify_all(tx, row)?;
                        Candidates::All
                    }
                };
                self.shared
                    .segment
                    .with_rows(row.generation, dim, row.slot_count, |rows| {
                        let scan = Scan {
                            kernel: self.shared.kernel,
                            rows,
                            dim,
                            ords: &live.ords,
                            dead: DEAD,
                            live: None,
                        };
                        // The graph's 8-bit copy, when it covers the rows, bounds every
                        // candidate's distance, and only those that can be among the hits
                        // are read in f32: the same answer from a quarter of the bytes.
                        match graph.and_then(|g| g.coded_ranker(&scan)) {
                            Some(ranker) => ranker.bounded_search(
                                &scan,
                                req.embeddings,
                                req.n_results,
                                candidates,
                                threads,
                            ),
                            None => exact_search(
                                &scan,
                                req.embeddings,
                                req.n_results,
                                candidates,
                                threads,
                            ),
                        }
                    })
            }
        }
    }

    /// Links every committed record into this process's index now and returns when it is
    /// done (a no-op below 4,096 slots, which are always scanned exactly). Writes queue this
    /// in the background on their own; call it to have the index complete, say before
    /// measuring queries.
    pub fn catch_up_index(&self) -> Result<()> {
        // Waits for another builder on this (foreground) thread; the linking itself runs on
        // the scheduler's pool (`catch_up` installs it there), off the queries' threads. On a
        // pool thread the wait is not taken (see `catch_up`), and then nothing is linked.
        self.catch_up_now(true, &crate::scheduler::JobCtx::detached())?;
        // Writes that came while this ran may have left their records to it (their
        // background task found the build busy): hand them to a background task.
        if self.index_lags()? {
            self.catch_up_in_background();
        }
        Ok(())
    }

    fn materialize(
        &self,
        tx: &Transaction<'_>,
        row: &CollectionRow,
        hits: &[Hit],
        include: Include,
        embeddings: Option<Embeddings>,
    ) -> Result<QueryHits> {
        let slots: Vec<u64> = hits.iter().map(|h| h.slot).collect();
        let distances = include
            .distances
            .then(|| hits.iter().map(|h| h.distance).collect());
        if hits.is_empty() {
            // Nothing to read: no candidate, no record or no vector yet.
            let mut out = fields(Vec::new(), include);
            out.distances = distances;
            out.embeddings = embeddings;
            return Ok(out);
        }
        if !(include.documents || include.uris || include.metadatas) {
            // Nothing asked for lives in the records table but the ids, which this process
            // keeps by slot.
            return Ok(QueryHits {
                ids: self.shared.hit_ids.ids(tx, row, &slots)?,
                distances,
                embeddings,
                documents: None,
                uris: None,
                metadatas: None,
            });
        }
        let records = meta::records::by_slots(tx, row.key, &slots)?
            .into_iter()
            .zip(&slots)
            .map(|(r, slot)| {
                r.ok_or_else(|| Error::Corrupt {
                    path: meta::SQLITE_FILE.into(),
                    detail: format!("live slot {slot} has no record"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Read in this snapshot: the ids are good for later ids-only queries too.
        self.shared.hit_ids.remember(
            row.generation,
            records.iter().map(|r| (r.slot, r.id.as_str())),
        );
        let mut out = fields(records, include);
        out.distances = distances;
        out.embeddings = embeddings;
        Ok(out)
    }

    /// Copies the vectors at `slots` out of the segment.
    fn gather(
        &self,
        tx: &Transaction<'_>,
        row: &CollectionRow,
        slots: impl Iterator<Item = u64> + Clone,
    ) -> Result<Embeddings> {
        let Some(dim) = row.dimension else {
            return Ok(Embeddings::default());
        };
        self.shared.verify_slots(tx, row, slots.clone())?;
        self.shared
            .segment
            .with_rows(row.generation, dim, row.slot_count, |rows| {
                copy_rows(rows, dim, slots)
            })
    }

    /// Runs `f` on one snapshot: the collection's catalog row and its live slots as of that
    /// snapshot (reloading this process's cache if another writer got ahead of it).
    pub(super) fn snapshot<T>(
        &self,
        f: impl Fn(&Transaction<'_>, &CollectionRow, &LiveSlots) -> Result<T>,
    ) -> Result<T> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.db.sidecar.read(|tx| {
                let row = self.row(tx)?;
                {
                    let live = self.shared.live.read().unwrap_or_else(|p| p.into_inner());
                    if live.seq == Some(row.seq) {
                        return f(tx, &row, &live);
                    }
                }
                let mut live: RwLockWriteGuard<'_, LiveSlots> =
                    self.shared.live.write().unwrap_or_else(|p| p.into_inner());
                if live.seq != Some(row.seq) {
                    live.reload(tx, &row, self.shared.segment.dir())?;
                    self.shared.live_loads.fetch_add(1, Relaxed);
                }
                let live = RwLockWriteGuard::downgrade(live);
                f(tx, &row, &live)
            });
            match result {
                Err(Error::Io { ref source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound && attempt < READ_ATTEMPTS =>
                {
                    continue;
                }
                other => return other,
            }
        }
    }
}

/// A query planned in one snapshot: the plan and what running it reads.
/// A query's `where` and `where_document` as given.
type FilterJson<'a> = (Option<&'a serde_json::Value>, Option<&'a serde_json::Value>);

struct Planned<'a> {
    plan: Plan,
    /// The candidate slots of the filter and the id list, sorted.
    candidates: Option<Arc<Vec<u64>>>,
    /// The graph a walk reads, under the index's read lock.
    index: IndexView<'a>,
}

/// Checks a query request (the engine's one validator, then the option only mnemodb has);
/// returns the number of query vectors and the parsed filter.
fn check_query(
    req: &QueryRequest<'_>,
    where_: Option<&serde_json::Value>,
    where_document: Option<&serde_json::Value>,
    opts: SearchOptions,
) -> Result<(usize, Filter)> {
    let checked = validate::query(req, where_, where_document)?;
    if opts.ef_search == Some(0) {
        return Err(Error::invalid("ef_search must be at least 1"));
    }
    Ok(checked)
}

fn copy_rows(rows: &[f32], dim: usize, slots: impl Iterator<Item = u64>) -> Embeddings {
    let data = slots
        .flat_map(|s| &rows[s as usize * dim..(s as usize + 1) * dim])
        .copied()
        .collect();
    Embeddings { dim, data }
}

/// Splits records into the columns `include` asks for (no embeddings, no distances).
fn fields(records: Vec<RecordRow>, include: Include) -> QueryHits {
    let n = records.len();
    let mut out = QueryHits {
        ids: Vec::with_capacity(n),
        distances: None,
        embeddings: include.embeddings.then(Embeddings::default),
        documents: include.documents.then(|| Vec::with_capacity(n)),
        uris: include.uris.then(|| Vec::with_capacity(n)),
        metadatas: include.metadatas.then(|| Vec::with_capacity(n)),
    };
    if include.distances {
        out.distances = Some(Vec::new());
    }
    for r in records {
        out.ids.push(r.id);
        if let Some(d) = out.documents.as_mut() {
            d.push(r.document);
        }
        // chromadb keeps a record's uri inside its metadata, so a record with a uri and no
        // metadata reads back with `{}`; reproduced for drop-in parity.
        let empty_for_uri = r.uri.is_some().then(Metadata::new);
        if let Some(u) = out.uris.as_mut() {
            u.push(r.uri);
        }
        if let Some(m) = out.metadatas.as_mut() {
            m.push(r.metadata.or(empty_for_uri));
        }
    }
    out
}
