"""An existing Chroma directory, written by the real chromadb 1.5.9, moved to mnemodb without
chromadb: ``mnemodb.migrate_chroma`` and ``mnemodb import-chroma``. Every record is compared
with what chromadb reads back, and queries with an exact search over chromadb's vectors.

`MNEMODB_BIN` names the CLI binary (default: target/debug/mnemodb, else target/release).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

import mnemodb
from mnemodb_server import _binary

chromadb = pytest.importorskip("chromadb")

DIM = 8
#: chromadb's default sync threshold (records reach the HNSW files 1,000 at a time): the
#: "big" collection keeps its default, so 1,000 records are in the files and the rest queued.
BIG = 1_234


def _metadata(i: int) -> Any:
    if i % 6 == 0:
        return None
    m: Dict[str, Any] = {"i": i, "f": i / 8, "s": f"s{i % 17}", "b": i % 2 == 0}
    if i % 4 == 0:
        m["ints"] = [i, -i, 7]
        m["floats"] = [0.25, i * 0.5]
        m["strs"] = ["a", f"b{i}"]
        m["bools"] = [True, i % 3 == 0]
    return m


def _write(path: Path) -> Dict[str, Any]:
    """Writes the Chroma directory and returns what chromadb reads back from it."""
    rng = np.random.default_rng(17)
    client = chromadb.PersistentClient(path=str(path))
    specs = [
        ("big", {}, BIG),
        ("l2-small", {"hnsw": {"space": "l2", "sync_threshold": 50, "batch_size": 20}}, 180),
        ("ip-small", {"hnsw": {"space": "ip", "sync_threshold": 50, "batch_size": 20}}, 180),
        ("cos-small", {"hnsw": {"space": "cosine", "sync_threshold": 50, "batch_size": 20}}, 180),
    ]
    for name, configuration, n in specs:
        col = client.create_collection(
            name, configuration=configuration or None, metadata={"origin": name}, embedding_function=None
        )
        ids = [f"{name}-{i}" for i in range(n)]
        for start in range(0, n, 100):
            end = min(start + 100, n)
            col.add(
                ids=ids[start:end],
                embeddings=rng.standard_normal((end - start, DIM)).astype(np.float32),
                documents=[None if i % 5 == 0 else f"doc {i} in {name}" for i in range(start, end)],
                uris=[f"s3://{name}/{i}" if i % 7 == 0 else None for i in range(start, end)],
                metadatas=[_metadata(i) for i in range(start, end)],
            )
        # Deleted and updated records, some before the last flush, some after.
        col.delete(ids=[ids[3], ids[n // 2], ids[n - 1]])
        col.update(
            ids=[ids[4], ids[n - 5]],
            embeddings=rng.standard_normal((2, DIM)).astype(np.float32),
            documents=["changed", "changed late"],
            metadatas=[{"i": None, "extra": "x"}, {"b": True}],
        )
        col.upsert(
            ids=[ids[5], f"{name}-fresh"],
            embeddings=rng.standard_normal((2, DIM)).astype(np.float32),
            metadatas=[{"upserted": 1}, None],
        )
    client.create_collection("empty", embedding_function=None)
    # A collection of another database: not what PersistentClient(path) shows, so not copied.
    admin = chromadb.AdminClient(chromadb.Settings(is_persistent=True, persist_directory=str(path)))
    admin.create_database("other")
    other = chromadb.PersistentClient(path=str(path), database="other")
    other.create_collection("elsewhere", embedding_function=None).add(ids=["z"], embeddings=[[1.0] * DIM])
    out = {}
    for col in client.list_collections():
        got = col.get(include=["embeddings", "documents", "uris", "metadatas"])
        out[col.name] = {
            "ids": got["ids"],
            "embeddings": np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1 if got["ids"] else 0),
            "documents": got["documents"],
            "uris": got["uris"],
            "metadatas": [m or None for m in got["metadatas"]],
            "space": (col.configuration_json.get("hnsw") or {}).get("space", "l2"),
            "metadata": col.metadata,
        }
    return out


@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("chroma")
    expected = _write(root / "written")
    return root / "written", expected


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def _hashes(path: Path) -> Dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def _exact(emb: np.ndarray, q: np.ndarray, space: str) -> np.ndarray:
    if space == "l2":
        return ((emb - q) ** 2).sum(axis=1)
    if space == "ip":
        return 1.0 - emb @ q
    norms = np.linalg.norm(emb, axis=1) * np.linalg.norm(q)
    return 1.0 - (emb @ q) / norms


def _check(path: Path, expected: Dict[str, Any]) -> None:
    client = mnemodb.PersistentClient(path=str(path))
    assert sorted(c.name for c in client.list_collections()) == sorted(expected)
    rng = np.random.default_rng(5)
    for name, exp in expected.items():
        col = client.get_collection(name)
        assert col.metadata == exp["metadata"]
        assert col.configuration_json["hnsw"]["space"] == exp["space"], name
        got = col.get(include=["embeddings", "documents", "uris", "metadatas"])
        assert got["ids"] == exp["ids"], name
        n = len(exp["ids"])
        emb_got = np.asarray(got["embeddings"]).reshape(n, -1 if n else 0)
        assert np.array_equal(emb_got, exp["embeddings"]), name
        assert got["documents"] == exp["documents"], name
        assert got["uris"] == exp["uris"], name
        assert [m or None for m in got["metadatas"]] == exp["metadatas"], name
        if n == 0:
            continue
        emb = exp["embeddings"].astype(np.float64)
        queries = rng.standard_normal((4, DIM)).astype(np.float32)
        hits = col.query(query_embeddings=queries, n_results=10, include=["distances"])
        for qi, q in enumerate(queries):
            d = _exact(emb, q.astype(np.float64), exp["space"])
            order = np.argsort(d, kind="stable")[:10]
            assert hits["ids"][qi] == [exp["ids"][j] for j in order], (name, qi)
            np.testing.assert_allclose(hits["distances"][qi], d[order], rtol=1e-4, atol=1e-4)


def test_migrate_chroma_copies_every_record_without_touching_chromas_files(chroma: Any, tmp_path: Path) -> None:
    written, expected = chroma
    src = _copy(written, tmp_path / "src")
    before = _hashes(src)
    with pytest.raises(mnemodb.errors.ChromaDirectoryError, match="mnemodb import-chroma"):
        mnemodb.PersistentClient(path=str(src))
    assert not (src / "mnemo.sqlite3").exists()

    report = mnemodb.migrate_chroma(src, tmp_path / "dest")
    assert report["collections"] == {name: len(e["ids"]) for name, e in expected.items()}
    assert report["skipped"] == ["default_tenant/other/elsewhere"]
    _check(tmp_path / "dest", expected)

    # In place: the same path opens with mnemodb afterwards, Chroma's files as they were.
    mnemodb.migrate_chroma(src)
    _check(src, expected)
    after = _hashes(src)
    assert {k: v for k, v in after.items() if k in before} == before


def test_the_cli_imports_what_migrate_chroma_does(chroma: Any, tmp_path: Path) -> None:
    written, expected = chroma
    src = _copy(written, tmp_path / "src")
    inspect = subprocess.run([str(_binary()), "inspect", str(src)], capture_output=True, text=True)
    assert inspect.returncode == 1
    assert "is a Chroma directory" in inspect.stdout
    assert f"mnemodb import-chroma {src}" in inspect.stderr
    done = subprocess.run([str(_binary()), "import-chroma", str(src)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"imported {len(expected)} collections" in done.stdout
    assert "skipped default_tenant/other/elsewhere" in done.stdout
    _check(src, expected)
