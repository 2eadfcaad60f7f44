"""mnemodb quickstart: the chromadb API, offline, on a built-in default.

Makes a temporary PersistentClient, adds 20,000 synthetic 384-d records with metadata and
documents, runs plain, filtered and document-filtered queries, reopens the database and
queries again, printing how long each step took. No arguments needed:

    python python/examples/quickstart.py [--n 20000] [--dim 384] [--queries 200] [--path DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

import numpy as np

import mnemodb  # was: import chromadb


def percentile(xs: list, q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def timed_queries(fn, queries: np.ndarray) -> list:
    out = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t) * 1e3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000, help="records to add (default 20000)")
    ap.add_argument("--dim", type=int, default=384, help="vector dimension (default 384)")
    ap.add_argument("--queries", type=int, default=200, help="queries per kind (default 200)")
    ap.add_argument("--path", help="database directory (default: a temporary one, removed at the end)")
    args = ap.parse_args()

    path = args.path or tempfile.mkdtemp(prefix="mnemodb-quickstart-")
    rng = np.random.default_rng(42)
    vectors = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"doc-{i}" for i in range(args.n)]
    metadatas = [{"source": f"s{i % 10}", "n": i} for i in range(args.n)]
    documents = [f"record {i} from source s{i % 10}" + (" mentions mnemodb" if i % 100 == 0 else "") for i in range(args.n)]
    queries = rng.normal(size=(args.queries, args.dim)).astype(np.float32)

    print(f"mnemodb {mnemodb.__version__}: {args.n} x {args.dim} float32 records in {path}")
    t = time.perf_counter()
    client = mnemodb.PersistentClient(path=path)
    notes = client.create_collection("quickstart", configuration={"hnsw": {"space": "cosine"}})
    print(f"  open + create collection      {(time.perf_counter() - t) * 1e3:8.1f} ms")

    t = time.perf_counter()
    batch = 5000
    for start in range(0, args.n, batch):
        end = start + batch
        notes.add(ids=ids[start:end], embeddings=vectors[start:end], metadatas=metadatas[start:end], documents=documents[start:end])
    add_s = time.perf_counter() - t
    print(f"  add {args.n} records            {add_s * 1e3:8.1f} ms  ({args.n / add_s:,.0f} records/s)")

    # Writes return once durable; the HNSW index links them in the background, and queries
    # scan what it has not reached yet. Waiting here makes the timings below the index's (and
    # the reopen check below exact: a reopened collection loads the same graph).
    t = time.perf_counter()
    notes.wait_for_index()  # mnemodb only; chromadb has no such call
    print(f"  index complete after          {(time.perf_counter() - t) * 1e3:8.1f} ms more")

    top = notes.query(query_embeddings=vectors[:1], n_results=3)
    print(f"  query(doc-0) -> {top['ids'][0]}, distances {[round(d, 4) for d in top['distances'][0]]}")

    plain = timed_queries(lambda q: notes.query(query_embeddings=q, n_results=10), queries)
    filt = timed_queries(lambda q: notes.query(query_embeddings=q, n_results=10, where={"source": "s3"}), queries)
    docf = timed_queries(lambda q: notes.query(query_embeddings=q, n_results=10, where_document={"$contains": "mnemodb"}), queries)
    for label, xs in (("query k=10", plain), ("query where source=s3 (10%)", filt), ("query where_document $contains", docf)):
        print(f"  {label:<32}p50 {statistics.median(xs):7.3f} ms  p95 {percentile(xs, 0.95):7.3f} ms")

    t = time.perf_counter()
    batch_q = notes.query(query_embeddings=queries, n_results=10, include=[])
    bq = time.perf_counter() - t
    print(f"  batch query ({len(queries)} at once)      {bq * 1e3:8.1f} ms  ({len(queries) / bq:,.0f} queries/s)")
    assert len(batch_q["ids"]) == len(queries)

    page = notes.get(where={"n": {"$lt": 5}}, include=["documents"])
    print(f"  get(where n < 5) -> {page['ids']}")

    # reopen: a new client on the same directory (as a new process would)
    del notes, client
    mnemodb.api.Client.clear_system_cache()
    t = time.perf_counter()
    client = mnemodb.PersistentClient(path=path)
    notes = client.get_collection("quickstart")
    again = notes.query(query_embeddings=vectors[:1], n_results=3)
    print(f"  reopen + first query          {(time.perf_counter() - t) * 1e3:8.1f} ms  -> {again['ids'][0]}, count {notes.count()}")
    assert again["ids"] == top["ids"]

    if args.path is None:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
