"""Concurrent use of one MnemoStorage: the 8 concurrent searches Memory's encoding flow issues,
threads recalling while another remembers, and several processes on one directory (Celery or
Airflow workers sharing CREWAI_STORAGE_DIR)."""

from __future__ import annotations

import multiprocessing as mp
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("crewai.memory")  # "crewai" alone would find this test directory

from crewai.memory.types import MemoryRecord  # noqa: E402

from crewai_fakes import MemoryEmbedder, embed  # noqa: E402
from crewai_workers import recall_worker, remember_worker  # noqa: E402
from mnemodb.integrations.crewai import MnemoStorage  # noqa: E402


def test_eight_concurrent_searches_while_writing(tmp_path):
    store = MnemoStorage(tmp_path / "m")
    store.save([MemoryRecord(content=f"seed {i}", scope=f"/s/{i % 4}", embedding=embed(f"seed {i}")) for i in range(200)])
    stop = threading.Event()
    written = []

    def writer():
        i = 0
        while not stop.is_set():
            batch = [MemoryRecord(content=f"new {i} {j}", scope=f"/s/{j % 4}", embedding=embed(f"new {i} {j}")) for j in range(10)]
            store.save(batch)
            written.extend(batch)
            i += 1

    def search(k):
        scope = f"/s/{k % 4}"
        hits = store.search(embed(f"seed {k}"), scope_prefix=scope, limit=8)
        assert len(hits) == 8
        assert all(r.scope == scope for r, _ in hits)
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
        return hits[0][1]

    w = threading.Thread(target=writer)
    w.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            best = list(pool.map(search, range(400)))
    finally:
        stop.set()
        w.join()
    assert all(0 < s <= 1.0 + 1e-6 for s in best)
    assert store.count() == 200 + len(written)


def test_threads_recall_while_memory_remembers(tmp_path):
    from crewai.memory import Memory

    store = MnemoStorage(tmp_path / "m")
    mem = Memory(storage=store, embedder=MemoryEmbedder(), consolidation_threshold=1.0)
    errors = []
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set():
                for m in mem.recall("fact number", scope="/t", depth="shallow", limit=4):
                    assert m.record.scope == "/t"
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for t in readers:
        t.start()
    try:
        for i in range(40):
            assert mem.remember(f"fact number {i}", scope="/t", categories=["c"], importance=0.5) is not None
    finally:
        stop.set()
        for t in readers:
            t.join()
        mem.close()
    assert errors == []
    assert store.count("/t") == 40


def test_processes_remember_into_one_directory_while_another_recalls(tmp_path):
    """4 processes remember 25 facts each through crewai's Memory while a fifth recalls;
    afterwards every fact is there exactly once and no process saw an error."""
    path = str(tmp_path / "shared")
    MnemoStorage(path)  # create the directory once, as an application would
    ctx = mp.get_context("spawn")
    out, start, stop = ctx.Queue(), ctx.Event(), ctx.Event()
    writers = [ctx.Process(target=remember_worker, args=(path, w, 25, start, out)) for w in range(4)]
    reader = ctx.Process(target=recall_worker, args=(path, stop, out))
    for p in writers + [reader]:
        p.start()
    start.set()
    reports = [out.get(timeout=240) for _ in writers]
    stop.set()
    reports.append(out.get(timeout=240))
    for p in writers + [reader]:
        p.join(timeout=60)
    errors = [r for r in reports if r[0] == "error"]
    assert errors == [], errors[0][2] if errors else ""
    store = MnemoStorage(path)
    assert store.count() == 100
    contents = [r.content for r in store.list_records(limit=1000)]
    assert sorted(contents) == sorted(f"worker {w} fact {i} about topic{i % 7}" for w in range(4) for i in range(25))
    assert store.list_scopes("/workers") == [f"/workers/w{w}" for w in range(4)]
    reader_report = next(r for r in reports if r[1] == "reader")
    assert reader_report[2] >= 3
