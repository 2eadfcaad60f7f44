"""``MnemoRagClient``: a ``crewai.rag`` ``BaseClient`` with crewai's Chroma client semantics.

What it keeps from ``crewai.rag.chromadb.client.ChromaDBClient`` (crewai 1.15.30), using the
same helper functions where crewai has them (``crewai.rag.chromadb.utils``):

- ids: ``doc_id``, else ``metadata["doc_id"]``, else the sha256 of the content (and
  ``"|" + json.dumps(metadata, sort_keys=True)`` when there is metadata); a list-valued
  metadata uses its first element; duplicate ids in one call: the last wins;
- writes are upserts, in batches of ``batch_size`` (default: the config's, 100);
- collection names are sanitised as crewai does (3-63 characters, ``ip_`` before IPv4 names);
- ``create_collection`` / ``get_or_create_collection`` default to ``hnsw:space=cosine``;
  collections first made by ``add_documents`` or ``search`` get Chroma's default, ``l2``;
- score from the collection's space: cosine ``clamp(1 - d/2)`` = ``(1 + cos) / 2``, l2
  ``clamp(1 / (1 + d))``; ``score_threshold`` is applied after the query (0 or ``None``:
  none); searching a missing collection creates it and returns ``[]``.

One deliberate difference: a ``metadata_filter`` of several plain ``key: value`` pairs is
turned into ``$and`` of equalities (Chroma refuses such a dict); an operator dict passes as is.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

import mnemodb
from mnemodb.config import Settings
from mnemodb.errors import InvalidArgumentError

from crewai.rag.chromadb.utils import (  # type: ignore  # chromadb is optional
    _convert_distance_to_score,
    _create_batch_slice,
    _prepare_documents_for_chromadb,
    _sanitize_collection_name,
)
from crewai.rag.core.base_client import BaseClient  # type: ignore  # crewai is optional
from crewai.rag.types import SearchResult  # type: ignore  # crewai is optional

from ._paths import rag_path


def _where(metadata_filter: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if not metadata_filter:
        return None
    if len(metadata_filter) > 1 and not any(str(k).startswith("$") for k in metadata_filter):
        return {"$and": [{k: v} for k, v in metadata_filter.items()]}
    return dict(metadata_filter)


class MnemoRagClient(BaseClient):
    """A ``crewai.rag`` client on a mnemodb database directory (``path``, default
    ``<default_root()>/rag``). ``embedding_function`` is any Chroma-style embedding function
    (``__call__(self, input)``), such as the ones crewai's ``build_embedder`` returns."""

    def __init__(
        self,
        path: "str | os.PathLike[str] | None" = None,
        embedding_function: Any = None,
        default_limit: int = 5,
        default_score_threshold: float = 0.6,
        default_batch_size: int = 100,
    ) -> None:
        self.path = str(Path(path if path is not None else rag_path()).expanduser().resolve())
        os.makedirs(self.path, exist_ok=True)
        settings = Settings(is_persistent=True, persist_directory=self.path, allow_reset=True)
        self.client = mnemodb.PersistentClient(self.path, settings=settings)
        self.embedding_function = embedding_function
        self.default_limit = default_limit
        self.default_score_threshold = default_score_threshold
        self.default_batch_size = default_batch_size

    def __repr__(self) -> str:
        return f"MnemoRagClient(path={self.path!r})"

    def __deepcopy__(self, memo: Optional[Dict[int, Any]] = None) -> "MnemoRagClient":
        return self

    # collections
    def _create(self, kwargs: Dict[str, Any], get_or_create: bool) -> Any:
        metadata = dict(kwargs.get("metadata") or {})
        metadata.setdefault("hnsw:space", "cosine")
        return self.client.create_collection(
            name=_sanitize_collection_name(kwargs["collection_name"]),
            configuration=kwargs.get("configuration"),
            metadata=metadata,
            embedding_function=kwargs.get("embedding_function", self.embedding_function),
            data_loader=kwargs.get("data_loader"),
            get_or_create=get_or_create or bool(kwargs.get("get_or_create", False)),
        )

    def create_collection(self, **kwargs: Any) -> None:
        self._create(kwargs, get_or_create=False)

    def get_or_create_collection(self, **kwargs: Any) -> Any:
        return self._create(kwargs, get_or_create=True)

    def _plain(self, collection_name: str) -> Any:
        """Chroma's ``get_or_create_collection(name, embedding_function)`` with no metadata:
        an existing collection as it is, a new one in Chroma's default space (l2)."""
        return self.client.get_or_create_collection(
            name=_sanitize_collection_name(collection_name), embedding_function=self.embedding_function
        )

    def delete_collection(self, **kwargs: Any) -> None:
        """Raises ``NotFoundError`` for a missing collection, as Chroma does."""
        self.client.delete_collection(name=_sanitize_collection_name(kwargs["collection_name"]))

    def reset(self) -> None:
        """Deletes every collection of this client's directory."""
        self.client.reset()

    # documents
    def add_documents(self, **kwargs: Any) -> None:
        documents = kwargs["documents"]
        batch_size = kwargs.get("batch_size") or self.default_batch_size
        if not documents:
            raise ValueError("Documents list cannot be empty")
        collection = self._plain(kwargs["collection_name"])
        prepared = _prepare_documents_for_chromadb(documents)
        for i in range(0, len(prepared.ids), batch_size):
            ids, texts, batch_md = _create_batch_slice(prepared=prepared, start_index=i, batch_size=batch_size)
            # Chroma refuses the {} crewai sends for documents without metadata: None instead
            metadatas: Any = None if batch_md is None else [dict(m) if m else None for m in batch_md]
            try:
                collection.upsert(ids=ids, documents=texts, metadatas=metadatas)
            except InvalidArgumentError as e:
                if "dimension" in str(e):
                    raise ValueError(f"Embedding dimension mismatch: {e}") from e
                raise

    def search(self, **kwargs: Any) -> List[SearchResult]:
        limit = kwargs.get("limit", self.default_limit)
        threshold = kwargs.get("score_threshold", self.default_score_threshold)
        include = list(kwargs.get("include") or ["metadatas", "documents", "distances"])
        where = kwargs.get("where")
        if where is None:
            where = _where(kwargs.get("metadata_filter"))
        collection = self._plain(kwargs["collection_name"])
        results = collection.query(
            query_texts=[kwargs["query"]],
            n_results=limit,
            where=where,
            where_document=kwargs.get("where_document"),
            include=include,
        )
        metric = (collection.metadata or {}).get("hnsw:space", "l2")
        ids = results["ids"][0] if results.get("ids") else []
        docs = (results.get("documents") or [[]])[0] if "documents" in include else []
        mds = (results.get("metadatas") or [[]])[0] if "metadatas" in include else []
        dists = (results.get("distances") or [[]])[0] if "distances" in include else []
        out: List[SearchResult] = []
        for i, doc_id in enumerate(ids):
            if i >= len(dists):
                continue
            score = _convert_distance_to_score(distance=float(dists[i]), distance_metric=metric)
            if threshold and score < threshold:
                continue
            out.append(
                {
                    "id": doc_id,
                    "content": docs[i] if i < len(docs) and docs[i] is not None else "",
                    "metadata": dict(mds[i]) if i < len(mds) and mds[i] is not None else {},
                    "score": score,
                }
            )
        return out

    # async twins: the same work in a worker thread (the engine releases the GIL)
    async def acreate_collection(self, **kwargs: Any) -> None:
        await asyncio.to_thread(lambda: self.create_collection(**kwargs))

    async def aget_or_create_collection(self, **kwargs: Any) -> Any:
        return await asyncio.to_thread(lambda: self.get_or_create_collection(**kwargs))

    async def aadd_documents(self, **kwargs: Any) -> None:
        await asyncio.to_thread(lambda: self.add_documents(**kwargs))

    async def asearch(self, **kwargs: Any) -> List[SearchResult]:
        return await asyncio.to_thread(lambda: self.search(**kwargs))

    async def adelete_collection(self, **kwargs: Any) -> None:
        await asyncio.to_thread(lambda: self.delete_collection(**kwargs))

    async def areset(self) -> None:
        await asyncio.to_thread(self.reset)
