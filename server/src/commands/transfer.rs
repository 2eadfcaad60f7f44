//! `export` and `import`: the engine's codec (`mnemodb::codec::export_file` / `import_file`)
//! with a progress bar; `backup`: `Database::backup`.

use std::path::Path;

use mnemodb::codec::{self, Format};

use super::{open_existing, progress};
use crate::error::Result;

/// `mnemodb export`: returns how many records were written.
pub(crate) fn export(path: &Path, name: &str, out: &Path, format: &str) -> Result<u64> {
    let format: Format = format.parse()?;
    let db = open_existing(path)?;
    let bar = progress(0, "export");
    let n = codec::export_file(&db, name, out, format, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    Ok(n)
}

/// `mnemodb import`: returns the collection's name and how many records were added.
pub(crate) fn import(path: &Path, file: &Path, rename: Option<&str>) -> Result<(String, u64)> {
    let db = mnemodb::Database::open(path)?;
    let bar = progress(0, "import");
    let report = codec::import_file(&db, file, rename, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    Ok((report.name, report.records))
}

/// `mnemodb backup SRC DEST`: the line to print.
pub(crate) fn backup(src: &Path, dest: &Path) -> Result<String> {
    let db = open_existing(src)?;
    let report = db.backup(dest)?;
    Ok(format!(
        "backed up {} collections ({} records, {} of vectors) to {}",
        report.collections,
        report.records,
        super::human_bytes(report.vector_bytes),
        dest.display()
    ))
}
