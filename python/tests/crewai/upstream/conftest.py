"""CrewAI's own memory tests, routed to mnemodb.

The tests are not in this repository: ``scripts/fetch-crewai-tests.sh`` (run by
``scripts/pyenv.sh``) extracts them from the pinned crewai's source distribution into
``crewai_sdist/`` (ignored by git), unchanged. This file is ours and makes them run on mnemodb:

- The suites that build ``Memory(storage=<path>)`` and ``Crew(memory=True)``: the autouse
  fixture below registers a memory storage factory that answers every spec but
  ``"qdrant-edge"`` with a :class:`MnemoStorage` (a path spec in that directory, ``"lancedb"``
  in the test's storage directory), so every Memory these tests build runs on mnemodb. Tests
  that construct ``LanceDBStorage`` directly still test LanceDB.
- ``test_qdrant_edge_storage.py``, crewai's backend-level suite written for Qdrant Edge: its
  ``_make_storage`` builds a ``MnemoStorage`` instead, its module-level skip (on
  ``qdrant-edge-py`` not being installed) is lifted, and the tests of Qdrant Edge internals
  (``QDRANT_INTERNALS``) are skipped.

``ROUTED`` counts the stores handed out; ``test_zz_routing`` checks the suites used them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, List

import pytest

ROUTED: list = []

BACKEND_SUITE = "test_qdrant_edge_storage.py"
# Tests of Qdrant Edge's own machinery (local/central shards, their files, its storage spec).
QDRANT_INTERNALS = {
    "test_flush_to_central",
    "test_dual_shard_search",
    "test_close_lifecycle",
    "test_orphaned_shard_cleanup",
    "test_memory_string_storage_qdrant_edge",
}


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    for item in items:
        module = item.getparent(pytest.Module)
        if module is None or module.path.name != BACKEND_SUITE:
            continue
        # The module's only skip mark is "qdrant-edge-py not installed"; it runs on mnemodb.
        module.own_markers[:] = [m for m in module.own_markers if m.name != "skipif"]
        if getattr(item, "originalname", item.name) in QDRANT_INTERNALS:
            item.add_marker(pytest.mark.skip(reason="tests Qdrant Edge internals, not the backend contract"))


@pytest.fixture(autouse=True)
def backend_suite_on_mnemodb(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    module = getattr(request, "module", None)
    if module is None or Path(module.__file__).name != BACKEND_SUITE:
        return
    from mnemodb.integrations.crewai import MnemoStorage

    def make_storage(path: str, vector_dim: int = 4) -> Any:
        return MnemoStorage(path)

    monkeypatch.setattr(module, "_make_storage", make_storage)


@pytest.fixture(autouse=True)
def route_memory_to_mnemodb(tmp_path: Path) -> Iterator[None]:
    from crewai.memory.storage.factory import set_memory_storage_factory

    from mnemodb.integrations.crewai import MnemoStorage

    stores: dict = {}

    def factory(spec: str) -> Any:
        if spec == "qdrant-edge":
            return None
        if spec not in stores:
            path = tmp_path / "mnemodb-default" if spec == "lancedb" else Path(spec)
            stores[spec] = MnemoStorage(path)
            ROUTED.append(spec)
        return stores[spec]

    set_memory_storage_factory(factory)
    yield
    set_memory_storage_factory(None)
