#!/usr/bin/env python3
"""Makes the README's screenshots of the dashboard: a `mnemodb serve` on loopback over a
temporary directory with a few made-up collections, headless Chromium (tests/browser.py), the
overview and a collection page with a filter and a neighbours query, written as PNGs reduced
to a small palette.

    .venv/bin/python scripts/dashboard_screenshot.py              # docs/img/dashboard-*.png
    MNEMODB_BIN=target/release/mnemodb .venv/bin/python scripts/dashboard_screenshot.py

Needs what the browser tests need (scripts/pyenv.sh installs it); Pillow, when installed,
shrinks the files (a 64-colour palette).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import chromium, http, missing, wait_for  # noqa: E402

DB = "/api/v2/tenants/default_tenant/databases/default_database"
WORDS = ("invoice", "meeting", "travel", "recipe", "contract", "release", "budget", "garden",
         "lecture", "support", "deploy", "holiday")


def binary() -> str:
    env = os.environ.get("MNEMODB_BIN")
    for c in ([env] if env else []) + [str(ROOT / "target/release/mnemodb"),
                                        str(ROOT / "target/debug/mnemodb"),
                                        str(ROOT / ".venv/bin/mnemodb")]:
        if c and Path(c).is_file():
            return c
    sys.exit("no mnemodb binary: cargo build -p mnemodb-server, or set MNEMODB_BIN")


def seed(url: str) -> str:
    """Three collections of made-up notes; returns the id of the one the second shot opens."""
    rng = random.Random(3)
    shown = ""
    for name, rows, dim in (("support-tickets", 9_000, 64), ("agent-memory", 900, 32),
                            ("recipes", 120, 16)):
        status, col = http(f"{url}{DB}/collections", "POST",
                           {"name": name, "configuration": {"hnsw": {"space": "cosine"}}})
        assert status == 200, col
        for start in range(0, rows, 1_000):
            ids = range(start, min(rows, start + 1_000))
            body = {
                "ids": [f"{name[:3]}-{i:05d}" for i in ids],
                "embeddings": [[rng.gauss(0, 1) for _ in range(dim)] for _ in ids],
                "documents": [f"{rng.choice(WORDS)} {rng.choice(WORDS)} note #{i}: "
                              f"{' '.join(rng.choice(WORDS) for _ in range(6))}" for i in ids],
                "metadatas": [{"team": rng.choice(["ops", "sales", "eng"]), "year": 2020 + i % 6,
                               "priority": rng.randint(1, 5)} for i in ids],
            }
            status, v = http(f"{url}{DB}/collections/{col['id']}/add", "POST", body)
            assert status in (200, 201), v
        if name == "support-tickets":
            shown = col["id"]
            # Some deletes, so the dead slots column is not all zeros.
            http(f"{url}{DB}/collections/{col['id']}/delete", "POST",
                 {"where": {"priority": 5}, "where_document": {"$contains": "holiday"}})
    return shown


def shrink(path: Path) -> None:
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT,
                                           dither=Image.Dither.NONE)
        small.save(path, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = ap.parse_args()
    why = missing()
    if why:
        sys.exit(why)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([binary(), "serve", "--path", tmp, "--port", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            url = line.strip().rsplit(" ", 1)[-1]
            assert url.startswith("http://"), line
            cid = seed(url)
            driver = chromium(1280, 760)
            try:
                driver.get(f"{url}/")
                wait_for(driver, "document.getElementById('overview').dataset.loaded === 'true'")
                time.sleep(4.5)  # two polls of /metrics, so the rates column has numbers
                shots = [args.out / "dashboard-overview.png"]
                driver.save_screenshot(str(shots[0]))
                driver.execute_script(
                    f"location.hash = '#/c/default_tenant/default_database/{cid}';")
                wait_for(driver, "document.getElementById('records').dataset.loaded === 'true'")
                driver.find_element("id", "where").send_keys('{"$and": [{"team": "eng"}, {"priority": {"$gte": 4}}]}')
                driver.find_element("id", "page-size").clear()
                driver.find_element("id", "page-size").send_keys("6")
                driver.execute_script("delete document.getElementById('records').dataset.loaded;")
                driver.find_element("css selector", "#filter-form button").click()
                wait_for(driver, "document.getElementById('records').dataset.loaded === 'true'")
                driver.find_element("css selector", "#records tbody tr[data-id] button").click()
                wait_for(driver, "document.getElementById('neighbours').dataset.loaded === 'true'")
                driver.execute_script("window.scrollTo(0, 0);")
                driver.set_window_size(1280, 1250)
                shots.append(args.out / "dashboard-collection.png")
                driver.save_screenshot(str(shots[1]))
            finally:
                driver.quit()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    for shot in shots:
        shrink(shot)
        print(f"wrote {shot} ({shot.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
