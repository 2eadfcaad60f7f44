"""The same script of operations against the real chromadb 1.5.9 and mnemodb, compared:
ids and order exactly, distances to 1e-5 relative, metadata and documents exactly, errors by
class name and message. Run offline: every add passes embeddings, so chromadb never reaches
for its downloading default embedding function."""

from __future__ import annotations

import types
from typing import Any, Dict, List

import numpy as np
import pytest

import mnemodb
from parity import compare, run

DIM = 8
N = 60


def _vectors(seed: int, n: int = N, dim: int = DIM) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def _metadata(i: int) -> Any:
    if i % 7 == 3:
        return None
    md: Dict[str, Any] = {"source": f"s{i % 3}", "n": i, "half": i * 0.5, "even": i % 2 == 0}
    if i % 5 == 0:
        md["tags"] = ["red", "green"] if i % 10 == 0 else ["blue"]
    if i % 4 == 0:
        md["nums"] = [i, i + 1]
    return md


def _document(i: int) -> Any:
    if i % 9 == 4:
        return None
    fruit = ["apple", "banana", "cherry"][i % 3]
    return f"document {i} about {fruit} pie"


class Env:
    def __init__(self, mod: Any, path: str, settings: Any) -> None:
        self.mod = mod
        self.path = path
        self.settings = settings
        self.client = mod.PersistentClient(path=path, settings=settings)
        self.col: Any = None


def _open(env: Env) -> Any:
    env.client = env.mod.PersistentClient(path=env.path, settings=env.settings)
    return None


def script(space_form: str) -> List[Any]:
    """The steps for one collection; `space_form` picks the space and how it is given."""
    vecs = _vectors(1)
    queries = _vectors(2, n=3)
    ids = [f"id{i}" for i in range(N)]

    def create(env: Env) -> Any:
        if space_form == "default":
            env.col = env.client.create_collection("parity")
        elif space_form.startswith("meta:"):
            env.col = env.client.create_collection("parity", metadata={"hnsw:space": space_form[5:], "topic": "t"})
        else:
            env.col = env.client.create_collection("parity", configuration={"hnsw": {"space": space_form}})
        return [env.col.name, env.col.metadata, env.col.configuration_json["hnsw"]["space"]]

    s: List[Any] = [("create", create)]
    add = s.append
    add(("add", lambda e: e.col.add(ids=ids[:40], embeddings=vecs[:40], metadatas=[_metadata(i) for i in range(40)], documents=[_document(i) for i in range(40)])))
    add(("add_lists", lambda e: e.col.add(ids=ids[40:], embeddings=vecs[40:].tolist(), metadatas=[_metadata(i) for i in range(40, N)], documents=[_document(i) for i in range(40, N)])))
    add(("count", lambda e: e.col.count()))
    add(("add_existing_is_noop", lambda e: e.col.add(ids=["id1"], embeddings=[[9.0] * DIM], documents=["changed"])))
    add(("get_id1", lambda e: e.col.get(ids="id1", include=["documents", "metadatas", "embeddings"])))
    add(("get_all", lambda e: e.col.get()))
    add(("get_ids_order", lambda e: e.col.get(ids=["id5", "id2", "nope", "id3"])))
    add(("get_page", lambda e: e.col.get(limit=7, offset=5, include=["metadatas"])))
    add(("get_limit0", lambda e: e.col.get(limit=0)))
    add(("get_include_none", lambda e: e.col.get(ids=["id1", "id2"], include=[])))
    add(("get_uris", lambda e: e.col.get(ids=["id1"], include=["uris", "documents"])))
    wheres = [
        {"source": "s1"},
        {"n": {"$gt": 30}},
        {"n": {"$lte": 10.0}},
        {"half": 2},
        {"even": True},
        {"even": {"$ne": True}},
        {"source": {"$in": ["s0", "s2"]}},
        {"source": {"$nin": ["s0"]}},
        {"$and": [{"source": "s1"}, {"n": {"$gte": 20}}]},
        {"$or": [{"source": "s2"}, {"n": {"$lt": 5}}]},
        {"tags": {"$contains": "red"}},
        {"tags": {"$not_contains": "red"}},
        {"nums": {"$contains": 8}},
        {"n": {"$eq": 1}},
    ]
    for k, w in enumerate(wheres):
        add((f"get_where{k}", lambda e, w=w: e.col.get(where=w, include=["metadatas"])))
    wds = [
        {"$contains": "banana"},
        {"$not_contains": "apple"},
        {"$regex": "document 1[0-9] "},
        {"$and": [{"$contains": "pie"}, {"$not_contains": "cherry"}]},
        {"$or": [{"$contains": "ment 2"}, {"$contains": "ment 3"}]},
    ]
    for k, wd in enumerate(wds):
        add((f"get_wd{k}", lambda e, wd=wd: e.col.get(where_document=wd, include=["documents"])))
    add(("get_where_wd_page", lambda e: e.col.get(where={"source": "s0"}, where_document={"$contains": "apple"}, limit=3, offset=1)))
    add(("get_ids_and_where", lambda e: e.col.get(ids=["id0", "id1", "id2", "id3"], where={"even": True})))
    # queries
    add(("query", lambda e: e.col.query(query_embeddings=queries, n_results=5)))
    add(("query_one_list", lambda e: e.col.query(query_embeddings=queries[0].tolist(), n_results=3, include=["distances"])))
    add(("query_embeddings", lambda e: e.col.query(query_embeddings=queries[:1], n_results=2, include=["embeddings", "distances", "uris"])))
    add(("query_where", lambda e: e.col.query(query_embeddings=queries, n_results=4, where={"source": "s2"})))
    add(("query_wd", lambda e: e.col.query(query_embeddings=queries, n_results=4, where_document={"$contains": "cherry"})))
    add(("query_ids", lambda e: e.col.query(query_embeddings=queries, n_results=3, ids=["id1", "id2", "id3", "id4", "id9"])))
    add(("query_big_n", lambda e: e.col.query(query_embeddings=queries[:1], n_results=1000, include=["distances"])))
    add(("query_where_few", lambda e: e.col.query(query_embeddings=queries[:1], n_results=10, where={"n": {"$in": [1, 2, 3]}})))
    add(("query_self", lambda e: e.col.query(query_embeddings=vecs[7:8], n_results=1, include=["distances"])))
    # One vector as a list holding a 1-D array (how a single query is usually written), in
    # float32 (passed through as a view) and float64 (converted).
    add(("query_one_array", lambda e: e.col.query(query_embeddings=[queries[0]], n_results=3, include=["distances"])))
    add(("query_one_array_f64", lambda e: e.col.query(query_embeddings=[queries[1].astype(np.float64)], n_results=3, include=["distances", "embeddings"])))
    add(("query_two_arrays", lambda e: e.col.query(query_embeddings=[queries[0], queries[1]], n_results=2, include=["distances"])))
    # writes
    add(("upsert", lambda e: e.col.upsert(ids=["id1", "new1"], embeddings=vecs[50:52] + 1, metadatas=[{"source": "up", "n": None}, {"source": "new"}], documents=["upserted one", "new doc"])))
    add(("after_upsert", lambda e: e.col.get(ids=["id1", "new1"], include=["documents", "metadatas", "embeddings"])))
    add(("update", lambda e: e.col.update(ids=["id2", "id3", "missing"], metadatas=[{"n": 1000, "extra": "x"}, {"source": None, "n": None, "half": None, "even": None}, {"a": 1}])))
    add(("update_docs", lambda e: e.col.update(ids=["id5"], documents=["rewritten banana"], embeddings=[[0.25] * DIM])))
    add(("update_emb", lambda e: e.col.update(ids=["id6"], embeddings=[[0.5] * DIM])))
    add(("after_update", lambda e: e.col.get(ids=["id2", "id3", "id5", "id6"], include=["documents", "metadatas", "embeddings"])))
    add(("query_after_update", lambda e: e.col.query(query_embeddings=[[0.5] * DIM], n_results=3)))
    add(("delete_ids", lambda e: e.col.delete(ids=["id10", "id11", "nope"])))
    add(("delete_where", lambda e: e.col.delete(where={"source": "s1"}, limit=2)))
    add(("delete_wd", lambda e: e.col.delete(where_document={"$contains": "cherry"})))
    add(("count_after_delete", lambda e: e.col.count()))
    add(("get_after_delete", lambda e: e.col.get(include=[])))
    add(("peek", lambda e: e.col.peek(3)))
    add(("modify", lambda e: e.col.modify(metadata={"topic": "changed", "hnsw:space": None} if False else {"topic": "changed"})))
    add(("metadata_after_modify", lambda e: e.col.metadata))
    add(("reopen", _open))
    add(("reopened_get", lambda e: e.client.get_collection("parity").get(include=["metadatas", "documents", "embeddings"])))
    add(("reopened_query", lambda e: e.client.get_collection("parity").query(query_embeddings=queries, n_results=6)))
    add(("reopened_meta", lambda e: [e.client.get_collection("parity").metadata, e.client.count_collections()]))
    return s


def error_script() -> List[Any]:
    def col(e: Env) -> Any:
        return e.client.get_or_create_collection("errors")

    s: List[Any] = []
    add = s.append
    add(("setup", lambda e: col(e).add(ids=["a", "b"], embeddings=[[1.0, 2.0], [3.0, 4.0]], metadatas=[{"k": 1}, {"k": "x"}])))
    add(("dup_ids", lambda e: col(e).add(ids=["x", "x"], embeddings=[[1.0, 2.0], [1.0, 2.0]])))
    add(("dup_get", lambda e: col(e).get(ids=["a", "a"])))
    add(("empty_ids", lambda e: col(e).get(ids=[])))
    add(("empty_embeddings", lambda e: col(e).add(ids=["c"], embeddings=[])))
    add(("id_not_str", lambda e: col(e).add(ids=[1], embeddings=[[1.0, 2.0]])))
    add(("unequal", lambda e: col(e).add(ids=["c", "d"], embeddings=[[1.0, 2.0]])))
    add(("unequal_docs", lambda e: col(e).add(ids=["c"], embeddings=[[1.0, 2.0]], documents=["a", "b"])))
    add(("dim", lambda e: col(e).add(ids=["c"], embeddings=[[1.0, 2.0, 3.0]])))
    add(("dim_query", lambda e: col(e).query(query_embeddings=[[1.0, 2.0, 3.0]])))
    add(("nan", lambda e: col(e).add(ids=["c"], embeddings=[[float("nan"), 1.0]])))
    add(("empty_id", lambda e: col(e).add(ids=[""], embeddings=[[1.0, 1.0]])))
    add(("nested_md", lambda e: col(e).add(ids=["c"], embeddings=[[1.0, 2.0]], metadatas=[{"a": {"b": 1}}])))
    add(("empty_md", lambda e: col(e).add(ids=["c"], embeddings=[[1.0, 2.0]], metadatas=[{}])))
    add(("reserved_md", lambda e: col(e).add(ids=["c"], embeddings=[[1.0, 2.0]], metadatas=[{"chroma:document": "x"}])))
    add(("mixed_list_md", lambda e: col(e).add(ids=["c"], embeddings=[[1.0, 2.0]], metadatas=[{"a": [1, "b"]}])))
    add(("empty_list_md", lambda e: col(e).add(ids=["c"], embeddings=[[1.0, 2.0]], metadatas=[{"a": []}])))
    add(("doc_not_str", lambda e: col(e).add(ids=["c"], embeddings=[[1.0, 2.0]], documents=[5])))
    add(("none_md_value_add", lambda e: col(e).add(ids=["c"], embeddings=[[1.0, 2.0]], metadatas=[{"a": None}])))
    add(("n_results_0", lambda e: col(e).query(query_embeddings=[[1.0, 2.0]], n_results=0)))
    add(("n_results_str", lambda e: col(e).query(query_embeddings=[[1.0, 2.0]], n_results="3")))
    add(("bad_include", lambda e: col(e).get(include=["foo"])))
    add(("distances_in_get", lambda e: col(e).get(include=["distances"])))
    add(("where_two_keys", lambda e: col(e).get(where={"a": 1, "b": 2})))
    add(("where_bad_op", lambda e: col(e).get(where={"a": {"$foo": 1}})))
    add(("where_gt_str", lambda e: col(e).get(where={"a": {"$gt": "x"}})))
    add(("where_and_one", lambda e: col(e).get(where={"$and": [{"a": 1}]})))
    add(("where_in_empty", lambda e: col(e).get(where={"a": {"$in": []}})))
    add(("wd_bad_op", lambda e: col(e).get(where_document={"$eq": "x"})))
    add(("wd_empty_str", lambda e: col(e).get(where_document={"$contains": ""})))
    add(("delete_nothing", lambda e: col(e).delete()))
    add(("delete_limit_ids", lambda e: col(e).delete(ids=["a"], limit=1)))
    add(("delete_limit_neg", lambda e: col(e).delete(where={"k": 1}, limit=-1)))
    add(("query_missing_ids", lambda e: col(e).query(query_embeddings=[[1.0, 2.0]], ids=["zz"])))
    add(("query_empty_ids", lambda e: col(e).query(query_embeddings=[[1.0, 2.0]], ids=[], n_results=1)))
    add(("query_one_array_bad_dtype", lambda e: col(e).query(query_embeddings=[np.array(["1", "2"])])))
    add(("query_one_array_0d", lambda e: col(e).query(query_embeddings=[np.float32(1.0)])))
    add(("query_one_array_empty", lambda e: col(e).query(query_embeddings=[np.array([], dtype=np.float32)])))
    add(("query_one_array_dim", lambda e: col(e).query(query_embeddings=[np.array([1.0, 2.0, 3.0], dtype=np.float32)], include=["distances"])))
    add(("get_missing_collection", lambda e: e.client.get_collection("nope")))
    add(("delete_missing_collection", lambda e: e.client.delete_collection("nope")))
    add(("create_existing", lambda e: e.client.create_collection("errors")))
    add(("bad_name_short", lambda e: e.client.create_collection("a")))
    add(("bad_name_dots", lambda e: e.client.create_collection("ab..cd")))
    add(("bad_name_ip", lambda e: e.client.create_collection("192.168.1.1")))
    add(("bad_space", lambda e: e.client.create_collection("sp", configuration={"hnsw": {"space": "dot"}})))
    add(("modify_space", lambda e: col(e).modify(metadata={"hnsw:space": "ip"})))
    add(("reset_disabled", lambda e: e.client.reset()))
    add(("get_or_create_ignores", lambda e: e.client.get_or_create_collection("errors", metadata={"x": 1}).metadata))
    add(("stale_handle", lambda e: (e.client.get_or_create_collection("stale").name, e.client.delete_collection("stale"))))
    add(("list", lambda e: sorted(c.name for c in e.client.list_collections())))
    add(("rename", lambda e: col(e).modify(name="errors2")))
    add(("renamed", lambda e: [e.client.get_collection("errors2").count(), sorted(c.name for c in e.client.list_collections())]))
    add(("create_empty_md", lambda e: e.client.create_collection("emptymd", metadata={})))
    add(("create_nested_md", lambda e: e.client.create_collection("nestedmd", metadata={"a": {"b": 1}})))
    add(("rename_to_existing", lambda e: (e.client.get_or_create_collection("other"), e.client.get_collection("errors2").modify(name="other"))))
    add(("delete_where_count", lambda e: e.client.get_collection("errors2").delete(where={"k": 1})))
    add(("delete_ids_and_where_count", lambda e: e.client.get_collection("errors2").delete(ids=["b", "zz"], where={"k": "x"})))
    add(("after_deletes", lambda e: e.client.get_collection("errors2").get()))
    add(("list_paged", lambda e: [len(e.client.list_collections(limit=1)), len(e.client.list_collections(offset=1)), e.client.count_collections()]))
    add(("ragged", lambda e: e.client.get_collection("errors2").add(ids=["r1", "r2"], embeddings=[[1.0, 2.0], [1.0, 2.0, 3.0]])))
    add(("uris_add", lambda e: e.client.get_collection("errors2").add(ids=["u1", "u2"], embeddings=[[5.0, 5.0], [6.0, 6.0]], uris=["file:///a", None], metadatas=[None, {"m": 1}])))
    add(("uris_get", lambda e: e.client.get_collection("errors2").get(ids=["u1", "u2"], include=["uris", "metadatas", "documents"])))
    add(("uris_query", lambda e: e.client.get_collection("errors2").query(query_embeddings=[[5.0, 5.0]], n_results=2, include=["uris", "metadatas"])))
    add(("int_float_types", lambda e: e.client.get_collection("errors2").get(ids=["a"], include=["metadatas"])))
    return s


# Deliberate, documented divergences: mnemodb's message says more than chromadb's (the record
# or the ids at fault), or comes from a different parser. Same class either way.
DIVERGENCES = {
    "nan": "prefix",  # mnemodb appends "(record N)"
    "query_missing_ids": "prefix",  # mnemodb appends the missing ids
    "bad_space": "class",  # chromadb's serde message carries "at line 1 column 24"
    "rename_to_existing": "class",  # chromadb shows SQLite's UNIQUE constraint text
}


def _compare(ref: List[Any], ours: List[Any]) -> List[str]:
    kept_ref, kept_ours = [], []
    diffs = []
    for r, o in zip(ref, ours):
        rule = DIVERGENCES.get(r[0])
        if rule and r[1] == o[1] == "error" and r[2][0] == o[2][0]:
            if rule == "class" or o[2][1].startswith(r[2][1]):
                continue
            diffs.append(f"{r[0]}: {o[2][1]!r} does not extend {r[2][1]!r}")
            continue
        kept_ref.append(r)
        kept_ours.append(o)
    return diffs + compare(kept_ref, kept_ours)


def _envs(chromadb: Any, tmp_path: Any, sub: str) -> List[Env]:
    chroma_settings = chromadb.config.Settings(anonymized_telemetry=False, allow_reset=False)
    chromadb.api.client.SharedSystemClient.clear_system_cache()
    return [
        Env(chromadb, str(tmp_path / f"chroma-{sub}"), chroma_settings),
        Env(mnemodb, str(tmp_path / f"mnemo-{sub}"), mnemodb.Settings()),
    ]


def _reopen_chroma(chromadb: Any) -> None:
    chromadb.api.client.SharedSystemClient.clear_system_cache()


@pytest.mark.parametrize("space_form", ["default", "cosine", "ip", "l2", "meta:cosine", "meta:ip"])
def test_parity_script(chromadb: Any, tmp_path: Any, space_form: str) -> None:
    steps = script(space_form)
    # chromadb caches one System per path: reopening needs its cache cleared.
    steps = [(n, (lambda e, f=f, n=n: (_reopen_chroma(chromadb) if n == "reopen" and e.mod is chromadb else None, f(e))[1])) for n, f in steps]
    ref, ours = (run(steps, env) for env in _envs(chromadb, tmp_path, space_form.replace(":", "-")))
    diffs = _compare(ref, ours)
    assert not diffs, "\n".join(diffs)


def test_parity_errors(chromadb: Any, tmp_path: Any) -> None:
    ref, ours = (run(error_script(), env) for env in _envs(chromadb, tmp_path, "errors"))
    diffs = _compare(ref, ours)
    assert not diffs, "\n".join(diffs)


def test_errors_subclass_chromadb_classes(chromadb: Any) -> None:
    client = mnemodb.EphemeralClient()
    with pytest.raises(chromadb.errors.NotFoundError):
        client.get_collection("does-not-exist")
    with pytest.raises(mnemodb.errors.NotFoundError):
        client.get_collection("does-not-exist")
    assert issubclass(mnemodb.errors.InvalidArgumentError, chromadb.errors.InvalidArgumentError)
    assert issubclass(mnemodb.errors.DuplicateIDError, chromadb.errors.ChromaError)


def test_chromadb_embedding_function_works_unchanged(chromadb: Any, tmp_path: Any) -> None:
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

    class Tiny(EmbeddingFunction[Documents]):
        def __init__(self) -> None:
            pass

        def __call__(self, input: Documents) -> Embeddings:
            return [np.array([len(t), t.count("a"), t.count("e")], dtype=np.float32) for t in input]

        @staticmethod
        def name() -> str:
            return "tiny-test"

        def get_config(self) -> Dict[str, Any]:
            return {}

        @staticmethod
        def build_from_config(config: Dict[str, Any]) -> "Tiny":
            return Tiny()

    results = []
    for mod, sub in ((chromadb, "c"), (mnemodb, "m")):
        if mod is chromadb:
            chromadb.api.client.SharedSystemClient.clear_system_cache()
        client = mod.PersistentClient(path=str(tmp_path / sub))
        c = client.create_collection("efs", embedding_function=Tiny())
        c.add(ids=["1", "2", "3"], documents=["banana", "apple", "cheese"])
        c.upsert(ids=["4"], documents=["eee"])
        results.append(types.SimpleNamespace(
            q=c.query(query_texts=["bananas"], n_results=2),
            g=c.get(include=["embeddings", "documents"]),
        ))
    from parity import normalize, same

    assert not same(normalize(results[0].q), normalize(results[1].q))
    assert not same(normalize(results[0].g), normalize(results[1].g))
