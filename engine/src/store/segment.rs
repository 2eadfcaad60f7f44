//! A collection's vectors: fixed-stride little-endian f32 rows after a 64-byte header, appended
//! under the write lock, read through a mapping of the committed prefix.
//!
//! File layout (format version 1):
//! ```text
//! 0..8    magic  b"MNEMOVEC"
//! 8..12   format version, u32 little-endian
//! 12..16  dimension, u32 little-endian
//! 16..64  zero
//! 64..    rows: slot s at 64 + s * dim * 4
//! ```

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use memmap2::Mmap;

use super::positional;

use super::mmap::map_committed;
use crate::error::{Error, Result};

/// Bytes before the first row.
pub(crate) const HEADER_LEN: usize = 64;
const MAGIC: &[u8; 8] = b"MNEMOVEC";
const FORMAT_VERSION: u32 = 1;

/// The vectors of one collection.
#[derive(Debug)]
pub(crate) enum Segment {
    /// Rows in files under the collection's directory, one file per generation.
    File(FileSegment),
    /// Rows in memory (ephemeral databases), by generation like the files.
    Memory(RwLock<BTreeMap<u64, Vec<f32>>>),
}

/// A segment stored in `dir/vectors.<generation>.f32`.
#[derive(Debug)]
pub(crate) struct FileSegment {
    dir: PathBuf,
    /// The latest mapping, shared with scans still running on it.
    mapping: Mutex<Option<Arc<Mapping>>>,
}

#[derive(Debug)]
struct Mapping {
    generation: u64,
    slots: u64,
    dim: usize,
    map: Mmap,
}

impl Mapping {
    fn rows(&self, slots: u64) -> &[f32] {
        let bytes = &self.map[HEADER_LEN..HEADER_LEN + slots as usize * self.dim * 4];
        // The header is 64 bytes and mappings start page-aligned, so rows are 4-aligned.
        bytemuck::cast_slice(bytes)
    }
}

impl Segment {
    /// A file segment in `dir` (created on the first append).
    pub(crate) fn in_dir(dir: PathBuf) -> Segment {
        Segment::File(FileSegment {
            dir,
            mapping: Mutex::new(None),
        })
    }

    /// An empty in-memory segment.
    pub(crate) fn in_memory() -> Segment {
        Segment::Memory(RwLock::default())
    }

    /// The directory of a file segment (`None` in memory).
    pub(crate) fn dir(&self) -> Option<&Path> {
        match self {
            Segment::File(f) => Some(&f.dir),
            Segment::Memory(_) => None,
        }
    }

    /// The file that holds a generation.
    pub(crate) fn file_path(dir: &Path, generation: u64) -> PathBuf {
        dir.join(format!("vectors.{generation}.f32"))
    }

    /// Writes `rows` at slot `committed` and onwards, after dropping anything past the
    /// committed slots (left by a writer that died before committing). Must run under the
    /// write lock; the rows are durable (synced) when this returns, but invisible until the
    /// caller's transaction commits the new slot count.
    pub(crate) fn append(
        &self,
        generation: u64,
        dim: usize,
        committed: u64,
        rows: &[f32],
    ) -> Result<()> {
        match self {
            Segment::Memory(m) => {
                let mut m = m.write().unwrap_or_else(|p| p.into_inner());
                let v = m.entry(generation).or_default();
                v.truncate(committed as usize * dim);
                v.extend_from_slice(rows);
                Ok(())
            }
            Segment::File(f) => f.append(generation, dim, committed, rows),
        }
    }

    /// Runs `f` over the first `slots` rows of `generation` (all committed).
    pub(crate) fn with_rows<T>(
        &self,
        generation: u64,
        dim: usize,
        slots: u64,
        f: impl FnOnce(&[f32]) -> T,
    ) -> Result<T> {
        if slots == 0 {
            return Ok(f(&[]));
        }
        match self {
            Segment::Memory(m) => {
                let m = m.read().unwrap_or_else(|p| p.into_inner());
                let v = m.get(&generation).map_or(&[][..], Vec::as_slice);
                let end = slots as usize * dim;
                if v.len() < end {
                    return Err(Error::Corrupt {
                        path: PathBuf::from(":memory:"),
                        detail: format!("{slots} committed slots but {} rows held", v.len() / dim),
                    });
                }
                Ok(f(&v[..end]))
            }
            Segment::File(s) => {
                let mapping = s.mapping(generation, dim, slots)?;
                Ok(f(mapping.rows(slots)))
            }
        }
    }

    /// Writes a whole new generation holding `rows` (compaction); synced when this returns.
    pub(crate) fn write_generation(&self, generation: u64, dim: usize, rows: &[f32]) -> Result<()> {
        match self {
            Segment::Memory(m) => {
                m.write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(generation, rows.to_vec());
                Ok(())
            }
            Segment::File(f) => {
                let path = Segment::file_path(&f.dir, generation);
                let file = create_file(&path, dim)?;
                positional::write_all_at(&file, bytemuck::cast_slice(rows), HEADER_LEN as u64)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| Error::io("write", &path, e))?;
                sync_dir(&f.dir)
            }
        }
    }

    /// Removes the vector file of `generation` (a compaction that did not commit).
    pub(crate) fn remove_generation(&self, generation: u64) -> Result<()> {
        match self {
            Segment::Memory(m) => {
                m.write()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&generation);
                Ok(())
            }
            Segment::File(f) => {
                let path = Segment::file_path(&f.dir, generation);
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != IoKind::NotFound => Err(Error::io("remove", &path, e)),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Removes the files of generations other than `keep` (after a compaction committed):
    /// vector files and the files derived from them (`hnsw.<generation>.bin`,
    /// `live.<generation>.bin`), and temporary files a writer left behind.
    pub(crate) fn remove_other_generations(&self, keep: u64) -> Result<()> {
        let f = match self {
            Segment::File(f) => f,
            Segment::Memory(m) => {
                m.write()
                    .unwrap_or_else(|p| p.into_inner())
                    .retain(|&g, _| g == keep);
                return Ok(());
            }
        };
        let entries = match std::fs::read_dir(&f.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == IoKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("list", &f.dir, e)),
        };
        let keep_vectors = format!("vectors.{keep}.f32");
        let keep_index = format!("hnsw.{keep}.bin");
        let keep_live = format!("live.{keep}.bin");
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let vectors = name.starts_with("vectors.") && name.ends_with(".f32");
            let index = name.starts_with("hnsw.") && name.ends_with(".bin");
            let live = name.starts_with("live.") && name.ends_with(".bin");
            // A save that died before its rename (or that another process is making now:
            // losing it only costs that process a later save, never data).
            let derived_tmp =
                (name.starts_with("hnsw.") || name.starts_with("live.")) && name.ends_with(".tmp");
            let stale = (vectors && name != keep_vectors)
                || (index && name != keep_index)
                || (live && name != keep_live)
                || derived_tmp;
            if stale {
                match std::fs::remove_file(entry.path()) {
                    // Gone since the listing: a save in this or another process renamed its
                    // temporary file meanwhile (the file it made is stale too, and is removed
                    // by the next cleanup).
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    // Windows refuses to delete a file that a process still maps (Unix unlinks
                    // it and the mappings stay valid): the next cleanup (an open, a compaction)
                    // removes it.
                    Err(e) if cfg!(windows) && e.kind() == std::io::ErrorKind::PermissionDenied => {
                    }
                    other => other.map_err(|e| Error::io("remove", entry.path(), e))?,
                }
            }
        }
        Ok(())
    }

    /// Drops bytes past the committed slots (recovery after a crash). Under the write lock.
    pub(crate) fn truncate_uncommitted(
        &self,
        generation: u64,
        dim: usize,
        committed: u64,
    ) -> Result<()> {
        match self {
            Segment::Memory(m) => {
                if let Some(v) = m
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_mut(&generation)
                {
                    v.truncate(committed as usize * dim);
                }
                Ok(())
            }
            Segment::File(f) => {
                let path = Segment::file_path(&f.dir, generation);
                let file = match OpenOptions::new().write(true).open(&path) {
                    Ok(file) => file,
                    Err(e) if e.kind() == IoKind::NotFound && committed == 0 => return Ok(()),
                    Err(e) => return Err(Error::io("open", &path, e)),
                };
                f.truncate_to(&file, &path, dim, committed)
            }
        }
    }
}

impl FileSegment {
    fn append(&self, generation: u64, dim: usize, committed: u64, rows: &[f32]) -> Result<()> {
        let path = Segment::file_path(&self.dir, generation);
        let file = if committed == 0 {
            // Nothing committed: (re)create the file, whatever a dead writer left.
            std::fs::create_dir_all(&self.dir).map_err(|e| Error::io("create", &self.dir, e))?;
            let file = create_file(&path, dim)?;
            sync_dir(&self.dir)?;
            file
        } else {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| Error::io("open", &path, e))?;
            check_header(&file, &path, dim)?;
            self.truncate_to(&file, &path, dim, committed)?;
            file
        };
        let offset = (HEADER_LEN + committed as usize * dim * 4) as u64;
        positional::write_all_at(&file, bytemuck::cast_slice(rows), offset)
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::io("write", &path, e))
    }

    fn truncate_to(&self, file: &File, path: &Path, dim: usize, committed: u64) -> Result<()> {
        let want = (HEADER_LEN + committed as usize * dim * 4) as u64;
        let have = file
            .metadata()
            .map_err(|e| Error::io("stat", path, e))?
            .len();
        if have < want {
            return Err(Error::Corrupt {
                path: path.to_owned(),
                detail: format!(
                    "{committed} slots are committed but the file holds {} bytes of {want}",
                    have
                ),
            });
        }
        if have > want {
            // Never shrinks a mapped region: mappings cover at most the committed prefix.
            file.set_len(want)
                .and_then(|()| file.sync_data())
                .map_err(|e| Error::io("truncate", path, e))?;
        }
        Ok(())
    }

    fn mapping(&self, generation: u64, dim: usize, slots: u64) -> Result<Arc<Mapping>> {
        let mut current = self.mapping.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = current
            .as_ref()
            .filter(|m| m.generation == generation && m.slots >= slots && m.dim == dim)
        {
            return Ok(Arc::clone(m));
        }
        let path = Segment::file_path(&self.dir, generation);
        let file = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
        check_header(&file, &path, dim)?;
        let len = HEADER_LEN + slots as usize * dim * 4;
        let file_len = file
            .metadata()
            .map_err(|e| Error::io("stat", &path, e))?
            .len();
        if file_len < len as u64 {
            return Err(Error::Corrupt {
                path,
                detail: format!("{slots} slots are committed but the file has {file_len} bytes"),
            });
        }
        let map = map_committed(&file, len, &path)?;
        let m = Arc::new(Mapping {
            generation,
            slots,
            dim,
            map,
        });
        *current = Some(Arc::clone(&m));
        Ok(m)
    }
}

fn create_file(path: &Path, dim: usize) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Error::io("create", path, e))?;
    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[12..16].copy_from_slice(&(dim as u32).to_le_bytes());
    positional::write_all_at(&file, &header, 0).map_err(|e| Error::io("write", path, e))?;
    Ok(file)
}

/// Reads and checks a segment header; returns the dimension it records.
pub(crate) fn read_header(file: &File, path: &Path) -> Result<usize> {
    let mut header = [0u8; HEADER_LEN];
    positional::read_exact_at(file, &mut header, 0).map_err(|e| match e.kind() {
        IoKind::UnexpectedEof => Error::Corrupt {
            path: path.to_owned(),
            detail: "shorter than a segment header".to_owned(),
        },
        _ => Error::io("read", path, e),
    })?;
    if &header[..8] != MAGIC {
        return Err(Error::Corrupt {
            path: path.to_owned(),
            detail: "not a mnemodb vector segment (bad magic number)".to_owned(),
        });
    }
    let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if version != FORMAT_VERSION {
        return Err(Error::UnsupportedFormat {
            path: path.to_owned(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(u32::from_le_bytes([header[12], header[13], header[14], header[15]]) as usize)
}

fn check_header(file: &File, path: &Path, dim: usize) -> Result<()> {
    let found = read_header(file, path)?;
    if found != dim {
        return Err(Error::Corrupt {
            path: path.to_owned(),
            detail: format!("header says dimension {found}, the catalog says {dim}"),
        });
    }
    Ok(())
}

/// Makes a file creation or removal in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync", dir, e))
}
