"""LangGraph on mnemodb against LangGraph's own backends, in one run (issue 16).

Checkpointer: ``put`` then ``get_tuple`` of the latest checkpoint, one step of a thread at a
time (a chat history of messages that grows by one message a step, plus a small counter
channel), for MnemoSaver, SqliteSaver (a file, WAL) and InMemorySaver.

Store: ``search`` with a semantic query over 10k and 100k items (an embedder of fixed
cost: a seeded vector per text), for MnemoStore, InMemoryStore and SqliteStore (sqlite-vec).

    .venv/bin/python benches/langgraph_bench.py [--steps 300] [--sizes 10000,100000] [--queries 100]

Prints Markdown tables (MnemoStore searches once its HNSW graph has caught up with the load); timings are medians (p50) over the calls, in microseconds or
milliseconds. Nothing here is a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
import uuid
from typing import Any, Callable, Dict, List

import numpy as np

DIMS = 64
WORDS = "otter river stone violet quartz ember delta nova maple cedar harbor lantern meadow".split()


def embed(texts: List[str]) -> List[List[float]]:
    out = []
    for t in texts:
        seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
        v = np.random.default_rng(seed).standard_normal(DIMS)
        out.append((v / np.linalg.norm(v)).tolist())
    return out


def p50_us(samples: List[float]) -> float:
    return statistics.median(samples) * 1e6


# --- checkpointer -----------------------------------------------------------------------------


def checkpoint_steps(saver: Any, steps: int) -> List[float]:
    from langgraph.checkpoint.base import empty_checkpoint

    thread = {"configurable": {"thread_id": uuid.uuid4().hex, "checkpoint_ns": ""}}
    config: Any = thread
    versions: Dict[str, Any] = {}
    messages: List[Dict[str, Any]] = []
    times = []
    for step in range(steps):
        messages = messages + [{"role": "user" if step % 2 else "assistant", "content": f"message {step} " + "lorem ipsum " * 20}]
        cp = empty_checkpoint()
        for channel in ("messages", "step"):
            versions[channel] = saver.get_next_version(versions.get(channel), None)
        cp["channel_versions"] = dict(versions)
        cp["channel_values"] = {"messages": messages, "step": step}
        t0 = time.perf_counter()
        config = saver.put(config, cp, {"source": "loop", "step": step}, {"messages": versions["messages"], "step": versions["step"]})
        got = saver.get_tuple(thread)
        times.append(time.perf_counter() - t0)
        assert got is not None and got.checkpoint["channel_values"]["step"] == step
    return times


def bench_checkpointers(steps: int, workdir: str) -> Dict[str, float]:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.sqlite import SqliteSaver

    from mnemodb.integrations.langgraph import MnemoSaver

    out = {}
    saver = MnemoSaver(os.path.join(workdir, "mnemo-cp"))
    out["MnemoSaver"] = p50_us(checkpoint_steps(saver, steps))
    saver.close()
    saver = MnemoSaver(os.path.join(workdir, "mnemo-cp-deferred"), durability="deferred")
    out["MnemoSaver (durability='deferred')"] = p50_us(checkpoint_steps(saver, steps))
    saver.close()
    with SqliteSaver.from_conn_string(os.path.join(workdir, "sqlite-cp.db")) as sqlite_saver:
        out["SqliteSaver"] = p50_us(checkpoint_steps(sqlite_saver, steps))
    out["InMemorySaver"] = p50_us(checkpoint_steps(InMemorySaver(), steps))
    return out


# --- store ------------------------------------------------------------------------------------


def fill(store: Any, n: int) -> float:
    from langgraph.store.base import PutOp

    t0 = time.perf_counter()
    batch = 1000
    for start in range(0, n, batch):
        ops = [
            PutOp(("users", f"u{i % 100}", "memories"), f"m{i}", {"text": f"{WORDS[i % len(WORDS)]} {WORDS[(i * 7) % len(WORDS)]} note {i}", "n": i})
            for i in range(start, min(n, start + batch))
        ]
        store.batch(ops)
    return time.perf_counter() - t0


def search_times(store: Any, queries: int) -> List[float]:
    times = []
    for q in range(queries):
        text = f"{WORDS[q % len(WORDS)]} {WORDS[(q * 5) % len(WORDS)]} query {q}"
        t0 = time.perf_counter()
        found = store.search(("users",), query=text, limit=10)
        times.append(time.perf_counter() - t0)
        assert len(found) == 10
    return times


def bench_stores(sizes: List[int], queries: int, workdir: str) -> Dict[str, Dict[int, Any]]:
    from langgraph.store.memory import InMemoryStore
    from langgraph.store.sqlite import SqliteStore

    from mnemodb.integrations.langgraph import MnemoStore

    index: Any = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    out: Dict[str, Dict[int, Any]] = {"MnemoStore": {}, "InMemoryStore": {}, "SqliteStore": {}}
    for n in sizes:
        mnemo = MnemoStore(os.path.join(workdir, f"mnemo-store-{n}"), index=index)
        load = fill(mnemo, n)
        t0 = time.perf_counter()
        mnemo._collection().wait_for_index()  # the HNSW graph is built in the background
        print(f"MnemoStore {n:,}: loaded in {load:.1f} s, index built {time.perf_counter() - t0:.1f} s later", flush=True)
        search_times(mnemo, 5)
        out["MnemoStore"][n] = (load, statistics.median(search_times(mnemo, queries)) * 1e3)
        mnemo.close()
        mem = InMemoryStore(index=index)
        load = fill(mem, n)
        out["InMemoryStore"][n] = (load, statistics.median(search_times(mem, max(5, queries // 10))) * 1e3)
        with SqliteStore.from_conn_string(
            os.path.join(workdir, f"sqlite-store-{n}.db"), index={"dims": DIMS, "embed": embed, "text_fields": ["text"]}
        ) as sq:
            try:
                sq.setup()
            except AttributeError as e:  # sqlite-vec needs sqlite3 built with extension loading
                out["SqliteStore"][n] = f"n/a: {e}"
                continue
            load = fill(sq, n)
            out["SqliteStore"][n] = (load, statistics.median(search_times(sq, max(5, queries // 10))) * 1e3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory() as workdir:
        cps = bench_checkpointers(args.steps, workdir)
        print(f"checkpoint put + get_tuple, p50 over {args.steps} steps (growing chat history)\n")
        print("| saver | p50 (µs) | vs SqliteSaver |\n|---|---:|---:|")
        for name, us in cps.items():
            print(f"| {name} | {us:,.0f} | {cps['SqliteSaver'] / us:.2f}x faster |")
        if not sizes:
            return
        stores = bench_stores(sizes, args.queries, workdir)
        print(f"\nstore search with a query (limit 10, {DIMS} dims), p50; load = batches of 1,000 puts\n")
        print("| store | " + " | ".join(f"{n:,} items: search p50 (ms) | load (s)" for n in sizes) + " |")
        print("|---|" + "---:|---:|" * len(sizes))
        for name, per in stores.items():
            cells = " | ".join(f"{per[n][1]:.3f} | {per[n][0]:.1f}" if isinstance(per[n], tuple) else f"{per[n]} | -" for n in sizes)
            print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
