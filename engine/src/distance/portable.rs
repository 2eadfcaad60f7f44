//! The portable kernels: `wide::f32x8`, compiled for the build's baseline (SSE2 on x86_64, NEON on aarch64).
//!
//! `wide` chooses its instructions from the crate-wide `cfg(target_feature)`, not at run time,
//! so this path runs on every CPU the build targets and needs no availability check.

use wide::f32x8;

use super::scalar::cosine_from_parts;
use super::{Rows, Space};

/// Distances from `query` to each row of `rows` (rows back to back, `query.len() > 0` floats each).
pub(super) fn distances(space: Space, query: &[f32], rows: Rows<'_>, out: &mut [f32]) {
    let dim = query.len();
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
    let rows = rows.zip(out.iter_mut());
    match space {
        Space::L2 => rows.for_each(|(row, d)| *d = l2(query, row)),
        Space::Ip => rows.for_each(|(row, d)| *d = 1.0 - dot(query, row)),
        Space::Cosine => {
            let query_norm = dot(query, query).sqrt();
            for (row, d) in rows {
                let (dot, norm_sq) = dot_and_norm(query, row);
                *d = cosine_from_parts(dot, query_norm, norm_sq.sqrt());
            }
        }
    }
}

/// The last `< 8` floats of a vector, zero-padded: zeros add nothing to a dot or an l2 sum.
fn tail(v: &[f32]) -> f32x8 {
    f32x8::from(v)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a8, a_tail) = a.as_chunks::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    // Two independent accumulators (four xmm registers on SSE2) so consecutive adds overlap.
    let (a16, a8_rest) = a8.as_chunks::<2>();
    let (b16, b8_rest) = b8.as_chunks::<2>();
    let mut acc0 = f32x8::ZERO;
    let mut acc1 = f32x8::ZERO;
    for ([x0, x1], [y0, y1]) in a16.iter().zip(b16) {
        acc0 = f32x8::new(*x0).mul_add(f32x8::new(*y0), acc0);
        acc1 = f32x8::new(*x1).mul_add(f32x8::new(*y1), acc1);
    }
    for (x, y) in a8_rest.iter().zip(b8_rest) {
        acc0 = f32x8::new(*x).mul_add(f32x8::new(*y), acc0);
    }
    acc1 = tail(a_tail).mul_add(tail(b_tail), acc1);
    (acc0 + acc1).reduce_add()
}

fn l2(a: &[f32], b: &[f32]) -> f32 {
    let (a8, a_tail) = a.as_chunks::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    let (a16, a8_rest) = a8.as_chunks::<2>();
    let (b16, b8_rest) = b8.as_chunks::<2>();
    let mut acc0 = f32x8::ZERO;
    let mut acc1 = f32x8::ZERO;
    for ([x0, x1], [y0, y1]) in a16.iter().zip(b16) {
        let d0 = f32x8::new(*x0) - f32x8::new(*y0);
        let d1 = f32x8::new(*x1) - f32x8::new(*y1);
        acc0 = d0.mul_add(d0, acc0);
        acc1 = d1.mul_add(d1, acc1);
    }
    for (x, y) in a8_rest.iter().zip(b8_rest) {
        let d = f32x8::new(*x) - f32x8::new(*y);
        acc0 = d.mul_add(d, acc0);
    }
    let d = tail(a_tail) - tail(b_tail);
    acc1 = d.mul_add(d, acc1);
    (acc0 + acc1).reduce_add()
}

/// `(a.b, |b|^2)` in one pass over `b`, for cosine.
fn dot_and_norm(a: &[f32], b: &[f32]) -> (f32, f32) {
    let (a8, a_tail) = a.as_chunks::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    let mut dot = f32x8::ZERO;
    let mut norm = f32x8::ZERO;
    for (x, y) in a8.iter().zip(b8) {
        let y = f32x8::new(*y);
        dot = f32x8::new(*x).mul_add(y, dot);
        norm = y.mul_add(y, norm);
    }
    let y = tail(b_tail);
    dot = tail(a_tail).mul_add(y, dot);
    norm = y.mul_add(y, norm);
    (dot.reduce_add(), norm.reduce_add())
}
