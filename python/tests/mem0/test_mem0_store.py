"""``MnemoVectorStore`` through mem0's ``VectorStoreBase`` interface, call by call: payloads come
back as given, filters select what the Python evaluator selects, scores are similarities,
collections are managed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mem0.vector_stores.base import VectorStoreBase

from mnemodb.integrations.mem0 import MnemoVectorStore
from mnemodb.integrations.mem0._store import JSON_KEY, to_metadata, to_payload

DIM = 8


def vec(*hot: int, dim: int = DIM) -> list:
    v = [0.0] * dim
    for i in hot:
        v[i] += 1.0
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def test_implements_every_abstract_method_and_keyword_search():
    assert not getattr(MnemoVectorStore, "__abstractmethods__", None)
    assert issubclass(MnemoVectorStore, VectorStoreBase)
    for name in ("keyword_search", "search_batch"):
        assert getattr(MnemoVectorStore, name) is not getattr(VectorStoreBase, name), name


PAYLOADS = [
    {"data": "plain", "user_id": "u1", "n": 3, "x": 1.5, "flag": True, "tags": ["a", "b"]},
    # what mnemodb metadata cannot hold travels as JSON, and comes back as given
    {"data": "odd", "expiration_date": None, "prefs": {"food": ["sushi"], "n": 1}, "empty": [], "mixed": [1, "a"]},
    {"data": "keys", "nested_big": [2**70], "#hash": "h", "$dollar": 1, "mem0:json": "user's own key", "chroma:document": "x"},
    {"data": "unicode ✓ ключ", "nested": [[1, 2], [3]], "ints": [1, 2], "floats": [0.5, 1.5], "bools": [True]},
    {},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_round_trip(store, payload):
    md = to_metadata(payload)
    assert to_payload(md) == payload
    store.insert(vectors=[vec(0)], payloads=[payload], ids=["p"])
    got = store.get("p")
    assert got.id == "p" and got.payload == payload and got.score is None
    assert store.list()[0][0].payload == payload


def test_native_values_stay_filterable_metadata():
    md = to_metadata({"user_id": "u1", "n": 3, "prefs": {"a": 1}})
    assert md["user_id"] == "u1" and md["n"] == 3
    assert set(md) == {"user_id", "n", JSON_KEY}


def test_unstorable_payloads_are_refused_with_the_keys(store):
    with pytest.raises(TypeError, match=r"\['when'\]"):
        store.insert(vectors=[vec(0)], payloads=[{"when": object()}], ids=["x"])
    with pytest.raises(TypeError, match=r"\['inf'\]"):
        store.insert(vectors=[vec(0)], payloads=[{"inf": float("inf")}], ids=["x"])
    with pytest.raises(TypeError, match="'big': integers beyond 64 bits"):
        store.insert(vectors=[vec(0)], payloads=[{"big": 2**63}], ids=["x"])
    assert store.get("x") is None


def test_insert_get_delete(store):
    store.insert(vectors=[vec(0), vec(1)], payloads=[{"data": "a"}, {"data": "b"}], ids=["a", "b"])
    assert store.get("a").payload == {"data": "a"}
    assert store.get("missing") is None
    store.delete("a")
    assert store.get("a") is None and store.get("b").payload == {"data": "b"}


def test_insert_without_ids_or_payloads(store):
    store.insert(vectors=[vec(0), vec(1)])
    rows = store.list()[0]
    assert len(rows) == 2 and all(r.payload == {} for r in rows) and len({r.id for r in rows}) == 2


def test_insert_refuses_mismatched_lengths(store):
    with pytest.raises(ValueError, match="2 vectors, 1 payloads and 2 ids"):
        store.insert(vectors=[vec(0), vec(1)], payloads=[{}], ids=["a", "b"])


def test_embedding_model_dims_is_checked(tmp_path):
    s = MnemoVectorStore(collection_name="dims", path=str(tmp_path), embedding_model_dims=DIM)
    with pytest.raises(ValueError, match="embedding_model_dims=8, got 4"):
        s.insert(vectors=[[1.0, 0.0, 0.0, 0.0]], ids=["a"])
    with pytest.raises(ValueError, match="embedding_model_dims=8, got 4"):
        s.search("q", [1.0, 0.0, 0.0, 0.0])


def test_update_replaces_the_whole_payload(store):
    store.insert(vectors=[vec(0)], payloads=[{"data": "old", "keep": 1, "gone": "x", "odd": None}], ids=["a"])
    store.update("a", payload={"data": "new", "keep": 1, "added": [1, 2]})
    assert store.get("a").payload == {"data": "new", "keep": 1, "added": [1, 2]}
    # the vector did not move
    assert store.search("q", vec(0), top_k=1)[0].score == pytest.approx(1.0)
    assert store.keyword_search("new", top_k=5)[0].id == "a"
    assert store.keyword_search("old", top_k=5) == []


def test_update_vector_only_keeps_the_payload(store):
    store.insert(vectors=[vec(0), vec(1)], payloads=[{"data": "a"}, {"data": "b"}], ids=["a", "b"])
    store.update("a", vector=vec(2))
    assert store.get("a").payload == {"data": "a"}
    assert store.search("q", vec(2), top_k=1)[0].id == "a"


def test_update_payload_only_with_a_new_text_keeps_the_vector(store):
    """mem0's entity store updates payloads with vector=None; a changed text changes the
    document, which must not ask for an embedding function."""
    store.insert(vectors=[vec(3)], payloads=[{"data": "cats"}], ids=["e"])
    store.update("e", vector=None, payload={"data": "dogs", "linked_memory_ids": ["m1"]})
    assert store.get("e").payload == {"data": "dogs", "linked_memory_ids": ["m1"]}
    assert store.search("q", vec(3), top_k=1)[0].score == pytest.approx(1.0)
    assert [o.id for o in store.keyword_search("dogs")] == ["e"]


def test_update_of_a_missing_id_changes_nothing(store):
    store.update("nope", vector=vec(0), payload={"data": "x"})
    assert store.get("nope") is None and store.list()[0] == []


def test_search_scores_are_similarities(tmp_path):
    cases = {"cosine": lambda d: 1.0 - d, "l2": lambda d: 1.0 / (1.0 + d), "ip": lambda d: 1.0 - d}
    for space, score in cases.items():
        s = MnemoVectorStore(collection_name=f"space-{space}", path=str(tmp_path), distance=space)
        s.insert(vectors=[vec(0), vec(0, 1), vec(1)], ids=["same", "half", "other"])
        hits = s.search("q", vec(0), top_k=3)
        assert [h.id for h in hits] == ["same", "half", "other"]
        q = np.array(vec(0))
        for h, v in zip(hits, [vec(0), vec(0, 1), vec(1)]):
            v = np.array(v)
            d = {"cosine": 1 - q @ v, "l2": float(((q - v) ** 2).sum()), "ip": 1 - q @ v}[space]
            assert h.score == pytest.approx(max(0.0, score(d)) if space == "cosine" else score(d), abs=1e-6)
        assert s.col_info()["space"] == space


def test_search_accepts_a_wrapped_vector(store):
    store.insert(vectors=[vec(0), vec(1)], ids=["a", "b"])
    assert [h.id for h in store.search("q", [vec(1)], top_k=1)] == ["b"]
    assert [h.id for h in store.search("q", np.array(vec(1)), top_k=1)] == ["b"]


def test_search_batch_matches_search(store):
    for i in range(20):
        store.insert(vectors=[vec(i % DIM, (i * 3) % DIM)], payloads=[{"user_id": f"u{i % 2}", "i": i}], ids=[f"r{i}"])
    queries = [vec(0), vec(1, 2), vec(5)]
    for filters in (None, {"user_id": "u1"}, {"i": {"contains": 1}}, {"data": "*"}, {"i": {"gte": 4, "lt": 15}}):
        batch = store.search_batch(["a", "b", "c"], queries, top_k=4, filters=filters)
        assert batch == [store.search(q, v, top_k=4, filters=filters) for q, v in zip("abc", queries)]
    assert store.search_batch([], [], top_k=3) == []


def test_list_top_k_and_order(store):
    for i in range(7):
        store.insert(vectors=[vec(i % DIM)], payloads=[{"i": i, "odd": i % 2 == 1}], ids=[f"r{i}"])
    assert [r.id for r in store.list(top_k=3)[0]] == ["r0", "r1", "r2"]
    assert [r.id for r in store.list(filters={"odd": True}, top_k=None)[0]] == ["r1", "r3", "r5"]
    # a filter checked in Python still honours top_k, in insertion order
    assert [r.id for r in store.list(filters={"i": {"in": [1, 2.5, "x", 6]}}, top_k=1)[0]] == ["r1"]


def test_collections(store):
    names = {c.name for c in store.list_cols()}
    assert "store" in names
    made = store.create_col("other", DIM, "l2")
    assert made.name == "other" and {"store", "other"} <= {c.name for c in store.list_cols()}
    store.insert(vectors=[vec(0)], ids=["a"])
    info = store.col_info()
    assert (info["name"], info["count"], info["space"]) == ("store", 1, "cosine")
    store.delete_col()
    assert "store" not in {c.name for c in store.list_cols()}
    store.reset()  # works on a deleted collection too
    assert store.col_info()["count"] == 0


def test_reset_empties_the_collection(store):
    store.insert(vectors=[vec(0)], payloads=[{"data": "x"}], ids=["a"])
    store.reset()
    assert store.get("a") is None and store.col_info()["count"] == 0
    store.insert(vectors=[vec(1)], ids=["b"])
    assert store.get("b") is not None


def test_an_existing_collection_keeps_its_space(tmp_path):
    MnemoVectorStore(collection_name="kept", path=str(tmp_path), distance="l2")
    again = MnemoVectorStore(collection_name="kept", path=str(tmp_path), distance="cosine")
    assert again.col_info()["space"] == "l2"


def test_store_on_a_given_client(tmp_path):
    import mnemodb

    client = mnemodb.PersistentClient(path=str(tmp_path))
    s = MnemoVectorStore(collection_name="given", client=client)
    s.insert(vectors=[vec(0)], ids=["a"])
    assert client.get_collection("given").count() == 1

