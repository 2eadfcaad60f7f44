//! The import of a Chroma directory into a mnemodb database: every collection of chromadb's
//! default tenant and database, with its configuration, metadata and records; then a marker
//! file that lets the destination open (it may be the Chroma directory itself).

use std::path::Path;

use super::{ChromaDir, IMPORT_MARKER};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::types::{AddBatch, Vectors};

/// Records written per engine call.
const BATCH: usize = 1000;

/// Where an import is: `done` of `total` records of `collection` written.
#[derive(Debug, Clone, Copy)]
pub struct ImportProgress<'a> {
    /// The collection being copied.
    pub collection: &'a str,
    /// Records of it written so far.
    pub done: u64,
    /// Its records.
    pub total: u64,
}

/// What an import copied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// Each collection copied, with its record count, in Chroma's order.
    pub collections: Vec<(String, u64)>,
    /// Collections of other tenants or databases, not copied (`tenant/database/name`).
    pub skipped: Vec<String>,
}

/// Copies every collection of the Chroma directory `src` (chromadb's default tenant and
/// database, what a `PersistentClient` shows) into the mnemodb database in `dest`, which may
/// be `src` itself: mnemodb's files go beside Chroma's, which are only read. The destination
/// must not hold collections of the same names. On failure the collections this call created
/// are deleted again; on success a marker file (`mnemodb-chroma-import.json`) records the
/// import, and the Chroma directory opens as the mnemodb database from then on.
pub fn import_chroma(
    src: &Path,
    dest: &Path,
    progress: &mut dyn FnMut(ImportProgress<'_>),
) -> Result<ImportReport> {
    let chroma = ChromaDir::open(src)?;
    let marker = dest.join(IMPORT_MARKER);
    if marker.is_file() {
        return Err(Error::invalid(format!(
            "{} already holds an import of a Chroma directory ({IMPORT_MARKER}); open it \
             with mnemodb, or import into another directory",
            dest.display()
        )));
    }
    let (chosen, others): (Vec<_>, Vec<_>) = chroma
        .collections()?
        .into_iter()
        .partition(|c| c.is_default_database());
    let mut report = ImportReport {
        skipped: others
            .iter()
            .map(|c| format!("{}/{}/{}", c.tenant, c.database, c.name))
            .collect(),
        ..ImportReport::default()
    };
    let db = Database::open_unchecked(dest)?;
    let existing = db.list_collections()?;
    if let Some(clash) = chosen
        .iter()
        .find(|c| existing.iter().any(|e| e.name == c.name))
    {
        return Err(Error::invalid(format!(
            "{} already has a collection called {:?}; import into another directory, or \
             delete that collection first",
            dest.display(),
            clash.name
        )));
    }
    let mut created: Vec<String> = Vec::new();
    let result = (|| -> Result<()> {
        for c in &chosen {
            let records = chroma.records(c)?;
            let total = records.ids.len() as u64;
            let col = db.create_collection(&c.name, c.config.clone(), c.metadata.as_ref())?;
            created.push(c.name.clone());
            progress(ImportProgress {
                collection: &c.name,
                done: 0,
                total,
            });
            let dim = c.dimension.unwrap_or(0);
            let mut start = 0;
            while start < records.ids.len() {
                let end = (start + BATCH).min(records.ids.len());
                col.add(AddBatch {
                    ids: &records.ids[start..end],
                    embeddings: Vectors::new(&records.embeddings[start * dim..end * dim], dim),
                    documents: Some(&records.documents[start..end]),
                    uris: Some(&records.uris[start..end]),
                    metadatas: Some(&records.metadatas[start..end]),
                })?;
                start = end;
                progress(ImportProgress {
                    collection: &c.name,
                    done: end as u64,
                    total,
                });
            }
            report.collections.push((c.name.clone(), total));
        }
        Ok(())
    })();
    if let Err(e) = result {
        for name in &created {
            let _ = db.delete_collection(name);
        }
        return Err(e);
    }
    db.checkpoint()?;
    write_marker(&marker, src, &report)?;
    Ok(report)
}

fn write_marker(marker: &Path, src: &Path, report: &ImportReport) -> Result<()> {
    let body = serde_json::json!({
        "format": 1,
        "source": src.display().to_string(),
        "collections": report
            .collections
            .iter()
            .map(|(name, n)| serde_json::json!({"name": name, "records": n}))
            .collect::<Vec<_>>(),
        "skipped": report.skipped,
    });
    let tmp = marker.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(&body).unwrap_or_default();
    std::fs::write(&tmp, text).map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("sync", &tmp, e))?;
    std::fs::rename(&tmp, marker).map_err(|e| Error::io("rename", marker, e))
}
