"""``MnemoStore``: LangGraph's ``BaseStore`` on mnemodb.

Items (namespace, key, JSON value, timestamps, expiry) live in the sidecar table ``lg_store``
(``engine/src/langgraph/store.rs``). With an ``index`` configuration, the texts of each item's
indexed fields are embedded and kept as records of one mnemodb collection (cosine space, one
record per field path, metadata naming the item and its namespace labels), so a ``query`` is a
mnemodb vector search: exact on small collections, HNSW past 4,096 vectors.

Semantics follow LangGraph's ``InMemoryStore`` (``tests/langgraph/test_store_differential.py``
compares them): a batch's reads see the state before its writes and the last put of a key
wins; search pages after filtering; with a query, items rank by their best field's cosine
similarity, and items without vectors fill a short page with ``score=None``. Differences:
results without a query come in insertion order of the items (InMemoryStore groups them by
namespace), ``created_at`` survives an update, and values must be JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, Optional, Union

from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    ensure_embeddings,
    get_text_at_path,
    tokenize_path,
    validate_op_namespace,
)

from mnemodb import _native
from mnemodb.integrations.langgraph._common import native_database

# Minutes between two sweeps of expired items when the TTL config names none.
_DEFAULT_SWEEP_MINUTES = 5.0


def _item_id(namespace: Sequence[str], key: str) -> str:
    return json.dumps([list(namespace), key], ensure_ascii=False)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000.0, tz=timezone.utc)


def _item(row: Any) -> Item:
    namespace, key, value, created, updated, _ = row
    return Item(value=json.loads(value), key=key, namespace=tuple(namespace), created_at=_time(created), updated_at=_time(updated))


def _search_item(row: Any, score: Optional[float]) -> SearchItem:
    namespace, key, value, created, updated, _ = row
    return SearchItem(
        value=json.loads(value),
        key=key,
        namespace=tuple(namespace),
        created_at=_time(created),
        updated_at=_time(updated),
        score=score,
    )


def _matches(value: Any, condition: Any) -> bool:
    """A value against one filter condition: operators (``$eq``, ``$ne``, ``$gt``, ``$gte``,
    ``$lt``, ``$lte``), a dict (each of its keys matched in a dict value), a list (same length,
    element by element) or a scalar (equality)."""
    if isinstance(condition, dict):
        if any(str(k).startswith("$") for k in condition):
            return all(_operator(value, op, operand) for op, operand in condition.items())
        return isinstance(value, dict) and all(_matches(value.get(k), c) for k, c in condition.items())
    if isinstance(condition, (list, tuple)):
        return (
            isinstance(value, (list, tuple))
            and len(value) == len(condition)
            and all(_matches(v, c) for v, c in zip(value, condition))
        )
    return bool(value == condition)


def _operator(value: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return bool(value == operand)
    if op == "$ne":
        return bool(value != operand)
    ordering = {"$gt": float.__gt__, "$gte": float.__ge__, "$lt": float.__lt__, "$lte": float.__le__}.get(op)
    if ordering is None:
        raise ValueError(f"Unsupported operator: {op} (use $eq, $ne, $gt, $gte, $lt or $lte)")
    return bool(ordering(float(value), float(operand)))


def _passes(value: dict[str, Any], filter: Optional[dict[str, Any]]) -> bool:
    return not filter or all(_matches(value.get(k), c) for k, c in filter.items())


def _namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        part = namespace[: len(path)]
    elif condition.match_type == "suffix":
        part = namespace[len(namespace) - len(path) :]
    else:
        raise ValueError(f"Unsupported match type: {condition.match_type!r} (use 'prefix' or 'suffix')")
    return all(p == "*" or p == label for p, label in zip(path, part))


class MnemoStore(BaseStore):
    """LangGraph's long-term store in a mnemodb database.

    ``MnemoStore(client_or_path, index={"dims": 384, "embed": embeddings, "fields": ["text"]},
    ttl={"default_ttl": 60, "refresh_on_read": True})``; ``index`` and ``ttl`` are optional.
    ``collection`` names the mnemodb collection holding the vectors. Several processes may use
    one directory.
    """

    supports_ttl: bool = True

    def __init__(
        self,
        target: Union[str, "os.PathLike[str]", Any],
        *,
        index: Optional[IndexConfig] = None,
        ttl: Optional[TTLConfig] = None,
        collection: str = "langgraph_store",
    ) -> None:
        self._db, self._owner = native_database(target)
        self._client: Any = self._owner if self._owner is not None else target
        self.ttl_config = ttl
        self.index_config = dict(index) if index else None
        self._embeddings = ensure_embeddings(index.get("embed")) if index else None
        self._fields = [(p, p if p == "$" else tokenize_path(p)) for p in ((index or {}).get("fields") or ["$"])]
        self._collection_name = collection
        self._vectors: Any = None
        self._sweeper: Optional[threading.Thread] = None
        self._stop = threading.Event()

    # lifecycle
    def close(self) -> None:
        """Stops the sweeper and closes the client this store opened from a path."""
        self.stop_ttl_sweeper()
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.close()

    def __enter__(self) -> "MnemoStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _collection(self) -> Any:
        if self._vectors is None:
            self._vectors = self._client.get_or_create_collection(
                self._collection_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
        return self._vectors

    # TTL
    def sweep_ttl(self) -> int:
        """Deletes expired items (and their vectors) now; returns how many."""
        dead = _native.lg_store_sweep(self._db)
        if dead and self._embeddings is not None:
            self._collection().delete(where={"item": {"$in": [_item_id(ns, key) for ns, key in dead]}})
        return len(dead)

    def start_ttl_sweeper(self, sweep_interval_minutes: Optional[float] = None) -> None:
        """Sweeps expired items every ``sweep_interval_minutes`` (the TTL config's, else 5) on
        a daemon thread until ``stop_ttl_sweeper``. Expired items are never returned either way."""
        if self._sweeper is not None:
            return
        minutes = sweep_interval_minutes or (self.ttl_config or {}).get("sweep_interval_minutes") or _DEFAULT_SWEEP_MINUTES
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(minutes * 60.0):
                self.sweep_ttl()

        self._sweeper = threading.Thread(target=loop, name="mnemodb-langgraph-ttl", daemon=True)
        self._sweeper.start()

    def stop_ttl_sweeper(self, timeout: Optional[float] = None) -> bool:
        """Stops the sweeper; returns whether it ended within ``timeout`` seconds."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is None:
            return True
        self._stop.set()
        sweeper.join(timeout)
        return not sweeper.is_alive()

    # batch
    def _texts(self, puts: dict[tuple[tuple[str, ...], str], PutOp]) -> list[tuple[str, str, str]]:
        """``(item id, path, text)`` of every field to embed among ``puts``."""
        if self._embeddings is None:
            return []
        out: list[tuple[str, str, str]] = []
        for op in puts.values():
            if op.value is None or op.index is False:
                continue
            paths = self._fields if op.index is None else [(p, p if p == "$" else tokenize_path(p)) for p in op.index]
            for path, tokens in paths:
                texts = get_text_at_path(op.value, tokens)
                named = [(path, texts[0])] if len(texts) == 1 else [(f"{path}.{i}", t) for i, t in enumerate(texts)]
                out.extend((_item_id(op.namespace, op.key), p, t) for p, t in named)
        return out

    @staticmethod
    def _plan(ops: Iterable[Op]) -> tuple[list[Op], dict[tuple[tuple[str, ...], str], PutOp]]:
        listed = list(ops)
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in listed:
            validate_op_namespace(op)
            if isinstance(op, PutOp):
                puts[(tuple(op.namespace), str(op.key))] = op
            elif not isinstance(op, (GetOp, SearchOp, ListNamespacesOp)):
                raise ValueError(f"Unknown operation type: {type(op)}")
        return listed, puts

    def _queries(self, ops: list[Op]) -> list[str]:
        if self._embeddings is None:
            return []
        return sorted({op.query for op in ops if isinstance(op, SearchOp) and op.query})

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        listed, puts = self._plan(ops)
        queries = self._queries(listed)
        texts = self._texts(puts)
        unique = sorted({t for _, _, t in texts})
        query_vectors: dict[str, Any] = {}
        text_vectors: dict[str, Any] = {}
        if self._embeddings is not None:
            query_vectors = {q: self._embeddings.embed_query(q) for q in queries}
            if unique:
                text_vectors = dict(zip(unique, self._embeddings.embed_documents(unique)))
        return self._run(listed, puts, query_vectors, texts, text_vectors)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        listed, puts = self._plan(ops)
        queries = self._queries(listed)
        texts = self._texts(puts)
        unique = sorted({t for _, _, t in texts})
        query_vectors: dict[str, Any] = {}
        text_vectors: dict[str, Any] = {}
        if self._embeddings is not None:
            found = await asyncio.gather(*(self._embeddings.aembed_query(q) for q in queries))
            query_vectors = dict(zip(queries, found))
            if unique:
                text_vectors = dict(zip(unique, await self._embeddings.aembed_documents(unique)))
        # The storage calls release the GIL; a worker thread keeps the loop free meanwhile.
        return await asyncio.to_thread(self._run, listed, puts, query_vectors, texts, text_vectors)

    def _run(
        self,
        ops: list[Op],
        puts: dict[tuple[tuple[str, ...], str], PutOp],
        query_vectors: dict[str, Any],
        texts: list[tuple[str, str, str]],
        text_vectors: dict[str, Any],
    ) -> list[Result]:
        # Reads first: they see the state before this batch's writes.
        results: list[Result] = [None] * len(ops)
        gets = [(i, op) for i, op in enumerate(ops) if isinstance(op, GetOp)]
        refresh: list[tuple[list[str], str]] = []
        if gets:
            rows = _native.lg_store_get(self._db, [(list(g.namespace), str(g.key)) for _, g in gets])
            for (i, g), row in zip(gets, rows):
                results[i] = None if row is None else _item(row)
                if row is not None and row[5] is not None and g.refresh_ttl:
                    refresh.append((list(g.namespace), str(g.key)))
        namespaces: Optional[list[tuple[str, ...]]] = None
        for i, op in enumerate(ops):
            if isinstance(op, SearchOp):
                found, expiring = self._search(op, query_vectors.get(op.query) if op.query else None)
                results[i] = found
                if op.refresh_ttl:
                    refresh.extend((list(ns), key) for ns, key in expiring)
            elif isinstance(op, ListNamespacesOp):
                if namespaces is None:
                    namespaces = [tuple(ns) for ns in _native.lg_store_namespaces(self._db)]
                results[i] = self._list_namespaces(op, namespaces)
        if refresh:
            _native.lg_store_refresh(self._db, refresh)
        if puts:
            self._write(puts, texts, text_vectors)
        return results

    def _write(
        self,
        puts: dict[tuple[tuple[str, ...], str], PutOp],
        texts: list[tuple[str, str, str]],
        text_vectors: dict[str, Any],
    ) -> None:
        writes = [
            (
                list(ns),
                key,
                None if op.value is None else json.dumps(op.value, ensure_ascii=False),
                None if op.value is None or op.ttl is None else float(op.ttl) * 60.0,
            )
            for (ns, key), op in puts.items()
        ]
        if self._embeddings is None:
            _native.lg_store_write(self._db, writes)
            return
        # Old vectors go first, then the items, then their new vectors: a crash in between
        # leaves items that a query misses until they are put again, never stale vectors.
        col = self._collection()
        col.delete(where={"item": {"$in": [_item_id(ns, key) for ns, key in puts]}})
        _native.lg_store_write(self._db, writes)
        if texts:
            labels = {_item_id(ns, key): ns for ns, key in puts}
            col.add(
                ids=[f"{item}\x1f{path}" for item, path, _ in texts],
                embeddings=[list(map(float, text_vectors[t])) for _, _, t in texts],
                metadatas=[
                    {"item": item, **{f"ns_{d}": label for d, label in enumerate(labels[item])}}
                    for item, _, _ in texts
                ],
            )

    def _search(self, op: SearchOp, query: Any) -> tuple[list[SearchItem], list[tuple[tuple[str, ...], str]]]:
        """The page of results, and the keys among them that expire (a refreshing read
        restarts their time to live)."""
        rows = self._search_rows(op, query)
        page = [_search_item(row, score) for row, score in rows]
        return page, [(row[0], row[1]) for row, _ in rows if row[5] is not None]

    def _search_rows(self, op: SearchOp, query: Any) -> list[tuple[Any, Optional[float]]]:
        prefix = list(op.namespace_prefix)
        if query is None:
            rows = _native.lg_store_search(self._db, prefix)
            kept = [r for r in rows if _passes(json.loads(r[2]), op.filter)] if op.filter else rows
            return [(r, None) for r in kept[op.offset : op.offset + op.limit]]
        want = op.offset + op.limit
        # First without the prefix as a filter: when the prefix holds most vectors, building
        # its allow-list costs more than the search. The top `n` hits that lie under the
        # prefix are its top hits; only if too few of them do, the prefix becomes the filter.
        where: Any = None
        if len(prefix) == 1:
            where = {"ns_0": prefix[0]}
        elif prefix:
            where = {"$and": [{f"ns_{d}": label} for d, label in enumerate(prefix)]}
        filtered = where is None
        col = self._collection()
        n = max(want * 3, 10)
        ranked: list[tuple[str, float]] = []
        stored: dict[str, Any] = {}
        while True:
            hits = col.query(
                query_embeddings=[list(map(float, query))],
                n_results=n,
                where=where if filtered else None,
                include=["distances"],
            )
            # A vector's id names its item (`<item id>\x1f<path>`): no metadata to read.
            ids, distances = hits["ids"][0], hits["distances"][0]
            best: dict[str, float] = {}
            keys: dict[str, Any] = {}
            for vid, distance in zip(ids, distances):
                item = vid.rsplit("\x1f", 1)[0]
                if item in best:
                    continue
                ns, key = keys[item] = json.loads(item)
                if filtered or ns[: len(prefix)] == prefix:
                    best[item] = 1.0 - float(distance)
            unknown = [item for item in best if item not in stored]
            if unknown:
                for item, row in zip(unknown, _native.lg_store_get(self._db, [tuple(keys[item]) for item in unknown])):
                    stored[item] = row
            ranked = [
                (item, score)
                for item, score in best.items()
                if stored[item] is not None and (not op.filter or _passes(json.loads(stored[item][2]), op.filter))
            ]
            exhausted = len(ids) < n
            if len(ranked) >= want or exhausted:
                break
            if not filtered:
                filtered = True
            else:
                n *= 4
        out: list[tuple[Any, Optional[float]]] = [(stored[item], score) for item, score in ranked[op.offset : want]]
        if len(out) < op.limit and exhausted:
            # Every vector under the prefix was seen: items without one fill the page.
            for row in _native.lg_store_search(self._db, prefix):
                if len(out) >= op.limit:
                    break
                if _item_id(row[0], row[1]) not in best and _passes(json.loads(row[2]), op.filter):
                    out.append((row, None))
        return out

    @staticmethod
    def _list_namespaces(op: ListNamespacesOp, namespaces: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
        chosen = [ns for ns in namespaces if all(_namespace_matches(c, ns) for c in op.match_conditions or ())]
        if op.max_depth is not None:
            chosen = list({ns[: op.max_depth] for ns in chosen})
        return sorted(chosen)[op.offset : op.offset + op.limit]
