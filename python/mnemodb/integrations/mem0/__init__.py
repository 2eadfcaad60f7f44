"""mnemodb as mem0's vector store (mem0ai 2.2): the ``"mnemodb"`` provider.

Importing this module registers the provider with mem0 (:func:`register`)::

    import mnemodb.integrations.mem0  # noqa: F401  (registers "mnemodb")
    from mem0 import Memory

    m = Memory.from_config({
        "vector_store": {"provider": "mnemodb", "config": {"collection_name": "mem", "path": "./mem"}},
        ...  # embedder, llm
    })

The store (:class:`MnemoVectorStore`) implements mem0's whole ``VectorStoreBase``: insert,
search and search_batch with mem0's filters, keyword_search (BM25 over mnemodb's document
full-text index, so mem0's hybrid scoring is on), get, list, update, delete, collection
management and reset. Payloads are kept as metadata, filters become mnemodb filters.

mem0's own ``"chroma"`` provider also accepts a mnemodb client
(``{"provider": "chroma", "config": {"client": mnemodb.PersistentClient(path)}}``): mnemodb's
clients pass chromadb's type checks once chromadb is imported (``mnemodb._chroma_types``).
It has no keyword search.
"""

from __future__ import annotations

import sys
from typing import Any

PROVIDER = "mnemodb"
CONFIG_MODULE = "mem0.configs.vector_stores." + PROVIDER
STORE_CLASS = "mnemodb.integrations.mem0._store.MnemoVectorStore"

__all__ = ["MnemoVectorStore", "MnemoDbConfig", "register", "unregister", "PROVIDER"]


def register() -> None:
    """Makes ``"mnemodb"`` a provider of mem0's ``vector_store`` config (idempotent).

    mem0 2.2 has no registration call for vector stores: its ``VectorStoreFactory`` maps provider
    names to class paths, and its ``VectorStoreConfig`` maps them to config class names that it
    imports from ``mem0.configs.vector_stores.<provider>``. This adds ``"mnemodb"`` to both maps
    and makes that module name :mod:`mnemodb.integrations.mem0._config`.
    """
    import mem0.configs.vector_stores as config_package  # type: ignore  # mem0 is optional, untyped
    from mem0.utils.factory import VectorStoreFactory  # type: ignore  # mem0 is optional
    from mem0.vector_stores.configs import VectorStoreConfig  # type: ignore  # mem0 is optional

    from . import _config

    sys.modules[CONFIG_MODULE] = _config
    setattr(config_package, PROVIDER, _config)
    VectorStoreFactory.provider_to_class[PROVIDER] = STORE_CLASS
    _provider_configs(VectorStoreConfig)[PROVIDER] = "MnemoDbConfig"


def unregister() -> None:
    """Undoes :func:`register`."""
    import mem0.configs.vector_stores as config_package  # type: ignore  # mem0 is optional
    from mem0.utils.factory import VectorStoreFactory  # type: ignore  # mem0 is optional
    from mem0.vector_stores.configs import VectorStoreConfig  # type: ignore  # mem0 is optional

    VectorStoreFactory.provider_to_class.pop(PROVIDER, None)
    _provider_configs(VectorStoreConfig).pop(PROVIDER, None)
    if getattr(config_package, PROVIDER, None) is sys.modules.get(CONFIG_MODULE):
        delattr(config_package, PROVIDER)
    sys.modules.pop(CONFIG_MODULE, None)


def _provider_configs(config_class: Any) -> Any:
    """``VectorStoreConfig._provider_configs``: a pydantic private attribute, whose default
    (the dict each new config copies) is the map to change."""
    private = getattr(config_class, "__private_attributes__", {}).get("_provider_configs")
    mapping = getattr(private, "default", None)
    if not isinstance(mapping, dict):
        raise RuntimeError(
            "mnemodb.integrations.mem0 cannot register with this mem0 version "
            "(VectorStoreConfig._provider_configs is not where mem0ai 2.2 keeps it)"
        )
    return mapping


def __getattr__(name: str) -> Any:
    if name == "MnemoVectorStore":
        from ._store import MnemoVectorStore

        return MnemoVectorStore
    if name == "MnemoDbConfig":
        from ._config import MnemoDbConfig

        return MnemoDbConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))


try:
    register()
except ModuleNotFoundError as e:  # pragma: no cover - depends on the environment
    if (e.name or "").split(".")[0] != "mem0":
        raise
    raise ImportError("mnemodb.integrations.mem0 needs mem0: pip install mem0ai (tested with 2.2.1)") from e
