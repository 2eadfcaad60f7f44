"""install(): Memory(), Crew(memory=True), Knowledge and crewai.rag clients on mnemodb, end to
end through crewai's own classes (no LLM: Memory's zero-LLM path, shallow recall)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("crewai.memory")  # "crewai" alone would find this test directory

from crewai_fakes import MemoryEmbedder, chroma_ef_class  # noqa: E402
from mnemodb.integrations.crewai import (  # noqa: E402
    MnemoKnowledgeStorage,
    MnemoRagClient,
    MnemoStorage,
    install,
    uninstall,
)

SENTENCES = [
    "CrewAI agents collaborate on tasks.",
    "The capital of Portugal is Lisbon.",
    "Rust is a systems language.",
    "Sushi is a Japanese dish made with rice.",
]


def sources():
    from crewai.knowledge.source.string_knowledge_source import StringKnowledgeSource

    return [StringKnowledgeSource(content=s) for s in SENTENCES]


def spec():
    return {"provider": "custom", "config": {"embedding_callable": chroma_ef_class()}}


def test_default_memory_is_mnemodb_under_crewai_storage_dir(crewai_storage_dir):
    from crewai.memory import Memory

    install()
    mem = Memory(embedder=MemoryEmbedder(), consolidation_threshold=1.0)
    store = mem._storage
    assert isinstance(store, MnemoStorage)
    assert Path(store.path) == (crewai_storage_dir / "mnemodb" / "memory").resolve()
    assert Memory(embedder=MemoryEmbedder())._storage is store  # one store per directory

    r = mem.remember("Alice prefers dark mode", scope="/users/alice", categories=["pref"], importance=0.9, metadata={"user": "alice"})
    mem.remember("Bob likes light themes", scope="/users/bob", categories=["pref"], importance=0.4, metadata={"user": "bob"})
    mem.remember("Deploys happen on Fridays", scope="/ops", categories=["process"], importance=0.7)
    assert r is not None and store.get_record(r.id).embedding is not None
    hits = mem.recall("dark mode", depth="shallow", limit=2)
    assert hits[0].record.content == "Alice prefers dark mode"
    assert [m.record.content for m in mem.scope("/users/bob").recall("themes", depth="shallow")] == ["Bob likes light themes"]
    assert mem.list_scopes("/") == ["/ops", "/users"]
    assert mem.info("/users").record_count == 2
    assert mem.list_categories() == {"pref": 2, "process": 1}
    assert "/users" in str(mem.tree())
    assert len(mem.list_records(scope="/users")) == 2
    mem.update(r.id, importance=0.1)
    assert store.get_record(r.id).importance == pytest.approx(0.1)
    assert mem.forget(metadata_filter={"user": "alice"}) == 1
    mem.reset("/ops")
    assert store.count() == 1
    mem.reset()
    assert store.count() == 0
    mem.close()


def test_memory_spec_with_scheme_and_json_dump(tmp_path):
    from crewai.memory import Memory
    from crewai.memory.storage.factory import resolve_memory_storage

    install(tmp_path / "root")
    target = tmp_path / "elsewhere"
    mem = Memory(storage=f"mnemodb://{target}", embedder=MemoryEmbedder())
    assert isinstance(mem._storage, MnemoStorage) and Path(mem._storage.path) == target.resolve()
    dumped = mem.model_dump(mode="json", exclude={"embedder"})  # a string spec serialises
    assert dumped["storage"] == f"mnemodb://{target}"
    assert Path(Memory(embedder=MemoryEmbedder())._storage.path) == (tmp_path / "root" / "memory").resolve()
    assert resolve_memory_storage("qdrant-edge") is None  # other specs keep crewai's choice
    assert resolve_memory_storage(str(tmp_path / "a-lancedb-dir")) is None
    uninstall()
    assert resolve_memory_storage("lancedb") is None


def test_two_crews_share_the_store_and_stay_isolated_by_root_scope(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "fake-key-never-used")
    from crewai import Agent, Crew, Task

    install(tmp_path / "root")

    def crew(name):
        a = Agent(role="Researcher", goal="g", backstory="b", llm="gpt-4o-mini")
        t = Task(description="d", expected_output="e", agent=a)
        return Crew(agents=[a], tasks=[t], memory=True, name=name, embedder=spec())

    research, support = crew("Research Crew"), crew("Support Crew")
    assert research._memory._storage is support._memory._storage
    assert research._memory.root_scope == "/crew/research-crew"
    for c, fact in ((research, "quantum computing papers"), (support, "customer ticket backlog")):
        c._memory._config.consolidation_threshold = 1.0
        assert c._memory.remember(fact, scope="/notes", categories=["note"], importance=0.5) is not None
    store = research._memory._storage
    assert store.list_scopes("/crew") == ["/crew/research-crew", "/crew/support-crew"]
    got = research._memory.recall("customer ticket backlog", depth="shallow", limit=5)
    assert [m.record.content for m in got] == ["quantum computing papers"]
    research.reset_memories("memory")  # crewai reset-memories: the whole store, as with LanceDB
    assert store.count() == 0


def test_knowledge_through_the_factory(tmp_path):
    from crewai.knowledge.knowledge import Knowledge
    install(tmp_path / "root")
    k = Knowledge(
        collection_name="docs",
        sources=sources(),
        embedder=spec(),
    )
    assert isinstance(k.storage, MnemoKnowledgeStorage)
    k.add_sources()
    res = k.query(["capital of Portugal Lisbon"], results_limit=2, score_threshold=0.5)
    assert res and "Lisbon" in res[0]["content"]
    assert 0.5 <= res[0]["score"] <= 1.0
    client = k.storage._get_client()
    assert Path(client.path) == (tmp_path / "root" / "rag").resolve()
    assert client.client.get_collection("knowledge_docs").count() == 4
    k.reset()
    assert k.query(["Lisbon"], score_threshold=0.0) == []


def test_builtin_knowledge_storage_gets_the_mnemodb_rag_client(tmp_path):
    from crewai.knowledge.storage.knowledge_storage import KnowledgeStorage
    from crewai.rag.chromadb.config import ChromaDBConfig
    from crewai.rag.factory import create_client

    install(tmp_path / "root")
    ks = KnowledgeStorage(collection_name="research", embedder=spec())
    assert isinstance(ks._client, MnemoRagClient)
    ks.save(["The capital of Portugal is Lisbon.", "Rust is a systems language."])
    res = ks.search(["Portugal capital Lisbon"], limit=1, score_threshold=0.0)
    assert res[0]["content"] == "The capital of Portugal is Lisbon."
    ef = chroma_ef_class()()
    c = create_client(ChromaDBConfig(embedding_function=ef, limit=3, score_threshold=0.1, batch_size=7))
    assert isinstance(c, MnemoRagClient) and c.embedding_function is ef
    assert (c.default_limit, c.default_score_threshold, c.default_batch_size) == (3, 0.1, 7)
    assert Path(c.path) == (tmp_path / "root" / "rag").resolve()


def test_crew_knowledge_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "fake-key-never-used")
    from crewai import Agent, Crew, Task

    install(tmp_path / "root")
    a = Agent(role="Researcher", goal="g", backstory="b", llm="gpt-4o-mini")
    crew = Crew(
        agents=[a],
        tasks=[Task(description="d", expected_output="e", agent=a)],
        knowledge_sources=sources(),
        embedder=spec(),
    )
    assert isinstance(crew.knowledge.storage, MnemoKnowledgeStorage)
    res = crew.knowledge.query(["Japanese dish rice"], results_limit=1)
    assert res and "Sushi" in res[0]["content"]


async def test_knowledge_async(tmp_path):
    install(tmp_path / "root")
    ks = MnemoKnowledgeStorage(collection_name="async", embedder=spec(), path=str(tmp_path / "k"))
    await ks.asave(["The capital of Portugal is Lisbon.", "Ramen is a noodle soup."])
    res = await ks.asearch(["noodle soup"], limit=1, score_threshold=0.0)
    assert res[0]["content"] == "Ramen is a noodle soup."
    await ks.areset()
    assert await ks.asearch(["noodle soup"], score_threshold=0.0) == []


test_knowledge_async = pytest.mark.asyncio(test_knowledge_async)


def test_knowledge_dimension_change_says_what_to_do(tmp_path):
    a = MnemoKnowledgeStorage(collection_name="dims", embedder=spec(), path=str(tmp_path / "k"))
    a.save(["first"])
    b = MnemoKnowledgeStorage(
        collection_name="dims",
        embedder={"provider": "custom", "config": {"embedding_callable": chroma_ef_class(dims=32)}},
        path=str(tmp_path / "k"),
    )
    with pytest.raises(ValueError, match="crewai reset-memories -a"):
        b.save(["second"])
