"""mnemodb as CrewAI's memory, knowledge and RAG store (crewai 1.15).

One line switches a CrewAI application to mnemodb::

    from mnemodb.integrations.crewai import install
    install()                      # or install("/path/to/store")

After it, ``Memory()``, ``Crew(memory=True)``, ``Agent(memory=True)`` and flows store memories
in mnemodb (the default ``"lancedb"`` spec and ``"mnemodb://PATH"`` specs are claimed), and
knowledge sources and ``crewai.rag`` clients of the ``"chromadb"`` provider use mnemodb.

The pieces, usable on their own:

- :class:`MnemoStorage`: a ``crewai.memory.storage.backend.StorageBackend``.
- :class:`MnemoRagClient`: a ``crewai.rag.core.base_client.BaseClient`` with the semantics of
  crewai's Chroma client.
- :class:`MnemoKnowledgeStorage`: a ``BaseKnowledgeStorage`` over :class:`MnemoRagClient`.
- :class:`MnemoCacheHandler`: crewai's tool ``CacheHandler`` over mnemodb's shared, persistent
  tool cache (``install()`` gives it to every crew); :func:`guard` wraps a crewai tool in a
  :class:`mnemodb.tools.ToolExecutor` (timeout, repetition limit, ledger).

:func:`migrate_lancedb` copies crewai's LanceDB memory records (the default ``Memory()``
store) into mnemodb; ``install(migrate=True)`` does it first. :func:`migrate` copies an
existing Chroma persist directory (crewai's knowledge and RAG data)
into mnemodb, through the real ``chromadb`` package.

Importing this module does not import crewai; the classes that subclass crewai's bases are
loaded on first use.
"""

from __future__ import annotations

from typing import Any

from ._paths import default_root
from ._install import OFFLINE_ENV, install, uninstall
from ._lancedb import lancedb_memory_path, migrate_lancedb
from ._migrate import MigrationError, migrate

__all__ = [
    "MnemoStorage",
    "MnemoRagClient",
    "MnemoKnowledgeStorage",
    "install",
    "uninstall",
    "migrate",
    "migrate_lancedb",
    "lancedb_memory_path",
    "OFFLINE_ENV",
    "MigrationError",
    "default_root",
    "MnemoCacheHandler",
    "guard",
]


def __getattr__(name: str) -> Any:
    if name == "MnemoStorage":
        from ._memory import MnemoStorage

        return MnemoStorage
    if name == "MnemoRagClient":
        from ._rag import MnemoRagClient

        return MnemoRagClient
    if name == "MnemoKnowledgeStorage":
        from ._knowledge import MnemoKnowledgeStorage

        return MnemoKnowledgeStorage
    if name in ("MnemoCacheHandler", "guard"):
        from . import _tools

        return getattr(_tools, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))
