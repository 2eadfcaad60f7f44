"""Writes a small Chroma directory with the real chromadb (1.5.9) and what chromadb reads back
from it, for the engine's Chroma reader tests (`engine/tests/data/chroma-1.5.9/`).

    .venv/bin/python tests/chroma_dir/make_fixture.py engine/tests/data/chroma-1.5.9

Three collections (l2, ip, cosine) with a small sync threshold, so some records are in the
HNSW files and the last ones only in the queue; every metadata type, arrays, None documents
and metadatas, uris, deleted and updated records.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path


def write(path: Path, records: int = 45, dim: int = 3, seed: int = 7) -> None:
    """Writes the Chroma directory `path` (replaced if it exists)."""
    import chromadb
    import numpy as np

    shutil.rmtree(path, ignore_errors=True)
    rng = np.random.default_rng(seed)
    client = chromadb.PersistentClient(path=str(path))
    for space in ("l2", "ip", "cosine"):
        col = client.create_collection(
            f"col-{space}",
            configuration={"hnsw": {"space": space, "sync_threshold": 20, "batch_size": 10}},
            metadata={"space": space, "n": records, "ratio": 0.5, "flag": True},
            embedding_function=None,
        )
        ids = [f"{space}-{i}" for i in range(records)]
        for start in range(0, records, 7):
            end = min(start + 7, records)
            col.add(
                ids=ids[start:end],
                embeddings=(rng.standard_normal((end - start, dim)) * 3).astype(np.float32),
                documents=[None if i % 4 == 0 else f"document {i} of {space}" for i in range(start, end)],
                uris=[f"file:///{space}/{i}" if i % 3 == 0 else None for i in range(start, end)],
                metadatas=[None if i % 5 == 0 else _metadata(i) for i in range(start, end)],
            )
        col.delete(ids=[ids[1], ids[10], ids[records - 2]])
        col.update(
            ids=[ids[2], ids[records - 3]],
            embeddings=[[1.0, 2.0, 3.0], [-1.0, 0.5, 0.25]],
            documents=["updated two", "updated late"],
            metadatas=[{"i": None, "new": "key"}, {"b": False}],
        )
        col.update(ids=[ids[3]], metadatas=[{"f": 9.75, "arr_s": ["p", "q", "r"]}])
        col.upsert(
            ids=[ids[4], f"{space}-new"],
            embeddings=[[0.0, 0.0, 1.0], [5.0, 5.0, 5.0]],
            documents=["upserted", "brand new"],
        )
        # More writes: the changes above reach the HNSW files, the ones below stay queued.
        late = [f"{space}-late-{i}" for i in range(25)]
        col.add(ids=late, embeddings=rng.standard_normal((25, dim)).astype(np.float32))
        tail = [f"{space}-tail-{i}" for i in range(5)]
        col.add(
            ids=tail,
            embeddings=rng.standard_normal((5, dim)).astype(np.float32),
            documents=[f"tail {i}" for i in range(5)],
            metadatas=[{"tail": i} for i in range(5)],
        )
        col.delete(ids=[ids[5], late[0], tail[1]])
        col.update(ids=[ids[6]], embeddings=[[7.0, 7.0, 7.0]], metadatas=[{"s": "queued"}])
        col.upsert(ids=[ids[1]], embeddings=[[0.25, 0.5, 0.75]], metadatas=[{"back": True}])
    client.create_collection("empty", embedding_function=None)


def _metadata(i: int) -> dict:
    m = {"i": i, "f": i / 4, "s": f"s{i}", "b": i % 2 == 0}
    if i % 3 == 0:
        m["arr_i"] = [i, i + 1]
        m["arr_f"] = [0.5, i * 1.5]
        m["arr_s"] = ["x", f"y{i}"]
        m["arr_b"] = [True, False]
    return m


#: Queries whose chromadb answers the tests compare (the collections are small enough for
#: chromadb's HNSW search to be exact).
QUERIES = [[1.0, 0.0, 0.0], [0.5, -2.0, 1.0], [3.0, 3.0, -1.0]]


def expected(path: Path) -> dict:
    """What chromadb reads back from `path`: every collection and record."""
    import chromadb

    client = chromadb.PersistentClient(path=str(path))
    out = {}
    for col in client.list_collections():
        got = col.get(include=["embeddings", "documents", "uris", "metadatas"])
        cfg = col.configuration_json or {}
        out[col.name] = {
            "metadata": col.metadata,
            "space": (cfg.get("hnsw") or {}).get("space"),
            "count": col.count(),
            "ids": got["ids"],
            "embeddings": [[float(x) for x in e] for e in got["embeddings"]],
            "documents": got["documents"],
            "uris": got["uris"],
            "metadatas": [m or None for m in got["metadatas"]],
        }
        if col.count():
            hits = col.query(query_embeddings=QUERIES, n_results=5, include=["distances"])
            out[col.name]["query"] = {"ids": hits["ids"], "distances": hits["distances"]}
    return out


def main() -> None:
    dest = Path(sys.argv[1])
    write(dest / "chroma")
    exp = expected(dest / "chroma")
    (dest / "expected.json").write_text(json.dumps(exp, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
