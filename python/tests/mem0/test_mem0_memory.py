"""mem0's ``Memory`` on the ``"mnemodb"`` provider, end to end with the real mem0ai 2.2.1, the
fake embedder and the scripted LLM: raw adds, search (hybrid: vector + BM25), filters, get_all,
update, delete, history, delete_all, reset, expiry, one ``infer=True`` add, and ``AsyncMemory``."""

from __future__ import annotations

import asyncio
import logging

import pytest


def texts(results):
    return sorted(r["memory"] for r in results["results"])


def seed(m):
    m.add("Alice likes sushi and ramen", user_id="alice", infer=False, metadata={"topic": "food", "stars": 5})
    m.add("Alice plays chess on Sundays", user_id="alice", infer=False, metadata={"topic": "hobby", "stars": 3})
    m.add("Alice works at a bank in Paris", user_id="alice", infer=False, metadata={"topic": "work", "stars": 2})
    m.add("Bob likes sushi too", user_id="bob", infer=False, metadata={"topic": "food", "stars": 4})
    m.add(
        [{"role": "user", "content": "I adopted a cat named Miso"}, {"role": "assistant", "content": "Lovely name"}],
        user_id="alice",
        agent_id="helper",
        infer=False,
    )


def test_provider_is_registered_and_hybrid_search_is_on(make_memory, tmp_path, caplog):
    from mnemodb.integrations.mem0 import MnemoVectorStore

    with caplog.at_level(logging.WARNING, logger="mem0.memory.main"):
        m = make_memory({"provider": "mnemodb", "config": {"collection_name": "reg", "path": str(tmp_path / "db")}})
    assert isinstance(m.vector_store, MnemoVectorStore)
    assert not [r for r in caplog.records if "keyword search" in r.getMessage()]
    # mem0's chroma provider, for contrast, warns that hybrid scoring is off
    with caplog.at_level(logging.WARNING, logger="mem0.memory.main"):
        make_memory({"provider": "chroma", "config": {"collection_name": "reg", "path": str(tmp_path / "chroma")}})
    assert [r for r in caplog.records if "does not support keyword search" in r.getMessage()]


def test_raw_adds_get_and_get_all(mnemo_memory):
    m = mnemo_memory
    r = m.add("Alice likes sushi", user_id="alice", infer=False, metadata={"topic": "food"})
    (item,) = r["results"]
    assert (item["memory"], item["event"], item["role"]) == ("Alice likes sushi", "ADD", "user")
    got = m.get(item["id"])
    assert got["memory"] == "Alice likes sushi" and got["user_id"] == "alice"
    assert got["metadata"] == {"topic": "food"} and got["role"] == "user"
    seed(m)
    assert texts(m.get_all(filters={"user_id": "bob"})) == ["Bob likes sushi too"]
    assert len(m.get_all(filters={"user_id": "alice"})["results"]) == 6
    assert texts(m.get_all(filters={"user_id": "alice", "agent_id": "helper"})) == ["I adopted a cat named Miso", "Lovely name"]
    assert len(m.get_all(filters={"user_id": "alice"}, top_k=2)["results"]) == 2
    assert texts(m.get_all(filters={"user_id": "alice", "topic": {"in": ["hobby", "work"]}})) == [
        "Alice plays chess on Sundays",
        "Alice works at a bank in Paris",
    ]


def test_search_with_filters(mnemo_memory):
    m = mnemo_memory
    seed(m)
    hits = m.search("sushi", filters={"user_id": "alice"}, top_k=3)["results"]
    assert hits[0]["memory"] == "Alice likes sushi and ramen"
    assert all(h["user_id"] == "alice" for h in hits)
    assert texts(m.search("sushi", filters={"user_id": "bob"})) == ["Bob likes sushi too"]
    # mem0's advanced filters: operators, AND / OR / NOT, contains
    hits = m.search("alice", filters={"user_id": "alice", "stars": {"gte": 3}})
    assert texts(hits) == ["Alice likes sushi and ramen", "Alice plays chess on Sundays"]
    hits = m.search("alice", filters={"user_id": "alice", "OR": [{"topic": "work"}, {"stars": 5}]})
    assert texts(hits) == ["Alice likes sushi and ramen", "Alice works at a bank in Paris"]
    hits = m.search("alice", filters={"user_id": "alice", "NOT": [{"topic": "food"}], "stars": {"gt": 0}})
    assert texts(hits) == ["Alice plays chess on Sundays", "Alice works at a bank in Paris"]
    hits = m.search("alice", filters={"user_id": "alice", "topic": {"contains": "ob"}})
    assert texts(hits) == ["Alice plays chess on Sundays"]
    hits = m.search("cat", filters={"user_id": "alice", "role": {"ne": "assistant"}, "agent_id": "*"})
    assert texts(hits) == ["I adopted a cat named Miso"]


def test_hybrid_scores_use_bm25(mnemo_memory):
    m = mnemo_memory
    seed(m)
    hits = m.search("chess Sundays", filters={"user_id": "alice"}, explain=True)["results"]
    by_text = {h["memory"]: h["score_details"] for h in hits}
    chess = by_text["Alice plays chess on Sundays"]
    assert chess["bm25_score"] > 0 and chess["max_possible_score"] == 2.0
    assert all(d["bm25_score"] == 0 for t, d in by_text.items() if "chess" not in t)
    assert hits[0]["memory"] == "Alice plays chess on Sundays"
    # mem0's combination of the two signals
    assert hits[0]["score"] == pytest.approx((chess["semantic_score"] + chess["bm25_score"]) / 2)


def test_vectors_only_when_keyword_search_is_off(make_memory, tmp_path):
    m = make_memory(
        {"provider": "mnemodb", "config": {"collection_name": "vectors", "path": str(tmp_path / "v"), "keyword_search": False}}
    )
    seed(m)
    hits = m.search("chess Sundays", filters={"user_id": "alice"}, explain=True)["results"]
    assert hits and all(h["score_details"]["bm25_score"] == 0 and h["score_details"]["max_possible_score"] == 1.0 for h in hits)
    assert all(h["score"] == h["score_details"]["semantic_score"] for h in hits)


def test_update_delete_history_delete_all(mnemo_memory):
    m = mnemo_memory
    seed(m)
    mid = next(r["id"] for r in m.get_all(filters={"user_id": "alice"})["results"] if "chess" in r["memory"])
    m.update(mid, text="Alice plays go on Sundays", metadata={"topic": "games"})
    got = m.get(mid)
    assert got["memory"] == "Alice plays go on Sundays" and got["metadata"] == {"topic": "games", "stars": 3}
    assert m.search("go", filters={"user_id": "alice"})["results"][0]["id"] == mid
    assert [h["event"] for h in m.history(mid)] == ["ADD", "UPDATE"]
    m.update(mid, metadata={"stars": 1})
    assert m.get(mid)["metadata"] == {"topic": "games", "stars": 1}

    m.delete(mid)
    assert m.get(mid) is None
    assert [h["event"] for h in m.history(mid)] == ["ADD", "UPDATE", "UPDATE", "DELETE"]
    with pytest.raises(ValueError, match="not found"):
        m.delete(mid)

    m.delete_all(user_id="alice")
    assert m.get_all(filters={"user_id": "alice"})["results"] == []
    assert texts(m.get_all(filters={"user_id": "bob"})) == ["Bob likes sushi too"]


def test_delete_all_goes_past_one_batch(make_memory):
    import mnemodb

    # In memory: mem0 deletes one memory at a time, each a synced commit on disk.
    client = mnemodb.EphemeralClient()
    m = make_memory({"provider": "mnemodb", "config": {"collection_name": "batches", "client": client}}, history_db_path=":memory:")
    vs = m.vector_store
    n = 1203  # mem0 lists 1,000 at a time
    vs.insert(
        vectors=[m.embedding_model.embed(f"memory {i}") for i in range(n)],
        payloads=[{"data": f"memory {i}", "user_id": "many"} for i in range(n)],
        ids=[f"id-{i}" for i in range(n)],
    )
    m.delete_all(user_id="many")
    assert vs.col_info()["count"] == 0
    client.delete_collection("batches")


def test_expired_memories_are_hidden(mnemo_memory):
    m = mnemo_memory
    m.add("old news", user_id="u", infer=False, expiration_date="2000-01-01")
    m.add("fresh news", user_id="u", infer=False, expiration_date="2999-01-01")
    assert texts(m.get_all(filters={"user_id": "u"})) == ["fresh news"]
    assert texts(m.get_all(filters={"user_id": "u"}, show_expired=True)) == ["fresh news", "old news"]
    assert texts(m.search("news", filters={"user_id": "u"})) == ["fresh news"]
    old = next(r["id"] for r in m.get_all(filters={"user_id": "u"}, show_expired=True)["results"] if r["memory"] == "old news")
    m.update(old, expiration_date=None)  # a None payload value, kept by the store
    assert m.vector_store.get(old).payload["expiration_date"] is None
    assert texts(m.get_all(filters={"user_id": "u"})) == ["fresh news", "old news"]


def test_reset(mnemo_memory):
    m = mnemo_memory
    seed(m)
    m.reset()
    assert m.get_all(filters={"user_id": "alice"})["results"] == []
    m.add("after reset", user_id="alice", infer=False)
    assert texts(m.get_all(filters={"user_id": "alice"})) == ["after reset"]


def test_infer_add_with_a_scripted_llm(mnemo_memory):
    """The LLM path: mem0 searches the store for what the user already has, shows it to the LLM,
    and stores the facts the LLM returns, skipping those already stored (by hash)."""
    m = mnemo_memory
    llm = m.llm
    llm.replies = [{"memory": [{"text": "Name is Alice"}, {"text": "Likes sushi"}]}]
    r = m.add([{"role": "user", "content": "Hi, I'm Alice and I love sushi"}], user_id="alice")
    assert sorted(x["memory"] for x in r["results"]) == ["Likes sushi", "Name is Alice"]
    assert texts(m.get_all(filters={"user_id": "alice"})) == ["Likes sushi", "Name is Alice"]
    stored = m.vector_store.list(filters={"user_id": "alice"})[0]
    assert all(o.payload["text_lemmatized"] == o.payload["data"] for o in stored)  # no spaCy here

    llm.replies = [{"memory": [{"text": "Likes sushi"}, {"text": "Lives in Lyon"}]}]
    r = m.add([{"role": "user", "content": "Sushi again tonight, here in Lyon"}], user_id="alice")
    assert [x["memory"] for x in r["results"]] == ["Lives in Lyon"]
    prompt = llm.requests[-1][-1]["content"]
    assert "Likes sushi" in prompt and "Name is Alice" in prompt  # found by the store's search
    assert texts(m.get_all(filters={"user_id": "alice"})) == ["Likes sushi", "Lives in Lyon", "Name is Alice"]
    # another user's facts are not shown to the LLM
    llm.replies = [{"memory": []}]
    m.add([{"role": "user", "content": "hello"}], user_id="bob")
    assert "Likes sushi" not in llm.requests[-1][-1]["content"]
    assert m.get_all(filters={"user_id": "bob"})["results"] == []


def test_async_memory(tmp_path):
    from mem0 import AsyncMemory
    from mem0_fakes import memory_config

    async def run():
        m = AsyncMemory.from_config(
            memory_config(
                {"provider": "mnemodb", "config": {"collection_name": "async", "path": str(tmp_path / "db")}},
                str(tmp_path / "history.db"),
            )
        )
        await m.add("Alice likes sushi", user_id="alice", infer=False)
        await m.add("Alice plays chess", user_id="alice", infer=False)
        found = await m.search("sushi", filters={"user_id": "alice"}, explain=True)
        listed = await m.get_all(filters={"user_id": "alice"})
        return found, listed

    found, listed = asyncio.run(run())
    assert found["results"][0]["memory"] == "Alice likes sushi"
    assert found["results"][0]["score_details"]["bm25_score"] > 0
    assert texts(listed) == ["Alice likes sushi", "Alice plays chess"]
