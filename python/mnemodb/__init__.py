"""mnemodb: an embedded vector database with chromadb's Python API.

Change ``import chromadb`` to ``import mnemodb``::

    import mnemodb
    client = mnemodb.PersistentClient(path="./data")
    notes = client.get_or_create_collection("notes", configuration={"hnsw": {"space": "cosine"}})
    notes.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=["apples", "bikes"])
    notes.query(query_embeddings=[[0.9, 0.1]], n_results=1)

Importing this package is cheap: it loads numpy and the native module only when a client or
collection class is first used, opens nothing and starts no thread.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: `import mnemodb` stays cheap
if TYPE_CHECKING:
    import os
    from typing import Any, Dict, Optional, Union

from . import errors

# The version has one home, the workspace Cargo.toml: the wheel's metadata and the native
# module's `__version__` both come from it (read here on first use, keeping `import` light).

_TYPE_NAMES = {
    "CollectionMetadata",
    "Documents",
    "EmbeddingFunction",
    "Embeddings",
    "GetResult",
    "IDs",
    "Include",
    "Metadata",
    "Metadatas",
    "QueryResult",
    "UpdateCollectionMetadata",
    "UpdateMetadata",
    "URI",
    "URIs",
    "Where",
    "WhereDocument",
}
"""chromadb's top-level type names, from :mod:`mnemodb.types` (loaded on first use)."""

__all__ = [
    "Client",
    "ClientAPI",
    "PersistentClient",
    "EphemeralClient",
    "AsyncClientAPI",
    "AsyncPersistentClient",
    "AsyncEphemeralClient",
    "Collection",
    "Settings",
    "errors",
    "DEFAULT_TENANT",
    "DEFAULT_DATABASE",
    "migrate_chroma",
    "__version__",
    "CollectionMetadata",
    "Documents",
    "EmbeddingFunction",
    "Embeddings",
    "GetResult",
    "IDs",
    "Include",
    "Metadata",
    "Metadatas",
    "QueryResult",
    "UpdateCollectionMetadata",
    "UpdateMetadata",
    "URI",
    "URIs",
    "Where",
    "WhereDocument",
]

if TYPE_CHECKING:  # pragma: no cover
    from ._native import __version__ as __version__
    from .api import (
        DEFAULT_DATABASE,
        DEFAULT_TENANT,
        ClientAPI,
        Collection,
        EphemeralClient,
        PersistentClient,
        Settings,
    )
    from .api import Client as Client
    from .async_api import AsyncClient as AsyncClientAPI
    from .async_api import AsyncEphemeralClient, AsyncPersistentClient
    from .types import (
        CollectionMetadata,
        Documents,
        EmbeddingFunction,
        Embeddings,
        GetResult,
        IDs,
        Include,
        Metadata,
        Metadatas,
        QueryResult,
        UpdateCollectionMetadata,
        UpdateMetadata,
        URI,
        URIs,
        Where,
        WhereDocument,
    )

_LAZY = {
    "PersistentClient",
    "EphemeralClient",
    "ClientAPI",
    "Collection",
    "Settings",
    "DEFAULT_TENANT",
    "DEFAULT_DATABASE",
}


_LAZY_ASYNC = {"AsyncPersistentClient", "AsyncEphemeralClient"}


# Hidden from type checkers (they read the imports above): a module ``__getattr__`` would make
# every misspelt ``mnemodb.X`` an ``Any`` instead of an error.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        if name == "__version__":
            from ._native import __version__

            return __version__
        if name in _LAZY_ASYNC:
            from . import async_api

            return getattr(async_api, name)
        if name == "AsyncClientAPI":
            from . import async_api

            return async_api.AsyncClient
        if name in _LAZY:
            from . import api

            return getattr(api, name)
        if name in _TYPE_NAMES:
            from . import types

            return getattr(types, name)
        if name == "Client":
            return _client
        raise AttributeError(f"module 'mnemodb' has no attribute {name!r}")


def migrate_chroma(
    src: Union[str, os.PathLike[str]], dest: Optional[Union[str, os.PathLike[str]]] = None
) -> Dict[str, Any]:
    """Copies every collection of the Chroma directory ``src`` (written by chromadb's
    ``PersistentClient``) into the mnemodb database in ``dest`` (default: ``src`` itself, so
    ``PersistentClient(path=src)`` opens the copy afterwards). chromadb is not needed; its
    files are only read. Returns ``{"collections": {name: records}, "skipped": [...]}``;
    ``skipped`` names collections of other tenants or databases, which are not copied. The
    same as ``mnemodb import-chroma SRC [DEST]``."""
    import os

    from . import _native

    return _native.import_chroma(os.fspath(src), None if dest is None else os.fspath(dest))


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))


def _client(
    settings: Optional[Settings] = None, tenant: str = "default_tenant", database: str = "default_database"
) -> ClientAPI:
    """chromadb's ``Client()``: ephemeral unless ``settings.is_persistent``."""
    from . import api

    return api.Client(settings, tenant, database)
