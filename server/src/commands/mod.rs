//! The CLI verbs other than `serve`: inspect, compact, export/import (`transfer.rs`),
//! import-chroma (`chroma.rs`), add-documents (`documents.rs`), bench.

pub(crate) mod bench;
pub(crate) mod chroma;
pub(crate) mod documents;
pub(crate) mod remote;
pub(crate) mod transfer;

use std::fmt::Write as _;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use mnemodb::{Database, ProblemKind};

use crate::error::{Error, Result};
use crate::namespace::{DATABASES_DIR, Namespaces};

/// The engine's SQLite file inside a database directory.
const SQLITE_FILE: &str = "mnemo.sqlite3";

/// Opens an existing database directory (never creates one: a typo should not make an
/// empty database).
pub(crate) fn open_existing(path: &Path) -> Result<Database> {
    if chroma::unimported(path) {
        // The engine refuses it too; its message names the import command.
        return Ok(Database::open(path)?);
    }
    if !path.join(SQLITE_FILE).is_file() {
        return Err(Error::BadFile(format!(
            "{}: not a mnemodb database (no {SQLITE_FILE} in it)",
            path.display()
        )));
    }
    Ok(Database::open(path)?)
}

/// Reads every record of `col` (all fields) in pages of `page` records, in insertion order,
/// handing each page to `f` (export and push).
pub(crate) fn for_each_page(
    col: &mnemodb::Collection,
    page: usize,
    mut f: impl FnMut(mnemodb::GetResult) -> Result<()>,
) -> Result<()> {
    let mut offset = 0;
    loop {
        let got = col.get(mnemodb::GetRequest {
            limit: Some(page),
            offset,
            include: mnemodb::Include::all_get(),
            ..mnemodb::GetRequest::default()
        })?;
        let n = got.ids.len();
        if n == 0 {
            return Ok(());
        }
        f(got)?;
        offset += n;
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub(crate) fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style =
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// Bytes in a human unit.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub(crate) fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

pub(crate) fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => dir_size(&e.path()),
                _ => e.metadata().map_or(0, |m| m.len()),
            })
            .sum()
    })
}

/// Bytes of the collection's HNSW index files (`hnsw.<generation>.bin`), if any.
pub(crate) fn index_file_bytes(collection_dir: &Path) -> Option<u64> {
    let entries = std::fs::read_dir(collection_dir).ok()?;
    let sizes: Vec<u64> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("hnsw.") && name.ends_with(".bin")
        })
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .collect();
    (!sizes.is_empty()).then(|| sizes.iter().sum())
}

/// `part` of `whole` in percent (100 for nothing out of nothing).
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        100.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// What to do about one kind of problem in `collection` of the database in `dir`.
fn remedy(dir: &Path, collection: Option<&str>, kind: ProblemKind) -> String {
    let dir = dir.display();
    let restore = format!("stop every process using {dir} and restore it from a backup");
    match (kind, collection) {
        (ProblemKind::FilterIndex, Some(name)) => format!(
            "{name}: its filter index is derived from the records and can be rebuilt by \
             copying the collection: `mnemodb export {dir} --collection {name} --out \
             {name}.jsonl`, then `mnemodb import {dir} {name}.jsonl --collection \
             {name}-rebuilt`; or restore from a backup"
        ),
        (ProblemKind::VectorFile, Some(name)) => format!(
            "{name}: embeddings are stored only in the vector file and cannot be rebuilt \
             from the other files: {restore}"
        ),
        (ProblemKind::VectorChecksum, Some(name)) => format!(
            "{name}: the embeddings in the named slots were changed on disk after they were \
             written; they exist nowhere else: {restore}, or add those records again"
        ),
        (ProblemKind::Records, Some(name)) => {
            format!("{name}: the records disagree with the catalog: {restore}")
        }
        (ProblemKind::Sqlite, _) => {
            format!("the SQLite file is damaged: {restore}")
        }
        (_, Some(name)) => format!("{name}: {restore}"),
        (_, None) => restore,
    }
}

/// The tool ledger's summary (`mnemodb.tools`): calls, hit rate and timeouts per tool.
fn tool_ledger(out: &mut String, db: &mnemodb::Database) -> Result<()> {
    let tools = db.tool_summary()?;
    if tools.is_empty() {
        return Ok(());
    }
    let _ = writeln!(
        out,
        "  {:<24} {:>8} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "tool", "calls", "ok", "cache hits", "hit rate", "errors", "timeouts", "refused"
    );
    for t in &tools {
        let _ = writeln!(
            out,
            "  {:<24} {:>8} {:>8} {:>10} {:>7.1}% {:>8} {:>8} {:>8}",
            t.tool,
            t.calls,
            t.ok,
            t.cache_hits,
            t.hit_rate() * 100.0,
            t.errors,
            t.timeouts,
            t.refused
        );
    }
    Ok(())
}

/// `mnemodb inspect PATH`: the report as text, and the number of problems found. `records`
/// are the live ones (what `count` says), `expired` those past their expiry that the sweep
/// has not deleted yet, `dead` the slots no record points to. The index column says how many
/// slots the saved graph file links (what a process opening the directory loads; the rest is
/// scanned exactly until linked).
pub(crate) fn inspect(path: &Path) -> Result<(String, usize)> {
    let mut found = 0;
    open_existing(path)?;
    let ns = Namespaces::open(path)?;
    let mut out = String::new();
    for (entry, db) in ns.all()? {
        let dir = db
            .path()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| path.to_path_buf());
        let _ = writeln!(
            out,
            "database {}/{} ({})",
            entry.tenant,
            entry.name,
            dir.display()
        );
        let sqlite = file_size(&dir.join(SQLITE_FILE))
            + file_size(&dir.join(format!("{SQLITE_FILE}-wal")))
            + file_size(&dir.join(format!("{SQLITE_FILE}-shm")));
        let _ = writeln!(
            out,
            "  files: sqlite {} (with wal), vectors {}",
            human_bytes(sqlite),
            human_bytes(dir_size(&dir.join("collections")))
        );
        let report = db.check()?;
        if report.is_ok() {
            let _ = writeln!(
                out,
                "  consistency: ok ({} collections, {} records)",
                report.collections, report.records
            );
        } else {
            found += report.problems.len();
            let _ = writeln!(out, "  consistency: {} problem(s)", report.problems.len());
            for p in &report.problems {
                let _ = writeln!(out, "    - {p}");
            }
            let _ = writeln!(out, "  what to do next:");
            let mut said = Vec::new();
            for p in &report.problems {
                let advice = remedy(&dir, p.collection.as_deref(), p.kind);
                if !said.contains(&advice) {
                    let _ = writeln!(out, "    - {advice}");
                    said.push(advice);
                }
            }
        }
        tool_ledger(&mut out, &db)?;
        let infos = db.list_collections()?;
        if infos.is_empty() {
            let _ = writeln!(out, "  no collections");
            continue;
        }
        let _ = writeln!(
            out,
            "  {:<24} {:<36} {:>9} {:>7} {:>7} {:>5} {:<6} {:>10}  index",
            "collection", "id", "records", "expired", "dead", "dim", "space", "vectors"
        );
        for info in infos {
            let col = db.get_collection_by_id(info.id)?;
            let stats = col.stats()?;
            let h = &info.configuration.hnsw;
            let cdir = dir.join("collections").join(info.id.to_string());
            let index_bytes = index_file_bytes(&cdir);
            let cov = col.index_coverage()?;
            let index = match index_bytes {
                _ if cov.exact_only => "exact scan (below the index threshold)".to_owned(),
                Some(bytes) => format!(
                    "hnsw file {}, linked {}/{} ({:.0}%)",
                    human_bytes(bytes),
                    cov.saved,
                    cov.slots,
                    percent(cov.saved, cov.slots)
                ),
                None => format!("exact scan (no hnsw file yet, linked 0/{})", cov.slots),
            };
            let _ = writeln!(
                out,
                "  {:<24} {:<36} {:>9} {:>7} {:>7} {:>5} {:<6} {:>10}  {index}, M={} ef_construction={} ef_search={}",
                info.name,
                info.id,
                stats.records,
                stats.expired,
                stats.dead_slots,
                info.dimension
                    .map_or_else(|| "-".to_owned(), |d| d.to_string()),
                info.space.as_str(),
                human_bytes(dir_size(&cdir) - index_bytes.unwrap_or(0)),
                h.max_neighbors,
                h.ef_construction,
                h.ef_search
            );
        }
    }
    if path.join(DATABASES_DIR).is_dir() {
        let _ = writeln!(
            out,
            "(databases other than the default one live in {})",
            path.join(DATABASES_DIR).display()
        );
    }
    Ok((out, found))
}

/// `mnemodb compact PATH`: rewrites the vector files; returns one line per collection.
pub(crate) fn compact(path: &Path, only: Option<&str>) -> Result<String> {
    open_existing(path)?;
    let ns = Namespaces::open(path)?;
    let mut out = String::new();
    let mut found = false;
    for (entry, db) in ns.all()? {
        let infos: Vec<_> = db
            .list_collections()?
            .into_iter()
            .filter(|i| only.is_none_or(|n| n == i.name))
            .collect();
        let bar = progress(infos.len() as u64, "compact");
        for info in infos {
            found = true;
            bar.set_message(info.name.clone());
            let reclaimed = db.get_collection_by_id(info.id)?.compact_blocking()?;
            let _ = writeln!(
                out,
                "{}/{}/{}: {reclaimed} slot(s) reclaimed",
                entry.tenant, entry.name, info.name
            );
            bar.inc(1);
        }
        bar.finish_and_clear();
    }
    if let (Some(name), false) = (only, found) {
        return Err(mnemodb::Error::CollectionNotFound(name.to_owned()).into());
    }
    Ok(out)
}
