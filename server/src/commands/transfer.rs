//! `export` and `import`: the engine's codec (`mnemodb::codec::export_file` / `import_file`)
//! with a progress bar; `backup`: `Database::backup`.

use std::path::Path;

use mnemodb::codec::{self, Format};

use super::{open_existing, progress};
use crate::error::Result;
use crate::namespace::CatalogCopy;

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

/// `mnemodb backup SRC DEST`: the line to print. A server's data directory holds more than
/// its default database: the other databases (`databases/<id>/`) and the catalog naming them
/// (which also keeps the collections' embedding functions). Each database is copied
/// consistently on its own, the catalog as it was read before them: a database created
/// during the backup is not in it.
pub(crate) fn backup(src: &Path, dest: &Path) -> Result<String> {
    let db = open_existing(src)?;
    let catalog = CatalogCopy::read(src)?;
    let mut total = db.backup(dest)?;
    let mut more = 0;
    for entry in catalog.iter().flat_map(|c| &c.databases) {
        let dir = CatalogCopy::dir_in(src, entry);
        if !dir.join(super::SQLITE_FILE).is_file() {
            continue; // named, never written (or deleted meanwhile): nothing to copy
        }
        let report = open_existing(&dir)?.backup(CatalogCopy::dir_in(dest, entry))?;
        total.collections += report.collections;
        total.records += report.records;
        total.vector_bytes += report.vector_bytes;
        more += 1;
    }
    if let Some(c) = &catalog {
        c.write_to(dest)?;
    }
    let databases = match more {
        0 => String::new(),
        n => format!(" in {} databases", n + 1),
    };
    Ok(format!(
        "backed up {} collections ({} records, {} of vectors){databases} to {}",
        total.collections,
        total.records,
        super::human_bytes(total.vector_bytes),
        dest.display()
    ))
}
