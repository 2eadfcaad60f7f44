"""Through-Python benchmark: mnemodb against chromadb 1.5.9 on the same data, same run.

Each store runs in its own process, one after the other, on the same seeded data (unit
vectors, metadata {"source": "s"+(i%10), "n": i}, short documents):
add throughput, single-query p50/p95 (k=10), batch-query QPS, filtered query (10%),
reopen + first query, peak RSS; mnemodb also reports its Python-layer overhead per query
(full `Collection.query` minus the bare native call). Prints a markdown table and writes JSON.

    .venv/bin/python python/bench/bench_vs_chroma.py [--n 100000] [--dim 384] [--queries 500]
        [--stores mnemodb,chromadb] [--out bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

CHILD = r"""
import json, os, resource, shutil, statistics, sys, tempfile, time
import numpy as np
store, n, dim, nq = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.environ["ANONYMIZED_TELEMETRY"] = "False"
rng = np.random.default_rng(7)
vecs = rng.normal(size=(n, dim)).astype(np.float32)
vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
queries = rng.normal(size=(nq, dim)).astype(np.float32)
queries /= np.linalg.norm(queries, axis=1, keepdims=True)
ids = [f"id{i}" for i in range(n)]
mds = [{"source": f"s{i % 10}", "n": i} for i in range(n)]
docs = [f"document number {i}" for i in range(n)]
path = tempfile.mkdtemp(prefix=f"bench-{store}-")
if store == "mnemodb":
    import mnemodb as mod
    from mnemodb.api import Client
    clear = Client.clear_system_cache
    settings = None
else:
    import chromadb as mod
    from chromadb.config import Settings
    clear = mod.api.client.SharedSystemClient.clear_system_cache
    settings = Settings(anonymized_telemetry=False)
def client():
    return mod.PersistentClient(path=path, settings=settings) if settings else mod.PersistentClient(path=path)
out = {"store": store, "version": getattr(mod, "__version__", "?")}
c = client()
col = c.create_collection("bench", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
batch = 5000 if store == "mnemodb" else 5000
t = time.perf_counter()
for s in range(0, n, batch):
    col.add(ids=ids[s:s+batch], embeddings=vecs[s:s+batch], metadatas=mds[s:s+batch], documents=docs[s:s+batch])
out["add_s"] = time.perf_counter() - t
out["add_per_s"] = n / out["add_s"]
def lat(fn):
    for q in queries[:20]: fn(q)
    xs = []
    for q in queries:
        t = time.perf_counter(); fn(q); xs.append((time.perf_counter() - t) * 1e3)
    xs.sort()
    return statistics.median(xs), xs[int(0.95 * len(xs))]
out["query_p50_ms"], out["query_p95_ms"] = lat(lambda q: col.query(query_embeddings=q, n_results=10))
out["filtered_p50_ms"], out["filtered_p95_ms"] = lat(lambda q: col.query(query_embeddings=q, n_results=10, where={"source": "s3"}))
if store == "mnemodb":
    # Python-layer cost per query: full Collection.query minus the bare native call, measured
    # alternately on the same queries (so machine noise hits both alike), on a 1,000-record
    # collection where the engine's own work is small.
    small = c.create_collection("overhead")
    small.add(ids=ids[:1000], embeddings=vecs[:1000], metadatas=mds[:1000], documents=docs[:1000])
    native = small._native
    inc = ["metadatas", "documents", "distances"]
    full_t, bare_t = [], []
    for q in queries:
        q2 = q.reshape(1, -1)
        t = time.perf_counter(); small.query(query_embeddings=q, n_results=10); full_t.append(time.perf_counter() - t)
        t = time.perf_counter(); native.query(q2, 10, None, None, None, inc); bare_t.append(time.perf_counter() - t)
    out["native_query_p50_ms"] = statistics.median(bare_t) * 1e3
    out["python_overhead_us"] = (statistics.median(full_t) - statistics.median(bare_t)) * 1e6
t = time.perf_counter()
col.query(query_embeddings=queries, n_results=10, include=["distances"])
out["batch_qps"] = nq / (time.perf_counter() - t)
del col, c
clear()
t = time.perf_counter()
c = client()
col = c.get_collection("bench")
col.query(query_embeddings=queries[:1], n_results=10)
out["reopen_first_query_ms"] = (time.perf_counter() - t) * 1e3
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["disk_mb"] = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs) / 2**20
shutil.rmtree(path, ignore_errors=True)
print(json.dumps(out))
"""

COLUMNS = [
    ("add_per_s", "add records/s", "{:,.0f}"),
    ("query_p50_ms", "query p50 ms", "{:.3f}"),
    ("query_p95_ms", "query p95 ms", "{:.3f}"),
    ("batch_qps", "batch QPS", "{:,.0f}"),
    ("filtered_p50_ms", "filtered p50 ms", "{:.3f}"),
    ("reopen_first_query_ms", "reopen + 1st query ms", "{:.1f}"),
    ("peak_rss_mb", "peak RSS MB", "{:.0f}"),
    ("disk_mb", "disk MB", "{:.0f}"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--stores", default="mnemodb,chromadb")
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "mnemodb-bench-python.json"))
    args = ap.parse_args()
    rows = []
    for store in args.stores.split(","):
        print(f"running {store} ({args.n} x {args.dim}) ...", file=sys.stderr, flush=True)
        r = subprocess.run(
            [sys.executable, "-c", CHILD, store, str(args.n), str(args.dim), str(args.queries)],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            print(f"{store} failed:\n{r.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(f"\n{args.n} x {args.dim} cosine, k=10, {args.queries} queries; {platform.processor() or platform.machine()}, {os.cpu_count()} cpus\n")
    print("| store | " + " | ".join(c[1] for c in COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for row in rows:
        cells = [fmt.format(row[key]) if key in row else "-" for key, _, fmt in COLUMNS]
        print(f"| {row['store']} {row['version']} | " + " | ".join(cells) + " |")
    for row in rows:
        if "python_overhead_us" in row:
            print(f"\nmnemodb Python-layer overhead per query: {row['python_overhead_us']:.1f} us "
                  f"(1,000-record collection; the bare native call's p50 there is {row['native_query_p50_ms']:.3f} ms)")
    with open(args.out, "w") as f:
        json.dump({"n": args.n, "dim": args.dim, "queries": args.queries, "results": rows}, f, indent=1)
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
