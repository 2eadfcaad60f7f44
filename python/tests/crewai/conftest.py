"""Fixtures of the CrewAI integration tests: crewai offline, a storage directory per test,
deterministic embedders. The parent conftest blocks the network for every test.

The whole directory is skipped when crewai is not installed."""

from __future__ import annotations

import importlib.util
import os
import tempfile

import pytest

# Read by crewai at import and on every memory save: no tracing stall, no telemetry lookups.
os.environ["CREWAI_TRACING_ENABLED"] = "false"
os.environ["CREWAI_DISABLE_TELEMETRY"] = "true"
os.environ["OTEL_SDK_DISABLED"] = "true"
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# crewai creates its data directory at import (chromadb's default path is computed then): keep it
# out of the home directory. Each test gets its own directory below (crewai_storage_dir).
os.environ["CREWAI_STORAGE_DIR"] = tempfile.mkdtemp(prefix="mnemodb-crewai-tests-")

collect_ignore_glob = [] if importlib.util.find_spec("crewai") else ["test_*.py", "upstream/*"]


@pytest.fixture(autouse=True)
def crewai_storage_dir(tmp_path, monkeypatch):
    """Each test stores under its own CREWAI_STORAGE_DIR, and leaves no factory installed."""
    d = tmp_path / "crewai-storage"
    d.mkdir()
    monkeypatch.setenv("CREWAI_STORAGE_DIR", str(d))
    yield d
    from mnemodb.integrations.crewai import uninstall

    uninstall()
