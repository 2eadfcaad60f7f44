"""Fixtures of the mem0 integration tests: mem0 offline (no telemetry, its data directory in a
temporary directory), the fake embedder and scripted LLM registered, a store per test. The
parent conftest blocks the network for every test.

Without mem0 (``pip install -r python/requirements-mem0.txt``) only test_lazy_import.py runs."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from typing import Any, Callable, Dict

import pytest

# Read by mem0 at import: no PostHog client, no telemetry collection, no ~/.mem0.
os.environ["MEM0_TELEMETRY"] = "False"
os.environ["MEM0_DIR"] = tempfile.mkdtemp(prefix="mnemodb-mem0-tests-")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def _have_mem0() -> bool:
    """The real mem0: python/tests is on sys.path, where ``mem0`` alone names this directory
    (a namespace package) when mem0 is not installed."""
    try:
        return importlib.util.find_spec("mem0.memory") is not None
    except ImportError:
        return False


HAVE_MEM0 = _have_mem0()
collect_ignore_glob = [] if HAVE_MEM0 else ["test_mem0_*.py"]


@pytest.fixture(scope="session", autouse=True)
def fakes() -> None:
    if not HAVE_MEM0:
        return
    import mnemodb.integrations.mem0  # noqa: F401  (registers the provider)
    from mem0_fakes import install_fakes

    install_fakes()


@pytest.fixture()
def make_memory(tmp_path) -> Callable[..., Any]:
    """``make_memory(vector_store_dict)``: a mem0 ``Memory`` with the fakes and its own history
    database; closed at the end of the test."""
    from mem0 import Memory
    from mem0_fakes import memory_config

    made = []

    def make(vector_store: Dict[str, Any], **extra: Any) -> Any:
        config = memory_config(vector_store, str(tmp_path / f"history{len(made)}.db"))
        config.update(extra)
        m = Memory.from_config(config)
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


@pytest.fixture()
def mnemo_memory(make_memory, tmp_path) -> Any:
    """mem0 on the ``"mnemodb"`` provider, in a fresh directory."""
    return make_memory({"provider": "mnemodb", "config": {"collection_name": "memories", "path": str(tmp_path / "db")}})


@pytest.fixture()
def store(tmp_path) -> Any:
    """A bare ``MnemoVectorStore`` (cosine) in a fresh directory."""
    from mnemodb.integrations.mem0 import MnemoVectorStore

    return MnemoVectorStore(collection_name="store", path=str(tmp_path / "store"))
