"""8 Python threads making engine-heavy calls against the same calls one after another.

A measurement, not a test (wall-clock speedups depend on the machine and its load; the test
suite checks the GIL is released with `test_gil_released_during_engine_calls` instead):

    .venv/bin/python python/bench/bench_threads.py
"""

import os
import tempfile
import threading
import time
from typing import Any, Callable

import numpy as np

import mnemodb


def _run_threads(fn: Callable[[int], None], n: int = 8) -> None:
    threads = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        client = mnemodb.PersistentClient(path=tmp)
        col = client.create_collection("speed")
        rng = np.random.default_rng(5)
        col.add(ids=[str(i) for i in range(4000)], embeddings=rng.normal(size=(4000, 256)).astype(np.float32), metadatas=[{"n": i} for i in range(4000)])
        queries = rng.normal(size=(8, 16, 256)).astype(np.float32)

        def work(i: int) -> None:
            for _ in range(6):
                col.query(query_embeddings=queries[i], n_results=10, include=["distances"])
                col.get(where={"n": {"$gte": 3900 - 10 * i}}, limit=5, include=[])

        work(0)
        serial, parallel = [], []
        for _ in range(5):
            t = time.perf_counter()
            for i in range(8):
                work(i)
            serial.append(time.perf_counter() - t)
            t = time.perf_counter()
            _run_threads(work)
            parallel.append(time.perf_counter() - t)
        load = os.getloadavg()[0]
        print(f"serial {min(serial):.3f}s, 8 threads {min(parallel):.3f}s, speedup {min(serial) / min(parallel):.2f}x (load {load:.1f}, {os.cpu_count()} cpus)")


if __name__ == "__main__":
    main()
