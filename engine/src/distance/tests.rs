//! Every available distance path against an f64 reference, under tolerances derived from the
//! floating-point error bounds of the sums (style habit 7), plus the dispatch and naming rules.
//!
//! The bounds follow Higham, *Accuracy and Stability of Numerical Algorithms* (2nd ed.), ch. 2-3:
//! with unit roundoff `u = 2^-24` every f32 operation returns `(x op y)(1 + d) + e`, `|d| <= u`,
//! and `e` non-zero only when the result is subnormal (`|e| <= ETA`; then `d = 0`; additions
//! and subtractions with a subnormal result are exact, `e = 0`). A product of `k` factors
//! `(1 + d_i)` lies within `gamma_k = k u / (1 - k u)` of 1.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

use super::{Isa, Kernel, Space};
use crate::error::Error;

const SPACES: [Space; 3] = [Space::L2, Space::Ip, Space::Cosine];

/// The dimensions every property runs at: 0 and 1, both sides of every SIMD width (4, 8, 16,
/// 32, 64 floats per step), and embedding sizes in use (384, 1000 is no power of two, 1536).
const DIMS: &[usize] = &[
    0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 127, 129, 384, 1000, 1536,
];

/// Unit roundoff of f32 under round-to-nearest: 2^-24.
const U: f64 = f32::EPSILON as f64 / 2.0;

/// Half the smallest f32 subnormal, 2^-150: the largest absolute error of one multiply, fma or
/// division whose result lands in the subnormal range (Higham eq. 2.8).
const ETA: f64 = f32::from_bits(1) as f64 / 2.0;

/// The bounds below are rigorous for the f32 kernels; the factor 2 pays for the reference,
/// which is computed in f64 and so is not exact either: its own error obeys the same bounds
/// with `u = 2^-53`, under 2^-29 of ours. A factor of 2 keeps the check far tighter than any
/// real bug (one dropped element, a wrong tail, a wrong lane) can hide in; see
/// `tolerance_catches_a_dropped_element`.
const SAFETY: f64 = 2.0;

fn gamma(k: usize) -> f64 {
    let ku = k as f64 * U;
    assert!(ku < 0.5, "gamma_{k} is not a useful bound for f32");
    ku / (1.0 - ku)
}

/// The exact dot product (an f32 x f32 product is exact in f64) and a bound on the error of its
/// f32 evaluation in any order: each term takes one rounding for its product, then one per
/// addition on its way up the summation tree, and adding an exact zero (an empty accumulator
/// lane, a zero-padded tail) is exact, so a term meets at most `n - 1` inexact additions. An fma
/// fuses a product with an addition: fewer roundings, never more. Hence
/// `|computed - exact| <= gamma_n * sum |a_i b_i| + k * ETA * (1 + gamma_n)`, the last term for
/// underflow: only the `k` terms with a non-zero product can round in the subnormal range (a
/// zero product, or an fma with one, is exact), and each error is then carried through at most
/// `n` more roundings.
fn dot_bound(a: &[f32], b: &[f32]) -> (f64, f64) {
    let n = a.len();
    let (mut exact, mut magnitude, mut nonzero) = (0.0f64, 0.0f64, 0usize);
    for (&x, &y) in a.iter().zip(b) {
        let p = f64::from(x) * f64::from(y);
        exact += p;
        magnitude += p.abs();
        nonzero += usize::from(p != 0.0);
    }
    (
        exact,
        gamma(n) * magnitude + nonzero as f64 * ETA * (1.0 + gamma(n)),
    )
}

/// Like [`dot_bound`] for `sum (a_i - b_i)^2`: the subtraction adds one rounding to `a_i - b_i`,
/// which is squared, so each term starts with three roundings instead of one: `gamma_{n+2}`
/// times the (non-negative) sum. A subnormal difference is exact; a subnormal square is not.
fn l2_bound(a: &[f32], b: &[f32]) -> (f64, f64) {
    let n = a.len();
    let (mut exact, mut nonzero) = (0.0f64, 0usize);
    for (&x, &y) in a.iter().zip(b) {
        let d = f64::from(x) - f64::from(y);
        exact += d * d;
        nonzero += usize::from(d != 0.0);
    }
    (
        exact,
        gamma(n + 2) * exact + nonzero as f64 * ETA * (1.0 + gamma(n + 2)),
    )
}

/// The reference distance in f64 and a bound on the error of the f32 kernels' result; `None`
/// when no useful bound exists (see [`cosine_bound`]).
fn reference(space: Space, a: &[f32], b: &[f32]) -> Option<(f64, f64)> {
    match space {
        Space::L2 => Some(l2_bound(a, b)),
        Space::Ip => {
            // fl(1 - d') is off from 1 - d by |d' - d| plus one rounding of the result.
            let (d, e_d) = dot_bound(a, b);
            let c = 1.0 - d;
            Some((c, e_d + U * (c.abs() + e_d)))
        }
        Space::Cosine => cosine_bound(a, b),
    }
}

/// Cosine, `1 - d / (|a| |b| + 1e-30)`, bounded part by part: the dot product and both squared
/// norms by [`dot_bound`], then each step of `cosine_from_parts` adds its own rounding.
///
/// `None` when the denominator's own error bound exceeds an eighth of it: that happens only
/// when a squared norm underflows f32 (e.g. one element of 1e-23: its square rounds to 0 or to
/// the smallest subnormal) while the dot product does not, and then the f32 formula itself,
/// in every path including the scalar oracle, has no accuracy to check. Normal inputs sit far
/// inside: the denominator's relative bound is about `gamma_n`, under 0.4% even at 65536.
fn cosine_bound(a: &[f32], b: &[f32]) -> Option<(f64, f64)> {
    let (d, e_d) = dot_bound(a, b);
    let (aa, e_aa) = dot_bound(a, a);
    let (bb, e_bb) = dot_bound(b, b);
    // |sqrt(s') - sqrt(s)| <= |s' - s| / sqrt(s) and <= sqrt(|s' - s|); then the rounding of
    // the square root itself, relative to the computed root.
    let norm_err = |s: f64, e: f64| {
        let root = s.sqrt();
        let before = if s > 0.0 {
            (e / root).min(e.sqrt())
        } else {
            e.sqrt()
        };
        before + U * (root + before)
    };
    let (na, e_na) = (aa.sqrt(), norm_err(aa, e_aa));
    let (nb, e_nb) = (bb.sqrt(), norm_err(bb, e_bb));
    // |a'b' - ab| <= a e_b + b e_a + e_a e_b, then the product's rounding (or underflow).
    let e_prod = na * e_nb + nb * e_na + e_na * e_nb;
    let e_prod = e_prod + U * (na * nb + e_prod) + ETA;
    // Adding the positive 1e-30 (as f32, as the kernel does) only rounds once more.
    let tiny = f64::from(1e-30f32);
    let p = na * nb + tiny;
    let e_p = e_prod + U * (p + e_prod);
    if e_p > p / 8.0 {
        return None;
    }
    // |d'/p' - d/p| <= (e_d p + |d| e_p) / (p (p - e_p)), then the division's rounding.
    let q = d / p;
    let e_q = (e_d * p + d.abs() * e_p) / (p * (p - e_p));
    let e_q = e_q + U * (q.abs() + e_q) + ETA;
    // Finally fl(1 - q').
    let c = 1.0 - q;
    Some((c, e_q + U * (c.abs() + e_q)))
}

/// Whether `got` is finite and within the (safety-scaled) bound of the reference.
fn within(got: f32, exact: f64, bound: f64) -> bool {
    got.is_finite() && (f64::from(got) - exact).abs() <= SAFETY * bound
}

/// The paths this machine runs and the ones it cannot, printed by each test that walks them so
/// a missing path is visible in the output instead of silently counted as passed.
fn report_paths(test: &str) -> Vec<Isa> {
    let run: Vec<Isa> = Isa::available_paths().collect();
    let unavailable: Vec<&str> = Isa::ALL
        .iter()
        .filter(|isa| !isa.available())
        .map(|isa| isa.name())
        .collect();
    let names: Vec<&str> = run.iter().map(|isa| isa.name()).collect();
    eprintln!(
        "{test}: distance paths run: [{}]; unavailable here: [{}]",
        names.join(", "),
        unavailable.join(", ")
    );
    assert!(
        run.contains(&Isa::Scalar) && run.contains(&Isa::Portable),
        "baseline paths missing"
    );
    run
}

/// A mix of magnitudes inside one vector: cancellation between huge and small terms.
fn mixed() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -1.0f32..1.0,
        2 => -1e3f32..1e3,
        1 => -1e15f32..1e15,
        1 => -1e-20f32..1e-20,
        1 => Just(0.0f32),
    ]
}

/// A vector of `dim` floats. Magnitudes up to 1e15 keep every sum finite even at 65536
/// dimensions (squares up to 4e30, sums below 3e35 < f32::MAX); 1e-20 makes every product
/// subnormal (below 1.2e-38), which exercises the underflow terms of the bounds.
fn vector(dim: usize) -> impl Strategy<Value = Vec<f32>> {
    prop_oneof![
        4 => vec(mixed(), dim),
        2 => vec(-1.0f32..1.0, dim),
        1 => vec(-1e15f32..1e15, dim),
        1 => vec(-1e-20f32..1e-20, dim),
        1 => Just(vec![0.0f32; dim]),
    ]
}

/// A row near `query` (each element off by a relative 1e-3 at most): small l2, cosine near 0.
fn near(query: Vec<f32>) -> impl Strategy<Value = Vec<f32>> {
    vec(-1e-3f32..1e-3, query.len())
        .prop_map(move |eps| query.iter().zip(eps).map(|(x, e)| x + x * e).collect())
}

/// A query and `1..=max_rows` rows of a dimension drawn from `dims`.
fn block(
    dims: &'static [usize],
    max_rows: usize,
) -> impl Strategy<Value = (Vec<f32>, Vec<Vec<f32>>)> {
    select(dims).prop_flat_map(move |dim| {
        vector(dim).prop_flat_map(move |query| {
            let row = prop_oneof![3 => vector(dim).boxed(), 1 => near(query.clone()).boxed()];
            (Just(query), vec(row, 1..=max_rows))
        })
    })
}

/// Runs every path in `paths` on one block and checks each distance against the reference;
/// counts the (path, row) pairs whose cosine has no useful bound in `ill_posed`.
fn check_block(
    paths: &[Isa],
    query: &[f32],
    rows: &[Vec<f32>],
    ill_posed: &AtomicUsize,
) -> Result<(), TestCaseError> {
    let packed = rows.concat();
    let mut out = vec![f32::NAN; rows.len()];
    for &isa in paths {
        for space in SPACES {
            let kernel =
                Kernel::with_isa(space, isa).map_err(|e| TestCaseError::fail(e.to_string()))?;
            out.fill(f32::NAN);
            kernel.distances(query, &packed, &mut out);
            for (i, (row, &got)) in rows.iter().zip(&out).enumerate() {
                let what = format!("{} {space} dim {} row {i}", isa.name(), query.len());
                let Some((exact, bound)) = reference(space, query, row) else {
                    // No accuracy to check, but the result must still be a number.
                    prop_assert!(got.is_finite(), "{what}: got {got}");
                    ill_posed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                prop_assert!(
                    within(got, exact, bound),
                    "{what}: got {got:e}, reference {exact:e}, |diff| {:e} > {SAFETY} x bound {bound:e}",
                    (f64::from(got) - exact).abs(),
                );
            }
        }
    }
    Ok(())
}

/// Runs a property over blocks, reporting a failure by its shape and reason: printing the
/// shrunk input itself can take megabytes at 65536 dimensions.
fn run_blocks(
    cases: u32,
    blocks: impl Strategy<Value = (Vec<f32>, Vec<Vec<f32>>)>,
    test: impl Fn(&[f32], &[Vec<f32>]) -> Result<(), TestCaseError>,
) {
    match runner(cases).run(&blocks, |(query, rows)| test(&query, &rows)) {
        Ok(()) => {}
        Err(TestError::Fail(reason, (query, rows))) => {
            let preview = |v: &[f32]| format!("{:?}", &v[..v.len().min(8)]);
            panic!(
                "{reason}\nminimal failing block: dim {}, {} rows; query starts {}, rows start {:?}",
                query.len(),
                rows.len(),
                preview(&query),
                rows.iter().map(|r| preview(r)).collect::<Vec<_>>(),
            );
        }
        Err(TestError::Abort(reason)) => panic!("aborted: {reason}"),
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        // Do not write regression files into the source tree; a failure prints its input.
        failure_persistence: None,
        // Shrinking a 65536-float vector element by element would take forever.
        max_shrink_iters: 2048,
        ..Config::default()
    })
}

/// The bound property over `cases` blocks of dimensions `dims`, printing the paths it ran.
fn check_paths_within_bounds(test: &str, cases: u32, dims: &'static [usize], max_rows: usize) {
    let paths = report_paths(test);
    let ill_posed = AtomicUsize::new(0);
    run_blocks(cases, block(dims, max_rows), |query, rows| {
        check_block(&paths, query, rows, &ill_posed)
    });
    eprintln!(
        "{test}: cosine distances without a useful bound (a squared norm underflows f32), \
         checked only to be finite: {}",
        ill_posed.load(Ordering::Relaxed)
    );
}

#[test]
fn every_path_is_within_the_error_bound_of_the_f64_reference() {
    check_paths_within_bounds("every_path_is_within_the_error_bound", 512, DIMS, 3);
}

#[test]
fn every_path_is_within_the_error_bound_at_65536_dimensions() {
    check_paths_within_bounds(
        "every_path_is_within_the_error_bound_at_65536",
        6,
        &[65536],
        2,
    );
}

#[test]
fn a_block_of_many_rows_equals_each_row_alone() {
    let paths = report_paths("a_block_of_many_rows_equals_each_row_alone");
    run_blocks(128, block(DIMS, 40), |query, rows| {
        let packed = rows.concat();
        let mut out = vec![f32::NAN; rows.len()];
        for &isa in &paths {
            for space in SPACES {
                let kernel = Kernel::with_isa(space, isa).unwrap();
                kernel.distances(query, &packed, &mut out);
                for (i, (row, &block_d)) in rows.iter().zip(&out).enumerate() {
                    let alone = kernel.distance(query, row);
                    // Same code on the same floats: bit for bit, not merely close.
                    prop_assert_eq!(
                        block_d.to_bits(),
                        alone.to_bits(),
                        "{} {} dim {} row {}: block {} alone {}",
                        isa.name(),
                        space,
                        query.len(),
                        i,
                        block_d,
                        alone
                    );
                }
            }
        }
        Ok(())
    });
}

#[test]
fn rows_read_in_place_at_slots_equal_each_row_alone() {
    let paths = report_paths("rows_read_in_place_at_slots_equal_each_row_alone");
    run_blocks(128, block(DIMS, 40), |query, rows| {
        let table = rows.concat();
        // Every other row, backwards, and one row twice: any order and repeats are allowed.
        let mut slots: Vec<u64> = (0..rows.len() as u64).rev().step_by(2).collect();
        slots.push(0);
        let mut out = vec![f32::NAN; slots.len()];
        for &isa in &paths {
            for space in SPACES {
                let kernel = Kernel::with_isa(space, isa).unwrap();
                kernel.distances_at(query, &table, &slots, &mut out);
                for (&slot, &got) in slots.iter().zip(&out) {
                    let alone = kernel.distance(query, &rows[slot as usize]);
                    prop_assert_eq!(
                        got.to_bits(),
                        alone.to_bits(),
                        "{} {} dim {} slot {}: in place {} alone {}",
                        isa.name(),
                        space,
                        query.len(),
                        slot,
                        got,
                        alone
                    );
                }
            }
        }
        Ok(())
    });
}

#[test]
fn every_path_agrees_with_scalar_on_the_chroma_examples() {
    let paths = report_paths("every_path_agrees_with_scalar_on_the_chroma_examples");
    let query = [2.0f32, 1.0];
    let rows = [1.0f32, 2.0, 3.0, -1.0];
    let expected = [
        (Space::L2, [2.0, 5.0]),
        (Space::Ip, [-3.0, -4.0]),
        (Space::Cosine, [0.2, 0.29289]),
    ];
    for (space, want) in expected {
        let mut oracle = [0.0f32; 2];
        Kernel::with_isa(space, Isa::Scalar)
            .unwrap()
            .distances(&query, &rows, &mut oracle);
        for (got, want) in oracle.iter().zip(want) {
            assert!((got - want).abs() < 1e-5, "scalar {space}: {got} != {want}");
        }
        for &isa in &paths {
            let mut out = [0.0f32; 2];
            Kernel::with_isa(space, isa)
                .unwrap()
                .distances(&query, &rows, &mut out);
            assert_eq!(out, oracle, "{} {space} disagrees with scalar", isa.name());
        }
    }
}

#[test]
fn zero_vectors_are_at_cosine_distance_exactly_one() {
    let paths = report_paths("zero_vectors_are_at_cosine_distance_exactly_one");
    for &isa in &paths {
        let kernel = Kernel::with_isa(Space::Cosine, isa).unwrap();
        for dim in DIMS.iter().copied().chain([65536]) {
            let zero = vec![0.0f32; dim];
            let ones: Vec<f32> = (0..dim).map(|i| 1.0 + i as f32).collect();
            for (a, b) in [(&zero, &zero), (&zero, &ones), (&ones, &zero)] {
                let d = kernel.distance(a, b);
                assert!(
                    d == 1.0,
                    "{} dim {dim}: cosine with a zero vector is {d}",
                    isa.name()
                );
            }
        }
    }
}

#[test]
fn dimension_zero_behaves_as_scalar() {
    for isa in Isa::available_paths() {
        for (space, want) in [(Space::L2, 0.0), (Space::Ip, 1.0), (Space::Cosine, 1.0)] {
            let mut out = [f32::NAN; 3];
            Kernel::with_isa(space, isa)
                .unwrap()
                .distances(&[], &[], &mut out);
            assert_eq!(out, [want; 3], "{} {space}", isa.name());
        }
    }
}

#[test]
fn tolerance_catches_a_dropped_element() {
    // The bound must be tight enough to fail a kernel that forgets its last element (the
    // classic tail bug); otherwise the properties above would prove nothing. The last pair is
    // anti-aligned against the rest (as a tail can be), so it moves every space by far more
    // than gamma_n, which a worst-case bound cannot beat for one element among thousands of
    // alike ones (gamma_n is 0.4% at 65536 dimensions).
    for dim in DIMS.iter().copied().filter(|&d| d > 0) {
        let mut a: Vec<f32> = (0..dim).map(|i| 1.0 + (i % 7) as f32 / 8.0).collect();
        let mut b: Vec<f32> = (0..dim).map(|i| 0.5 + (i % 5) as f32 / 8.0).collect();
        a[dim - 1] = 3.0;
        b[dim - 1] = -3.0;
        let dropped = |x: &[f32]| x[..dim - 1].to_vec();
        for space in SPACES {
            let (exact, bound) = reference(space, &a, &b).unwrap();
            let mut wrong = [0.0f32];
            // The scalar path on vectors without their last element: what a tail bug computes.
            Kernel::with_isa(space, Isa::Scalar).unwrap().distances(
                &dropped(&a),
                &dropped(&b),
                &mut wrong,
            );
            assert!(
                !within(wrong[0], exact, bound),
                "{space} dim {dim}: a dropped element passes"
            );
        }
    }
}

#[test]
fn simd_names_parse_and_unknown_or_unavailable_names_are_errors() {
    for &isa in Isa::ALL {
        match Isa::from_name(isa.name()) {
            Ok(parsed) => assert!(isa.available() && parsed == isa, "{}", isa.name()),
            Err((requested, reason)) => {
                assert!(
                    !isa.available(),
                    "{} is available but rejected: {reason}",
                    isa.name()
                );
                assert_eq!(requested, isa.name());
                assert!(reason.contains("cannot run"), "{reason}");
                assert!(
                    reason.contains("scalar"),
                    "the message lists what is available: {reason}"
                );
            }
        }
    }
    // Some path of another architecture is never available, whatever this machine is.
    assert!(Isa::ALL.iter().any(|isa| !isa.available()));
    for unknown in ["sse9", "AVX2", "", "avx-512", "scalar "] {
        let (requested, reason) = Isa::from_name(unknown).unwrap_err();
        assert_eq!(requested, unknown);
        assert!(
            reason.contains("unknown path") && reason.contains("portable"),
            "{reason}"
        );
    }
}

#[test]
fn kernels_are_made_only_for_available_paths() {
    for &isa in Isa::ALL {
        match Kernel::with_isa(Space::L2, isa) {
            Ok(kernel) => assert!(isa.available() && kernel.isa() == isa),
            Err(Error::SimdUnavailable { requested, .. }) => {
                assert!(!isa.available());
                assert_eq!(requested, isa.name());
            }
            Err(other) => panic!("{}: unexpected error {other}", isa.name()),
        }
    }
}

#[test]
fn detect_picks_the_widest_available_path() {
    let best = Isa::detect();
    assert!(best.available());
    let preference = [Isa::Avx512, Isa::Avx2, Isa::Neon, Isa::Portable];
    let first = preference.into_iter().find(|isa| isa.available());
    assert_eq!(Some(best), first);
    assert_eq!(Isa::detect(), best, "cached");
}
