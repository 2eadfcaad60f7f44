"""``mnemodb.api.models.AsyncCollection``: where ``chromadb.api.models.AsyncCollection`` was."""

from __future__ import annotations

from ...async_api import AsyncCollection as AsyncCollection

__all__ = ["AsyncCollection"]
