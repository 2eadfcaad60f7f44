"""``install()``: route crewai's three storage seams to mnemodb in one call."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Dict, Optional

from ._paths import memory_path, rag_path

SCHEME = "mnemodb://"

_stores: Dict[str, Any] = {}
_stores_lock = threading.Lock()


def _memory_store(path: Path) -> Any:
    from ._memory import MnemoStorage

    key = str(Path(path).expanduser().resolve())
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = MnemoStorage(key)
        return store


def memory_path_for_spec(spec: str, root: Optional[Path] = None) -> Optional[Path]:
    """The directory a ``Memory(storage=spec)`` uses once installed, or ``None`` when the
    spec is not mnemodb's (``"qdrant-edge"``, a LanceDB path...)."""
    if spec in ("lancedb", "mnemodb"):
        return memory_path(root)
    if spec.startswith(SCHEME):
        rest = spec[len(SCHEME) :]
        return Path(rest) if rest else memory_path(root)
    return None


# crewai's switches for its network calls (crewai 1.15.30): anonymous telemetry (OpenTelemetry
# spans sent to crewai's collector: OTEL_SDK_DISABLED, CREWAI_DISABLE_TELEMETRY,
# CREWAI_DISABLE_TRACKING) and execution traces (CREWAI_TRACING_ENABLED); chromadb's telemetry
# (ANONYMIZED_TELEMETRY) for crewai's Chroma clients that mnemodb does not replace. All are read
# when a call would be made, so setting them after crewai is imported works.
OFFLINE_ENV = {
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "ANONYMIZED_TELEMETRY": "False",
}


def install(
    path: "str | os.PathLike[str] | None" = None,
    *,
    migrate: bool = False,
    offline: bool = False,
    tool_cache: bool = True,
) -> None:
    """Makes crewai store memory, knowledge and RAG collections in mnemodb.

    - memory: ``Memory()`` / ``Crew(memory=True)`` (spec ``"lancedb"``, the default) and
      ``Memory(storage="mnemodb://PATH")`` get a :class:`MnemoStorage`, one per directory in
      the process (``<root>/memory`` for the default spec);
    - knowledge: ``Knowledge`` without an explicit ``storage=`` gets a
      :class:`MnemoKnowledgeStorage` in ``<root>/rag``;
    - RAG: clients of the ``"chromadb"`` provider (crewai's ``KnowledgeStorage``,
      ``get_rag_client()``, crewai-tools' RAG tools) are :class:`MnemoRagClient` in
      ``<root>/rag``, or ``<persist_directory>/mnemodb`` when the Chroma config names a
      directory other than crewai's default (``crewai.rag.chromadb.constants.DEFAULT_STORAGE_PATH``).

    ``root`` is ``path``, or when ``None`` :func:`default_root` evaluated at each use
    (``$CREWAI_STORAGE_DIR/mnemodb``, else crewai's data directory + ``/mnemodb``). Other
    memory specs (``"qdrant-edge"``, a LanceDB directory) keep crewai's built-in choice.
    Call it once at start-up, before building crews; :func:`uninstall` undoes it.

    - tools: every ``Crew`` gets a ``MnemoCacheHandler`` (``crewai.agents.cache.CacheHandler``
      backed by mnemodb's tool cache in ``<root>/tools``), so tool results persist across runs
      and processes; ``tool_cache=False`` keeps crewai's in-memory cache.

    ``migrate=True`` first copies the records of crewai's LanceDB memory (its default store)
    into mnemodb (:func:`migrate_lancedb`); without it, ``install()`` warns once when that
    store holds records that were never migrated. ``offline=True`` sets crewai's settings that
    stop its telemetry and tracing network calls (:data:`OFFLINE_ENV`, in ``os.environ``).
    """
    if offline:  # before crewai is imported: some of it reads them at import
        os.environ.update(OFFLINE_ENV)
    from crewai.knowledge.storage.factory import set_knowledge_storage_factory  # type: ignore  # crewai is optional
    from crewai.memory.storage.factory import set_memory_storage_factory  # type: ignore  # crewai is optional
    from crewai.rag.factory import register_rag_client_factory  # type: ignore  # crewai is optional

    root = Path(path).expanduser().resolve() if path is not None else None
    from ._lancedb import migrate_lancedb, warn_if_unmigrated

    if migrate:
        migrate_lancedb(path=root)
    else:
        warn_if_unmigrated(root)

    def memory_factory(spec: str) -> Any:
        target = memory_path_for_spec(spec, root)
        return None if target is None else _memory_store(target)

    def knowledge_factory(embedder: Any, collection_name: Optional[str]) -> Any:
        from ._knowledge import MnemoKnowledgeStorage

        return MnemoKnowledgeStorage(collection_name=collection_name, embedder=embedder, path=str(rag_path(root)))

    def rag_factory(config: Any) -> Any:
        from ._rag import MnemoRagClient

        target = rag_path(root)
        persist = getattr(getattr(config, "settings", None), "persist_directory", None)
        if persist:
            from crewai.rag.chromadb.constants import DEFAULT_STORAGE_PATH  # type: ignore  # chromadb is optional

            if Path(persist).resolve() != Path(DEFAULT_STORAGE_PATH).resolve():
                target = Path(persist) / "mnemodb"  # a directory the application chose
        return MnemoRagClient(
            target,
            embedding_function=config.embedding_function,
            default_limit=config.limit,
            default_score_threshold=config.score_threshold,
            default_batch_size=config.batch_size,
        )

    set_memory_storage_factory(memory_factory)
    set_knowledge_storage_factory(knowledge_factory)
    register_rag_client_factory("chromadb", rag_factory)
    if tool_cache:
        from ._tools import install_cache

        install_cache(root)


def uninstall() -> None:
    """Restores crewai's built-in memory, knowledge and Chroma choices."""
    from crewai.knowledge.storage.factory import set_knowledge_storage_factory  # type: ignore  # crewai is optional
    from crewai.memory.storage.factory import set_memory_storage_factory  # type: ignore  # crewai is optional
    from crewai.rag.factory import unregister_rag_client_factory  # type: ignore  # crewai is optional

    set_memory_storage_factory(None)
    set_knowledge_storage_factory(None)
    unregister_rag_client_factory("chromadb")
    from ._tools import uninstall_cache

    uninstall_cache()
