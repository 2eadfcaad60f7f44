//! `import-chroma`, and what `inspect` says of a Chroma directory: the engine's reader of
//! chromadb directories with a progress bar per collection.

use std::fmt::Write as _;
use std::path::Path;

use indicatif::ProgressBar;
use mnemodb::{ChromaDir, ImportReport};

use super::progress;
use crate::error::Result;

/// `mnemodb import-chroma SRC [DEST]`: copies every collection of the Chroma directory `src`
/// into the mnemodb database in `dest` (default: `src` itself, beside Chroma's files, which
/// are only read). Returns the summary to print.
pub(crate) fn import(src: &Path, dest: Option<&Path>) -> Result<String> {
    let dest = dest.unwrap_or(src);
    let mut bar: Option<(String, ProgressBar)> = None;
    let report = mnemodb::import_chroma(src, dest, &mut |p| match &bar {
        Some((name, b)) if name == p.collection => b.set_position(p.done),
        _ => {
            if let Some((_, b)) = bar.take() {
                b.finish();
            }
            let b = progress(p.total, p.collection);
            b.set_position(p.done);
            bar = Some((p.collection.to_owned(), b));
        }
    });
    if let Some((_, b)) = bar.take() {
        b.finish();
    }
    Ok(summary(&report?, src, dest))
}

fn summary(report: &ImportReport, src: &Path, dest: &Path) -> String {
    let mut out = String::new();
    let records: u64 = report.collections.iter().map(|(_, n)| n).sum();
    for (name, n) in &report.collections {
        let _ = writeln!(out, "  {name}: {n} records");
    }
    for skipped in &report.skipped {
        let _ = writeln!(
            out,
            "  skipped {skipped}: not in the default tenant and database"
        );
    }
    let _ = writeln!(
        out,
        "imported {} collections ({records} records) from {} into {}; the Chroma files \
         were not changed",
        report.collections.len(),
        src.display(),
        dest.display()
    );
    let _ = writeln!(
        out,
        "open it with mnemodb.PersistentClient(path=\"{}\") or `mnemodb serve --path {}`",
        dest.display(),
        dest.display()
    );
    out
}

/// Whether `path` is a Chroma directory that has not been imported (mnemodb refuses to open
/// it).
pub(crate) fn unimported(path: &Path) -> bool {
    mnemodb::is_chroma_dir(path) && !path.join(mnemodb::IMPORT_MARKER).is_file()
}

/// What `inspect` says of a Chroma directory not yet imported: its collections and the
/// command that imports them.
pub(crate) fn describe(path: &Path) -> Result<String> {
    let dir = ChromaDir::open(path)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} is a Chroma directory (chroma.sqlite3, written by chromadb), not a mnemodb \
         database yet:",
        path.display()
    );
    for c in dir.collections()? {
        let dim = c.dimension.map_or_else(
            || "no dimension yet".to_owned(),
            |d| format!("dimension {d}"),
        );
        let _ = writeln!(
            out,
            "  {}/{}/{}: {} records, {}, {dim}",
            c.tenant,
            c.database,
            c.name,
            c.stored_records,
            c.config.hnsw.space.as_str()
        );
    }
    let _ = writeln!(
        out,
        "run `mnemodb import-chroma {}` to copy its collections into mnemodb (chromadb is not \
         needed; its files are left as they are)",
        path.display()
    );
    Ok(out)
}
