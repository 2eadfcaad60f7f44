//! Half-precision rows for the graph walk: each row stored as IEEE binary16 values of
//! `row / max|row|`, with the scale kept beside it in f32.
//!
//! A walk over 100k rows of 384 floats waits on memory, not on arithmetic: a row is 24 cache
//! lines in f32 and 12 in f16, and a distance costs about what its row takes to arrive
//! (measured on the reference VM: ~185 ns per random f32 row, ~115 ns per f16 row). Dividing
//! by the row's largest magnitude first puts every value in `[-1, 1]`, where f16 keeps 11
//! significant bits whatever the row's own scale was, and no value can overflow.
//!
//! Only the dot product `q . row` is needed here: the walk derives each space's distance from
//! it and per-row norms (see `search::hnsw::Rows`). Decoding is exact (every f16 is an f32),
//! so a kernel's result is the f32 dot product of `q` with the decoded row, and the kernels
//! are tested against the f32 reference under the same error bounds as the f32 kernels.
//! Encoding and plain decoding go through the `half` crate (F16C when the CPU has it).

use half::f16;
use half::slice::{HalfBitsSliceExt, HalfFloatSliceExt};

use super::{Isa, Kernel};

/// Encodes `row` into `out` (same length) as f16 values of `row / max|row|`, and returns that
/// scale. A zero row (or one holding a non-finite value, which validation keeps out of the
/// store) is encoded as zeros with scale 0: its dot product with anything is then 0.
pub(crate) fn encode(row: &[f32], out: &mut [u16], scratch: &mut Vec<f32>) -> f32 {
    assert_eq!(row.len(), out.len(), "one f16 per float");
    let max = row.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if !(max > 0.0 && max.is_finite()) || row.iter().any(|x| !x.is_finite()) {
        out.fill(0);
        return 0.0;
    }
    let inv = 1.0 / max;
    scratch.clear();
    scratch.extend(row.iter().map(|x| x * inv));
    out.reinterpret_cast_mut::<f16>()
        .convert_from_f32_slice(scratch);
    max
}

/// The row encoded by [`encode`] with `scale`, decoded into `out`.
pub(crate) fn decode(bits: &[u16], scale: f32, out: &mut [f32]) {
    bits.reinterpret_cast::<f16>().convert_to_f32_slice(out);
    for x in out.iter_mut() {
        *x *= scale;
    }
}

impl Kernel {
    /// `q . h`, with `h` f16 bit patterns decoded exactly to f32 (the scale is the caller's).
    ///
    /// # Panics
    /// If the lengths differ.
    #[inline]
    pub(crate) fn dot_half(&self, q: &[f32], h: &[u16]) -> f32 {
        assert_eq!(q.len(), h.len(), "one f16 per float");
        match self.isa {
            Isa::Scalar => scalar_dot(q, h),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                // SAFETY: a Kernel holds only an available path (`Kernel::with_isa`), so this
                // CPU has AVX-512F, which includes the 512-bit f16 conversion.
                unsafe { x86::avx512_dot(q, h) }
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 if f16c() => {
                // SAFETY: the path proves AVX2 and FMA (as above), and `f16c()` checked F16C.
                unsafe { x86::avx2_dot(q, h) }
            }
            _ => portable_dot(q, h),
        }
    }
}

/// Whether this CPU converts f16 in hardware (every AVX2 CPU made does; checked anyway,
/// because calling F16C code without it would be undefined behaviour). Cached by std.
#[cfg(target_arch = "x86_64")]
#[inline]
fn f16c() -> bool {
    is_x86_feature_detected!("f16c")
}

/// The oracle: decode one value at a time, sum in order.
fn scalar_dot(q: &[f32], h: &[u16]) -> f32 {
    q.iter()
        .zip(h)
        .map(|(&x, &b)| x * f16::from_bits(b).to_f32())
        .sum()
}

/// Any CPU: decode 32 values at a time through `half` into a buffer, then `wide` lanes.
fn portable_dot(q: &[f32], h: &[u16]) -> f32 {
    use wide::f32x8;
    let mut buf = [0.0f32; 32];
    let mut acc = [f32x8::ZERO; 4];
    for (qc, hc) in q.chunks(32).zip(h.chunks(32)) {
        let buf = &mut buf[..hc.len()];
        hc.reinterpret_cast::<f16>().convert_to_f32_slice(buf);
        let (q8, q_tail) = qc.as_chunks::<8>();
        let (b8, b_tail) = buf.as_chunks::<8>();
        for (i, (x, y)) in q8.iter().zip(b8).enumerate() {
            acc[i] = f32x8::new(*x).mul_add(f32x8::new(*y), acc[i]);
        }
        // Only the last chunk has a tail; zero padding adds nothing.
        acc[3] = f32x8::from(q_tail).mul_add(f32x8::from(b_tail), acc[3]);
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add()
}

/// The x86_64 kernels: the conversion (`vcvtph2ps`) fused into the dot product's loop.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_loadu_si128, _mm_movehdup_ps,
        _mm_movehl_ps, _mm256_add_ps, _mm256_castps256_ps128, _mm256_cvtph_ps,
        _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_loadu_si256,
        _mm256_setzero_ps, _mm512_add_ps, _mm512_cvtph_ps, _mm512_fmadd_ps, _mm512_loadu_ps,
        _mm512_reduce_add_ps, _mm512_setzero_ps,
    };

    use super::scalar_dot;

    /// AVX2 + FMA + F16C: 32 values per step in four accumulators, a scalar tail.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline(never)]
    pub(super) fn avx2_dot(q: &[f32], h: &[u16]) -> f32 {
        let (q8, q_tail) = q.as_chunks::<8>();
        let (h8, h_tail) = h.as_chunks::<8>();
        let mut acc = [_mm256_setzero_ps(); 4];
        for (i, (x, y)) in q8.iter().zip(h8).enumerate() {
            // SAFETY: `x` is 8 floats and `y` 8 u16 (16 bytes), one register's worth each;
            // the unaligned loads have no alignment requirement.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_ps(x.as_ptr()),
                    _mm_loadu_si128(y.as_ptr().cast::<__m128i>()),
                )
            };
            acc[i % 4] = _mm256_fmadd_ps(x, _mm256_cvtph_ps(y), acc[i % 4]);
        }
        let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s))) + scalar_dot(q_tail, h_tail)
    }

    /// AVX-512F: 64 values per step in four accumulators, a scalar tail.
    #[target_feature(enable = "avx512f")]
    #[inline(never)]
    pub(super) fn avx512_dot(q: &[f32], h: &[u16]) -> f32 {
        let (q16, q_tail) = q.as_chunks::<16>();
        let (h16, h_tail) = h.as_chunks::<16>();
        let mut acc = [_mm512_setzero_ps(); 4];
        for (i, (x, y)) in q16.iter().zip(h16).enumerate() {
            // SAFETY: `x` is 16 floats and `y` 16 u16 (32 bytes), one register's worth each;
            // the unaligned loads have no alignment requirement.
            let (x, y) = unsafe {
                (
                    _mm512_loadu_ps(x.as_ptr()),
                    _mm256_loadu_si256(y.as_ptr().cast::<__m256i>()),
                )
            };
            acc[i % 4] = _mm512_fmadd_ps(x, _mm512_cvtph_ps(y), acc[i % 4]);
        }
        let v = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        _mm512_reduce_add_ps(v) + scalar_dot(q_tail, h_tail)
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::distance::Space;

    /// The f32 dot product of `q` with the decoded `h`, in f64 (exact: f32 products are exact
    /// in f64, and 2,000 of them sum with a relative error far below f32's), and the error
    /// bound of any f32 evaluation order: `gamma_n * sum |q_i h_i|` (Higham, as in
    /// `distance/tests.rs`), with no subnormal term because the test values avoid underflow.
    fn reference(q: &[f32], h: &[u16]) -> (f64, f64) {
        let u = f64::from(f32::EPSILON) / 2.0;
        let n = q.len() as f64;
        let gamma = n * u / (1.0 - n * u);
        let (mut exact, mut magnitude) = (0.0f64, 0.0f64);
        for (&x, &b) in q.iter().zip(h) {
            let p = f64::from(x) * f64::from(f16::from_bits(b).to_f32());
            exact += p;
            magnitude += p.abs();
        }
        (exact, gamma * magnitude)
    }

    fn row(dim: std::ops::Range<usize>) -> impl Strategy<Value = Vec<f32>> {
        // Values whose products stay far from f32's subnormals, with a sign.
        vec(prop_oneof![Just(0.0f32), -1e3f32..1e3, -1.0f32..1.0], dim)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Every available path, against the oracle's definition, within the error bound.
        #[test]
        fn dot_half_on_every_path(
            (q, r) in (0usize..200).prop_flat_map(|d| (row(d..d + 1), row(d..d + 1))),
        ) {
            let mut bits = vec![0u16; r.len()];
            let scale = encode(&r, &mut bits, &mut Vec::new());
            prop_assert!(scale >= 0.0);
            let (exact, bound) = reference(&q, &bits);
            for isa in Isa::available_paths() {
                let k = Kernel::with_isa(Space::Ip, isa).unwrap();
                let got = f64::from(k.dot_half(&q, &bits));
                prop_assert!(
                    (got - exact).abs() <= 2.0 * bound,
                    "{isa:?}: {got} vs {exact} (bound {bound})"
                );
            }
        }

        /// Encoding keeps every value within f16's relative precision of the row's largest.
        #[test]
        fn encode_decode_round_trip(r in row(0..100)) {
            let mut bits = vec![0u16; r.len()];
            let scale = encode(&r, &mut bits, &mut Vec::new());
            let mut back = vec![0.0f32; r.len()];
            decode(&bits, scale, &mut back);
            let max = r.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            for (a, b) in r.iter().zip(&back) {
                // Half an f16 ulp of a value in [-1, 1] is at most 2^-11, then one rounding
                // each for the division and the multiplication.
                prop_assert!((a - b).abs() <= max * (2.0f32.powi(-11) + 4.0 * f32::EPSILON));
            }
        }
    }

    #[test]
    fn zero_and_non_finite_rows_encode_as_zero() {
        for r in [
            vec![0.0f32; 5],
            vec![1.0, f32::NAN, 2.0],
            vec![f32::INFINITY, 1.0],
        ] {
            let mut bits = vec![7u16; r.len()];
            assert_eq!(encode(&r, &mut bits, &mut Vec::new()), 0.0);
            assert!(bits.iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn tiny_and_huge_rows_keep_their_precision() {
        // Scaling by the largest value keeps 11 bits whatever the row's magnitude: plain f16
        // would flush the first row to zero and overflow the second.
        for r in [vec![1e-9f32, -3e-9, 2e-9], vec![1e9f32, -3e9, 2e9]] {
            let mut bits = vec![0u16; r.len()];
            let scale = encode(&r, &mut bits, &mut Vec::new());
            let mut back = vec![0.0f32; r.len()];
            decode(&bits, scale, &mut back);
            for (a, b) in r.iter().zip(&back) {
                assert!((a - b).abs() <= a.abs() * 1e-3, "{a} vs {b}");
            }
        }
    }
}
