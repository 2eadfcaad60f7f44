"""``install(offline=True)``: crewai's telemetry and tracing switches set, and remember +
recall through crewai's ``Memory`` make no network attempt (the network is blocked and every
attempt recorded, by python/tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

pytest.importorskip("crewai.memory")  # "crewai" alone would find this test directory

from mnemodb.integrations.crewai import OFFLINE_ENV  # noqa: E402

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "offline_probe.py")


def _probe(mode: str, storage: Path) -> Dict[str, Any]:
    """A fresh process (crewai imported there for the first time, with the switches unset)."""
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV}
    env["CREWAI_STORAGE_DIR"] = str(storage)
    r = subprocess.run([sys.executable, PROBE, mode], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    result: Dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return result


def test_offline_install_makes_no_network_attempt(tmp_path: Path) -> None:
    got = _probe("offline", tmp_path)
    assert got == {"hits": ["Alice prefers dark mode"], "attempts": []}


def test_without_offline_crewai_tries_the_network(tmp_path: Path) -> None:
    """The control: without the switches the same calls try to reach crewai's telemetry
    (blocked), so the test above can fail."""
    got = _probe("online", tmp_path)
    assert got["hits"] == ["Alice prefers dark mode"]
    assert any("crewai" in a for a in got["attempts"]), got["attempts"]


def test_offline_install_sets_the_switches_in_this_process(monkeypatch: Any, network_attempts: list) -> None:
    from mnemodb.integrations.crewai import install

    for name in OFFLINE_ENV:
        monkeypatch.delenv(name, raising=False)
    install(offline=True)
    assert {k: os.environ.get(k) for k in OFFLINE_ENV} == OFFLINE_ENV
    from crewai.memory import Memory
    from crewai_fakes import MemoryEmbedder

    mem = Memory(embedder=MemoryEmbedder(), consolidation_threshold=1.0)
    mem.remember("Alice prefers dark mode", scope="/users/alice")
    assert [m.record.content for m in mem.recall("dark mode", depth="shallow", limit=1)] == ["Alice prefers dark mode"]
    mem.close()
    assert network_attempts == []
