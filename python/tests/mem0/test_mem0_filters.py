"""mem0's filters on the mnemodb store: what they mean (the evaluator, case by case), and that the
store selects exactly what the evaluator selects, whether the filter became a mnemodb ``where``
or was partly checked in Python (random payloads and random filter trees)."""

from __future__ import annotations

import uuid

import mnemodb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnemodb.integrations.mem0 import MnemoVectorStore
from mnemodb.integrations.mem0._filters import compile_filters, matches

PAYLOAD = {"user_id": "u1", "n": 3, "x": 1.5, "flag": True, "tags": ["a", "b"], "day": "2024-03-02", "note": "Likes Sushi"}


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"user_id": "u1"}, True),
        ({"user_id": "u2"}, False),
        ({"n": 3.0}, True),  # ints and floats compare as numbers
        ({"flag": 1}, False),  # booleans equal only booleans
        ({"n": "3"}, False),
        ({"tags": "a"}, False),  # a list equals no scalar
        ({"n": {"ne": 4}}, True),
        ({"missing": {"ne": 4}}, True),  # ne / nin hold without the key
        ({"missing": {"nin": [1]}}, True),
        ({"missing": {"eq": 4}}, False),
        ({"n": {"gt": 2, "lte": 3}}, True),
        ({"n": {"gt": 3}}, False),
        ({"n": {"lt": 3.5}}, True),
        ({"x": {"gt": 1.2, "lt": 1.6}}, True),
        ({"user_id": {"gt": 1}}, False),  # numbers never compare with strings
        ({"day": {"gte": "2024-01-01", "lt": "2024-04-01"}}, True),  # ISO dates as strings
        ({"day": {"gt": "2024-03-02"}}, False),
        ({"n": {"in": [1, 3]}}, True),
        ({"n": {"nin": [1, 3]}}, False),
        ({"n": {"in": []}}, False),
        ({"n": {"nin": []}}, True),
        ({"note": {"contains": "Sushi"}}, True),
        ({"note": {"contains": "sushi"}}, False),
        ({"note": {"icontains": "sushi"}}, True),
        ({"tags": {"contains": "a"}}, True),  # element of a list
        ({"tags": {"icontains": "B"}}, True),
        ({"tags": {"contains": "c"}}, False),
        ({"n": {"contains": 3}}, False),
        ({"note": "*"}, True),
        ({"missing": "*"}, False),
        ({"$or": [{"user_id": "u2"}, {"n": 3}]}, True),
        ({"OR": [{"user_id": "u2"}, {"n": 4}]}, False),
        ({"$not": [{"user_id": "u2"}]}, True),
        ({"NOT": [{"user_id": "u1", "n": 4}]}, True),  # not (u1 and n=4)
        ({"NOT": [{"user_id": "u1"}, {"n": 4}]}, False),  # none of the groups may hold
        ({"AND": [{"user_id": "u1"}, {"n": {"gte": 3}}]}, True),
        ({"user_id": "u1", "$or": [{"flag": False}, {"tags": {"contains": "b"}}]}, True),
        ({"n": {"$gte": 3}}, True),  # operators with a $ too
    ],
)
def test_meaning(filters, expected):
    assert matches(filters, PAYLOAD) is expected


def test_unknown_operator_is_refused():
    with pytest.raises(ValueError, match="unsupported mem0 filter operator 'like'"):
        compile_filters({"n": {"like": 3}})


@pytest.mark.parametrize(
    "filters, where, exact",
    [
        ({"user_id": "u1"}, {"user_id": {"$eq": "u1"}}, True),
        ({"user_id": "u1", "n": {"gte": 2, "lt": 5}}, {"$and": [{"user_id": {"$eq": "u1"}}, {"$and": [{"n": {"$gte": 2}}, {"n": {"$lt": 5}}]}]}, True),
        ({"$or": [{"a": 1}, {"b": 2}]}, {"$or": [{"a": {"$eq": 1}}, {"b": {"$eq": 2}}]}, True),
        ({"$not": [{"a": 1, "b": {"in": [1, 2]}}]}, {"$or": [{"a": {"$ne": 1}}, {"b": {"$nin": [1, 2]}}]}, True),
        # partly in Python: the where keeps every match
        ({"user_id": "u1", "note": {"icontains": "x"}}, {"user_id": {"$eq": "u1"}}, False),
        ({"n": {"lt": 0.5}}, {"n": {"$lte": 1.0}}, False),
        ({"$not": [{"n": {"gt": 1}}]}, None, False),
        ({"$or": [{"a": 1}, {"b": "*"}]}, None, False),
        ({}, None, True),
        (None, None, True),
    ],
)
def test_compiled(filters, where, exact):
    c = compile_filters(filters)
    assert (c.where, c.exact) == (where, exact)


# ---- the store selects what the evaluator selects ------------------------------------------------

KEYS = ["a", "b", "c", "mem0:json", "chroma:document"]
scalars = st.sampled_from([-2, -1, 0, 1, 2, 3, 0.5, 1.0, -1.5, 2.0, True, False, "x", "y", "X", "2024-01-02", "2024-05-01", ""])
values = st.one_of(
    scalars,
    st.lists(st.sampled_from(["x", "y", "X"]), min_size=1, max_size=3),
    st.lists(st.sampled_from([0, 1, 2]), min_size=1, max_size=3),
    st.sampled_from([None, [], {"k": 1}, [1, "x"], [2**70]]),
)
payloads = st.dictionaries(st.sampled_from(KEYS), values, max_size=3)

OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains", "icontains"]


def operand(op: str) -> st.SearchStrategy:
    if op in ("in", "nin"):
        return st.lists(scalars, max_size=3)
    return scalars


field_conds = st.one_of(
    scalars,
    st.just("*"),
    st.sampled_from(OPS).flatmap(lambda op: operand(op).map(lambda v: {op: v})),
    st.tuples(st.sampled_from(["gt", "gte"]), st.sampled_from(["lt", "lte"]), scalars, scalars).map(lambda t: {t[0]: t[2], t[1]: t[3]}),
)
groups = st.dictionaries(st.sampled_from(KEYS), field_conds, min_size=1, max_size=2)
filters_st = st.recursive(
    groups,
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["$or", "OR", "$not", "NOT", "AND"]), st.lists(inner, min_size=1, max_size=3)).map(lambda t: {t[0]: t[1]}),
        st.tuples(groups, inner).map(lambda t: {**t[0], "$or": [t[1], {"c": 1}]}),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(payloads, max_size=14), filters=filters_st, seed=st.integers(0, 2**32 - 1), k=st.integers(1, 6))
def test_store_selects_what_the_evaluator_selects(items, filters, seed, k):
    client = mnemodb.EphemeralClient()
    name = f"f-{uuid.uuid4().hex[:12]}"
    store = MnemoVectorStore(collection_name=name, client=client)
    try:
        rng = np.random.default_rng(seed)
        vectors = rng.standard_normal((len(items), 6)).astype(np.float32)
        docs = [f"w{i % 3} common" for i in range(len(items))]
        pls = [{**p, "data": d} for p, d in zip(items, docs)]
        ids = [f"r{i}" for i in range(len(items))]
        if items:
            store.insert(vectors=vectors, payloads=pls, ids=ids)
        want = [i for i, p in zip(ids, pls) if matches(filters, p)]

        assert [o.id for o in store.list(filters=filters, top_k=None)[0]] == want
        assert [o.id for o in store.list(filters=filters, top_k=k)[0]] == want[:k]

        q = rng.standard_normal(6).astype(np.float32)
        if items:
            unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            sims = unit @ (q / np.linalg.norm(q))
            rank = sorted((j for j, i in enumerate(ids) if i in want), key=lambda j: (-sims[j], j))
            hits = store.search("q", q.tolist(), top_k=k, filters=filters)
            assert [h.id for h in hits] == [ids[j] for j in rank[:k]]
            for h in hits:
                assert h.score == pytest.approx(max(0.0, float(sims[ids.index(h.id)])), abs=1e-5)

        words = store.keyword_search("w1", top_k=20, filters=filters)
        assert sorted(o.id for o in words) == sorted(i for i, d in zip(ids, docs) if i in want and d.startswith("w1 "))
    finally:
        client.delete_collection(name)
