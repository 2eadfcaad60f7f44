"""Deterministic embedders for the tests: no model, no network."""

from __future__ import annotations

import hashlib
import math
import re
from typing import List

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")


def embed(text: str, dims: int = 64) -> List[float]:
    """Hashed bag of words, L2-normalised (crewai_memory_core's FakeEmbedder's scheme)."""
    vec = [0.0] * dims
    for word in _WORD.findall(text.lower()):
        h = int(hashlib.md5(word.encode()).hexdigest(), 16)
        vec[h % dims] += 1.0
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec] if norm else [1.0 / math.sqrt(dims)] * dims


class MemoryEmbedder:
    """``Memory(embedder=...)``: any ``list[str] -> list[list[float]]`` callable."""

    def __init__(self, dims: int = 64) -> None:
        self.dims = dims
        self.calls = 0

    def __call__(self, texts: List[str]) -> List[List[float]]:
        self.calls += 1
        return [embed(t, self.dims) for t in texts]


def chroma_ef_class(dims: int = 64):
    """A Chroma-style embedding function class that crewai's ``custom`` embedder provider
    also accepts (it must be both a chromadb ``EmbeddingFunction`` and crewai's
    ``CustomEmbeddingFunction``: crewai checks each in a different place)."""
    from chromadb.api.types import EmbeddingFunction as ChromaEF
    from crewai.rag.embeddings.providers.custom.embedding_callable import CustomEmbeddingFunction

    class FakeEF(CustomEmbeddingFunction, ChromaEF):
        def __init__(self, **kwargs):
            pass

        def __call__(self, input):
            return [np.asarray(embed(t, dims), dtype=np.float32) for t in input]

        @staticmethod
        def name() -> str:
            return "fake"

        def get_config(self) -> dict:
            return {}

        @staticmethod
        def build_from_config(config):
            return FakeEF()

    return FakeEF
