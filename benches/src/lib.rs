//! Data generation shared by the benches in `benches/benches/`.

use std::f64::consts::TAU;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// `n` rows of `dim` Gaussian floats scaled to unit length, from a fixed seed.
pub fn unit_gaussian_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut data = vec![0.0f32; n * dim];
    for row in data.chunks_exact_mut(dim) {
        // Box-Muller: two independent normals per pair of uniforms.
        for pair in row.chunks_mut(2) {
            let u1 = 1.0 - rng.random::<f64>(); // in (0, 1], so ln is finite
            let u2 = rng.random::<f64>();
            let r = (-2.0 * u1.ln()).sqrt();
            pair[0] = (r * (TAU * u2).cos()) as f32;
            if let Some(second) = pair.get_mut(1) {
                *second = (r * (TAU * u2).sin()) as f32;
            }
        }
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    data
}

/// `n` base rows and `queries` held-out rows from a Gaussian mixture of `clusters` unit
/// centres in `dim` dimensions (spread 0.5 / sqrt(dim) per coordinate), each scaled to unit
/// length: clustered like real embeddings, unlike uniform Gaussian rows, on which every
/// graph index does badly.
pub fn clustered_unit_rows(
    n: usize,
    queries: usize,
    dim: usize,
    clusters: usize,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let centres = unit_gaussian_rows(clusters, dim, seed);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let spread = 0.5 / (dim as f64).sqrt();
    let mut make = |count: usize| {
        let mut out = vec![0.0f32; count * dim];
        for row in out.chunks_exact_mut(dim) {
            let c = rng.random_range(0..clusters);
            for (j, x) in row.iter_mut().enumerate() {
                let u1 = 1.0 - rng.random::<f64>();
                let u2 = rng.random::<f64>();
                let z = (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos();
                *x = centres[c * dim + j] + (spread * z) as f32;
            }
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            row.iter_mut().for_each(|x| *x /= norm);
        }
        out
    };
    let base = make(n);
    let held_out = make(queries);
    (base, held_out)
}
