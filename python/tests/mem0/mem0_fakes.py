"""An offline embedder and a scripted LLM for mem0: no model, no network."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any, Dict, List, Optional

from mem0.embeddings.base import EmbeddingBase
from mem0.llms.base import LLMBase

_WORD = re.compile(r"[a-z0-9]+")


def embed(text: str, dims: int) -> List[float]:
    """Hashed bag of words, L2-normalised: texts sharing words are close, equal texts equal."""
    vec = [0.0] * dims
    for word in _WORD.findall(text.lower()):
        h = int(hashlib.md5(word.encode()).hexdigest(), 16)
        vec[h % dims] += 1.0 if (h >> 127) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec] if norm else [1.0 / math.sqrt(dims)] * dims


class FakeEmbedding(EmbeddingBase):
    """mem0 embedder provider ``"fake"``."""

    dims = 64

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.dims = getattr(self.config, "embedding_dims", None) or type(self).dims
        self.calls: List[str] = []

    def embed(self, text: str, memory_action: Optional[str] = None) -> List[float]:
        self.calls.append(text)
        return embed(text, self.dims)


class ScriptedLLM(LLMBase):
    """mem0 LLM provider ``"scripted"``: answers with the JSON objects queued in ``replies``,
    in order, and keeps the messages it was sent."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.replies: List[Dict[str, Any]] = []
        self.requests: List[List[Dict[str, str]]] = []

    def generate_response(self, messages: List[Dict[str, str]], response_format: Any = None, tools: Any = None, tool_choice: str = "auto", **kwargs: Any) -> str:
        self.requests.append(messages)
        if not self.replies:
            raise AssertionError("the scripted LLM was called more often than scripted")
        return json.dumps(self.replies.pop(0))


def install_fakes() -> None:
    """Makes ``"fake"`` an embedder provider and ``"scripted"`` an LLM provider of mem0."""
    from mem0.utils.factory import EmbedderFactory, LlmFactory

    EmbedderFactory.provider_to_class["fake"] = f"{__name__}.FakeEmbedding"
    LlmFactory.register_provider("scripted", f"{__name__}.ScriptedLLM")


def memory_config(vector_store: Dict[str, Any], history_db_path: str) -> Dict[str, Any]:
    """A mem0 config with the fakes (their configs are left out: mem0 validates a given
    config against its own list of provider names)."""
    return {
        "vector_store": vector_store,
        "embedder": {"provider": "fake"},
        "llm": {"provider": "scripted"},
        "history_db_path": history_db_path,
    }
