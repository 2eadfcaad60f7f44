"""MnemoRagClient: the BaseClient contract with the semantics of crewai's Chroma client,
checked side by side with crewai's real ChromaDBClient on chromadb 1.5.9 where it applies."""

from __future__ import annotations

import hashlib
import json

import pytest

pytest.importorskip("crewai.memory")  # "crewai" alone would find this test directory

from crewai.rag.core.base_client import BaseClient  # noqa: E402

from crewai_fakes import chroma_ef_class, embed  # noqa: E402
from mnemodb.errors import NotFoundError  # noqa: E402
from mnemodb.integrations.crewai import MnemoRagClient  # noqa: E402

DOCS = [
    {"content": "The capital of Portugal is Lisbon."},
    {"content": "Rust is a systems programming language.", "metadata": {"topic": "tech", "year": 2015}},
    {"content": "Sushi is a Japanese dish.", "doc_id": "sushi", "metadata": {"topic": "food"}},
    {"content": "Ramen is a noodle soup.", "metadata": {"doc_id": "ramen", "topic": "food"}},
    {"content": "Python is a programming language.", "metadata": [{"topic": "tech", "year": 1991}]},
]


@pytest.fixture
def ef():
    return chroma_ef_class()()


@pytest.fixture
def client(tmp_path, ef):
    return MnemoRagClient(tmp_path / "rag", embedding_function=ef)


def chroma_client(tmp_path, ef):
    chromadb = pytest.importorskip("chromadb")
    from chromadb.config import Settings
    from crewai.rag.chromadb.client import ChromaDBClient

    settings = Settings(anonymized_telemetry=False, allow_reset=True, is_persistent=True)
    return ChromaDBClient(chromadb.PersistentClient(str(tmp_path / "chroma"), settings=settings), ef)


def test_is_a_base_client(client):
    assert isinstance(client, BaseClient)


def test_ids_follow_crewai_chroma_rules(client):
    client.get_or_create_collection(collection_name="docs")
    client.add_documents(collection_name="docs", documents=DOCS)
    col = client.client.get_collection("docs")
    got = col.get(include=["metadatas"])
    ids = dict(zip(got["ids"], got["metadatas"]))
    plain = hashlib.sha256(DOCS[0]["content"].encode()).hexdigest()
    with_md = hashlib.sha256(
        (DOCS[1]["content"] + "|" + json.dumps(DOCS[1]["metadata"], sort_keys=True)).encode()
    ).hexdigest()
    first_of_list = hashlib.sha256(
        (DOCS[4]["content"] + "|" + json.dumps(DOCS[4]["metadata"], sort_keys=True)).encode()
    ).hexdigest()
    assert set(ids) == {plain, with_md, "sushi", "ramen", first_of_list}
    assert ids[first_of_list] == {"topic": "tech", "year": 1991}  # a list metadata: its first element
    assert ids[plain] is None


def test_same_results_as_crewai_chroma_client(tmp_path, client, ef):
    chroma = chroma_client(tmp_path, ef)
    # every document with metadata: crewai's Chroma client fails on a batch that mixes
    # documents with and without metadata (Chroma refuses the {} it sends); mnemodb's does not
    docs = [dict(d, metadata=d.get("metadata") or {"n": i}) for i, d in enumerate(DOCS)]
    for c in (client, chroma):
        c.get_or_create_collection(collection_name="docs")
        c.add_documents(collection_name="docs", documents=docs)
    for query, kw in [
        ("programming language", {}),
        ("japanese food", {"metadata_filter": {"topic": "food"}}),
        ("Lisbon Portugal", {"score_threshold": 0.0, "limit": 5}),
        ("noodle soup", {"score_threshold": 0.7}),
    ]:
        ours = client.search(collection_name="docs", query=query, **kw)
        theirs = chroma.search(collection_name="docs", query=query, **kw)
        assert [r["id"] for r in ours] == [r["id"] for r in theirs], query
        assert [r["score"] for r in ours] == pytest.approx([r["score"] for r in theirs], abs=1e-5)
        assert [(r["content"], r["metadata"]) for r in ours] == [(r["content"], r["metadata"]) for r in theirs]


def test_score_is_one_plus_cosine_over_two_and_threshold_applies_after(client):
    client.get_or_create_collection(collection_name="docs")
    client.add_documents(collection_name="docs", documents=DOCS)
    q = "programming language"
    res = client.search(collection_name="docs", query=q, limit=5, score_threshold=0.0)
    assert len(res) == 5
    qv = embed(q)
    texts = {d["content"]: embed(d["content"]) for d in DOCS}
    for r in res:
        cos = sum(a * b for a, b in zip(qv, texts[r["content"]]))
        assert r["score"] == pytest.approx((1 + cos) / 2, abs=1e-5)
    cut = res[1]["score"]
    above = client.search(collection_name="docs", query=q, limit=5, score_threshold=cut)
    assert [r["id"] for r in above] == [r["id"] for r in res if r["score"] >= cut]
    # the client's default threshold (crewai's 0.6) and limit (5)
    assert all(r["score"] >= 0.6 for r in client.search(collection_name="docs", query=q))


def test_collection_first_made_by_add_documents_uses_l2_scores_as_chroma(client):
    client.add_documents(collection_name="plain", documents=DOCS[:2])
    res = client.search(collection_name="plain", query=DOCS[0]["content"], score_threshold=0.0)
    assert res[0]["score"] == pytest.approx(1.0)
    qv, other = embed(DOCS[0]["content"]), embed(DOCS[1]["content"])
    d2 = sum((a - b) ** 2 for a, b in zip(qv, other))
    assert res[1]["score"] == pytest.approx(1 / (1 + d2), abs=1e-5)


def test_upserts_in_batches_last_duplicate_wins(client, monkeypatch):
    import mnemodb.api

    calls = []
    real = mnemodb.api.Collection.upsert

    def spy(self, *a, **kw):
        calls.append(len(kw["ids"]))
        return real(self, *a, **kw)

    monkeypatch.setattr(mnemodb.api.Collection, "upsert", spy)
    docs = [{"content": f"doc {i}", "doc_id": f"d{i}"} for i in range(7)] + [{"content": "doc 3 again", "doc_id": "d3"}]
    client.add_documents(collection_name="batches", documents=docs, batch_size=3)
    assert calls == [3, 3, 1]
    col = client.client.get_collection("batches")
    assert col.count() == 7 and col.get(ids=["d3"])["documents"] == ["doc 3 again"]
    client.add_documents(collection_name="batches", documents=[{"content": "doc 0 v2", "doc_id": "d0"}])
    assert col.count() == 7 and col.get(ids=["d0"])["documents"] == ["doc 0 v2"]
    with pytest.raises(ValueError, match="empty"):
        client.add_documents(collection_name="batches", documents=[])


def test_metadata_filters(client):
    client.get_or_create_collection(collection_name="docs")
    client.add_documents(collection_name="docs", documents=DOCS)
    kw = {"collection_name": "docs", "query": "language food", "limit": 5, "score_threshold": 0.0}
    assert {r["id"] for r in client.search(metadata_filter={"topic": "food"}, **kw)} == {"sushi", "ramen"}
    tech = client.search(metadata_filter={"topic": "tech", "year": 1991}, **kw)  # several pairs: AND
    assert [r["metadata"]["year"] for r in tech] == [1991]
    old = client.search(metadata_filter={"year": {"$lt": 2000}}, **kw)  # Chroma operators pass through
    assert len(old) == 1
    assert client.search(where={"topic": "food"}, **kw) and client.search(metadata_filter={"topic": "x"}, **kw) == []


def test_missing_collection_searches_as_empty_and_delete_and_reset(client):
    assert client.search(collection_name="never_made", query="x") == []
    client.get_or_create_collection(collection_name="docs")
    client.add_documents(collection_name="docs", documents=DOCS)
    client.add_documents(collection_name="other", documents=DOCS[:1])
    client.delete_collection(collection_name="docs")
    assert client.search(collection_name="docs", query="Lisbon", score_threshold=0.0) == []
    with pytest.raises(NotFoundError):
        client.delete_collection(collection_name="not_there")
    client.reset()
    assert client.client.list_collections() == []


def test_collection_names_are_sanitised_as_crewai_does(client):
    from crewai.rag.chromadb.utils import _sanitize_collection_name

    for name in ("a", "knowledge_Research Analyst!", "192.168.0.1", "-x-"):
        client.get_or_create_collection(collection_name=name)
        client.add_documents(collection_name=name, documents=DOCS[:1])
        assert client.client.get_collection(_sanitize_collection_name(name)).count() == 1


def test_create_collection_refuses_an_existing_one(client):
    client.create_collection(collection_name="once")
    with pytest.raises(Exception):
        client.create_collection(collection_name="once")
    assert client.get_or_create_collection(collection_name="once").metadata["hnsw:space"] == "cosine"


async def test_async_twins(client):
    await client.acreate_collection(collection_name="a_docs")
    await client.aget_or_create_collection(collection_name="a_docs")
    await client.aadd_documents(collection_name="a_docs", documents=DOCS)
    res = await client.asearch(collection_name="a_docs", query="Sushi is a Japanese dish.", limit=1)
    assert res[0]["id"] == "sushi" and res[0]["score"] == pytest.approx(1.0)
    await client.adelete_collection(collection_name="a_docs")
    assert await client.asearch(collection_name="a_docs", query="x") == []
    await client.areset()


test_async_twins = pytest.mark.asyncio(test_async_twins)
