"""``mnemodb.api.models.Collection``: where ``chromadb.api.models.Collection`` was."""

from __future__ import annotations

from .. import Collection as Collection

__all__ = ["Collection"]
