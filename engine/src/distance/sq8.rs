//! 8-bit rows for the graph walk: each row stored as one byte per value, `x ~ lo + step * c`,
//! with the row's own `lo` (its minimum) and `step` (its range / 255) kept beside it in f32.
//!
//! A walk over 100k rows of 384 floats waits on memory, not on arithmetic: a row is 24 cache
//! lines in f32 and 6 in bytes, and a distance costs about what its row takes to arrive
//! (measured on the reference VM with random rows: ~185 ns per f32 row, ~115 ns per f16 row,
//! ~80 ns per 8-bit row). Quantizing each row over its own range needs no training, adapts
//! to any scale, and cannot overflow; the error of one value is at most `step / 2`.
//!
//! Only the dot product `q . c` of a query with the codes is computed here: the walk gets
//! `q . x = lo * sum(q) + step * (q . c)` and each space's distance from it and per-row norms
//! (see `search::hnsw::Rows`). Codes convert to f32 exactly, so a kernel's result is an f32
//! dot product and the kernels are tested against an f64 reference under the same error bound
//! as the f32 kernels.
//!
//! Two rows of the copy are compared without decoding either: `a . b` is an integer dot
//! product of their codes (exact, so every path must equal the scalar oracle bit for bit),
//! and the caller gets the floats' product from it, the rows' `lo`/`step` and their code
//! sums. A build compares a few hundred such pairs per insert when it prunes neighbour lists.

use super::{Isa, Kernel};

/// Codes per value: `0..=255`.
const LEVELS: f32 = 255.0;

/// Encodes `row` into `out` (same length) and returns `(lo, step)`: value `i` is about
/// `lo + step * out[i]`. A constant row gets step 0 (it is exact); a row holding a
/// non-finite value (validation keeps them out of the store) is encoded as zeros with
/// `lo = step = 0`, so its dot product with anything is 0.
pub(crate) fn encode(row: &[f32], out: &mut [u8]) -> (f32, f32) {
    assert_eq!(row.len(), out.len(), "one code per float");
    let (lo, hi) = row
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    if row.is_empty() || !(lo.is_finite() && hi.is_finite()) || row.iter().any(|x| x.is_nan()) {
        out.fill(0);
        return (0.0, 0.0);
    }
    let step = (hi - lo) / LEVELS;
    if !(step > 0.0 && step.is_finite()) {
        // Constant row (or a range too wide for f32): every value is `lo`, or near it.
        out.fill(0);
        return (lo, 0.0);
    }
    let inv = 1.0 / step;
    for (c, &x) in out.iter_mut().zip(row) {
        // In 0..=255 up to rounding; the clamp keeps the cast exact at the ends.
        *c = ((x - lo) * inv).round().clamp(0.0, LEVELS) as u8;
    }
    (lo, step)
}

/// The row encoded by [`encode`] as `(lo, step)`, decoded into `out`.
pub(crate) fn decode(codes: &[u8], lo: f32, step: f32, out: &mut [f32]) {
    for (x, &c) in out.iter_mut().zip(codes) {
        *x = lo + step * f32::from(c);
    }
}

impl Kernel {
    /// `q . c`, the codes taken as the integers they are (the row's `lo` and `step` are the
    /// caller's).
    ///
    /// # Panics
    /// If the lengths differ.
    #[inline]
    pub(crate) fn dot_codes(&self, q: &[f32], c: &[u8]) -> f32 {
        assert_eq!(q.len(), c.len(), "one code per float");
        match self.isa {
            Isa::Scalar => scalar_dot(q, c),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                // SAFETY: a Kernel holds only an available path (`Kernel::with_isa`), so this
                // CPU has AVX-512F.
                unsafe { x86::avx512_dot(q, c) }
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                // SAFETY: as above: holding a Kernel on `Isa::Avx2` proves AVX2 and FMA.
                unsafe { x86::avx2_dot(q, c) }
            }
            _ => portable_dot(q, c),
        }
    }
}

impl Kernel {
    /// `a . b` of two rows of codes, as the integers they are: exact on every path.
    ///
    /// # Panics
    /// If the lengths differ.
    #[inline]
    pub(crate) fn dot_code_pair(&self, a: &[u8], b: &[u8]) -> u64 {
        assert_eq!(a.len(), b.len(), "rows of one length");
        match self.isa {
            Isa::Scalar => scalar_pair(a, b),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                // SAFETY: holding a Kernel on `Isa::Avx2` proves AVX2 (`Kernel::with_isa`).
                unsafe { x86::avx2_pair(a, b) }
            }
            // The 8-bit dot product instruction (`vpdpbusd`) needs AVX-512 VNNI and BW, which
            // `Isa::Avx512` does not promise (cached loads and tests of the detected features).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512
                if is_x86_feature_detected!("avx512vnni")
                    && is_x86_feature_detected!("avx512bw") =>
            {
                // SAFETY: AVX-512 VNNI and BW were detected on this CPU just above.
                unsafe { x86::avx512_vnni_pair(a, b) }
            }
            // Without VNNI: every CPU with AVX-512F has AVX2, checked all the same.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if is_x86_feature_detected!("avx2") => {
                // SAFETY: AVX2 was detected on this CPU just above.
                unsafe { x86::avx2_pair(a, b) }
            }
            _ => portable_pair(a, b),
        }
    }
}

/// The sum of a row's codes.
#[inline]
pub(crate) fn code_sum(c: &[u8]) -> u32 {
    // At most 65,536 values (the largest dimension) of at most 255: no overflow.
    c.iter().map(|&x| u32::from(x)).sum()
}

/// Values per block of the integer pair kernels: a block's sum of products, at most
/// `2^16 * 255^2 < 2^32`, fits the 32-bit sums they keep within a block.
const PAIR_BLOCK: usize = 1 << 16;

/// The pair oracle: one product at a time, in 64 bits.
fn scalar_pair(a: &[u8], b: &[u8]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x) * u64::from(y))
        .sum()
}

/// Any CPU: 32-bit sums per block, which the compiler vectorises for the build's baseline.
fn portable_pair(a: &[u8], b: &[u8]) -> u64 {
    a.chunks(PAIR_BLOCK)
        .zip(b.chunks(PAIR_BLOCK))
        .map(|(a, b)| {
            let block: u32 = a
                .iter()
                .zip(b)
                .map(|(&x, &y)| u32::from(x) * u32::from(y))
                .sum();
            u64::from(block)
        })
        .sum()
}

/// The oracle: one value at a time, summed in order.
fn scalar_dot(q: &[f32], c: &[u8]) -> f32 {
    q.iter().zip(c).map(|(&x, &b)| x * f32::from(b)).sum()
}

/// Any CPU: eight codes widened at a time into `wide` lanes, two accumulators.
fn portable_dot(q: &[f32], c: &[u8]) -> f32 {
    use wide::f32x8;
    let (q8, q_tail) = q.as_chunks::<8>();
    let (c8, c_tail) = c.as_chunks::<8>();
    let mut acc = [f32x8::ZERO; 2];
    for (i, (x, b)) in q8.iter().zip(c8).enumerate() {
        let y = f32x8::new(b.map(f32::from));
        acc[i % 2] = f32x8::new(*x).mul_add(y, acc[i % 2]);
    }
    (acc[0] + acc[1]).reduce_add() + scalar_dot(q_tail, c_tail)
}

/// The x86_64 kernels: bytes widened to 32-bit integers, converted, multiplied and added.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m128i, __m256, __m256i, __m512, __m512i, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32,
        _mm_loadl_epi64, _mm_loadu_si128, _mm_movehdup_ps, _mm_movehl_ps, _mm256_add_epi32,
        _mm256_add_ps, _mm256_castps256_ps128, _mm256_cvtepi32_ps, _mm256_cvtepu8_epi16,
        _mm256_cvtepu8_epi32, _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_ps,
        _mm256_madd_epi16, _mm256_setzero_ps, _mm256_setzero_si256, _mm256_storeu_si256,
        _mm512_add_epi64, _mm512_add_ps, _mm512_castsi512_si256, _mm512_cvtepi32_epi64,
        _mm512_cvtepi32_ps, _mm512_cvtepu8_epi32, _mm512_dpbusd_epi32, _mm512_extracti64x4_epi64,
        _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_loadu_si512, _mm512_reduce_add_epi64,
        _mm512_reduce_add_ps, _mm512_sad_epu8, _mm512_set1_epi8, _mm512_setzero_ps,
        _mm512_setzero_si512, _mm512_xor_si512,
    };

    use super::{PAIR_BLOCK, scalar_dot, scalar_pair};

    /// AVX2 + FMA: eight codes per register, four accumulators, a scalar tail.
    ///
    /// The four accumulators are four named registers, one per register-sized step of a
    /// 32-value block: indexed as an array by the step's number (`acc[i % 4]`), they were
    /// kept on the stack, every step a load and a store in the addition chain, and a row of
    /// 384 codes took some 260 cycles instead of 60-odd (the scan of a building index's
    /// unlinked tail measured it: 4.5 ms for 100k rows, against 8.5 ms for the f32 rows).
    #[target_feature(enable = "avx2,fma")]
    #[inline(never)]
    pub(super) fn avx2_dot(q: &[f32], c: &[u8]) -> f32 {
        // 8 floats and their 8 codes, widened and converted, times `x`, added to `acc`.
        #[inline(always)]
        fn step(x: &[f32; 8], b: &[u8; 8], acc: __m256) -> __m256 {
            // SAFETY: `x` is 8 floats and `b` 8 bytes: `loadu_ps` reads 32 bytes and
            // `loadl_epi64` 8, both inside them, with no alignment requirement; the caller
            // runs only where AVX2 and FMA are (this module's `target_feature`).
            unsafe {
                let x = _mm256_loadu_ps(x.as_ptr());
                let b = _mm_loadl_epi64(b.as_ptr().cast::<__m128i>());
                _mm256_fmadd_ps(x, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)), acc)
            }
        }
        let (q8, q_tail) = q.as_chunks::<8>();
        let (c8, c_tail) = c.as_chunks::<8>();
        let n = q8.len().min(c8.len());
        let (q8, c8) = (&q8[..n], &c8[..n]);
        let (q32, q_rest) = q8.as_chunks::<4>();
        let (c32, c_rest) = c8.as_chunks::<4>();
        let [mut a0, mut a1, mut a2, mut a3] = [_mm256_setzero_ps(); 4];
        for (x, b) in q32.iter().zip(c32) {
            a0 = step(&x[0], &b[0], a0);
            a1 = step(&x[1], &b[1], a1);
            a2 = step(&x[2], &b[2], a2);
            a3 = step(&x[3], &b[3], a3);
        }
        for (x, b) in q_rest.iter().zip(c_rest) {
            a0 = step(x, b, a0);
        }
        let v = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s))) + scalar_dot(q_tail, c_tail)
    }

    /// AVX2: sixteen codes of each row widened to 16 bits per register, multiplied and
    /// added in pairs into 32-bit lanes (`vpmaddwd`: each lane gets at most `2 * 255^2`),
    /// two accumulators, a scalar tail. Lanes are summed into 64 bits once per block of
    /// [`PAIR_BLOCK`] values, before any can overflow.
    #[target_feature(enable = "avx2")]
    #[inline(never)]
    pub(super) fn avx2_pair(a: &[u8], b: &[u8]) -> u64 {
        // 16 codes of each row, widened, multiplied pairwise and added to `acc`.
        #[inline(always)]
        fn step(x: &[u8; 16], y: &[u8; 16], acc: __m256i) -> __m256i {
            // SAFETY: `x` and `y` are 16 bytes each, one unaligned 128-bit load apiece; the
            // caller runs only where AVX2 is (this function's `target_feature`).
            unsafe {
                let x = _mm256_cvtepu8_epi16(_mm_loadu_si128(x.as_ptr().cast::<__m128i>()));
                let y = _mm256_cvtepu8_epi16(_mm_loadu_si128(y.as_ptr().cast::<__m128i>()));
                _mm256_add_epi32(acc, _mm256_madd_epi16(x, y))
            }
        }
        let mut total = 0u64;
        for (a, b) in a.chunks(PAIR_BLOCK).zip(b.chunks(PAIR_BLOCK)) {
            let (a16, a_tail) = a.as_chunks::<16>();
            let (b16, b_tail) = b.as_chunks::<16>();
            let (a32, a_rest) = a16.as_chunks::<2>();
            let (b32, b_rest) = b16.as_chunks::<2>();
            let [mut s0, mut s1] = [_mm256_setzero_si256(); 2];
            for (x, y) in a32.iter().zip(b32) {
                s0 = step(&x[0], &y[0], s0);
                s1 = step(&x[1], &y[1], s1);
            }
            for (x, y) in a_rest.iter().zip(b_rest) {
                s0 = step(x, y, s0);
            }
            // Each lane of `s0 + s1` is at most a block's sum, below 2^31 here (a block of
            // 2^16 values gives each of the 8 lanes 2^13 products of at most 255^2).
            let mut lanes = [0i32; 8];
            // SAFETY: `lanes` is 32 bytes, one unaligned 256-bit store.
            unsafe {
                _mm256_storeu_si256(
                    lanes.as_mut_ptr().cast::<__m256i>(),
                    _mm256_add_epi32(s0, s1),
                );
            }
            // Non-negative sums of non-negative products.
            total += lanes.iter().map(|&l| l as u32 as u64).sum::<u64>();
            total += scalar_pair(a_tail, b_tail);
        }
        total
    }

    /// AVX-512 VNNI: 64 codes of each row per register, four products added into each
    /// 32-bit lane per instruction (`vpdpbusd`, unsigned bytes times signed bytes). `b`'s
    /// codes go in as `b - 128` (its top bit flipped), so `a . b = a . (b - 128) + 128 sum(a)`,
    /// `sum(a)` from `vpsadbw` against zero. Two accumulators, a scalar tail; lanes are summed
    /// into 64 bits once per block of [`PAIR_BLOCK`] values, before any can overflow.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline(never)]
    pub(super) fn avx512_vnni_pair(a: &[u8], b: &[u8]) -> u64 {
        // 64 codes of each row: `a . (b - 128)` into `acc`, `a`'s sums into `sum`.
        #[inline(always)]
        fn step(x: &[u8; 64], y: &[u8; 64], acc: __m512i, sum: __m512i) -> (__m512i, __m512i) {
            // SAFETY: `x` and `y` are 64 bytes each, one unaligned 512-bit load apiece; the
            // caller runs only where AVX-512F, BW and VNNI are (this function's
            // `target_feature`).
            unsafe {
                let x = _mm512_loadu_si512(x.as_ptr().cast::<__m512i>());
                let y = _mm512_loadu_si512(y.as_ptr().cast::<__m512i>());
                let y = _mm512_xor_si512(y, _mm512_set1_epi8(i8::MIN));
                (
                    _mm512_dpbusd_epi32(acc, x, y),
                    _mm512_add_epi64(sum, _mm512_sad_epu8(x, _mm512_setzero_si512())),
                )
            }
        }
        let mut total = 0i64;
        for (a, b) in a.chunks(PAIR_BLOCK).zip(b.chunks(PAIR_BLOCK)) {
            let (a64, a_tail) = a.as_chunks::<64>();
            let (b64, b_tail) = b.as_chunks::<64>();
            let (a128, a_rest) = a64.as_chunks::<2>();
            let (b128, b_rest) = b64.as_chunks::<2>();
            let [mut s0, mut s1, mut sum] = [_mm512_setzero_si512(); 3];
            for (x, y) in a128.iter().zip(b128) {
                (s0, sum) = step(&x[0], &y[0], s0, sum);
                (s1, sum) = step(&x[1], &y[1], s1, sum);
            }
            for (x, y) in a_rest.iter().zip(b_rest) {
                (s0, sum) = step(x, y, s0, sum);
            }
            // Each 32-bit lane of `s0 + s1` holds at most 2^16 / 16 products of magnitude at
            // most 255 * 128: below 2^28. Widened to 64 bits before the lanes are added.
            let lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s0));
            let hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(s0));
            let lo1 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s1));
            let hi1 = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(s1));
            let shifted = _mm512_reduce_add_epi64(_mm512_add_epi64(
                _mm512_add_epi64(lo, hi),
                _mm512_add_epi64(lo1, hi1),
            ));
            total += shifted + 128 * _mm512_reduce_add_epi64(sum);
            total += scalar_pair(a_tail, b_tail) as i64;
        }
        // `a . b` of non-negative codes, at most 2^16 * 255^2 per block: non-negative and
        // far inside i64.
        total as u64
    }

    /// AVX-512F: sixteen codes per register, four accumulators (named registers, as in
    /// [`avx2_dot`]), a scalar tail.
    #[target_feature(enable = "avx512f")]
    #[inline(never)]
    pub(super) fn avx512_dot(q: &[f32], c: &[u8]) -> f32 {
        // 16 floats and their 16 codes, widened and converted, times `x`, added to `acc`.
        #[inline(always)]
        fn step(x: &[f32; 16], b: &[u8; 16], acc: __m512) -> __m512 {
            // SAFETY: `x` is 16 floats and `b` 16 bytes, one register's worth each; the
            // unaligned loads have no alignment requirement; the caller runs only where
            // AVX-512F is (this module's `target_feature`).
            unsafe {
                let x = _mm512_loadu_ps(x.as_ptr());
                let b = _mm_loadu_si128(b.as_ptr().cast::<__m128i>());
                _mm512_fmadd_ps(x, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)), acc)
            }
        }
        let (q16, q_tail) = q.as_chunks::<16>();
        let (c16, c_tail) = c.as_chunks::<16>();
        let n = q16.len().min(c16.len());
        let (q16, c16) = (&q16[..n], &c16[..n]);
        let (q64, q_rest) = q16.as_chunks::<4>();
        let (c64, c_rest) = c16.as_chunks::<4>();
        let [mut a0, mut a1, mut a2, mut a3] = [_mm512_setzero_ps(); 4];
        for (x, b) in q64.iter().zip(c64) {
            a0 = step(&x[0], &b[0], a0);
            a1 = step(&x[1], &b[1], a1);
            a2 = step(&x[2], &b[2], a2);
            a3 = step(&x[3], &b[3], a3);
        }
        for (x, b) in q_rest.iter().zip(c_rest) {
            a0 = step(x, b, a0);
        }
        let v = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
        _mm512_reduce_add_ps(v) + scalar_dot(q_tail, c_tail)
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::distance::Space;

    /// `q . c` in f64 (exact: each product is exact in f64, and a few hundred of them sum
    /// with an error far below f32's), and the error bound of any f32 evaluation order,
    /// `gamma_n * sum |q_i c_i|` (Higham, as in `distance/tests.rs`); the test values keep
    /// every non-zero product far from f32's subnormals.
    fn reference(q: &[f32], c: &[u8]) -> (f64, f64) {
        let u = f64::from(f32::EPSILON) / 2.0;
        let n = q.len() as f64;
        let gamma = n * u / (1.0 - n * u);
        let (mut exact, mut magnitude) = (0.0f64, 0.0f64);
        for (&x, &b) in q.iter().zip(c) {
            let p = f64::from(x) * f64::from(b);
            exact += p;
            magnitude += p.abs();
        }
        (exact, gamma * magnitude)
    }

    fn row(dim: std::ops::Range<usize>) -> impl Strategy<Value = Vec<f32>> {
        vec(prop_oneof![Just(0.0f32), -1e3f32..1e3, -1.0f32..1.0], dim)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Every available path, against the f64 reference, within the error bound.
        #[test]
        fn dot_codes_on_every_path(
            (q, codes) in (0usize..200).prop_flat_map(|d| (row(d..d + 1), vec(any::<u8>(), d))),
        ) {
            let (exact, bound) = reference(&q, &codes);
            for isa in Isa::available_paths() {
                let k = Kernel::with_isa(Space::Ip, isa).unwrap();
                let got = f64::from(k.dot_codes(&q, &codes));
                prop_assert!(
                    (got - exact).abs() <= 2.0 * bound,
                    "{isa:?}: {got} vs {exact} (bound {bound})"
                );
            }
        }

        /// Every available path gives the oracle's integer exactly.
        #[test]
        fn dot_code_pair_on_every_path(
            (a, b) in (0usize..300).prop_flat_map(|d| (vec(any::<u8>(), d), vec(any::<u8>(), d))),
        ) {
            let exact = scalar_pair(&a, &b);
            for isa in Isa::available_paths() {
                let k = Kernel::with_isa(Space::Ip, isa).unwrap();
                prop_assert_eq!(k.dot_code_pair(&a, &b), exact, "{:?}", isa);
            }
        }

        /// Decoding gives every value back within half a step (plus the roundings of
        /// `lo + step * c` and of the division).
        #[test]
        fn encode_decode_round_trip(r in row(0..100)) {
            let mut codes = vec![0u8; r.len()];
            let (lo, step) = encode(&r, &mut codes);
            let mut back = vec![0.0f32; r.len()];
            decode(&codes, lo, step, &mut back);
            let span = r.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            for (a, b) in r.iter().zip(&back) {
                prop_assert!(
                    (a - b).abs() <= step * 0.5 + span * 8.0 * f32::EPSILON,
                    "{a} vs {b} (lo {lo}, step {step})"
                );
            }
        }
    }

    /// Rows long enough to need several blocks, of the largest codes: a sum past 32 bits
    /// comes out whole on every path.
    #[test]
    fn dot_code_pair_past_32_bits() {
        let n = 3 * PAIR_BLOCK + 17;
        let (a, b) = (vec![255u8; n], vec![255u8; n]);
        let exact = n as u64 * 255 * 255;
        assert!(exact > u64::from(u32::MAX));
        for isa in Isa::available_paths() {
            let k = Kernel::with_isa(Space::Ip, isa).unwrap();
            assert_eq!(k.dot_code_pair(&a, &b), exact, "{isa:?}");
        }
        assert_eq!(code_sum(&a[..PAIR_BLOCK]), PAIR_BLOCK as u32 * 255);
        // The other extreme of the VNNI path's shifted products (`255 * (0 - 128)` each).
        let zeros = vec![0u8; n];
        for isa in Isa::available_paths() {
            let k = Kernel::with_isa(Space::Ip, isa).unwrap();
            assert_eq!(k.dot_code_pair(&a, &zeros), 0, "{isa:?}");
        }
    }

    #[test]
    fn constant_and_non_finite_rows() {
        let mut codes = vec![7u8; 3];
        assert_eq!(encode(&[2.5; 3], &mut codes), (2.5, 0.0));
        assert_eq!(codes, [0, 0, 0]);
        for r in [vec![1.0f32, f32::NAN, 2.0], vec![f32::INFINITY, 1.0, 0.0]] {
            let mut codes = vec![7u8; 3];
            assert_eq!(encode(&r, &mut codes), (0.0, 0.0));
            assert_eq!(codes, [0, 0, 0]);
        }
    }

    #[test]
    fn each_row_keeps_its_own_scale() {
        // A row of tiny values and a row of huge ones both keep 8 bits of their range.
        for r in [vec![1e-9f32, -3e-9, 2e-9], vec![1e9f32, -3e9, 2e9]] {
            let mut codes = vec![0u8; r.len()];
            let (lo, step) = encode(&r, &mut codes);
            let mut back = vec![0.0f32; r.len()];
            decode(&codes, lo, step, &mut back);
            for (a, b) in r.iter().zip(&back) {
                assert!((a - b).abs() <= step * 0.5 + a.abs() * 1e-6, "{a} vs {b}");
            }
            // The extremes are exact up to rounding.
            assert_eq!(codes.iter().max(), Some(&255));
            assert_eq!(codes.iter().min(), Some(&0));
        }
    }
}
