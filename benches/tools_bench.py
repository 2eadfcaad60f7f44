"""Tool executor figures (issue 15), through Python, with N cached entries (100,000 by default).

    .venv/bin/python benches/tools_bench.py [--entries 100000] [--samples 2000]

- exact hit: a call of an ``@executor.tool`` answered from the cache (the ledger row of the
  ``cache-hit`` included), and a bare ``MnemoCacheHandler.read`` (what crewai calls), against
  crewai's own in-memory ``CacheHandler.read`` holding the same entries, in the same run;
- semantic hit: a call answered from the nearest cached call's result (the query over the
  ``mnemodb_tool_semantic`` collection, the cache lookup and the ledger row; the embedding
  function is a precomputed table, so model time is left out);
- guarded-call overhead: a trivial tool through the executor (no timeout, no cache: its
  ``running`` row in one write transaction, with the previous call's outcome; its own outcome
  appended to the process's journal) minus the same function called directly;
- timeout lateness: how long after its deadline a timed-out call returns, per isolation mode.

Prints a Markdown table; p50 and p99 of each, in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

import numpy as np

os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")

import mnemodb  # noqa: E402
from mnemodb.tools import SEMANTIC_COLLECTION, ToolExecutor, _semantic_id  # noqa: E402

DIM = 64


def pct(xs: List[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def timed(fn: Callable[[], Any], n: int) -> List[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e6)
    return out


def row(name: str, us: List[float], note: str = "") -> str:
    return f"| {name} | {pct(us, 0.5):.1f} | {pct(us, 0.99):.1f} | {note} |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=2000)
    a = ap.parse_args()
    n, samples = a.entries, a.samples
    rng = np.random.default_rng(7)
    tmp = tempfile.mkdtemp(prefix="mnemodb-tools-bench-")
    client = mnemodb.PersistentClient(os.path.join(tmp, "db"))
    table: Dict[str, List[float]] = {}
    ex = ToolExecutor(client, max_repeats=None, embedding_function=lambda ts: [table[t] for t in ts],
                      semantic_threshold=0.05)

    # Timeouts first, while the process is small (a forked child copies its page tables).
    late: Dict[str, List[float]] = {"thread": [], "process": [], "async": []}
    deadline = 0.05

    @ex.tool(timeout=deadline, cache=False)
    def sleepy_thread() -> None:
        time.sleep(1)

    @ex.tool(timeout=deadline, cache=False, isolation="process")
    def sleepy_process() -> None:
        time.sleep(5)

    @ex.tool(timeout=deadline, cache=False)
    async def sleepy_async() -> None:
        await asyncio.sleep(5)

    for _ in range(20):
        for mode, f in (("thread", sleepy_thread), ("process", sleepy_process)):
            t = time.perf_counter()
            try:
                f()
            except TimeoutError:
                pass
            late[mode].append((time.perf_counter() - t - deadline) * 1e6)

        async def one() -> float:
            t = time.perf_counter()
            try:
                await sleepy_async()
            except TimeoutError:
                pass
            return (time.perf_counter() - t - deadline) * 1e6

        late["async"].append(asyncio.run(one()))

    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    t0 = time.perf_counter()
    for i in range(n):
        ex.cache_put("lookup", {"q": f"query {i}"}, f"result {i}")
    fill_s = time.perf_counter() - t0
    import json

    ran: List[str] = []

    @ex.tool
    def lookup(q: str) -> str:
        ran.append(q)
        return "fresh"

    @ex.tool(semantic=True)
    def lookup_semantic(q: str) -> str:
        ran.append(q)
        return "fresh"

    keys = rng.integers(0, n, size=samples)
    it = iter(keys)
    exact_call = timed(lambda: lookup(f"query {next(it)}"), samples)
    assert not ran, "every exact call was a hit"

    from mnemodb.integrations.crewai import MnemoCacheHandler
    from crewai.agents.cache.cache_handler import CacheHandler

    handler = MnemoCacheHandler(path=os.path.join(tmp, "db"))
    # crewai's key input is json.dumps of the arguments dict.
    inputs = [json.dumps({"q": f"query {k}"}) for k in keys]
    it2 = iter(inputs)
    handler_read = timed(lambda: handler.read("lookup", next(it2)), samples)
    theirs = CacheHandler()
    for i in range(n):
        theirs.add("lookup", json.dumps({"q": f"query {i}"}), f"result {i}")
    it2 = iter(inputs)
    crewai_read = timed(lambda: theirs.read("lookup", next(it2)), samples)

    # Semantic: the arguments' vectors of N cached calls of the semantic tool, indexed (the
    # figure is a query on the complete index, as in steady use).
    col = client.get_or_create_collection(SEMANTIC_COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None)
    t0 = time.perf_counter()
    for s in range(0, n, 5000):
        e = min(n, s + 5000)
        args = [json.dumps({"q": f"query {i}"}) for i in range(s, e)]
        col.add(ids=[_semantic_id("lookup_semantic", x) for x in args], embeddings=vectors[s:e],
                metadatas=[{"tool": "lookup_semantic", "args": x} for x in args])
    col.wait_for_index()
    index_s = time.perf_counter() - t0
    # Cached results for lookup_semantic under the stored args, and queries for near texts.
    for i in keys[: min(samples, 500)]:
        ex.cache_put("lookup_semantic", {"q": f"query {i}"}, f"result {i}")
    sem_keys = keys[: min(samples, 500)]
    for j, i in enumerate(sem_keys):
        noisy = vectors[i] + 0.01 * rng.standard_normal(DIM).astype(np.float32)
        table[f"near {j}"] = (noisy / np.linalg.norm(noisy)).tolist()
    it3 = iter(range(len(sem_keys)))
    semantic_call = timed(lambda: lookup_semantic(f"near {next(it3)}"), len(sem_keys))
    semantic_misses = len(ran)

    def direct(x: int) -> int:
        return x + 1

    guarded = ex.tool(cache=False, name="plain")(direct)
    direct_us = timed(lambda: direct(1), samples)
    guarded_us = timed(lambda: guarded(1), samples)
    overhead = [g - statistics.median(direct_us) for g in guarded_us]

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{n:,} cached entries (filled in {fill_s:.1f} s; semantic index of {n:,} vectors x {DIM} added and linked in {index_s:.1f} s)\n")
    print("| measure | p50 (us) | p99 (us) | note |")
    print("|---|---|---|---|")
    print(row("exact hit, `@executor.tool` call", exact_call, "cache lookup + a `cache-hit` ledger row"))
    print(row("exact hit, `MnemoCacheHandler.read`", handler_read, "what crewai calls; no ledger row"))
    print(row("crewai `CacheHandler.read` (in-memory dict)", crewai_read, "same entries, same run"))
    print(row("semantic hit, `@executor.tool(semantic=True)` call", semantic_call,
              f"nearest of {n:,} + cache lookup + ledger row; {semantic_misses} of {len(sem_keys)} missed"))
    print(row("guarded call overhead (no timeout, no cache)", overhead, f"direct call p50 {statistics.median(direct_us):.2f} us"))
    for mode in ("thread", "process", "async"):
        print(row(f"timeout lateness, {mode}", late[mode], f"deadline {deadline * 1000:.0f} ms, 20 calls"))


if __name__ == "__main__":
    main()
