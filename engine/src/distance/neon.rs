//! The aarch64 NEON kernels: `wide::f32x4`, which compiles to NEON `fmla` on 128-bit registers.
//!
//! NEON is part of the aarch64 baseline (`target_feature = "neon"` is on for every aarch64
//! target we build), and `wide` picks its instructions from that compile-time feature, so no
//! run-time dispatch or `unsafe` is needed. Unlike `portable` (two 8-float accumulators), this
//! path keeps four 4-float accumulators, one per NEON register, to hide the `fmla` latency.

use wide::f32x4;

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

/// The last `< 4` floats of a vector, zero-padded: zeros add nothing to a dot or an l2 sum.
fn tail(v: &[f32]) -> f32x4 {
    f32x4::from(v)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a4, a_tail) = a.as_chunks::<4>();
    let (b4, b_tail) = b.as_chunks::<4>();
    let (a16, a4_rest) = a4.as_chunks::<4>();
    let (b16, b4_rest) = b4.as_chunks::<4>();
    let mut acc = [f32x4::ZERO; 4];
    for (x, y) in a16.iter().zip(b16) {
        for k in 0..4 {
            acc[k] = f32x4::new(x[k]).mul_add(f32x4::new(y[k]), acc[k]);
        }
    }
    for (i, (x, y)) in a4_rest.iter().zip(b4_rest).enumerate() {
        acc[i] = f32x4::new(*x).mul_add(f32x4::new(*y), acc[i]);
    }
    acc[3] = tail(a_tail).mul_add(tail(b_tail), acc[3]);
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add()
}

fn l2(a: &[f32], b: &[f32]) -> f32 {
    let (a4, a_tail) = a.as_chunks::<4>();
    let (b4, b_tail) = b.as_chunks::<4>();
    let (a16, a4_rest) = a4.as_chunks::<4>();
    let (b16, b4_rest) = b4.as_chunks::<4>();
    let mut acc = [f32x4::ZERO; 4];
    for (x, y) in a16.iter().zip(b16) {
        for k in 0..4 {
            let d = f32x4::new(x[k]) - f32x4::new(y[k]);
            acc[k] = d.mul_add(d, acc[k]);
        }
    }
    for (i, (x, y)) in a4_rest.iter().zip(b4_rest).enumerate() {
        let d = f32x4::new(*x) - f32x4::new(*y);
        acc[i] = d.mul_add(d, acc[i]);
    }
    let d = tail(a_tail) - tail(b_tail);
    acc[3] = d.mul_add(d, acc[3]);
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add()
}

/// `(a.b, |b|^2)` in one pass over `b`, for cosine: two accumulators for each sum.
fn dot_and_norm(a: &[f32], b: &[f32]) -> (f32, f32) {
    let (a4, a_tail) = a.as_chunks::<4>();
    let (b4, b_tail) = b.as_chunks::<4>();
    let (a8, a4_rest) = a4.as_chunks::<2>();
    let (b8, b4_rest) = b4.as_chunks::<2>();
    let mut dot = [f32x4::ZERO; 2];
    let mut norm = [f32x4::ZERO; 2];
    for (x, y) in a8.iter().zip(b8) {
        for k in 0..2 {
            let yk = f32x4::new(y[k]);
            dot[k] = f32x4::new(x[k]).mul_add(yk, dot[k]);
            norm[k] = yk.mul_add(yk, norm[k]);
        }
    }
    for (x, y) in a4_rest.iter().zip(b4_rest) {
        let y = f32x4::new(*y);
        dot[0] = f32x4::new(*x).mul_add(y, dot[0]);
        norm[0] = y.mul_add(y, norm[0]);
    }
    let y = tail(b_tail);
    dot[1] = tail(a_tail).mul_add(y, dot[1]);
    norm[1] = y.mul_add(y, norm[1]);
    (
        (dot[0] + dot[1]).reduce_add(),
        (norm[0] + norm[1]).reduce_add(),
    )
}
