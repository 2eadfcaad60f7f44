"""mem0's own ``"chroma"`` provider takes a mnemodb client (the issue's scenario): its config's
pydantic check ``isinstance(client, chromadb.api.client.Client)`` passes, whichever of
chromadb and mnemodb is imported first, and mem0 then answers on mnemodb as it does on the real
chromadb 1.5.9 (the same scenario run on both, side by side)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def seed(m):
    m.add("Alice likes sushi and ramen", user_id="alice", infer=False, metadata={"topic": "food", "stars": 5})
    m.add("Alice plays chess on Sundays", user_id="alice", infer=False, metadata={"topic": "hobby", "stars": 3})
    m.add("Alice works at a bank in Paris", user_id="alice", infer=False, metadata={"topic": "work", "stars": 2})
    m.add("Bob likes sushi too", user_id="bob", infer=False, metadata={"topic": "food", "stars": 4})
    m.add([{"role": "user", "content": "I adopted a cat named Miso"}], user_id="alice", agent_id="helper", infer=False)


def _hits(r):
    """The hits, best first. Hits of equal score are tied, and their order is not the same on
    every machine: the fake embedder puts texts that share no word with the query at exactly
    the same distance, which float32 rounds to the last bit by the order of its additions
    (on an AVX2-only CPU chromadb's hnswlib gives one of three such texts 1.9999999 where
    mnemodb gives 2.0; on an AVX-512 CPU the two orders agreed). So the order is checked to be
    by score, and each run of equal scores is compared as a group."""
    hits = [(h["memory"], round(h["score"], 5), h.get("metadata"), h.get("user_id"), h.get("agent_id")) for h in r["results"]]
    scores = [h[1] for h in hits]
    assert scores == sorted(scores, reverse=True), f"hits not best first: {scores}"
    return sorted(hits, key=lambda h: (-h[1], h[0]))


def _listed(r):
    return [(h["memory"], h.get("metadata"), h.get("user_id"), h.get("role")) for h in r["results"]]


def scenario(m):
    """What a mem0 user sees, without the random ids and timestamps."""
    seed(m)
    out = {
        "search": _hits(m.search("sushi", filters={"user_id": "alice"})),
        "search_bob": _hits(m.search("sushi", filters={"user_id": "bob"})),
        "search_ops": _hits(m.search("alice", filters={"user_id": "alice", "stars": {"gte": 3}})),
        "search_or": _hits(m.search("alice", filters={"user_id": "alice", "OR": [{"topic": "work"}, {"stars": 5}]})),
        "search_agent": _hits(m.search("cat", filters={"user_id": "alice", "agent_id": "helper"})),
        "get_all": _listed(m.get_all(filters={"user_id": "alice"})),
        "get_all_limited": _listed(m.get_all(filters={"user_id": "alice"}, top_k=2)),
    }
    ids = {r["memory"]: r["id"] for r in m.get_all(filters={"user_id": "alice"})["results"]}
    chess = ids["Alice plays chess on Sundays"]
    m.update(chess, text="Alice plays go on Sundays", metadata={"topic": "games"})
    got = m.get(chess)
    out["updated"] = (got["memory"], got["metadata"], got["user_id"])
    out["search_updated"] = _hits(m.search("go on Sundays", filters={"user_id": "alice"}))
    m.delete(ids["Alice works at a bank in Paris"])
    out["after_delete"] = _listed(m.get_all(filters={"user_id": "alice"}))
    out["history"] = [(h["event"], h["old_memory"], h["new_memory"]) for h in m.history(chess)]
    m.delete_all(user_id="alice")
    out["after_delete_all"] = _listed(m.get_all(filters={"user_id": "alice"}))
    out["bob_left"] = _listed(m.get_all(filters={"user_id": "bob"}))
    return out


def test_mem0_on_mnemodb_answers_as_on_chromadb(make_memory, chromadb):
    import mnemodb
    from mem0.vector_stores.chroma import ChromaDB

    name = f"mem0-{uuid.uuid4().hex[:8]}"
    mine = mnemodb.EphemeralClient()
    theirs = chromadb.EphemeralClient()
    try:
        on_mnemodb = make_memory({"provider": "chroma", "config": {"collection_name": name, "client": mine}})
        on_chromadb = make_memory({"provider": "chroma", "config": {"collection_name": name, "client": theirs}})
        assert type(on_mnemodb.vector_store) is ChromaDB and on_mnemodb.vector_store.client is mine
        assert type(on_mnemodb.vector_store.collection) is mnemodb.Collection
        got, want = scenario(on_mnemodb), scenario(on_chromadb)
        assert got == want
        assert got["search"][0][0] == "Alice likes sushi and ramen" and got["after_delete_all"] == []
    finally:
        mine.delete_collection(name)
        theirs.delete_collection(name)


def test_the_config_check_is_real(chromadb, tmp_path):
    """The pydantic check that used to refuse mnemodb's client still refuses other objects."""
    from mem0.configs.vector_stores.chroma import ChromaDbConfig
    from pydantic import ValidationError

    import mnemodb

    client = mnemodb.EphemeralClient()
    # mem0's VectorStoreConfig always adds a path; the client takes precedence over it
    assert ChromaDbConfig(client=client, path=str(tmp_path)).client is client
    with pytest.raises(ValidationError, match="Input should be an instance of Client"):
        ChromaDbConfig(client=client.get_or_create_collection("not-a-client"), path=str(tmp_path))


CHILD = """
import json, os, socket, sys, tempfile
os.environ.update(MEM0_TELEMETRY="False", ANONYMIZED_TELEMETRY="False", MEM0_DIR=tempfile.mkdtemp())
_real = socket.socket.connect
def _connect(self, address):
    if self.family == socket.AF_UNIX:
        return _real(self, address)
    raise OSError("network access is blocked in mnemodb's tests")
def _refuse(*a, **k):
    raise OSError("network access is blocked in mnemodb's tests")
socket.socket.connect = _connect
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
sys.path.insert(0, {here!r})
{imports}
from mem0 import Memory
from mem0_fakes import install_fakes, memory_config
install_fakes()
d = tempfile.mkdtemp()
m = Memory.from_config(memory_config({{"provider": "chroma", "config": {{"collection_name": "mem", "client": client}}}}, d + "/h.db"))
m.add("Alice likes sushi", user_id="alice", infer=False)
m.add("Bob likes tennis", user_id="bob", infer=False)
print(json.dumps({{
    "chromadb_before_config": chromadb_before,
    "store_client": type(m.vector_store.client).__module__,
    "search": [h["memory"] for h in m.search("sushi", filters={{"user_id": "alice"}})["results"]],
    "in_mnemodb": client.get_collection("mem").count(),
}}))
"""

ORDERS = {
    # mem0 imports chromadb while validating the config, after the client exists
    "client_before_chromadb": (
        "import mnemodb\nclient = mnemodb.PersistentClient(path=tempfile.mkdtemp())\n"
        "chromadb_before = 'chromadb' in sys.modules\n"
    ),
    "chromadb_and_mem0_first": (
        "import chromadb, mem0\nchromadb_before = 'chromadb' in sys.modules\n"
        "import mnemodb\nclient = mnemodb.PersistentClient(path=tempfile.mkdtemp())\n"
    ),
}


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_import_orders(order, chromadb):
    code = CHILD.format(here=HERE, imports=ORDERS[order])
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {
        "chromadb_before_config": order == "chromadb_and_mem0_first",
        "store_client": "mnemodb.api",
        "search": ["Alice likes sushi"],
        "in_mnemodb": 2,
    }
