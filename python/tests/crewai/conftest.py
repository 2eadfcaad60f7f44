"""Fixtures of the CrewAI integration tests: crewai offline, a storage directory per test,
deterministic embedders. The parent conftest blocks the network for every test.

Every test but the lazy-import one is skipped when crewai is not installed."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile

import pytest

# Read by crewai at import and on every memory save: no tracing stall, no telemetry lookups.
os.environ["CREWAI_TRACING_ENABLED"] = "false"
os.environ["CREWAI_DISABLE_TELEMETRY"] = "true"
os.environ["OTEL_SDK_DISABLED"] = "true"
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# crewai creates its data directory at import (chromadb's default path is computed then): keep it
# out of the home directory. Each test gets its own directory below (crewai_storage_dir).
# Removed when the run ends (each run otherwise left one more directory in the temp dir).
_IMPORT_STORAGE = tempfile.mkdtemp(prefix="mnemodb-crewai-tests-")
os.environ["CREWAI_STORAGE_DIR"] = _IMPORT_STORAGE
atexit.register(shutil.rmtree, _IMPORT_STORAGE, ignore_errors=True)

def _have_crewai() -> bool:
    """The real crewai: python/tests is on sys.path (prepend import mode), so ``crewai``
    alone resolves to this directory as a namespace package when crewai is not installed."""
    try:
        return importlib.util.find_spec("crewai.memory") is not None
    except ImportError:
        return False


# Without crewai its own tests (upstream/) cannot even be imported; the others skip themselves
# (pytest.importorskip), so a run without crewai reports them as skipped.
collect_ignore_glob = [] if _have_crewai() else ["upstream/*"]


@pytest.fixture(autouse=True)
def crewai_storage_dir(tmp_path, monkeypatch):
    """Each test stores under its own CREWAI_STORAGE_DIR, and leaves no factory installed."""
    d = tmp_path / "crewai-storage"
    d.mkdir()
    monkeypatch.setenv("CREWAI_STORAGE_DIR", str(d))
    yield d
    if _have_crewai():
        from mnemodb.integrations.crewai import uninstall

        uninstall()
