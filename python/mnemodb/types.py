"""Result and argument types with chromadb's names and shapes (``chromadb.api.types``)."""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, TypeVar, Union

if sys.version_info >= (3, 11):
    from typing import NotRequired, Protocol, TypedDict, runtime_checkable
else:  # pragma: no cover
    from typing import Protocol, TypedDict, runtime_checkable

    NotRequired = Optional

ID = str
IDs = List[ID]
Document = str
Documents = List[Document]
URI = str
URIs = List[URI]
MetadataValue = Union[str, int, float, bool, None, List[str], List[int], List[float], List[bool]]
Metadata = Mapping[str, MetadataValue]
Metadatas = List[Metadata]
CollectionMetadata = Dict[str, Any]
Where = Dict[str, Any]
WhereDocument = Dict[str, Any]
# An embedding is a numpy array or a list of numbers; a batch is a 2-D array or a list of them.
Embedding = Any
Embeddings = Any
IncludeItem = Literal["documents", "embeddings", "metadatas", "distances", "uris", "data"]
Include = List[IncludeItem]


class GetResult(TypedDict):
    """``get`` / ``peek``: fields not included are ``None``; embeddings a 2-D float32 array."""

    ids: List[ID]
    embeddings: Optional[Any]
    documents: Optional[List[Optional[Document]]]
    uris: Optional[List[Optional[URI]]]
    included: Include
    data: None
    metadatas: Optional[List[Optional[Dict[str, Any]]]]


class QueryResult(TypedDict):
    """``query``: one inner list per query vector, nearest first."""

    ids: List[List[ID]]
    embeddings: Optional[List[Any]]
    documents: Optional[List[List[Optional[Document]]]]
    uris: Optional[List[List[Optional[URI]]]]
    included: Include
    data: None
    metadatas: Optional[List[List[Optional[Dict[str, Any]]]]]
    distances: Optional[List[List[float]]]


class DeleteResult(TypedDict):
    deleted: int


class IndexCoverage(TypedDict):
    """What this process's HNSW graph of a collection covers (mnemodb's, not chromadb's)."""

    linked: int
    """Slots linked into the graph: a walk reaches them."""
    unlinked: int
    """Committed slots past those, scanned exactly beside a walk."""


class QueryPlan(TypedDict):
    """``Collection.explain``: how ``query`` would answer a request (mnemodb's, not chromadb's).

    Costs are estimated distance computations per query vector.
    """

    strategy: Literal["empty", "scan", "scan_candidates", "walk", "walk_allow_list"]
    reason: str
    """The rule that chose the strategy: ``no_vectors``, ``no_records``, ``no_candidates``,
    ``small_collection``, ``id_list``, ``exact_asked``, ``many_results``, ``few_candidates``,
    ``no_index``, ``large_collection`` or ``many_candidates``."""
    detail: str
    n_results: int
    ef: int
    live: int
    slots: int
    candidates: Optional[int]
    index: Optional[IndexCoverage]
    estimated_cost: int
    scan_cost: int
    walk_cost: Optional[int]
    catch_up: bool


D = TypeVar("D", contravariant=True)


@runtime_checkable
class EmbeddingFunction(Protocol[D]):
    """chromadb's protocol: ``__call__(self, input)`` returns one embedding per input.

    Any chromadb embedding function object satisfies it; ``embed_query`` is used for
    ``query_texts`` when the object has one.
    """

    def __call__(self, input: D) -> Embeddings: ...


__all__ = [
    "ID",
    "IDs",
    "Document",
    "Documents",
    "URI",
    "URIs",
    "Metadata",
    "Metadatas",
    "MetadataValue",
    "CollectionMetadata",
    "Where",
    "WhereDocument",
    "Embedding",
    "Embeddings",
    "Include",
    "GetResult",
    "QueryResult",
    "DeleteResult",
    "IndexCoverage",
    "QueryPlan",
    "EmbeddingFunction",
    "NotRequired",
    "Sequence",
]
