"""Shared by the generators: exact ground truth, the on-disk layout of a set, its manifest.

A set is a directory `bench-data/out/<name>/` holding:

    base.npy              float32 (rows, dim), unit length
    queries.npy           float32 (1000, dim), unit length, held out (not rows of base)
    records.jsonl         one line per base row: {"id", "metadata", "document"}
    gt.npy                int32 (1000, 100): row numbers of each query's 100 nearest base rows
    gt_distances.npy      float32 (1000, 100): their cosine distances 1 - x.q, ascending
    gt_s3.npy             int32 (1000, 100): the same among rows with metadata source == "s3"
    gt_s3_distances.npy   float32 (1000, 100)
    manifest.json         what made it (generator, seed, versions) and a sha256 per file

Row i of base.npy has id str(i) in records.jsonl, and its metadata is
{"source": "s" + str(i % 10), "n": i, ...}: the rows with source "s3" are i % 10 == 3, 10 %.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

GT_K = 100
# Candidates kept per query from the float32 scan before the exact float64 re-rank. The f32
# scores are off by ~1e-6; the gap between the 100th and the 400th neighbour is far larger.
GT_CANDIDATES = 400
FILTER_NAME = "s3"
FILTER_WHERE = {"source": "s3"}


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length. The norm is summed in float64, so the float32 result does
    not depend on the summation order numpy's SIMD paths pick on a given CPU."""
    norms = np.sqrt(np.einsum("ij,ij->i", x.astype(np.float64), x.astype(np.float64)))
    return (x / norms[:, None]).astype(np.float32)


def exact_top_k(base: np.ndarray, queries: np.ndarray, allowed: np.ndarray | None = None,
                k: int = GT_K, chunk: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine top-k of unit vectors: (ids int32, distances float32), nearest first.

    `allowed` (sorted row numbers) restricts the search to those rows. Scores are computed in
    float32 chunk by chunk, the best GT_CANDIDATES per query kept, then re-scored in float64
    and sorted by (distance, id), so ties break by the smaller id.
    """
    rows = np.arange(base.shape[0]) if allowed is None else np.asarray(allowed)
    q32 = np.ascontiguousarray(queries, dtype=np.float32)
    keep = min(GT_CANDIDATES, rows.size)
    cand = np.empty((q32.shape[0], 0), dtype=np.int64)
    cand_s = np.empty((q32.shape[0], 0), dtype=np.float32)
    for start in range(0, rows.size, chunk):
        ids = rows[start:start + chunk]
        block = base[ids] if allowed is not None else base[start:start + chunk]
        scores = q32 @ np.asarray(block, dtype=np.float32).T
        take = min(keep, ids.size)
        part = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        cand = np.concatenate([cand, ids[part]], axis=1)
        cand_s = np.concatenate([cand_s, np.take_along_axis(scores, part, axis=1)], axis=1)
        if cand.shape[1] > keep:
            top = np.argpartition(-cand_s, keep - 1, axis=1)[:, :keep]
            cand = np.take_along_axis(cand, top, axis=1)
            cand_s = np.take_along_axis(cand_s, top, axis=1)
    q64 = queries.astype(np.float64)
    out_ids = np.empty((q64.shape[0], k), dtype=np.int32)
    out_dist = np.empty((q64.shape[0], k), dtype=np.float32)
    for i in range(q64.shape[0]):
        c = np.sort(cand[i])
        dist = 1.0 - base[c].astype(np.float64) @ q64[i]
        order = np.lexsort((c, dist))[:k]
        out_ids[i] = c[order]
        out_dist[i] = dist[order]
    return out_ids, out_dist


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_records(path: Path, n: int, document, extra=None) -> None:
    """records.jsonl: id str(i), metadata {"source": "s" + str(i % 10), "n": i, **extra(i)}."""
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            meta = {"source": "s" + str(i % 10), "n": i}
            if extra is not None:
                meta.update(extra(i))
            f.write(json.dumps({"id": str(i), "metadata": meta, "document": document(i)},
                               ensure_ascii=False, sort_keys=True) + "\n")


def write_ground_truth(out: Path, base: np.ndarray, queries: np.ndarray, log) -> dict:
    t = time.perf_counter()
    ids, dist = exact_top_k(base, queries)
    np.save(out / "gt.npy", ids)
    np.save(out / "gt_distances.npy", dist)
    log(f"  ground truth top-{GT_K}: {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    allowed = np.arange(3, base.shape[0], 10)  # metadata source == "s3"
    ids, dist = exact_top_k(base, queries, allowed=allowed)
    np.save(out / "gt_s3.npy", ids)
    np.save(out / "gt_s3_distances.npy", dist)
    log(f"  ground truth top-{GT_K} where source == s3: {time.perf_counter() - t:.1f} s")
    return {
        "k": GT_K, "metric": "cosine distance 1 - x.q (unit vectors)",
        "filters": {FILTER_NAME: {"where": FILTER_WHERE, "rows": int(allowed.size),
                                  "selectivity": allowed.size / base.shape[0],
                                  "files": ["gt_s3.npy", "gt_s3_distances.npy"]}},
        "method": f"float32 scan keeping {GT_CANDIDATES} candidates per query, "
                  "float64 re-rank, ties by smaller id",
    }


def write_manifest(out: Path, info: dict) -> dict:
    files = {}
    for p in sorted(out.iterdir()):
        if p.name == "manifest.json" or not p.is_file():
            continue
        files[p.name] = {"bytes": p.stat().st_size, "sha256": sha256(p)}
    info = dict(info)
    info["files"] = files
    info["made_with"] = {"python": sys.version.split()[0], "numpy": np.__version__,
                         "platform": platform.platform(), "machine": platform.machine()}
    info["made_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (out / "manifest.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info


def fresh_dir(path: Path) -> Path:
    if path.exists():
        for p in path.iterdir():
            if p.is_file():
                p.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
