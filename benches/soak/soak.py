"""Soak: writer and reader processes on one database directory for a given time.

Every `--interval` seconds it prints (and writes to `--out` as JSON Lines) the size of the
sidecar and its write-ahead log, the resident memory of every worker, and each role's latency
percentiles over the interval. A healthy database keeps the WAL and RSS flat however long it
runs (issue 21: the WAL used to grow without bound while other processes read).

    python benches/soak/soak.py --writers 4 --readers 4 --minutes 30 --out soak.jsonl

Writers add batches of `--batch` random `--dim`-dimensional records (and delete old ones, so
the collection stays near `--keep` records); readers loop `count()`, `get(limit=5)` and a
`query`. Only mnemodb and numpy are needed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _writer(path: str, wid: int, args: argparse.Namespace, stop, out) -> None:
    import numpy as np

    import mnemodb

    client = mnemodb.PersistentClient(path=path)
    coll = client.get_or_create_collection("soak")
    rng = np.random.default_rng(wid)
    n = 0
    written: list[list[str]] = []
    while not stop.is_set():
        ids = [f"w{wid}-{n + i}" for i in range(args.batch)]
        vecs = rng.standard_normal((args.batch, args.dim), dtype=np.float32)
        t = time.perf_counter()
        coll.add(ids=ids, embeddings=vecs, metadatas=[{"w": wid, "n": n + i} for i in range(args.batch)])
        out.put(("write", time.perf_counter() - t))
        written.append(ids)
        n += args.batch
        if len(written) * args.batch > args.keep // max(args.writers, 1):
            old = written.pop(0)
            t = time.perf_counter()
            coll.delete(ids=old)
            out.put(("delete", time.perf_counter() - t))


def _reader(path: str, rid: int, args: argparse.Namespace, stop, out) -> None:
    import numpy as np

    import mnemodb

    client = mnemodb.PersistentClient(path=path)
    coll = client.get_or_create_collection("soak")
    rng = np.random.default_rng(1000 + rid)
    while not stop.is_set():
        t = time.perf_counter()
        coll.count()
        coll.get(limit=5)
        out.put(("read", time.perf_counter() - t))
        if coll.count() > 0:
            q = rng.standard_normal((1, args.dim), dtype=np.float32)
            t = time.perf_counter()
            coll.query(query_embeddings=q, n_results=10)
            out.put(("query", time.perf_counter() - t))


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000.0


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--readers", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--keep", type=int, default=50_000, help="records kept, about")
    ap.add_argument("--path", help="database directory (default: a new temporary one)")
    ap.add_argument("--out", help="JSON Lines file for the samples")
    args = ap.parse_args()

    tmp = None
    if args.path is None:
        tmp = tempfile.TemporaryDirectory(prefix="mnemodb-soak-")
        args.path = tmp.name
    import mnemodb

    mnemodb.PersistentClient(path=args.path).get_or_create_collection("soak")
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(args.path, i, args, stop, out)) for i in range(args.writers)]
    procs += [ctx.Process(target=_reader, args=(args.path, i, args, stop, out)) for i in range(args.readers)]
    for p in procs:
        p.start()
    sidecar = Path(args.path) / "mnemo.sqlite3"
    wal = Path(str(sidecar) + "-wal")
    sink = open(args.out, "w") if args.out else None
    start = time.monotonic()
    end = start + args.minutes * 60.0
    max_wal = 0
    print(f"soak: {args.writers} writers, {args.readers} readers, {args.minutes} min on {args.path}", flush=True)
    try:
        while time.monotonic() < end:
            tick = time.monotonic() + args.interval
            lat: dict[str, list[float]] = {}
            while time.monotonic() < tick:
                try:
                    kind, dt = out.get(timeout=max(0.0, tick - time.monotonic()))
                except Exception:
                    break
                lat.setdefault(kind, []).append(dt)
            dead = [p.pid for p in procs if not p.is_alive()]
            if dead:
                print(f"soak: worker(s) {dead} died", file=sys.stderr)
                return 1
            sample = {
                "t": round(time.monotonic() - start, 1),
                "wal_mb": round(_size(wal) / 2**20, 2),
                "sqlite_mb": round(_size(sidecar) / 2**20, 2),
                "rss_mb": [round(_rss_bytes(p.pid or 0) / 2**20, 1) for p in procs],
                "ops": {k: len(v) for k, v in lat.items()},
                "p50_ms": {k: round(_pct(v, 0.5), 2) for k, v in lat.items()},
                "p99_ms": {k: round(_pct(v, 0.99), 2) for k, v in lat.items()},
                "max_ms": {k: round(max(v) * 1000.0, 2) for k, v in lat.items()},
            }
            max_wal = max(max_wal, _size(wal))
            line = json.dumps(sample)
            print(line, flush=True)
            if sink:
                sink.write(line + "\n")
                sink.flush()
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
        if sink:
            sink.close()
    print(f"soak: largest WAL seen {max_wal / 2**20:.1f} MiB", flush=True)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
