"""``mnemodb.utils.embedding_functions``: where ``chromadb.utils.embedding_functions`` was.

``HashEmbeddingFunction`` is mnemodb's own (local, deterministic, for tests). Any other name
(``SentenceTransformerEmbeddingFunction``, ``OpenAIEmbeddingFunction``, ...) is chromadb's,
taken from the installed ``chromadb`` package, since mnemodb accepts chromadb's embedding
function objects unchanged. ``DefaultEmbeddingFunction`` is refused: chromadb's downloads a
model on first use, and mnemodb never downloads anything.
"""

from __future__ import annotations

import importlib

from ..embedding_functions import HashEmbeddingFunction

__all__ = ["HashEmbeddingFunction"]


def __getattr__(name: str) -> object:
    if name.startswith("__"):
        raise AttributeError(name)
    if name == "DefaultEmbeddingFunction":
        raise AttributeError(
            "mnemodb has no DefaultEmbeddingFunction (chromadb's downloads a model on first use): "
            "pass a local one, e.g. chromadb.utils.embedding_functions."
            "SentenceTransformerEmbeddingFunction(), or mnemodb.embedding_functions.HashEmbeddingFunction() for tests"
        )
    try:
        theirs = importlib.import_module("chromadb.utils.embedding_functions")
    except ImportError as e:
        raise AttributeError(
            f"{name} is one of chromadb's embedding functions: install chromadb to use it with mnemodb "
            "(mnemodb accepts chromadb's embedding function objects unchanged)"
        ) from e
    return getattr(theirs, name)
