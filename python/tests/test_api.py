"""The client and collection surface: numpy in and out, embedding functions, settings,
persistence, and what the parity script does not reach."""

from __future__ import annotations

import uuid
from typing import Any, List

import numpy as np
import pytest

import mnemodb
from mnemodb import _native, _validate
from mnemodb.embedding_functions import HashEmbeddingFunction
from mnemodb.errors import AuthorizationError, InvalidArgumentError, NotFoundError


@pytest.fixture()
def client(tmp_path: Any) -> Any:
    return mnemodb.PersistentClient(path=str(tmp_path / "db"))


def test_float32_c_contiguous_reaches_rust_without_copy() -> None:
    arr = np.random.default_rng(0).normal(size=(1000, 64)).astype(np.float32)
    m = _validate.embeddings_matrix(arr, "add")
    assert m is arr
    assert _native.buffer_address(m) == arr.ctypes.data
    rows = arr[100:200]  # a C-contiguous view: still no copy
    assert _native.buffer_address(_validate.embeddings_matrix(rows, "add")) == rows.ctypes.data
    one = arr[5]  # a single embedding, 1-D
    assert _native.buffer_address(_validate.embeddings_matrix(one, "add")) == one.ctypes.data
    # ... and as a query usually passes it: a list holding that one row.
    as_list = _validate.embeddings_matrix([one], "query")
    assert as_list.shape == (1, 64)
    assert _native.buffer_address(as_list) == one.ctypes.data


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a.astype(np.float64),
        lambda a: np.asfortranarray(a),
        lambda a: np.repeat(a, 2, axis=1)[:, ::2],
        lambda a: a.astype(np.float16),
        lambda a: (a * 100).astype(np.int64),
        lambda a: [row for row in a],
        lambda a: a.tolist(),
    ],
    ids=["float64", "fortran", "strided", "float16", "int64", "list-of-arrays", "lists"],
)
def test_other_inputs_are_converted(client: Any, make: Any) -> None:
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    given = make(base)
    m = _validate.embeddings_matrix(given, "add")
    assert m.dtype == np.float32 and m.flags.c_contiguous and m.shape == (3, 4)
    np.testing.assert_allclose(m, np.asarray(given, dtype=np.float32))
    col = client.create_collection("conv")
    col.add(ids=["a", "b", "c"], embeddings=given)
    got = col.get(include=["embeddings"])["embeddings"]
    assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == (3, 4)
    np.testing.assert_allclose(got, np.asarray(given, dtype=np.float32))


@pytest.mark.parametrize(
    "row",
    [
        np.arange(4, dtype=np.float32),
        np.arange(4, dtype=np.float64),
        np.arange(4, dtype=np.int64),
        np.arange(8, dtype=np.float32)[::2],  # strided
        np.arange(8, dtype=np.float16).reshape(2, 4)[:, 1],  # a column: strided, float16
    ],
    ids=["float32", "float64", "int64", "strided", "float16-column"],
)
def test_one_array_in_a_list_is_one_row(client: Any, row: Any) -> None:
    # The single-vector shortcut gives what the general path (one copy of all rows) gives.
    m = _validate.embeddings_matrix([row], "query")
    assert m.dtype == np.float32 and m.flags.c_contiguous and m.shape == (1, len(row))
    np.testing.assert_array_equal(m, np.array([row], dtype=np.float32))
    col = client.create_collection("one")
    col.add(ids=["a", "b"], embeddings=np.stack([np.zeros(len(row)), np.asarray(row, dtype=np.float64)]))
    r = col.query(query_embeddings=[row], n_results=2, include=["distances"])
    assert r["ids"] == [["b", "a"]] and r["distances"] is not None and r["distances"][0][0] == 0.0


def test_bool_embeddings_rejected(client: Any) -> None:
    col = client.create_collection("bools")
    with pytest.raises(ValueError, match="Expected each value in the embedding to be a int or float"):
        col.add(ids=["a"], embeddings=np.array([[True, False]]))


def test_query_results_shapes(client: Any) -> None:
    col = client.create_collection("shapes", configuration={"hnsw": {"space": "cosine"}})
    vecs = np.random.default_rng(1).normal(size=(20, 5)).astype(np.float32)
    col.add(ids=[str(i) for i in range(20)], embeddings=vecs)
    r = col.query(query_embeddings=vecs[:2], n_results=3, include=["embeddings", "distances"])
    assert [len(x) for x in r["ids"]] == [3, 3]
    assert r["ids"][0][0] == "0" and r["ids"][1][0] == "1"
    assert isinstance(r["embeddings"], list) and r["embeddings"][0].shape == (3, 5)
    assert all(isinstance(d, float) for d in r["distances"][0])
    assert r["distances"][0] == sorted(r["distances"][0])
    assert abs(r["distances"][0][0]) < 1e-6
    assert r["documents"] is None and r["metadatas"] is None and r["uris"] is None
    assert r["included"] == ["embeddings", "distances"]


def test_metadata_types_round_trip(client: Any) -> None:
    col = client.create_collection("types")
    md = {"i": 1, "f": 1.0, "b": True, "s": "x", "li": [1, 2], "lf": [0.5], "lb": [False], "ls": ["a"], "big": 2**63}
    col.add(ids=["a"], embeddings=[[1.0]], metadatas=[md])
    got = col.get(include=["metadatas"])["metadatas"][0]
    assert got == {**md, "big": float(2**63)}
    assert type(got["i"]) is int and type(got["f"]) is float and type(got["b"]) is bool
    assert type(got["big"]) is float


def test_embedding_function_used_for_documents_and_query_texts(client: Any) -> None:
    ef = HashEmbeddingFunction(dim=32)
    col = client.create_collection("efs", embedding_function=ef, configuration={"hnsw": {"space": "cosine"}})
    col.add(ids=["1", "2", "3"], documents=["the quick brown fox", "lorem ipsum dolor", "a quick brown dog"])
    r = col.query(query_texts=["quick brown fox"], n_results=2)
    assert r["ids"][0][0] == "1"
    col.upsert(ids=["4"], documents=["quick brown foxes"])
    col.update(ids=["2"], documents=["the quick brown fox too"])
    assert col.count() == 4
    # a collection fetched again without the function rebuilds it from its configuration
    again = client.get_collection("efs")
    assert again.query(query_texts=["fox"], n_results=1)["ids"] == col.query(query_embeddings=ef(["fox"]), n_results=1)["ids"]
    assert type(again.embedding_function) is HashEmbeddingFunction and again.embedding_function is not ef


def test_no_embedding_function_error_names_the_fix(client: Any) -> None:
    col = client.create_collection("noef", embedding_function=None)
    with pytest.raises(ValueError) as e:
        col.add(ids=["a"], documents=["text"])
    msg = str(e.value)
    assert msg.startswith("You must provide an embedding function to compute embeddings.")
    assert "embedding_function=" in msg and "HashEmbeddingFunction" in msg and msg.endswith(" in add.")


def test_embedding_function_signature_checked(client: Any) -> None:
    class Bad:
        def __call__(self, texts: List[str]) -> Any:
            return [[1.0] for _ in texts]

    with pytest.raises(ValueError, match="Expected EmbeddingFunction.__call__ to have the following signature"):
        client.create_collection("badef", embedding_function=Bad())


def test_reset_guarded_by_allow_reset(tmp_path: Any) -> None:
    c = mnemodb.PersistentClient(path=str(tmp_path / "r"))
    c.create_collection("one")
    with pytest.raises(AuthorizationError, match="Reset is disabled by config"):
        c.reset()
    mnemodb.Client.clear_system_cache() if hasattr(mnemodb.Client, "clear_system_cache") else None
    from mnemodb.api import Client as _Client

    _Client.clear_system_cache()
    c2 = mnemodb.PersistentClient(path=str(tmp_path / "r"), settings=mnemodb.Settings(allow_reset=True))
    assert c2.count_collections() == 1
    assert c2.reset() is True
    assert c2.count_collections() == 0


def test_clients_and_settings(tmp_path: Any) -> None:
    e1, e2 = mnemodb.EphemeralClient(), mnemodb.Client()
    name = f"shared-{uuid.uuid4().hex[:8]}"
    e1.create_collection(name)
    assert name in [c.name for c in e2.list_collections()]  # ephemeral clients share one database
    e1.delete_collection(name)
    with pytest.raises(NotFoundError, match=r"Tenant \[nope\] not found"):
        mnemodb.EphemeralClient(tenant="nope")
    with pytest.raises(NotFoundError, match=r"Database \[nope\] not found"):
        mnemodb.EphemeralClient(database="nope")
    assert isinstance(e1.heartbeat(), int) and e1.get_version() == mnemodb.__version__
    with mnemodb.PersistentClient(path=str(tmp_path / "ctx")) as c:
        c.create_collection("inside")
    c.close()
    c.close()


def test_collection_attributes_and_modify(client: Any) -> None:
    col = client.create_collection("attrs", metadata={"hnsw:space": "ip", "topic": "a"})
    assert isinstance(col.id, uuid.UUID) and col.name == "attrs"
    assert col.metadata == {"hnsw:space": "ip", "topic": "a"}
    assert col.configuration["hnsw"]["space"] == "ip"
    col.modify(name="attrs2", metadata={"topic": "b"})
    assert col.name == "attrs2" and col.metadata == {"topic": "b"}
    col.modify(configuration={"hnsw": {"ef_search": 50}})
    assert col.configuration["hnsw"]["ef_search"] == 50
    assert client.get_collection("attrs2").configuration["hnsw"]["ef_search"] == 50
    with pytest.raises(InvalidArgumentError):
        col.modify(configuration={"hnsw": {"space": "l2"}})


def test_persistence_across_reopen(tmp_path: Any) -> None:
    from mnemodb.api import Client as _Client

    path = str(tmp_path / "persist")
    c = mnemodb.PersistentClient(path=path)
    col = c.create_collection("ppp", configuration={"hnsw": {"space": "cosine"}})
    vecs = np.random.default_rng(3).normal(size=(300, 16)).astype(np.float32)
    col.add(ids=[f"r{i}" for i in range(300)], embeddings=vecs, metadatas=[{"i": i} for i in range(300)])
    col.delete(ids=["r0"])
    before = col.query(query_embeddings=vecs[:5], n_results=7, where={"i": {"$gt": 10}})
    del c, col
    _Client.clear_system_cache()
    c = mnemodb.PersistentClient(path=path)
    col = c.get_collection("ppp")
    assert col.count() == 299
    assert col.configuration["hnsw"]["space"] == "cosine"
    after = col.query(query_embeddings=vecs[:5], n_results=7, where={"i": {"$gt": 10}})
    assert after["ids"] == before["ids"]
    np.testing.assert_allclose(np.array(after["distances"]), np.array(before["distances"]), rtol=1e-6)


def test_stale_handle_after_delete(client: Any) -> None:
    col = client.create_collection("stale")
    client.delete_collection("stale")
    with pytest.raises(NotFoundError, match="does not exist"):
        col.count()


def test_utils_embedding_functions_mirror_chromadb() -> None:
    from mnemodb.utils import embedding_functions as efs

    assert efs.HashEmbeddingFunction is HashEmbeddingFunction
    assert efs.DefaultEmbeddingFunction.name() == "default"  # mnemodb's, not chromadb's
    assert efs.DefaultEmbeddingFunction.__module__ == "mnemodb.default_ef"
    vectors = HashEmbeddingFunction(dim=16)(["same", "same", "other"])
    assert np.allclose(vectors[0], vectors[1]) and not np.allclose(vectors[0], vectors[2])
    assert abs(float(np.linalg.norm(vectors[0])) - 1.0) < 1e-6


def test_update_of_missing_id_is_forgotten(client: Any) -> None:
    """A deliberate divergence from chromadb 1.5.9, which gets this wrong: an update naming a
    missing id is ignored for good (chromadb's documented semantics). chromadb keeps that
    update's vector and, after a later no-op add, shows it on a record added with the id."""
    col = client.create_collection("missing-update")
    col.add(ids=["id0"], embeddings=[[0.0, 0.0]], documents=["zero"])
    col.update(ids=["id0", "id8"], embeddings=[[1.0, 1.0], [8.0, 8.0]], documents=["one", "eight"])
    col.add(ids=["id8"], embeddings=[[2.0, 2.0]], documents=["two"])
    col.add(ids=["id0"], embeddings=[[3.0, 3.0]], documents=["three"])  # exists: a no-op
    got = col.get(include=["embeddings", "documents"])
    assert got["ids"] == ["id0", "id8"]
    assert got["documents"] == ["one", "two"]
    np.testing.assert_array_equal(got["embeddings"], [[1.0, 1.0], [2.0, 2.0]])
