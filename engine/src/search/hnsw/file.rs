//! The graph's file: links only (no vectors, so no dimension), laid out so that a reopen can
//! be a mapping plus a header check.
//!
//! Format version 2, all integers little-endian:
//! ```text
//! 0..8    magic b"MNEMOHNW"
//! 8..12   format version (2), u32
//! 12..16  space: 0 l2, 1 ip, 2 cosine, u32
//! 16..20  M (max_neighbors), u32
//! 20..24  ef_construction, u32
//! 24..32  node count n, u64
//! 32..40  watermark: the collection seq the graph covers, u64
//! 40..44  entry node, u32 (u32::MAX when n = 0)
//! 44..48  top level, u32
//! 48..56  level seed, u64
//! 56..64  upper-layer words W, u64
//! 64..72  inverse norms held, u64: n for a cosine graph that keeps them, else 0
//! 72..    layer 0: n records of 1 + 2M u32 (count, then neighbours, unused words zero);
//!         node s at 72 + 4 s (1 + 2M)
//! then    upper offsets: n u32, word index of the node's first upper record, or u32::MAX
//! then    upper layers: W u32; a node of level l owns l records of 1 + M words (layer 1 first)
//! then    inverse norms: f32 per node (cosine: `1 / |row|`, 0 for a zero row), if held
//! then    levels: n u8
//! ```
//! Every 4-byte region starts at a multiple of 4, so the mapped file is read as `u32` words in
//! place; the byte-sized levels come last for that reason. The
//! file length is fully determined by the header, which is how truncation is caught. Version 1
//! (no norms) is refused as unsupported and the graph rebuilt: the index is derived data.
//!
//! Writing goes to a temporary file of the writing process, is synced, renamed over the old
//! file and the directory synced, so a crash leaves either the old graph or the new one.
//! Reading (`file/parse.rs`) checks every field and every link (ids below n, upper-layer
//! neighbours tall enough to have that layer) and every norm (finite, not negative), so a
//! damaged file is [`Error::Corrupt`], never a panic or an out-of-bounds walk later. The file is
//! mapped copy-on-write (`store::map_copy_on_write`) and checked in place; layer 0 (nearly all
//! of it) is then walked in the mapped pages until a build grows the graph and copies it into
//! memory of its own (`links.rs`).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

use super::graph::Hnsw;
use super::links::Links;
use crate::distance::Space;
use crate::error::{Error, Result};
use crate::store::map_copy_on_write;

mod parse;

const MAGIC: &[u8; 8] = b"MNEMOHNW";
const VERSION: u32 = 2;
const HEADER_LEN: usize = 72;
const HEADER_WORDS: usize = HEADER_LEN / 4;

fn space_code(space: Space) -> u32 {
    match space {
        Space::L2 => 0,
        Space::Ip => 1,
        Space::Cosine => 2,
    }
}

impl Hnsw {
    /// Writes the graph to `path` atomically (temp file, fsync, rename, directory fsync).
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes();
        // A name of our own: another process may be saving the same graph right now.
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()
        };
        write().map_err(|e| Error::io("write", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| Error::io("rename", &tmp, e))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("sync", dir, e))
    }

    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let n = self.len();
        let entry = *super::graph::lock(&self.entry);
        let mut out = Vec::with_capacity(
            HEADER_LEN + 4 * (self.layer0.len() + self.upper_offsets.len() + self.upper.len()) + n,
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&space_code(self.space).to_le_bytes());
        out.extend_from_slice(&(self.params.max_neighbors as u32).to_le_bytes());
        let ef_c = u32::try_from(self.params.ef_construction).unwrap_or(u32::MAX);
        out.extend_from_slice(&ef_c.to_le_bytes());
        out.extend_from_slice(&(n as u64).to_le_bytes());
        out.extend_from_slice(&self.watermark.to_le_bytes());
        out.extend_from_slice(&entry.map_or(u32::MAX, |e| e.node).to_le_bytes());
        out.extend_from_slice(&entry.map_or(0, |e| u32::from(e.level)).to_le_bytes());
        out.extend_from_slice(&self.params.seed.to_le_bytes());
        out.extend_from_slice(&(self.upper.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.inv_norms.len() as u64).to_le_bytes());
        debug_assert_eq!(out.len(), HEADER_LEN);
        for w in self.layer0.iter() {
            out.extend_from_slice(&w.load(Relaxed).to_le_bytes());
        }
        for o in &self.upper_offsets {
            out.extend_from_slice(&o.to_le_bytes());
        }
        for w in &self.upper {
            out.extend_from_slice(&w.load(Relaxed).to_le_bytes());
        }
        for x in &self.inv_norms {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.extend_from_slice(&self.levels);
        out
    }

    /// Reads a graph written by [`Hnsw::save`] for `space`. `ef_search` is not stored (it is a
    /// query-time setting); the loaded graph has chromadb's default until the caller sets it.
    ///
    /// The file is mapped copy-on-write and checked in place; the layer-0 links (nearly all of
    /// it) stay the mapped pages until a build grows the graph, so a reopen costs a pass over
    /// the file in the page cache, not an allocation and a copy of it.
    pub(crate) fn load(path: &Path, space: Space) -> Result<Hnsw> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("stat", path, e))?
            .len();
        if len < HEADER_LEN as u64 {
            return Err(Error::Corrupt {
                path: path.to_owned(),
                detail: format!(
                    "HNSW index: truncated: {len} bytes, the header alone is {HEADER_LEN}"
                ),
            });
        }
        // Index files are written to a temporary name and renamed into place (`save`), never
        // truncated or rewritten in place: the contract `map_copy_on_write` asks for.
        let map = map_copy_on_write(&file, path)?;
        if cfg!(target_endian = "big") {
            // The words are little-endian on disk: copy and swap them.
            return parse::parse(&map, path, space, true).map(|(g, _)| g);
        }
        let (mut graph, words) = parse::parse(&map, path, space, false)?;
        graph.layer0 = Links::mapped(map, HEADER_LEN, words).ok_or_else(|| Error::Corrupt {
            path: path.to_owned(),
            detail: "HNSW index: layer 0 outside the mapping".to_owned(),
        })?;
        Ok(graph)
    }

    /// The node count in the header of the graph file at `path` (magic and version checked,
    /// nothing else): how many slots a process opening it would find linked. `None` when
    /// there is no such file or it is not one of ours.
    pub(crate) fn saved_nodes(path: &Path) -> Option<u64> {
        use std::io::Read;
        let mut header = [0u8; 32];
        File::open(path).ok()?.read_exact(&mut header).ok()?;
        let version = u32::from_le_bytes(header[8..12].try_into().ok()?);
        (&header[..8] == MAGIC && version == VERSION)
            .then(|| u64::from_le_bytes(header[24..32].try_into().unwrap_or_default()))
    }

    #[cfg(test)]
    pub(super) fn from_bytes(bytes: &[u8], path: &Path, space: Space) -> Result<Hnsw> {
        // Copied into u32 words so the regions are aligned, as in a mapping.
        let mut words = vec![0u32; bytes.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        let aligned = &bytemuck::cast_slice::<u32, u8>(&words)[..bytes.len()];
        parse::parse(aligned, path, space, true).map(|(g, _)| g)
    }
}
