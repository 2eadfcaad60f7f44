#!/usr/bin/env python3
"""Side-by-side run of mnemodb and its peers on one bench-data set, one store per process.

    benches/peers/run.sh --quick                      # synthetic-20k, every store, < 5 min
    benches/peers/run.sh --set synthetic-100k --stores hnswlib,faiss-hnsw,usearch,chromadb

For each store, one after another, a fresh process builds it from the set (ingest until a
query can be answered from a persisted index), picks the ANN knob (ef) that reaches the
recall target, times single queries, a batch, filtered queries, and exits; then a second fresh
process reopens the store from disk and times open + first query. Results: one JSON file per
run (machine, CPU flags, versions, thread counts, date) and a markdown table, in
benches/peers/results/.

Measures (k = 10, the set's 1,000 held-out queries, cosine):
- ingest s: add every row (with metadata and documents where the store keeps them) until the
  index is built and persisted (in-memory libraries: build + save to disk; databases: every
  add call returned, then one query, so lazily built indexes count);
- p50/p95 ms: single queries one at a time, 3 passes over the 1,000 queries, the median of the
  passes' percentiles;
- batch QPS: the 1,000 queries in one call (a loop where the API has no batch call), median
  of 3;
- recall@10: against bench-data's exact top-10, from the first single-query pass;
- filtered p50 ms / recall@10: where source == "s3" (10 % of the rows), one pass, against the
  exact filtered top-10;
- peak RSS MB: the process's peak resident set minus its resident set after loading the data
  (so the data arrays every store gets are not counted); disk MB: bytes allocated under the
  store's directory after close; reopen ms: open from disk + first query, in a new process
  (page cache warm: the files were just written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DATA = REPO / "bench-data" / "out"
THREADS = os.environ.get("PEERS_THREADS", "2")
THREAD_ENV = {v: THREADS for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                   "MKL_NUM_THREADS", "RAYON_NUM_THREADS",
                                   "LANCE_CPU_THREADS", "TOKIO_WORKER_THREADS")}
ORDER = ("mnemodb", "numpy", "faiss-flat", "faiss-hnsw", "hnswlib", "usearch", "chromadb",
         "lancedb", "sqlite-vec")
K = 10
TUNE_FILTERED = 200  # queries used to pick the filtered ef
CURVE_PAST_TARGET = 3  # efs swept past the chosen one, for the recall / QPS plot


# ----------------------------------------------------------------------------- worker side

def rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KiB on Linux


def disk_mb(path: Path) -> float:
    total = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_blocks * 512
    return total / 1e6


def recall(found: list[list[int]], truth) -> float:
    hits = sum(len(set(f[:K]) & set(t[:K].tolist())) for f, t in zip(found, truth))
    return hits / (K * len(found))


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def worker(args) -> dict:
    import numpy as np

    import stores

    set_dir = DATA / args.set
    manifest = json.loads((set_dir / "manifest.json").read_text())
    base = np.load(set_dir / "base.npy")
    queries = np.load(set_dir / "queries.npy")
    gt = np.load(set_dir / "gt.npy")
    gt_s3 = np.load(set_dir / "gt_s3.npy")
    cls = stores.STORES[args.store]
    records = None
    if cls.needs_records and args.phase == "build":
        with open(set_dir / "records.jsonl", encoding="utf-8") as f:
            records = [json.loads(line) for line in f]
    path = Path(args.dir)
    store = cls(path)
    store.dim = int(manifest["dim"])
    out: dict = {"store": args.store, "name": cls.name, "versions": stores.version(*cls.packages)}

    t = time.perf_counter()
    store.prepare()
    out[f"import_{args.phase}_s"] = time.perf_counter() - t
    if args.phase == "reopen":
        t = time.perf_counter()
        store.open()
        first = store.search(queries[0], K)
        out["reopen_ms"] = (time.perf_counter() - t) * 1e3
        out["reopen_first_ok"] = len(set(first) & set(gt[0][:K].tolist())) / K
        out["notes"] = store.notes
        return out

    budget = args.phase_budget
    rss_data = rss_now_mb()
    path.mkdir(parents=True, exist_ok=True)
    t, cpu = time.perf_counter(), time.process_time()
    store.first_query = queries[0]
    store.build(base, records)
    t_first = time.perf_counter()
    store.search(queries[0], K)  # index ready: the first query is answered
    # The first query after ingest, without waiting for an index (stores that build in the
    # background time it inside `build`, before they wait).
    out["first_query_ms"] = getattr(store, "first_query_ms", (time.perf_counter() - t_first) * 1e3)
    out["ingest_s"] = time.perf_counter() - t
    # Stores whose adds return before their index is complete say when the adds returned.
    if getattr(store, "adds_s", None) is not None:
        out["adds_s"] = store.adds_s
    out["ingest_cpu_s"] = time.process_time() - cpu  # every thread of the process
    out["rows"] = int(base.shape[0])

    one_call = type(store).search_batch is not stores.Store.search_batch

    def run_batch(limit: float | None = None) -> list[list[int]]:
        """All queries in one call; stores without a batch call loop, within `limit` s."""
        if one_call or limit is None:
            return store.search_batch(queries, K)
        found, t = [], time.perf_counter()
        for q in queries:
            found.append(store.search(q, K))
            if time.perf_counter() - t > limit and len(found) >= 100:
                break
        return found

    # ANN knob: the smallest ef whose recall@10 over the 1,000 queries reaches the target.
    # The sweep goes on past it (up to CURVE_PAST_TARGET more efs, within the phase budget)
    # for the recall / QPS curve: each point is the batch of 1,000 queries, the faster of two.
    if store.efs:
        sweep = {}
        curve = []
        chosen = None
        past_target = 0
        t_sweep = time.perf_counter()
        for ef in store.efs:
            try:
                store.set_ef(ef)
            except Exception as e:  # noqa: BLE001 - a store that cannot change ef at runtime
                store.notes.append(f"ef not settable ({type(e).__name__}: {e}); defaults kept")
                chosen = None
                break
            elapsed = float("inf")
            for _ in range(2):  # the faster of two batches: the first also warms the caches
                t = time.perf_counter()
                found = run_batch()
                elapsed = min(elapsed, time.perf_counter() - t)
            r = recall(found, gt)
            curve.append({"ef": ef, "recall@10": round(r, 4), "qps": len(found) / elapsed})
            if chosen is not None and sweep[chosen] >= args.target_recall:
                past_target += 1
                if (past_target >= CURVE_PAST_TARGET or r >= 0.999
                        or time.perf_counter() - t_sweep > budget):
                    break
                continue
            sweep[ef] = round(r, 4)
            chosen = ef
            if r >= args.target_recall and (r >= 0.999 or time.perf_counter() - t_sweep > budget):
                break
        out["ef_sweep"] = sweep
        out["ef_curve"] = curve
        if chosen is not None:
            store.set_ef(chosen)
        out["ef_search"] = chosen
    elif cls.fixed_ef:
        out["ef_search"] = f"{cls.fixed_ef} (fixed)"

    # Single queries: 3 passes (fewer if the budget runs out), median of each pass's percentile.
    passes, first_pass = [], None
    t_start = time.perf_counter()
    for _ in range(args.repeats):
        times, found = [], []
        for q in queries:
            t = time.perf_counter()
            found.append(store.search(q, K))
            times.append(time.perf_counter() - t)
            if time.perf_counter() - t_start > budget and len(times) >= 100:
                break
        if len(times) == len(queries) or not passes:
            passes.append(times)  # a cut-short pass counts only when it is the first
        if first_pass is None:
            first_pass = found
        if time.perf_counter() - t_start > budget:
            break
    out["single_passes"] = len(passes)
    out["single_queries"] = len(passes[0])
    out["p50_ms"] = statistics.median(pct(p, 50) for p in passes) * 1e3
    out["p95_ms"] = statistics.median(pct(p, 95) for p in passes) * 1e3
    out["recall@10"] = recall(first_pass, gt[:len(first_pass)])

    # Batch: the 1,000 queries at once.
    qps = []
    t_start = time.perf_counter()
    for _ in range(args.repeats):
        t = time.perf_counter()
        found = run_batch(limit=budget / args.repeats)
        qps.append(len(found) / (time.perf_counter() - t))
        if time.perf_counter() - t_start > budget:
            break
    out["batch_qps"] = statistics.median(qps)
    out["batch_recall@10"] = recall(found, gt[:len(found)])
    out["batch_call"] = "one call" if one_call else f"loop of single queries ({len(found)})"

    # Filtered: source == "s3". ANN stores get their own ef: the smallest that reaches the
    # recall target on the first TUNE_FILTERED queries (a 10 % allow-list needs a wider beam).
    allowed = np.arange(3, base.shape[0], 10)
    store.set_filter(allowed, base.shape[0])
    if store.efs and store.search_filtered(queries[0], K) is not None \
            and isinstance(out.get("ef_search"), int):
        sweep, chosen, t_start = {}, None, time.perf_counter()
        n_tune = min(TUNE_FILTERED, len(queries))
        for ef in store.efs:
            if ef < out["ef_search"]:
                continue
            store.set_ef(ef)
            r = recall([store.search_filtered(q, K) for q in queries[:n_tune]], gt_s3[:n_tune])
            sweep[ef] = round(r, 4)
            chosen = ef
            if r >= args.target_recall or time.perf_counter() - t_start > budget:
                break
        out["filtered_ef_sweep"] = sweep
        out["filtered_ef_search"] = chosen
        store.set_ef(chosen)
    times, found = [], []
    t_start = time.perf_counter()
    for q in queries:
        t = time.perf_counter()
        r = store.search_filtered(q, K)
        if r is None:
            break
        times.append(time.perf_counter() - t)
        found.append(r)
        if time.perf_counter() - t_start > budget and len(times) >= 100:
            break
    if times:
        out["filtered_p50_ms"] = pct(times, 50) * 1e3
        out["filtered_p95_ms"] = pct(times, 95) * 1e3
        out["filtered_recall@10"] = recall(found, gt_s3[:len(found)])
        out["filtered_queries"] = len(times)
        bad = sum(1 for f in found for i in f if i % 10 != 3)
        if bad:
            out["filtered_wrong_rows"] = bad
    out["params"] = store.params
    out["threads"] = store.threads
    out["notes"] = store.notes
    store.close()
    out["rss_peak_mb"] = rss_peak_mb()
    out["rss_after_data_mb"] = rss_data
    out["rss_over_data_mb"] = rss_peak_mb() - rss_data
    out["disk_mb"] = disk_mb(path)
    return out


def worker_main(args) -> None:
    sys.path.insert(0, str(HERE))
    import stores  # noqa: F401 - fail early if missing

    try:
        res = worker(args)
    except ImportError as e:
        res = {"store": args.store, "skipped": f"not importable: {e}"}
    Path(args.result).write_text(json.dumps(res, indent=1, default=str))


# ----------------------------------------------------------------------------- runner side

def machine() -> dict:
    info = {"hostname": platform.node(), "kernel": platform.release(),
            "python": sys.version.split()[0], "cores": os.cpu_count()}
    try:
        cpu = Path("/proc/cpuinfo").read_text()
        for line in cpu.splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                info["cpu_flags"] = sorted(f for f in flags if f.startswith(
                    ("avx", "fma", "f16c", "sse4", "amx", "bmi", "popcnt", "vaes", "vpclmul"))
                    or f in ("hypervisor",))
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["mem_gb"] = round(int(mem) / 1024 / 1024, 1)
    except OSError:
        pass
    info["loadavg_start"] = os.getloadavg()
    return info


def run_store(key: str, args, workdir: Path) -> dict:
    env = dict(os.environ, **THREAD_ENV)
    store_dir = workdir / key
    shutil.rmtree(store_dir, ignore_errors=True)
    store_dir.mkdir(parents=True)
    result: dict = {"store": key}
    for phase in ("build", "reopen"):
        res_file = workdir / f"{key}.{phase}.json"
        res_file.unlink(missing_ok=True)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", key, "--phase", phase,
               "--set", args.set, "--dir", str(store_dir), "--result", str(res_file),
               "--repeats", str(args.repeats), "--phase-budget", str(args.phase_budget),
               "--target-recall", str(args.target_recall)]
        t = time.perf_counter()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            p = subprocess.run(cmd, env=env, timeout=args.timeout, capture_output=True,
                               text=True)
            if p.returncode != 0 or not res_file.exists():
                result["error"] = f"{phase}: exit {p.returncode}: {p.stderr.strip()[-600:]}"
                break
        except subprocess.TimeoutExpired:
            result["error"] = f"{phase}: over the {args.timeout} s limit"
            break
        res = json.loads(res_file.read_text())
        res[f"{phase}_wall_s"] = time.perf_counter() - t
        ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res[f"{phase}_cpu_s"] = (ru2.ru_utime - ru.ru_utime) + (ru2.ru_stime - ru.ru_stime)
        if "skipped" in res:
            result.update(res)
            break
        if phase == "reopen":
            res.pop("versions", None)
            res["notes_reopen"] = res.pop("notes", [])
        result.update(res)
    if not args.keep:
        shutil.rmtree(store_dir, ignore_errors=True)
    return result


# (column title, key, format, lower is better)
COLUMNS = [
    ("ingest s", "ingest_s", "{:.2f}", True),
    ("ingest CPU s", "ingest_cpu_s", "{:.2f}", True),
    ("1st query after ingest ms", "first_query_ms", "{:.1f}", True),
    ("p50 ms", "p50_ms", "{:.3f}", True),
    ("p95 ms", "p95_ms", "{:.3f}", True),
    ("batch QPS", "batch_qps", "{:,.0f}", False),
    ("recall@10", "recall@10", "{:.3f}", False),
    ("filtered p50 ms", "filtered_p50_ms", "{:.3f}", True),
    ("filtered recall@10", "filtered_recall@10", "{:.3f}", False),
    ("peak RSS over data MB", "rss_over_data_mb", "{:,.0f}", True),
    ("disk MB", "disk_mb", "{:,.1f}", True),
    ("reopen + 1st query ms", "reopen_ms", "{:.1f}", True),
]


def table(results: list[dict]) -> str:
    ok = [r for r in results if "error" not in r and "skipped" not in r]
    head = "| store | ef_search (filtered) | " + " | ".join(c[0] for c in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    best = {}
    for title, key, fmt, low in COLUMNS:
        vals = [fmt.format(r[key]) for r in ok if r.get(key) is not None]
        nums = [float(v.replace(",", "")) for v in vals]
        if nums:
            best[key] = min(nums) if low else max(nums)
    for r in ok:
        ef = str(r.get("ef_search") or "exact")
        if r.get("filtered_ef_search") and r["filtered_ef_search"] != r.get("ef_search"):
            ef += f" / {r['filtered_ef_search']}"
        cells = [r.get("name", r["store"]), ef]
        for title, key, fmt, low in COLUMNS:
            v = r.get(key)
            if v is None:
                cells.append("n/a")
                continue
            s = fmt.format(v)
            cells.append(f"**{s}**" if float(s.replace(",", "")) == best.get(key) else s)
        lines.append("| " + " | ".join(cells) + " |")
    for r in results:
        if "error" in r or "skipped" in r:
            lines.append(f"| {r['store']} | " + " | ".join(["-"] * (len(COLUMNS) + 1))
                         + f" |  <!-- {r.get('error') or r.get('skipped')} -->")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--phase", default="build", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="synthetic-20k, tighter budgets")
    ap.add_argument("--set", default=None, help="bench-data set (default synthetic-100k)")
    ap.add_argument("--stores", default=",".join(ORDER),
                    help=f"comma-separated, in run order (default {','.join(ORDER)})")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--target-recall", type=float, default=0.95)
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per store process (default 900, --quick 150)")
    ap.add_argument("--phase-budget", type=float, default=None,
                    help="seconds per timed phase before it stops early (default 60, quick 5)")
    ap.add_argument("--keep", action="store_true", help="keep the stores' directories")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args()
    args.set = args.set or ("synthetic-20k" if args.quick else "synthetic-100k")
    args.timeout = args.timeout or (150 if args.quick else 900)
    args.phase_budget = args.phase_budget or (5 if args.quick else 60)
    if args.worker:
        args.store = args.worker
        worker_main(args)
        return

    if not (DATA / args.set / "manifest.json").exists():
        sys.exit(f"no data set {args.set}: run bench-data/make.py --set {args.set} first")
    manifest = json.loads((DATA / args.set / "manifest.json").read_text())
    keys = [k.strip() for k in args.stores.split(",") if k.strip()]
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    workdir = HERE / "work" / stamp
    workdir.mkdir(parents=True, exist_ok=True)
    run = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "set": args.set, "rows": manifest["rows"], "dim": manifest["dim"],
           "queries": manifest["queries"], "k": K, "target_recall": args.target_recall,
           "repeats": args.repeats, "thread_env": THREAD_ENV, "machine": machine(),
           "command": " ".join(sys.argv), "results": []}
    t0 = time.perf_counter()
    for key in keys:
        t = time.perf_counter()
        print(f"[{time.perf_counter() - t0:6.1f} s] {key} ...", file=sys.stderr, flush=True)
        res = run_store(key, args, workdir)
        run["results"].append(res)
        status = res.get("error") or res.get("skipped") or (
            f"ingest {res['ingest_s']:.2f} s, p50 {res['p50_ms']:.3f} ms, "
            f"recall {res['recall@10']:.3f}, ef {res.get('ef_search')}")
        print(f"         {key}: {status} ({time.perf_counter() - t:.0f} s)", file=sys.stderr,
              flush=True)
        save(run, args, stamp, t0)
    save(run, args, stamp, t0)
    shutil.rmtree(workdir, ignore_errors=True)
    print(render(run))
    base = args.out / f"{args.set}-{stamp}"
    print(f"\nwrote {base}.json and {base}.md ({run['wall_s']:.0f} s)", file=sys.stderr)
    # The plots, when matplotlib is installed (requirements.txt pins it); plot.py redraws them.
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("no matplotlib: no plots (pip install -r benches/peers/requirements.txt, then "
              f"benches/peers/plot.py {base}.json)", file=sys.stderr)
    else:
        sys.path.insert(0, str(HERE))
        import plot

        for p in plot.draw(run, base):
            print(f"wrote {p}", file=sys.stderr)


def save(run: dict, args, stamp: str, t0: float) -> None:
    """Write the JSON and the table; called after every store, so a cut run keeps its rows."""
    run["machine"]["loadavg_end"] = os.getloadavg()
    run["wall_s"] = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    run["cpu_s"] = ru.ru_utime + ru.ru_stime
    args.out.mkdir(parents=True, exist_ok=True)
    base = args.out / f"{args.set}-{stamp}"
    base.with_suffix(".json").write_text(json.dumps(run, indent=1, default=str) + "\n")
    base.with_suffix(".md").write_text(render(run))


def render(run: dict) -> str:
    m = run["machine"]
    flags = " ".join(f for f in m.get("cpu_flags", []) if f.startswith(("avx512", "avx2",
                                                                           "fma", "amx")))
    lines = [f"### {run['set']}: {run['rows']:,} x {run['dim']}, {run['queries']:,} queries, "
             f"k = {run['k']}, cosine",
             "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cores')} cores, {m.get('mem_gb')} GB, "
             f"Linux {m.get('kernel')}, Python {m.get('python')}; {flags}. "
             f"{run['date']}; load average {m['loadavg_start'][0]:.1f} at start, "
             f"{m.get('loadavg_end', [0])[0]:.1f} at end; the run took {run.get('wall_s', 0):.0f} s "
             f"wall, {run.get('cpu_s', 0):.0f} s CPU. Threads: "
             + ", ".join(f"{k}={v}" for k, v in run["thread_env"].items()) + ".",
             "",
             table(run["results"]),
             "",
             "Versions: " + ", ".join(sorted({f"{p} {v}" for r in run["results"]
                                              for p, v in (r.get("versions") or {}).items()
                                              if v})) + "."]
    notes = []
    for r in run["results"]:
        if "error" in r or "skipped" in r:
            notes.append(f"- {r['store']}: {r.get('error') or r.get('skipped')}")
            continue
        bits = []
        if r.get("ef_sweep"):
            bits.append("ef sweep (recall@10) " + ", ".join(f"{k}: {v}" for k, v in
                                                             r["ef_sweep"].items()))
        sweep = r.get("ef_sweep") or {}
        if len(sweep) == 1 and min(sweep.values()) >= 0.9995:
            bits.append(f"recall 1.0 at ef = {next(iter(sweep))}: the store searched exactly "
                        "(no ANN index in use)")
        if r.get("filtered_ef_sweep"):
            bits.append(f"filtered ef sweep (recall@10, first {TUNE_FILTERED} queries) "
                        + ", ".join(f"{k}: {v}" for k, v in r["filtered_ef_sweep"].items()))
        if r.get("single_passes", 3) < run["repeats"] or r.get("single_queries", 1000) < \
                run["queries"]:
            bits.append(f"single queries: {r['single_passes']} pass(es) of "
                        f"{r['single_queries']} (time budget)")
        if r.get("filtered_queries", run["queries"]) < run["queries"]:
            bits.append(f"filtered: {r['filtered_queries']} queries (time budget)")
        if r.get("batch_call") != "one call":
            bits.append(f"batch: {r.get('batch_call')} (no batch call)")
        if r.get("filtered_wrong_rows"):
            bits.append(f"filtered results held {r['filtered_wrong_rows']} rows outside s3")
        bits += list(dict.fromkeys(r.get("notes", []) + r.get("notes_reopen", [])))
        if bits:
            notes.append(f"- {r.get('name', r['store'])}: " + "; ".join(bits))
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
