"""Where the CrewAI integration stores things when no path is given."""

from __future__ import annotations

import os
from pathlib import Path


def default_root() -> Path:
    """``$CREWAI_STORAGE_DIR/mnemodb`` when the variable is set (as crewai's LanceDB memory
    reads it), else ``<crewai's db_storage_path()>/mnemodb`` (the platform data directory
    named after the current project). Memory lives in ``memory/`` below it, knowledge and RAG
    collections in ``rag/``."""
    storage_dir = os.environ.get("CREWAI_STORAGE_DIR")
    if storage_dir:
        return Path(storage_dir) / "mnemodb"
    from crewai_core.paths import db_storage_path  # type: ignore  # crewai is optional

    return Path(db_storage_path()) / "mnemodb"


def memory_path(root: "str | os.PathLike[str] | None" = None) -> Path:
    return Path(root if root is not None else default_root()) / "memory"


def rag_path(root: "str | os.PathLike[str] | None" = None) -> Path:
    return Path(root if root is not None else default_root()) / "rag"
