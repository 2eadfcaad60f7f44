"""The chromadb-shaped client and collection, over ``mnemodb._native``.

Mirrors chromadb 1.5.9's ``ClientAPI`` and ``Collection``: same arguments and defaults, the
same validation (and messages), the same result dicts. The engine does the work with the GIL
released, and it is the one validator: every check of a request (ids, lengths, metadata,
filters, ``include``, ``n_results``) is its, with chromadb's words. This module normalises
arguments (one item to a list, embeddings to a float32 matrix), runs embedding functions and
shapes results.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, cast

import numpy as np

from .. import _native
from .. import _validate as v
from .._chroma_types import presents_as
from ..errors import AuthorizationError, InvalidArgumentError, NotFoundError, _adopt_chroma
from ..config import Settings
from ..jobs import Job
from ..embedding_functions import DefaultEmbeddingFunction, build_embedding_function, describe_embedding_function
from ..types import (
    ID,
    URI,
    CollectionConfiguration,
    CollectionMetadata,
    DataLoaderArg,
    DeleteResult,
    Document,
    Embedding,
    EmbeddingFunctionArg,
    GetResult,
    Image,
    Include,
    Metadata,
    OneOrMany,
    PyEmbedding,
    QueryPlan,
    QueryResult,
    UpdateMetadata,
    Where,
    WhereDocument,
)

# chromadb's embeddings argument, with any sequence of number sequences (``[[1.0, 2.0]]``, which
# chromadb's own annotation rejects: ``List`` is invariant).
EmbeddingsArg = Optional[Union[OneOrMany[Embedding], PyEmbedding, Sequence[PyEmbedding]]]

DEFAULT_TENANT = "default_tenant"
DEFAULT_DATABASE = "default_database"
_MAX_BATCH_SIZE = 5461  # what chromadb reports; mnemodb itself has no batch limit

# chromadb's configuration keys (the engine also keeps num_threads and batch_size).
_HNSW_KEYS = ("space", "ef_construction", "ef_search", "max_neighbors", "resize_factor", "sync_threshold")

_NO_EF_MESSAGE = (
    "You must provide an embedding function to compute embeddings."
    "https://docs.trychroma.com/guides/embeddings "
    "(this collection was made with embedding_function=None: pass embeddings=..., or get the "
    "collection with embedding_function=..., for example "
    "mnemodb.embedding_functions.DefaultEmbeddingFunction() (all-MiniLM-L6-v2, chromadb's "
    "default), or mnemodb.embedding_functions.HashEmbeddingFunction() for tests)"
)


class _Default:
    """Marks an argument that was not passed (chromadb's default embedding function)."""

    def __repr__(self) -> str:
        return "<default: no embedding function>"


_DEFAULT: Any = _Default()


# One database per persist directory (and one for every ephemeral client) per process, as
# chromadb's shared system: clients on one path see the same collections. Each entry counts
# the clients using it; the last one to close closes it (as chromadb stops its system).
_databases: Dict[str, List[Any]] = {}
_databases_lock = threading.Lock()

# Seconds `Client.close()` lets background jobs (index building) run before cancelling them.
_CLOSE_TIMEOUT = 5.0


def _database(identifier: str, path: Optional[str]) -> Any:
    with _databases_lock:
        entry = _databases.get(identifier)
        if entry is None:
            db = _native.Database.open(path) if path is not None else _native.Database.in_memory()
            entry = _databases[identifier] = [db, 0]
        entry[1] += 1
        return entry[0]


def _release_database(identifier: str, db: Any) -> None:
    """One client fewer on `identifier`; the last one closes the database (jobs finished or
    cancelled, graphs and checkpoints saved)."""
    with _databases_lock:
        entry = _databases.get(identifier)
        if entry is None or entry[0] is not db:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _databases[identifier]
    db.close(_CLOSE_TIMEOUT)


class Client:
    """chromadb's ``ClientAPI`` over one mnemodb database (``mnemodb.api.ClientAPI`` is this class)."""

    __class__ = presents_as("chromadb.api.client", "Client")  # isinstance checks: _chroma_types.py

    def __init__(
        self,
        settings: Optional[Settings] = None,
        tenant: str = DEFAULT_TENANT,
        database: str = DEFAULT_DATABASE,
        *,
        path: Optional[str] = None,
        ephemeral: bool = False,
    ) -> None:
        self._settings, self.tenant, self.database, path = _target(settings, tenant, database, path, ephemeral)
        self._identifier = path or "ephemeral"
        self._closed = False
        self._db = _database(self._identifier, path)

    # context manager and lifecycle, as chromadb
    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Idempotent. The last client of a path (or of the ephemeral database) to close
        closes the database: background jobs get a few seconds to finish, the rest are
        cancelled, and the derived files (graphs, checkpoints) are saved. Committed records
        never depend on this."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        _release_database(self._identifier, self._db)

    def jobs(self) -> List[Job]:
        """The database's background jobs (index building, saves, expiry sweeps,
        compactions), queued or running, and the last finished ones: dicts with ``id``,
        ``kind``, ``collection``, ``done``, ``total``, ``state`` (queued, running, done,
        failed, cancelled) and ``error``, with ``wait(timeout)`` and ``cancel()``."""
        return [Job(d, self._db.job(d["id"])) for d in self._db.jobs()]

    def export(self, collection: Union[str, "Collection"], path: Union[str, "os.PathLike[str]"], format: str = "json") -> int:
        """Writes a collection to the file ``path`` (whole or not at all); returns the records
        written. ``format``: ``json`` (JSON lines after a header line), ``msgpack`` or
        ``postcard``, each optionally ``+zstd`` (``"msgpack+zstd"``). ``mnemodb export`` writes
        the same files."""
        name = collection if isinstance(collection, str) else collection.name
        return int(self._db.export(name, os.fspath(path), format))

    def import_(
        self,
        path: Union[str, "os.PathLike[str]"],
        name: Optional[str] = None,
        embedding_function: Optional[EmbeddingFunctionArg] = _DEFAULT,
    ) -> "Collection":
        """Imports a file written by :meth:`export` (or ``mnemodb export``) as a new collection
        called ``name`` (default: the exported name) and returns it. Atomic: a bad record
        raises ``InvalidArgumentError`` naming its line (or value number) and leaves no
        collection behind."""
        imported, _ = self._db.import_(os.fspath(path), name)
        return self.get_collection(imported, embedding_function=embedding_function)

    def backup(self, dest: Union[str, "os.PathLike[str]"]) -> Dict[str, int]:
        """Copies the database into ``dest`` (a new or empty directory) while this and other
        processes keep writing: the copy holds every record committed before the call, opens
        as a database of its own and passes ``mnemodb inspect``. Returns ``{"collections",
        "records", "vector_bytes"}``. Index files are not copied (the copy rebuilds them)."""
        return dict(self._db.backup(os.fspath(dest)))

    @staticmethod
    def clear_system_cache() -> None:
        """Forgets the shared databases (clients made afterwards open them anew)."""
        with _databases_lock:
            _databases.clear()

    def heartbeat(self) -> int:
        return time.time_ns()

    def get_version(self) -> str:
        from .. import __version__

        return __version__

    def get_settings(self) -> Settings:
        return self._settings

    def get_max_batch_size(self) -> int:
        return _MAX_BATCH_SIZE

    def reset(self) -> bool:
        _check_reset(self._settings)
        for info in self._db.list_collections():
            self._db.delete_collection(info["name"])
        return True

    def count_collections(self) -> int:
        return len(self._db.list_collections())

    def list_collections(self, limit: Optional[int] = None, offset: Optional[int] = None) -> List["Collection"]:
        infos = _page(self._db.list_collections(), limit, offset)
        return [Collection(self, self._db.get_collection_by_id(i["id"]), i, None, None) for i in infos]

    def create_collection(
        self,
        name: str,
        schema: None = None,
        configuration: Optional[CollectionConfiguration] = None,
        metadata: Optional[CollectionMetadata] = None,
        embedding_function: Optional[EmbeddingFunctionArg] = _DEFAULT,
        data_loader: Optional[DataLoaderArg] = None,
        get_or_create: bool = False,
    ) -> "Collection":
        ef = _prepare_create(configuration, embedding_function)
        native = self._db.create_collection(name, _engine_configuration(configuration, ef, metadata), metadata, get_or_create)
        return Collection(self, native, native.info(), _given(ef), data_loader)

    def get_or_create_collection(
        self,
        name: str,
        schema: None = None,
        configuration: Optional[CollectionConfiguration] = None,
        metadata: Optional[CollectionMetadata] = None,
        embedding_function: Optional[EmbeddingFunctionArg] = _DEFAULT,
        data_loader: Optional[DataLoaderArg] = None,
    ) -> "Collection":
        return self.create_collection(
            name, schema, configuration, metadata, embedding_function, data_loader, get_or_create=True
        )

    def get_collection(
        self, name: str, embedding_function: Optional[EmbeddingFunctionArg] = _DEFAULT, data_loader: Optional[DataLoaderArg] = None
    ) -> "Collection":
        ef = _check_embedding_function(embedding_function)
        native = self._db.get_collection(name)
        return Collection(self, native, native.info(), ef, data_loader)

    def get_collection_by_id(
        self,
        id: Union[str, uuid.UUID],
        embedding_function: Optional[EmbeddingFunctionArg] = _DEFAULT,
        data_loader: Optional[DataLoaderArg] = None,
    ) -> "Collection":
        ef = _check_embedding_function(embedding_function)
        native = self._db.get_collection_by_id(str(id))
        return Collection(self, native, native.info(), ef, data_loader)

    def delete_collection(self, name: str) -> None:
        self._db.delete_collection(name)

    def __repr__(self) -> str:
        return f"<mnemodb.Client path={self._db.path!r}>"


ClientAPI = Client
"""chromadb's ``ClientAPI`` (the type of every client): mnemodb has one client class."""


def _target(
    settings: Any, tenant: Any, database: Any, path: Optional[str], ephemeral: bool
) -> Tuple[Any, str, str, Optional[str]]:
    """A client's settings, tenant, database and resolved directory (``None``: in memory),
    checked as chromadb checks them."""
    _adopt_chroma()
    settings = settings if settings is not None else Settings()
    tenant, database = str(tenant), str(database)
    if tenant != DEFAULT_TENANT:
        raise NotFoundError(f"Tenant [{tenant}] not found")
    if database != DEFAULT_DATABASE:
        raise NotFoundError(f"Database [{database}] not found. Are you sure it exists?")
    if path is None and not ephemeral and getattr(settings, "is_persistent", False):
        path = getattr(settings, "persist_directory", "./chroma")
    return settings, tenant, database, str(Path(path).resolve()) if path is not None else None


def _check_reset(settings: Any) -> None:
    if not getattr(settings, "allow_reset", False):
        raise AuthorizationError("Reset is disabled by config")


def _page(infos: List[Dict[str, Any]], limit: Optional[int], offset: Optional[int]) -> List[Dict[str, Any]]:
    start = offset or 0
    return infos[start:] if limit is None else infos[start : start + limit]


def _prepare_create(configuration: Any, embedding_function: Any) -> Any:
    """Checks a new collection's arguments; returns its embedding function (``None``: none),
    chromadb's default (a :class:`_DefaultedEF`) when none was passed."""
    in_configuration = configuration.get("embedding_function") if isinstance(configuration, dict) else None
    if embedding_function is _DEFAULT and in_configuration is None:
        return _DefaultedEF()
    if embedding_function is _DEFAULT or embedding_function is None:
        embedding_function = in_configuration or embedding_function
    elif in_configuration is not None:
        given, configured = _ef_name(embedding_function), _ef_name(in_configuration)
        if given is not None and configured is not None and given != configured:
            raise ValueError(
                "Multiple embedding functions provided. Please provide only one. "
                f"Embedding function conflict: {given} vs {configured}"
            )
    return _check_embedding_function(embedding_function)


class _DefaultedEF(DefaultEmbeddingFunction):
    """chromadb's default, put in because no function was passed: persisted as ``default``,
    but a collection that already exists (``get_or_create``) keeps its own persisted one."""


def _given(ef: Any) -> Any:
    """The function a new collection handle is given (``None``: rebuild the persisted one)."""
    return None if isinstance(ef, _DefaultedEF) else ef


def _ef_name(ef: Any) -> Optional[str]:
    """An embedding function's registry name, ``None`` when it has none."""
    try:
        return str(ef.name())
    except Exception:
        return None


def PersistentClient(
    path: Union[str, Path] = "./chroma",
    settings: Optional[Settings] = None,
    tenant: str = DEFAULT_TENANT,
    database: str = DEFAULT_DATABASE,
) -> Client:
    """A client on the database in directory ``path`` (created if needed)."""
    if settings is None:
        settings = Settings(is_persistent=True, persist_directory=str(path))
    return Client(settings, tenant, database, path=str(path))


def EphemeralClient(settings: Optional[Settings] = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> Client:
    """A client on the process's in-memory database (shared by every ephemeral client)."""
    return Client(settings if settings is not None else Settings(), tenant, database, ephemeral=True)


def _engine_configuration(configuration: Any, ef: Any = None, metadata: Any = None) -> Any:
    """The configuration the engine keeps: the index settings, and the embedding function's
    description (chromadb's ``{"type": "known", "name": ..., "config": ...}``) in place of the
    object. As chromadb, a known function's ``default_space()`` is the space when neither the
    configuration nor the ``hnsw:space`` metadata names one."""
    if configuration is not None and not isinstance(configuration, dict):
        raise ValueError(f"configuration must be a dict, got {type(configuration).__name__}")
    out = {k: val for k, val in (configuration or {}).items() if k != "embedding_function"}
    description = describe_embedding_function(ef)
    if description is not None:
        out["embedding_function"] = description
        default_space = getattr(ef, "default_space", None)
        hnsw = out.get("hnsw") or {}
        named = hnsw.get("space") is not None or (isinstance(metadata, dict) and metadata.get("hnsw:space") is not None)
        if description["type"] == "known" and callable(default_space) and not named:
            out["hnsw"] = {**hnsw, "space": default_space()}
    return out if configuration is not None or description is not None else None


def _chroma_configuration(engine: Dict[str, Any]) -> Dict[str, Any]:
    hnsw = engine.get("hnsw") or {}
    return {
        "hnsw": {k: hnsw[k] for k in _HNSW_KEYS if k in hnsw},
        "spann": None,
        "embedding_function": engine.get("embedding_function"),
    }


def _check_embedding_function(ef: Any) -> Any:
    if ef is _DEFAULT or ef is None:
        return None
    call = getattr(type(ef), "__call__", None)
    if call is not None and inspect.isfunction(call):
        params = inspect.signature(call).parameters
        if list(params.keys()) != ["self", "input"]:
            raise ValueError(
                "Expected EmbeddingFunction.__call__ to have the following signature: "
                f"odict_keys(['self', 'input']), got {params.keys()}\n"
                "Please see https://docs.trychroma.com/guides/embeddings for details of the "
                "EmbeddingFunction interface.\n"
            )
    return ef


class Collection:
    """chromadb's ``Collection``: records, filters and nearest-neighbour queries."""

    __class__ = presents_as("chromadb.api.models.Collection", "Collection")  # see _chroma_types.py

    def __init__(self, client: Client, native: Any, info: Dict[str, Any], ef: Any, data_loader: Any) -> None:
        self._client = client
        self._native = native
        self._info = info
        self._data_loader = data_loader
        persisted = _chroma_configuration(info["configuration"])["embedding_function"]
        if ef is not None and persisted is not None:
            given, saved = _ef_name(ef), persisted.get("name")
            # chromadb's "default" downloads a model, so mnemodb never rebuilds it: any local
            # function may stand in for it.
            if given is not None and saved not in (None, "default") and given != saved:
                raise ValueError(
                    "An embedding function already exists in the collection configuration, and a new "
                    "one is provided. If this is intentional, please embed documents separately. "
                    f"Embedding function conflict: new: {given} vs persisted: {saved}"
                )
        self._embedding_function = ef
        # Without one given, the persisted function is rebuilt on first use (chromadb
        # rebuilds it too); why it could not be is said when embedding needs it.
        self._persisted_ef = persisted if ef is None else None

    # attributes
    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(self._info["id"])

    @property
    def name(self) -> str:
        return str(self._info["name"])

    @property
    def metadata(self) -> Optional[Dict[str, Any]]:
        return self._info["metadata"]

    @property
    def configuration(self) -> Dict[str, Any]:
        """chromadb's view: the index settings and the embedding function object."""
        out = _chroma_configuration(self._info["configuration"])
        out["embedding_function"] = self._ef_or_none()
        return out

    @property
    def configuration_json(self) -> Dict[str, Any]:
        """The configuration as stored: the embedding function as its description."""
        return _chroma_configuration(self._info["configuration"])

    @property
    def schema(self) -> None:
        return None

    @property
    def tenant(self) -> str:
        return self._client.tenant

    @property
    def database(self) -> str:
        return self._client.database

    @property
    def embedding_function(self) -> Optional[EmbeddingFunctionArg]:
        return self._ef_or_none()

    def _ef(self) -> Any:
        """The embedding function: given, or rebuilt from the persisted description (once)."""
        if self._embedding_function is None and self._persisted_ef is not None:
            self._embedding_function = build_embedding_function(self._persisted_ef)
            self._persisted_ef = None
        return self._embedding_function

    def _ef_or_none(self) -> Any:
        try:
            return self._ef()
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"Collection(name={self.name})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Collection):
            return NotImplemented
        return (self.id, self.name, self.metadata, self.configuration_json) == (
            other.id,
            other.name,
            other.metadata,
            other.configuration_json,
        ) and self._embedding_function is other._embedding_function

    __hash__ = None  # type: ignore[assignment]

    # reads
    def count(self, read_level: Optional[str] = None) -> int:
        return int(self._native.count())

    def wait_for_index(self) -> None:
        """mnemodb only (chromadb has no such call): returns once every record is linked
        into the collection's HNSW index. Writes build it in the background and queries
        scan what it has not reached, so this is never needed for correct results; call it
        before measuring query speed."""
        self._native.wait_for_index()

    def get(
        self,
        ids: Optional[OneOrMany[ID]] = None,
        where: Optional[Where] = None,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
        where_document: Optional[WhereDocument] = None,
        include: Include = ["metadatas", "documents"],  # noqa: B006 (chromadb's default)
    ) -> GetResult:
        r = self._native.get(v.one_to_many(ids), where, where_document, limit, offset or 0, include)
        self._check_data_loader("get", include)
        return _get_result(r, include)

    def _check_data_loader(self, op: str, include: Any) -> None:
        if "data" in include and self._data_loader is None:
            raise ValueError(f"You must set a data loader on the collection if loading from URIs. in {op}.")

    def peek(self, limit: int = 10) -> GetResult:
        r = self._native.get(None, None, None, limit, 0, _PEEK_INCLUDE)
        return _get_result(r, _PEEK_INCLUDE)

    def query(
        self,
        query_embeddings: EmbeddingsArg = None,
        query_texts: Optional[OneOrMany[Document]] = None,
        query_images: Optional[OneOrMany[Image]] = None,
        query_uris: Optional[OneOrMany[URI]] = None,
        ids: Optional[OneOrMany[ID]] = None,
        n_results: int = 10,
        where: Optional[Where] = None,
        where_document: Optional[WhereDocument] = None,
        include: Include = ["metadatas", "documents", "distances"],  # noqa: B006 (chromadb's default)
    ) -> QueryResult:
        matrix = self._query_matrix(query_embeddings, query_texts, query_images, query_uris)
        # The engine checks the rest and builds the QueryResult itself (one dict, no
        # per-query dicts).
        result = self._native.query(matrix, n_results, v.one_to_many(ids), where, where_document, include)
        self._check_data_loader("query", include)
        return cast(QueryResult, result)

    def explain(
        self,
        query_embeddings: EmbeddingsArg = None,
        query_texts: Optional[OneOrMany[Document]] = None,
        query_images: Optional[OneOrMany[Image]] = None,
        query_uris: Optional[OneOrMany[URI]] = None,
        ids: Optional[OneOrMany[ID]] = None,
        n_results: int = 10,
        where: Optional[Where] = None,
        where_document: Optional[WhereDocument] = None,
    ) -> QueryPlan:
        """How :meth:`query` would answer the same request now, without running it.

        mnemodb's addition to chromadb's API (chromadb has no such method). The arguments are
        ``query``'s, checked as ``query`` checks them. The result says:

        - ``strategy``: ``"scan"`` (every record compared with the query),
          ``"scan_candidates"`` (only the records that pass ``ids``, ``where`` and
          ``where_document``), ``"walk"`` (the HNSW graph walked), ``"walk_allow_list"``
          (the graph walked returning only those records) or ``"empty"`` (nothing can match);
          a walk also scans exactly the records the graph has not linked yet.
        - ``reason``: the rule that chose it (``"small_collection"`` below 4,096 records,
          ``"few_candidates"`` when scanning a filter's records beats a walk that skips the
          others, ...) and ``detail``, a sentence with the figures.
        - ``candidates``: how many records pass the filters and ids (``None`` without either).
        - ``estimated_cost``: distance computations per query vector of the chosen strategy
          (``scan_cost`` and ``walk_cost`` give both alternatives; a walk's are dearer).
        - ``index``: what this process's graph covers (``linked`` / ``unlinked`` records), or
          ``None`` without one; ``catch_up``: whether the query would link records after.

        Nothing changes: no record is read past the filter's candidates and nothing is linked.
        """
        matrix = self._query_matrix(query_embeddings, query_texts, query_images, query_uris)
        return cast(QueryPlan, self._native.explain(matrix, n_results, v.one_to_many(ids), where, where_document))

    @v.context("query")
    def _query_matrix(self, query_embeddings: Any, query_texts: Any, query_images: Any, query_uris: Any) -> np.ndarray:
        """The query vectors: given, or computed by the embedding function from the texts,
        images or uris (whose checks are Python's: they never reach the engine)."""
        matrix = v.embeddings_matrix(query_embeddings, "query")
        texts = v.one_to_many(query_texts)
        images = v.one_to_many(query_images)
        uris = v.one_to_many(query_uris)
        if matrix is not None and texts is None and images is None and uris is None:
            return matrix
        fields: Dict[str, Any] = {"embeddings": matrix, "documents": texts, "images": images, "uris": uris}
        v.record_set_lengths(fields, "query")
        if texts is not None:
            _native.check_texts(texts, matrix is not None, "query")
        if matrix is None:
            matrix = self._embed(fields, is_query=True)
        return matrix

    # writes (mnemodb only: ``ttl=`` seconds or ``expires_at=`` a datetime or epoch seconds
    # make the records written expire; see README "Expiry")
    def add(
        self,
        ids: OneOrMany[ID],
        embeddings: EmbeddingsArg = None,
        metadatas: Optional[Union[Metadata, List[Metadata], List[Optional[Metadata]]]] = None,
        documents: Optional[OneOrMany[Document]] = None,
        images: Optional[OneOrMany[Image]] = None,
        uris: Optional[OneOrMany[URI]] = None,
        *,
        ttl: Optional[Union[float, _dt.timedelta]] = None,
        expires_at: Optional[Union[float, _dt.datetime]] = None,
    ) -> None:
        ids_l, matrix, mds, docs, uris_l = self._prepare_write("add", ids, embeddings, metadatas, documents, images, uris)
        self._native.add(ids_l, matrix, docs, uris_l, mds, **_expiry(ttl, expires_at))

    def upsert(
        self,
        ids: OneOrMany[ID],
        embeddings: EmbeddingsArg = None,
        metadatas: Optional[Union[UpdateMetadata, List[UpdateMetadata], List[Optional[UpdateMetadata]]]] = None,
        documents: Optional[OneOrMany[Document]] = None,
        images: Optional[OneOrMany[Image]] = None,
        uris: Optional[OneOrMany[URI]] = None,
        *,
        ttl: Optional[Union[float, _dt.timedelta]] = None,
        expires_at: Optional[Union[float, _dt.datetime]] = None,
    ) -> None:
        ids_l, matrix, mds, docs, uris_l = self._prepare_write("upsert", ids, embeddings, metadatas, documents, images, uris)
        self._native.update(ids_l, matrix, docs, uris_l, mds, True, **_expiry(ttl, expires_at))

    def update(
        self,
        ids: OneOrMany[ID],
        embeddings: EmbeddingsArg = None,
        metadatas: Optional[Union[UpdateMetadata, List[UpdateMetadata], List[Optional[UpdateMetadata]]]] = None,
        documents: Optional[OneOrMany[Document]] = None,
        images: Optional[OneOrMany[Image]] = None,
        uris: Optional[OneOrMany[URI]] = None,
        *,
        ttl: Optional[Union[float, _dt.timedelta]] = None,
        expires_at: Optional[Union[float, _dt.datetime]] = None,
    ) -> None:
        ids_l, matrix, mds, docs, uris_l = self._prepare_write("update", ids, embeddings, metadatas, documents, images, uris)
        self._native.update(ids_l, matrix, docs, uris_l, mds, False, **_expiry(ttl, expires_at))

    def compact(self) -> Job:
        """mnemodb only: starts rewriting the collection's vector file without the space
        deleted and updated records left behind, and returns the background :class:`Job`
        (``wait(timeout)``, ``cancel()``). Reads and writes go on meanwhile."""
        handle = self._native.compact()
        return Job(handle.info(), handle)

    def update_deferred(
        self,
        ids: OneOrMany[ID],
        metadatas: Optional[Union[UpdateMetadata, List[UpdateMetadata], List[Optional[UpdateMetadata]]]] = None,
        documents: Optional[OneOrMany[Document]] = None,
        uris: Optional[OneOrMany[URI]] = None,
    ) -> None:
        """mnemodb only: ``update`` (same checks, same effect, visible at once to every reader
        and process) whose commit is not synced to disk before returning. A power loss or OS
        crash soon after may undo it (whole, never in part); a process crash cannot. Meant for
        bookkeeping written on every read, such as access times, where a sync would cost
        more than the write itself. New embeddings are not accepted here."""
        ids_l, _, mds, docs, uris_l = self._prepare_write("update", ids, None, metadatas, documents, None, uris)
        self._native.update(ids_l, None, docs, uris_l, mds, False, synced=False)

    def _prepare_write(self, op: str, *args: Any) -> Tuple[List[str], Optional[np.ndarray], Any, Any, Any]:
        return v.context(op)(self._prepare_write_in)(op, *args)

    def _prepare_write_in(
        self, op: str, ids: Any, embeddings: Any, metadatas: Any, documents: Any, images: Any, uris: Any
    ) -> Tuple[List[str], Optional[np.ndarray], Any, Any, Any]:
        """One item to a list and embeddings to a matrix; the engine checks the records. When
        an embedding function is to compute the vectors, the engine checks the records first,
        as chromadb does before it embeds."""
        matrix = v.embeddings_matrix(embeddings, op)
        ids_l = v.one_to_many(ids)
        mds = v.one_to_many(metadatas)
        docs = v.one_to_many(documents)
        imgs = v.one_to_many(images)
        uris_l = v.one_to_many(uris)
        if matrix is None and (op != "update" or docs is not None or imgs is not None):
            if imgs is not None:  # images never reach the engine: their length is Python's
                fields = {"ids": ids_l, "metadatas": mds, "embeddings": None, "documents": docs, "images": imgs, "uris": uris_l}
                v.record_set_lengths(fields, op)
            _native.check_records(op, ids_l, docs, uris_l, mds)
            base = {"embeddings": None, "documents": docs, "images": imgs, "uris": uris_l}
            if op == "add":
                matrix = self._embed(base, is_query=False)
            else:
                matrix = self._embed(base, is_query=False, fields=("documents", "images"))
        return ids_l, matrix, mds, docs, uris_l  # type: ignore[return-value]

    def _embed(self, record_set: Dict[str, Any], is_query: bool, fields: Sequence[str] = ("documents", "images", "uris")) -> np.ndarray:
        given = [f for f in fields if record_set.get(f) is not None]
        if len(given) != 1:
            raise ValueError(f"Exactly one of {', '.join(fields)} must be provided")
        field = given[0]
        inputs = record_set[field]
        if field == "uris":
            if self._data_loader is None:
                raise ValueError("You must set a data loader on the collection if loading from URIs.")
            inputs = self._data_loader(uris=inputs)
        ef = self._ef()
        if ef is None:
            raise ValueError(_NO_EF_MESSAGE)
        if is_query and hasattr(ef, "embed_query"):
            out = ef.embed_query(input=inputs)
        else:
            out = ef(input=inputs)
        matrix = v.embeddings_matrix(list(out) if not isinstance(out, np.ndarray) else out, "query" if is_query else "add")
        assert matrix is not None
        return matrix

    def delete(
        self,
        ids: Optional[OneOrMany[ID]] = None,
        where: Optional[Where] = None,
        where_document: Optional[WhereDocument] = None,
        limit: Optional[int] = None,
    ) -> DeleteResult:
        ids_l = v.one_to_many(ids)
        deleted = self._native.delete(ids_l, where, where_document, limit)
        return _delete_result(ids_l, where, where_document, deleted)

    def modify(
        self,
        name: Optional[str] = None,
        metadata: Optional[CollectionMetadata] = None,
        configuration: Optional[CollectionConfiguration] = None,
    ) -> None:
        if name is not None or metadata is not None:
            self._native.modify(name, metadata)
        if configuration is not None:
            self._native.modify_configuration(_engine_configuration(configuration))
        self._info = self._native.info()


_PEEK_INCLUDE: Include = ["metadatas", "documents", "embeddings"]


def _delete_result(ids_l: Optional[List[str]], where: Any, where_document: Any, deleted: int) -> DeleteResult:
    if ids_l is not None and where is None and where_document is None:
        # chromadb reports the number of ids asked for, found or not.
        deleted = len(ids_l)
    return {"deleted": int(deleted)}


def _get_result(r: Dict[str, Any], include: Any) -> GetResult:
    emb = r["embeddings"]
    if "embeddings" in include and emb is not None and len(emb) == 0:
        emb = np.empty((0,), dtype=np.float32)
    return {
        "ids": r["ids"],
        "embeddings": emb if "embeddings" in include else None,
        "documents": r["documents"] if "documents" in include else None,
        "uris": r["uris"] if "uris" in include else None,
        "included": include,
        "data": None,
        "metadatas": r["metadatas"] if "metadatas" in include else None,
    }


def _expiry(ttl: Any, expires_at: Any) -> Dict[str, Any]:
    """The native write's ``ttl`` / ``expires_at`` keywords (seconds); a datetime becomes its
    epoch seconds. The engine checks the values."""
    out: Dict[str, Any] = {}
    if ttl is not None:
        out["ttl"] = float(ttl.total_seconds() if hasattr(ttl, "total_seconds") else ttl)
    if expires_at is not None:
        out["expires_at"] = float(expires_at.timestamp() if hasattr(expires_at, "timestamp") else expires_at)
    return out
