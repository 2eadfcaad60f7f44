#!/usr/bin/env python3
"""The async client against the sync client under ``asyncio.to_thread``: 1,000 concurrent
``query`` tasks from one event loop on a 20,000 x 384 collection, same queries, same run.

    .venv/bin/python benches/peers/async_bench.py                  # 20,000 x 384, 1,000 tasks, 3 rounds
    .venv/bin/python benches/peers/async_bench.py --records 5000 --tasks 200 --rounds 2

Needs the repository's .venv with mnemodb built (maturin develop --release). No network.

The collection (l2, random normal float32 vectors, seed 0) is filled with the sync client in
batches of 5,000, and its HNSW index is completed (``wait_for_index``) before timing: this
bench measures how each client serves concurrent queries, not the index build. Each round
starts 1,000 tasks at once on one loop, each running one ``query(n_results=10)`` for its own
vector (documents and metadatas included, chromadb's default), and waits for all of them:

- ``async``: ``await collection.query(...)`` on ``mnemodb.AsyncPersistentClient`` (the call runs
  on the native worker pool, the future is completed on the loop; no Python thread per call);
- ``to_thread``: ``await asyncio.to_thread(collection.query, ...)`` on ``PersistentClient``
  (asyncio's default executor, ``min(32, cores + 4)`` Python threads).

A task's latency is from the moment it starts running (all start together) to its result, so
it includes the time it waits behind the others. Reported per mode: throughput (tasks / wall
time of the round; the best and the median round) and p50 / p99 / max latency over all timed
rounds, and the process's CPU time per query (median round: on a machine shared with other
work, wall-clock rates also measure how much of the cores each mode's threads were given).
Modes alternate round by round after one untimed warm-up round each. Both modes return the
same results (checked). Not run by the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List, Tuple

import numpy as np

import mnemodb


def percentile(values: List[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


async def round_async(col: Any, queries: np.ndarray) -> Tuple[float, List[float], List[Any]]:
    async def one(q: np.ndarray) -> Tuple[float, Any]:
        t0 = time.perf_counter()
        r = await col.query(query_embeddings=q, n_results=10)
        return time.perf_counter() - t0, r

    t0 = time.perf_counter()
    out = await asyncio.gather(*[one(q) for q in queries])
    return time.perf_counter() - t0, [lat for lat, _ in out], [r["ids"] for _, r in out]


async def round_to_thread(col: Any, queries: np.ndarray) -> Tuple[float, List[float], List[Any]]:
    async def one(q: np.ndarray) -> Tuple[float, Any]:
        t0 = time.perf_counter()
        r = await asyncio.to_thread(col.query, query_embeddings=q, n_results=10)
        return time.perf_counter() - t0, r

    t0 = time.perf_counter()
    out = await asyncio.gather(*[one(q) for q in queries])
    return time.perf_counter() - t0, [lat for lat, _ in out], [r["ids"] for _, r in out]


async def bench(path: str, queries: np.ndarray, rounds: int) -> Dict[str, Dict[str, Any]]:
    acol = await (await mnemodb.AsyncPersistentClient(path)).get_collection("bench")
    scol = mnemodb.PersistentClient(path).get_collection("bench")
    modes = {"async": lambda: round_async(acol, queries), "to_thread": lambda: round_to_thread(scol, queries)}
    results: Dict[str, Dict[str, Any]] = {m: {"walls": [], "lats": [], "cpus": []} for m in modes}
    answers: Dict[str, Any] = {}
    for mode, run in modes.items():  # warm-up (starts the pool / the executor's threads)
        _, _, answers[mode] = await run()
    if answers["async"] != answers["to_thread"]:
        raise SystemExit("the two clients returned different results")
    for _ in range(rounds):
        for mode, run in modes.items():
            cpu = time.process_time()
            wall, lats, _ = await run()
            results[mode]["cpus"].append(time.process_time() - cpu)
            results[mode]["walls"].append(wall)
            results[mode]["lats"].extend(lats)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--tasks", type=int, default=1_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    data = rng.normal(size=(args.records, args.dim)).astype(np.float32)
    queries = rng.normal(size=(args.tasks, args.dim)).astype(np.float32)
    tmp = tempfile.mkdtemp(prefix="mnemodb-async-bench-")
    try:
        path = os.path.join(tmp, "db")
        col = mnemodb.PersistentClient(path).create_collection("bench")
        t0 = time.perf_counter()
        for start in range(0, args.records, 5_000):
            end = min(start + 5_000, args.records)
            col.add(
                ids=[f"id{i}" for i in range(start, end)],
                embeddings=data[start:end],
                documents=[f"document {i}" for i in range(start, end)],
                metadatas=[{"i": i} for i in range(start, end)],
            )
        col.wait_for_index()
        print(f"filled {args.records} x {args.dim} and indexed in {time.perf_counter() - t0:.1f} s")
        print(f"python {platform.python_version()}, {os.cpu_count()} cores, mnemodb {mnemodb.__version__}")
        results = asyncio.run(bench(path, queries, args.rounds))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{args.tasks} concurrent query tasks, {args.rounds} timed rounds per mode")
    print(f"{'mode':<10} {'best q/s':>9} {'median q/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'cpu us/q':>9}")
    for mode, r in results.items():
        rates = [args.tasks / w for w in r["walls"]]
        lats = [x * 1e3 for x in r["lats"]]
        cpu = statistics.median(r["cpus"]) / args.tasks * 1e6
        print(
            f"{mode:<10} {max(rates):>9.0f} {statistics.median(rates):>11.0f} "
            f"{percentile(lats, 50):>8.1f} {percentile(lats, 99):>8.1f} {max(lats):>8.1f} {cpu:>9.0f}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
