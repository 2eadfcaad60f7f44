"""``MnemoKnowledgeStorage``: crewai's ``BaseKnowledgeStorage`` over :class:`MnemoRagClient`.

It does what crewai's ``KnowledgeStorage`` does (collection ``knowledge_<name>`` or
``knowledge``, one document per chunk, a query list joined with spaces, the embedder built by
crewai's ``build_embedder``), with one difference: search and reset errors are raised, not
logged and swallowed, so a broken store does not look like an empty one.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from pydantic import Field, PrivateAttr  # type: ignore  # comes with crewai

from crewai.knowledge.storage.base_knowledge_storage import BaseKnowledgeStorage  # type: ignore  # crewai is optional
from crewai.rag.types import SearchResult  # type: ignore  # crewai is optional
from mnemodb.errors import NotFoundError

from ._rag import MnemoRagClient

_MISMATCH = (
    "Embedding dimension mismatch. Make sure you're using the same embedding model "
    "across all operations with this collection."
    "Try resetting the collection using `crewai reset-memories -a`"
)


class MnemoKnowledgeStorage(BaseKnowledgeStorage):
    """Knowledge chunks in the mnemodb directory ``path`` (default ``<default_root()>/rag``).

    ``embedder`` is a crewai embedder spec (``{"provider": ..., "config": ...}``) or provider;
    without one, the embedding function of crewai's global RAG config is used (as crewai's
    ``KnowledgeStorage`` uses the global client), which needs ``OPENAI_API_KEY`` by default.
    """

    collection_name: Optional[str] = None
    embedder: Any = Field(default=None, exclude=True)
    path: Optional[str] = None
    _client: Optional[MnemoRagClient] = PrivateAttr(default=None)

    def _get_client(self) -> MnemoRagClient:
        if self._client is None:
            if self.embedder:
                from crewai.rag.embeddings.factory import build_embedder  # type: ignore  # crewai is optional

                ef = build_embedder(self.embedder)
                self._client = MnemoRagClient(self.path, embedding_function=ef)
            else:
                from crewai.rag.config.utils import get_rag_config  # type: ignore  # crewai is optional

                cfg = get_rag_config()
                self._client = MnemoRagClient(
                    self.path,
                    embedding_function=cfg.embedding_function,
                    default_limit=cfg.limit,
                    default_score_threshold=cfg.score_threshold,
                    default_batch_size=cfg.batch_size,
                )
        return self._client

    def __deepcopy__(self, memo: Optional[Dict[int, Any]] = None) -> "MnemoKnowledgeStorage":
        return self

    @property
    def _collection(self) -> str:
        return f"knowledge_{self.collection_name}" if self.collection_name else "knowledge"

    def search(
        self,
        query: List[str],
        limit: int = 5,
        metadata_filter: Optional[Dict[str, Any]] = None,
        score_threshold: float = 0.6,
    ) -> List[SearchResult]:
        if not query:
            raise ValueError("Query cannot be empty")
        return self._get_client().search(
            collection_name=self._collection,
            query=" ".join(query) if len(query) > 1 else query[0],
            limit=limit,
            metadata_filter=metadata_filter,
            score_threshold=score_threshold,
        )

    def save(self, documents: List[str]) -> None:
        if not documents:
            return
        client = self._get_client()
        client.get_or_create_collection(collection_name=self._collection)
        try:
            client.add_documents(collection_name=self._collection, documents=[{"content": d} for d in documents])
        except ValueError as e:
            if "dimension mismatch" in str(e).lower():
                raise ValueError(_MISMATCH) from e
            raise

    def reset(self) -> None:
        try:
            self._get_client().delete_collection(collection_name=self._collection)
        except NotFoundError:
            pass

    async def asearch(
        self,
        query: List[str],
        limit: int = 5,
        metadata_filter: Optional[Dict[str, Any]] = None,
        score_threshold: float = 0.6,
    ) -> List[SearchResult]:
        import asyncio

        return await asyncio.to_thread(self.search, query, limit, metadata_filter, score_threshold)

    async def asave(self, documents: List[str]) -> None:
        import asyncio

        await asyncio.to_thread(self.save, documents)

    async def areset(self) -> None:
        import asyncio

        await asyncio.to_thread(self.reset)
