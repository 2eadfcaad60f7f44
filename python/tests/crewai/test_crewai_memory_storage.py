"""MnemoStorage beyond the contract: the scope bugs of LanceDB (crewAI #7543, #7419), the score
scale (checked against the real LanceDBStorage), embeddings, dimension errors, copies."""

from __future__ import annotations

import copy
import pickle
from datetime import datetime, timedelta, timezone

import pytest

pytest.importorskip("crewai.memory")  # "crewai" alone would find this test directory

from crewai.memory.storage.backend import EmbeddingDimensionMismatchError, StorageBackend  # noqa: E402
from crewai.memory.types import MemoryRecord  # noqa: E402

from mnemodb.integrations.crewai import MnemoStorage  # noqa: E402

from crewai_fakes import embed  # noqa: E402


def rec(content, scope="/", categories=None, metadata=None, dims=64, **kw):
    return MemoryRecord(
        content=content,
        scope=scope,
        categories=categories or [],
        metadata=metadata or {},
        embedding=embed(content, dims),
        **kw,
    )


@pytest.fixture
def store(tmp_path):
    return MnemoStorage(tmp_path / "memory")


def test_is_a_storage_backend(store):
    assert isinstance(store, StorageBackend)
    for hook in ("touch_records", "close", "optimize", "asave", "asearch", "adelete"):
        assert callable(getattr(store, hook))


# crewAI #7543: "/app" must not match "/apple"
def test_scope_prefix_never_crosses_a_path_boundary(store):
    store.save([rec("app root", "/app"), rec("app child", "/app/x", ["c"]), rec("apple", "/apple", ["c"])])
    assert store.count("/app") == 2
    assert store.count("/app/") == 2
    assert store.count("/apple") == 1
    assert {r.content for r, _ in store.search(embed("app apple root child"), scope_prefix="/app")} == {
        "app root",
        "app child",
    }
    assert {r.content for r in store.list_records("/app")} == {"app root", "app child"}
    assert store.list_categories("/app") == {"c": 1}
    info = store.get_scope_info("/app")
    assert info.record_count == 2 and info.child_scopes == ["/app/x"]
    assert store.list_scopes("/") == ["/app", "/apple"]
    assert store.list_scopes("/app") == ["/app/x"]
    store.reset("/app")
    assert [r.content for r in store.list_records()] == ["apple"]


# crewAI #7419 and the delete bugs the notes measured on LanceDB
def test_delete_removes_only_what_every_filter_matches(store):
    root, a, ab, a_b = rec("root", "/"), rec("a", "/a", ["k"]), rec("ab", "/ab", ["k"]), rec("a/b", "/a/b")
    store.save([root, a, ab, a_b])
    assert store.delete(record_ids=[]) == 0  # LanceDB: an empty id list deleted everything
    assert store.delete(record_ids=[a.id], scope_prefix="/ab") == 0  # ids AND scope
    assert store.delete(record_ids=[a.id, "missing"], categories=["nope"]) == 0
    assert store.count() == 4
    assert store.delete(scope_prefix="/a") == 2  # LanceDB also deleted "/" and "/ab"
    assert sorted(r.content for r in store.list_records()) == ["ab", "root"]
    assert store.delete(record_ids=[ab.id, root.id], categories=["k"]) == 1
    assert store.delete() == 1
    assert store.count() == 0


def test_delete_filters_combine_with_and(store):
    old = datetime.utcnow() - timedelta(days=10)
    store.save(
        [
            rec("x1", "/p", ["a"], {"team": "red", "n": 1}, created_at=old),
            rec("x2", "/p", ["b"], {"team": "red", "n": 2}),
            rec("x3", "/p/q", ["a"], {"team": "blue", "n": 1}, created_at=old),
            rec("x4", "/r", ["a"], {"team": "red", "n": 1}, created_at=old),
        ]
    )
    cutoff = datetime.utcnow() - timedelta(days=1)
    assert store.delete(scope_prefix="/p", categories=["a"], metadata_filter={"team": "red"}, older_than=cutoff) == 1
    assert sorted(r.content for r in store.list_records()) == ["x2", "x3", "x4"]
    # an aware cut-off compares with the naive-UTC timestamps correctly
    assert store.delete(older_than=datetime.now(timezone.utc) - timedelta(days=1), metadata_filter={"n": 1}) == 2
    assert [r.content for r in store.list_records()] == ["x2"]


def test_categories_any_of_and_metadata_and_of_equalities(store):
    store.save(
        [
            rec("one", "/", ["a"], {"lang": "en", "level": 1, "tags": ["x"], "flag": True}),
            rec("two", "/", ["b"], {"lang": "en", "level": 2, "tags": ["y"], "flag": False}),
            rec("three", "/", ["c"], {"lang": "fr", "level": 1, "tags": ["x"], "opt": None}),
        ]
    )
    q = embed("one two three")
    got = lambda **kw: sorted(r.content for r, _ in store.search(q, limit=10, **kw))  # noqa: E731
    assert got(categories=["a", "b"]) == ["one", "two"]
    assert got(metadata_filter={"lang": "en", "level": 1}) == ["one"]
    assert got(metadata_filter={"tags": ["x"]}) == ["one", "three"]  # non-scalar: compared exactly
    assert got(metadata_filter={"opt": None}) == ["one", "three", "two"]  # .get() == None, as crewai
    assert got(metadata_filter={"flag": False}) == ["two"]
    assert got(metadata_filter={"level": 1.5}) == []
    assert got(categories=["c"], metadata_filter={"lang": "en"}) == []
    assert store.delete(metadata_filter={"tags": ["x"], "lang": "fr"}) == 1


def test_search_limit_applies_after_filters(store):
    store.save([rec(f"common word {i}", "/", metadata={"keep": i % 10 == 0}) for i in range(100)])
    hits = store.search(embed("common word"), metadata_filter={"keep": True}, limit=5)
    assert len(hits) == 5 and all(r.metadata["keep"] is True for r, _ in hits)
    hits = store.search(embed("common word"), metadata_filter={"keep": [True]}, limit=5)
    assert hits == []


def test_scores_match_lancedb(tmp_path):
    """The same records and queries in the real LanceDBStorage and in MnemoStorage give the
    same scores (1 / (1 + squared L2)) and order."""
    lancedb_storage = pytest.importorskip("crewai.memory.storage.lancedb_storage")
    lance = lancedb_storage.LanceDBStorage(path=str(tmp_path / "lance"), compact_every=0)
    mnemo = MnemoStorage(tmp_path / "mnemo")
    texts = ["sushi and ramen", "python code review", "sea view apartment", "ramen recipe", "deploy python"]
    records = [rec(t, "/s") for t in texts]
    lance.save(records)
    mnemo.save(records)
    for query in ["ramen", "python deploy", "apartment by the sea", "unrelated words here"]:
        q = embed(query)
        expected = {r.content: s for r, s in lance.search(q, limit=5)}
        got = [(r.content, s) for r, s in mnemo.search(q, limit=5)]
        assert dict(got) == pytest.approx(expected, abs=1e-5)  # every record, same score
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        (best, _), = mnemo.search(q, limit=1)
        assert expected[best.content] == pytest.approx(max(expected.values()), abs=1e-5)


def test_score_scale_fixed_points(store):
    store.save([rec("same", "/"), MemoryRecord(content="ortho", embedding=[0.0, 1.0] + [0.0] * 62)])
    e = embed("same")
    (hit, score), = store.search(e, limit=1)
    assert hit.content == "same" and score == pytest.approx(1.0)
    # an orthogonal unit vector is at squared distance 2: 1 / 3, LanceDB's value
    ortho = [1.0] + [0.0] * 63
    scores = {r.content: s for r, s in store.search(ortho, limit=2)}
    assert scores["ortho"] == pytest.approx(1 / 3)
    assert store.search(e, limit=5, min_score=0.99) == [(hit, score)]


def test_embeddings_and_fields_persist_and_return(tmp_path):
    path = tmp_path / "memory"
    r = rec("persist me", "/a/b", ["x", "y"], {"k": 1, "nested": {"a": [1, 2]}}, importance=0.8, source="u1", private=True)
    MnemoStorage(path).save([r])
    again = MnemoStorage(path)  # a second instance, as another process would open it
    got = again.get_record(r.id)
    assert got.embedding == pytest.approx(r.embedding)
    assert (got.scope, got.categories, got.metadata, got.source, got.private) == (
        "/a/b",
        ["x", "y"],
        {"k": 1, "nested": {"a": [1, 2]}},
        "u1",
        True,
    )
    assert got.created_at == r.created_at and got.last_accessed == r.last_accessed
    assert got.importance == pytest.approx(0.8)
    (hit, _), = again.search(r.embedding, limit=1)
    assert hit.embedding == pytest.approx(r.embedding)
    assert again.list_records()[0].embedding == pytest.approx(r.embedding)


def test_record_without_embedding_gets_a_zero_vector_of_the_store_dimension(store):
    store.save([rec("with", "/")])
    store.save([MemoryRecord(content="without")])
    assert store.get_record(store.list_records()[0].id).embedding is not None
    assert {len(r.embedding) for r in store.list_records()} == {64}


def test_update_replaces_and_touch_bumps_last_accessed(store):
    r = rec("v1", "/u")
    store.save([r])
    store.update(r.model_copy(update={"content": "v2", "embedding": embed("v2")}))
    assert store.get_record(r.id).content == "v2" and store.count() == 1
    before = store.get_record(r.id).last_accessed
    store.touch_records([r.id, "missing"])
    assert store.get_record(r.id).last_accessed > before


def test_list_records_newest_first_and_scope_info_of_empty_scope(store):
    now = datetime.utcnow()
    store.save([rec(f"r{i}", "/l", created_at=now - timedelta(seconds=100 - i)) for i in range(10)])
    assert [r.content for r in store.list_records("/l", limit=3, offset=2)] == ["r7", "r6", "r5"]
    assert store.list_records("/l", limit=0) == []
    info = store.get_scope_info("/nothing/here")
    assert (info.path, info.record_count, info.categories, info.child_scopes) == ("/nothing/here", 0, [], [])
    assert info.oldest_record is None and info.newest_record is None
    assert store.list_scopes("/nowhere") == []


def test_empty_store_answers_without_creating_anything(store):
    assert store.search(embed("x"), limit=3) == []
    assert store.count() == 0 and store.count("/a") == 0
    assert store.list_records() == [] and store.list_scopes() == [] and store.list_categories() == {}
    assert store.delete() == 0 and store.get_record("x") is None
    store.reset()
    store.touch_records(["x"])


# dimension changes raise crewai's error with crewai's message
def test_dimension_mismatch_on_save_search_update_and_reopen(tmp_path):
    store = MnemoStorage(tmp_path / "m")
    store.save([rec("four", dims=4)])
    for call in (
        lambda: store.save([rec("eight", dims=8)]),
        lambda: store.search(embed("q", 8)),
        lambda: store.update(rec("eight", dims=8)),
        lambda: MnemoStorage(tmp_path / "m").save([rec("eight", dims=8)]),
    ):
        with pytest.raises(EmbeddingDimensionMismatchError) as err:
            call()
        assert (err.value.stored_dim, err.value.new_dim) == (4, 8)
        assert "crewai reset-memories --memory" in str(err.value)
        assert "text-embedding-3-small" in str(err.value)
        assert isinstance(err.value, ValueError) and not isinstance(err.value, RuntimeError)
    with pytest.raises(EmbeddingDimensionMismatchError):
        MnemoStorage(tmp_path / "fresh").save([rec("a", dims=4), rec("b", dims=8)])
    store.reset()  # a full reset accepts the new embedder's dimension
    store.save([rec("eight", dims=8)])
    assert store.count() == 1


def test_copies_are_the_same_store_and_pickles_reopen_the_path(store):
    assert copy.deepcopy(store) is store and copy.copy(store) is store
    store.save([rec("shared", "/")])
    clone = pickle.loads(pickle.dumps(store))
    assert clone is not store and clone.path == store.path and clone.count() == 1


async def test_async_twins(store):
    r = rec("async", "/as")
    await store.asave([r])
    hits = await store.asearch(r.embedding, scope_prefix="/as", limit=1)
    assert hits[0][0].id == r.id
    assert await store.adelete(scope_prefix="/as") == 1


test_async_twins = pytest.mark.asyncio(test_async_twins)


async def test_async_twins_match_the_sync_methods_without_threads(tmp_path, monkeypatch):
    """asave / asearch / adelete await mnemodb's async client: no `asyncio.to_thread`, no
    executor, and the same results as save / search / delete on an identical store."""
    import asyncio

    def no_thread(*args, **kwargs):
        raise AssertionError("an async twin used a Python thread")

    sync, asyn = MnemoStorage(tmp_path / "sync"), MnemoStorage(tmp_path / "async")
    records = [rec(f"note {i}", f"/s/{i % 3}", ["even"] if i % 2 == 0 else [], {"n": i, "f": i / 2}) for i in range(12)]
    records.append(MemoryRecord(content="no embedding", scope="/s/0"))
    sync.save(records)
    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    monkeypatch.setattr(asyncio.get_running_loop(), "run_in_executor", no_thread)
    await asyn.asave(records)
    q = embed("note 4")
    for kwargs in [{}, {"scope_prefix": "/s/1"}, {"categories": ["even"], "limit": 3}, {"metadata_filter": {"f": 2.5}}, {"min_score": 0.5}]:
        want = [(r.id, r.content, s) for r, s in sync.search(q, **kwargs)]
        got = [(r.id, r.content, s) for r, s in await asyn.asearch(q, **kwargs)]
        assert got == want and (want or kwargs.get("min_score")), kwargs
    for kwargs in [{"scope_prefix": "/s/2"}, {"metadata_filter": {"f": 1.0}}, {"record_ids": [records[0].id, "missing"]}, {"record_ids": []}]:
        assert await asyn.adelete(**kwargs) == sync.delete(**kwargs), kwargs
    assert sorted(r.id for r in asyn.list_records()) == sorted(r.id for r in sync.list_records())
    asyn.reset()  # the async collection is reopened after a reset
    assert await asyn.asearch(q) == [] and asyn.count() == 0
    await asyn.asave(records[:2])
    assert asyn.count() == 2


test_async_twins_match_the_sync_methods_without_threads = pytest.mark.asyncio(
    test_async_twins_match_the_sync_methods_without_threads
)


def test_lancedb_reference_has_the_scope_bugs(tmp_path):
    """The cases above, on LanceDBStorage 1.15.30: shows they reproduce #7543 and #7419."""
    lancedb_storage = pytest.importorskip("crewai.memory.storage.lancedb_storage")
    lance = lancedb_storage.LanceDBStorage(path=str(tmp_path / "lance"), compact_every=0)
    lance.save([rec("app root", "/app"), rec("app child", "/app/x"), rec("apple", "/apple")])
    assert lance.count("/app") == 3  # mnemodb: 2
    lance.save([rec("root", "/")])
    assert lance.delete(scope_prefix="/app") == 4  # mnemodb: 2 (root and /apple stay)


def test_a_reset_through_another_handle_is_seen(tmp_path):
    """Another MnemoStorage (another worker process, say) drops the collection: this one's
    handle is stale, and the next call reopens it, with the new embedder's dimension."""
    a, b = MnemoStorage(tmp_path / "m"), MnemoStorage(tmp_path / "m")
    a.save([rec("x")])
    assert b.count() == 1
    b.reset()
    assert a.count() == 0 and a.search(embed("x")) == [] and a.list_records() == []
    a.save([rec("y", dims=8)])
    assert b.count() == 1 and len(b.list_records()[0].embedding) == 8
