"""``mnemodb.api.types``: where ``chromadb.api.types`` was (the names live in :mod:`mnemodb.types`)."""

from __future__ import annotations

from ..types import *  # noqa: F401,F403
from ..default_ef import DefaultEmbeddingFunction as DefaultEmbeddingFunction  # noqa: E402
