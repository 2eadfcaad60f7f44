"""Settings with chromadb's names (``chromadb.config.Settings``): ``from mnemodb.config import Settings``."""

from __future__ import annotations

import os
from typing import Any, Optional

__all__ = ["Settings", "DEFAULT_TENANT", "DEFAULT_DATABASE"]

DEFAULT_TENANT = "default_tenant"
DEFAULT_DATABASE = "default_database"


class Settings:
    """The chromadb settings mnemodb reads; a ``chromadb.config.Settings`` works too.

    ``allow_reset`` (env ``ALLOW_RESET``) guards :meth:`Client.reset` as in chromadb.
    There is no telemetry: ``anonymized_telemetry`` is accepted and ignored.
    """

    def __init__(
        self,
        allow_reset: Optional[bool] = None,
        is_persistent: bool = False,
        persist_directory: str = "./chroma",
        anonymized_telemetry: bool = False,
        **other: Any,
    ) -> None:
        if allow_reset is None:
            allow_reset = os.environ.get("ALLOW_RESET", "").lower() in ("1", "true", "yes")
        self.allow_reset = bool(allow_reset)
        self.is_persistent = is_persistent
        self.persist_directory = persist_directory
        self.anonymized_telemetry = anonymized_telemetry
        for k, val in other.items():
            setattr(self, k, val)

    def __repr__(self) -> str:
        return f"Settings({self.__dict__!r})"
