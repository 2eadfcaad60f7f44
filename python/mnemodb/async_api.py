"""chromadb's async client (``AsyncClientAPI`` and ``AsyncCollection``) over ``mnemodb._native``.

Every method that reaches the engine is awaited without a Python thread: the native module
queues the call on its own small pool of Rust worker threads (``python/src/pool.rs``), which run
it without the GIL and wake the caller's loop through a socket it watches (``loop.add_reader``;
``loop.call_soon_threadsafe`` where a loop cannot watch one); the loop builds the results and
completes the ``asyncio.Future`` s (one wake-up hands over every result finished since the
last). Cancelling the awaiting task before a worker starts the call
skips it. Arguments are checked, and results built, by the sync client's own code
(``mnemodb.api``), so both give the same results and raise the same errors.

As in chromadb, the client factories are coroutines::

    client = await mnemodb.AsyncPersistentClient("./data")
    notes = await client.get_or_create_collection("notes")
    await notes.add(ids=["a"], embeddings=[[1.0, 0.0]])
    await notes.query(query_embeddings=[[1.0, 0.0]], n_results=1)
"""

from __future__ import annotations

import datetime as _dt
import asyncio
import functools
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union, cast

from . import _native
from . import _validate as v
from . import api
from ._chroma_types import presents_as
from .api import _DEFAULT, DEFAULT_DATABASE, DEFAULT_TENANT, EmbeddingsArg, _databases, _databases_lock
from .config import Settings
from .types import (
    ID,
    URI,
    CollectionConfiguration,
    CollectionMetadata,
    DataLoaderArg,
    DeleteResult,
    Document,
    EmbeddingFunctionArg,
    GetResult,
    Image,
    Include,
    Metadata,
    OneOrMany,
    QueryResult,
    UpdateMetadata,
    Where,
    WhereDocument,
)

__all__ = ["AsyncClient", "AsyncCollection", "AsyncPersistentClient", "AsyncEphemeralClient"]


def _resolve(future: "asyncio.Future[Any]", exc: Optional[BaseException], value: Any) -> None:
    """Runs on the loop when a worker is done: completes the future unless it was cancelled."""
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)


# This thread's running loop and its mailbox (where workers leave finished calls, see
# python/src/pool.rs); a new loop in the thread gets a new mailbox.
_local = threading.local()


def _mailbox(loop: asyncio.AbstractEventLoop) -> Any:
    if getattr(_local, "loop", None) is not loop:
        mailbox = _native.Mailbox()
        fd = mailbox.wake_fd()
        if fd is not None:
            try:
                # Workers wake the loop through this socket, without taking the GIL.
                loop.add_reader(fd, mailbox.drain)
            except NotImplementedError:  # a loop without add_reader: call_soon_threadsafe
                pass
            else:
                mailbox.arm()
        _local.loop, _local.mailbox = loop, mailbox
    return _local.mailbox


async def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Awaits ``method(*args, **kwargs)``, a ``_native`` call, run on the native worker pool."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    pending = method(*args, deliver=(loop, _mailbox(loop), functools.partial(_resolve, future)), **kwargs)
    future.add_done_callback(pending)  # cancelled before a worker starts it: skipped
    return await future


async def _database(path: Optional[str]) -> Any:
    """The process's shared database for ``path`` (``None``: in memory), as the sync client's.
    An async client counts as one user of it (chromadb's async client has no ``close``, so it
    keeps the database open for as long as the process runs)."""
    identifier = path or "ephemeral"
    with _databases_lock:
        entry = _databases.get(identifier)
        if entry is not None:
            entry[1] += 1
            return entry[0]
    opened = await (_call(_native.Database.open, path) if path is not None else _call(_native.Database.in_memory))
    with _databases_lock:
        entry = _databases.setdefault(identifier, [opened, 0])
        entry[1] += 1
        return entry[0]


class AsyncClient:
    """chromadb's ``AsyncClientAPI`` over one mnemodb database; make it with
    :func:`AsyncPersistentClient` or :func:`AsyncEphemeralClient` (both awaited)."""

    __class__ = presents_as("chromadb.api.async_client", "AsyncClient")  # see _chroma_types.py

    def __init__(self, settings: Any, tenant: str, database: str, db: Any) -> None:
        self._settings, self.tenant, self.database, self._db = settings, tenant, database, db

    @classmethod
    async def create(
        cls,
        settings: Optional[Settings] = None,
        tenant: str = DEFAULT_TENANT,
        database: str = DEFAULT_DATABASE,
        *,
        path: Optional[str] = None,
        ephemeral: bool = False,
    ) -> "AsyncClient":
        settings, tenant, database, resolved = api._target(settings, tenant, database, path, ephemeral)
        return cls(settings, tenant, database, await _database(resolved))

    @staticmethod
    def clear_system_cache() -> None:
        api.Client.clear_system_cache()

    async def heartbeat(self) -> int:
        return time.time_ns()

    async def get_version(self) -> str:
        from . import __version__

        return __version__

    def get_settings(self) -> Settings:
        return self._settings

    async def get_max_batch_size(self) -> int:
        return api._MAX_BATCH_SIZE

    async def reset(self) -> bool:
        api._check_reset(self._settings)
        for info in await _call(self._db.list_collections):
            await _call(self._db.delete_collection, info["name"])
        return True

    async def count_collections(self) -> int:
        return len(await _call(self._db.list_collections))

    async def list_collections(self, limit: Optional[int] = None, offset: Optional[int] = None) -> Sequence["AsyncCollection"]:
        infos = api._page(await _call(self._db.list_collections), limit, offset)
        return [AsyncCollection(self, await _call(self._db.get_collection_by_id, i["id"]), i, None, None) for i in infos]

    async def create_collection(
        self,
        name: str,
        schema: None = None,
        configuration: Optional[CollectionConfiguration] = None,
        metadata: Optional[CollectionMetadata] = None,
        embedding_function: Optional[EmbeddingFunctionArg] = _DEFAULT,
        data_loader: Optional[DataLoaderArg] = None,
        get_or_create: bool = False,
    ) -> "AsyncCollection":
        ef = api._prepare_create(configuration, embedding_function)
        native = await _call(
            self._db.create_collection, name, api._engine_configuration(configuration, ef, metadata), metadata, get_or_create
        )
        return AsyncCollection(self, native, await _call(native.info), api._given(ef), data_loader)

    async def get_or_create_collection(
        self,
        name: str,
        schema: None = None,
        configuration: Optional[CollectionConfiguration] = None,
        metadata: Optional[CollectionMetadata] = None,
        embedding_function: Optional[EmbeddingFunctionArg] = _DEFAULT,
        data_loader: Optional[DataLoaderArg] = None,
    ) -> "AsyncCollection":
        return await self.create_collection(
            name, schema, configuration, metadata, embedding_function, data_loader, get_or_create=True
        )

    async def get_collection(
        self, name: str, embedding_function: Optional[EmbeddingFunctionArg] = _DEFAULT, data_loader: Optional[DataLoaderArg] = None
    ) -> "AsyncCollection":
        ef = api._check_embedding_function(embedding_function)
        native = await _call(self._db.get_collection, name)
        return AsyncCollection(self, native, await _call(native.info), ef, data_loader)

    async def get_collection_by_id(
        self,
        id: Union[str, uuid.UUID],
        embedding_function: Optional[EmbeddingFunctionArg] = _DEFAULT,
        data_loader: Optional[DataLoaderArg] = None,
    ) -> "AsyncCollection":
        ef = api._check_embedding_function(embedding_function)
        native = await _call(self._db.get_collection_by_id, str(id))
        return AsyncCollection(self, native, await _call(native.info), ef, data_loader)

    async def delete_collection(self, name: str) -> None:
        await _call(self._db.delete_collection, name)

    def __repr__(self) -> str:
        return f"<mnemodb.AsyncClient path={self._db.path!r}>"


async def AsyncPersistentClient(
    path: Union[str, Path] = "./chroma",
    settings: Optional[Settings] = None,
    tenant: str = DEFAULT_TENANT,
    database: str = DEFAULT_DATABASE,
) -> AsyncClient:
    """An async client on the database in directory ``path`` (created if needed); a
    coroutine, as chromadb's ``AsyncHttpClient``. It shares the database with every sync or
    async client on the same path in this process."""
    if settings is None:
        settings = Settings(is_persistent=True, persist_directory=str(path))
    return await AsyncClient.create(settings, tenant, database, path=str(path))


async def AsyncEphemeralClient(
    settings: Optional[Settings] = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
) -> AsyncClient:
    """An async client on the process's in-memory database (shared with ``EphemeralClient``)."""
    return await AsyncClient.create(settings, tenant, database, ephemeral=True)


class AsyncCollection:
    """chromadb's ``AsyncCollection``: :class:`mnemodb.api.Collection` with every engine call
    awaited. Arguments are checked by the sync collection's code (``self._sync``)."""

    __class__ = presents_as("chromadb.api.models.AsyncCollection", "AsyncCollection")  # see _chroma_types.py

    def __init__(self, client: AsyncClient, native: Any, info: Dict[str, Any], ef: Any, data_loader: Any) -> None:
        self._client = client
        self._native = native
        # The sync collection on the same handle: its checks, embedding and attributes.
        self._sync = api.Collection(cast(Any, client), native, info, ef, data_loader)

    # attributes, as the sync collection's
    @property
    def id(self) -> uuid.UUID:
        return self._sync.id

    @property
    def name(self) -> str:
        return self._sync.name

    @property
    def metadata(self) -> Optional[Dict[str, Any]]:
        return self._sync.metadata

    @property
    def configuration(self) -> Dict[str, Any]:
        return self._sync.configuration

    @property
    def configuration_json(self) -> Dict[str, Any]:
        return self._sync.configuration_json

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
        return self._sync.embedding_function

    def __repr__(self) -> str:
        return f"AsyncCollection(name={self.name})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AsyncCollection):
            return NotImplemented
        return self._sync == other._sync

    __hash__ = None  # type: ignore[assignment]

    # reads
    async def count(self, read_level: Optional[str] = None) -> int:
        return int(await _call(self._native.count))

    async def get(
        self,
        ids: Optional[OneOrMany[ID]] = None,
        where: Optional[Where] = None,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
        where_document: Optional[WhereDocument] = None,
        include: Include = ["metadatas", "documents"],  # noqa: B006 (chromadb's default)
    ) -> GetResult:
        r = await _call(self._native.get, v.one_to_many(ids), where, where_document, limit, offset or 0, include)
        self._sync._check_data_loader("get", include)
        return api._get_result(r, include)

    async def peek(self, limit: int = 10) -> GetResult:
        r = await _call(self._native.get, None, None, None, limit, 0, api._PEEK_INCLUDE)
        return api._get_result(r, api._PEEK_INCLUDE)

    async def query(
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
        matrix = self._sync._query_matrix(query_embeddings, query_texts, query_images, query_uris)
        result = await _call(self._native.query, matrix, n_results, v.one_to_many(ids), where, where_document, include)
        self._sync._check_data_loader("query", include)
        return cast(QueryResult, result)

    # writes
    async def add(
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
        ids_l, matrix, mds, docs, uris_l = self._sync._prepare_write("add", ids, embeddings, metadatas, documents, images, uris)
        await _call(self._native.add, ids_l, matrix, docs, uris_l, mds, **api._expiry(ttl, expires_at))

    async def upsert(
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
        ids_l, matrix, mds, docs, uris_l = self._sync._prepare_write("upsert", ids, embeddings, metadatas, documents, images, uris)
        await _call(self._native.update, ids_l, matrix, docs, uris_l, mds, True, **api._expiry(ttl, expires_at))

    async def update(
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
        ids_l, matrix, mds, docs, uris_l = self._sync._prepare_write("update", ids, embeddings, metadatas, documents, images, uris)
        await _call(self._native.update, ids_l, matrix, docs, uris_l, mds, False, **api._expiry(ttl, expires_at))

    async def update_deferred(
        self,
        ids: OneOrMany[ID],
        metadatas: Optional[Union[UpdateMetadata, List[UpdateMetadata], List[Optional[UpdateMetadata]]]] = None,
        documents: Optional[OneOrMany[Document]] = None,
        uris: Optional[OneOrMany[URI]] = None,
    ) -> None:
        """mnemodb only: :meth:`mnemodb.api.Collection.update_deferred`, awaited."""
        ids_l, _, mds, docs, uris_l = self._sync._prepare_write("update", ids, None, metadatas, documents, None, uris)
        await _call(self._native.update, ids_l, None, docs, uris_l, mds, False, synced=False)

    async def delete(
        self,
        ids: Optional[OneOrMany[ID]] = None,
        where: Optional[Where] = None,
        where_document: Optional[WhereDocument] = None,
        limit: Optional[int] = None,
    ) -> DeleteResult:
        ids_l = v.one_to_many(ids)
        deleted = await _call(self._native.delete, ids_l, where, where_document, limit)
        return api._delete_result(ids_l, where, where_document, deleted)

    async def modify(
        self,
        name: Optional[str] = None,
        metadata: Optional[CollectionMetadata] = None,
        configuration: Optional[CollectionConfiguration] = None,
    ) -> None:
        if name is not None or metadata is not None:
            await _call(self._native.modify, name, metadata)
        if configuration is not None:
            await _call(self._native.modify_configuration, api._engine_configuration(configuration))
        self._sync._info = await _call(self._native.info)

