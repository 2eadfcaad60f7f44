//! The read path: get, query, count, peek. Each call reads one SQLite snapshot and the vector
//! rows that snapshot commits, so it sees every write committed before it started.

use std::sync::RwLockWriteGuard;

use rusqlite::Transaction;

use super::{Collection, DEAD, LiveSlots, SearchOptions, filter_cache};
use crate::error::{Error, Result};
use crate::meta::{self, CollectionRow, RecordRow};
use crate::search::{Candidates, Hit, Scan, exact_search};
use crate::types::{Embeddings, GetRequest, GetResult, Include, Metadata, QueryHits, QueryRequest};
use crate::validate;

/// Attempts at a read that raced with a compaction removing the file it was about to map.
const READ_ATTEMPTS: usize = 3;

impl Collection {
    /// Number of records.
    pub fn count(&self) -> Result<u64> {
        self.snapshot(|_, _, live| Ok(live.live))
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
        self.snapshot(|tx, row, _| {
            let records = match req.ids {
                _ if !filter.is_empty() => {
                    let ords = meta::sql::matching_ords(tx, row.key, &filter, req.ids)?;
                    let limit = req.limit.unwrap_or(usize::MAX);
                    let page: Vec<u64> = ords.into_iter().skip(req.offset).take(limit).collect();
                    meta::sql::records_by_ords(tx, row.key, &page)?
                }
                Some(ids) => {
                    let all = meta::records::by_ids(tx, row.key, ids)?;
                    let limit = req.limit.unwrap_or(usize::MAX);
                    all.into_iter().skip(req.offset).take(limit).collect()
                }
                None => meta::records::page(tx, row.key, req.limit, req.offset)?,
            };
            let embeddings = if req.include.embeddings {
                Some(self.gather(row, records.iter().map(|r| r.slot))?)
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
    /// Collections of 4,096 slots or more are searched through their HNSW index (see [`SearchOptions`] for the beam width and for asking for an exact scan).
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
        let (n_queries, filter) = validate::query(&req, where_, where_document)?;
        if opts.ef_search == Some(0) {
            return Err(Error::invalid("ef_search must be at least 1"));
        }
        let link_later = std::sync::atomic::AtomicBool::new(false);
        // Query vectors are not checked for NaN or infinity: chromadb accepts them and returns
        // NaN / infinite distances, and nothing is stored.
        let out = self.snapshot(|tx, row, live| {
            let Some(dim) = row.dimension else {
                return Ok(vec![QueryHits::empty(req.include); n_queries]);
            };
            validate::dimension(Some(dim), req.dim)?;
            let restricted: Option<Vec<u64>> = match req.ids {
                Some([]) => Some(Vec::new()),
                Some(ids) => {
                    // Duplicates are fine (chromadb de-duplicates); missing ids are an error.
                    let found = meta::records::by_ids(tx, row.key, ids)?;
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
                    Some(slots)
                }
                None => None,
            };
            let restricted = if filter.is_empty() || restricted.as_ref().is_some_and(Vec::is_empty)
            {
                restricted
            } else if req.ids.is_some() {
                // The ids (checked above) are one more set to intersect with.
                let ords = meta::sql::matching_ords(tx, row.key, &filter, req.ids)?;
                Some(live.slots_of(&ords))
            } else {
                let key = serde_json::json!([where_, where_document]).to_string();
                let slots = self.shared.filter_cache.get_or_try_insert(
                    row.seq,
                    key,
                    || filter_cache::Reads::of(where_),
                    || {
                        let ords = meta::sql::matching_ords(tx, row.key, &filter, None)?;
                        Ok::<_, Error>(live.slots_of(&ords))
                    },
                )?;
                Some(slots.as_ref().clone())
            };
            let opts = SearchOptions {
                // An id list is answered exactly: it is the caller's own short list.
                exact: opts.exact || req.ids.is_some(),
                ..opts
            };
            let (by_index, link_after) = self.shared.index_search(
                row,
                live,
                &req,
                restricted.as_deref(),
                opts,
                self.index_min_slots(),
            )?;
            link_later.store(link_after, std::sync::atomic::Ordering::Relaxed);
            let hits = match by_index {
                Some(hits) => hits,
                None => {
                    let candidates = match &restricted {
                        Some(slots) => Candidates::Slots(slots),
                        None => Candidates::All,
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
                            exact_search(&scan, req.embeddings, req.n_results, candidates)
                        })?
                }
            };
            let embeddings: Option<Vec<Embeddings>> = if req.include.embeddings {
                Some(
                    hits.iter()
                        .map(|h| self.gather(row, h.iter().map(|h| h.slot)))
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
            Ok(out)
        })?;
        if link_later.into_inner() {
            // Records this process has not linked (written by another process, or a graph
            // missing on open): link them in the background; queries meanwhile scan them.
            self.catch_up_in_background();
        }
        Ok(out)
    }

    /// Links every committed record into this process's index now and returns when it is
    /// done (a no-op below 4,096 slots, which are always scanned exactly). Writes queue this
    /// in the background on their own; call it to have the index complete, say before
    /// measuring queries.
    pub fn catch_up_index(&self) -> Result<()> {
        self.catch_up_now(true)?;
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
    fn gather(&self, row: &CollectionRow, slots: impl Iterator<Item = u64>) -> Result<Embeddings> {
        let Some(dim) = row.dimension else {
            return Ok(Embeddings::default());
        };
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

impl QueryHits {
    fn empty(include: Include) -> QueryHits {
        fields(Vec::new(), include)
    }
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
