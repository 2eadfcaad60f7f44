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
    from typing import Any

from . import errors

__version__ = "0.1.0"

__all__ = [
    "Client",
    "PersistentClient",
    "EphemeralClient",
    "AsyncPersistentClient",
    "AsyncEphemeralClient",
    "Collection",
    "Settings",
    "errors",
    "DEFAULT_TENANT",
    "DEFAULT_DATABASE",
    "migrate_chroma",
    "__version__",
]

if TYPE_CHECKING:  # pragma: no cover
    from .api import (
        DEFAULT_DATABASE,
        DEFAULT_TENANT,
        Collection,
        EphemeralClient,
        PersistentClient,
        Settings,
    )
    from .api import Client as Client
    from .async_api import AsyncEphemeralClient, AsyncPersistentClient

_LAZY = {
    "PersistentClient",
    "EphemeralClient",
    "Collection",
    "Settings",
    "DEFAULT_TENANT",
    "DEFAULT_DATABASE",
}


_LAZY_ASYNC = {"AsyncPersistentClient", "AsyncEphemeralClient"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_ASYNC:
        from . import async_api

        return getattr(async_api, name)
    if name in _LAZY:
        from . import api

        return getattr(api, name)
    if name == "Client":
        from . import api

        return _client
    raise AttributeError(f"module 'mnemodb' has no attribute {name!r}")


def migrate_chroma(src: Any, dest: Any = None) -> dict:
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
    return sorted(set(globals()) | _LAZY | _LAZY_ASYNC | {"Client"})


def _client(settings: Any = None, tenant: str = "default_tenant", database: str = "default_database") -> Any:
    """chromadb's ``Client()``: ephemeral unless ``settings.is_persistent``."""
    from . import api

    return api.Client(settings, tenant, database)
