"""One adapter per store: build (ingest to a persisted, queryable index), query, filter, reopen.

Every adapter works on the same data (a bench-data set): unit-length float32 rows whose id is
the row number, metadata {"source": "s" + str(i % 10), "n": i, ...} and a short document,
cosine distance, k = 10. The filtered query is `source == "s3"` (10 % of the rows).

Libraries without a metadata store (numpy, faiss, hnswlib, usearch) get the filter as an
allow-list of row numbers computed by the caller once (the way a user pairs them with a
metadata table); the databases (chromadb, lancedb, sqlite-vec, mnemodb) evaluate the where
clause themselves. `search` returns row numbers (ints).

An ANN adapter has an `ef` knob (`efs`: the values the runner may try, smallest first); the
runner picks the smallest that reaches the recall target on the 1,000 queries.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import time
from pathlib import Path

import numpy as np

THREADS = int(os.environ.get("PEERS_THREADS", "2"))
M, EF_CONSTRUCTION = 16, 100
EFS = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
COLLECTION = "bench"


def version(*pkgs: str) -> dict:
    out = {}
    for p in pkgs:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    return out


class Store:
    name = "?"
    packages: tuple[str, ...] = ()
    efs: tuple[int, ...] = ()       # empty: exact search, or a fixed ef (fixed_ef)
    fixed_ef: int | None = None     # an ef set once at build and not tuned
    needs_records = False           # metadata and documents passed at ingest
    has_batch = True                # a call that takes many queries at once

    def __init__(self, path: Path):
        self.path = path
        self.ef: int | None = None
        self.params: dict = {}
        self.threads: dict = {}
        self.notes: list[str] = []

    def prepare(self) -> None:
        """Import the library (not timed: imports can take seconds)."""
        for mod in self.modules:
            __import__(mod)

    modules: tuple[str, ...] = ()

    def build(self, base: np.ndarray, records: list[dict] | None) -> None:
        raise NotImplementedError

    def open(self) -> None:
        raise NotImplementedError

    def set_ef(self, ef: int) -> None:
        self.ef = ef

    def search(self, q: np.ndarray, k: int) -> list[int]:
        raise NotImplementedError

    def search_batch(self, qs: np.ndarray, k: int) -> list[list[int]]:
        return [self.search(q, k) for q in qs]

    def set_filter(self, allowed: np.ndarray, n: int) -> None:
        """Row numbers with source == "s3" (sorted), for the libraries that need them."""
        self.allowed = allowed

    def search_filtered(self, q: np.ndarray, k: int) -> list[int] | None:
        return None

    def close(self) -> None:
        pass


class NumpyStore(Store):
    name = "numpy (exact)"
    packages = ("numpy",)

    def build(self, base, records):
        self.x = np.ascontiguousarray(base)
        np.save(self.path / "base.npy", self.x)
        self.threads = {"blas": THREADS}
        self.params = {"search": "X @ q, argpartition"}

    def open(self):
        self.x = np.load(self.path / "base.npy", mmap_mode="r")

    @staticmethod
    def _top(scores: np.ndarray, k: int) -> np.ndarray:
        part = np.argpartition(-scores, k - 1, axis=-1)[..., :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=-1), axis=-1)
        return np.take_along_axis(part, order, axis=-1)

    def search(self, q, k):
        return self._top(self.x @ q, k).tolist()

    def search_batch(self, qs, k):
        return self._top(qs @ self.x.T, k).tolist()

    def search_filtered(self, q, k):
        return self.allowed[self._top(self.x[self.allowed] @ q, k)].tolist()


class HnswlibStore(Store):
    name = "hnswlib"
    packages = ("hnswlib",)
    modules = ("hnswlib",)
    efs = EFS

    def build(self, base, records):
        import hnswlib

        self.idx = hnswlib.Index(space="cosine", dim=base.shape[1])
        self.idx.init_index(max_elements=base.shape[0], ef_construction=EF_CONSTRUCTION, M=M,
                            random_seed=100)
        self.idx.add_items(base, np.arange(base.shape[0]), num_threads=THREADS)
        self.idx.save_index(str(self.path / "index.bin"))
        self.params = {"M": M, "ef_construction": EF_CONSTRUCTION}
        self.threads = {"add_items": THREADS, "batch knn_query": THREADS, "single query": 1}
        self.dim = base.shape[1]

    def open(self):
        import hnswlib

        self.idx = hnswlib.Index(space="cosine", dim=self.dim)
        self.idx.load_index(str(self.path / "index.bin"))

    def set_ef(self, ef):
        self.ef = ef
        self.idx.set_ef(ef)

    def search(self, q, k):
        return self.idx.knn_query(q, k=k, num_threads=1)[0][0].tolist()

    def search_batch(self, qs, k):
        return self.idx.knn_query(qs, k=k, num_threads=THREADS)[0].tolist()

    def set_filter(self, allowed, n):
        mask = np.zeros(n, dtype=bool)
        mask[allowed] = True
        self.mask = mask
        self.notes.append("filter: Python callback `filter=lambda label: mask[label]`")

    def search_filtered(self, q, k):
        mask = self.mask
        return self.idx.knn_query(q, k=k, num_threads=1,
                                  filter=lambda label: bool(mask[label]))[0][0].tolist()


class FaissFlatStore(Store):
    name = "faiss Flat (exact)"
    packages = ("faiss-cpu",)
    modules = ("faiss",)

    def _setup(self):
        import faiss

        faiss.omp_set_num_threads(THREADS)
        self.faiss = faiss
        self.threads = {"omp": faiss.omp_get_max_threads()}

    def _index(self, d):
        return self.faiss.IndexFlatIP(d)

    def build(self, base, records):
        self._setup()
        self.idx = self._index(base.shape[1])
        self.idx.add(base)
        self.faiss.write_index(self.idx, str(self.path / "index.faiss"))

    def open(self):
        self._setup()
        self.idx = self.faiss.read_index(str(self.path / "index.faiss"))

    def _params(self, sel=None):
        return self.faiss.SearchParameters(sel=sel) if sel is not None else None

    def search(self, q, k):
        return self.idx.search(q[None, :], k, params=self._params())[1][0].tolist()

    def search_batch(self, qs, k):
        return self.idx.search(qs, k, params=self._params())[1].tolist()

    def set_filter(self, allowed, n):
        self.allowed = allowed
        self.sel = self.faiss.IDSelectorBatch(allowed.astype(np.int64))
        self.notes.append("filter: IDSelectorBatch in SearchParameters")

    def search_filtered(self, q, k):
        return self.idx.search(q[None, :], k, params=self._params(self.sel))[1][0].tolist()


class FaissHnswStore(FaissFlatStore):
    name = "faiss HNSW"
    efs = EFS

    def _index(self, d):
        idx = self.faiss.IndexHNSWFlat(d, M, self.faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = EF_CONSTRUCTION
        self.params = {"M": M, "ef_construction": EF_CONSTRUCTION}
        return idx

    def _params(self, sel=None):
        return self.faiss.SearchParametersHNSW(efSearch=self.ef or 16, sel=sel)


class UsearchStore(Store):
    name = "usearch"
    packages = ("usearch",)
    modules = ("usearch.index",)
    efs = EFS

    def build(self, base, records):
        from usearch.index import Index

        self.idx = Index(ndim=base.shape[1], metric="cos", dtype="f32", connectivity=M,
                         expansion_add=EF_CONSTRUCTION, expansion_search=64)
        self.idx.add(np.arange(base.shape[0], dtype=np.uint64), base, threads=THREADS)
        self.idx.save(str(self.path / "index.usearch"))
        self.params = {"M": M, "ef_construction": EF_CONSTRUCTION, "dtype": "f32"}
        self.threads = {"add": THREADS, "batch search": THREADS, "single query": 1}

    def open(self):
        from usearch.index import Index

        self.idx = Index.restore(str(self.path / "index.usearch"), view=True)
        self.notes.append("reopen: Index.restore(view=True), a memory map")

    def set_ef(self, ef):
        self.ef = ef
        self.idx.expansion_search = ef

    def search(self, q, k):
        return self.idx.search(q, k, threads=1).keys.astype(np.int64).tolist()

    def search_batch(self, qs, k):
        return self.idx.search(qs, k, threads=THREADS).keys.astype(np.int64).tolist()


def _where():
    return {"source": "s3"}


class ChromaLikeStore(Store):
    """chromadb's API; mnemodb's Python client has the same surface.

    chromadb 1.5.9 accepts `modify(configuration={"hnsw": {"ef_search": ...}})` and persists
    it, but the index already loaded in the process keeps searching with the old value
    (recall does not move), so chromadb is measured at its default ef_search = 100, set at
    creation. mnemodb's ef_search is changed at query time, so it is tuned like the libraries.
    """

    name = "chromadb"
    packages = ("chromadb",)
    needs_records = True
    module = "chromadb"
    fixed_ef = 100

    def prepare(self):
        self.mod = __import__(self.module)

    def _client(self):
        return self.mod.PersistentClient(path=str(self.path / "db"))

    def build(self, base, records):
        self.client = self._client()
        config = {"hnsw": {"space": "cosine", "ef_construction": EF_CONSTRUCTION,
                           "max_neighbors": M, "ef_search": self.fixed_ef or 100}}
        self.col = self.client.create_collection(COLLECTION, configuration=config)
        try:
            batch = int(self.client.get_max_batch_size())
        except Exception:  # noqa: BLE001 - an optional method
            batch = 5_000
        for s in range(0, base.shape[0], batch):
            part = records[s:s + batch]
            self.col.add(ids=[r["id"] for r in part], embeddings=base[s:s + batch],
                         metadatas=[r["metadata"] for r in part],
                         documents=[r["document"] for r in part])
        self.params = {"M": M, "ef_construction": EF_CONSTRUCTION, "add batch": batch}
        self.threads = {"library": "not settable (Rust runtime's own pool)"}

    def open(self):
        self.client = self._client()
        self.col = self.client.get_collection(COLLECTION)

    def set_ef(self, ef):
        self.col.modify(configuration={"hnsw": {"ef_search": ef}})
        self.ef = ef

    def _ids(self, res) -> list[list[int]]:
        return [[int(i) for i in row] for row in res["ids"]]

    def search(self, q, k):
        return self._ids(self.col.query(query_embeddings=[q], n_results=k,
                                        include=["distances"]))[0]

    def search_batch(self, qs, k):
        return self._ids(self.col.query(query_embeddings=qs, n_results=k,
                                        include=["distances"]))

    def search_filtered(self, q, k):
        return self._ids(self.col.query(query_embeddings=[q], n_results=k, where=_where(),
                                        include=["distances"]))[0]


class MnemodbStore(ChromaLikeStore):
    name = "mnemodb"
    packages = ("mnemodb",)
    module = "mnemodb"
    efs = EFS
    fixed_ef = None

    def build(self, base, records):
        t = time.perf_counter()
        super().build(base, records)
        # The adds returned (durable); the index is still being completed behind them.
        self.adds_s = time.perf_counter() - t
        # What a user who does not wait sees: the first query right after the adds return,
        # while the index is still being built behind them.
        if getattr(self, "first_query", None) is not None:
            t = time.perf_counter()
            self.search(self.first_query, 10)
            self.first_query_ms = (time.perf_counter() - t) * 1e3
        # Adds return once durable and the index builds behind them: ingest ends when the
        # index is complete, like the peers' builds.
        self.col.wait_for_index()
        self.threads = {"rayon": os.environ.get("RAYON_NUM_THREADS", "default")}


class LanceStore(Store):
    name = "lancedb (flat)"
    packages = ("lancedb", "pylance", "pyarrow")
    modules = ("lancedb", "pyarrow")
    needs_records = True

    def build(self, base, records):
        import lancedb
        import pyarrow as pa

        self.db = lancedb.connect(str(self.path / "lance"))
        n, d = base.shape
        vec = pa.FixedSizeListArray.from_arrays(pa.array(base.reshape(-1), pa.float32()), d)
        table = pa.table({
            "id": pa.array(np.arange(n), pa.int64()),
            "vector": vec,
            "source": pa.array([r["metadata"]["source"] for r in records]),
            "n": pa.array([r["metadata"]["n"] for r in records], pa.int64()),
            "document": pa.array([r["document"] for r in records]),
        })
        self.tbl = self.db.create_table(COLLECTION, data=table)
        self.params = {"index": "none (exact scan)", "distance": "cosine"}
        self.threads = {"LANCE_CPU_THREADS": os.environ.get("LANCE_CPU_THREADS")}

    def open(self):
        import lancedb

        self.db = lancedb.connect(str(self.path / "lance"))
        self.tbl = self.db.open_table(COLLECTION)

    def _q(self, q, k):
        return self.tbl.search(q).distance_type("cosine").limit(k).select(["id"])

    def search(self, q, k):
        return self._q(q, k).to_arrow()["id"].to_pylist()

    def search_filtered(self, q, k):
        return self._q(q, k).where("source = 's3'", prefilter=True).to_arrow()["id"].to_pylist()


class SqliteVecStore(Store):
    name = "sqlite-vec"
    packages = ("sqlite-vec",)
    modules = ("sqlite_vec",)
    needs_records = True

    def _connect(self):
        import sqlite3

        if not hasattr(sqlite3.Connection, "enable_load_extension"):
            import pysqlite3 as sqlite3  # type: ignore[no-redef]  # this Python's lacks it
            self.notes.append("sqlite3 module: pysqlite3-binary (no load_extension here)")
        import sqlite_vec

        conn = sqlite3.connect(str(self.path / "vec.db"))
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
        self.sqlite_version = conn.execute("select sqlite_version(), vec_version()").fetchone()
        return conn

    def build(self, base, records):
        self.conn = self._connect()
        d = base.shape[1]
        self.conn.execute(f"create virtual table v using vec0(id integer primary key, "
                          f"embedding float[{d}] distance_metric=cosine, source text, "
                          f"+document text)")
        with self.conn:
            self.conn.executemany(
                "insert into v(id, embedding, source, document) values (?, ?, ?, ?)",
                ((i, base[i].tobytes(), r["metadata"]["source"], r["document"])
                 for i, r in enumerate(records)))
        self.params = {"table": "vec0, brute force", "sqlite/vec": list(self.sqlite_version)}
        self.threads = {"sqlite": 1}

    def open(self):
        self.conn = self._connect()

    def search(self, q, k):
        rows = self.conn.execute("select id from v where embedding match ? and k = ? "
                                 "order by distance", (q.tobytes(), k)).fetchall()
        return [r[0] for r in rows]

    def search_filtered(self, q, k):
        rows = self.conn.execute("select id from v where embedding match ? and k = ? "
                                 "and source = 's3' order by distance",
                                 (q.tobytes(), k)).fetchall()
        return [r[0] for r in rows]

    def close(self):
        self.conn.close()


STORES = {
    "numpy": NumpyStore,
    "faiss-flat": FaissFlatStore,
    "faiss-hnsw": FaissHnswStore,
    "hnswlib": HnswlibStore,
    "usearch": UsearchStore,
    "chromadb": ChromaLikeStore,
    "lancedb": LanceStore,
    "sqlite-vec": SqliteVecStore,
    "mnemodb": MnemodbStore,
}


def describe(key: str) -> str:
    return json.dumps({"key": key, "name": STORES[key].name})
