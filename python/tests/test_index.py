"""The HNSW index through the Python client: writes build it in the background, queries are
right before and after it is complete, and `wait_for_index` (mnemodb only) completes it."""

from __future__ import annotations

from typing import Any

import numpy as np

import mnemodb


def test_queries_are_right_before_and_after_the_index_is_complete(tmp_path: Any) -> None:
    client = mnemodb.PersistentClient(path=str(tmp_path / "db"))
    col = client.create_collection("idx", configuration={"hnsw": {"space": "cosine"}})
    rng = np.random.default_rng(3)
    data = rng.normal(size=(6000, 32)).astype(np.float32)
    col.add(ids=[f"r{i}" for i in range(6000)], embeddings=data)
    picks = [0, 1234, 5999]
    before = col.query(query_embeddings=data[picks], n_results=1, include=["distances"])
    col.wait_for_index()
    after = col.query(query_embeddings=data[picks], n_results=1, include=["distances"])
    for res in (before, after):
        assert [ids[0] for ids in res["ids"]] == [f"r{i}" for i in picks]
        assert all(abs(d[0]) < 1e-5 for d in res["distances"])
