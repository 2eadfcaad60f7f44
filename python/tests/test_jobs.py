"""Background jobs and closing: ``client.jobs()``, ``client.close()``, ``with`` clients."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

import mnemodb

# Above the 4,096 records below which a collection has no graph, so writes queue a catch-up.
N = 5000
DIM = 8


def _fill(client: Any, name: str = "coll") -> Any:
    rng = np.random.default_rng(3)
    c = client.create_collection(name)
    c.add(ids=[f"id{i}" for i in range(N)], embeddings=rng.standard_normal((N, DIM)).astype(np.float32))
    return c


def test_jobs_lists_the_index_catch_up_of_a_big_add(tmp_path: Any) -> None:
    client = mnemodb.PersistentClient(path=str(tmp_path))
    c = _fill(client)
    c._native.wait_for_index()
    jobs = client.jobs()
    catch_ups = [j for j in jobs if j["kind"] == "index_catch_up"]
    assert catch_ups, jobs
    j = catch_ups[0]
    assert j["collection"] == str(c.id)
    assert j["state"] in {"queued", "running", "done", "cancelled"}
    assert set(j) == {"id", "kind", "collection", "done", "total", "state", "error"}
    assert all(isinstance(x["id"], int) for x in jobs)
    client.close()


def test_with_block_closes_and_saves_the_graph(tmp_path: Any) -> None:
    with mnemodb.PersistentClient(path=str(tmp_path)) as client:
        c = _fill(client)
        cid = str(c.id)
        # A query loads the live-slots table, which the close then checkpoints.
        c.query(query_embeddings=[[0.5] * DIM], n_results=3)
        kinds_before = {j["kind"] for j in client.jobs()}
        assert "index_catch_up" in kinds_before
    # The close saved the derived files: the live-slots checkpoint and a graph file.
    cdir = os.path.join(str(tmp_path), "collections", cid)
    files = os.listdir(cdir)
    assert any(f.startswith("live.") for f in files), files
    assert any(f.startswith("hnsw.") for f in files), files
    saves = [j for j in client.jobs() if j["kind"] in {"graph_save", "live_checkpoint"}]
    assert saves and all(j["state"] == "done" for j in saves), saves
    # A new client opens the directory again and finds every record.
    with mnemodb.PersistentClient(path=str(tmp_path)) as again:
        assert again.get_collection("coll").count() == N


def test_close_is_idempotent_and_waits_for_the_last_client(tmp_path: Any) -> None:
    a = mnemodb.PersistentClient(path=str(tmp_path))
    b = mnemodb.PersistentClient(path=str(tmp_path))
    c = _fill(a)
    a.close()
    a.close()
    # `b` still holds the database: it is not closed yet, so its jobs' saves have not run.
    assert not [j for j in b.jobs() if j["kind"] == "live_checkpoint"]
    assert b.get_collection("coll").count() == N
    b.close()
    assert [j for j in b.jobs() if j["kind"] == "live_checkpoint"]
    del c


def test_jobs_are_dicts_with_wait_and_cancel(tmp_path: Any) -> None:
    client = mnemodb.PersistentClient(path=str(tmp_path))
    _fill(client)
    jobs = client.jobs()
    assert jobs and all(isinstance(j, dict) for j in jobs)
    for j in jobs:
        assert j.wait(timeout=120) in ("done", "cancelled"), j
        assert j["state"] in ("done", "cancelled")
    with pytest.raises(ValueError, match="timeout"):
        jobs[0].wait(timeout=-1)
    jobs[0].cancel()  # a finished job: nothing to stop


def test_compact_returns_a_job_and_keeps_every_record(tmp_path: Any) -> None:
    client = mnemodb.PersistentClient(path=str(tmp_path))
    c = _fill(client)
    c.delete(ids=[f"id{i}" for i in range(0, N, 2)])
    job = c.compact()
    assert job["kind"] == "compaction"
    # Reads and writes go on while it runs.
    c.add(ids=["new"], embeddings=np.ones((1, DIM), dtype=np.float32))
    assert job.wait(timeout=120) == "done", job
    assert job["done"] == job["total"] > 0
    assert c.count() == N // 2 + 1
    assert c.get(ids=["new", "id1"])["ids"] == ["id1", "new"]
    assert any(j["id"] == job["id"] for j in client.jobs())


def test_a_cancelled_compaction_changes_nothing(tmp_path: Any) -> None:
    client = mnemodb.PersistentClient(path=str(tmp_path))
    c = _fill(client)
    c.delete(ids=["id0", "id1"])
    before = c.get(include=["embeddings"])
    job = c.compact()
    job.cancel()
    assert job.wait(timeout=120) in ("cancelled", "done")
    after = c.get(include=["embeddings"])
    assert after["ids"] == before["ids"]
    assert np.array_equal(after["embeddings"], before["embeddings"])
