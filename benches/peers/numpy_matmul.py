"""numpy's batch path, the peer for `benches/search.rs`: `X @ Q.T` plus argpartition top-10.

Same shape as the Rust bench: 100k x 384 float32 rows and 100 queries, Gaussian scaled to unit
length, seeded. Reports per-query time and QPS for a batch of 100 and the latency of a single
query, for the inner-product form (cosine on unit vectors) and the L2 form
(|x|^2 - 2 x.q + |q|^2 with precomputed row norms).

Run: python benches/peers/numpy_matmul.py [--threads 2] [--repeats 21]
"""

import argparse
import ctypes
import glob
import os
import sys

# BLAS reads its thread count when it loads: set it before importing numpy.
_ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_ap.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
_ap.add_argument("--repeats", type=int, default=21, help="timed runs per figure (median)")
ARGS = _ap.parse_args()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import time  # noqa: E402

import numpy as np  # noqa: E402

ROWS, DIM, QUERIES, K = 100_000, 384, 100, 10


def unit_gaussian(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def blas_info() -> str:
    """OpenBLAS's thread count and kernel, read through ctypes (numpy alone, no threadpoolctl)."""
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(libdir, "*openblas*.so*")):
        lib = ctypes.CDLL(path)  # the copy numpy already loaded
        for prefix in ("scipy_openblas_", "openblas_"):
            threads = getattr(lib, f"{prefix}get_num_threads64_", None)
            corename = getattr(lib, f"{prefix}get_corename64_", None)
            if threads is not None:
                core = ""
                if corename is not None:
                    corename.restype = ctypes.c_char_p
                    core = f", kernel {corename().decode()}"
                return f"{threads()}{core}"
    return "unknown (no OpenBLAS library found next to numpy)"


def top_k_largest(scores: np.ndarray) -> np.ndarray:
    """Per query row, the columns of the k largest scores, largest first."""
    part = np.argpartition(scores, -K, axis=-1)[..., -K:]
    order = np.argsort(-np.take_along_axis(scores, part, axis=-1), axis=-1)
    return np.take_along_axis(part, order, axis=-1)


def scores(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """`X @ Q.T`, laid out query-major (`Q @ X.T`, the same GEMM) so each query's scores are
    contiguous for the selection: argpartition along the strided axis of `X @ Q.T` costs
    twice as much here."""
    return q @ x.T if q.ndim == 2 else x @ q


def search_ip(x: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inner-product distance 1 - x.q (cosine on unit vectors): the k largest dot products."""
    s = scores(x, q)
    idx = top_k_largest(s)
    return idx, 1.0 - np.take_along_axis(s, idx, axis=-1)


def search_l2(x: np.ndarray, x_sq: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared L2 |x|^2 - 2 x.q + |q|^2: rank by x.q - |x|^2 / 2 (|q|^2 is constant per
    query), then compute the distances of the k winners only."""
    s = scores(x, q)
    s -= 0.5 * x_sq
    idx = top_k_largest(s)
    q_sq = np.einsum("...j,...j->...", q, q)[..., None]
    return idx, q_sq - 2.0 * np.take_along_axis(s, idx, axis=-1)


def median_seconds(f, repeats: int) -> float:
    f()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main() -> None:
    x = unit_gaussian(ROWS, DIM, 42)
    q = unit_gaussian(QUERIES, DIM, 43)
    x_sq = np.einsum("ij,ij->i", x, x)
    # A row finds itself first, at distance ~0, in both forms and both shapes.
    for found, dist in (search_ip(x, x[7]), search_l2(x, x_sq, x[7]),
                        search_ip(x, x[7:8]), search_l2(x, x_sq, x[7:8])):
        assert found.flat[0] == 7 and abs(dist.flat[0]) < 1e-4, (found, dist)

    print(f"numpy {np.__version__}, python {sys.version.split()[0]}")
    print(f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']} "
          f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}; OpenBLAS threads: {blas_info()}")
    print(f"data {ROWS} x {DIM} float32 ({x.nbytes / 1e6:.1f} MB), {QUERIES} queries, k={K}, "
          f"median of {ARGS.repeats} runs")
    cases = {
        "ip/cosine (1 - x.q)": lambda qs: search_ip(x, qs),
        "l2 (|x|^2 - 2 x.q + |q|^2)": lambda qs: search_l2(x, x_sq, qs),
    }
    gemm = median_seconds(lambda: scores(x, q), ARGS.repeats)
    gemv = median_seconds(lambda: scores(x, q[0]), ARGS.repeats)
    print(f"GEMM alone (Q @ X.T, {QUERIES} queries): {gemm * 1e3:.2f} ms, "
          f"{2 * ROWS * DIM * QUERIES / gemm / 1e9:.0f} GFLOP/s")
    print(f"GEMV alone (X @ q): {gemv * 1e3:.3f} ms, reads X at {x.nbytes / gemv / 1e9:.1f} GB/s")
    for name, run in cases.items():
        batch = median_seconds(lambda: run(q), ARGS.repeats)
        single = median_seconds(lambda: run(q[0]), ARGS.repeats)
        print(f"{name}:")
        print(f"  batch {QUERIES}: {batch * 1e3:.2f} ms total, {batch / QUERIES * 1e3:.3f} ms/query, "
              f"{QUERIES / batch:,.0f} QPS")
        print(f"  single query: {single * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
