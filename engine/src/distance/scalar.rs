//! The scalar kernels: one element at a time in f32, the oracle every SIMD path is tested against.

use super::{Rows, Space};

/// Distances from `query` to each of `rows` (`query.len()` floats each).
pub(super) fn distances(space: Space, query: &[f32], rows: Rows<'_>, out: &mut [f32]) {
    let dim = query.len();
    if dim == 0 {
        // Zero-dimensional vectors: every sum is empty.
        out.fill(match space {
            Space::L2 => 0.0,
            Space::Ip | Space::Cosine => 1.0,
        });
        return;
    }
    match rows {
        Rows::Packed(rows) => each_row(space, query, rows.chunks_exact(dim), out),
        Rows::At { table, slots } => each_row(space, query, Rows::at(table, slots, dim), out),
    }
}

fn each_row<'a>(
    space: Space,
    query: &[f32],
    rows: impl Iterator<Item = &'a [f32]>,
    out: &mut [f32],
) {
    let query_norm = match space {
        Space::Cosine => dot(query, query).sqrt(),
        _ => 0.0,
    };
    for (row, d) in rows.zip(out.iter_mut()) {
        *d = match space {
            Space::L2 => l2(query, row),
            Space::Ip => 1.0 - dot(query, row),
            Space::Cosine => cosine_from_parts(dot(query, row), query_norm, dot(row, row).sqrt()),
        };
    }
}

/// Chroma's cosine distance from a dot product and the two norms.
pub(super) fn cosine_from_parts(dot: f32, norm_a: f32, norm_b: f32) -> f32 {
    1.0 - dot / (norm_a * norm_b + 1e-30)
}

fn l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
