"""Memory latency: MnemoStorage vs crewai's default LanceDBStorage, same embeddings, same run.

    python python/tests/crewai/bench_memory.py [N ...]     (default: 10000)

For each N: both stores are bulk-loaded with the same N records (384-dim unit vectors, 50
scopes), then timed on the paths Memory uses:
- ``search``: the backend call behind ``recall`` (limit 20 = Memory's 10 x oversample 2),
  over the whole store and within one scope;
- ``recall``: ``Memory.recall(depth="shallow", limit=10)`` end to end (embedding included),
  over the whole store, and in one crew (``root_scope="/crew/c1"``, a fifth of the records,
  as ``Crew(memory=True)`` scopes its memory);
- ``remember``: ``Memory.remember`` on the zero-LLM path (scope, categories, importance given).
Reports the median and p95 in milliseconds. Not run by the test suite.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["CREWAI_TRACING_ENABLED"] = "false"
os.environ["CREWAI_DISABLE_TELEMETRY"] = "true"
os.environ["OTEL_SDK_DISABLED"] = "true"

import numpy as np  # noqa: E402

DIMS = 384
WORDS = [f"w{i}" for i in range(2000)]


def embedder(texts):
    out = []
    for t in texts:
        seed = abs(hash(t)) % (2**32)
        v = np.random.default_rng(seed).standard_normal(DIMS).astype(np.float32)
        out.append((v / np.linalg.norm(v)).tolist())
    return out


def records(n, rng):
    from crewai.memory.types import MemoryRecord

    vecs = rng.standard_normal((n, DIMS)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return [
        MemoryRecord(
            content=" ".join(rng.choice(WORDS, 8)),
            scope=f"/crew/c{i % 5}/agent/a{i % 50}",
            categories=[f"cat{i % 13}"],
            importance=float(rng.random()),
            embedding=vecs[i].tolist(),
        )
        for i in range(n)
    ]


def timed(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return statistics.median(ts), ts[int(len(ts) * 0.95) - 1]


def bench(name, store, recs, rng):
    from crewai.memory import Memory

    t0 = time.perf_counter()
    for i in range(0, len(recs), 1000):
        store.save(recs[i : i + 1000])
    load = time.perf_counter() - t0
    if hasattr(store, "optimize"):
        store.optimize()
    qs = [embedder([f"query {i}"])[0] for i in range(50)]
    it = iter(qs * 100)
    s_all = timed(lambda: store.search(next(it), limit=20), 50)
    s_scope = timed(lambda: store.search(next(it), scope_prefix="/crew/c1/agent/a11", limit=20), 50)
    mem = Memory(storage=store, embedder=embedder, consolidation_threshold=1.0, llm="gpt-4o-mini")
    recall = timed(lambda: mem.recall(f"query {rng.integers(1e9)}", depth="shallow", limit=10), 100)
    crew = Memory(storage=store, embedder=embedder, consolidation_threshold=1.0, llm="gpt-4o-mini", root_scope="/crew/c1")
    recall_crew = timed(lambda: crew.recall(f"query {rng.integers(1e9)}", depth="shallow", limit=10), 100)
    crew.close()
    k = iter(range(10**9))
    remember = timed(
        lambda: mem.remember(f"new fact {next(k)}", scope="/crew/c1/agent/a11", categories=["new"], importance=0.5), 30
    )
    mem.close()
    print(
        f"{name:10s} load {len(recs) / load:9.0f} rec/s | search all {s_all[0]:7.2f} / {s_all[1]:7.2f} ms"
        f" | search scope {s_scope[0]:7.2f} / {s_scope[1]:7.2f} | recall {recall[0]:7.2f} / {recall[1]:7.2f}"
        f" | recall crew {recall_crew[0]:7.2f} / {recall_crew[1]:7.2f}"
        f" | remember {remember[0]:7.2f} / {remember[1]:7.2f}",
        flush=True,
    )


def main(sizes):
    from crewai.memory.storage.lancedb_storage import LanceDBStorage

    from mnemodb.integrations.crewai import MnemoStorage

    for n in sizes:
        recs = records(n, np.random.default_rng(7))
        print(f"N = {n} records, {DIMS} dims (median / p95 ms)", flush=True)
        with tempfile.TemporaryDirectory() as d:
            bench("mnemodb", MnemoStorage(Path(d) / "mnemo"), recs, np.random.default_rng(1))
            bench("lancedb", LanceDBStorage(path=str(Path(d) / "lance"), compact_every=0), recs, np.random.default_rng(1))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10000])
