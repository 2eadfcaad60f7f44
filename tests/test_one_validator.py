"""The engine is the one validator: one bad request, one answer, whichever way it comes in.

The cases are `engine/tests/data/chroma_validation.json`: bad requests with one fault each
(duplicate ids, wrong dimension, NaN, empty ids, bad metadata values and keys, bad filters,
bad `include`, `n_results` <= 0, mismatched lengths, ...), with chromadb 1.5.9's answer,
captured by `tests/chroma_semantics/capture_validation.py`. `engine/tests/it/validation.rs`
replays them through the engine's Rust API; here every case goes

* to chromadb 1.5.9 itself, which must still answer what the file says;
* through mnemodb's chromadb-shaped Python API (embedded);
* through the native module `mnemodb._native` directly: the Rust API behind a thin
  conversion, without the Python layer's own code;
* as a raw JSON request to a real `mnemodb serve` on loopback (httpx, not chromadb's
  `HttpClient`, which would refuse most of them itself before sending anything).

Every mnemodb path must fail with chromadb's exception class and message, the same on each
(where the file has `ours`, mnemodb's longer message, which starts with chromadb's). Over
HTTP the class travels as the error name chromadb's client maps back to it
(`chromadb.errors.error_types`), with its status; Python's own `ValueError` and `TypeError`
have no name there and travel as `InvalidArgumentError` (400), which is what chromadb's
client then raises. And no refused call changes anything.
"""

from __future__ import annotations

import base64
import importlib.util
import itertools
import json
import math
import os
import struct
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

os.environ["ANONYMIZED_TELEMETRY"] = "False"

import httpx  # noqa: E402
import pytest  # noqa: E402

import chromadb  # noqa: E402
import chromadb.errors  # noqa: E402
import mnemodb  # noqa: E402
from mnemodb import _validate  # noqa: E402
from mnemodb_server import Server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CASES_FILE = ROOT / "engine" / "tests" / "data" / "chroma_validation.json"
DOC = json.loads(CASES_FILE.read_text())
CASES = DOC["cases"]
SETUP = DOC["setup"]
BASE = "/api/v2/tenants/default_tenant/databases/default_database/collections"


def _capture_module() -> Any:
    """The capture script, for its `call` (how a case becomes a chromadb-style call)."""
    spec = importlib.util.spec_from_file_location(
        "capture_validation", ROOT / "tests" / "chroma_semantics" / "capture_validation.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CAPTURE = _capture_module()
_names = itertools.count()

# One outcome: ("ok", None) or (class name, message); over HTTP: (error name, status, message).
Outcome = Tuple[str, Optional[str]]


def expected(case: Dict[str, Any]) -> Tuple[str, str]:
    """chromadb's class, and the message every mnemodb path must give."""
    err = case["error"]
    return err["class"], case.get("ours", err["message"])


def http_error(class_name: str) -> Tuple[str, int]:
    """The error name and status chromadb's HTTP API gives a class."""
    if class_name in ("ValueError", "TypeError"):
        return "InvalidArgumentError", 400
    cls = getattr(chromadb.errors, class_name)
    name = next(k for k, v in chromadb.errors.error_types.items() if v is cls)
    return name, cls().code()


def outcome(f: Callable[[], Any]) -> Outcome:
    try:
        f()
    except Exception as e:  # noqa: BLE001 - the error is the outcome compared
        return type(e).__name__, str(e)
    return "ok", None


# --------------------------------------------------------------------------------------------
# The paths


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("data"))
    yield s
    assert s.stop() == 0, "mnemodb serve did not exit cleanly on SIGTERM"


@pytest.fixture(scope="module")
def chroma_collection(tmp_path_factory: pytest.TempPathFactory) -> Any:
    # A client of its own (chromadb keeps one system per path and refuses other settings).
    client = chromadb.PersistentClient(
        path=str(tmp_path_factory.mktemp("chroma")),
        settings=chromadb.config.Settings(anonymized_telemetry=False),
    )
    col = client.create_collection(f"one-validator-{next(_names)}", embedding_function=None)
    col.add(**SETUP)
    return col


@pytest.fixture(scope="module")
def mnemo_collection() -> Any:
    col = mnemodb.EphemeralClient().create_collection(f"one-validator-{next(_names)}")
    col.add(**SETUP)
    return col


@pytest.fixture(scope="module")
def http_collection(server: Server) -> str:
    """The collection's URL on the server, set up over HTTP."""
    r = httpx.post(f"{server.url}{BASE}", json={"name": f"one-validator-{next(_names)}"})
    assert r.status_code == 200, r.text
    url = f"{server.url}{BASE}/{r.json()['id']}"
    r = httpx.post(f"{url}/add", json=SETUP)
    assert r.status_code == 201, r.text
    return url


def native_call(col: Any, op: str, args: Dict[str, Any]) -> Any:
    """One case on `mnemodb._native` (the engine's API): only the embeddings are converted
    first, by the Python layer's conversion to a float32 matrix."""
    n = col._native
    a = dict(args)
    if op in ("add", "update", "upsert"):
        rows = a.get("embeddings")
        matrix = None if rows is None else _validate.embeddings_matrix(CAPTURE.py(rows), op)
        docs, uris, mds = a.get("documents"), a.get("uris"), a.get("metadatas")
        if op == "add":
            return n.add(a["ids"], matrix, docs, uris, mds)
        return n.update(a["ids"], matrix, docs, uris, mds, op == "upsert")
    if op == "get":
        include = a.get("include", ["metadatas", "documents"])
        return n.get(a.get("ids"), a.get("where"), a.get("where_document"), None, 0, include)
    if op == "query":
        matrix = _validate.embeddings_matrix(CAPTURE.py(a["query_embeddings"]), op)
        include = a.get("include", ["metadatas", "documents", "distances"])
        n_results = a.get("n_results", 10)
        return n.query(matrix, n_results, a.get("ids"), a.get("where"), a.get("where_document"), include)
    if op == "delete":
        return n.delete(a.get("ids"), a.get("where"), a.get("where_document"), a.get("limit"))
    raise AssertionError(f"unknown op {op}")


def _wire_rows(rows: List[List[Any]]) -> List[Any]:
    """Rows as chromadb's client sends them: lists of floats, or little-endian float32 in
    base64 (the only way to send a NaN in JSON)."""
    if any(x == CAPTURE.NAN for r in rows for x in r):
        floats = [[math.nan if x == CAPTURE.NAN else x for x in r] for r in rows]
        return [base64.b64encode(struct.pack(f"<{len(r)}f", *r)).decode() for r in floats]
    return rows


def http_call(url: str, op: str, args: Dict[str, Any]) -> Tuple[str, int, Optional[str]]:
    body = dict(args)
    for key in ("embeddings", "query_embeddings"):
        if key in body:
            body[key] = _wire_rows(body[key])
    r = httpx.post(f"{url}/{op}", json=body)
    if r.status_code < 300:
        return "ok", r.status_code, None
    answer = r.json()
    return answer["error"], r.status_code, answer["message"]


# --------------------------------------------------------------------------------------------
# The tests


def test_the_cases_cover_the_faults() -> None:
    assert DOC["chromadb_version"] == "1.5.9"
    names = [c["name"] for c in CASES]
    assert len(names) >= 15 and len(set(names)) == len(names)
    for fault in ("duplicate_id", "dimension", "nan", "no_ids", "metadata", "where", "include", "n_results", "fewer", "more"):
        assert any(fault in n for n in names), fault
    assert {c["op"] for c in CASES} == {"add", "update", "upsert", "get", "query", "delete"}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_chromadb_still_answers_what_was_captured(chroma_collection: Any, case: Dict[str, Any]) -> None:
    got = outcome(lambda: CAPTURE.call(chroma_collection, case["op"], case["args"]))
    assert got == (case["error"]["class"], case["error"]["message"])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_every_path_gives_one_answer(
    mnemo_collection: Any, http_collection: str, case: Dict[str, Any]
) -> None:
    op, args = case["op"], case["args"]
    class_name, message = expected(case)
    if "ours" in case:
        assert message.startswith(case["error"]["message"]), case["why"]
    embedded = outcome(lambda: CAPTURE.call(mnemo_collection, op, args))
    native = outcome(lambda: native_call(mnemo_collection, op, args))
    name, status = http_error(class_name)
    over_http = http_call(http_collection, op, args)
    assert embedded == (class_name, message), "mnemodb (embedded)"
    assert native == (class_name, message), "mnemodb._native"
    assert over_http == (name, status, message), "mnemodb serve"


def test_refused_calls_changed_nothing(mnemo_collection: Any, http_collection: str) -> None:
    # Runs after the cases (same module, file order): the records are the setup's, unchanged.
    want = {"ids": SETUP["ids"], "documents": SETUP["documents"], "metadatas": SETUP["metadatas"]}
    got = mnemo_collection.get(include=["documents", "metadatas", "embeddings"])
    assert {k: got[k] for k in want} == want
    assert got["embeddings"].tolist() == SETUP["embeddings"]
    r = httpx.post(f"{http_collection}/get", json={"include": ["documents", "metadatas", "embeddings"]})
    assert {k: r.json()[k] for k in want} == want
    assert r.json()["embeddings"] == SETUP["embeddings"]


# --------------------------------------------------------------------------------------------
# A collection's metadata (create, get_or_create, modify)

COLLECTION_CASES = DOC["collection_cases"]


@pytest.fixture(scope="module")
def chroma_client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return chromadb.PersistentClient(
        path=str(tmp_path_factory.mktemp("chroma-collections")),
        settings=chromadb.config.Settings(anonymized_telemetry=False),
    )


def _base(client: Any) -> Any:
    return client.create_collection(
        f"collection-metadata-{next(_names)}", metadata=DOC["collection_setup"], embedding_function=None
    )


def http_collection_call(server: Server, base_id: str, op: str, metadata: Any) -> Tuple[str, int, Optional[str]]:
    if op == "modify":
        r = httpx.put(f"{server.url}{BASE}/{base_id}", json={"new_metadata": metadata})
    else:
        body = {"name": f"collection-metadata-{next(_names)}", "metadata": metadata, "get_or_create": op == "get_or_create"}
        r = httpx.post(f"{server.url}{BASE}", json=body)
    if r.status_code < 300:
        return "ok", r.status_code, None
    return r.json()["error"], r.status_code, r.json()["message"]


def test_the_collection_cases_cover_each_call() -> None:
    assert {c["op"] for c in COLLECTION_CASES} == {"create", "get_or_create", "modify"}
    assert len(COLLECTION_CASES) >= 30


@pytest.mark.parametrize("case", COLLECTION_CASES, ids=[c["name"] for c in COLLECTION_CASES])
def test_chromadb_still_refuses_collection_metadata_as_captured(chroma_client: Any, case: Dict[str, Any]) -> None:
    base = _base(chroma_client)
    name = f"collection-metadata-{next(_names)}"
    got = outcome(lambda: CAPTURE.call_collection(chroma_client, base, case["op"], name, case["metadata"]))
    assert got == (case["error"]["class"], case["error"]["message"])


@pytest.mark.parametrize("case", COLLECTION_CASES, ids=[c["name"] for c in COLLECTION_CASES])
def test_every_path_refuses_collection_metadata_alike(server: Server, case: Dict[str, Any]) -> None:
    class_name, message = expected(case)
    client = mnemodb.EphemeralClient()
    base = _base(client)
    name = f"collection-metadata-{next(_names)}"
    embedded = outcome(lambda: CAPTURE.call_collection(client, base, case["op"], name, case["metadata"]))
    assert embedded == (class_name, message), "mnemodb (embedded)"
    assert base.metadata == DOC["collection_setup"], "a refused modify changed the metadata"
    assert name not in [c.name for c in client.list_collections()], "a refused create made it"
    r = httpx.post(f"{server.url}{BASE}", json={"name": f"collection-metadata-{next(_names)}", "metadata": DOC["collection_setup"]})
    assert r.status_code == 200, r.text
    over_http = http_collection_call(server, r.json()["id"], case["op"], case["metadata"])
    assert over_http == (*http_error(class_name), message), "mnemodb serve"


# What JSON cannot carry: checked against chromadb directly (Python only).
PYTHON_ONLY_COLLECTION_METADATA = [
    ("create", {1: "a"}),
    ("get_or_create", {1: "a"}),
    ("modify", {1: "a"}),
    ("create", {"m": (1, 2)}),
    ("modify", {"m": (1, 2)}),
    ("modify", {"m": None, "z": 1}),
]


@pytest.mark.parametrize("op,metadata", PYTHON_ONLY_COLLECTION_METADATA)
def test_python_only_collection_metadata_as_chromadb(chroma_client: Any, op: str, metadata: Any) -> None:
    answers = []
    for client in (chroma_client, mnemodb.EphemeralClient()):
        base = _base(client)
        name = f"collection-metadata-{next(_names)}"
        got = outcome(lambda: CAPTURE.call_collection(client, base, op, name, metadata))
        answers.append((got, client.get_collection(base.name).metadata))
    assert answers[1] == answers[0]
