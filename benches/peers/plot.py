#!/usr/bin/env python3
"""The pictures of a peers run, beside its JSON (run.py calls this after each run):

    benches/peers/plot.py benches/peers/results/synthetic-100k-20261204T1200Z.json

- `<run>.recall-qps.png`: recall@10 against queries per second, one curve per store over its
  ef sweep (the ann-benchmarks picture: up and to the right is better); a store searched
  exactly, or with a fixed ef, is one point;
- `<run>.build-memory.png`: bars of ingest time (until the adds returned), index-complete time
  (until a query is answered from the complete, persisted index) and peak memory over the data.

Needs matplotlib (pinned in requirements.txt); run.py imports this module only when it is
installed, so a run without it still writes its JSON and table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _ok(run: dict) -> list[dict]:
    return [r for r in run["results"] if "error" not in r and "skipped" not in r]


def _title(run: dict) -> str:
    m = run["machine"]
    return (f"{run['set']}: {run['rows']:,} x {run['dim']}, k = {run['k']}, "
            f"{run['thread_env'].get('RAYON_NUM_THREADS', '?')} threads; "
            f"{m.get('cpu', '?')}, {m.get('cores')} cores, load {m['loadavg_start'][0]:.1f}; "
            f"{run['date'][:16].replace('T', ' ')} UTC")


def recall_qps(run: dict, out: Path) -> Path:
    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    for r in _ok(run):
        name = r.get("name", r["store"])
        curve = r.get("ef_curve") or []
        if len(curve) > 1:
            xs = [p["recall@10"] for p in curve]
            ys = [p["qps"] for p in curve]
            (line,) = ax.plot(xs, ys, marker="o", label=name)
            for p in curve:
                ax.annotate(str(p["ef"]), (p["recall@10"], p["qps"]), textcoords="offset points",
                            xytext=(4, 4), fontsize=7, color=line.get_color())
        elif r.get("batch_qps") and r.get("batch_recall@10") is not None:
            ef = r.get("ef_search")
            label = f"{name} ({'exact' if ef in (None, '') else f'ef {ef}'})"
            ax.plot([r["batch_recall@10"]], [r["batch_qps"]], marker="s", linestyle="",
                    label=label)
    ax.set_yscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (1,000 queries in one batch call)")
    ax.axvline(run.get("target_recall", 0.95), color="0.7", linestyle=":", linewidth=1)
    ax.grid(True, which="both", color="0.9")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Recall against throughput (numbers: ef_search)\n" + _title(run), fontsize=9)
    fig.tight_layout()
    path = out.with_name(out.name + ".recall-qps.png")
    fig.savefig(path)
    plt.close(fig)
    return path


def build_memory(run: dict, out: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = _ok(run)
    names = [r.get("name", r["store"]) for r in ok]
    panels = [
        ("ingest s (adds returned)", [r.get("adds_s", r.get("ingest_s")) for r in ok]),
        ("index complete s", [r.get("ingest_s") for r in ok]),
        ("peak RSS over data MB", [r.get("rss_over_data_mb") for r in ok]),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(11, 3.6 + 0.15 * len(ok)), dpi=100)
    for ax, (title, values) in zip(axes, panels):
        shown = [(n, v) for n, v in zip(names, values) if v is not None]
        ys = range(len(shown))
        bars = ax.barh(list(ys), [v for _, v in shown], color="#4a72d6")
        ax.set_yticks(list(ys), [n for n, _ in shown], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=9)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
        ax.margins(x=0.2)
        ax.grid(True, axis="x", color="0.9")
        ax.set_axisbelow(True)
    fig.suptitle(_title(run) + "\nstores that index while adding: ingest = index complete",
                 fontsize=8)
    fig.tight_layout()
    path = out.with_name(out.name + ".build-memory.png")
    fig.savefig(path)
    plt.close(fig)
    return path


def draw(run: dict, base: Path) -> list[Path]:
    """Both pictures of `run`, named after `base` (the results' path without `.json`)."""
    return [recall_qps(run, base), build_memory(run, base)]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: plot.py RESULTS.json")
    path = Path(sys.argv[1])
    run = json.loads(path.read_text())
    for p in draw(run, path.with_suffix("")):
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
