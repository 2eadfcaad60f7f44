"""``Collection.explain`` (mnemodb's addition to chromadb's API): the plan a query gets on a
tiny collection and on one with a graph, with and without filters, checked as ``query`` checks
its arguments, and changing nothing."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
import pytest

import mnemodb
from mnemodb.embedding_functions import HashEmbeddingFunction

DIM = 16


def _fill(col: Any, n: int, seed: int) -> np.ndarray:
    data = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    col.add(ids=[f"r{i}" for i in range(n)], embeddings=data, metadatas=[{"bucket": i % 10} for i in range(n)])
    return data


@pytest.fixture
def client(tmp_path: Any) -> Any:
    return mnemodb.PersistentClient(path=str(tmp_path / "db"))


@pytest.fixture
def indexed(client: Any) -> Any:
    """6,000 records (the graph starts at 4,096), all linked."""
    col = client.create_collection("indexed")
    _fill(col, 6000, 1)
    col.wait_for_index()
    return col


def test_a_tiny_collection_is_scanned_exactly(client: Any) -> None:
    col = client.create_collection("tiny")
    assert col.explain(query_embeddings=[[0.0] * DIM], n_results=3)["strategy"] == "empty"
    _fill(col, 10, 2)
    q = [[0.5] * DIM]
    plan = col.explain(query_embeddings=q, n_results=3)
    assert (plan["strategy"], plan["reason"]) == ("scan", "small_collection")
    assert (plan["candidates"], plan["index"], plan["estimated_cost"]) == (None, None, 10)
    assert plan["detail"].startswith("scan: ")
    plan = col.explain(query_embeddings=q, n_results=3, where={"bucket": {"$in": [1, 2, 3]}})
    assert (plan["strategy"], plan["candidates"], plan["estimated_cost"]) == ("scan_candidates", 3, 3)
    plan = col.explain(query_embeddings=q, ids=["r1", "r2"], n_results=1)
    assert (plan["strategy"], plan["reason"], plan["candidates"]) == ("scan_candidates", "small_collection", 2)
    plan = col.explain(query_embeddings=q, where={"bucket": 42})
    assert (plan["strategy"], plan["reason"], plan["candidates"]) == ("empty", "no_candidates", 0)


def test_a_filtered_query_on_an_indexed_collection(indexed: Any) -> None:
    q = np.zeros((1, DIM), dtype=np.float32)
    plan = indexed.explain(query_embeddings=q, n_results=10)
    assert (plan["strategy"], plan["reason"]) == ("walk", "large_collection")
    assert plan["index"] == {"linked": 6000, "unlinked": 0}
    assert (plan["live"], plan["ef"], plan["catch_up"]) == (6000, 100, False)
    assert plan["estimated_cost"] < plan["scan_cost"] == 6000

    # A tenth of the records: scanning 600 beats a walk that passes over the other 90%.
    plan = indexed.explain(query_embeddings=q, n_results=10, where={"bucket": 3})
    assert (plan["strategy"], plan["reason"], plan["candidates"]) == ("scan_candidates", "few_candidates", 600)
    assert plan["estimated_cost"] == 600
    assert plan["index"] == {"linked": 6000, "unlinked": 0}

    # Half of them at a beam of 1: the walk, with the candidates as an allow-list.
    indexed.modify(configuration={"hnsw": {"ef_search": 1}})
    plan = indexed.explain(query_embeddings=q, n_results=1, where={"bucket": {"$lt": 5}})
    assert (plan["strategy"], plan["reason"], plan["candidates"]) == ("walk_allow_list", "many_candidates", 3000)
    assert plan["ef"] == 1
    assert plan["walk_cost"] == plan["estimated_cost"] < plan["scan_cost"] == 3000

    assert indexed.explain(query_embeddings=q, n_results=2000)["reason"] == "many_results"
    assert indexed.explain(query_embeddings=q, ids=["r1"], n_results=1)["reason"] == "id_list"


def test_explain_changes_nothing(indexed: Any) -> None:
    def state() -> Dict[str, Any]:
        got = indexed.get(include=["embeddings", "metadatas", "documents"])
        hits = indexed.query(query_embeddings=np.ones((2, DIM), dtype=np.float32), n_results=5, where={"bucket": {"$lt": 5}})
        return {"ids": got["ids"], "emb": got["embeddings"].tobytes(), "meta": got["metadatas"], "count": indexed.count(), "hits": hits["ids"], "dist": hits["distances"]}

    before = state()
    for n in (1, 10, 5999):
        indexed.explain(query_embeddings=[[0.1] * DIM], n_results=n, where={"bucket": {"$lt": 5}})
        indexed.explain(query_embeddings=[[0.1] * DIM], n_results=n)
    assert state() == before


def test_explain_checks_its_arguments_as_query_does(client: Any) -> None:
    col = client.create_collection("checks")
    _fill(col, 10, 3)
    bad = [
        dict(query_embeddings=[[0.0] * DIM], n_results=0),
        dict(query_embeddings=[[0.0] * (DIM - 1)], n_results=1),
        dict(query_embeddings=[[0.0] * DIM], where={"bucket": {"$bad": 1}}),
        dict(query_embeddings=[[0.0] * DIM], ids=["missing"]),
        dict(n_results=1),
    ]
    for kwargs in bad:
        with pytest.raises(Exception) as from_query:
            col.query(**kwargs)
        with pytest.raises(Exception) as from_explain:
            col.explain(**kwargs)
        assert type(from_explain.value) is type(from_query.value), kwargs
        assert str(from_explain.value) == str(from_query.value), kwargs


def test_explain_embeds_query_texts_like_query(client: Any) -> None:
    col = client.create_collection("texts", embedding_function=HashEmbeddingFunction(dim=DIM))
    col.add(ids=["a", "b"], documents=["apples", "bicycles"])
    plan = col.explain(query_texts=["apple"], n_results=1)
    assert (plan["strategy"], plan["live"]) == ("scan", 2)
