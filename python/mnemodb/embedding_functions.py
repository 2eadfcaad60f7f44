"""A local embedding function that needs no model and no network.

mnemodb has no default embedding function (chromadb's default downloads a model on first
use). Pass any chromadb embedding function object, e.g.
``chromadb.utils.embedding_functions.SentenceTransformerEmbeddingFunction`` (a local model),
or, for tests and demos, :class:`HashEmbeddingFunction`: deterministic feature hashing of
character trigrams, L2-normalised. It is not semantic; it only makes equal texts equal and
similar texts close.
"""

from __future__ import annotations

import hashlib
from typing import List, Sequence

import numpy as np


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

    def get_config(self) -> dict:
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: dict) -> "HashEmbeddingFunction":
        return HashEmbeddingFunction(int(config.get("dim", 384)))

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> List[str]:
        return ["cosine", "l2", "ip"]

    def is_legacy(self) -> bool:
        return False
