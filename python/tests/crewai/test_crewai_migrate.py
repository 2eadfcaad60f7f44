"""migrate(): a Chroma directory written by crewai's own ChromaDBClient, copied into mnemodb,
answers the same searches through MnemoRagClient."""

from __future__ import annotations

import pytest

pytest.importorskip("crewai.memory")  # "crewai" alone would find this test directory
chromadb = pytest.importorskip("chromadb")

from crewai_fakes import chroma_ef_class  # noqa: E402
from mnemodb.integrations.crewai import MnemoRagClient, migrate  # noqa: E402


def test_migrate_copies_collections_and_keeps_search_results(tmp_path, capsys):
    from chromadb.config import Settings
    from crewai.rag.chromadb.client import ChromaDBClient

    ef = chroma_ef_class()()
    src = tmp_path / "chroma"
    chroma = ChromaDBClient(
        chromadb.PersistentClient(str(src), settings=Settings(anonymized_telemetry=False, allow_reset=True)), ef
    )
    chroma.get_or_create_collection(collection_name="knowledge_crew")
    docs = [{"content": f"fact number {i} about topic {i % 9}", "metadata": {"i": i, "topic": f"t{i % 9}"}} for i in range(2300)]
    chroma.add_documents(collection_name="knowledge_crew", documents=docs, batch_size=500)
    chroma.add_documents(collection_name="plain_l2", documents=docs[:10])

    counts = migrate(src, tmp_path / "mnemo", page_size=700)
    assert counts == {"knowledge_crew": 2300, "plain_l2": 10}
    ours = MnemoRagClient(tmp_path / "mnemo", embedding_function=ef)
    for name in counts:
        for query, kw in [("topic 3 fact", {}), ("fact number 42", {"metadata_filter": {"topic": "t6"}, "limit": 3})]:
            theirs = chroma.search(collection_name=name, query=query, score_threshold=0.0, **kw)
            got = ours.search(collection_name=name, query=query, score_threshold=0.0, **kw)
            assert [r["score"] for r in got] == pytest.approx([r["score"] for r in theirs], abs=1e-5)
            if len(theirs) > 1 and theirs[0]["score"] > theirs[1]["score"] + 1e-6:
                assert got[0]["id"] == theirs[0]["id"] and got[0]["content"] == theirs[0]["content"]
    assert ours.client.get_collection("knowledge_crew").metadata["hnsw:space"] == "cosine"
    # a second run overwrites (upsert) and checks again
    assert migrate(src, tmp_path / "mnemo", collections=["plain_l2"], progress=False) == {"plain_l2": 10}
