"""Query latency while the HNSW index is being built, from Python, without waiting for it.

Adds N random vectors of DIM floats in batches of 5,461 (chromadb's batch size), then sends
single queries in a loop and reports, for each second, the count, p50, p99 and max latency,
until no index job is queued or running; then one more second with the index complete.
Nothing here is asserted: it reports.

For the slowest query of each second it also reports where its time went: `cpu` is the time
the querying thread ran on a CPU (`time.thread_time`), `ivcsw` how often the kernel switched
it out for another thread (preemption, `getrusage(RUSAGE_THREAD)`), and `steal` the time the
host took the virtual CPUs away in that second (`/proc/stat`, both CPUs; 0 on bare metal).
A query whose wall time is far above its CPU time with no switch waited for the host, not
for mnemodb.

    .venv/bin/python benches/build_latency.py [--n 100000] [--dim 384]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np

import mnemodb

BATCH = 5461


def pct(xs: list, p: float) -> float:
    return float(np.percentile(np.array(xs), p)) if xs else float("nan")


def steal_ms() -> float:
    """The host's steal time so far, all CPUs, in ms (0 where /proc/stat has no such column)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) * 1e3 / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    base = rng.standard_normal((args.n, args.dim)).astype(np.float32)
    queries = rng.standard_normal((1000, args.dim)).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        client = mnemodb.PersistentClient(path=d)
        col = client.create_collection("build", configuration={"hnsw": {"space": "cosine"}})
        t = time.perf_counter()
        for s in range(0, args.n, BATCH):
            col.add(ids=[str(i) for i in range(s, min(s + BATCH, args.n))], embeddings=base[s:s + BATCH])
        print(f"ingest {args.n} x {args.dim}: {time.perf_counter() - t:.1f} s (adds returned)")

        def building() -> bool:
            return any(j["kind"] == "index_catch_up" and j["state"] in ("queued", "running") for j in client.jobs())

        start = time.perf_counter()
        second, lat, i, rows = 0, [], 0, []
        first = None
        done_at = None
        slowest = (0.0, 0.0, 0)  # wall ms, on-CPU ms, involuntary switches
        stolen = steal_ms()
        while True:
            q = queries[i % len(queries)]
            i += 1
            r0 = resource.getrusage(resource.RUSAGE_THREAD)
            c0 = time.thread_time()
            t0 = time.perf_counter()
            col.query(query_embeddings=[q], n_results=10, include=[])
            ms = (time.perf_counter() - t0) * 1e3
            cpu = (time.thread_time() - c0) * 1e3  # (getrusage's times are tick-sampled)
            r1 = resource.getrusage(resource.RUSAGE_THREAD)
            if ms > slowest[0]:
                slowest = (ms, cpu, r1.ru_nivcsw - r0.ru_nivcsw)
            first = ms if first is None else first
            lat.append(ms)
            now = time.perf_counter() - start
            if now >= second + 1:
                state = "complete" if done_at is not None else "building"
                steal, stolen = steal_ms() - stolen, steal_ms()
                rows.append((second, len(lat), pct(lat, 50), pct(lat, 99), max(lat), state, slowest[1]))
                print(f"s{second:>4} {state:9} n={len(lat):>5} p50={pct(lat, 50):7.2f} ms "
                      f"p99={pct(lat, 99):7.2f} ms max={max(lat):7.2f} ms "
                      f"(cpu {slowest[1]:5.2f} ms, ivcsw {slowest[2]}) steal={steal:4.0f} ms", flush=True)
                second, lat, slowest = second + 1, [], (0.0, 0.0, 0)
                if done_at is not None:
                    break
                if not building():
                    done_at = now
        print(f"first query after ingest: {first:.2f} ms")
        print(f"index complete after {done_at:.1f} s of querying")
        building_rows = [r for r in rows if r[5] == "building"]
        if building_rows:
            print(f"during the build: worst per-second max {max(r[4] for r in building_rows):.2f} ms, "
                  f"worst p99 {max(r[3] for r in building_rows):.2f} ms; seconds with max > 10 ms: "
                  f"{sum(r[4] > 10 for r in building_rows)} of {len(building_rows)}; worst on-CPU time "
                  f"of a second's slowest query {max(r[6] for r in building_rows):.2f} ms")
        client.close()


if __name__ == "__main__":
    main()
