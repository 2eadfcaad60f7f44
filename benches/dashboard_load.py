#!/usr/bin/env python3
"""How fast the dashboard of `mnemodb serve` answers on a large collection, in headless
Chromium (tests/browser.py): the overview from navigation to drawn, a collection's first page
of records, a filtered page (`where`, `where_document`), a deep page, and a neighbours query.
Times are the page's own (performance marks the dashboard sets when a view is drawn), the
median and the fastest of --repeats.

    .venv/bin/python benches/dashboard_load.py --set-dir bench-data/out/synthetic-100k \\
        --data /tmp/dash-100k          # builds the database there once (mnemodb's Python API)

MNEMODB_BIN picks the server binary (default target/release/mnemodb).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import chromium, http, missing, wait_for  # noqa: E402

NAME = "synthetic"


def build(set_dir: Path, data: Path) -> None:
    """The set's rows, documents and metadata in a mnemodb database at `data`, index complete."""
    import numpy as np

    import mnemodb

    base = np.load(set_dir / "base.npy")
    with open(set_dir / "records.jsonl", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    client = mnemodb.PersistentClient(path=str(data))
    col = client.create_collection(NAME, configuration={"hnsw": {"space": "cosine"}})
    t = time.perf_counter()
    for s in range(0, len(records), 5_000):
        part = records[s:s + 5_000]
        col.add(ids=[r["id"] for r in part], embeddings=base[s:s + 5_000],
                metadatas=[r["metadata"] for r in part], documents=[r["document"] for r in part])
    col.wait_for_index()
    print(f"built {len(records):,} records in {data} ({time.perf_counter() - t:.1f} s)",
          file=sys.stderr)


def since(driver, mark: str) -> float:
    """Milliseconds from `window.__t0` to the latest `mark`."""
    return driver.execute_script(
        f"return performance.getEntriesByName('{mark}').pop().startTime - window.__t0;")


def timed(driver, action: str, mark: str, loaded: str) -> float:
    driver.execute_script(f"delete document.getElementById('{loaded}').dataset.loaded;"
                          f"window.__t0 = performance.now(); {action}")
    wait_for(driver, f"document.getElementById('{loaded}').dataset.loaded === 'true'", 120)
    return since(driver, mark)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set-dir", type=Path, default=ROOT / "bench-data/out/synthetic-100k")
    ap.add_argument("--data", type=Path, default=Path("/tmp/mnemodb-dashboard-100k"))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    why = missing()
    if why:
        sys.exit(why)
    if not (args.data / "mnemo.sqlite3").exists():
        build(args.set_dir, args.data)
    binary = os.environ.get("MNEMODB_BIN", str(ROOT / "target/release/mnemodb"))
    proc = subprocess.Popen([binary, "serve", "--path", str(args.data), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    times: dict = {}
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://"), line
        status, overview = http(f"{url}/mnemodb/overview")
        col = next(c for c in overview["databases"][0]["collections"] if c["name"] == NAME)
        driver = chromium()
        try:
            hash_ = f"#/c/default_tenant/default_database/{col['id']}"
            for _ in range(args.repeats):
                driver.get("about:blank")
                driver.get(f"{url}/")
                wait_for(driver, "document.body.dataset.ready === 'true'", 120)
                times.setdefault("overview: navigation to drawn", []).append(
                    driver.execute_script(
                        "return performance.getEntriesByName('mnemodb-ready').pop().startTime;"))
                times.setdefault("collection: first page of 20 (with embeddings)", []).append(
                    timed(driver, f"location.hash = '{hash_}';", "mnemodb-records", "records"))
                driver.execute_script(
                    "document.getElementById('where').value = '{\"source\": \"s3\"}';")
                times.setdefault('where {"source": "s3"} (10 %), first page', []).append(
                    timed(driver, "document.querySelector('#filter-form button').click();",
                          "mnemodb-records", "records"))
                driver.execute_script(
                    "document.getElementById('where').value = '';"
                    "document.getElementById('where-document').value = "
                    "'{\"$contains\": \"topic 37 \"}';")
                times.setdefault('where_document {"$contains": "topic 37 "}, first page',
                                 []).append(
                    timed(driver, "document.querySelector('#filter-form button').click();",
                          "mnemodb-records", "records"))
                driver.execute_script("document.getElementById('where-document').value = '';")
                times.setdefault("page at offset 99,980", []).append(
                    timed(driver, "state.page.offset = 99980; loadRecords();",
                          "mnemodb-records", "records"))
                driver.execute_script("document.getElementById('query-input').value = '4242';")
                times.setdefault("neighbours of a record (get + query, 10)", []).append(
                    timed(driver, "document.querySelector('#query-form button').click();",
                          "mnemodb-query", "neighbours"))
        finally:
            driver.quit()
        assets = sum(len(http(f"{url}{p}")[1].encode()) for p in
                     ("/", "/dashboard/app.js", "/dashboard/app.css"))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    print(f"collection: {col['count']:,} records x {col['dimension']}, {col['space']}, "
          f"index linked {col['linked_fraction']:.0%}; server {binary}; "
          f"load average {os.getloadavg()[0]:.1f}; embedded assets {assets:,} bytes")
    print(f"| view ({args.repeats} runs) | median ms | fastest ms |\n|---|---|---|")
    for what, ms in times.items():
        print(f"| {what} | {statistics.median(ms):.0f} | {min(ms):.0f} |")


if __name__ == "__main__":
    main()
