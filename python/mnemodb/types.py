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
    "EmbeddingFunction",
    "NotRequired",
    "Sequence",
]
