"""crewai's LanceDB memory moved into mnemodb: records written by the real crewai 1.15.30
``LanceDBStorage`` (the default ``Memory()`` store) arrive whole, ``install(migrate=True)``
does it, and ``install()`` warns once when records were left behind."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Dict, List

import pytest

pytest.importorskip("crewai.memory")  # "crewai" alone would find this test directory
pytest.importorskip("lancedb")

from crewai_fakes import MemoryEmbedder, embed  # noqa: E402
from mnemodb.integrations.crewai import MnemoStorage, install, migrate_lancedb  # noqa: E402
from mnemodb.integrations.crewai import _lancedb  # noqa: E402


def _records(n: int) -> List[Any]:
    from crewai.memory.types import MemoryRecord

    start = datetime(2026, 1, 2, 3, 4, 5)
    out = []
    for i in range(n):
        out.append(
            MemoryRecord(
                id=f"rec-{i}",
                content=f"memory number {i} about {'cats' if i % 2 else 'rockets'}",
                scope=["/", "/users/alice", "/users/bob", "/ops/deploys"][i % 4],
                categories=[["pref"], ["pref", "ui"], [], ["process"]][i % 4],
                metadata={"user": f"u{i % 3}", "n": i, "nested": {"k": [i, "x"]}},
                importance=round(0.05 + (i % 10) / 10, 2),
                created_at=start + timedelta(minutes=i),
                last_accessed=start + timedelta(days=1, minutes=i),
                embedding=embed(f"memory {i}", 16),
                source=None if i % 5 else f"agent-{i}",
                private=bool(i % 7 == 0),
            )
        )
    return out


def _lance_store(path: Path, records: List[Any]) -> None:
    from crewai.memory.storage.lancedb_storage import LanceDBStorage

    store = LanceDBStorage(path=str(path), compact_every=0)
    store.save(records[: len(records) // 2])
    store.save(records[len(records) // 2 :])  # two saves: two fragments, as crewai writes


def _fields(r: Any) -> Dict[str, Any]:
    return {
        "content": r.content,
        "scope": r.scope,
        "categories": list(r.categories),
        "metadata": r.metadata,
        "importance": r.importance,
        "created_at": r.created_at,
        "last_accessed": r.last_accessed,
        "source": r.source,
        "private": r.private,
        "embedding": [round(x, 5) for x in r.embedding],
    }


def test_every_record_arrives_whole(tmp_path: Path) -> None:
    records = _records(37)
    _lance_store(tmp_path / "lance", records)
    before = sorted(p.name for p in (tmp_path / "lance").rglob("*"))

    assert migrate_lancedb(tmp_path / "lance", tmp_path / "root") == 37
    store = MnemoStorage(tmp_path / "root" / "memory")
    assert store.count() == 37
    for r in records:
        got = store.get_record(r.id)
        assert got is not None and _fields(got) == _fields(r), r.id
    assert store.list_categories() == {"pref": 19, "ui": 9, "process": 9}
    assert store.count("/users") == 18
    # the LanceDB files were only read; a second run replaces, never duplicates
    assert sorted(p.name for p in (tmp_path / "lance").rglob("*")) == before
    assert migrate_lancedb(tmp_path / "lance", tmp_path / "root") == 37
    assert store.count() == 37


def test_a_missing_store_is_an_error_only_when_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no LanceDB table"):
        migrate_lancedb(tmp_path / "nothing", tmp_path / "root")
    assert migrate_lancedb(None, tmp_path / "root") == 0  # crewai's default place: nothing there


def test_install_migrate_makes_memory_find_old_records(crewai_storage_dir: Path, monkeypatch: Any) -> None:
    from crewai.memory import Memory

    monkeypatch.setattr(_lancedb, "_warned", False)
    records = _records(12)
    _lance_store(crewai_storage_dir / "memory", records)  # crewai's default LanceDB place
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left behind: no warning
        install(migrate=True)
    mem = Memory(embedder=MemoryEmbedder(16), consolidation_threshold=1.0)
    assert isinstance(mem._storage, MnemoStorage)
    assert mem._storage.count() == 12
    assert mem.list_categories() == {"pref": 6, "ui": 3, "process": 3}
    hits = mem.recall("memory 3", depth="shallow", limit=1)
    assert hits[0].record.id == "rec-3"
    mem.close()


def test_install_warns_once_when_records_were_left_behind(crewai_storage_dir: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(_lancedb, "_warned", False)
    _lance_store(crewai_storage_dir / "memory", _records(3))
    with pytest.warns(UserWarning, match=r"holds 3 records .*migrate_lancedb\(\)"):
        install()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        install()  # once per process
    monkeypatch.setattr(_lancedb, "_warned", False)
    migrate_lancedb()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        install()  # migrated: nothing to say


def test_install_is_silent_without_a_lancedb_store(crewai_storage_dir: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(_lancedb, "_warned", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        install()
