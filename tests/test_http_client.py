"""`mnemodb serve` driven by the real `chromadb.HttpClient` (chromadb==1.5.9).

The same scenario runs on chromadb's own in-process client (`EphemeralClient`, the reference)
and on `HttpClient` talking to `mnemodb serve` on a free loopback port, and the two transcripts
must agree. Then error cases, tenants and databases, auth, limits.

Run (from the repository root, after `cargo build -p mnemodb-server`):

    python3 -m venv /tmp/httpvenv && /tmp/httpvenv/bin/pip install -r tests/requirements-http.txt
    /tmp/httpvenv/bin/python -m pytest -q tests/test_http_client.py

`MNEMODB_BIN` names the binary to test (default: target/debug/mnemodb, else target/release;
see `mnemodb_server.py`).
Nothing here downloads anything: every call passes embeddings and no collection gets
chromadb's default embedding function; conftest.py makes every non-loopback connection fail.
"""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path
from typing import Any, Callable, Iterator

os.environ["ANONYMIZED_TELEMETRY"] = "False"

import httpx  # noqa: E402  (chromadb's own HTTP library)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import chromadb  # noqa: E402
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings  # noqa: E402
from chromadb.config import Settings  # noqa: E402
from chromadb.utils.embedding_functions import register_embedding_function  # noqa: E402
from chromadb.errors import (  # noqa: E402
    AuthorizationError,
    ChromaError,
    DuplicateIDError,
    InvalidArgumentError,
    NotFoundError,
    UniqueConstraintError,
)
from mnemodb_server import Server  # noqa: E402

TOKEN = "test-token-0123456789"


# --------------------------------------------------------------------------------------------
# Network: loopback only (the `loopback_only` fixture of conftest.py applies to every test)


def test_network_is_blocked() -> None:
    s = socket.socket()
    with pytest.raises(ConnectionRefusedError):
        s.connect(("93.184.216.34", 80))
    s.close()


# --------------------------------------------------------------------------------------------
# The server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("data"), "--allow-reset")
    yield s
    assert s.stop() == 0, "mnemodb serve did not exit cleanly on SIGTERM"


def http_client(server: Server, **kw: Any) -> chromadb.api.ClientAPI:
    settings = kw.pop("settings", None) or Settings(anonymized_telemetry=False)
    return chromadb.HttpClient(host=server.host, port=server.port, settings=settings, **kw)


@pytest.fixture()
def client(server: Server) -> chromadb.api.ClientAPI:
    c = http_client(server)
    c.reset()
    return c


# --------------------------------------------------------------------------------------------
# The parity scenario


def _norm(v: Any) -> Any:
    """Results as plain, comparable values (numpy arrays to lists, floats rounded)."""
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items() if k != "included"}
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    return v


def _record(log: list, what: str, f: Callable[[], Any]) -> None:
    try:
        log.append((what, "ok", _norm(f())))
    except Exception as e:  # the class is what matters; messages may differ by origin
        log.append((what, "error", type(e).__name__))


def scenario(client: chromadb.api.ClientAPI) -> list:
    """create / add / get / query / update / upsert / delete / count / modify / list / delete
    collection, with filters. Returns the transcript."""
    log: list = []
    col = client.create_collection(
        "parity", metadata={"topic": "fruit"}, embedding_function=None
    )
    cos = client.create_collection(
        "parity_cos", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
    )
    ids = ["a", "b", "c", "d", "e", "f"]
    emb = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0],
           [1.0, 1.0, 0.0], [0.5, 0.5, 0.5], [2.0, -1.0, 0.25]]
    docs = ["apple pie", "banana bread", "cherry tart", "date cake", "elderberry jam", None]
    metas = [
        {"kind": "pie", "n": 1, "price": 2.5, "fresh": True, "tags": ["x", "y"]},
        {"kind": "bread", "n": 2, "price": 1.25, "fresh": False},
        {"kind": "tart", "n": 3, "price": 4.0, "tags": ["y"]},
        {"kind": "cake", "n": 4, "ratings": [1, 2, 3]},
        {"kind": "jam", "n": 5, "price": 0.5},
        None,
    ]
    _record(log, "add", lambda: col.add(ids=ids, embeddings=emb, documents=docs, metadatas=metas))
    _record(log, "add cos", lambda: cos.add(ids=ids, embeddings=emb, documents=docs))
    _record(log, "add again (no-op)", lambda: col.add(ids=["a"], embeddings=[[9.0, 9.0, 9.0]]))
    _record(log, "count", col.count)
    _record(log, "get all", lambda: col.get(include=["embeddings", "documents", "metadatas"]))
    _record(log, "get ids", lambda: col.get(ids=["c", "a", "zz"]))
    _record(log, "get include []", lambda: col.get(include=[]))
    _record(log, "get limit offset", lambda: col.get(limit=2, offset=1))
    _record(log, "get where eq", lambda: col.get(where={"kind": "tart"}))
    _record(log, "get where gt", lambda: col.get(where={"n": {"$gt": 2}}))
    _record(log, "get where and", lambda: col.get(where={"$and": [{"n": {"$gte": 2}}, {"price": {"$lt": 3}}]}))
    _record(log, "get where or", lambda: col.get(where={"$or": [{"kind": "pie"}, {"fresh": False}]}))
    _record(log, "get where in", lambda: col.get(where={"kind": {"$in": ["cake", "jam"]}}))
    _record(log, "get where nin", lambda: col.get(where={"kind": {"$nin": ["cake", "jam"]}}))
    _record(log, "get where ne", lambda: col.get(where={"n": {"$ne": 1}}))
    _record(log, "get where contains list", lambda: col.get(where={"tags": {"$contains": "y"}}))
    _record(log, "get where_document", lambda: col.get(where_document={"$contains": "an"}))
    _record(log, "get where_document not", lambda: col.get(where_document={"$not_contains": "a"}))
    _record(log, "get where_document regex", lambda: col.get(where_document={"$regex": "^[a-c]"}))
    _record(log, "peek", lambda: col.peek(3))
    q = [[1.0, 0.1, 0.0], [0.1, 0.0, 2.0]]  # no ties at any cut-off (chromadb breaks ties at random)
    _record(log, "query", lambda: col.query(query_embeddings=q, n_results=3))
    _record(log, "query cos", lambda: cos.query(query_embeddings=q, n_results=3,
                                                 include=["distances", "documents"]))
    _record(log, "query all fields", lambda: col.query(
        query_embeddings=[q[0]], n_results=2,
        include=["embeddings", "documents", "metadatas", "distances"]))
    _record(log, "query where", lambda: col.query(query_embeddings=q, n_results=10, where={"n": {"$lte": 3}}))
    _record(log, "query where_document", lambda: col.query(
        query_embeddings=q, n_results=2, where_document={"$contains": "e"}))
    _record(log, "query ids", lambda: col.query(query_embeddings=q, n_results=5, ids=["b", "d"]))
    _record(log, "query too many", lambda: col.query(query_embeddings=[q[0]], n_results=100))
    _record(log, "update", lambda: col.update(
        ids=["a", "b", "missing"],
        metadatas=[{"n": 10, "fresh": None}, {"extra": "yes"}, {"n": 0}],
        documents=["apple crumble", None, "nothing"],
        embeddings=[[1.0, 0.0, 0.1], [0.0, 1.0, 0.1], [0.0, 0.0, 0.0]]))
    _record(log, "get after update", lambda: col.get(ids=["a", "b"], include=["embeddings", "documents", "metadatas"]))
    _record(log, "upsert", lambda: col.upsert(
        ids=["c", "g"], embeddings=[[0.0, 0.0, 3.0], [3.0, 3.0, 3.0]],
        metadatas=[{"kind": "tart2"}, {"kind": "new", "n": 7}], documents=[None, "grape juice"]))
    _record(log, "get after upsert", lambda: col.get(ids=["c", "g"], include=["embeddings", "documents", "metadatas"]))
    _record(log, "count after upsert", col.count)
    _record(log, "delete ids", lambda: col.delete(ids=["d", "nope"]))
    _record(log, "delete where", lambda: col.delete(where={"kind": "jam"}))
    _record(log, "delete where_document", lambda: col.delete(where_document={"$contains": "grape"}))
    _record(log, "count after delete", col.count)
    _record(log, "get after delete", lambda: col.get())
    _record(log, "modify", lambda: col.modify(name="parity2", metadata={"topic": "baking", "v": 2}))
    _record(log, "get_collection renamed", lambda: (
        lambda c: (c.name, c.metadata, c.count()))(client.get_collection("parity2", embedding_function=None)))
    _record(log, "get_or_create existing", lambda: (
        lambda c: (c.name, c.metadata))(client.get_or_create_collection(
            "parity2", metadata={"ignored": True}, embedding_function=None)))
    _record(log, "space of cos", lambda: client.get_collection(
        "parity_cos", embedding_function=None).configuration_json["hnsw"]["space"])
    _record(log, "list", lambda: sorted(c.name for c in client.list_collections()))
    _record(log, "count_collections", client.count_collections)
    _record(log, "delete_collection", lambda: client.delete_collection("parity_cos"))
    _record(log, "list after delete", lambda: sorted(c.name for c in client.list_collections()))
    _record(log, "get deleted", lambda: client.get_collection("parity_cos", embedding_function=None))
    _record(log, "use stale handle", cos.count)
    _record(log, "dimension mismatch", lambda: col.add(ids=["z"], embeddings=[[1.0, 2.0]]))
    _record(log, "dup ids", lambda: col.add(ids=["y", "y"], embeddings=[[1.0, 2.0, 3.0]] * 2))
    _record(log, "bad where", lambda: col.get(where={"n": {"$gt": "a"}}))
    _record(log, "n_results 0", lambda: col.query(query_embeddings=[q[0]], n_results=0))
    _record(log, "delete nothing", lambda: col.delete())
    return log


def test_parity_with_chromadb(client: chromadb.api.ClientAPI) -> None:
    reference = chromadb.EphemeralClient(
        settings=Settings(anonymized_telemetry=False, allow_reset=True)
    )
    reference.reset()
    expected = scenario(reference)
    got = scenario(client)
    assert [w for w, _, _ in got] == [w for w, _, _ in expected]
    for (what, kind, value), (_, ekind, evalue) in zip(got, expected):
        assert (kind, value) == (ekind, evalue), what


# --------------------------------------------------------------------------------------------
# Errors, as the client raises them


def test_missing_collection_is_not_found(client: chromadb.api.ClientAPI) -> None:
    with pytest.raises(NotFoundError, match=r"Collection \[nope\] does not exist"):
        client.get_collection("nope", embedding_function=None)
    with pytest.raises(NotFoundError):
        client.delete_collection("nope")


def test_duplicate_collection_is_409(server: Server, client: chromadb.api.ClientAPI) -> None:
    client.create_collection("dup", embedding_function=None)
    with pytest.raises(UniqueConstraintError, match=r"Collection \[dup\] already exists"):
        client.create_collection("dup", embedding_function=None)
    r = httpx.post(
        f"{server.url}/api/v2/tenants/default_tenant/databases/default_database/collections",
        json={"name": "dup"},
    )
    assert r.status_code == 409
    assert r.json()["error"] == "UniqueConstraintError"


def test_bad_input_is_400(server: Server, client: chromadb.api.ClientAPI) -> None:
    col = client.create_collection("bad", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0, 2.0]])
    with pytest.raises(InvalidArgumentError, match="dimension of 2, got 3"):
        col.add(ids=["b"], embeddings=[[1.0, 2.0, 3.0]])
    with pytest.raises(InvalidArgumentError, match="Expected a name containing 3-512"):
        client.create_collection("x", embedding_function=None)
    with pytest.raises(InvalidArgumentError, match="unknown variant `dot`"):
        client.create_collection(
            "bad_space", configuration={"hnsw": {"space": "dot"}}, embedding_function=None
        )
    base = f"{server.url}/api/v2/tenants/default_tenant/databases/default_database/collections/{col.id}"
    cases = [
        (b"{not json", "Failed to parse the request body as JSON"),
        (b'{"ids": "a", "embeddings": [[1, 2]]}', "ids"),
        (b'{"ids": ["a"], "embeddings": [[1, 2]], "surprise": 1}', "unknown field `surprise`"),
        (b'{"ids": ["q"], "embeddings": [[1, 2]], "metadatas": [{"a": {"b": 1}}]}', "which is a dict in add."),
    ]
    for body, fragment in cases:
        r = httpx.post(f"{base}/add", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, body
        assert r.json()["error"] == "InvalidArgumentError"
        assert fragment in r.json()["message"], (body, r.json())
    r = httpx.post(f"{base}/get", json={"where": {"n": {"$gt": "a"}}})
    assert r.status_code == 400 and r.json()["error"] == "InvalidArgumentError"
    r = httpx.post(f"{base}/add", json={"ids": ["d", "d"], "embeddings": [[1, 2], [1, 2]]})
    assert r.status_code == 400 and r.json()["error"] == "DuplicateID"
    r = httpx.get(f"{server.url}/api/v2/tenants/default_tenant/databases/default_database/collections/by-id/not-a-uuid")
    assert r.status_code == 400


def test_duplicate_ids_raise_duplicate_id_error(client: chromadb.api.ClientAPI) -> None:
    col = client.create_collection("dups", embedding_function=None)
    with pytest.raises(DuplicateIDError):
        col.add(ids=["a", "a"], embeddings=[[1.0], [2.0]])


def test_stale_collection_handle_is_not_found(client: chromadb.api.ClientAPI) -> None:
    col = client.create_collection("stale", embedding_function=None)
    client.delete_collection("stale")
    with pytest.raises(NotFoundError):
        col.add(ids=["a"], embeddings=[[1.0]])


# --------------------------------------------------------------------------------------------
# Embedding functions: the client's descriptor is kept with the collection


@register_embedding_function
class CountingEF(EmbeddingFunction[Documents]):
    """A registered (non-legacy) embedding function that needs no model."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def __call__(self, input: Documents) -> Embeddings:
        return [
            np.array([len(d) * self.scale, d.count("a"), 1.0], dtype=np.float32)
            for d in input
        ]

    @staticmethod
    def name() -> str:
        return "mnemodb-test-counting"

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "CountingEF":
        return CountingEF(config["scale"])


def test_embedding_function_is_rebuilt_from_the_collection(client: chromadb.api.ClientAPI) -> None:
    col = client.create_collection("with_ef", embedding_function=CountingEF(2.0))
    col.add(ids=["a", "b", "c"], documents=["a", "bbbbbb", "aaaa"])
    # No embedding function given: the client rebuilds the stored one (the default one would
    # try to download a model, and the network is blocked).
    again = client.get_collection("with_ef")
    ef = again.configuration_json["embedding_function"]
    assert ef["name"] == "mnemodb-test-counting" and ef["config"] == {"scale": 2.0}
    hits = again.query(query_texts=["aaaa"], n_results=1)
    assert hits["ids"] == [["c"]]
    listed = [c for c in client.list_collections() if c.name == "with_ef"][0]
    assert listed.configuration_json["embedding_function"]["name"] == "mnemodb-test-counting"


# --------------------------------------------------------------------------------------------
# Tenants and databases


def test_tenants_and_databases(server: Server, client: chromadb.api.ClientAPI) -> None:
    admin = chromadb.AdminClient(Settings(
        chroma_api_impl="chromadb.api.fastapi.FastAPI",
        chroma_server_host=server.host,
        chroma_server_http_port=server.port,
        anonymized_telemetry=False,
    ))
    admin.create_tenant("acme")
    assert admin.get_tenant("acme")["name"] == "acme"
    with pytest.raises(NotFoundError, match=r"Tenant \[nope\] not found"):
        admin.get_tenant("nope")
    admin.create_database("research", tenant="acme")
    assert admin.get_database("research", tenant="acme")["name"] == "research"
    assert [d["name"] for d in admin.list_databases(tenant="acme")] == ["research"]
    with pytest.raises(ChromaError):
        admin.create_database("research", tenant="acme")
    scoped = http_client(server, tenant="acme", database="research")
    scoped.create_collection("notes", embedding_function=None).add(ids=["a"], embeddings=[[1.0]])
    client.create_collection("notes", embedding_function=None)
    assert scoped.get_collection("notes", embedding_function=None).count() == 1
    assert client.get_collection("notes", embedding_function=None).count() == 0
    with pytest.raises(NotFoundError, match=r"Database \[nope\] not found"):
        http_client(server, tenant="acme", database="nope")
    admin.delete_database("research", tenant="acme")
    with pytest.raises(NotFoundError):
        admin.get_database("research", tenant="acme")


# --------------------------------------------------------------------------------------------
# Limits and the wire


def test_batches_use_base64_and_the_max_batch_size(client: chromadb.api.ClientAPI) -> None:
    assert client.get_max_batch_size() == 5461
    col = client.create_collection("big", embedding_function=None)
    n, dim = 3000, 64
    emb = [[math.sin(i * 0.01 + j) for j in range(dim)] for i in range(n)]
    col.add(ids=[f"id{i}" for i in range(n)], embeddings=emb)
    assert col.count() == n
    got = col.get(ids=["id1234"], include=["embeddings"])
    assert got["embeddings"][0].tolist() == pytest.approx(emb[1234], abs=1e-6)
    with pytest.raises(Exception, match="5462"):
        col.add(ids=[f"x{i}" for i in range(5462)], embeddings=[[0.0] * dim] * 5462)


def test_heartbeat_version_and_openapi(server: Server, client: chromadb.api.ClientAPI) -> None:
    assert client.heartbeat() > 0
    assert isinstance(client.get_version(), str)
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert "/api/v2/heartbeat" in spec["paths"]
    metrics = httpx.get(f"{server.url}/metrics").text
    assert "mnemodb_http_requests_total" in metrics


def test_async_client(server: Server, client: chromadb.api.ClientAPI) -> None:
    import asyncio

    async def run() -> tuple[int, list[list[str]]]:
        ac = await chromadb.AsyncHttpClient(
            host=server.host, port=server.port, settings=Settings(anonymized_telemetry=False)
        )
        col = await ac.create_collection("async_col", embedding_function=None)
        await col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
        hits = await col.query(query_embeddings=[[0.9, 0.1]], n_results=1)
        return await col.count(), hits["ids"]

    assert asyncio.run(run()) == (2, [["a"]])


# --------------------------------------------------------------------------------------------
# Auth


@pytest.mark.parametrize("header", ["Authorization", "X-Chroma-Token"])
def test_token_auth(tmp_path: Path, header: str) -> None:
    srv = Server(tmp_path, "--token", TOKEN)
    try:
        with pytest.raises((AuthorizationError, ValueError)):
            http_client(srv)
        settings = Settings(
            anonymized_telemetry=False,
            chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
            chroma_client_auth_credentials=TOKEN,
            chroma_auth_token_transport_header=header,
        )
        c = http_client(srv, settings=settings)
        col = c.create_collection("secure", embedding_function=None)
        col.add(ids=["a"], embeddings=[[1.0, 2.0]])
        assert col.count() == 1
        assert httpx.get(f"{srv.url}/api/v2/heartbeat").status_code == 200
        assert httpx.get(f"{srv.url}/api/v2/collections_count").status_code == 401
    finally:
        assert srv.stop() == 0
