"""MnemoStore against LangGraph's own InMemoryStore on random operation sequences (hypothesis):
gets, puts (indexed, not indexed, on chosen fields), deletes, searches with prefixes, filters,
semantic queries (order by score, max over an item's fields, offset and limit) and namespace
listings, in batches that mix reads and writes, through ``batch`` and ``abatch``.

Masked reference quirks (``/work/shared/notes/langgraph.md`` §5): searches without a query
compare as sets (InMemoryStore groups results by namespace, we keep insertion order); the
``score=None`` filler of a short query page compares by length (which unscored items fill it
follows each store's order); namespaces listed by InMemoryStore after their last item went are
not expected. Each key is always put with the same ``index`` (InMemoryStore never drops a
re-put's old vectors)."""

from __future__ import annotations

import asyncio
import math
import random
import tempfile
from typing import Any, List, Optional, Tuple

import pytest

pytest.importorskip("langgraph.store.memory")
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from langgraph.store.base import GetOp, ListNamespacesOp, MatchCondition, PutOp, SearchOp  # noqa: E402
from langgraph.store.memory import InMemoryStore  # noqa: E402

from mnemodb.integrations.langgraph import MnemoStore  # noqa: E402

DIMS = 16
WORDS = ["apple", "river", "stone", "violet", "quartz", "ember", "delta", "nova"]
NAMESPACES = [("a",), ("a", "b"), ("a", "c"), ("b",), ("b", "a", "c")]
PREFIXES = [(), ("a",), ("a", "b"), ("b",), ("c",)]
KEYS = ["k0", "k1", "k2", "k3", "k4"]
# The index each key is always put with.
INDEX: dict = {"k0": None, "k1": None, "k2": None, "k3": False, "k4": ["text", "tags[*]"]}


def embed(texts: List[str]) -> List[List[float]]:
    """Deterministic: each (character, position mod 5) adds its own seeded Gaussian vector,
    then L2 normalisation; the same text always gives the same vector, in any process."""
    out = []
    for text in texts:
        v = [0.0] * DIMS
        for i, ch in enumerate(text):
            rng = random.Random(f"{ch}/{i % 5}")
            for d in range(DIMS):
                v[d] += rng.gauss(0.0, 1.0)
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        out.append([x / norm for x in v])
    return out


INDEX_CONFIG: Any = {"dims": DIMS, "embed": embed, "fields": ["text"]}

filters = st.one_of(
    st.none(),
    st.builds(lambda n: {"n": n}, st.integers(0, 4)),
    st.builds(lambda op, n: {"n": {op: n}}, st.sampled_from(["$gt", "$gte", "$lt", "$lte", "$ne", "$eq"]), st.integers(0, 4)),
    st.builds(lambda w: {"meta": {"w": w}}, st.sampled_from(WORDS[:3])),
)


@st.composite
def operations(draw: Any) -> Tuple[str, Any]:
    kind = draw(st.sampled_from(["put", "put", "put", "delete", "get", "search", "query", "query", "list"]))
    ns = draw(st.sampled_from(NAMESPACES))
    key = draw(st.sampled_from(KEYS))
    if kind == "put":
        words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
        tags = draw(st.lists(st.sampled_from(WORDS), min_size=0, max_size=2))
        return kind, (ns, key, words, tags, draw(st.integers(0, 4)), draw(st.sampled_from(WORDS[:3])))
    if kind in ("delete", "get"):
        return kind, (ns, key)
    if kind == "search":
        return kind, (draw(st.sampled_from(PREFIXES)), draw(filters))
    if kind == "query":
        query = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=2)))
        return kind, (draw(st.sampled_from(PREFIXES)), draw(filters), query, draw(st.integers(1, 5)), draw(st.integers(0, 3)))
    conditions = draw(
        st.lists(
            st.builds(
                MatchCondition,
                st.sampled_from(["prefix", "suffix"]),
                st.lists(st.sampled_from(["a", "b", "c", "*"]), min_size=1, max_size=2).map(tuple),
            ),
            max_size=2,
        )
    )
    return kind, (tuple(conditions), draw(st.one_of(st.none(), st.integers(1, 3))))


class Counter:
    """Makes every text of a run unique (InMemoryStore refuses a batch with a text twice)."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"{self.n}"


def to_op(kind: str, args: Any, counter: Counter) -> Any:
    if kind == "put":
        ns, key, words, tags, n, w = args
        value = {
            "text": " ".join(words) + " " + counter.next(),
            "tags": [f"{t} {counter.next()}" for t in tags],
            "n": n,
            "meta": {"w": w, "x": 1},
        }
        return PutOp(ns, key, value, index=INDEX[key])
    if kind == "delete":
        return PutOp(args[0], args[1], None)
    if kind == "get":
        return GetOp(args[0], args[1])
    if kind == "search":
        return SearchOp(args[0], filter=args[1], limit=1000, offset=0)
    if kind == "query":
        prefix, flt, query, limit, offset = args
        return SearchOp(prefix, filter=flt, limit=limit, offset=offset, query=query)
    conditions, depth = args
    return ListNamespacesOp(match_conditions=conditions, max_depth=depth, limit=100, offset=0)


def key_of(item: Any) -> Tuple[Tuple[str, ...], str]:
    return tuple(item.namespace), item.key


def live_namespaces(store: Any) -> set:
    return {tuple(i.namespace) for i in store.search((), limit=10**6)}


def compare(op: Any, ours: Any, ref: Any, ref_live: set) -> None:
    if isinstance(op, GetOp):
        got = None if ours is None else (key_of(ours), ours.value)
        want = None if ref is None else (key_of(ref), ref.value)
        assert got == want, op
        if ours is not None:
            assert ours.updated_at >= ours.created_at
    elif isinstance(op, SearchOp) and not op.query:
        assert sorted((key_of(i), repr(i.value)) for i in ours) == sorted((key_of(i), repr(i.value)) for i in ref), op
    elif isinstance(op, SearchOp):
        scored = [(key_of(i), i.value, i.score) for i in ours if i.score is not None]
        ref_scored = [(key_of(i), i.value, i.score) for i in ref if i.score is not None]
        assert [s[:2] for s in scored] == [s[:2] for s in ref_scored], op
        for (_, _, a), (_, _, b) in zip(scored, ref_scored):
            assert abs(a - b) < 1e-5, op
        assert len(ours) == len(ref), op
        assert all(i.score is None for i in ours[len(scored) :]), "unscored items come last"
    elif isinstance(op, ListNamespacesOp):
        from mnemodb.integrations.langgraph._store import _namespace_matches

        expected = {
            ns[: op.max_depth] if op.max_depth else ns
            for ns in ref_live
            if all(_namespace_matches(c, ns) for c in op.match_conditions)
        }
        assert ours == sorted(expected), op
        assert expected <= set(ref), op
    else:
        assert ours is None and ref is None


@settings(max_examples=60, deadline=None, derandomize=True)
@given(batches=st.lists(st.tuples(st.lists(operations(), min_size=1, max_size=3), st.booleans()), min_size=1, max_size=14))
def test_mnemo_store_agrees_with_in_memory_store(batches: Any) -> None:
    counter = Counter()
    with tempfile.TemporaryDirectory() as path:
        ours = MnemoStore(path, index=INDEX_CONFIG)
        ref = InMemoryStore(index=INDEX_CONFIG)
        try:
            for specs, use_async in batches:
                ops = [to_op(kind, args, counter) for kind, args in specs]
                ref_live = live_namespaces(ref)
                if use_async:
                    got = asyncio.run(ours.abatch(ops))
                    want = asyncio.run(ref.abatch(ops))
                else:
                    got, want = ours.batch(ops), ref.batch(ops)
                for op, a, b in zip(ops, got, want):
                    compare(op, a, b, ref_live)
        finally:
            ours.close()


def test_filters_refuse_unknown_operators_and_labels_are_checked_in_batch(tmp_path: Any) -> None:
    store = MnemoStore(str(tmp_path))
    store.put(("a",), "k", {"n": 1})
    for s in (store, InMemoryStore()):
        s.put(("a",), "k", {"n": 1})
        with pytest.raises(ValueError):
            s.search(("a",), filter={"n": {"$in": [1]}})
    from langgraph.store.base import InvalidNamespaceError

    with pytest.raises(InvalidNamespaceError):
        store.batch([PutOp(("a.b",), "k", {"n": 1})])
    assert store.search(()) and len(store.search(())) == 1
    store.close()


def test_order_without_a_query_is_insertion_order(tmp_path: Any) -> None:
    store = MnemoStore(str(tmp_path))
    for ns, key in [(("b",), "x"), (("a",), "y"), (("b",), "z"), (("a",), "w")]:
        store.put(ns, key, {})
    store.put(("b",), "x", {"again": True})  # a re-put keeps its place
    store.delete(("a",), "y")
    store.put(("a",), "y", {})  # a delete then put moves to the end
    assert [i.key for i in store.search(())] == ["x", "z", "w", "y"]
    assert [i.key for i in store.search((), limit=2, offset=1)] == ["z", "w"]
    store.close()


def _item_expiry(store: MnemoStore, ns: Tuple[str, ...], key: str) -> Optional[int]:
    from mnemodb import _native

    row = _native.lg_store_get(store._db, [(list(ns), key)])[0]
    return None if row is None else row[5]


def test_ttl_expires_refreshes_and_sweeps_vectors(tmp_path: Any) -> None:
    import time

    store = MnemoStore(str(tmp_path), index=INDEX_CONFIG, ttl={"default_ttl": 1.0, "refresh_on_read": True})
    store.put(("t",), "long", {"text": "stays"})
    store.put(("t",), "never", {"text": "forever"}, ttl=None)
    store.put(("t",), "short", {"text": "goes away"}, ttl=0.001)  # 60 ms
    first = _item_expiry(store, ("t",), "long")
    assert first is not None and _item_expiry(store, ("t",), "never") is None
    time.sleep(0.01)
    assert store.get(("t",), "long", refresh_ttl=False) is not None
    assert _item_expiry(store, ("t",), "long") == first, "refresh_ttl=False leaves the expiry"
    assert store.get(("t",), "long") is not None
    refreshed = _item_expiry(store, ("t",), "long")
    assert refreshed is not None and refreshed > first, "a refreshing read restarts the ttl"
    deadline = time.monotonic() + 30
    # (refresh_ttl=False: a refreshing read would keep it alive)
    while store.get(("t",), "short", refresh_ttl=False) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.get(("t",), "short") is None
    assert {i.key for i in store.search(("t",), query="goes away")} == {"long", "never"}
    assert store.sweep_ttl() == 1
    assert store._collection().count() == 2, "the expired item's vector went with it"
    store.close()


def test_a_query_under_a_small_prefix_among_many_vectors(tmp_path: Any) -> None:
    """Most vectors lie outside the prefix: the first, unfiltered look finds too few under it
    and the prefix becomes the search's filter; the answer is still InMemoryStore's."""
    ours, ref = MnemoStore(str(tmp_path), index=INDEX_CONFIG), InMemoryStore(index=INDEX_CONFIG)
    ops = [PutOp(("many",), f"m{i}", {"text": f"{WORDS[i % 8]} {WORDS[(i * 3) % 8]} {i}"}) for i in range(60)]
    ops += [PutOp(("few", "x"), f"f{i}", {"text": f"{WORDS[i]} {i}", "n": i}) for i in range(3)]
    ours.batch(ops)
    ref.batch(ops)
    for kwargs in ({"limit": 2}, {"limit": 2, "offset": 1}, {"limit": 5, "filter": {"n": {"$gte": 1}}}):
        got = ours.search(("few",), query="apple river", **kwargs)
        want = ref.search(("few",), query="apple river", **kwargs)
        assert [(i.key, round(i.score or 0, 5)) for i in got] == [(i.key, round(i.score or 0, 5)) for i in want], kwargs
        assert got and all(i.namespace == ("few", "x") or list(i.namespace) == ["few", "x"] for i in got)
    ours.close()
