"""Embedding functions: the registry of persisted ones, chromadb's default, and a hashing one.

:class:`DefaultEmbeddingFunction` is chromadb's default (all-MiniLM-L6-v2), computed in Rust
from model files installed as a package (``default_ef.py``); it never downloads anything.
Any chromadb embedding function object works too. For tests and demos,
:class:`HashEmbeddingFunction`: deterministic feature hashing of character trigrams,
L2-normalised. It is not semantic; it only makes equal texts equal and similar texts close.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from typing import Any, Dict, List, Optional, Sequence, TypeVar

import numpy as np

from .default_ef import DefaultEmbeddingFunction

__all__ = [
    "DefaultEmbeddingFunction",
    "HashEmbeddingFunction",
    "register_embedding_function",
    "known_embedding_functions",
    "describe_embedding_function",
    "build_embedding_function",
]

# Persisted embedding functions, as chromadb 1.5 persists them: a collection's configuration
# keeps ``{"type": "known", "name": ef.name(), "config": ef.get_config()}`` (or
# ``{"type": "legacy"}`` for a function without them), and getting the collection without an
# embedding function rebuilds it with ``build_from_config``: the class is found by name in
# ``known_embedding_functions`` (mnemodb's, then chromadb's registry when chromadb is
# installed). Creating a collection registers its function's class, as chromadb does.

known_embedding_functions: Dict[str, Any] = {}
"""Embedding function classes by ``name()``, for rebuilding persisted ones."""

C = TypeVar("C")

def register_embedding_function(cls: C) -> C:
    """Registers an embedding function class under its ``name()`` so collections persisted
    with it are rebuilt (usable as a class decorator, as chromadb's)."""
    name = getattr(cls, "name")()
    known_embedding_functions[str(name)] = cls
    return cls


def describe_embedding_function(ef: object) -> Optional[Dict[str, Any]]:
    """chromadb's description of ``ef`` for the collection configuration (``None``: no
    function). A function without ``name()`` / ``get_config()`` is ``{"type": "legacy"}``,
    with chromadb's ``DeprecationWarning``."""
    if ef is None:
        return None
    try:
        if getattr(ef, "is_legacy")():
            return {"type": "legacy"}
        description = {"name": getattr(ef, "name")(), "type": "known", "config": getattr(ef, "get_config")()}
        json.dumps(description)
        register_embedding_function(type(ef))
    except Exception as e:
        warnings.warn(f"legacy embedding function config: {e}", DeprecationWarning, stacklevel=3)
        return {"type": "legacy"}
    return description


def build_embedding_function(description: Optional[Dict[str, Any]]) -> Optional[Any]:
    """The embedding function a persisted description names, rebuilt; ``None`` for none or a
    legacy one. Raises ``ValueError`` saying why when it cannot be rebuilt."""
    if not description or description.get("type") != "known":
        return None
    name = description.get("name")
    config = description.get("config") or {}
    if name == "default":  # chromadb's default is mnemodb's own, whatever is registered
        return DefaultEmbeddingFunction()
    cls = known_embedding_functions.get(str(name)) or _chromadb_class(str(name))
    if cls is None:
        raise ValueError(
            f"Embedding function {name} not found: the collection was created with it, and neither "
            "mnemodb nor chromadb (when installed) has it registered. Get the collection with "
            "embedding_function=..., or register its class first with "
            "mnemodb.embedding_functions.register_embedding_function."
        )
    try:
        return cls.build_from_config(config)
    except Exception as e:
        raise ValueError(f"Could not build embedding function {name} from config {config}: {e}") from e


def _chromadb_class(name: str) -> Optional[Any]:
    """chromadb's registered class for ``name``, when chromadb is installed."""
    try:
        from chromadb.utils.embedding_functions import known_embedding_functions as theirs
    except ImportError:
        return None
    return theirs.get(name)


register_embedding_function(DefaultEmbeddingFunction)


@register_embedding_function
class HashEmbeddingFunction:
    """Deterministic trigram-hashing embeddings of ``dim`` floats (default 384)."""

    def __init__(self, dim: int = 384) -> None:
        if dim < 1:
            raise ValueError("dim must be at least 1")
        self.dim = dim

    def __call__(self, input: Sequence[str]) -> List[np.ndarray]:
        out = []
        for text in input:
            v = np.zeros(self.dim, dtype=np.float32)
            padded = f"  {text} "
            for i in range(len(padded) - 2):
                h = hashlib.blake2b(padded[i : i + 3].encode(), digest_size=8).digest()
                n = int.from_bytes(h, "little")
                v[n % self.dim] += 1.0 if (n >> 63) & 1 else -1.0
            norm = float(np.linalg.norm(v))
            out.append(v / norm if norm > 0 else v)
        return out

    def embed_query(self, input: Sequence[str]) -> List[np.ndarray]:
        return self(input)

    @staticmethod
    def name() -> str:
        return "mnemodb_hash"

    def get_config(self) -> Dict[str, Any]:
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: Dict[str, Any]) -> "HashEmbeddingFunction":
        return HashEmbeddingFunction(int(config.get("dim", 384)))

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> List[str]:
        return ["cosine", "l2", "ip"]

    def is_legacy(self) -> bool:
        return False
