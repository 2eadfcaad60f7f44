"""Hypothesis-generated operation sequences run against chromadb 1.5.9 and mnemodb (both
ephemeral), compared after every step with the parity comparison."""

from __future__ import annotations

import itertools
from typing import Any, List, Tuple

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mnemodb
from parity import compare, run

DIM = 4
POOL = [f"id{i}" for i in range(12)]
_names = itertools.count()

ids_st = st.lists(st.sampled_from(POOL), min_size=1, max_size=5, unique=True)
md_st = st.one_of(
    st.none(),
    st.fixed_dictionaries({"g": st.sampled_from(["a", "b", "c"]), "n": st.integers(0, 5)}),
    st.fixed_dictionaries({"g": st.sampled_from(["a", "b"])}),
)
op_st = st.one_of(
    st.tuples(st.just("add"), ids_st, st.integers(0, 10**6), md_st),
    st.tuples(st.just("upsert"), ids_st, st.integers(0, 10**6), md_st),
    st.tuples(st.just("update"), ids_st, st.integers(0, 10**6), md_st),
    st.tuples(st.just("update_md"), ids_st, st.integers(0, 10**6), md_st),
    st.tuples(st.just("delete"), ids_st, st.integers(0, 10**6), md_st),
    st.tuples(st.just("delete_where"), ids_st, st.integers(0, 10**6), md_st),
    st.tuples(st.just("get"), ids_st, st.integers(0, 10**6), md_st),
    st.tuples(st.just("query"), ids_st, st.integers(0, 10**6), md_st),
)


def _update_existing(col: Any, ids: List[str], vecs: np.ndarray, docs: List[str]) -> Any:
    """Updates only the ids that exist. chromadb 1.5.9 has a bug this avoids: the vector of an
    update to a missing id is kept in its log and later lands on a record added with that id
    (after a further no-op add); see test_api.py::test_update_of_missing_id_is_forgotten."""
    present = set(col.get(ids=ids, include=[])["ids"])
    keep = [i for i, id_ in enumerate(ids) if id_ in present]
    if not keep:
        return "none present"
    return col.update(ids=[ids[i] for i in keep], embeddings=vecs[keep], documents=[docs[i] for i in keep])


def _steps(ops: List[Tuple[str, List[str], int, Any]], space: str) -> List[Any]:
    name = f"hyp{next(_names)}"
    steps: List[Any] = [("create", lambda e: setattr(e, "col", e.client.create_collection(name, configuration={"hnsw": {"space": space}})))]
    for k, (kind, ids, seed, md) in enumerate(ops):
        vecs = np.random.default_rng(seed).normal(size=(len(ids), DIM)).astype(np.float32)
        mds = [dict(md) if md else None for _ in ids]
        docs = [f"doc {i} {seed % 3}" for i in ids]
        if kind == "add":
            fn = lambda e, ids=ids, v=vecs, m=mds, d=docs: e.col.add(ids=ids, embeddings=v, metadatas=m, documents=d)  # noqa: E731
        elif kind == "upsert":
            fn = lambda e, ids=ids, v=vecs, m=mds: e.col.upsert(ids=ids, embeddings=v, metadatas=m)  # noqa: E731
        elif kind == "update":
            fn = lambda e, ids=ids, v=vecs, d=docs: _update_existing(e.col, ids, v, d)  # noqa: E731
        elif kind == "update_md":
            patch = [{"g": None, "x": seed % 4} if md else {"x": seed % 4} for _ in ids]
            fn = lambda e, ids=ids, p=patch: e.col.update(ids=ids, metadatas=p)  # noqa: E731
        elif kind == "delete":
            fn = lambda e, ids=ids: e.col.delete(ids=ids)  # noqa: E731
        elif kind == "delete_where":
            fn = lambda e, g=["a", "b", "c"][seed % 3]: e.col.delete(where={"g": g}, limit=1 + seed % 2)  # noqa: E731
        elif kind == "get":
            fn = lambda e, s=seed: e.col.get(where={"n": {"$gte": s % 4}} if s % 2 else None, include=["metadatas", "documents", "embeddings"], limit=1 + s % 5, offset=s % 3)  # noqa: E731
        else:
            fn = lambda e, v=vecs, s=seed: e.col.query(query_embeddings=v[:1], n_results=1 + s % 6, where={"g": "a"} if s % 3 == 0 else None)  # noqa: E731
        steps.append((f"{k}:{kind}", fn))
    steps.append(("final", lambda e: (e.col.count(), e.col.get(include=["metadatas", "documents", "embeddings"]))))
    return steps


class _Env:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.col: Any = None


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
def test_random_sequences_match_chromadb(chromadb: Any, space: str) -> None:
    ref_client = chromadb.EphemeralClient(settings=chromadb.config.Settings(anonymized_telemetry=False))
    our_client = mnemodb.EphemeralClient()

    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(op_st, min_size=1, max_size=12))
    def check(ops: List[Any]) -> None:
        steps = _steps(ops, space)
        ref = run(steps, _Env(ref_client))
        ours = run(steps, _Env(our_client))
        diffs = compare(ref, ours)
        assert not diffs, "\n".join(diffs)

    check()
