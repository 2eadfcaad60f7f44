"""Child process of test_crewai_offline.py: crewai imported with none of its offline switches
set, ``install(offline=<argv[1]>)``, then remember + recall through ``Memory`` with the network
blocked; prints the recalled contents and every network attempt as JSON."""

from __future__ import annotations

import json
import os
import sys

import importlib.util

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pytest  # noqa: E402

from mnemodb.integrations.crewai import OFFLINE_ENV, install  # noqa: E402

# python/tests/conftest.py (this directory has a conftest of its own): its blocking and records.
_spec = importlib.util.spec_from_file_location("tests_conftest", os.path.join(os.path.dirname(HERE), "conftest.py"))
assert _spec is not None and _spec.loader is not None
_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)
ATTEMPTS, block_and_record = _conftest.ATTEMPTS, _conftest.block_and_record


def main(offline: bool) -> None:
    block_and_record(pytest.MonkeyPatch())
    for name in OFFLINE_ENV:  # an application that set none of them
        os.environ.pop(name, None)
    install(offline=offline)
    from crewai.memory import Memory
    from crewai_fakes import MemoryEmbedder

    mem = Memory(embedder=MemoryEmbedder(), consolidation_threshold=1.0)
    mem.remember("Deploys happen on Fridays", scope="/ops", categories=["process"], importance=0.7)
    mem.remember("Alice prefers dark mode", scope="/users/alice", categories=["pref"], importance=0.9)
    hits = [m.record.content for m in mem.recall("dark mode", depth="shallow", limit=1)]
    mem.close()
    print(json.dumps({"hits": hits, "attempts": list(ATTEMPTS)}))


if __name__ == "__main__":
    main(sys.argv[1] == "offline")
