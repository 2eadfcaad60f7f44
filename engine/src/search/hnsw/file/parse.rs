//! Reading a graph file: each check of the format in its own function, in the file's order
//! (header fields, the length they imply, levels against upper offsets, the entry point, every
//! link, the norms), then the graph assembled from the checked regions.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::AtomicU32;

use super::{HEADER_LEN, HEADER_WORDS, MAGIC, VERSION, space_code};
use crate::config::DEFAULT_EF_SEARCH;
use crate::distance::Space;
use crate::error::{Error, Result};
use crate::search::hnsw::graph::{
    Entry, Hnsw, HnswParams, MAX_LEVEL, MAX_NEIGHBORS_LIMIT, NO_UPPER,
};
use crate::search::hnsw::links::Links;

/// Parses and checks a file held in `bytes` (4-byte aligned). With `copy_layer0` the graph
/// gets its own copy of the layer-0 links; without, its layer 0 is left empty for the
/// caller to point at the file's words (`HEADER_LEN` on, as many as returned).
///
/// The checks run in the file's order, each in its own function: the header's fields,
/// the length they imply, the levels against the upper offsets, the entry point, every
/// link, the norms; then the graph is assembled from the checked regions.
pub(super) fn parse(
    bytes: &[u8],
    path: &Path,
    space: Space,
    copy_layer0: bool,
) -> Result<(Hnsw, usize)> {
    let header = Header::read(bytes, path, space)?;
    let regions = Regions::split(bytes, &header, path)?;
    let max_level = check_levels(&regions, &header, path)?;
    let entry = check_entry(&header, regions.levels, max_level, path)?;
    check_lists(&regions, &header, path)?;
    let inv_norms = read_norms(regions.inv_norms, path)?;
    let graph = assemble(space, &header, &regions, entry, inv_norms, copy_layer0)?;
    Ok((graph, regions.layer0.len()))
}

/// The error for a file that breaks the format: `Error::Corrupt` naming the file.
fn corrupt(path: &Path, detail: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        path: path.to_owned(),
        detail: format!("HNSW index: {detail}"),
    }
}

/// The header's fields, each checked on its own (their agreement with the rest of the file is
/// checked by the functions below).
struct Header {
    /// M: a layer-0 list holds up to 2M links, an upper one M.
    m: usize,
    ef_construction: usize,
    /// Nodes, below `u32::MAX`.
    n: usize,
    watermark: u64,
    entry_node: u32,
    top: u32,
    seed: u64,
    upper_words: u64,
    /// Inverse norms held: 0, or `n` for a cosine graph.
    norms: usize,
}

impl Header {
    /// Reads and checks the 72-byte header: magic, version, space and each field's range.
    fn read(bytes: &[u8], path: &Path, space: Space) -> Result<Header> {
        let Some(header) = bytes.get(..HEADER_LEN) else {
            return Err(corrupt(
                path,
                format!(
                    "truncated: {} bytes, the header alone is {HEADER_LEN}",
                    bytes.len()
                ),
            ));
        };
        if &header[..8] != MAGIC {
            return Err(corrupt(path, "not an HNSW index file (bad magic)"));
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
            return Err(corrupt(
                path,
                format!(
                    "built for space code {}, the collection uses {}",
                    u32_at(12),
                    space.as_str()
                ),
            ));
        }
        let m = u32_at(16) as usize;
        if !(2..=MAX_NEIGHBORS_LIMIT).contains(&m) {
            return Err(corrupt(path, format!("max_neighbors {m} out of range")));
        }
        let ef_construction = u32_at(20) as usize;
        if ef_construction == 0 {
            return Err(corrupt(path, "ef_construction is 0"));
        }
        let n64 = u64_at(24);
        let n = match u32::try_from(n64) {
            Ok(n) if n != u32::MAX => n as usize,
            _ => return Err(corrupt(path, format!("node count {n64} out of range"))),
        };
        let norms = match u64_at(64) {
            0 => 0,
            k if k == n64 && space == Space::Cosine => n,
            k => return Err(corrupt(path, format!("{k} norms for {n} nodes"))),
        };
        Ok(Header {
            m,
            ef_construction,
            n,
            watermark: u64_at(32),
            entry_node: u32_at(40),
            top: u32_at(44),
            seed: u64_at(48),
            upper_words: u64_at(56),
            norms,
        })
    }

    /// Words of a layer-0 record: the count, then 2M links.
    fn stride0(&self) -> usize {
        1 + 2 * self.m
    }

    /// Words of an upper-layer record: the count, then M links.
    fn stride_up(&self) -> usize {
        1 + self.m
    }

    /// The file length the header implies, in checked arithmetic (the header may be garbage).
    fn file_len(&self) -> Option<usize> {
        let upper = usize::try_from(self.upper_words).ok()?;
        let words = self
            .n
            .checked_mul(self.stride0())?
            .checked_add(self.n)?
            .checked_add(upper)?
            .checked_add(self.norms)?;
        words
            .checked_mul(4)?
            .checked_add(HEADER_LEN)?
            .checked_add(self.n)
    }
}

/// The regions after the header, in place: 4-byte words still little-endian as on disk.
struct Regions<'a> {
    layer0: &'a [u32],
    upper_offsets: &'a [u32],
    upper: &'a [u32],
    inv_norms: &'a [u32],
    levels: &'a [u8],
}

impl<'a> Regions<'a> {
    /// Checks the file has exactly the length `header` implies and cuts it into its regions.
    fn split(bytes: &'a [u8], header: &Header, path: &Path) -> Result<Regions<'a>> {
        let upper_words = header.upper_words;
        let expected = header
            .file_len()
            .ok_or_else(|| corrupt(path, format!("upper-layer size {upper_words} out of range")))?;
        if bytes.len() != expected {
            return Err(corrupt(
                path,
                format!(
                    "{} bytes, the header implies {expected} (truncated or overwritten)",
                    bytes.len()
                ),
            ));
        }
        let words: &[u32] = bytemuck::try_cast_slice(&bytes[..bytes.len() / 4 * 4])
            .map_err(|e| corrupt(path, format!("not aligned for reading in place: {e}")))?;
        let n = header.n;
        let l0_start = HEADER_WORDS;
        let off_start = l0_start + n * header.stride0();
        let up_start = off_start + n;
        let norms_start = up_start + upper_words as usize;
        let lv_start = 4 * (norms_start + header.norms);
        Ok(Regions {
            layer0: &words[l0_start..off_start],
            upper_offsets: &words[off_start..up_start],
            upper: &words[up_start..norms_start],
            inv_norms: &words[norms_start..norms_start + header.norms],
            levels: &bytes[lv_start..],
        })
    }
}

/// Checks every level and that the upper offsets are exactly the running sum the writer
/// made (so the upper layers hold each node's records, back to back); returns the top level.
fn check_levels(regions: &Regions<'_>, header: &Header, path: &Path) -> Result<u8> {
    let mut next = 0usize;
    let mut max_level = 0u8;
    for (s, (&level, &off)) in regions.levels.iter().zip(regions.upper_offsets).enumerate() {
        let off = u32::from_le(off);
        if level > MAX_LEVEL {
            return Err(corrupt(path, format!("node {s} has level {level}")));
        }
        max_level = max_level.max(level);
        let want = if level == 0 { NO_UPPER } else { next as u32 };
        if off != want || (level > 0 && next >= NO_UPPER as usize) {
            return Err(corrupt(
                path,
                format!("node {s}: upper offset {off}, expected {want}"),
            ));
        }
        next += level as usize * header.stride_up();
    }
    if next as u64 != header.upper_words {
        return Err(corrupt(
            path,
            format!(
                "upper layers hold {} words, the levels need {next}",
                header.upper_words
            ),
        ));
    }
    Ok(max_level)
}

/// The entry point: none for an empty graph, else a node on the top level.
fn check_entry(
    header: &Header,
    levels: &[u8],
    max_level: u8,
    path: &Path,
) -> Result<Option<Entry>> {
    let (entry_node, top) = (header.entry_node, header.top);
    if header.n == 0 {
        if entry_node != u32::MAX || top != 0 {
            return Err(corrupt(path, "empty graph with an entry point"));
        }
        return Ok(None);
    }
    let ok = (entry_node as usize) < header.n
        && u32::from(levels[entry_node as usize]) == top
        && top == u32::from(max_level);
    if !ok {
        return Err(corrupt(
            path,
            format!("entry point {entry_node} at level {top} does not match the levels"),
        ));
    }
    Ok(Some(Entry {
        node: entry_node,
        level: max_level,
    }))
}

/// Checks every list of every layer: count within capacity, neighbours existing and tall
/// enough to have that layer.
fn check_lists(regions: &Regions<'_>, header: &Header, path: &Path) -> Result<()> {
    let levels = regions.levels;
    let check_list = |s: usize, layer: usize, list: &[u32]| -> Result<()> {
        let count = u32::from_le(list[0]) as usize;
        if count > list.len() - 1 {
            return Err(corrupt(
                path,
                format!("node {s} layer {layer}: {count} links"),
            ));
        }
        for &nb in &list[1..=count] {
            let nb = u32::from_le(nb);
            if nb as usize >= header.n || (levels[nb as usize] as usize) < layer {
                return Err(corrupt(
                    path,
                    format!("node {s} layer {layer}: bad neighbour {nb}"),
                ));
            }
        }
        Ok(())
    };
    for (s, list) in regions.layer0.chunks_exact(header.stride0()).enumerate() {
        check_list(s, 0, list)?;
    }
    let stride_up = header.stride_up();
    for (s, &level) in levels.iter().enumerate() {
        if level == 0 {
            continue;
        }
        let start = u32::from_le(regions.upper_offsets[s]) as usize;
        for layer in 1..=level as usize {
            let from = start + (layer - 1) * stride_up;
            check_list(s, layer, &regions.upper[from..from + stride_up])?;
        }
    }
    Ok(())
}

/// The inverse norms, each finite and not negative.
fn read_norms(words: &[u32], path: &Path) -> Result<Vec<f32>> {
    let inv_norms: Vec<f32> = words
        .iter()
        .map(|&w| f32::from_bits(u32::from_le(w)))
        .collect();
    if let Some(bad) = inv_norms.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
        return Err(corrupt(path, format!("inverse norm {bad}")));
    }
    Ok(inv_norms)
}

/// The graph made of checked parts; layer 0 copied only with `copy_layer0`.
fn assemble(
    space: Space,
    header: &Header,
    regions: &Regions<'_>,
    entry: Option<Entry>,
    inv_norms: Vec<f32>,
    copy_layer0: bool,
) -> Result<Hnsw> {
    let le = u32::from_le;
    let params = HnswParams {
        max_neighbors: header.m,
        ef_construction: header.ef_construction,
        ef_search: DEFAULT_EF_SEARCH,
        seed: header.seed,
    };
    let mut graph = Hnsw::new(space, params)?;
    graph.watermark = header.watermark;
    graph.levels = regions.levels.to_vec();
    if copy_layer0 {
        graph.layer0 = Links::Owned(
            regions
                .layer0
                .iter()
                .map(|&w| AtomicU32::new(le(w)))
                .collect(),
        );
    }
    graph.upper_offsets = regions.upper_offsets.iter().map(|&w| le(w)).collect();
    graph.upper = regions
        .upper
        .iter()
        .map(|&w| AtomicU32::new(le(w)))
        .collect();
    graph.inv_norms = inv_norms;
    // No node locks: only a build takes them, and `grow` makes them for every node.
    graph.entry = Mutex::new(entry);
    graph.publish();
    Ok(graph)
}
