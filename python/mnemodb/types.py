"""Argument and result types with chromadb's names and shapes (``chromadb.api.types``).

A program typed against chromadb 1.5.9 type-checks against these after the import swap:
the aliases denote the same types (``Embeddings`` is a list of 1-D numpy arrays, ``Where`` the
filter grammar, ``Include`` the list of field names), the result dicts have the same keys and
value types, and :class:`EmbeddingFunction` / :class:`DataLoader` are the same protocols. Also
importable as ``mnemodb.api.types`` and, for the common names, from ``mnemodb`` itself.

Not here (chromadb's, unsupported by mnemodb): sparse vectors, ``Search`` expressions,
``Schema`` and index configuration classes, CMEK.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, TypeVar, Union

import numpy as np
from numpy.typing import NDArray

if sys.version_info >= (3, 11):
    from typing import NotRequired, Protocol, TypedDict, runtime_checkable
else:  # pragma: no cover
    from typing import Protocol, TypedDict, runtime_checkable

    NotRequired = Optional

T = TypeVar("T")
OneOrMany = Union[T, List[T]]
"""One item or a list of them: what the write and read methods accept."""

ID = str
IDs = List[ID]
Document = str
Documents = List[Document]
URI = str
URIs = List[URI]

# Embeddings: numpy vectors (float32, or int32 as chromadb allows), or plain number sequences.
Vector = NDArray[Union[np.int32, np.float32]]
PyVector = Union[Sequence[float], Sequence[int]]
Embedding = Vector
Embeddings = List[Embedding]
PyEmbedding = PyVector
PyEmbeddings = List[PyEmbedding]
ImageDType = Union[np.uint, np.int64, np.float64]
Image = NDArray[ImageDType]
Images = List[Image]

# Metadata: flat maps of scalars (and, as in chromadb 1.5, lists of one scalar type).
MetadataListValue = List[Union[str, int, float, bool]]
MetadataValue = Optional[Union[str, int, float, bool, MetadataListValue]]
Metadata = Mapping[str, MetadataValue]
Metadatas = List[Metadata]
UpdateMetadata = Mapping[str, MetadataValue]
CollectionMetadata = Dict[str, Any]
UpdateCollectionMetadata = UpdateMetadata

# The filter grammars of ``where`` and ``where_document``.
LiteralValue = Union[str, int, float, bool]
LogicalOperator = Literal["$and", "$or"]
WhereOperator = Literal["$gt", "$gte", "$lt", "$lte", "$ne", "$eq"]
InclusionExclusionOperator = Literal["$in", "$nin"]
ArrayContainsOperator = Literal["$contains", "$not_contains"]
OperatorExpression = Union[
    Dict[Union[WhereOperator, LogicalOperator], LiteralValue],
    Dict[InclusionExclusionOperator, List[LiteralValue]],
    Dict[ArrayContainsOperator, LiteralValue],
]
Where = Dict[Union[str, LogicalOperator], Union[LiteralValue, OperatorExpression, List["Where"]]]
WhereDocumentOperator = Literal["$contains", "$not_contains", "$regex", "$not_regex", "$and", "$or"]
WhereDocument = Dict[WhereDocumentOperator, Union[str, List["WhereDocument"]]]

IncludeItem = Literal["documents", "embeddings", "metadatas", "distances", "uris", "data"]
Include = List[IncludeItem]
IncludeMetadataDocuments: Include = ["metadatas", "documents"]
IncludeMetadataDocumentsEmbeddings: Include = ["metadatas", "documents", "embeddings"]
IncludeMetadataDocumentsDistances: Include = ["metadatas", "documents", "distances"]
IncludeMetadataDocumentsEmbeddingsDistances: Include = ["metadatas", "documents", "embeddings", "distances"]

Space = Literal["cosine", "l2", "ip"]
Embeddable = Union[Documents, Images]
Loadable = List[Optional[Image]]


class GetResult(TypedDict):
    """``get`` / ``peek``: fields not included are ``None``; embeddings a 2-D float32 array."""

    ids: List[ID]
    embeddings: Optional[Union[Embeddings, PyEmbeddings, NDArray[Union[np.int32, np.float32]]]]
    documents: Optional[List[Document]]
    uris: Optional[URIs]
    data: Optional[Loadable]
    metadatas: Optional[List[Metadata]]
    included: Include


class QueryResult(TypedDict):
    """``query``: one inner list per query vector, nearest first."""

    ids: List[IDs]
    embeddings: Optional[Union[List[Embeddings], List[PyEmbeddings], List[NDArray[Union[np.int32, np.float32]]]]]
    documents: Optional[List[List[Document]]]
    uris: Optional[List[List[URI]]]
    data: Optional[List[Loadable]]
    metadatas: Optional[List[List[Metadata]]]
    distances: Optional[List[List[float]]]
    included: Include


class DeleteResult(TypedDict):
    deleted: int


class HNSWConfiguration(TypedDict, total=False):
    """``configuration={"hnsw": {...}}``: chromadb's keys, plus ``num_threads`` and
    ``batch_size`` (chromadb 0.x's, accepted)."""

    space: Space
    ef_construction: int
    ef_search: int
    max_neighbors: int
    resize_factor: float
    sync_threshold: int
    num_threads: int
    batch_size: int


class CollectionConfiguration(TypedDict, total=False):
    """A collection's ``configuration``, as chromadb's ``CreateCollectionConfiguration``:
    the index settings and the embedding function (an object when creating; its name and
    config once stored, see :mod:`mnemodb.embedding_functions`)."""

    hnsw: Optional[HNSWConfiguration]
    spann: Optional[Dict[str, object]]
    embedding_function: Optional["EmbeddingFunction[Embeddable]"]


CreateCollectionConfiguration = CollectionConfiguration
UpdateCollectionConfiguration = CollectionConfiguration


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


D = TypeVar("D", bound=Embeddable, contravariant=True)
L = TypeVar("L", bound=Loadable, covariant=True)


@runtime_checkable
class EmbeddingFunction(Protocol[D]):
    """chromadb's protocol: ``__call__(self, input)`` returns one embedding per input.

    Any chromadb embedding function object satisfies it; ``embed_query`` is used for
    ``query_texts`` when the object has one, and ``name()`` / ``get_config()`` /
    ``build_from_config()`` (when present) persist it with the collection.
    """

    def __call__(self, input: D) -> Embeddings: ...


@runtime_checkable
class DataLoader(Protocol[L]):
    """chromadb's protocol: loads the data behind ``uris`` for the embedding function."""

    def __call__(self, uris: URIs) -> L: ...


# What the client methods accept as ``embedding_function``: a function of texts, of images,
# or of both (a contravariant protocol: a function of both is a function of either).
EmbeddingFunctionArg = Union[EmbeddingFunction[Documents], EmbeddingFunction[Images]]
DataLoaderArg = DataLoader[Loadable]

__all__ = [
    "OneOrMany",
    "ID",
    "IDs",
    "Document",
    "Documents",
    "URI",
    "URIs",
    "Vector",
    "PyVector",
    "Embedding",
    "Embeddings",
    "PyEmbedding",
    "PyEmbeddings",
    "Image",
    "Images",
    "Metadata",
    "Metadatas",
    "MetadataValue",
    "UpdateMetadata",
    "CollectionMetadata",
    "UpdateCollectionMetadata",
    "LiteralValue",
    "LogicalOperator",
    "WhereOperator",
    "OperatorExpression",
    "Where",
    "WhereDocumentOperator",
    "WhereDocument",
    "Include",
    "IncludeMetadataDocuments",
    "IncludeMetadataDocumentsEmbeddings",
    "IncludeMetadataDocumentsDistances",
    "IncludeMetadataDocumentsEmbeddingsDistances",
    "Space",
    "Embeddable",
    "Loadable",
    "GetResult",
    "QueryResult",
    "DeleteResult",
    "HNSWConfiguration",
    "CollectionConfiguration",
    "CreateCollectionConfiguration",
    "UpdateCollectionConfiguration",
    "IndexCoverage",
    "QueryPlan",
    "EmbeddingFunction",
    "DataLoader",
    "NotRequired",
]
