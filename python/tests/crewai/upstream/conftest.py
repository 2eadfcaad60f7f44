"""CrewAI's own memory tests, routed to mnemodb.

The three ``test_*.py`` files here are copied unchanged from crewAIInc/crewAI
(``lib/crewai/tests/memory/``, commit f4731f50, version 1.15.17, MIT licence: Copyright (c)
2025 crewAI, Inc.); crewai's wheel ships no tests. They build ``Memory(storage=<path>)`` and
``Crew(memory=True)``: the autouse fixture below registers a memory storage factory that
answers every spec but ``"qdrant-edge"`` with a :class:`MnemoStorage` (a path spec in that
directory, ``"lancedb"`` in the test's storage directory), so every Memory these tests build
runs on mnemodb. Tests that construct ``LanceDBStorage`` directly still test LanceDB.

``ROUTED`` counts the stores handed out; ``test_zz_routing`` checks the suite used them.

``test_storage_backend_suite.py`` is crewai's backend-level suite (written for Qdrant Edge)
with its storage constructor pointed at MnemoStorage; its docstring lists the changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROUTED: list = []


@pytest.fixture(autouse=True)
def route_memory_to_mnemodb(tmp_path: Path):
    from crewai.memory.storage.factory import set_memory_storage_factory

    from mnemodb.integrations.crewai import MnemoStorage

    stores: dict = {}

    def factory(spec: str):
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
