"""``MnemoStorage``: crewai's memory ``StorageBackend`` over one mnemodb collection.

Layout: one collection (``crewai_memory``, space ``l2``) in the database directory ``path``.
A record's id is the ``MemoryRecord`` id, its vector the embedding, its document the content,
and its metadata holds the other fields:

========================  =====================================================================
``scope``                 the record's scope, as given
``scope_path``            the scope and its ancestors (``["/", "/a", "/a/b"]``): a scope prefix
                          ``/a`` is ``{"scope_path": {"$contains": "/a"}}``, which covers ``/a``
                          and ``/a/...`` but never ``/ab`` (crewAI issues #7543, #7419)
``categories``            the categories (absent when there are none); any-of is ``$or`` of
                          ``$contains``
``metadata_json``         the record's metadata, exactly (JSON)
``md:<key>``              each scalar metadata value again, so equality filters run in the engine
``created_at``/``_ts``    ISO text (exact round trip) and seconds since the epoch (filters, order)
``last_accessed``         ISO text
``importance``, ``source``, ``private``
========================  =====================================================================

Scores are LanceDB's: ``1 / (1 + d)`` with ``d`` the squared L2 distance, which is what
``LanceDBStorage.search`` computes from LanceDB's ``_distance``; Memory's thresholds
(``consolidation_threshold`` 0.85, ``batch_dedup_threshold`` 0.98) were tuned on that scale.

Several processes may use one directory: every write is one engine transaction, reads see
committed snapshots, and a collection dropped by ``reset()`` elsewhere is reopened.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Generator, Iterable, List, Optional, Tuple

import numpy as np

import mnemodb
from mnemodb.config import Settings
from mnemodb.errors import InvalidArgumentError, NotFoundError

from ._paths import memory_path

COLLECTION = "crewai_memory"
DEFAULT_VECTOR_DIM = 3072  # LanceDBStorage's, for records saved without an embedding
_ROOT = "/"
_I64 = (-(2**63), 2**63 - 1)
_DIM_ERROR = re.compile(r"dimension of (\d+), got (\d+)")
_INCLUDE_ALL = ["documents", "metadatas", "embeddings"]

# A storage operation written once for the sync and the async collection: a generator that
# yields `(method, args, kwargs)` collection calls, is sent each call's result and returns the
# operation's result (driven by `_drive` for `Collection`, `_adrive` for `AsyncCollection`).
Steps = Generator[Tuple[str, Tuple[Any, ...], Dict[str, Any]], Any, Any]


def _drive(col: Any, steps: Steps) -> Any:
    try:
        method, args, kwargs = next(steps)
        while True:
            method, args, kwargs = steps.send(getattr(col, method)(*args, **kwargs))
    except StopIteration as stop:
        return stop.value


async def _adrive(col: Any, steps: Steps) -> Any:
    try:
        method, args, kwargs = next(steps)
        while True:
            method, args, kwargs = steps.send(await getattr(col, method)(*args, **kwargs))
    except StopIteration as stop:
        return stop.value


def _mismatch(stored: int, new: int) -> Exception:
    from crewai.memory.storage.backend import EmbeddingDimensionMismatchError  # type: ignore  # crewai is optional

    return EmbeddingDimensionMismatchError(stored, new)


def _normalize(scope: Optional[str]) -> str:
    """``/a/b`` for ``a/b``, ``/a/b/`` and ``/a//b``; ``/`` for empty or ``None``."""
    parts = [p for p in (scope or "").split("/") if p]
    return "/" + "/".join(parts)


def _ancestors(scope: str) -> List[str]:
    parts = [p for p in scope.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _ts(dt: datetime) -> float:
    """Seconds since the epoch; naive datetimes are UTC (crewai uses ``datetime.utcnow()``)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def _indexable(value: Any) -> bool:
    if isinstance(value, bool) or isinstance(value, str):
        return True
    if isinstance(value, int):
        return _I64[0] <= value <= _I64[1]
    if isinstance(value, float):
        return math.isfinite(value)
    return False


def _and(clauses: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class MnemoStorage:
    """crewai's memory ``StorageBackend`` on a mnemodb database directory.

    ``path`` defaults to ``$CREWAI_STORAGE_DIR/mnemodb/memory`` (or crewai's platform data
    directory, see :func:`mnemodb.integrations.crewai.default_root`). Instances on one path
    share the database; copies (``copy.deepcopy``, as ``Memory`` does) are the same store, and
    pickling (process pools) reopens the same path.
    """

    def __init__(self, path: "str | os.PathLike[str] | None" = None, collection_name: str = COLLECTION) -> None:
        self._path = str(Path(path if path is not None else memory_path()).expanduser().resolve())
        os.makedirs(self._path, exist_ok=True)
        settings = Settings(is_persistent=True, persist_directory=self._path, allow_reset=True)
        self._client = mnemodb.PersistentClient(self._path, settings=settings)
        self._name = collection_name
        self._col: Any = None
        self._lock = threading.Lock()
        self._aclient: Any = None  # the async client and collection of asave / asearch / adelete
        self._acol: Any = None

    # identity: one store per directory
    @property
    def path(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f"MnemoStorage(path={self._path!r})"

    def __deepcopy__(self, memo: Optional[Dict[int, Any]] = None) -> "MnemoStorage":
        return self

    def __copy__(self) -> "MnemoStorage":
        return self

    def __reduce__(self) -> Tuple[Any, Tuple[str, str]]:
        return (MnemoStorage, (self._path, self._name))

    # the collection, reopened when another process dropped it
    def _collection(self, create: bool) -> Any:
        col = self._col
        if col is not None:
            return col
        with self._lock:
            if self._col is None:
                try:
                    self._col = self._client.get_collection(self._name)
                except NotFoundError:
                    if not create:
                        return None
                    self._col = self._client.get_or_create_collection(
                        self._name, configuration={"hnsw": {"space": "l2"}}
                    )
            return self._col

    def _run(self, create: bool, op: Callable[[Any], Any], default: Any = None) -> Any:
        for attempt in (0, 1):
            col = self._collection(create)
            if col is None:
                return default
            try:
                return op(col)
            except (NotFoundError, InvalidArgumentError) as e:
                self._recover(e, attempt)
        return default

    def _recover(self, e: Exception, attempt: int) -> None:
        """After a failed collection call: forgets a collection dropped elsewhere (the caller
        reopens it once) or raises what to raise."""
        if isinstance(e, NotFoundError):
            if attempt or "does not exist" not in str(e):
                raise e
            self._col = self._acol = None  # dropped by reset() (maybe in another process): reopen once
            return
        m = _DIM_ERROR.search(str(e))
        if m:
            raise _mismatch(int(m.group(1)), int(m.group(2))) from None
        raise e

    async def _acollection(self, create: bool) -> Any:
        """``_collection`` for the async methods: the same collection through the async client."""
        acol = self._acol
        if acol is not None:
            return acol
        if self._aclient is None:
            self._aclient = await mnemodb.AsyncPersistentClient(self._path, settings=self._client.get_settings())
        try:
            acol = await self._aclient.get_collection(self._name)
        except NotFoundError:
            if not create:
                return None
            acol = await self._aclient.get_or_create_collection(self._name, configuration={"hnsw": {"space": "l2"}})
        self._acol = acol
        return acol

    async def _arun(self, create: bool, steps: Callable[[], Steps], default: Any = None) -> Any:
        """``_run`` for the async methods: the engine calls are awaited, no thread is used."""
        for attempt in (0, 1):
            col = await self._acollection(create)
            if col is None:
                return default
            try:
                return await _adrive(col, steps())
            except (NotFoundError, InvalidArgumentError) as e:
                self._recover(e, attempt)
        return default

    # filters
    @staticmethod
    def _where(
        scope_prefix: Optional[str] = None,
        categories: Optional[List[str]] = None,
        metadata_filter: Optional[Dict[str, Any]] = None,
        older_than: Optional[datetime] = None,
    ) -> Optional[Dict[str, Any]]:
        clauses: List[Dict[str, Any]] = []
        if scope_prefix is not None and _normalize(scope_prefix) != _ROOT:
            clauses.append({"scope_path": {"$contains": _normalize(scope_prefix)}})
        if categories:
            cats = [{"categories": {"$contains": str(c)}} for c in dict.fromkeys(categories)]
            clauses.append(cats[0] if len(cats) == 1 else {"$or": cats})
        for k, v in (metadata_filter or {}).items():
            if _indexable(v):
                clauses.append({f"md:{k}": v})
        if older_than is not None:
            clauses.append({"created_ts": {"$lt": _ts(older_than)}})
        return _and(clauses)

    @staticmethod
    def _metadata_ok(md: Dict[str, Any], metadata_filter: Optional[Dict[str, Any]]) -> bool:
        """The exact test (``record.metadata.get(k) == v``); the engine's is a pre-filter."""
        if not metadata_filter:
            return True
        meta = json.loads(md.get("metadata_json") or "{}")
        return all(meta.get(k) == v for k, v in metadata_filter.items())

    # records <-> rows
    def _row(self, record: Any, dim: int) -> Tuple[str, np.ndarray, str, Dict[str, Any]]:
        scope = record.scope if record.scope is not None else _ROOT
        md: Dict[str, Any] = {
            "scope": scope,
            "scope_path": _ancestors(_normalize(scope)),
            "metadata_json": json.dumps(record.metadata),
            "importance": float(record.importance),
            "created_at": record.created_at.isoformat(),
            "created_ts": _ts(record.created_at),
            "last_accessed": record.last_accessed.isoformat(),
            "private": bool(record.private),
        }
        if record.categories:
            md["categories"] = [str(c) for c in record.categories]
        if record.source is not None:
            md["source"] = str(record.source)
        for k, v in record.metadata.items():
            if _indexable(v):
                md[f"md:{k}"] = v
        emb = record.embedding
        vec = np.asarray(emb, dtype=np.float32) if emb else np.zeros(dim, dtype=np.float32)
        return str(record.id), vec, record.content, md

    @staticmethod
    def _record(rid: str, doc: Optional[str], md: Dict[str, Any], emb: Any) -> Any:
        from crewai.memory.types import MemoryRecord  # type: ignore  # crewai is optional

        # `model_construct`: the fields are the stored ones, validated by MemoryRecord when
        # they were saved and typed here as the model declares them (crewai 1.15's model has
        # no validators); validating 384 floats again per hit was a tenth of a recall.
        return MemoryRecord.model_construct(
            id=rid,
            content=doc or "",
            scope=md.get("scope", _ROOT),
            categories=list(md.get("categories") or []),
            metadata=json.loads(md.get("metadata_json") or "{}"),
            importance=float(md.get("importance", 0.5)),
            created_at=datetime.fromisoformat(md["created_at"]),
            last_accessed=datetime.fromisoformat(md["last_accessed"]),
            embedding=None if emb is None else np.asarray(emb, dtype=np.float64).tolist(),
            source=md.get("source"),
            private=bool(md.get("private", False)),
        )

    def _records(self, got: Dict[str, Any]) -> List[Any]:
        embs = got.get("embeddings")
        return [
            self._record(rid, got["documents"][i], got["metadatas"][i], None if embs is None else embs[i])
            for i, rid in enumerate(got["ids"])
        ]

    # StorageBackend: writes
    def save(self, records: List[Any]) -> None:
        if records:
            self._run(True, lambda col: _drive(col, self._save_steps(records)))

    def _save_steps(self, records: List[Any]) -> Steps:
        dim = 0
        for r in records:  # a mixed batch is refused whole, as LanceDBStorage does
            if r.embedding:
                if not dim:
                    dim = len(r.embedding)
                elif len(r.embedding) != dim:
                    raise _mismatch(dim, len(r.embedding))
        if any(not r.embedding for r in records):
            emb = (yield ("peek", (1,), {}))["embeddings"]
            stored = len(emb[0]) if emb is not None and len(emb) else 0
            dim = stored or dim or DEFAULT_VECTOR_DIM
        rows: Dict[str, Tuple[str, np.ndarray, str, Dict[str, Any]]] = {}
        for r in records:  # the last of two records with one id wins
            row = self._row(r, dim)
            rows[row[0]] = row
        ids = list(rows)
        matrix = np.stack([rows[i][1] for i in ids])
        docs = [rows[i][2] for i in ids]
        mds = [rows[i][3] for i in ids]
        yield ("upsert", (), {"ids": ids, "embeddings": matrix, "documents": docs, "metadatas": mds})

    def update(self, record: Any) -> None:
        """Replaces the record with ``record.id`` (or stores it when there is none)."""
        self.save([record])

    def touch_records(self, record_ids: List[str]) -> None:
        """Sets ``last_accessed`` of these records to now (what ``Memory.recall`` calls), with an
        unsynced commit (``Collection.update_deferred``): visible at once, but a power loss soon
        after may undo the latest touches."""
        ids = list(dict.fromkeys(str(i) for i in record_ids or []))
        if not ids:
            return
        now = datetime.utcnow().isoformat()

        def touch(col: Any) -> None:
            # Memory.recall touches its hits on every call: an unsynced commit keeps a recall
            # from waiting on the disk; a power loss can only undo recent touches. An update
            # skips ids that do not exist (as chromadb's), so there is nothing to look up first.
            col.update_deferred(ids=ids, metadatas=[{"last_accessed": now} for _ in ids])

        self._run(False, touch)

    def delete(
        self,
        scope_prefix: Optional[str] = None,
        categories: Optional[List[str]] = None,
        record_ids: Optional[List[str]] = None,
        older_than: Optional[datetime] = None,
        metadata_filter: Optional[Dict[str, Any]] = None,
    ) -> int:
        """Deletes the records matching every given filter (AND); returns how many.

        ``record_ids=[]`` deletes nothing (LanceDBStorage deleted everything, crewAI #7419).
        """
        if record_ids is not None and len(record_ids) == 0:
            return 0
        args = (scope_prefix, categories, record_ids, older_than, metadata_filter)
        return int(self._run(False, lambda col: _drive(col, self._delete_steps(*args)), 0))

    def _delete_steps(
        self,
        scope_prefix: Optional[str],
        categories: Optional[List[str]],
        record_ids: Optional[List[str]],
        older_than: Optional[datetime],
        metadata_filter: Optional[Dict[str, Any]],
    ) -> Steps:
        where = self._where(scope_prefix, categories, metadata_filter, older_than) or {
            "scope_path": {"$contains": _ROOT}
        }
        ids = None if record_ids is None else list(dict.fromkeys(str(i) for i in record_ids))
        exact = not metadata_filter or all(_indexable(v) and not isinstance(v, (bool, float)) for v in metadata_filter.values())

        if exact:
            # one transaction; the engine reports what it deleted
            return int((yield ("delete", (), {"ids": ids, "where": where}))["deleted"])
        got = yield ("get", (), {"ids": ids, "where": where, "include": ["metadatas"]})
        victims = [i for i, md in zip(got["ids"], got["metadatas"]) if self._metadata_ok(md, metadata_filter)]
        if not victims:
            return 0
        return int((yield ("delete", (), {"ids": victims, "where": where}))["deleted"])

    def reset(self, scope_prefix: Optional[str] = None) -> None:
        """Drops everything (``None`` or ``/``: the collection, so a new embedder's dimension
        is accepted afterwards) or the subtree of ``scope_prefix``."""
        if scope_prefix is None or _normalize(scope_prefix) == _ROOT:
            with self._lock:
                try:
                    self._client.delete_collection(self._name)
                except NotFoundError:
                    pass
                self._col = self._acol = None
            return
        self.delete(scope_prefix=scope_prefix)

    # StorageBackend: reads
    def search(
        self,
        query_embedding: List[float],
        scope_prefix: Optional[str] = None,
        categories: Optional[List[str]] = None,
        metadata_filter: Optional[Dict[str, Any]] = None,
        limit: int = 10,
        min_score: float = 0.0,
    ) -> List[Tuple[Any, float]]:
        """The ``limit`` nearest records passing the filters, best first, as
        ``(record, 1 / (1 + squared L2 distance))`` with score >= ``min_score``."""
        if limit <= 0:
            return []
        args = (query_embedding, scope_prefix, categories, metadata_filter, limit, min_score)
        return list(self._run(False, lambda col: _drive(col, self._search_steps(*args)), []))

    def _search_steps(
        self,
        query_embedding: List[float],
        scope_prefix: Optional[str],
        categories: Optional[List[str]],
        metadata_filter: Optional[Dict[str, Any]],
        limit: int,
        min_score: float,
    ) -> Steps:
        query = np.asarray([query_embedding], dtype=np.float32)
        where = self._where(scope_prefix, categories, metadata_filter)
        n = limit
        while True:
            res = yield (
                "query",
                (),
                {
                    "query_embeddings": query,
                    "n_results": n,
                    "where": where,
                    "include": ["documents", "metadatas", "embeddings", "distances"],
                },
            )
            ids, dists = res["ids"][0], res["distances"][0]
            out: List[Tuple[Any, float]] = []
            rejected = False
            for i, rid in enumerate(ids):
                score = 1.0 / (1.0 + float(dists[i]))
                if score < min_score:
                    break  # ordered by distance: the rest score lower
                md = res["metadatas"][0][i]
                if not self._metadata_ok(md, metadata_filter):
                    rejected = True
                    continue
                out.append((self._record(rid, res["documents"][0][i], md, res["embeddings"][0][i]), score))
                if len(out) == limit:
                    return out
            if not rejected or len(ids) < n:
                return out
            n *= 4  # the engine's pre-filter let through records the exact test refused

    def get_record(self, record_id: str) -> Any:
        got = self._run(False, lambda col: col.get(ids=[str(record_id)], include=_INCLUDE_ALL))
        if not got or not got["ids"]:
            return None
        return self._records(got)[0]

    def _scan(self, scope_prefix: Optional[str]) -> Tuple[List[str], List[Dict[str, Any]]]:
        got = self._run(False, lambda col: col.get(where=self._where(scope_prefix), include=["metadatas"]))
        if not got:
            return [], []
        return list(got["ids"]), list(got["metadatas"])

    def list_records(self, scope_prefix: Optional[str] = None, limit: int = 200, offset: int = 0) -> List[Any]:
        """Records of the subtree, newest ``created_at`` first."""
        if limit <= 0 or offset < 0:
            return []
        ids, mds = self._scan(scope_prefix)
        order = sorted(range(len(ids)), key=lambda i: mds[i].get("created_ts", 0.0), reverse=True)
        page = [ids[i] for i in order[offset : offset + limit]]
        if not page:
            return []
        got = self._run(False, lambda col: col.get(ids=page, include=_INCLUDE_ALL))
        by_id = {r.id: r for r in self._records(got)} if got else {}
        return [by_id[i] for i in page if i in by_id]

    @staticmethod
    def _children(parent: str, mds: Iterable[Dict[str, Any]]) -> List[str]:
        depth = len(_ancestors(parent))
        out = set()
        for md in mds:
            path = _ancestors(_normalize(md.get("scope")))
            if len(path) > depth:
                out.add(path[depth])
        return sorted(out)

    def list_scopes(self, parent: str = "/") -> List[str]:
        """The immediate child scopes of ``parent`` that hold records (not ``parent``)."""
        _, mds = self._scan(parent)
        return self._children(_normalize(parent), mds)

    def get_scope_info(self, scope: str) -> Any:
        from crewai.memory.types import ScopeInfo  # type: ignore  # crewai is optional

        path = (scope or "").rstrip("/") or "/"
        _, mds = self._scan(path)
        cats = sorted({c for md in mds for c in (md.get("categories") or [])})
        created = [datetime.fromisoformat(md["created_at"]) for md in mds if "created_at" in md]
        return ScopeInfo(
            path=path,
            record_count=len(mds),
            categories=cats,
            oldest_record=min(created, key=_ts) if created else None,
            newest_record=max(created, key=_ts) if created else None,
            child_scopes=self._children(_normalize(path), mds),
        )

    def list_categories(self, scope_prefix: Optional[str] = None) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for md in self._scan(scope_prefix)[1]:
            for c in md.get("categories") or []:
                counts[c] = counts.get(c, 0) + 1
        return counts

    def count(self, scope_prefix: Optional[str] = None) -> int:
        if scope_prefix is None or _normalize(scope_prefix) == _ROOT:
            return int(self._run(False, lambda col: col.count(), 0))
        got = self._run(False, lambda col: col.get(where=self._where(scope_prefix), include=[]))
        return len(got["ids"]) if got else 0

    # lifecycle
    def close(self) -> None:
        """Nothing to release: the database stays open for the other users of the path."""

    def optimize(self) -> None:
        """Completes the vector index now (writes build it in the background and searches
        meanwhile scan what it lacks, so this only matters before timing searches). mnemodb
        needs no compaction schedule (LanceDBStorage has one)."""
        col = self._collection(False)
        if col is not None:
            col.wait_for_index()

    # async twins (Memory itself calls the sync methods): the same steps, every engine call
    # awaited through mnemodb's async client (no thread per call)
    async def asave(self, records: List[Any]) -> None:
        if records:
            await self._arun(True, lambda: self._save_steps(records))

    async def asearch(
        self,
        query_embedding: List[float],
        scope_prefix: Optional[str] = None,
        categories: Optional[List[str]] = None,
        metadata_filter: Optional[Dict[str, Any]] = None,
        limit: int = 10,
        min_score: float = 0.0,
    ) -> List[Tuple[Any, float]]:
        if limit <= 0:
            return []
        args = (query_embedding, scope_prefix, categories, metadata_filter, limit, min_score)
        return list(await self._arun(False, lambda: self._search_steps(*args), []))

    async def adelete(
        self,
        scope_prefix: Optional[str] = None,
        categories: Optional[List[str]] = None,
        record_ids: Optional[List[str]] = None,
        older_than: Optional[datetime] = None,
        metadata_filter: Optional[Dict[str, Any]] = None,
    ) -> int:
        if record_ids is not None and len(record_ids) == 0:
            return 0
        args = (scope_prefix, categories, record_ids, older_than, metadata_filter)
        return int(await self._arun(False, lambda: self._delete_steps(*args), 0))
