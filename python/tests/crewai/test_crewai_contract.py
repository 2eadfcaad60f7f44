"""The third-party StorageBackend contract (PyPI ``crewai-memory-core``, 18 tests, including a
zero-LLM round trip through crewai's Memory) against MnemoStorage."""

from __future__ import annotations

import pytest

pytest.importorskip("crewai.memory")  # "crewai" alone would find this test directory
contract = pytest.importorskip("crewai_memory_core.contract")

from crewai_memory_core.contract import *  # noqa: E402,F401,F403

from mnemodb.integrations.crewai import MnemoStorage  # noqa: E402

# the contract leaves async tests unmarked (it assumes asyncio_mode=auto)
test_async_surface = pytest.mark.asyncio(contract.test_async_surface)


@pytest.fixture
def backend(tmp_path):
    return MnemoStorage(tmp_path / "memory")
