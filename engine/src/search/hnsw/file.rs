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
//! Reading checks every field and every link (ids below n, upper-layer neighbours tall enough
//! to have that layer) and every norm (finite, not negative), so a damaged file is
//! [`Error::Corrupt`], never a panic or an out-of-bounds walk later. The file is mapped
//! copy-on-write and checked in place; layer 0 (nearly all of it) is then walked in the
//! mapped pages until a build grows the graph and copies it into memory of its own
//! (`links.rs`).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::graph::{Entry, Hnsw, HnswParams, MAX_LEVEL, MAX_NEIGHBORS_LIMIT, NO_UPPER};
use super::links::Links;
use crate::config::DEFAULT_EF_SEARCH;
use crate::distance::Space;
use crate::error::{Error, Result};
use crate::store::map_copy_on_write;

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
            return Hnsw::parse(&map, path, space, true).map(|(g, _)| g);
        }
        let (mut graph, words) = Hnsw::parse(&map, path, space, false)?;
        graph.layer0 = Links::mapped(map, HEADER_LEN, words).ok_or_else(|| Error::Corrupt {
            path: path.to_owned(),
            detail: "HNSW index: layer 0 outside the mapping".to_owned(),
        })?;
        Ok(graph)
    }

    #[cfg(test)]
    pub(super) fn from_bytes(bytes: &[u8], path: &Path, space: Space) -> Result<Hnsw> {
        // Copied into u32 words so the regions are aligned, as in a mapping.
        let mut words = vec![0u32; bytes.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        let aligned = &bytemuck::cast_slice::<u32, u8>(&words)[..bytes.len()];
        Hnsw::parse(aligned, path, space, true).map(|(g, _)| g)
    }

    /// Parses and checks a file held in `bytes` (4-byte aligned). With `copy_layer0` the graph
    /// gets its own copy of the layer-0 links; without, its layer 0 is left empty for the
    /// caller to point at the file's words (`HEADER_LEN` on, as many as returned).
    fn parse(bytes: &[u8], path: &Path, space: Space, copy_layer0: bool) -> Result<(Hnsw, usize)> {
        let corrupt = |detail: String| Error::Corrupt {
            path: path.to_owned(),
            detail: format!("HNSW index: {detail}"),
        };
        let Some(header) = bytes.get(..HEADER_LEN) else {
            return Err(corrupt(format!(
                "truncated: {} bytes, the header alone is {HEADER_LEN}",
                bytes.len()
            )));
        };
        if &header[..8] != MAGIC {
            return Err(corrupt("not an HNSW index file (bad magic)".to_owned()));
        }
        let u32_at =
            |o: usize| u32::from_le_bytes([header[o], header[o + 1], header[o + 2], header[o + 3]]);
        let u64_at = |o: usize| u64::from(u32_at(o)) | (u64::from(u32_at(o + 4)) << 32);
        let version = u32_at(8);
        if version != VERSION {
            return Err(Error::UnsupportedFormat {
                path: path.to_owned(),
                found: version,
                supported: VERSION,
            });
        }
        if u32_at(12) != space_code(space) {
            return Err(corrupt(format!(
                "built for space code {}, the collection uses {}",
                u32_at(12),
                space.as_str()
            )));
        }
        let m = u32_at(16) as usize;
        if !(2..=MAX_NEIGHBORS_LIMIT).contains(&m) {
            return Err(corrupt(format!("max_neighbors {m} out of range")));
        }
        let ef_construction = u32_at(20) as usize;
        if ef_construction == 0 {
            return Err(corrupt("ef_construction is 0".to_owned()));
        }
        let n64 = u64_at(24);
        let n = match u32::try_from(n64) {
            Ok(n) if n != u32::MAX => n as usize,
            _ => return Err(corrupt(format!("node count {n64} out of range"))),
        };
        let watermark = u64_at(32);
        let entry_node = u32_at(40);
        let top = u32_at(44);
        let seed = u64_at(48);
        let upper_words = u64_at(56);
        let norms = match u64_at(64) {
            0 => 0,
            k if k == n64 && space == Space::Cosine => n,
            k => return Err(corrupt(format!("{k} norms for {n} nodes"))),
        };
        let stride0 = 1 + 2 * m;
        let stride_up = 1 + m;
        // The length the header implies, in checked arithmetic (the header may be garbage).
        let expected = usize::try_from(upper_words)
            .ok()
            .and_then(|w| {
                let words = n
                    .checked_mul(stride0)?
                    .checked_add(n)?
                    .checked_add(w)?
                    .checked_add(norms)?;
                words
                    .checked_mul(4)?
                    .checked_add(HEADER_LEN)?
                    .checked_add(n)
            })
            .ok_or_else(|| corrupt(format!("upper-layer size {upper_words} out of range")))?;
        if bytes.len() != expected {
            return Err(corrupt(format!(
                "{} bytes, the header implies {expected} (truncated or overwritten)",
                bytes.len()
            )));
        }
        // The 4-byte regions, in place (words are little-endian on disk).
        let words: &[u32] = bytemuck::try_cast_slice(&bytes[..bytes.len() / 4 * 4])
            .map_err(|e| corrupt(format!("not aligned for reading in place: {e}")))?;
        let l0_start = HEADER_WORDS;
        let off_start = l0_start + n * stride0;
        let up_start = off_start + n;
        let norms_start = up_start + upper_words as usize;
        let lv_start = 4 * (norms_start + norms);
        let layer0 = &words[l0_start..off_start];
        let upper_offsets = &words[off_start..up_start];
        let upper = &words[up_start..norms_start];
        let inv_norms = &words[norms_start..norms_start + norms];
        let levels = bytes[lv_start..].to_vec();
        let le = u32::from_le;
        // Levels and offsets: the offsets must be exactly the running sum the writer made.
        let mut next = 0usize;
        let mut max_level = 0u8;
        for (s, (&level, &off)) in levels.iter().zip(upper_offsets).enumerate() {
            let off = le(off);
            if level > MAX_LEVEL {
                return Err(corrupt(format!("node {s} has level {level}")));
            }
            max_level = max_level.max(level);
            let want = if level == 0 { NO_UPPER } else { next as u32 };
            if off != want || (level > 0 && next >= NO_UPPER as usize) {
                return Err(corrupt(format!(
                    "node {s}: upper offset {off}, expected {want}"
                )));
            }
            next += level as usize * stride_up;
        }
        if next as u64 != upper_words {
            return Err(corrupt(format!(
                "upper layers hold {upper_words} words, the levels need {next}"
            )));
        }
        let entry = if n == 0 {
            if entry_node != u32::MAX || top != 0 {
                return Err(corrupt("empty graph with an entry point".to_owned()));
            }
            None
        } else {
            let ok = (entry_node as usize) < n
                && u32::from(levels[entry_node as usize]) == top
                && top == u32::from(max_level);
            if !ok {
                return Err(corrupt(format!(
                    "entry point {entry_node} at level {top} does not match the levels"
                )));
            }
            Some(Entry {
                node: entry_node,
                level: max_level,
            })
        };

        // Every list: count within capacity, neighbours existing and tall enough.
        let check_list = |s: usize, layer: usize, list: &[u32]| -> Result<()> {
            let count = le(list[0]) as usize;
            if count > list.len() - 1 {
                return Err(corrupt(format!("node {s} layer {layer}: {count} links")));
            }
            for &nb in &list[1..=count] {
                let nb = le(nb);
                if nb as usize >= n || (levels[nb as usize] as usize) < layer {
                    return Err(corrupt(format!(
                        "node {s} layer {layer}: bad neighbour {nb}"
                    )));
                }
            }
            Ok(())
        };
        for (s, list) in layer0.chunks_exact(stride0).enumerate() {
            check_list(s, 0, list)?;
        }
        for (s, &level) in levels.iter().enumerate() {
            if level == 0 {
                continue;
            }
            let start = le(upper_offsets[s]) as usize;
            for layer in 1..=level as usize {
                let from = start + (layer - 1) * stride_up;
                check_list(s, layer, &upper[from..from + stride_up])?;
            }
        }

        let params = HnswParams {
            max_neighbors: m,
            ef_construction,
            ef_search: DEFAULT_EF_SEARCH,
            seed,
        };
        let inv_norms: Vec<f32> = inv_norms.iter().map(|&w| f32::from_bits(le(w))).collect();
        if let Some(bad) = inv_norms.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
            return Err(corrupt(format!("inverse norm {bad}")));
        }
        let mut graph = Hnsw::new(space, params)?;
        graph.watermark = watermark;
        graph.levels = levels;
        if copy_layer0 {
            graph.layer0 = Links::Owned(layer0.iter().map(|&w| AtomicU32::new(le(w))).collect());
        }
        graph.upper_offsets = upper_offsets.iter().map(|&w| le(w)).collect();
        graph.upper = upper.iter().map(|&w| AtomicU32::new(le(w))).collect();
        graph.inv_norms = inv_norms;
        // No node locks: only a build takes them, and `grow` makes them for every node.
        graph.entry = Mutex::new(entry);
        graph.publish();
        Ok((graph, layer0.len()))
    }
}
