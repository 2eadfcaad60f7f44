"""Moving crewai's LanceDB memory (its default ``Memory()`` store) into mnemodb.

crewai 1.15 keeps memory records in a LanceDB table ``memories`` under
``$CREWAI_STORAGE_DIR/memory`` (else ``<crewai's db_storage_path()>/memory``): one row per
record with ``id``, ``content``, ``scope``, ``categories_str`` and ``metadata_str`` (JSON),
``importance``, ``created_at`` / ``last_accessed`` (ISO text), ``source``, ``private`` and
``vector``. :func:`migrate_lancedb` reads the table (with the ``lancedb`` package crewai
installs, never writing to it) and saves every record through :class:`MnemoStorage`, so
scopes, categories, importance, timestamps and embeddings arrive as crewai saved them.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from ._paths import memory_path

TABLE = "memories"
MARKER = "migrated-from-lancedb.json"
"""Written into the mnemodb memory directory by :func:`migrate_lancedb`: what was copied from where."""
_PLACEHOLDER = "__schema_placeholder__"  # the row crewai writes to create the table, then deletes

_warned = False


def lancedb_memory_path() -> Path:
    """Where crewai 1.15's ``LanceDBStorage`` keeps memory when given no path."""
    storage_dir = os.environ.get("CREWAI_STORAGE_DIR")
    if storage_dir:
        return Path(storage_dir) / "memory"
    from crewai_core.paths import db_storage_path  # type: ignore  # crewai is optional

    return Path(db_storage_path()) / "memory"


def _table(source: Path, table: str) -> Any:
    """The LanceDB table, or ``None`` when the directory holds none."""
    if not (source / f"{table}.lance").is_dir():
        return None
    import lancedb  # type: ignore  # installed with crewai

    db = lancedb.connect(str(source))
    try:
        return db.open_table(table)
    except (ValueError, FileNotFoundError):
        return None


def lancedb_record_count(source: "str | os.PathLike[str] | None" = None, table: str = TABLE) -> int:
    """How many memory records crewai's LanceDB store holds (0 when there is none)."""
    src = Path(source) if source is not None else lancedb_memory_path()
    t = _table(src, table)
    return 0 if t is None else int(t.count_rows(f"id != '{_PLACEHOLDER}'"))


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if value is None or value == "":
        return datetime.utcnow()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _record(row: Dict[str, Any]) -> Any:
    """A crewai ``MemoryRecord`` from one LanceDB row, read as ``LanceDBStorage`` reads it."""
    from crewai.memory.types import MemoryRecord  # type: ignore  # crewai is optional

    vector = row.get("vector")
    embedding = [float(x) for x in vector] if vector is not None else None
    if embedding is not None and not any(embedding):
        embedding = None  # crewai stores zeros for a record saved without an embedding
    return MemoryRecord(
        id=str(row["id"]),
        content=str(row.get("content") or ""),
        scope=str(row.get("scope") or "/"),
        categories=json.loads(row["categories_str"]) if row.get("categories_str") else [],
        metadata=json.loads(row["metadata_str"]) if row.get("metadata_str") else {},
        importance=float(row["importance"]) if row.get("importance") is not None else 0.5,
        created_at=_when(row.get("created_at")),
        last_accessed=_when(row.get("last_accessed")),
        embedding=embedding,
        source=row.get("source") or None,
        private=bool(row.get("private", False)),
    )


def _rows(table: Any, batch_size: int) -> Iterator[List[Dict[str, Any]]]:
    for batch in table.to_arrow().to_batches(max_chunksize=batch_size):
        rows = [r for r in batch.to_pylist() if r.get("id") != _PLACEHOLDER]
        if rows:
            yield rows


def migrate_lancedb(
    source: "str | os.PathLike[str] | None" = None,
    path: "str | os.PathLike[str] | None" = None,
    *,
    table: str = TABLE,
    batch_size: int = 500,
    progress: bool = False,
) -> int:
    """Copies crewai's LanceDB memory records into mnemodb; returns how many were copied.

    ``source`` is the LanceDB directory (default: crewai's, :func:`lancedb_memory_path`);
    ``path`` the mnemodb root :func:`install` uses (default :func:`default_root`): records go
    to ``<path>/memory``, where ``Memory()`` finds them once installed. Every field is kept
    (id, content, scope, categories, metadata, importance, created_at, last_accessed, source,
    private, embedding); records already there with the same id are replaced, so running it
    again is harmless. The LanceDB files are only read. Needs crewai (and its ``lancedb``).
    """
    from ._install import _memory_store

    src = Path(source).expanduser() if source is not None else lancedb_memory_path()
    t = _table(src, table)
    if t is None:
        if source is not None:
            raise FileNotFoundError(f"{src}: no LanceDB table {table!r} (crewai's memory store) there")
        return 0
    target = memory_path(path)
    store = _memory_store(target)
    copied = 0
    for rows in _rows(t, batch_size):
        store.save([_record(r) for r in rows])
        copied += len(rows)
        if progress:
            print(f"crewai memory: {copied} records copied", file=sys.stderr)
    target.mkdir(parents=True, exist_ok=True)
    with open(target / MARKER, "w") as f:
        json.dump({"source": str(src.resolve()), "table": table, "records": copied}, f)
    return copied


def warn_if_unmigrated(path: "str | os.PathLike[str] | None" = None) -> None:
    """Warns (once per process) when crewai's LanceDB memory holds records and nothing was
    migrated into ``<path>/memory``: after :func:`install`, ``Memory()`` would not see them."""
    global _warned
    if _warned or (memory_path(path) / MARKER).exists():
        return
    try:
        count = lancedb_record_count()
    except Exception:  # an unreadable store is crewai's business, not a reason to fail install()
        return
    if count:
        _warned = True
        warnings.warn(
            f"crewai's LanceDB memory at {lancedb_memory_path()} holds {count} records that mnemodb's "
            "memory does not have: run mnemodb.integrations.crewai.migrate_lancedb() (or "
            "install(migrate=True)) to move them, else Memory() starts empty",
            UserWarning,
            stacklevel=3,
        )
