"""`mnemodb push` / `pull` against a real Chroma server: chromadb 1.5.9's own `chroma run`, on
loopback, in a temporary directory. Records, configuration, counts and exact-path query
results must survive the round trip; an interrupted push is finished by pushing again.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from mnemodb_server import _binary

N, DIM = 300, 16
# ef_search above the record count: Chroma's HNSW then finds the exact neighbours, so its
# answers can be compared with mnemodb's exact ones (and the setting must travel).
CONFIG = {"hnsw": {"space": "cosine", "ef_search": 400, "ef_construction": 400}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chroma = Path(sys.executable).parent / "chroma"
    port = _free_port()
    d = tmp_path_factory.mktemp("chroma")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(d / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"chroma run did not start (exit {proc.poll()})")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _mnemodb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(_binary()), *args], capture_output=True, text=True, timeout=300)


def _records(col) -> tuple:  # type: ignore[no-untyped-def]
    """(documents, metadatas and uris by id; embeddings as float32 rows in id order)."""
    got = col.get(include=["embeddings", "documents", "metadatas", "uris"])
    fields = {i: (d, m, u) for i, d, m, u in zip(got["ids"], got["documents"], got["metadatas"], got["uris"])}
    order = np.argsort(np.asarray(got["ids"]))
    return fields, np.asarray(got["embeddings"], dtype=np.float32)[order]


def _same(a: tuple, b: tuple, exact: bool) -> bool:
    """Chroma's server hands cosine collections' embeddings back a rounding away (it stores
    them normalised: up to 2.4e-7 apart for these values, with chromadb's own client too), so
    what went through it is compared to float32 precision; everything else exactly."""
    if a[0] != b[0] or a[1].shape != b[1].shape:
        return False
    return bool(np.array_equal(a[1], b[1]) if exact else np.allclose(a[1], b[1], rtol=1e-6, atol=1e-6))


def test_push_then_pull_round_trip(chroma_url: str, tmp_path: Path) -> None:
    import chromadb

    import mnemodb

    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    local = mnemodb.PersistentClient(path=str(tmp_path / "local"))
    notes = local.create_collection("notes", configuration=CONFIG, metadata={"owner": "tests"})
    notes.add(
        ids=[f"id{i}" for i in range(N)],
        embeddings=vectors,
        documents=[f"document {i}" for i in range(N)],
        metadatas=[{"i": i, "even": i % 2 == 0} for i in range(N)],
        uris=[f"file:///{i}" if i % 3 else None for i in range(N)],
    )
    mine = _records(notes)

    r = _mnemodb("push", str(tmp_path / "local"), "--to", chroma_url)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"pushed notes: {N} records here, {N} there"

    host, port = chroma_url.rsplit("//", 1)[1].split(":")
    remote = chromadb.HttpClient(host=host, port=int(port))
    theirs = remote.get_collection("notes", embedding_function=None)
    assert theirs.count() == N
    assert theirs.metadata == {"owner": "tests"}
    assert theirs.configuration_json["hnsw"]["space"] == "cosine"
    assert theirs.configuration_json["hnsw"]["ef_search"] == 400
    assert _same(_records(theirs), mine, exact=False)

    queries = rng.normal(size=(10, DIM)).astype(np.float32)
    for where in (None, {"even": True}):
        a = notes.query(query_embeddings=queries, n_results=5, where=where)
        b = theirs.query(query_embeddings=queries, n_results=5, where=where)
        assert a["ids"] == b["ids"]
        assert np.allclose(np.asarray(a["distances"]), np.asarray(b["distances"]), atol=1e-5)

    # An interrupted push: a third of the records never arrived. Pushing again finishes it.
    theirs.delete(ids=[f"id{i}" for i in range(0, N, 3)])
    assert theirs.count() == N - N // 3
    r = _mnemodb("push", str(tmp_path / "local"), "--to", chroma_url, "--collection", "notes")
    assert r.returncode == 0, r.stderr
    assert theirs.count() == N and _same(_records(theirs), mine, exact=False)

    # And back: a new directory gets the same records, configuration and answers.
    r = _mnemodb("pull", str(tmp_path / "back"), "--from", chroma_url, "--collection", "notes")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"pulled notes: {N} records there, {N} here"
    back = mnemodb.PersistentClient(path=str(tmp_path / "back")).get_collection("notes")
    assert back.metadata == {"owner": "tests"}
    assert back.configuration_json["hnsw"]["space"] == "cosine"
    # What came back is what Chroma holds, bit for bit.
    assert _same(_records(back), _records(theirs), exact=True)
    assert _same(_records(back), mine, exact=False)
    a = notes.query(query_embeddings=queries, n_results=5)
    c = back.query(query_embeddings=queries, n_results=5)
    assert a["ids"] == c["ids"]


def test_push_refused_by_the_server_says_why(chroma_url: str, tmp_path: Path) -> None:
    r = _mnemodb("push", str(tmp_path / "missing"), "--to", chroma_url)
    assert r.returncode == 1 and "not a mnemodb database" in r.stderr
    r = _mnemodb("pull", str(tmp_path / "x"), "--from", chroma_url, "--collection", "no_such_collection")
    assert r.returncode == 1 and r.stderr.startswith("mnemodb: GET ") and "404" in r.stderr, r.stderr
    r = _mnemodb("push", str(tmp_path / "x"), "--to", "ftp://example")
    assert r.returncode == 1 and "expected a URL like http://HOST:PORT" in r.stderr, r.stderr
