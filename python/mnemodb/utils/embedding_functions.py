"""``mnemodb.utils.embedding_functions``: where ``chromadb.utils.embedding_functions`` was.

``DefaultEmbeddingFunction`` (all-MiniLM-L6-v2 in Rust, the model from an installed package)
and ``HashEmbeddingFunction`` (local, deterministic, for tests) are mnemodb's own. Any other
name (``SentenceTransformerEmbeddingFunction``, ``OpenAIEmbeddingFunction``, ...) is chromadb's,
taken from the installed ``chromadb`` package, since mnemodb accepts chromadb's embedding
function objects unchanged.
"""

from __future__ import annotations

import importlib

from ..embedding_functions import DefaultEmbeddingFunction, HashEmbeddingFunction

__all__ = ["DefaultEmbeddingFunction", "HashEmbeddingFunction"]


def __getattr__(name: str) -> object:
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        theirs = importlib.import_module("chromadb.utils.embedding_functions")
    except ImportError as e:
        raise AttributeError(
            f"{name} is one of chromadb's embedding functions: install chromadb to use it with mnemodb "
            "(mnemodb accepts chromadb's embedding function objects unchanged)"
        ) from e
    return getattr(theirs, name)
