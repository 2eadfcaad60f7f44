//! The x86_64 kernels: AVX2+FMA on 256-bit `ymm` registers and AVX-512F on 512-bit `zmm` registers.
//!
//! Each instruction set has one `#[target_feature]` entry point, `distances`, that holds the
//! whole loop over a block of rows, so the CPU-feature dispatch happens once per block and the
//! per-row helpers inline into it under the same features. The entry points are
//! `#[inline(never)]` so their symbols survive for `scripts/check-simd-disasm.sh`, which checks
//! that they really emit `vfmadd` on `ymm` / `zmm`.
//!
//! `wide` is not used here: it picks instructions from the crate-wide `cfg(target_feature)`, so
//! inside a `#[target_feature]` function it would still emit SSE2.
//!
//! Calling an entry point is sound only on a CPU with the features it enables; `Kernel` checks
//! `Isa::available` when it is made, and only `Kernel::distances` calls these.

/// AVX2 + FMA: four `ymm` accumulators (32 floats per step) hide the FMA latency; the last
/// `< 8` floats are read with a masked load.
pub(super) mod avx2 {
    use std::arch::x86_64::{
        __m256, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehdup_ps, _mm_movehl_ps,
        _mm256_add_ps, _mm256_castps256_ps128, _mm256_cmpgt_epi32, _mm256_extractf128_ps,
        _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_maskload_ps, _mm256_set1_epi32, _mm256_setr_epi32,
        _mm256_setzero_ps, _mm256_sub_ps,
    };

    use crate::distance::scalar::cosine_from_parts;
    use crate::distance::{Rows, Space};

    /// Distances from `query` to each row of `rows` (rows back to back, `query.len() > 0`
    /// floats each). The caller must have checked that the CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    #[inline(never)]
    pub(in crate::distance) fn distances(
        space: Space,
        query: &[f32],
        rows: Rows<'_>,
        out: &mut [f32],
    ) {
        let dim = query.len();
        match rows {
            Rows::Packed(rows) => each_row(space, query, rows.chunks_exact(dim), out),
            Rows::At { table, slots } => each_row(space, query, Rows::at(table, slots, dim), out),
        }
    }

    /// The loop over the rows, inlined into `distances` once per kind of [`Rows`].
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn each_row<'a>(
        space: Space,
        query: &[f32],
        rows: impl Iterator<Item = &'a [f32]>,
        out: &mut [f32],
    ) {
        let rows = rows.zip(out.iter_mut());
        match space {
            Space::L2 => {
                for (row, d) in rows {
                    *d = l2(query, row);
                }
            }
            Space::Ip => {
                for (row, d) in rows {
                    *d = 1.0 - dot(query, row);
                }
            }
            Space::Cosine => {
                let query_norm = dot(query, query).sqrt();
                for (row, d) in rows {
                    let (dot, norm_sq) = dot_and_norm(query, row);
                    *d = cosine_from_parts(dot, query_norm, norm_sq.sqrt());
                }
            }
        }
    }

    /// Eight floats into a `ymm` register.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn load(v: &[f32; 8]) -> __m256 {
        // SAFETY: `v` is 8 readable floats, exactly one register's worth; `loadu` has no
        // alignment requirement, and this function only runs where AVX is enabled.
        unsafe { _mm256_loadu_ps(v.as_ptr()) }
    }

    /// The first `min(v.len(), 8)` floats of `v` into a `ymm` register, zeros in the other lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn load_tail(v: &[f32]) -> __m256 {
        let n = v.len().min(8) as i32;
        // Lane i is enabled when i < n (the sign bit of the lane selects it).
        let mask = _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        );
        // SAFETY: the mask enables lanes 0..n only, and n <= v.len(), so every float read is
        // inside `v`; `vmaskmovps` does not access (nor fault on) the disabled lanes.
        unsafe { _mm256_maskload_ps(v.as_ptr(), mask) }
    }

    /// The sum of the eight lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn dot(a: &[f32], b: &[f32]) -> f32 {
        let (a8, a_tail) = a.as_chunks::<8>();
        let (b8, b_tail) = b.as_chunks::<8>();
        let (a32, a8_rest) = a8.as_chunks::<4>();
        let (b32, b8_rest) = b8.as_chunks::<4>();
        let mut acc = [_mm256_setzero_ps(); 4];
        for (x, y) in a32.iter().zip(b32) {
            acc[0] = _mm256_fmadd_ps(load(&x[0]), load(&y[0]), acc[0]);
            acc[1] = _mm256_fmadd_ps(load(&x[1]), load(&y[1]), acc[1]);
            acc[2] = _mm256_fmadd_ps(load(&x[2]), load(&y[2]), acc[2]);
            acc[3] = _mm256_fmadd_ps(load(&x[3]), load(&y[3]), acc[3]);
        }
        for (i, (x, y)) in a8_rest.iter().zip(b8_rest).enumerate() {
            acc[i] = _mm256_fmadd_ps(load(x), load(y), acc[i]);
        }
        if !a_tail.is_empty() {
            acc[3] = _mm256_fmadd_ps(load_tail(a_tail), load_tail(b_tail), acc[3]);
        }
        hsum(_mm256_add_ps(
            _mm256_add_ps(acc[0], acc[1]),
            _mm256_add_ps(acc[2], acc[3]),
        ))
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn l2(a: &[f32], b: &[f32]) -> f32 {
        let (a8, a_tail) = a.as_chunks::<8>();
        let (b8, b_tail) = b.as_chunks::<8>();
        let (a32, a8_rest) = a8.as_chunks::<4>();
        let (b32, b8_rest) = b8.as_chunks::<4>();
        let mut acc = [_mm256_setzero_ps(); 4];
        for (x, y) in a32.iter().zip(b32) {
            for k in 0..4 {
                let d = _mm256_sub_ps(load(&x[k]), load(&y[k]));
                acc[k] = _mm256_fmadd_ps(d, d, acc[k]);
            }
        }
        for (i, (x, y)) in a8_rest.iter().zip(b8_rest).enumerate() {
            let d = _mm256_sub_ps(load(x), load(y));
            acc[i] = _mm256_fmadd_ps(d, d, acc[i]);
        }
        if !a_tail.is_empty() {
            let d = _mm256_sub_ps(load_tail(a_tail), load_tail(b_tail));
            acc[3] = _mm256_fmadd_ps(d, d, acc[3]);
        }
        hsum(_mm256_add_ps(
            _mm256_add_ps(acc[0], acc[1]),
            _mm256_add_ps(acc[2], acc[3]),
        ))
    }

    /// `(a.b, |b|^2)` in one pass over `b`, for cosine: two accumulators for each sum.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn dot_and_norm(a: &[f32], b: &[f32]) -> (f32, f32) {
        let (a8, a_tail) = a.as_chunks::<8>();
        let (b8, b_tail) = b.as_chunks::<8>();
        let (a16, a8_rest) = a8.as_chunks::<2>();
        let (b16, b8_rest) = b8.as_chunks::<2>();
        let mut dot = [_mm256_setzero_ps(); 2];
        let mut norm = [_mm256_setzero_ps(); 2];
        for (x, y) in a16.iter().zip(b16) {
            for k in 0..2 {
                let yk = load(&y[k]);
                dot[k] = _mm256_fmadd_ps(load(&x[k]), yk, dot[k]);
                norm[k] = _mm256_fmadd_ps(yk, yk, norm[k]);
            }
        }
        for (x, y) in a8_rest.iter().zip(b8_rest) {
            let y = load(y);
            dot[0] = _mm256_fmadd_ps(load(x), y, dot[0]);
            norm[0] = _mm256_fmadd_ps(y, y, norm[0]);
        }
        if !a_tail.is_empty() {
            let y = load_tail(b_tail);
            dot[1] = _mm256_fmadd_ps(load_tail(a_tail), y, dot[1]);
            norm[1] = _mm256_fmadd_ps(y, y, norm[1]);
        }
        (
            hsum(_mm256_add_ps(dot[0], dot[1])),
            hsum(_mm256_add_ps(norm[0], norm[1])),
        )
    }
}

/// AVX-512F: four `zmm` accumulators (64 floats per step); the last `< 16` floats are read
/// with a masked load, so there is no scalar tail.
pub(super) mod avx512 {
    use std::arch::x86_64::{
        __m512, __mmask16, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_maskz_loadu_ps,
        _mm512_reduce_add_ps, _mm512_setzero_ps, _mm512_sub_ps,
    };

    use crate::distance::scalar::cosine_from_parts;
    use crate::distance::{Rows, Space};

    /// Distances from `query` to each row of `rows` (rows back to back, `query.len() > 0`
    /// floats each). The caller must have checked that the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    #[inline(never)]
    pub(in crate::distance) fn distances(
        space: Space,
        query: &[f32],
        rows: Rows<'_>,
        out: &mut [f32],
    ) {
        let dim = query.len();
        match rows {
            Rows::Packed(rows) => each_row(space, query, rows.chunks_exact(dim), out),
            Rows::At { table, slots } => each_row(space, query, Rows::at(table, slots, dim), out),
        }
    }

    /// The loop over the rows, inlined into `distances` once per kind of [`Rows`].
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn each_row<'a>(
        space: Space,
        query: &[f32],
        rows: impl Iterator<Item = &'a [f32]>,
        out: &mut [f32],
    ) {
        let rows = rows.zip(out.iter_mut());
        match space {
            Space::L2 => {
                for (row, d) in rows {
                    *d = l2(query, row);
                }
            }
            Space::Ip => {
                for (row, d) in rows {
                    *d = 1.0 - dot(query, row);
                }
            }
            Space::Cosine => {
                let query_norm = dot(query, query).sqrt();
                for (row, d) in rows {
                    let (dot, norm_sq) = dot_and_norm(query, row);
                    *d = cosine_from_parts(dot, query_norm, norm_sq.sqrt());
                }
            }
        }
    }

    /// Sixteen floats into a `zmm` register.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn load(v: &[f32; 16]) -> __m512 {
        // SAFETY: `v` is 16 readable floats, exactly one register's worth; `loadu` has no
        // alignment requirement, and this function only runs where AVX-512F is enabled.
        unsafe { _mm512_loadu_ps(v.as_ptr()) }
    }

    /// The first `min(v.len(), 16)` floats of `v` into a `zmm` register, zeros in the others.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn load_tail(v: &[f32]) -> __m512 {
        let n = v.len().min(16);
        // Bit i set for i < n; computed in u32 so that n = 16 does not overflow the shift.
        let mask = ((1u32 << n) - 1) as __mmask16;
        // SAFETY: the mask enables lanes 0..n only, and n <= v.len(), so every float read is
        // inside `v`; AVX-512 masked loads do not access (nor fault on) disabled lanes.
        unsafe { _mm512_maskz_loadu_ps(mask, v.as_ptr()) }
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    fn dot(a: &[f32], b: &[f32]) -> f32 {
        let (a16, a_tail) = a.as_chunks::<16>();
        let (b16, b_tail) = b.as_chunks::<16>();
        let (a64, a16_rest) = a16.as_chunks::<4>();
        let (b64, b16_rest) = b16.as_chunks::<4>();
        let mut acc = [_mm512_setzero_ps(); 4];
        for (x, y) in a64.iter().zip(b64) {
            acc[0] = _mm512_fmadd_ps(load(&x[0]), load(&y[0]), acc[0]);
            acc[1] = _mm512_fmadd_ps(load(&x[1]), load(&y[1]), acc[1]);
            acc[2] = _mm512_fmadd_ps(load(&x[2]), load(&y[2]), acc[2]);
            acc[3] = _mm512_fmadd_ps(load(&x[3]), load(&y[3]), acc[3]);
        }
        for (i, (x, y)) in a16_rest.iter().zip(b16_rest).enumerate() {
            acc[i] = _mm512_fmadd_ps(load(x), load(y), acc[i]);
        }
        if !a_tail.is_empty() {
            acc[3] = _mm512_fmadd_ps(load_tail(a_tail), load_tail(b_tail), acc[3]);
        }
        _mm512_reduce_add_ps(_mm512_add_ps(
            _mm512_add_ps(acc[0], acc[1]),
            _mm512_add_ps(acc[2], acc[3]),
        ))
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    fn l2(a: &[f32], b: &[f32]) -> f32 {
        let (a16, a_tail) = a.as_chunks::<16>();
        let (b16, b_tail) = b.as_chunks::<16>();
        let (a64, a16_rest) = a16.as_chunks::<4>();
        let (b64, b16_rest) = b16.as_chunks::<4>();
        let mut acc = [_mm512_setzero_ps(); 4];
        for (x, y) in a64.iter().zip(b64) {
            for k in 0..4 {
                let d = _mm512_sub_ps(load(&x[k]), load(&y[k]));
                acc[k] = _mm512_fmadd_ps(d, d, acc[k]);
            }
        }
        for (i, (x, y)) in a16_rest.iter().zip(b16_rest).enumerate() {
            let d = _mm512_sub_ps(load(x), load(y));
            acc[i] = _mm512_fmadd_ps(d, d, acc[i]);
        }
        if !a_tail.is_empty() {
            let d = _mm512_sub_ps(load_tail(a_tail), load_tail(b_tail));
            acc[3] = _mm512_fmadd_ps(d, d, acc[3]);
        }
        _mm512_reduce_add_ps(_mm512_add_ps(
            _mm512_add_ps(acc[0], acc[1]),
            _mm512_add_ps(acc[2], acc[3]),
        ))
    }

    /// `(a.b, |b|^2)` in one pass over `b`, for cosine: two accumulators for each sum.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn dot_and_norm(a: &[f32], b: &[f32]) -> (f32, f32) {
        let (a16, a_tail) = a.as_chunks::<16>();
        let (b16, b_tail) = b.as_chunks::<16>();
        let (a32, a16_rest) = a16.as_chunks::<2>();
        let (b32, b16_rest) = b16.as_chunks::<2>();
        let mut dot = [_mm512_setzero_ps(); 2];
        let mut norm = [_mm512_setzero_ps(); 2];
        for (x, y) in a32.iter().zip(b32) {
            for k in 0..2 {
                let yk = load(&y[k]);
                dot[k] = _mm512_fmadd_ps(load(&x[k]), yk, dot[k]);
                norm[k] = _mm512_fmadd_ps(yk, yk, norm[k]);
            }
        }
        for (x, y) in a16_rest.iter().zip(b16_rest) {
            let y = load(y);
            dot[0] = _mm512_fmadd_ps(load(x), y, dot[0]);
            norm[0] = _mm512_fmadd_ps(y, y, norm[0]);
        }
        if !a_tail.is_empty() {
            let y = load_tail(b_tail);
            dot[1] = _mm512_fmadd_ps(load_tail(a_tail), y, dot[1]);
            norm[1] = _mm512_fmadd_ps(y, y, norm[1]);
        }
        (
            _mm512_reduce_add_ps(_mm512_add_ps(dot[0], dot[1])),
            _mm512_reduce_add_ps(_mm512_add_ps(norm[0], norm[1])),
        )
    }
}
