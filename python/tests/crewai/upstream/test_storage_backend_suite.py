"""CrewAI's backend-level memory suite, adapted to MnemoStorage.

Copied from crewAIInc/crewAI ``lib/crewai/tests/memory/test_qdrant_edge_storage.py`` (commit
f4731f50, version 1.15.17, MIT licence: Copyright (c) 2025 crewAI, Inc.), with three changes:
``_make_storage`` builds a :class:`MnemoStorage` instead of a ``QdrantEdgeStorage``; the
module-level skip on ``qdrant-edge-py`` is gone; the five Qdrant-internal tests
(``flush_to_central``, ``dual_shard_search``, ``close_lifecycle``, ``orphaned_shard_cleanup``,
``memory_string_storage_qdrant_edge``) are left out. The remaining tests are unchanged.
"""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest.mock import MagicMock

import pytest


if TYPE_CHECKING:
    from crewai.memory.storage.qdrant_edge_storage import QdrantEdgeStorage

from crewai.memory.types import MemoryRecord


def _make_storage(path: str, vector_dim: int = 4) -> QdrantEdgeStorage:
    from mnemodb.integrations.crewai import MnemoStorage

    return MnemoStorage(path)  # type: ignore[return-value]


@pytest.fixture
def storage(tmp_path: Path) -> QdrantEdgeStorage:
    return _make_storage(str(tmp_path / "edge"))


def _rec(
    content: str = "test",
    scope: str = "/",
    categories: list[str] | None = None,
    importance: float = 0.5,
    embedding: list[float] | None = None,
    metadata: dict | None = None,
    created_at: datetime | None = None,
) -> MemoryRecord:
    return MemoryRecord(
        content=content,
        scope=scope,
        categories=categories or [],
        importance=importance,
        embedding=embedding or [0.1, 0.2, 0.3, 0.4],
        metadata=metadata or {},
        **({"created_at": created_at} if created_at else {}),
    )




def test_save_search(storage: QdrantEdgeStorage) -> None:
    r = _rec(content="test content", scope="/foo", categories=["cat1"], importance=0.8)
    storage.save([r])
    results = storage.search([0.1, 0.2, 0.3, 0.4], scope_prefix="/foo", limit=5)
    assert len(results) == 1
    rec, score = results[0]
    assert rec.content == "test content"
    assert rec.scope == "/foo"
    assert score >= 0.0


def test_delete_count(storage: QdrantEdgeStorage) -> None:
    r = _rec(scope="/")
    storage.save([r])
    assert storage.count() == 1
    n = storage.delete(scope_prefix="/")
    assert n >= 1
    assert storage.count() == 0


def test_update_get_record(storage: QdrantEdgeStorage) -> None:
    r = _rec(content="original", scope="/a")
    storage.save([r])
    r.content = "updated"
    storage.update(r)
    found = storage.get_record(r.id)
    assert found is not None
    assert found.content == "updated"


def test_get_record_not_found(storage: QdrantEdgeStorage) -> None:
    assert storage.get_record("nonexistent-id") is None




def test_list_scopes_get_scope_info(storage: QdrantEdgeStorage) -> None:
    storage.save([
        _rec(content="a", scope="/"),
        _rec(content="b", scope="/team"),
    ])
    scopes = storage.list_scopes("/")
    assert "/team" in scopes
    info = storage.get_scope_info("/")
    assert info.record_count >= 1
    assert info.path == "/"


def test_scope_prefix_filter(storage: QdrantEdgeStorage) -> None:
    storage.save([
        _rec(content="sales note", scope="/crew/sales"),
        _rec(content="eng note", scope="/crew/eng"),
        _rec(content="other note", scope="/other"),
    ])
    results = storage.search([0.1, 0.2, 0.3, 0.4], scope_prefix="/crew", limit=10)
    assert len(results) == 2
    scopes = {r.scope for r, _ in results}
    assert "/crew/sales" in scopes
    assert "/crew/eng" in scopes




def test_category_filter(storage: QdrantEdgeStorage) -> None:
    storage.save([
        _rec(content="cat1 item", categories=["cat1"]),
        _rec(content="cat2 item", categories=["cat2"]),
    ])
    results = storage.search(
        [0.1, 0.2, 0.3, 0.4], categories=["cat1"], limit=10
    )
    assert len(results) == 1
    assert results[0][0].categories == ["cat1"]


def test_metadata_filter(storage: QdrantEdgeStorage) -> None:
    storage.save([
        _rec(content="with key", metadata={"env": "prod"}),
        _rec(content="without key", metadata={"env": "dev"}),
    ])
    results = storage.search(
        [0.1, 0.2, 0.3, 0.4], metadata_filter={"env": "prod"}, limit=10
    )
    assert len(results) == 1
    assert results[0][0].metadata["env"] == "prod"




def test_list_records_pagination(storage: QdrantEdgeStorage) -> None:
    records = [
        _rec(
            content=f"item {i}",
            created_at=datetime(2025, 1, 1) + timedelta(days=i),
        )
        for i in range(5)
    ]
    storage.save(records)
    page1 = storage.list_records(limit=2, offset=0)
    page2 = storage.list_records(limit=2, offset=2)
    assert len(page1) == 2
    assert len(page2) == 2
    # Newest first.
    assert page1[0].created_at >= page1[1].created_at


def test_list_categories(storage: QdrantEdgeStorage) -> None:
    storage.save([
        _rec(categories=["a", "b"]),
        _rec(categories=["b", "c"]),
    ])
    cats = storage.list_categories()
    assert cats.get("b", 0) == 2
    assert cats.get("a", 0) >= 1
    assert cats.get("c", 0) >= 1




def test_touch_records(storage: QdrantEdgeStorage) -> None:
    r = _rec()
    storage.save([r])
    before = storage.get_record(r.id)
    assert before is not None
    old_accessed = before.last_accessed
    storage.touch_records([r.id])
    after = storage.get_record(r.id)
    assert after is not None
    assert after.last_accessed >= old_accessed


def test_reset_full(storage: QdrantEdgeStorage) -> None:
    storage.save([_rec(scope="/a"), _rec(scope="/b")])
    assert storage.count() == 2
    storage.reset()
    assert storage.count() == 0


def test_reset_scoped(storage: QdrantEdgeStorage) -> None:
    storage.save([_rec(scope="/a"), _rec(scope="/b")])
    storage.reset(scope_prefix="/a")
    assert storage.count() == 1




def test_memory_with_qdrant_edge(tmp_path: Path) -> None:
    from crewai.memory.unified_memory import Memory

    mock_embedder = MagicMock()
    mock_embedder.side_effect = lambda texts: [[0.1, 0.2, 0.3, 0.4] for _ in texts]

    storage = _make_storage(str(tmp_path / "edge"))
    m = Memory(
        storage=storage,
        llm=MagicMock(),
        embedder=mock_embedder,
    )
    r = m.remember(
        "We decided to use Qdrant Edge.",
        scope="/project",
        categories=["decision"],
        importance=0.7,
    )
    assert r.content == "We decided to use Qdrant Edge."

    matches = m.recall("Qdrant", scope="/project", limit=5, depth="shallow")
    assert len(matches) >= 1
    m.close()


