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

# The version has one home, the workspace Cargo.toml: the wheel's metadata and the native
# module's `__version__` both come from it (read here on first use, keeping `import` light).

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
    "__version__",
]

if TYPE_CHECKING:  # pragma: no cover
    from ._native import __version__ as __version__
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
    if name == "__version__":
        from ._native import __version__

        return __version__
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


def __dir__() -> list:
    return sorted(set(globals()) | _LAZY | _LAZY_ASYNC | {"Client"})


def _client(settings: Any = None, tenant: str = "default_tenant", database: str = "default_database") -> Any:
    """chromadb's ``Client()``: ephemeral unless ``settings.is_persistent``."""
    from . import api

    return api.Client(settings, tenant, database)
