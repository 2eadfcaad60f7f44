"""``MnemoVectorStore``: mem0's ``VectorStoreBase`` over one mnemodb collection.

A memory is one record: mem0's id, its vector, its payload as metadata (filterable), and as
document its BM25 text (``text_lemmatized``, else ``data``) in the form ``_keywords`` searches.
Payload values mnemodb metadata cannot hold (``None``, dicts, empty or mixed lists, keys
starting with ``#``, ``$``, ``chroma:`` or ``mem0:``) travel together as one JSON string under
the key ``mem0:json``, so every payload comes back as it was given; filters reach them through
the Python check of ``_filters`` only. Integers beyond 64 bits, NaN and infinities are refused.

Scores are similarities, higher is closer, as ``VectorStoreBase.search`` asks: ``1 - d`` for
cosine (clamped at 0) and inner product, ``1 / (1 + d)`` for l2.
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from mem0.vector_stores.base import VectorStoreBase  # type: ignore  # mem0 is optional, untyped
from pydantic import BaseModel

from . import _filters, _keywords

logger = logging.getLogger(__name__)

JSON_KEY = "mem0:json"
_I64 = 1 << 63
_OVERFETCH = 4  # a search with a filter checked in Python asks for 4x top_k, then more
# keyword_search reads the scope's documents instead of asking the full-text index when the
# scope holds at most SCAN_SCOPE_MAX records and at most 1/SCAN_SCOPE_FRACTION of the collection.
SCAN_SCOPE_MAX = 4096
SCAN_SCOPE_FRACTION = 8


class OutputData(BaseModel):
    """One hit: the memory's id, its score (``None`` for ``get`` / ``list``) and payload."""

    id: Optional[str]
    score: Optional[float]
    payload: Optional[Dict[str, Any]]


# ---- payloads <-> metadata --------------------------------------------------------------------


def _native_scalar(v: Any) -> bool:
    if isinstance(v, (str, bool)):
        return True
    if isinstance(v, int):
        return -_I64 <= v < _I64
    return isinstance(v, float) and math.isfinite(v)


def _native_value(v: Any) -> bool:
    if isinstance(v, list):
        return bool(v) and all(_native_scalar(x) for x in v) and len({type(x) for x in v}) == 1
    return _native_scalar(v)


def _native_key(k: Any) -> bool:
    return isinstance(k, str) and bool(k) and k[0] not in "#$" and not k.startswith(("chroma:", "mem0:"))


def to_metadata(payload: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """mem0's payload as mnemodb metadata (``None`` for an empty payload)."""
    if not payload:
        return None
    md: Dict[str, Any] = {}
    rest: Dict[str, Any] = {}
    for k, v in payload.items():
        if isinstance(v, int) and not isinstance(v, bool) and not -_I64 <= v < _I64:
            # Stored aside it would escape mnemodb's numeric filters, which the Python check
            # of the same filter would not: refused, as chromadb refuses it.
            raise TypeError(f"mem0 payload key {k!r}: integers beyond 64 bits are not supported, got {v}")
        if _native_key(k) and _native_value(v):
            md[k] = list(v) if isinstance(v, list) else v
        else:
            rest[k] = v
    if rest:
        try:
            md[JSON_KEY] = json.dumps(rest, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as e:
            raise TypeError(f"mem0 payload keys {sorted(map(str, rest))} hold values mnemodb cannot store: {e}") from e
    return md


def to_payload(md: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The payload :func:`to_metadata` stored as ``md``."""
    if not md:
        return {}
    payload = {k: v for k, v in md.items() if k != JSON_KEY}
    extra = md.get(JSON_KEY)
    if isinstance(extra, str):
        payload.update(json.loads(extra))
    return payload


def document(payload: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The record's document: the index text of mem0's BM25 text."""
    if not payload:
        return None
    text = payload.get("text_lemmatized")
    if not isinstance(text, str):
        text = payload.get("data")
    return _keywords.index_text(text)


# ---- the store --------------------------------------------------------------------------------


class MnemoVectorStore(VectorStoreBase):  # type: ignore[misc]  # mem0's base is untyped
    """mem0's vector store on mnemodb (provider ``"mnemodb"``; see :class:`MnemoDbConfig`)."""

    def __init__(
        self,
        collection_name: str = "mem0",
        path: Optional[str] = None,
        client: Any = None,
        distance: str = "cosine",
        embedding_model_dims: Optional[int] = None,
        keyword_search: bool = True,
    ) -> None:
        if client is None:
            import mnemodb

            if path is None:
                from mem0.memory.setup import mem0_dir  # type: ignore  # mem0 is optional

                path = os.path.join(mem0_dir, "mnemodb")
            client = mnemodb.PersistentClient(path=path)
        self.client = client
        self.collection_name = collection_name
        self.distance = distance
        self.embedding_model_dims = embedding_model_dims
        self.keyword_search_enabled = keyword_search
        self._use(self.create_col(collection_name, embedding_model_dims, distance))

    def _use(self, collection: Any) -> None:
        self.collection = collection
        self._collection_space = self._space(collection)  # fixed for a collection's life

    # collections
    def create_col(self, name: str, vector_size: Optional[int] = None, distance: Optional[str] = None) -> Any:
        """Creates the collection ``name`` (or gets it: an existing one keeps its space)."""
        space = distance or self.distance
        if space not in ("cosine", "l2", "ip"):
            raise ValueError(f"distance must be 'cosine', 'l2' or 'ip', got {space!r}")
        return self.client.get_or_create_collection(name=name, configuration={"hnsw": {"space": space}})

    def list_cols(self) -> List[Any]:
        return list(self.client.list_collections())

    def delete_col(self) -> None:
        self.client.delete_collection(name=self.collection_name)

    def col_info(self) -> Dict[str, Any]:
        col = self.client.get_collection(name=self.collection_name)
        return {
            "name": col.name,
            "id": str(col.id),
            "count": col.count(),
            "space": self._space(col),
            "metadata": col.metadata,
        }

    def reset(self) -> None:
        """Deletes the collection and creates it again, empty."""
        logger.warning("Resetting collection %s", self.collection_name)
        if self.collection_name in {c.name for c in self.client.list_collections()}:
            self.delete_col()
        self._use(self.create_col(self.collection_name, self.embedding_model_dims, self.distance))

    # writes
    def insert(self, vectors: Any, payloads: Optional[Sequence[Optional[Mapping[str, Any]]]] = None, ids: Optional[Sequence[str]] = None) -> None:
        if len(vectors) == 0:
            return
        matrix = self._matrix(vectors)
        ids_l = [str(i) for i in ids] if ids is not None else [str(uuid.uuid4()) for _ in range(len(matrix))]
        pls: Sequence[Optional[Mapping[str, Any]]] = payloads if payloads is not None else [None] * len(matrix)
        if not (len(ids_l) == len(pls) == len(matrix)):
            raise ValueError(f"insert got {len(vectors)} vectors, {len(pls)} payloads and {len(ids_l)} ids")
        mds = [to_metadata(p) for p in pls]
        docs = [document(p) for p in pls]
        self.collection.add(
            ids=ids_l,
            embeddings=matrix,
            metadatas=mds if any(m is not None for m in mds) else None,
            documents=docs if any(d is not None for d in docs) else None,
        )

    def update(self, vector_id: str, vector: Any = None, payload: Optional[Mapping[str, Any]] = None) -> None:
        """Replaces the vector and/or the payload (the whole payload: keys it lacks are removed).
        An id that does not exist is ignored, as chromadb's ``update`` does."""
        vector_id = str(vector_id)
        if vector is None and payload is None:
            return
        vectors = self._matrix([self._one_vector(vector)]) if vector is not None else None
        if payload is None:
            self.collection.update(ids=[vector_id], embeddings=vectors)
            return
        old = self.collection.get(ids=[vector_id], include=["metadatas", "documents"])
        if not old["ids"]:
            return
        old_md = old["metadatas"][0] or {}
        md = to_metadata(payload) or {}
        for k in old_md:
            if k not in md:
                md[k] = None  # removes the key
        doc = document(payload) or ""
        docs = [doc] if doc != (old["documents"][0] or "") else None
        if docs is not None and vectors is None:
            # A new document without a vector would be re-embedded: keep the stored vector.
            vectors = self.collection.get(ids=[vector_id], include=["embeddings"])["embeddings"]
        self.collection.update(ids=[vector_id], embeddings=vectors, metadatas=[md] if md else None, documents=docs)

    def delete(self, vector_id: str) -> None:
        self.collection.delete(ids=[str(vector_id)])

    # reads
    def get(self, vector_id: str) -> Optional[OutputData]:
        r = self.collection.get(ids=[str(vector_id)], include=["metadatas"])
        if not r["ids"]:
            return None
        return OutputData(id=r["ids"][0], score=None, payload=to_payload(r["metadatas"][0]))

    def list(self, filters: Optional[Mapping[str, Any]] = None, top_k: Optional[int] = 100) -> List[List[OutputData]]:
        """The memories passing ``filters`` in insertion order, at most ``top_k`` (``None``: all),
        wrapped in a list as mem0's other stores return them."""
        compiled = _filters.compile_filters(filters)
        limit = top_k if compiled.exact else None
        r = self.collection.get(where=compiled.where, limit=limit, include=["metadatas"])
        rows = [OutputData(id=i, score=None, payload=to_payload(m)) for i, m in zip(r["ids"], r["metadatas"])]
        if not compiled.exact:
            rows = [o for o in rows if _filters.matches(filters, o.payload or {})]
        return [rows[:top_k] if top_k is not None else rows]

    def search(self, query: str, vectors: Any, top_k: int = 5, filters: Optional[Mapping[str, Any]] = None) -> List[OutputData]:
        """The ``top_k`` memories nearest ``vectors`` (one query vector) passing ``filters``."""
        return self.search_batch([query], [self._one_vector(vectors)], top_k=top_k, filters=filters)[0]

    def search_batch(self, queries: Sequence[str], vectors_list: Sequence[Any], top_k: int = 1, filters: Optional[Mapping[str, Any]] = None) -> List[List[OutputData]]:
        """:meth:`search` for several query vectors in one query."""
        if len(vectors_list) == 0:
            return []
        vecs = self._matrix([self._one_vector(v) for v in vectors_list])
        if top_k <= 0:
            return [[] for _ in vecs]
        compiled = _filters.compile_filters(filters)
        space = self._collection_space
        if compiled.exact:
            return self._query(vecs, top_k, compiled.where, space)
        # Over-fetch and check in Python, asking for more until top_k pass or none are left.
        out: List[List[OutputData]] = []
        for vec in vecs:
            n = max(top_k * _OVERFETCH, 32)
            while True:
                hits = self._query(vec[None, :], n, compiled.where, space)[0]
                kept = [o for o in hits if _filters.matches(filters, o.payload or {})]
                if len(kept) >= top_k or len(hits) < n:
                    out.append(kept[:top_k])
                    break
                n *= _OVERFETCH
        return out

    def keyword_search(
        self, query: str, top_k: int = 5, filters: Optional[Mapping[str, Any]] = None
    ) -> Optional[List[OutputData]]:
        """The ``top_k`` memories passing ``filters`` whose BM25 text holds a word of ``query``,
        by BM25 score (see ``_keywords``), ties in insertion order; ``None`` (mem0: no keyword
        search, vectors only) when the store was made with ``keyword_search=False``.

        Two ways to find the records, the cheaper chosen by counts alone: the document
        full-text index (``where_document``), whose work grows with the matches in the whole
        collection; or, when the filters' scope is a small part of the collection (a user's
        memories among many users'), reading the scope's documents, whose work grows with the
        scope only. Both give the same records and scores."""
        if not self.keyword_search_enabled:
            return None
        terms = _keywords.query_terms(query or "")
        if not terms or top_k <= 0:
            return []
        compiled = _filters.compile_filters(filters)
        scope = self._count(compiled.where)
        include = ["documents"] if compiled.exact else ["documents", "metadatas"]
        if scope <= SCAN_SCOPE_MAX and scope * SCAN_SCOPE_FRACTION <= self.collection.count():
            r = self.collection.get(where=compiled.where, include=include)
            wanted = set(terms)
            keep = [j for j, doc in enumerate(r["documents"]) if doc and not wanted.isdisjoint(doc.split())]
        else:
            r = self.collection.get(where=compiled.where, where_document=_keywords.where_document(terms), include=include)
            keep = list(range(len(r["ids"])))
        if not compiled.exact:  # the part of the filters mnemodb could not say
            keep = [j for j in keep if _filters.matches(filters, to_payload(r["metadatas"][j]))]
        if not keep:
            return []
        scores = _keywords.bm25(terms, [r["documents"][j] for j in keep], scope)
        best = sorted(range(len(keep)), key=lambda x: -scores[x])[:top_k]
        ids = [r["ids"][keep[x]] for x in best]
        if compiled.exact:
            got = self.collection.get(ids=ids, include=["metadatas"])
            payloads = {i: to_payload(m) for i, m in zip(got["ids"], got["metadatas"])}
        else:
            payloads = {r["ids"][keep[x]]: to_payload(r["metadatas"][keep[x]]) for x in best}
        return [OutputData(id=i, score=scores[x], payload=payloads[i]) for i, x in zip(ids, best) if i in payloads]

    # helpers
    def _query(self, vecs: Any, n: int, where: Optional[Dict[str, Any]], space: str) -> List[List[OutputData]]:
        r = self.collection.query(query_embeddings=vecs, n_results=n, where=where, include=["metadatas", "distances"])
        return [
            [OutputData(id=i, score=_similarity(space, d), payload=to_payload(m)) for i, d, m in zip(ids, dists, mds)]
            for ids, dists, mds in zip(r["ids"], r["distances"], r["metadatas"])
        ]

    def _count(self, where: Optional[Dict[str, Any]]) -> int:
        """Records passing ``where``, counted by mnemodb's index without reading them."""
        native = getattr(self.collection, "_native", None)
        if native is not None:
            return int(native.count(where))
        if where is None:  # another client with chromadb's API
            return int(self.collection.count())
        return len(self.collection.get(where=where, include=[])["ids"])

    @staticmethod
    def _space(col: Any) -> str:
        config = getattr(col, "configuration", None) or {}
        return str((config.get("hnsw") or {}).get("space") or "l2")

    @staticmethod
    def _one_vector(vectors: Any) -> Any:
        """mem0 passes one query vector, sometimes wrapped in a list."""
        arr = np.asarray(vectors, dtype=np.float32)
        return arr[0] if arr.ndim == 2 and arr.shape[0] == 1 else arr

    def _matrix(self, vectors: Any) -> Any:
        """``vectors`` as a float32 matrix, one row per vector, of the configured size."""
        m = np.asarray(vectors, dtype=np.float32)
        if m.ndim != 2:
            raise ValueError(f"expected a list of vectors, got an array of shape {m.shape}")
        if self.embedding_model_dims is not None and m.shape[1] != self.embedding_model_dims:
            raise ValueError(
                f"mnemodb vector store {self.collection_name!r} expects vectors of embedding_model_dims="
                f"{self.embedding_model_dims}, got {m.shape[1]}: check the embedder's output size"
            )
        return m


def _similarity(space: str, distance: float) -> float:
    if space == "l2":
        return 1.0 / (1.0 + distance)
    if space == "cosine":
        return max(0.0, 1.0 - distance)
    return 1.0 - distance  # ip: chromadb's distance is 1 - dot
