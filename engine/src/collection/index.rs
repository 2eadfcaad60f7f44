//! A collection's HNSW index as this process holds it: caught up after writes, searched with
//! the part it has not reached yet scanned exactly, saved to `hnsw.<generation>.bin`.
//!
//! The graph covers the slots `0..linked` of one vector generation. Slots are append-only
//! within a generation and their rows never change, so a graph over a prefix stays valid
//! however the records change later: deleted and updated records are tombstones (their slots
//! are dead in the `ords` table and a search never returns them). A search merges the graph's
//! hits with an exact scan of `linked..slot_count`, so it never misses a committed record,
//! whatever the index has reached. Compaction renumbers slots (a new generation): the graph is
//! rebuilt.
//!
//! Building happens off the caller's thread: a write commits, then queues a catch-up job on
//! the database's scheduler (`crate::scheduler`, its own threads, never the pool queries scan
//! on) and returns, so writes are as fast as the storage; queries meanwhile scan what
//! the graph lacks. [`Collection::catch_up_index`] links everything now, for callers that
//! want the index complete (benchmarks, tests). Other processes' writes are caught up the
//! same way, when a query finds the unindexed tail too long.
//!
//! Concurrency: one builder at a time (`building`; queries only ever `try_lock` it). The
//! builder works in bounded steps of at most [`LINK_STEP`] slots (or 8,192 rows of the walk
//! copy), checking its job's cancel flag between them: per step it takes the state's write
//! lock only to append encoded rows, to allocate the step's nodes and their norms, and to
//! publish `linked`; it links them and saves the graph under the read lock, so queries (read
//! lock) run during a build and wait at most for one allocation or publication.
//!
//! One build per directory, not per process: the builder holds an advisory lock on
//! `hnsw.lock` (`File::try_lock`) while it links and saves. A process that finds it held does
//! not link (its queries scan what its graph lacks); its next catch-up first picks up the
//! saved file when that covers more than its own graph, and links only what remains. The
//! builder saves every [`SAVE_EVERY_STEPS`] steps, so others pick up its progress as it goes.
//!
//! **Invariant:** the index is derived data. A missing, stale, foreign or damaged file is
//! rebuilt from the vectors; nothing is ever answered from the graph alone.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};

use super::plan::{IndexFigures, Plan};
use super::{Collection, CollectionShared, DEAD, LiveSlots};
use crate::config::HnswConfig;
use crate::error::Result;
use crate::meta::CollectionRow;
use crate::scheduler::{JobCtx, JobKind, Scheduler, Share};
use rayon::prelude::*;

use crate::distance::Space;
use crate::search::{
    Candidates, Hit, Hnsw, HnswParams, HnswRows, Scan, Threads, WalkCopy, exact_search, inv_norm,
    shortlist_search,
};

/// Below this many slots a collection is searched exactly and has no graph: a scan of 4,096
/// rows of 384 floats costs about what a graph search does (see `benches/README.md`).
pub(crate) const EXACT_BELOW_SLOTS: u64 = 4096;
/// Slots linked per step of a build: the most a query may wait for (allocating and publishing
/// a step), and how often a build looks at its cancel flag and encodes the walk copy of rows
/// committed meanwhile. A step takes about 0.6 s of two busy cores (a quarter of a
/// second alone): with 4,096 slots the copy lagged the writes by up to 2.5 s, and queries
/// scanned the f32 rows meanwhile.
const LINK_STEP: u64 = 1024;
/// A long build saves its graph every this many steps (when `sync_threshold` slots are
/// unsaved), so other processes pick up its progress: every 32,768 slots.
const SAVE_EVERY_STEPS: u64 = 32;
/// The lock file of the one process building a collection's graph.
const BUILD_LOCK_FILE: &str = "hnsw.lock";
/// How a query may be answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchOptions {
    /// The beam width for this query (the collection's `ef_search` when `None`).
    pub ef_search: Option<usize>,
    /// Scan every candidate instead of walking the index (exact results, slower on large
    /// collections).
    pub exact: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    state: RwLock<State>,
    /// Held by the one thread linking new nodes.
    building: Mutex<()>,
    /// A background catch-up is queued or running.
    scheduled: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    /// The vector generation the graph is for.
    generation: u64,
    /// Whether the file of `generation` was looked for already.
    opened: bool,
    graph: Option<Hnsw>,
    /// Slots `0..linked` are fully linked into the graph.
    linked: u64,
    /// Slots the file on disk covers.
    saved: u64,
    /// The graph was loaded from the generation's file (then maybe grown), not started here.
    loaded: bool,
    /// Slots this process linked itself since the graph was opened or picked up from a file
    /// (for tests: a graph another process saved is not linked again).
    linked_here: u64,
}

/// Extends a cosine graph's inverse norms to its first `slots` rows (they are saved with it,
/// so a reopen does not read every vector to recompute them).
fn add_norms(
    graph: &mut Hnsw,
    shared: &CollectionShared,
    row: &CollectionRow,
    slots: u64,
) -> Result<()> {
    let Some(dim) = row.dimension else {
        return Ok(());
    };
    if shared.kernel.space() != Space::Cosine || slots <= graph.inv_norms.len() as u64 {
        return Ok(());
    }
    let from = graph.inv_norms.len();
    shared
        .segment
        .with_rows(row.generation, dim, slots, |rows| {
            graph
                .inv_norms
                .par_extend(rows[from * dim..].par_chunks_exact(dim).map(inv_norm));
        })
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}
fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

fn params(config: &HnswConfig) -> HnswParams {
    HnswParams {
        max_neighbors: config.max_neighbors.max(2),
        ef_construction: config.ef_construction,
        ef_search: config.ef_search,
        ..HnswParams::default()
    }
}

impl Collection {
    /// Links what this process's index lacks in a job on the database's scheduler, one job
    /// at a time per collection, reading the collection's state when the job runs. Errors
    /// end the job as failed (listed by `Database::jobs`); the index is derived, and the next
    /// write or query tries again.
    pub(super) fn catch_up_in_background(&self) {
        let index = &self.shared.index;
        if self.db.scheduler.is_closed() || index.scheduled.swap(true, SeqCst) {
            return;
        }
        // Clears `scheduled` when the job ends or is dropped unrun (cancelled before it
        // started, or refused by a closed scheduler), unless another job took it over.
        let mut guard = Scheduled {
            collection: self.clone(),
            armed: true,
        };
        self.db
            .scheduler
            .submit(JobKind::IndexCatchUp, Some(self.shared.uuid), move |ctx| {
                let collection = guard.collection.clone();
                let index = &collection.shared.index;
                loop {
                    let ran = collection.catch_up_now(false, ctx);
                    if ctx.cancelled() || ran.is_err() {
                        return ran.map(|_| ());
                    }
                    index.scheduled.store(false, SeqCst);
                    guard.set_armed(false);
                    // A write that came meanwhile found `scheduled` set and left its records
                    // to this job: look again, unless another job has taken over. When
                    // another thread was building (`Ok(false)`), that thread looks again when
                    // it is done.
                    let lags = matches!(ran, Ok(true)) && collection.index_lags().unwrap_or(false);
                    if !lags || index.scheduled.swap(true, SeqCst) {
                        return Ok(());
                    }
                    guard.set_armed(true);
                }
            });
    }

    /// Links what the index lacks as of now; `wait` says whether to wait for another
    /// thread's build (see `CollectionShared::catch_up`).
    pub(super) fn catch_up_now(&self, wait: bool, ctx: &JobCtx<'_>) -> Result<bool> {
        let row = self.db.sidecar.read(|tx| self.row(tx))?;
        // Rows committed while the pass links `row`'s: their walk copy is encoded between
        // steps, so queries rank them by it (a read error only means none are seen).
        let committed = || {
            self.db
                .sidecar
                .read(|tx| self.row(tx))
                .ok()
                .filter(|now| now.generation == row.generation)
                .map_or(row.slot_count, |now| now.slot_count)
        };
        self.shared.catch_up(
            &row,
            self.index_min_slots(),
            wait,
            (&self.db.scheduler, ctx),
            &committed,
        )
    }

    /// Runs one pass as if it had begun when only `began` slots were committed and rows up to
    /// `committed` came in while it linked, on this thread; returns the slots linked and the
    /// rows of the walk copy (for tests).
    pub(crate) fn catch_up_as_if(&self, began: u64, committed: u64) -> Result<(u64, usize)> {
        let mut row = self.db.sidecar.read(|tx| self.row(tx))?;
        let really = row.slot_count;
        row.slot_count = began.min(really);
        let committed = committed.min(really);
        let ctx = JobCtx::detached();
        self.shared.catch_up(
            &row,
            self.index_min_slots(),
            true,
            (&self.db.scheduler, &ctx),
            &|| committed,
        )?;
        let st = read(&self.shared.index.state);
        Ok((st.linked, st.graph.as_ref().map_or(0, |g| g.walk.len())))
    }

    /// How much of the collection its index covers, in this process and in the saved file.
    pub fn index_coverage(&self) -> Result<crate::types::IndexCoverage> {
        let row = self.db.sidecar.read(|tx| self.row(tx))?;
        let saved = self
            .shared
            .index_path(row.generation)
            .and_then(|p| Hnsw::saved_nodes(&p))
            .unwrap_or(0)
            .min(row.slot_count);
        Ok(crate::types::IndexCoverage {
            slots: row.slot_count,
            linked: self.shared.indexed_slots(row.generation),
            saved,
            exact_only: row.dimension.is_none() || row.slot_count < self.index_min_slots(),
        })
    }

    /// Whether committed records are waiting to be linked into this process's graph.
    pub(super) fn index_lags(&self) -> Result<bool> {
        let row = self.db.sidecar.read(|tx| self.row(tx))?;
        let st = read(&self.shared.index.state);
        let walk_lags = st.graph.as_ref().is_some_and(Hnsw::walk_copy_lags);
        Ok(row.dimension.is_some()
            && row.slot_count >= self.index_min_slots()
            && (st.generation != row.generation || st.linked < row.slot_count || walk_lags))
    }
}

/// A collection's claim on its one background catch-up (`Index::scheduled`).
struct Scheduled {
    collection: Collection,
    armed: bool,
}

impl Scheduled {
    /// Whether dropping this clears `scheduled`.
    fn set_armed(&mut self, armed: bool) {
        self.armed = armed;
    }
}

impl Drop for Scheduled {
    fn drop(&mut self) {
        if self.armed {
            self.collection.shared.index.scheduled.store(false, SeqCst);
        }
    }
}

impl CollectionShared {
    /// The file holding the graph of `generation`, for collections on disk.
    fn index_path(&self, generation: u64) -> Option<PathBuf> {
        self.segment.dir().map(|d| index_file(d, generation))
    }

    /// Slots the graph has linked (0 without a graph), for stats.
    pub(crate) fn indexed_slots(&self, generation: u64) -> u64 {
        let st = read(&self.index.state);
        if st.generation == generation && st.graph.is_some() {
            st.linked
        } else {
            0
        }
    }

    /// Whether this process holds a graph for `generation` that it loaded from the file
    /// rather than built (for tests: a golden file must be used, not rebuilt).
    pub(crate) fn index_loaded_from_file(&self, generation: u64) -> bool {
        let st = read(&self.index.state);
        st.generation == generation && st.graph.is_some() && st.loaded
    }

    /// Links every committed slot of `row` into the graph (loading the saved graph first,
    /// or starting one for a new generation), in steps of [`LINK_STEP`] slots on the
    /// scheduler's pool, then saves it when `sync_threshold` slots or more are not on disk
    /// yet. A collection below `min_slots` gets no graph. Stops between two steps when `ctx`
    /// is cancelled (what is linked so far is published and kept).
    ///
    /// With `wait` false, returns `Ok(false)` at once when another thread is building: a
    /// worker must never block on that lock, or the build it waits for loses a worker.
    ///
    /// Before each step the walk copy is extended to the slots `committed()` says are
    /// committed now (of `row`'s generation): rows written during the pass are linked by the
    /// next pass, but queries meanwhile rank them by the copy instead of scanning their f32
    /// rows.
    pub(crate) fn catch_up(
        &self,
        row: &CollectionRow,
        min_slots: u64,
        wait: bool,
        (scheduler, ctx): (&Scheduler, &JobCtx<'_>),
        committed: &(dyn Fn() -> u64 + Sync),
    ) -> Result<bool> {
        let Some(dim) = row.dimension else {
            return Ok(true);
        };
        if row.slot_count < min_slots {
            return Ok(true);
        }
        let index = &self.index;
        let wait = wait && may_block_here();
        let Some(_building) = self.lock_building(wait) else {
            return Ok(false);
        };
        self.open_locked(row);
        let Some(_build_lock) = self.build_lock(wait) else {
            return Ok(false);
        };
        self.adopt_saved(row);
        let (from, to) = {
            let mut st = write(&index.state);
            let walk_done = st.graph.as_ref().is_some_and(|g| !g.walk_copy_lags());
            if st.linked >= row.slot_count && walk_done {
                return Ok(true);
            }
            if st.graph.is_none() {
                st.graph = Some(Hnsw::new(row.config.hnsw.space, params(&row.config.hnsw))?);
            }
            (st.linked, row.slot_count.max(st.linked))
        };
        if from >= to {
            ctx.set_kind(JobKind::WalkCopyEncode);
        }
        ctx.add_total(to - from);
        scheduler.install(|| {
            // The walk's copy first, so the new nodes are linked through it too.
            let share = Share::around(scheduler.foreground());
            if !self.encode_walk_copy(row, dim, to, (ctx, share))? {
                return Ok(());
            }
            let mut at = from;
            let mut steps = 0;
            while at < to {
                if ctx.cancelled() {
                    return Ok(());
                }
                if !self.encode_walk_copy(row, dim, committed(), (ctx, share))? {
                    return Ok(());
                }
                let end = to.min(at + LINK_STEP);
                self.link_step(row, dim, at..end, share)?;
                ctx.advance(end - at);
                at = end;
                steps += 1;
                if steps % SAVE_EVERY_STEPS == 0 && at < to && self.unsaved(row) {
                    self.save_index();
                }
            }
            Ok::<_, crate::error::Error>(())
        })?;
        let mut st = write(&index.state);
        if st.linked == to
            && let Some(g) = &mut st.graph
        {
            g.set_watermark(row.seq);
        }
        drop(st);
        if self.unsaved(row) {
            scheduler.run_inline(JobKind::GraphSave, Some(self.uuid), |ctx| {
                ctx.add_total(1);
                self.save_index();
                ctx.advance(1);
                Ok(())
            });
        }
        Ok(true)
    }

    /// One step of a build: allocates the nodes of `slots` and their norms (write lock),
    /// links them (read lock: queries go on), publishes them (write lock). The caller holds
    /// `building`.
    fn link_step(
        &self,
        row: &CollectionRow,
        dim: usize,
        slots: std::ops::Range<u64>,
        share: Share<'_>,
    ) -> Result<()> {
        let index = &self.index;
        {
            let mut st = write(&index.state);
            if let Some(graph) = &mut st.graph {
                graph.grow(slots.end as u32)?;
                add_norms(graph, self, row, slots.end)?;
            }
        }
        {
            let st = read(&index.state);
            if let Some(graph) = &st.graph {
                self.segment
                    .with_rows(row.generation, dim, slots.end, |rows| {
                        let rows = HnswRows {
                            kernel: self.kernel,
                            data: rows,
                            dim,
                            inv_norms: norms(graph),
                            coded: None,
                        };
                        graph.link(rows, slots.start as u32..slots.end as u32, share);
                    })?;
            }
        }
        let mut st = write(&index.state);
        st.linked_here += slots.end - slots.start;
        st.linked = slots.end;
        if let Some(g) = &mut st.graph {
            g.publish();
        }
        Ok(())
    }

    /// Whether `sync_threshold` linked slots or more are not in the file yet.
    fn unsaved(&self, row: &CollectionRow) -> bool {
        let st = read(&self.index.state);
        st.linked - st.saved >= row.config.hnsw.sync_threshold as u64
    }

    /// The directory-wide build lock: `Some` when this process may build (holding the lock
    /// file, or with no file to lock: memory, a read-only directory), `None` when another
    /// process holds it and `wait` is false. With `wait`, blocks until it is free.
    fn build_lock(&self, wait: bool) -> Option<Option<std::fs::File>> {
        let Some(dir) = self.segment.dir() else {
            return Some(None);
        };
        let file = match std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(BUILD_LOCK_FILE))
        {
            Ok(f) => f,
            Err(_) => return Some(None),
        };
        if wait {
            return Some(file.lock().is_ok().then_some(file));
        }
        match file.try_lock() {
            Ok(()) => Some(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => None,
            Err(std::fs::TryLockError::Error(_)) => Some(None),
        }
    }

    /// Takes the saved graph file in place of this process's graph when the file covers
    /// more slots (another process built them): only the rest is then linked here. The
    /// caller holds `building` and the build lock.
    fn adopt_saved(&self, row: &CollectionRow) {
        let Some(path) = self.index_path(row.generation) else {
            return;
        };
        let on_disk = Hnsw::saved_nodes(&path).unwrap_or(0);
        let here = read(&self.index.state).linked;
        if on_disk > here && on_disk <= row.slot_count {
            write(&self.index.state).opened = false;
            self.open_locked(row);
        }
    }

    /// Slots this process linked itself (not loaded from a file), for tests.
    pub(crate) fn linked_here(&self) -> u64 {
        read(&self.index.state).linked_here
    }

    /// Extends the graph's 8-bit copy of the rows to the first `to` slots (a no-op when it
    /// covers them): the new rows of a build, rows committed while a pass links (encoded
    /// between its steps), or every row of a graph just loaded from its file (which walks the
    /// f32 rows until this is done). Encoded in chunks outside the state lock, each appended
    /// under it, so queries wait for a copy of memory, never for the encoding; the rows are
    /// added to `ctx`'s total as it learns of them, and encoded on the workers `share` gives.
    /// The caller holds `building`. Returns `false` when `ctx` was cancelled first.
    fn encode_walk_copy(
        &self,
        row: &CollectionRow,
        dim: usize,
        to: u64,
        (ctx, share): (&JobCtx<'_>, Share<'_>),
    ) -> Result<bool> {
        /// Rows encoded per chunk: 12 MB of f32 rows at 384 floats.
        const CHUNK: u64 = 8192;
        let mut have = match &read(&self.index.state).graph {
            Some(g) => g.walk.len() as u64,
            None => return Ok(true),
        };
        ctx.add_total(to.saturating_sub(have));
        if have < to
            && let Some(g) = &mut write(&self.index.state).graph
        {
            g.walk.reserve_rows(dim, to as usize);
        }
        while have < to {
            if ctx.cancelled() {
                return Ok(false);
            }
            let end = to.min(have + CHUNK);
            let more = self.segment.with_rows(row.generation, dim, end, |rows| {
                let rows = &rows[have as usize * dim..end as usize * dim];
                WalkCopy::encode(rows, dim, self.kernel.space(), share)
            })?;
            if let Some(g) = &mut write(&self.index.state).graph {
                g.walk.append(more);
            }
            ctx.advance(end - have);
            have = end;
        }
        Ok(true)
    }

    /// Makes the state about `row`'s generation, loading its saved graph the first time.
    /// The file is read and checked outside the state's lock (queries go on meanwhile); the
    /// lock is taken only to put the result in. The caller holds `building`.
    fn open_locked(&self, row: &CollectionRow) {
        let stale = {
            let st = read(&self.index.state);
            st.generation != row.generation || !st.opened
        };
        if !stale {
            return;
        }
        // A graph saved without its norms (or a file that lost them) gets them here.
        let loaded = self.load_index(row).and_then(|mut g| {
            let n = g.len() as u64;
            add_norms(&mut g, self, row, n).ok().map(|()| (g, n))
        });
        let mut st = write(&self.index.state);
        *st = State {
            generation: row.generation,
            opened: true,
            ..State::default()
        };
        if let Some((g, n)) = loaded {
            st.linked = n;
            st.saved = n;
            st.graph = Some(g);
            st.loaded = true;
        }
    }

    /// The saved graph of `row`'s generation, if there is one that fits: same space and build
    /// parameters, no more nodes than committed slots. Anything else is ignored (rebuilt).
    fn load_index(&self, row: &CollectionRow) -> Option<Hnsw> {
        let path = self.index_path(row.generation)?;
        if !path.exists() {
            return None;
        }
        let mut g = Hnsw::load(&path, row.config.hnsw.space).ok()?;
        let want = params(&row.config.hnsw);
        let have = g.params();
        let fits = have.max_neighbors == want.max_neighbors
            && have.ef_construction == want.ef_construction
            && g.len() as u64 <= row.slot_count;
        if !fits {
            return None;
        }
        g.set_ef_search(want.ef_search);
        Some(g)
    }

    /// Writes the graph to its file, under the state's read lock (queries go on; the caller
    /// holds `building`, so nothing changes the graph meanwhile). A failure (a full disk,
    /// say) is not the write's failure: the records are committed and the graph is derived,
    /// so it stays in memory and is saved again later.
    fn save_index(&self) {
        let saved = {
            let st = read(&self.index.state);
            let (Some(graph), Some(path)) = (&st.graph, self.index_path(st.generation)) else {
                return;
            };
            if st.linked <= st.saved || graph.save(&path).is_err() {
                return;
            }
            (st.generation, st.linked)
        };
        let mut st = write(&self.index.state);
        if st.generation == saved.0 {
            st.saved = saved.1;
        }
    }

    /// Saves whatever the file lacks (at close, and when the last handle in the process goes
    /// away).
    pub(crate) fn flush_index(&self) {
        // On a pool thread, not waiting for a builder: a build saves what it linked when it
        // ends.
        if let Some(_building) = self.lock_building(may_block_here()) {
            self.save_index();
        }
    }

    /// The one-builder lock: waited for when `wait`, else `None` while another thread holds
    /// it (a poisoned lock is taken: the graph state it guards is checked on every load).
    fn lock_building(&self, wait: bool) -> Option<MutexGuard<'_, ()>> {
        if wait {
            return Some(
                self.index
                    .building
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()),
            );
        }
        match self.index.building.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// This process's graph of `row`'s generation as a query sees it (none below `min_slots`
    /// slots). The first query of a generation maps the saved graph, unless a writer is busy
    /// with the index (then this query does not wait for it).
    pub(crate) fn index_view(&self, row: &CollectionRow, min_slots: u64) -> IndexView<'_> {
        if row.dimension.is_none() || row.slot_count < min_slots {
            return IndexView(None);
        }
        let stale = {
            let st = read(&self.index.state);
            st.generation != row.generation || !st.opened
        };
        if stale && let Ok(_building) = self.index.building.try_lock() {
            self.open_locked(row);
        }
        let st = read(&self.index.state);
        IndexView((st.graph.is_some() && st.generation == row.generation).then_some(st))
    }

    /// The `k` nearest hits per query (`dim` floats each) through `graph` at the plan's beam
    /// width, merged with an exact scan of the slots it has not linked (`plan.index`) on
    /// `threads`. `allowed` holds the candidate slots of a filter (sorted), the walk's
    /// allow-list.
    pub(crate) fn walk(
        &self,
        graph: &Hnsw,
        row: &CollectionRow,
        live: &LiveSlots,
        (queries, dim): (&[f32], usize),
        (plan, allowed): (&Plan, Option<&[u64]>),
        threads: Threads,
    ) -> Result<Vec<Vec<Hit>>> {
        // (A plan walks only with a graph, so `index` is there; without it the whole tail
        // would be scanned, still the right answer.)
        let linked = plan.index.map_or(0, |c| c.linked);
        let k = plan.k;
        // The graph may have grown past this snapshot (a later write): map what it covers.
        // Those rows are committed; `ords` stops at the snapshot, so they are never returned.
        let mapped = row.slot_count.max(graph.len() as u64);
        let bitmap = allowed.map(|a| slot_bitmap(a, mapped));
        // No widening for filters: the walk goes on until it holds `ef` allowed results, so
        // a selective filter makes it visit more nodes by itself.
        let ef = plan.ef;
        self.segment.with_rows(row.generation, dim, mapped, |rows| {
            let scan = Scan {
                kernel: self.kernel,
                rows,
                dim,
                ords: &live.ords,
                dead: DEAD,
                live: Some(&live.live_bits),
            };
            // One walk per query; a batch spreads its queries over the query pool's threads
            // (a walk is one thread's work, so a batch would otherwise keep one core busy).
            let one = |q: &[f32]| {
                let allow_fn = bitmap.as_ref().map(|b| {
                    move |slot: u32| {
                        b.get(slot as usize / 64)
                            .is_some_and(|w| w >> (slot % 64) & 1 == 1)
                    }
                });
                let allow: Option<&dyn Fn(u32) -> bool> =
                    allow_fn.as_ref().map(|f| f as &dyn Fn(u32) -> bool);
                // The graph reports the exact kernel's distances, as an exact scan would.
                graph.search(&scan, q, k, Some(ef), allow, norms(graph))
            };
            let mut per_query: Vec<Vec<Hit>> = if queries.len() > dim {
                queries.par_chunks_exact(dim).map(one).collect()
            } else {
                queries.chunks_exact(dim).map(one).collect()
            };
            if linked < row.slot_count {
                let tail = Tail {
                    scan: Scan {
                        rows: &rows[..row.slot_count as usize * dim],
                        ..scan
                    },
                    from: linked,
                    allowed,
                };
                let keep = (k * TAIL_SHORTLIST_PER_HIT).max(ef);
                let more = tail.search(graph, (queries, k), keep, threads);
                for (hits, more) in per_query.iter_mut().zip(more) {
                    merge_hits(hits, more, k);
                }
            }
            per_query
        })
    }
}

/// The slots a graph has not linked, from `from` on (those of `allowed` only, when set),
/// searched exactly beside the walk.
struct Tail<'a> {
    /// The committed rows.
    scan: Scan<'a>,
    from: u64,
    allowed: Option<&'a [u64]>,
}

impl Tail<'_> {
    /// The `k` nearest of the tail per query. The part the graph's 8-bit copy covers, when
    /// long, is ranked by the copy (a quarter of the bytes) and its `keep` best re-ranked
    /// exactly; the rest (rows committed since the builder last encoded, or a short tail,
    /// where the shortlist's bookkeeping costs more than it saves) is scanned exactly.
    fn search(
        &self,
        graph: &Hnsw,
        (queries, k): (&[f32], usize),
        keep: usize,
        threads: Threads,
    ) -> Vec<Vec<Hit>> {
        let dim = self.scan.dim;
        let slots = (self.scan.rows.len() / dim) as u64;
        let covered = (graph.walk.len() as u64).clamp(self.from, slots);
        let (coded, exact) = match self.allowed {
            Some(a) => {
                let past = &a[a.partition_point(|&s| s < self.from)..];
                let (coded, exact) = past.split_at(past.partition_point(|&s| s < covered));
                let len = coded.len() as u64;
                let exact = (!exact.is_empty()).then_some(Candidates::Slots(exact));
                ((len, Candidates::Slots(coded)), exact)
            }
            None => {
                let exact = (covered < slots).then_some(Candidates::Tail(covered));
                ((covered - self.from, Candidates::Tail(self.from)), exact)
            }
        };
        let coded_scan = Scan {
            rows: &self.scan.rows[..covered as usize * dim],
            ..self.scan
        };
        let ranker = (coded.0 >= CODED_TAIL_MIN)
            .then(|| graph.coded_ranker(&coded_scan))
            .flatten();
        let Some(ranker) = ranker else {
            let all = match self.allowed {
                Some(a) => Candidates::Slots(&a[a.partition_point(|&s| s < self.from)..]),
                None => Candidates::Tail(self.from),
            };
            return exact_search(&self.scan, queries, k, all, threads);
        };
        let mut hits = shortlist_search(&coded_scan, &ranker, (queries, k), keep, coded.1, threads);
        if let Some(rest) = exact {
            let more = exact_search(&self.scan, queries, k, rest, threads);
            for (hits, more) in hits.iter_mut().zip(more) {
                merge_hits(hits, more, k);
            }
        }
        hits
    }
}

/// Whether this thread may block on the builder's lock: not a thread of a rayon pool (the
/// scheduler's). While a builder's parallel step waits for its pieces, rayon has the waiting
/// thread run other queued work, so a pool thread blocked on the lock may be the builder
/// itself, or hold a piece it waits for, and both would wait forever (`wait_for_index` hung
/// the peers run this way once the pool had two threads). Waiting callers are foreground
/// threads.
fn may_block_here() -> bool {
    rayon::current_thread_index().is_none()
}

/// Unlinked rows from which a query ranks the tail by the graph's 8-bit copy rather than the
/// f32 rows: 8,192 rows of 384 floats are 12 MB, about a millisecond of one core's scan.
const CODED_TAIL_MIN: u64 = 8192;
/// Shortlist per result kept from the 8-bit ranking of the tail for the exact re-rank (at
/// least `ef` in all, as the walk re-ranks its beam).
const TAIL_SHORTLIST_PER_HIT: usize = 4;

/// This process's graph of one generation, held under the index's read lock while a query
/// plans and walks (`None`: no graph of that generation).
pub(crate) struct IndexView<'a>(Option<RwLockReadGuard<'a, State>>);

impl IndexView<'_> {
    /// No graph.
    pub(crate) fn none() -> Self {
        IndexView(None)
    }

    /// What the planner needs to know about the graph.
    pub(crate) fn figures(&self) -> Option<IndexFigures> {
        let st = self.0.as_ref()?;
        let graph = st.graph.as_ref()?;
        Some(IndexFigures {
            linked: st.linked,
            walk_copy_lags: graph.walk_copy_lags(),
        })
    }

    /// The graph.
    pub(crate) fn graph(&self) -> Option<&Hnsw> {
        self.0.as_ref()?.graph.as_ref()
    }
}

/// The cached inverse norms of a cosine graph.
fn norms(graph: &Hnsw) -> Option<&[f32]> {
    (graph.inv_norms.len() == graph.len()).then_some(graph.inv_norms.as_slice())
}

/// Adds `more` to `hits` (both nearest first), keeping the `k` nearest distinct slots.
fn merge_hits(hits: &mut Vec<Hit>, more: Vec<Hit>, k: usize) {
    hits.extend(more);
    hits.sort_unstable();
    let mut seen = std::collections::HashSet::with_capacity(hits.len());
    hits.retain(|h| seen.insert(h.slot));
    hits.truncate(k);
}

/// One bit per slot below `slots`, set for the sorted `allowed` ones.
fn slot_bitmap(allowed: &[u64], slots: u64) -> Vec<u64> {
    let mut bits = vec![0u64; slots.div_ceil(64) as usize];
    for &s in allowed {
        if let Some(w) = bits.get_mut((s / 64) as usize) {
            *w |= 1 << (s % 64);
        }
    }
    bits
}

/// `dir/hnsw.<generation>.bin`.
pub(crate) fn index_file(dir: &std::path::Path, generation: u64) -> PathBuf {
    dir.join(format!("hnsw.{generation}.bin"))
}

#[cfg(test)]
mod tests;
