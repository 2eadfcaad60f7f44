//! Crash consistency: a writer process killed with SIGKILL at a random moment loses no
//! acknowledged write and leaves no half-applied one (style habit 9; modelled on qdrant's
//! `lib/wal/tests/process_crash.rs`).
//!
//! The test re-runs this test binary as a child (`crash::child_writer`, a no-op unless
//! `MNEMODB_CRASH_CHILD` is set). The child writes forever: adds, upserts, updates, deletes and
//! compactions. It prints `@begin <n> <op>` before each call and `@ack <n>` once the call
//! returned `Ok`; the ids and a version number in `<op>` determine every vector, document and
//! metadata value, so the parent can replay the acknowledged calls on an in-memory model. The
//! parent kills the child at a random moment (during start-up and recovery, a few ms to 200 ms
//! after it started writing, or after a random number of acknowledged calls), reopens the
//! directory and compares: the database must pass `check()`, hold exactly the model (ids in
//! insertion order, vectors, documents, metadata), and answer queries. The one call begun but
//! not acknowledged may be wholly present or wholly absent, never partly. The next iteration
//! starts a new child on the same directory, so recovery is exercised again and again; now
//! and then the parent skips a check so that the *child* is the one recovering.
//!
//! `cargo test` runs a few iterations; a soak run (a few seconds per 10 iterations):
//! ```text
//! MNEMODB_CRASH_ITERATIONS=300 cargo test -p mnemodb --release --test it crash
//! ```
//! `MNEMODB_CRASH_SEED=<seed>` (printed at the start and in any failure) replays the same
//! random choices; the kill timing relative to the writes still varies from run to run.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use mnemodb::{
    AddBatch, Collection, CollectionConfig, Database, GetRequest, Include, Metadata, MetadataPatch,
    MetadataValue, QueryRequest, Space, UpdateBatch, Vectors,
};

use crate::support::{
    ChildEvent, ChildProcess, Rng, emit, forward_lines, seed_from_env, vector_for,
};

const COLLECTION: &str = "crash";
const DIM: usize = 8;
/// The child's database directory; its presence is what turns `child_writer` on.
const CHILD_DIR_ENV: &str = "MNEMODB_CRASH_CHILD";
const CHILD_SEED_ENV: &str = "MNEMODB_CRASH_CHILD_SEED";
/// The iteration number, which keeps each child's fresh ids and versions distinct.
const CHILD_TAG_ENV: &str = "MNEMODB_CRASH_CHILD_TAG";
const DEFAULT_ITERATIONS: u64 = 12;
/// Versions are `tag * VERSIONS_PER_CHILD + call number`, unique across children.
const VERSIONS_PER_CHILD: u64 = 1_000_000;
/// Above this many records the child deletes more than it adds, so a long soak run keeps the
/// collection (and each check) small.
const TARGET_RECORDS: usize = 1000;
/// A child that neither gets ready nor acknowledges anything for this long is stuck.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn kill_writer_repeatedly() {
    let iterations = std::env::var("MNEMODB_CRASH_ITERATIONS").map_or(DEFAULT_ITERATIONS, |s| {
        s.parse().expect("MNEMODB_CRASH_ITERATIONS: a number")
    });
    let seed = seed_from_env("MNEMODB_CRASH_SEED");
    println!("crash test: seed {seed}, {iterations} iterations (MNEMODB_CRASH_SEED replays)");
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut run = CrashRun::new(tmp.path(), seed);
    match run.run(iterations) {
        Ok(()) => println!("crash test: {} in {:.1?}", run.stats, started.elapsed()),
        Err(msg) => {
            let kept = tmp.keep();
            panic!(
                "{msg}\nseed {seed}; {}; the database is kept in {}",
                run.stats,
                kept.display()
            );
        }
    }
}

#[test]
#[ignore = "child process of crash::kill_writer_repeatedly; a no-op unless MNEMODB_CRASH_CHILD is set"]
fn child_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        return;
    };
    let seed: u64 = std::env::var(CHILD_SEED_ENV).unwrap().parse().unwrap();
    let tag: u64 = std::env::var(CHILD_TAG_ENV).unwrap().parse().unwrap();
    crate::support::exit_when_stdin_closes();
    let db = Database::open(&dir).expect("child: open the database");
    mnemodb::testing::set_index_min_slots(&db, 1);
    let c = db
        .get_collection(COLLECTION)
        .expect("child: the collection");
    let mut pool = IdPool::new(crate::support::all_ids(&c));
    emit("@ready");
    let mut rng = Rng::new(seed);
    let mut fresh = 0;
    let mut background = None;
    for n in 1..VERSIONS_PER_CHILD {
        let op = next_op(
            &mut rng,
            &pool,
            tag,
            tag * VERSIONS_PER_CHILD + n,
            &mut fresh,
        );
        let text = op.encode();
        if matches!(op, Op::Compact) && rng.chance(1, 2) {
            // A compaction in the background: the calls that follow run while it copies and
            // commits, and `KillPlan::InCompaction` kills somewhere in it. It changes no
            // record, so the parent's model needs no line for it.
            let _ = background.insert(c.compact());
            emit("@compacting");
            continue;
        }
        emit(&format!("@begin {n} {text}"));
        execute(&c, &op).unwrap_or_else(|e| panic!("child: call {n} ({text}) failed: {e}"));
        emit(&format!("@ack {n}"));
        pool.apply(&op);
    }
}

mod child;
mod model;
mod ops;

use child::*;
use model::*;
use ops::*;

/// When the parent kills the child.
#[derive(Debug, Clone, Copy)]
enum KillPlan {
    /// This long after the spawn: often during start-up or recovery.
    SinceSpawn(Duration),
    /// This long after the child opened the database and started writing.
    SinceReady(Duration),
    /// As soon as this many calls were acknowledged (the next one is usually in flight).
    AtAck(u64),
    /// This long after the child started a background compaction (while it copies, catches
    /// up or commits, with writes going on).
    InCompaction(Duration),
}

impl KillPlan {
    fn choose(rng: &mut Rng) -> KillPlan {
        match rng.below(8) {
            0 => KillPlan::SinceSpawn(Duration::from_millis(rng.range(0, 60))),
            1 | 2 => KillPlan::AtAck(rng.range(1, 60)),
            3 | 4 => KillPlan::InCompaction(Duration::from_micros(rng.range(0, 3000))),
            _ => KillPlan::SinceReady(Duration::from_millis(rng.range(2, 200))),
        }
    }
}

/// Figures for the final report line.
#[derive(Debug, Default)]
struct Stats {
    iterations: u64,
    verified: u64,
    acked: u64,
    killed_in_flight: u64,
    in_flight_applied: u64,
    in_flight_absent: u64,
    max_records: usize,
    killed_in_compaction: u64,
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} iterations ({} checked), {} acknowledged calls, {} kills with a call in flight \
             (checks found it applied {} times, absent {} times), up to {} records, {} kills \
             timed from a background compaction's start",
            self.iterations,
            self.verified,
            self.acked,
            self.killed_in_flight,
            self.in_flight_applied,
            self.in_flight_absent,
            self.max_records,
            self.killed_in_compaction
        )
    }
}

struct CrashRun {
    tmp: PathBuf,
    db_dir: PathBuf,
    rng: Rng,
    /// The states the database may be in: one, or more while an unacknowledged call (or an
    /// unchecked iteration) leaves a choice; each check keeps the one found.
    candidates: Vec<Model>,
    stats: Stats,
}

impl CrashRun {
    fn new(tmp: &Path, seed: u64) -> CrashRun {
        CrashRun {
            tmp: tmp.to_owned(),
            db_dir: tmp.join("db"),
            rng: Rng::new(seed),
            candidates: vec![Model::default()],
            stats: Stats::default(),
        }
    }

    fn run(&mut self, iterations: u64) -> Result<(), String> {
        let db = Database::open(&self.db_dir).map_err(|e| e.to_string())?;
        // The graph is built from the first record on and saved after every write, so kills
        // land in index builds and index saves too.
        let mut config = CollectionConfig::with_space(Space::L2);
        config.hnsw.sync_threshold = 2;
        db.create_collection(COLLECTION, config, None)
            .map_err(|e| e.to_string())?;
        drop(db);
        let mut checked_last = true;
        for i in 1..=iterations {
            self.kill_one_child(i)?;
            self.stats.iterations += 1;
            // Skip a check now and then (never twice in a row, never at the end): the next
            // child then opens a directory nobody recovered since the kill.
            let check = i == iterations || !checked_last || !self.rng.chance(1, 4);
            if check {
                self.verify(i)?;
                self.stats.verified += 1;
            }
            checked_last = check;
        }
        Ok(())
    }

    /// Runs one child, kills it, and folds what it acknowledged into the candidates.
    fn kill_one_child(&mut self, i: u64) -> Result<(), String> {
        let plan = KillPlan::choose(&mut self.rng);
        let envs = [
            (CHILD_DIR_ENV, self.db_dir.display().to_string()),
            (CHILD_SEED_ENV, self.rng.next_u64().to_string()),
            (CHILD_TAG_ENV, i.to_string()),
        ];
        let stderr = self.tmp.join(format!("child-{i}.stderr"));
        let mut child = ChildProcess::spawn("crash::child_writer", &envs, &stderr);
        let (tx, rx) = mpsc::channel();
        let reader = forward_lines(0, child.take_stdout(), tx);
        let mut deadline = match plan {
            KillPlan::SinceSpawn(d) => Some(Instant::now() + d),
            _ => None,
        };
        let mut lines: Vec<(String, bool)> = Vec::new();
        let mut acks = 0;
        let give_up = Instant::now() + PROGRESS_TIMEOUT;
        loop {
            // Checked before receiving: a busy child always has a line waiting, so a timeout
            // alone would never fire.
            let now = Instant::now();
            match deadline {
                Some(d) if now >= d => break,
                _ if now >= give_up => {
                    return Err(format!(
                        "iteration {i}: the child did not reach its kill point ({plan:?}) in \
                         {PROGRESS_TIMEOUT:?}; its stderr:\n{}",
                        child.stderr_text()
                    ));
                }
                _ => {}
            }
            match rx.recv_timeout(deadline.unwrap_or(give_up).min(give_up) - now) {
                Ok(ChildEvent::Line { text, complete, .. }) => {
                    let ready = complete && text == "@ready";
                    let compacting = complete && text == "@compacting";
                    let acked = complete && text.starts_with("@ack ");
                    lines.push((text, complete));
                    if let (true, KillPlan::SinceReady(d)) = (ready, plan) {
                        deadline = Some(Instant::now() + d);
                    }
                    if let (true, KillPlan::InCompaction(d), None) = (compacting, plan, deadline) {
                        self.stats.killed_in_compaction += 1;
                        deadline = Some(Instant::now() + d);
                    }
                    acks += u64::from(acked);
                    if matches!(plan, KillPlan::AtAck(k) if acks >= k) {
                        break;
                    }
                }
                Ok(ChildEvent::Eof { .. }) | Err(RecvTimeoutError::Disconnected) => {
                    let status = child.wait();
                    return Err(format!(
                        "iteration {i}: the child exited on its own ({status}) before the kill; \
                         its stderr:\n{}",
                        child.stderr_text()
                    ));
                }
                // Deadlines are checked at the top of the loop.
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        let status = child.kill();
        // The pipe closes with the child: the reader forwards what was left, then stops.
        for event in rx.iter() {
            if let ChildEvent::Line { text, complete, .. } = event {
                lines.push((text, complete));
            }
        }
        reader
            .join()
            .map_err(|_| "the stdout reader thread panicked".to_owned())?;
        use std::os::unix::process::ExitStatusExt;
        if status.signal() != Some(9) {
            return Err(format!(
                "iteration {i}: the child ended with {status}, not by our SIGKILL; its stderr:\n{}",
                child.stderr_text()
            ));
        }
        self.replay(i, &lines)
    }

    /// Applies the acknowledged calls to every candidate; a call begun but not acknowledged
    /// doubles the candidates (applied or not).
    fn replay(&mut self, i: u64, lines: &[(String, bool)]) -> Result<(), String> {
        let mut in_flight: Option<(u64, Op)> = None;
        // A line cut short by the kill is ignored: a cut `@begin` means the call never started
        // (the line is written out before the call), a cut `@ack` leaves the call in flight.
        for (text, _) in lines.iter().filter(|(_, complete)| *complete) {
            let bad = || format!("iteration {i}: unexpected line {text:?} from the child");
            if let Some(rest) = text.strip_prefix("@begin ") {
                let (n, op) = rest.split_once(' ').ok_or_else(bad)?;
                let op = Op::decode(op).ok_or_else(bad)?;
                if in_flight.is_some() {
                    return Err(bad());
                }
                in_flight = Some((n.parse().map_err(|_| bad())?, op));
            } else if let Some(n) = text.strip_prefix("@ack ") {
                let (begun, op) = in_flight.take().ok_or_else(bad)?;
                if n.parse::<u64>().ok() != Some(begun) {
                    return Err(bad());
                }
                self.candidates.iter_mut().for_each(|m| m.apply(&op));
                self.stats.acked += 1;
            }
        }
        if let Some((_, op)) = in_flight {
            self.stats.killed_in_flight += 1;
            let applied: Vec<Model> = self
                .candidates
                .iter()
                .map(|m| {
                    let mut m = m.clone();
                    m.apply(&op);
                    m
                })
                .collect();
            for m in applied {
                if !self.candidates.contains(&m) {
                    self.candidates.push(m);
                }
            }
        }
        Ok(())
    }

    /// Reopens the directory (recovering) and checks it against the candidates.
    fn verify(&mut self, i: u64) -> Result<(), String> {
        let fail = |what: String| format!("iteration {i}: {what}");
        let db = Database::open(&self.db_dir).map_err(|e| fail(format!("open failed: {e}")))?;
        mnemodb::testing::set_index_min_slots(&db, 1);
        let report = db.check().map_err(|e| fail(format!("check failed: {e}")))?;
        if !report.is_ok() {
            return Err(fail(format!("check found problems: {:?}", report.problems)));
        }
        let c = db
            .get_collection(COLLECTION)
            .map_err(|e| fail(e.to_string()))?;
        let actual = Model::read(&c).map_err(fail)?;
        let Some(found) = self.candidates.iter().position(|m| *m == actual) else {
            let diffs: Vec<String> = self
                .candidates
                .iter()
                .enumerate()
                .map(|(k, m)| format!("  candidate {k}: {}", m.difference(&actual)))
                .collect();
            return Err(fail(format!(
                "the database matches none of the {} acceptable states:\n{}",
                self.candidates.len(),
                diffs.join("\n")
            )));
        };
        if self.candidates.len() == 2 {
            // Candidates are [without, with] the call in flight at the kill.
            if found == 0 {
                self.stats.in_flight_absent += 1;
            } else {
                self.stats.in_flight_applied += 1;
            }
        }
        self.candidates = vec![actual];
        let model = &self.candidates[0];
        self.stats.max_records = self.stats.max_records.max(model.order.len());
        let count = c.count().map_err(|e| fail(e.to_string()))?;
        if count != model.order.len() as u64 {
            return Err(fail(format!(
                "count() says {count}, get returned {}",
                model.order.len()
            )));
        }
        check_queries(&c, model, &mut self.rng).map_err(fail)?;
        // Recovery also removes the files of older generations (left by a compaction killed
        // after its commit) and saves of derived files cut short: at most one vector file,
        // and the index and live-slots files of the same generation.
        let cdir = self.db_dir.join("collections").join(c.id().to_string());
        // Queries may have started a background index catch-up, which saves the graph:
        // finish it first (it takes the same build lock), so the listing is stable.
        c.catch_up_index().map_err(|e| fail(e.to_string()))?;
        let names: Vec<String> = std::fs::read_dir(&cdir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let vectors: Vec<&String> = names.iter().filter(|n| n.starts_with("vectors.")).collect();
        let generation_of = |n: &str| n.split('.').nth(1).map(str::to_owned);
        // `hnsw.lock` and `compact.lock` are the files of no generation: the directory-wide
        // build and compaction locks.
        let stray = names.iter().any(|n| {
            !(n.starts_with("vectors.") && n.ends_with(".f32")
                || n == "hnsw.lock"
                || n == "compact.lock"
                || (n.starts_with("hnsw.") || n.starts_with("live."))
                    && n.ends_with(".bin")
                    && vectors.first().map(|v| generation_of(v)) == Some(generation_of(n)))
        });
        let files = names.len();
        if vectors.len() > 1 || stray {
            return Err(fail(format!(
                "{names:?}: {} files in {} after recovery",
                files,
                cdir.display()
            )));
        }
        Ok(())
    }
}

/// Each sampled record is its own nearest neighbour at distance 0, and a query asking for
/// more than everything returns exactly the stored ids (the scan sees every live slot).
fn check_queries(c: &Collection, model: &Model, rng: &mut Rng) -> Result<(), String> {
    if model.order.is_empty() {
        return Ok(());
    }
    let query = |embeddings: &[f32], n_results| {
        let include = Include {
            distances: true,
            ..Include::default()
        };
        c.query(QueryRequest {
            embeddings,
            dim: DIM,
            n_results,
            ids: None,
            include,
        })
        .map_err(|e| format!("query failed: {e}"))
        .map(|mut hits| hits.remove(0))
    };
    for _ in 0..16 {
        let id = &model.order[rng.below(model.order.len() as u64) as usize];
        let hits = query(&model.records[id].embedding, 1)?;
        let distance = hits.distances.as_ref().and_then(|d| d.first().copied());
        if hits.ids.first() != Some(id) || distance != Some(0.0) {
            return Err(format!(
                "the nearest neighbour of {id:?}'s own vector is {:?} at {distance:?}",
                hits.ids.first()
            ));
        }
    }
    let probe = vector_for("probe", rng.next_u64(), DIM);
    let hits = query(&probe, model.order.len() + 3)?;
    let got: HashSet<&String> = hits.ids.iter().collect();
    if hits.ids.len() != model.order.len() || model.order.iter().any(|id| !got.contains(id)) {
        return Err(format!(
            "a query for all {} records returned {} ids, not the stored ones",
            model.order.len(),
            hits.ids.len()
        ));
    }
    Ok(())
}
