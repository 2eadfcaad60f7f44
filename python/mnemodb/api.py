"""The chromadb-shaped client and collection, over ``mnemodb._native``.

Mirrors chromadb 1.5.9's ``ClientAPI`` and ``Collection``: same arguments and defaults, the
same validation (and messages), the same result dicts. The engine does the work with the GIL
released; this module only normalises arguments and shapes results.
"""

from __future__ import annotations

import inspect
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, cast

import numpy as np

from . import _native
from . import _validate as v
from ._chroma_types import presents_as
from .errors import AuthorizationError, InvalidArgumentError, NotFoundError, _adopt_chroma
from .config import Settings
from .types import DeleteResult, GetResult, Include, QueryPlan, QueryResult

DEFAULT_TENANT = "default_tenant"
DEFAULT_DATABASE = "default_database"
_MAX_BATCH_SIZE = 5461  # what chromadb reports; mnemodb itself has no batch limit

# chromadb's configuration keys (the engine also keeps num_threads and batch_size).
_HNSW_KEYS = ("space", "ef_construction", "ef_search", "max_neighbors", "resize_factor", "sync_threshold")

_NO_EF_MESSAGE = (
    "You must provide an embedding function to compute embeddings."
    "https://docs.trychroma.com/guides/embeddings "
    "(mnemodb has no default embedding function, because chromadb's downloads a model: pass "
    "embeddings=..., or create or get the collection with embedding_function=..., for example "
    "chromadb.utils.embedding_functions.SentenceTransformerEmbeddingFunction() for a local "
    "model, or mnemodb.embedding_functions.HashEmbeddingFunction() for tests)"
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
    """chromadb's ``ClientAPI`` over one mnemodb database."""

    __class__ = presents_as("chromadb.api.client", "Client")  # isinstance checks: _chroma_types.py

    def __init__(
        self,
        settings: Any = None,
        tenant: str = DEFAULT_TENANT,
        database: str = DEFAULT_DATABASE,
        *,
        path: Optional[str] = None,
        ephemeral: bool = False,
    ) -> None:
        _adopt_chroma()
        self._settings = settings if settings is not None else Settings()
        tenant, database = str(tenant), str(database)
        if tenant != DEFAULT_TENANT:
            raise NotFoundError(f"Tenant [{tenant}] not found")
        if database != DEFAULT_DATABASE:
            raise NotFoundError(f"Database [{database}] not found. Are you sure it exists?")
        self.tenant, self.database = tenant, database
        if path is None and not ephemeral and getattr(self._settings, "is_persistent", False):
            path = getattr(self._settings, "persist_directory", "./chroma")
        self._closed = False
        if path is not None:
            path = str(Path(path).resolve())
            self._identifier = path
            self._db = _database(path, path)
        else:
            self._identifier = "ephemeral"
            self._db = _database("ephemeral", None)

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

    def jobs(self) -> List[Dict[str, Any]]:
        """The database's background jobs (index building, saves), queued or running, and
        the last finished ones: dicts with ``id``, ``kind``, ``collection``, ``done``,
        ``total``, ``state`` (queued, running, done, failed, cancelled) and ``error``."""
        return cast(List[Dict[str, Any]], self._db.jobs())

    @staticmethod
    def clear_system_cache() -> None:
        """Forgets the shared databases (clients made afterwards open them anew)."""
        with _databases_lock:
            _databases.clear()

    def heartbeat(self) -> int:
        return time.time_ns()

    def get_version(self) -> str:
        from . import __version__

        return __version__

    def get_settings(self) -> Any:
        return self._settings

    def get_max_batch_size(self) -> int:
        return _MAX_BATCH_SIZE

    def reset(self) -> bool:
        if not getattr(self._settings, "allow_reset", False):
            raise AuthorizationError("Reset is disabled by config")
        for info in self._db.list_collections():
            self._db.delete_collection(info["name"])
        return True

    def count_collections(self) -> int:
        return len(self._db.list_collections())

    def list_collections(self, limit: Optional[int] = None, offset: Optional[int] = None) -> List["Collection"]:
        infos = self._db.list_collections()
        start = offset or 0
        infos = infos[start:] if limit is None else infos[start : start + limit]
        return [Collection(self, self._db.get_collection_by_id(i["id"]), i, None, None) for i in infos]

    def create_collection(
        self,
        name: str,
        schema: Any = None,
        configuration: Optional[Dict[str, Any]] = None,
        metadata: Optional[Dict[str, Any]] = None,
        embedding_function: Any = _DEFAULT,
        data_loader: Any = None,
        get_or_create: bool = False,
    ) -> "Collection":
        if (embedding_function is _DEFAULT or embedding_function is None) and isinstance(configuration, dict):
            embedding_function = configuration.get("embedding_function") or embedding_function
        ef = _check_embedding_function(embedding_function)
        if metadata is not None:
            _check_collection_metadata(metadata)
        native = self._db.create_collection(name, _engine_configuration(configuration), metadata, get_or_create)
        return Collection(self, native, native.info(), ef, data_loader)

    def get_or_create_collection(
        self,
        name: str,
        schema: Any = None,
        configuration: Optional[Dict[str, Any]] = None,
        metadata: Optional[Dict[str, Any]] = None,
        embedding_function: Any = _DEFAULT,
        data_loader: Any = None,
    ) -> "Collection":
        return self.create_collection(
            name, schema, configuration, metadata, embedding_function, data_loader, get_or_create=True
        )

    def get_collection(self, name: str, embedding_function: Any = _DEFAULT, data_loader: Any = None) -> "Collection":
        ef = _check_embedding_function(embedding_function)
        native = self._db.get_collection(name)
        return Collection(self, native, native.info(), ef, data_loader)

    def get_collection_by_id(self, id: Any, embedding_function: Any = _DEFAULT, data_loader: Any = None) -> "Collection":
        ef = _check_embedding_function(embedding_function)
        native = self._db.get_collection_by_id(str(id))
        return Collection(self, native, native.info(), ef, data_loader)

    def delete_collection(self, name: str) -> None:
        self._db.delete_collection(name)

    def __repr__(self) -> str:
        return f"<mnemodb.Client path={self._db.path!r}>"


def PersistentClient(
    path: Union[str, Path] = "./chroma",
    settings: Any = None,
    tenant: str = DEFAULT_TENANT,
    database: str = DEFAULT_DATABASE,
) -> Client:
    """A client on the database in directory ``path`` (created if needed)."""
    if settings is None:
        settings = Settings(is_persistent=True, persist_directory=str(path))
    return Client(settings, tenant, database, path=str(path))


def EphemeralClient(settings: Any = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> Client:
    """A client on the process's in-memory database (shared by every ephemeral client)."""
    return Client(settings if settings is not None else Settings(), tenant, database, ephemeral=True)


def _check_collection_metadata(metadata: Any) -> None:
    """chromadb checks a new collection's metadata in its backend, with these messages."""
    if isinstance(metadata, dict) and len(metadata) == 0:
        raise InvalidArgumentError("Validation error: metadata: Metadata cannot be empty")
    scalars = (str, int, float, bool)
    for value in metadata.values() if isinstance(metadata, dict) else [None]:
        ok = isinstance(value, scalars) or (
            isinstance(value, list) and len(value) > 0 and all(isinstance(x, scalars) for x in value)
        )
        if not ok:
            raise TypeError("argument 'metadata': Cannot convert Python object to MetadataValue")


def _engine_configuration(configuration: Any) -> Any:
    if configuration is None:
        return None
    if not isinstance(configuration, dict):
        raise ValueError(f"configuration must be a dict, got {type(configuration).__name__}")
    # The embedding function is the client's business; the engine keeps the index settings.
    return {k: val for k, val in configuration.items() if k != "embedding_function"}


def _chroma_configuration(engine: Dict[str, Any]) -> Dict[str, Any]:
    hnsw = engine.get("hnsw") or {}
    return {
        "hnsw": {k: hnsw[k] for k in _HNSW_KEYS if k in hnsw},
        "spann": None,
        "embedding_function": None,
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
        self._embedding_function = ef
        self._data_loader = data_loader

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
        return _chroma_configuration(self._info["configuration"])

    @property
    def configuration_json(self) -> Dict[str, Any]:
        return self.configuration

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
    def embedding_function(self) -> Any:
        return self._embedding_function

    def __repr__(self) -> str:
        return f"Collection(name={self.name})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Collection):
            return NotImplemented
        return (self.id, self.name, self.metadata, self.configuration) == (
            other.id,
            other.name,
            other.metadata,
            other.configuration,
        ) and self._embedding_function is other._embedding_function

    __hash__ = None  # type: ignore[assignment]

    # reads
    def count(self, read_level: Any = None) -> int:
        return int(self._native.count())

    def wait_for_index(self) -> None:
        """mnemodb only (chromadb has no such call): returns once every record is linked
        into the collection's HNSW index. Writes build it in the background and queries
        scan what it has not reached, so this is never needed for correct results; call it
        before measuring query speed."""
        self._native.wait_for_index()

    def get(
        self,
        ids: Any = None,
        where: Optional[Dict[str, Any]] = None,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
        where_document: Optional[Dict[str, Any]] = None,
        include: Include = ["metadatas", "documents"],  # noqa: B006 (chromadb's default)
    ) -> GetResult:
        ids_l, inc = self._prepare_get(ids, where, where_document, include)
        r = self._native.get(ids_l, where, where_document, limit, offset or 0, inc)
        return _get_result(r, inc)

    @v.context("get")
    def _prepare_get(self, ids: Any, where: Any, where_document: Any, include: Any) -> Tuple[Optional[List[str]], List[str]]:
        ids_l = v.one_to_many(ids)
        if ids_l is not None:
            v.ids(ids_l)
        v.filters(where, where_document)
        v.include(include, ["distances"])
        if "data" in include and self._data_loader is None:
            raise ValueError("You must set a data loader on the collection if loading from URIs.")
        return ids_l, list(include)

    def peek(self, limit: int = 10) -> GetResult:
        include: Include = ["metadatas", "documents", "embeddings"]
        r = self._native.get(None, None, None, limit, 0, include)
        return _get_result(r, include)

    def query(
        self,
        query_embeddings: Any = None,
        query_texts: Any = None,
        query_images: Any = None,
        query_uris: Any = None,
        ids: Any = None,
        n_results: int = 10,
        where: Optional[Dict[str, Any]] = None,
        where_document: Optional[Dict[str, Any]] = None,
        include: Include = ["metadatas", "documents", "distances"],  # noqa: B006 (chromadb's default)
    ) -> QueryResult:
        matrix, ids_l, inc = self._prepare_query(
            query_embeddings, query_texts, query_images, query_uris, ids, n_results, where, where_document, include
        )
        if ids_l is not None and len(ids_l) == 0:
            hits: List[Dict[str, Any]] = [{"ids": [], "embeddings": None, "documents": [], "uris": [], "metadatas": [], "distances": []}] * len(matrix)
            return _query_result(hits, inc)
        # The native side builds the QueryResult itself (one dict, no per-query dicts).
        return cast(QueryResult, self._native.query(matrix, n_results, ids_l, where, where_document, inc))

    def explain(
        self,
        query_embeddings: Any = None,
        query_texts: Any = None,
        query_images: Any = None,
        query_uris: Any = None,
        ids: Any = None,
        n_results: int = 10,
        where: Optional[Dict[str, Any]] = None,
        where_document: Optional[Dict[str, Any]] = None,
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
        matrix, ids_l, _ = self._prepare_query(
            query_embeddings, query_texts, query_images, query_uris, ids, n_results, where, where_document, ["distances"]
        )
        return cast(QueryPlan, self._native.explain(matrix, n_results, ids_l, where, where_document))

    @v.context("query")
    def _prepare_query(
        self,
        query_embeddings: Any,
        query_texts: Any,
        query_images: Any,
        query_uris: Any,
        ids: Any,
        n_results: Any,
        where: Any,
        where_document: Any,
        include: Any,
    ) -> Tuple[np.ndarray, Optional[List[str]], List[str]]:
        matrix = v.embeddings_matrix(query_embeddings)
        texts = v.one_to_many(query_texts)
        images = v.one_to_many(query_images)
        uris = v.one_to_many(query_uris)
        fields: Dict[str, Any] = {"embeddings": matrix, "documents": texts, "images": images, "uris": uris}
        if matrix is None or texts is not None or images is not None or uris is not None:
            # With embeddings alone there is nothing to compare: `embeddings_matrix` refused
            # an empty batch.
            v.record_set_lengths(fields)
        if texts is not None:
            v.documents(texts, nullable=matrix is not None)
        ids_l = v.one_to_many(ids)
        v.filters(where, where_document)
        v.include(include)
        v.n_results(n_results)
        if "data" in include and self._data_loader is None:
            raise ValueError("You must set a data loader on the collection if loading from URIs.")
        if matrix is None:
            matrix = self._embed(fields, is_query=True)
        return matrix, ids_l, list(include)

    # writes
    def add(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        ids_l, matrix, mds, docs, uris_l = self._prepare_write("add", ids, embeddings, metadatas, documents, images, uris)
        if mds is not None:
            for md in mds:
                if md is not None and any(val is None for val in md.values()):
                    raise TypeError("argument 'metadatas': Cannot convert Python object to MetadataValue")
        self._native.add(ids_l, matrix, docs, uris_l, mds)

    def upsert(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        ids_l, matrix, mds, docs, uris_l = self._prepare_write("upsert", ids, embeddings, metadatas, documents, images, uris)
        self._native.update(ids_l, matrix, docs, uris_l, mds, True)

    def update(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        ids_l, matrix, mds, docs, uris_l = self._prepare_write("update", ids, embeddings, metadatas, documents, images, uris)
        self._native.update(ids_l, matrix, docs, uris_l, mds, False)

    def update_deferred(self, ids: Any, metadatas: Any = None, documents: Any = None, uris: Any = None) -> None:
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
        matrix = v.embeddings_matrix(embeddings)
        ids_l = v.one_to_many(ids)
        mds = v.one_to_many(metadatas)
        docs = v.one_to_many(documents)
        imgs = v.one_to_many(images)
        uris_l = v.one_to_many(uris)
        fields: Dict[str, Any] = {"ids": ids_l, "metadatas": mds, "embeddings": matrix, "documents": docs, "images": imgs, "uris": uris_l}
        v.record_set_lengths(fields)
        if docs is not None:
            v.documents(docs, nullable=matrix is not None)
        v.ids(ids_l)
        if mds is not None:
            v.metadatas(mds)
        if matrix is None:
            base = {"embeddings": None, "documents": docs, "images": imgs, "uris": uris_l}
            if op == "add":
                matrix = self._embed(base, is_query=False)
            elif op == "upsert":
                matrix = self._embed(base, is_query=False, fields=("documents", "images"))
            elif docs is not None or imgs is not None:
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
        ef = self._embedding_function
        if ef is None:
            raise ValueError(_NO_EF_MESSAGE)
        if is_query and hasattr(ef, "embed_query"):
            out = ef.embed_query(input=inputs)
        else:
            out = ef(input=inputs)
        matrix = v.embeddings_matrix(list(out) if not isinstance(out, np.ndarray) else out)
        assert matrix is not None
        return matrix

    def delete(
        self,
        ids: Any = None,
        where: Optional[Dict[str, Any]] = None,
        where_document: Optional[Dict[str, Any]] = None,
        limit: Optional[int] = None,
    ) -> DeleteResult:
        ids_l = self._prepare_delete(ids, where, where_document, limit)
        deleted = self._native.delete(ids_l, where, where_document, limit)
        if ids_l is not None and where is None and where_document is None:
            # chromadb reports the number of ids asked for, found or not.
            deleted = len(ids_l)
        return {"deleted": int(deleted)}

    @v.context("delete")
    def _prepare_delete(self, ids: Any, where: Any, where_document: Any, limit: Any) -> Optional[List[str]]:
        if ids is None and where is None and where_document is None:
            raise ValueError("At least one of ids, where, or where_document must be provided")
        if limit is not None:
            if not isinstance(limit, int) or isinstance(limit, bool):
                raise TypeError("limit must be a non-negative integer")
            if limit < 0:
                raise ValueError("limit must be a non-negative integer")
        if limit is not None and where is None and where_document is None:
            raise ValueError("limit can only be specified when a where or where_document clause is provided")
        ids_l = v.one_to_many(ids)
        if ids_l is not None:
            v.ids(ids_l)
        v.filters(where, where_document)
        return ids_l

    def modify(
        self,
        name: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
        configuration: Optional[Dict[str, Any]] = None,
    ) -> None:
        if metadata is not None:
            v.metadata(metadata)
            if "hnsw:space" in metadata:
                raise ValueError(
                    "Changing the distance function of a collection once it is created is not supported currently."
                )
        if name is not None or metadata is not None:
            self._native.modify(name, metadata)
        if configuration is not None:
            self._native.modify_configuration(_engine_configuration(configuration))
        self._info = self._native.info()


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


def _query_result(hits: List[Dict[str, Any]], include: Any) -> QueryResult:
    def column(key: str) -> Any:
        if key not in include:
            return None
        return [h[key] if h[key] is not None else [] for h in hits]

    return {
        "ids": [h["ids"] for h in hits],
        "embeddings": column("embeddings"),
        "documents": column("documents"),
        "uris": column("uris"),
        "included": include,
        "data": None,
        "metadatas": column("metadatas"),
        "distances": column("distances"),
    }
