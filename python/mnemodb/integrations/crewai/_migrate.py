"""``migrate()``: copy a Chroma persist directory (crewai's knowledge / RAG data) into mnemodb.

Reads through the real ``chromadb`` package (crewai installs it), writes through mnemodb's
client: every collection with its name, metadata and distance space, and every record with
its id, embedding, document, metadata and uri. Ends with a count check per collection.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, cast

import mnemodb
from mnemodb.config import Settings

from ._paths import rag_path

_PAGE = 1000


class MigrationError(RuntimeError):
    """The copy of a collection does not hold as many records as its source."""


def _progress(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm  # type: ignore  # optional, untyped

        return tqdm(total=total, desc=desc, unit="rec", file=sys.stderr)
    except ImportError:  # a plain line per page instead
        return None


def _open_chroma(chromadb: Any, settings_cls: Any, path: str) -> Any:
    settings = settings_cls(anonymized_telemetry=False, allow_reset=True, is_persistent=True, persist_directory=path)
    try:
        return chromadb.PersistentClient(path=path, settings=settings)
    except ValueError:
        # this process already opened the directory with other settings (crewai's, say):
        # chromadb allows one configuration per directory, so reuse that one
        from chromadb.api.shared_system_client import SharedSystemClient  # type: ignore  # chromadb is optional

        system = SharedSystemClient._identifier_to_system.get(path)
        if system is None:
            raise
        return chromadb.PersistentClient(path=path, settings=system.settings)


def migrate(
    chroma_path: "str | os.PathLike[str]",
    path: "str | os.PathLike[str] | None" = None,
    collections: Optional[Iterable[str]] = None,
    progress: bool = True,
    page_size: int = _PAGE,
) -> Dict[str, int]:
    """Copies the collections of the Chroma directory ``chroma_path`` (default: all) into the
    mnemodb directory ``path`` (default: ``<default_root()>/rag``, where :func:`install` puts
    knowledge and RAG collections). Existing records with the same ids are overwritten
    (upsert), so a re-run resumes an interrupted copy. Returns ``{collection: records}``;
    raises :class:`MigrationError` when a copy's count differs from its source's.
    """
    import chromadb  # type: ignore  # chromadb is optional
    from chromadb.config import Settings as ChromaSettings  # type: ignore  # chromadb is optional

    source = _open_chroma(chromadb, ChromaSettings, str(chroma_path))
    target_dir = str(Path(path if path is not None else rag_path()).expanduser().resolve())
    os.makedirs(target_dir, exist_ok=True)
    target = mnemodb.PersistentClient(target_dir, settings=Settings(is_persistent=True, persist_directory=target_dir))
    wanted = None if collections is None else set(collections)
    done: Dict[str, int] = {}
    for col in source.list_collections():
        if wanted is not None and col.name not in wanted:
            continue
        meta = dict(col.metadata or {})
        space = (col.configuration_json or {}).get("hnsw", {}) or {}
        space_name = space.get("space") if isinstance(space, dict) else None
        space_name = space_name or meta.get("hnsw:space") or "l2"
        meta["hnsw:space"] = space_name
        dest = target.get_or_create_collection(
            col.name, metadata=meta, configuration=cast(Any, {"hnsw": {"space": space_name}})
        )
        total = col.count()
        bar = _progress(total, col.name, progress)
        copied = 0
        all_ids: List[str] = []
        while copied < total:
            got = col.get(
                limit=page_size, offset=copied, include=["embeddings", "documents", "metadatas", "uris"]
            )
            ids: List[str] = list(got["ids"])
            if not ids:
                break
            dest.upsert(
                ids=ids,
                embeddings=got["embeddings"],
                documents=got["documents"],
                metadatas=[m or None for m in got["metadatas"]] if got["metadatas"] is not None else None,
                uris=got["uris"] if got["uris"] is not None and any(u is not None for u in got["uris"]) else None,
            )
            copied += len(ids)
            all_ids.extend(ids)
            if bar is not None:
                bar.update(len(ids))
            elif progress:
                print(f"{col.name}: {copied}/{total}", file=sys.stderr)
        if bar is not None:
            bar.close()
        found = len(dest.get(ids=all_ids, include=[])["ids"]) if all_ids else 0
        if found != total or col.count() != total:
            raise MigrationError(f"collection {col.name!r}: {found} records copied of {total}")
        done[col.name] = total
    return done
