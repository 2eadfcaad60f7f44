//! Distance-kernel throughput: one query against a block of rows, per SIMD path, space and dimension.
//!
//! Criterion reports GB/s of row data read (`Throughput::Bytes`), which is the number that
//! matters for an exact scan: the query stays in L1, the rows stream from cache or memory.
//! The block (1024 rows, 0.5-6 MiB) fits in L2/L3 on current servers, so this measures the
//! kernels rather than DRAM. Run with
//! `cargo bench -p mnemodb-bench --bench kernels -- --warm-up-time 1 --measurement-time 2`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mnemodb::{Isa, Kernel, Space};

const DIMS: [usize; 4] = [128, 384, 768, 1536];
const ROWS: usize = 1024;

/// Deterministic values in [-1, 1) (xorshift64*): every run reads the same data, and the
/// benchmark needs no random-number crate API.
fn floats(seed: u64, n: usize) -> Vec<f32> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let bits = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40; // 24 random bits
            bits as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

fn kernels(c: &mut Criterion) {
    let paths: Vec<Isa> = Isa::available_paths().collect();
    let unavailable: Vec<&str> = Isa::ALL
        .iter()
        .filter(|isa| !isa.available())
        .map(|isa| isa.name())
        .collect();
    let names: Vec<&str> = paths.iter().map(|isa| isa.name()).collect();
    eprintln!(
        "kernels: paths [{}]; unavailable here: [{}]",
        names.join(", "),
        unavailable.join(", ")
    );

    for space in [Space::L2, Space::Ip, Space::Cosine] {
        let mut group = c.benchmark_group(format!("kernels/{space}"));
        for dim in DIMS {
            let query = floats(dim as u64, dim);
            let rows = floats(dim as u64 + 1, dim * ROWS);
            let mut out = vec![0.0f32; ROWS];
            group.throughput(Throughput::Bytes(
                std::mem::size_of_val(rows.as_slice()) as u64
            ));
            for &isa in &paths {
                let kernel = Kernel::with_isa(space, isa)
                    .expect("Isa::available_paths lists only paths this CPU runs");
                group.bench_with_input(BenchmarkId::new(isa.name(), dim), &dim, |b, _| {
                    b.iter(|| kernel.distances(black_box(&query), black_box(&rows), &mut out));
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
