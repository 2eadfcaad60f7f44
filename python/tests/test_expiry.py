"""Record expiry from Python: ``ttl=`` / ``expires_at=`` on writes, the collection's
``mnemodb:ttl``, expired records hidden from every read, and the sweep job that deletes them."""

from __future__ import annotations

import datetime
import time
import uuid
from typing import Any

import numpy as np
import pytest

import mnemodb

DIM = 4


def _rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def _wait_for(cond: Any, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return bool(cond())


@pytest.mark.parametrize("persistent", [False, True])
def test_expired_records_are_hidden_from_every_read(tmp_path: Any, persistent: bool) -> None:
    client = mnemodb.PersistentClient(path=str(tmp_path)) if persistent else mnemodb.EphemeralClient()
    c = client.create_collection(f"ttl-{uuid.uuid4().hex[:8]}")
    rows = _rows(6)
    c.add(ids=["k0", "k1", "k2"], embeddings=rows[:3], metadatas=[{"n": i} for i in range(3)])
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    c.add(ids=["g0", "g1"], embeddings=rows[3:5], metadatas=[{"n": 10}, {"n": 11}], expires_at=past)
    c.add(ids=["later"], embeddings=rows[5:], ttl=3600)
    assert c.count() == 4
    assert c.get()["ids"] == ["k0", "k1", "k2", "later"]
    assert c.get(ids=["g0", "k1"])["ids"] == ["k1"]
    assert c.get(where={"n": {"$gte": 0}})["ids"] == ["k0", "k1", "k2"]
    assert c.peek(2)["ids"] == ["k0", "k1"]
    hits = c.query(query_embeddings=rows[3:4], n_results=10)["ids"][0]
    assert sorted(hits) == ["k0", "k1", "k2", "later"]
    # A read that met them queued a sweep; it deletes them.
    assert _wait_for(lambda: any(j["kind"] == "expiry_sweep" and j["state"] == "done" for j in client.jobs()))
    sweeps = [j for j in client.jobs() if j["kind"] == "expiry_sweep"]
    assert sum(j["done"] for j in sweeps) == 2, sweeps
    # An expired id is free again.
    c.add(ids=["g0"], embeddings=rows[3:4])
    assert c.get(ids=["g0"])["ids"] == ["g0"]


def test_upsert_and_update_set_or_renew_expiry() -> None:
    client = mnemodb.EphemeralClient()
    c = client.create_collection(f"ttl-{uuid.uuid4().hex[:8]}")
    c.add(ids=["a", "b"], embeddings=_rows(2))
    c.update(ids=["a"], metadatas=[{"old": True}], expires_at=time.time() - 1)
    assert c.get()["ids"] == ["b"]
    c.upsert(ids=["a"], embeddings=_rows(1, 1), ttl=datetime.timedelta(hours=1))
    assert c.get(ids=["a"], include=["metadatas"])["metadatas"] == [None]


def test_collection_ttl_is_checked_and_applied() -> None:
    client = mnemodb.EphemeralClient()
    with pytest.raises(ValueError, match="mnemodb:ttl"):
        client.create_collection("bad", metadata={"mnemodb:ttl": -5})
    c = client.create_collection(f"cache-{uuid.uuid4().hex[:8]}", metadata={"mnemodb:ttl": 3600})
    c.add(ids=["x"], embeddings=_rows(1))
    assert c.count() == 1
    # A write's own expiry wins over the collection's.
    c.add(ids=["y"], embeddings=_rows(1), expires_at=0)
    assert c.get()["ids"] == ["x"]


def test_bad_expiry_values_are_refused() -> None:
    c = mnemodb.EphemeralClient().create_collection(f"ttl-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ValueError, match="ttl"):
        c.add(ids=["x"], embeddings=_rows(1), ttl=-1)
    with pytest.raises(ValueError, match="not both"):
        c.add(ids=["x"], embeddings=_rows(1), ttl=1, expires_at=1)
    assert c.count() == 0


def test_async_client_passes_expiry_through() -> None:
    import asyncio

    async def run() -> list:
        client = await mnemodb.AsyncEphemeralClient()
        c = await client.create_collection(f"ttl-{uuid.uuid4().hex[:8]}")
        await c.add(ids=["a", "b"], embeddings=_rows(2), ttl=3600)
        await c.upsert(ids=["b"], embeddings=_rows(1), expires_at=0)
        return (await c.get())["ids"]

    assert asyncio.run(run()) == ["a"]
