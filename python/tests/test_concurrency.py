"""Threads and processes: the GIL is released in every engine call, so 8 Python threads run
engine work side by side; two processes share one directory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, List

import numpy as np
import pytest

import mnemodb

DIM = 64


def _collection(tmp_path: Any, n: int = 3000) -> Any:
    client = mnemodb.PersistentClient(path=str(tmp_path / "threads"))
    col = client.create_collection("threads")
    vecs = np.random.default_rng(0).normal(size=(n, DIM)).astype(np.float32)
    col.add(ids=[str(i) for i in range(n)], embeddings=vecs, metadatas=[{"s": i % 10, "n": i} for i in range(n)])
    return col, vecs


def _run_threads(target: Any, n: int = 8) -> None:
    errors: List[BaseException] = []

    def wrapped(i: int) -> None:
        try:
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_concurrent_reads_are_correct(tmp_path: Any) -> None:
    col, vecs = _collection(tmp_path)
    expected = [col.query(query_embeddings=vecs[i : i + 1], n_results=5, where={"s": i % 10})["ids"] for i in range(8)]

    def reader(i: int) -> None:
        for _ in range(20):
            r = col.query(query_embeddings=vecs[i : i + 1], n_results=5, where={"s": i % 10})
            assert r["ids"] == expected[i]
            assert col.get(ids=[str(i)])["ids"] == [str(i)]

    _run_threads(reader)


def test_concurrent_writes_and_reads(tmp_path: Any) -> None:
    col, _ = _collection(tmp_path, n=100)

    def writer(i: int) -> None:
        rng = np.random.default_rng(i)
        for k in range(10):
            ids = [f"t{i}-{k}-{j}" for j in range(20)]
            col.add(ids=ids, embeddings=rng.normal(size=(20, DIM)).astype(np.float32), documents=ids)
            assert col.get(ids=ids[:1], include=["documents"])["documents"] == ids[:1]
            col.query(query_embeddings=rng.normal(size=(1, DIM)).astype(np.float32), n_results=3)

    _run_threads(writer)
    assert col.count() == 100 + 8 * 10 * 20


def test_gil_released_during_engine_calls(tmp_path: Any) -> None:
    """While one thread is inside a long engine call, another thread keeps running Python
    code (it could not if the call held the GIL). Independent of machine load."""
    client = mnemodb.PersistentClient(path=str(tmp_path / "gil"))
    col = client.create_collection("gil")
    rng = np.random.default_rng(6)
    col.add(ids=[str(i) for i in range(20000)], embeddings=rng.normal(size=(20000, 128)).astype(np.float32))
    queries = rng.normal(size=(300, 128)).astype(np.float32)
    inside = threading.Event()
    done = threading.Event()

    def long_call() -> None:
        inside.set()
        col.query(query_embeddings=queries, n_results=10, include=[])
        done.set()

    t = threading.Thread(target=long_call)
    sys.setswitchinterval(1.0)  # with the GIL held by the call, this thread would wait ~1 s
    try:
        ticks = 0
        t.start()
        inside.wait()
        started = time.perf_counter()
        while not done.is_set():
            ticks += 1
            time.sleep(0)  # let go of the GIL: the other thread enters the engine
        elapsed = time.perf_counter() - started
    finally:
        sys.setswitchinterval(0.005)
        t.join()
    print(f"main thread ran {ticks} loop iterations during a {elapsed * 1e3:.0f} ms engine call")
    # Were the GIL held through the call, this thread would get it back only at each switch
    # interval (1 s): at most one iteration a second, plus the one around the call's end. Its
    # count on a loaded machine is lower than on an idle one, but far above that.
    assert ticks > elapsed / 1.0 + 10


CHILD = textwrap.dedent(
    """
    import sys, numpy as np, mnemodb
    client = mnemodb.PersistentClient(path=sys.argv[1])
    col = client.get_or_create_collection("shared")
    tag = sys.argv[2]
    rng = np.random.default_rng(len(tag))
    for k in range(20):
        ids = [f"{tag}-{k}-{j}" for j in range(10)]
        col.add(ids=ids, embeddings=rng.normal(size=(10, 8)).astype(np.float32), metadatas=[{"tag": tag}] * 10)
    print(col.count())
    """
)


def test_two_processes_on_one_directory(tmp_path: Any) -> None:
    path = str(tmp_path / "shared")
    client = mnemodb.PersistentClient(path=path)
    col = client.get_or_create_collection("shared")
    col.add(ids=["parent"], embeddings=[[0.0] * 8])
    procs = [
        subprocess.Popen([sys.executable, "-c", CHILD, path, tag], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for tag in ("alpha", "beta")
    ]
    # the parent keeps writing and reading while the children write
    for k in range(20):
        col.add(ids=[f"p{k}"], embeddings=[[float(k)] * 8])
        col.query(query_embeddings=[[1.0] * 8], n_results=3)
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert col.count() == 1 + 20 + 2 * 200
    assert len(col.get(where={"tag": "beta"}, include=[])["ids"]) == 200
    hit = col.get(ids=["alpha-3-4"], include=["embeddings"])["embeddings"][0]
    r = col.query(query_embeddings=[hit], n_results=1, include=["distances"])
    assert r["ids"] == [["alpha-3-4"]] and r["distances"][0][0] < 1e-6
