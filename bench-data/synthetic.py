"""Synthetic sets: a seeded Gaussian mixture of 1,000 clusters in 384 dimensions, unit length.

Recipe (seed 42 unless --seed):
- centres: 1,000 rows of N(0, I_384) from default_rng([seed, 0]), scaled to unit length;
- rows are made in chunks of 10,000; chunk c draws from default_rng([seed, 1, c]): a cluster
  label per row, uniform over the 1,000 centres, then centre + (SPREAD / sqrt(384)) * N(0, I),
  scaled to unit length (SPREAD = 1: the noise has about the centre's length, so two rows of
  one cluster have cosine ~0.5 and rows of different clusters ~0);
- queries: 1,000 rows drawn the same way from default_rng([seed, 2]) (held out: no query is a
  row of the base);
- because rows come in seeded chunks, synthetic-20k and synthetic-100k are the first 20k and
  100k rows of synthetic-1m, with the same queries; each set's ground truth is its own.

Metadata of row i: {"source": "s" + str(i % 10), "n": i, "cluster": label}. Document:
"note {i} about topic {label % 100} from source s{i % 10}".
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import common

DIM = 384
CLUSTERS = 1_000
SPREAD = 1.0
CHUNK = 10_000
QUERIES = 1_000
SIZES = {"synthetic-20k": 20_000, "synthetic-100k": 100_000, "synthetic-1m": 1_000_000}


def centres(seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 0])
    return common.unit_rows(rng.standard_normal((CLUSTERS, DIM), dtype=np.float32))


def draw(rng: np.random.Generator, n: int, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, CLUSTERS, size=n)
    noise = rng.standard_normal((n, DIM), dtype=np.float32)
    x = c[labels] + np.float32(SPREAD / np.sqrt(DIM)) * noise
    return common.unit_rows(x), labels.astype(np.int32)


def make(name: str, out_root: Path, seed: int = 42) -> dict:
    rows = SIZES[name]
    out = common.fresh_dir(out_root / name)
    common.log(f"{name}: {rows} x {DIM} float32, {CLUSTERS} clusters, seed {seed} -> {out}")
    t0 = time.perf_counter()
    c = centres(seed)
    base = np.lib.format.open_memmap(out / "base.npy", mode="w+", dtype=np.float32,
                                     shape=(rows, DIM))
    labels = np.empty(rows, dtype=np.int32)
    for chunk in range(rows // CHUNK):
        x, lab = draw(np.random.default_rng([seed, 1, chunk]), CHUNK, c)
        base[chunk * CHUNK:(chunk + 1) * CHUNK] = x
        labels[chunk * CHUNK:(chunk + 1) * CHUNK] = lab
    base.flush()
    queries, _ = draw(np.random.default_rng([seed, 2]), QUERIES, c)
    np.save(out / "queries.npy", queries)
    common.write_records(
        out / "records.jsonl", rows,
        document=lambda i: f"note {i} about topic {labels[i] % 100} from source s{i % 10}",
        extra=lambda i: {"cluster": int(labels[i])})
    common.log(f"  vectors and records: {time.perf_counter() - t0:.1f} s")
    base = np.load(out / "base.npy", mmap_mode="r")
    gt = common.write_ground_truth(out, base, queries, common.log)
    info = common.write_manifest(out, {
        "name": name, "rows": rows, "dim": DIM, "queries": QUERIES, "dtype": "float32",
        "normalized": True, "seed": seed, "metric": "cosine", "ground_truth": gt,
        "generator": {"script": "bench-data/synthetic.py", "clusters": CLUSTERS,
                      "spread": SPREAD, "chunk": CHUNK},
    })
    common.log(f"  done in {time.perf_counter() - t0:.1f} s")
    return info
