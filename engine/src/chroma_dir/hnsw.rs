//! Chroma's persisted HNSW segment directory (`<segment uuid>/`): the vectors its hnswlib
//! index holds, by user id.
//!
//! What is read, all little-endian:
//! - `header.bin` (100 bytes): persistence version (i32, 1), then as `usize`/`u64`: level-0
//!   offset, capacity, element count, bytes per element, label offset, data offset; the top
//!   level (i32), the entry point (u32), M_max, M_max0, M (u64), the level multiplier (f64) and
//!   ef_construction (u64).
//! - `data_level0.bin`: one fixed-size element per internal id: the level-0 link list (a u32
//!   whose third byte carries the deleted mark, then M_max0 u32 links), the vector (f32 x
//!   dim), the label (u64).
//! - `length.bin`: one f32 per element, the vector's norm when the space is cosine (the
//!   vector itself is stored normalized; the original is vector x norm).
//! - `index_metadata.pickle`: `id_to_label`, the user id of each label.
//!
//! The graph's links (`link_lists.bin` and level 0's) are not read: mnemodb builds its own.

use std::collections::HashMap;
use std::path::Path;

use super::pickle::{self, Value};
use crate::distance::Space;
use crate::error::{Error, Result};

const HEADER_LEN: usize = 100;
const PERSISTENCE_VERSION: i32 = 1;
const DELETE_MARK: u8 = 0x01;

/// The vectors of one segment directory, by user id.
#[derive(Debug, Default)]
pub(crate) struct SegmentVectors {
    pub(crate) by_id: HashMap<String, Vec<f32>>,
}

fn corrupt(path: &Path, detail: impl Into<String>) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io("read", path, e))
}

struct Header {
    count: usize,
    element_size: usize,
    label_offset: usize,
    data_offset: usize,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn parse_header(path: &Path, b: &[u8]) -> Result<Header> {
    if b.len() != HEADER_LEN {
        return Err(corrupt(
            path,
            format!("expected {HEADER_LEN} bytes, found {}", b.len()),
        ));
    }
    let version = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if version != PERSISTENCE_VERSION {
        return Err(Error::UnsupportedFormat {
            path: path.to_path_buf(),
            found: version as u32,
            supported: PERSISTENCE_VERSION as u32,
        });
    }
    let field = |at: usize, name: &str| {
        usize::try_from(u64_at(b, at)).map_err(|_| corrupt(path, format!("{name} out of range")))
    };
    let h = Header {
        count: field(20, "element count")?,
        element_size: field(28, "element size")?,
        label_offset: field(36, "label offset")?,
        data_offset: field(44, "data offset")?,
    };
    let ok = h.data_offset >= 4
        && h.data_offset <= h.label_offset
        && (h.label_offset - h.data_offset).is_multiple_of(4)
        && h.label_offset.checked_add(8) == Some(h.element_size);
    if !ok {
        return Err(corrupt(
            path,
            format!(
                "inconsistent layout (data at {}, label at {}, element of {} bytes)",
                h.data_offset, h.label_offset, h.element_size
            ),
        ));
    }
    Ok(h)
}

/// The labels' user ids from `index_metadata.pickle`.
fn id_to_label(path: &Path) -> Result<Vec<(String, u64)>> {
    let v = pickle::read(&read_file(path)?).map_err(|e| corrupt(path, e))?;
    let Some(Value::Dict(items)) = v.get("id_to_label") else {
        return Err(corrupt(path, "no id_to_label dict"));
    };
    items
        .iter()
        .map(|(k, v)| match (k, v) {
            (Value::Str(id), Value::Int(label)) if *label >= 0 => Ok((id.clone(), *label as u64)),
            _ => Err(corrupt(
                path,
                "id_to_label holds something else than id: label",
            )),
        })
        .collect()
}

/// Reads the vectors of the segment in `dir` for a collection of `dim` dimensions in `space`.
/// A directory without `index_metadata.pickle` has flushed nothing: no vectors.
pub(crate) fn read_segment(dir: &Path, dim: usize, space: Space) -> Result<SegmentVectors> {
    let pickle_path = dir.join("index_metadata.pickle");
    if !pickle_path.is_file() {
        return Ok(SegmentVectors::default());
    }
    let ids = id_to_label(&pickle_path)?;
    let header_path = dir.join("header.bin");
    let h = parse_header(&header_path, &read_file(&header_path)?)?;
    let found_dim = (h.label_offset - h.data_offset) / 4;
    if found_dim != dim {
        return Err(corrupt(
            &header_path,
            format!("vectors of {found_dim} dimensions, the collection has {dim}"),
        ));
    }
    let level0_path = dir.join("data_level0.bin");
    let level0 = read_file(&level0_path)?;
    let needed = h.count.checked_mul(h.element_size);
    if needed.is_none_or(|n| level0.len() < n) {
        return Err(corrupt(
            &level0_path,
            format!(
                "{} bytes, too short for {} elements of {} bytes",
                level0.len(),
                h.count,
                h.element_size
            ),
        ));
    }
    let norms = if space == Space::Cosine {
        let length_path = dir.join("length.bin");
        let b = read_file(&length_path)?;
        if b.len() < h.count * 4 {
            return Err(corrupt(&length_path, "shorter than one norm per element"));
        }
        Some(b)
    } else {
        None
    };
    // label -> internal id, live elements only (a deleted element's label may be reused).
    let mut by_label: HashMap<u64, usize> = HashMap::with_capacity(h.count);
    for i in 0..h.count {
        let e = &level0[i * h.element_size..(i + 1) * h.element_size];
        if e[2] & DELETE_MARK != 0 {
            continue;
        }
        by_label.insert(u64_at(e, h.label_offset), i);
    }
    let mut out = SegmentVectors::default();
    out.by_id.reserve(ids.len());
    for (id, label) in ids {
        let Some(&i) = by_label.get(&label) else {
            // Deleted in the index (the id map keeps it until the next rewrite): the records
            // decide what exists, and this one has no vector here.
            continue;
        };
        let e = &level0[i * h.element_size..(i + 1) * h.element_size];
        let raw = &e[h.data_offset..h.label_offset];
        let norm = norms
            .as_ref()
            .map(|n| f32::from_le_bytes([n[i * 4], n[i * 4 + 1], n[i * 4 + 2], n[i * 4 + 3]]));
        let v: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| {
                let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                norm.map_or(x, |n| x * n)
            })
            .collect();
        out.by_id.insert(id, v);
    }
    Ok(out)
}

/// A vector as a cosine index stores and returns it: normalized with its norm (in f32, in
/// order, the norm plus 1e-30 as hnswlib does), then multiplied back by the norm. chromadb
/// returns the same floats for a record whether it is in the index files or still queued.
pub(crate) fn cosine_round_trip(v: &mut [f32]) {
    let mut sum = 0.0f32;
    for x in v.iter() {
        sum += x * x;
    }
    let length = sum.sqrt();
    let inverse = 1.0f32 / (length + 1e-30f32);
    for x in v.iter_mut() {
        *x = (*x * inverse) * length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(count: u64, dim: u64) -> Vec<u8> {
        let data_offset = 4 + 32 * 4u64;
        let label_offset = data_offset + dim * 4;
        let mut b = Vec::new();
        b.extend_from_slice(&1i32.to_le_bytes());
        for v in [
            0u64,
            count,
            count,
            label_offset + 8,
            label_offset,
            data_offset,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&0i32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        for v in [16u64, 32, 16] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&0.36f64.to_le_bytes());
        b.extend_from_slice(&100u64.to_le_bytes());
        b
    }

    #[test]
    fn headers_are_checked() {
        let p = Path::new("header.bin");
        let good = header(3, 4);
        assert_eq!(good.len(), HEADER_LEN);
        let h = parse_header(p, &good).expect("good header");
        assert_eq!((h.count, (h.label_offset - h.data_offset) / 4), (3, 4));
        let mut newer = good.clone();
        newer[0] = 2;
        assert!(matches!(
            parse_header(p, &newer),
            Err(Error::UnsupportedFormat { found: 2, .. })
        ));
        let mut skewed = good.clone();
        skewed[28] ^= 1; // element size no longer label + 8
        assert!(matches!(
            parse_header(p, &skewed),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(
            parse_header(p, &good[..50]),
            Err(Error::Corrupt { .. })
        ));
    }
}
