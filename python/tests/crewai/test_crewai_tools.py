"""mnemodb's tool executor under the real crewai 1.15.30, with a scripted fake LLM (no network):
``guard`` stops an agent's repeat loop, and ``install()``'s cache handler persists tool results
across crew runs and processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("crewai")

import mnemodb  # noqa: E402
from mnemodb.tools import ToolExecutor  # noqa: E402

HERE = Path(__file__).parent


def test_guard_stops_a_repeat_loop_that_crewai_lets_run(tmp_path: Path) -> None:
    from crewai.agents.cache.cache_handler import CacheHandler
    from tool_crew import Lookup, ScriptedLLM, crew_for

    from mnemodb.integrations.crewai import guard

    # Unguarded, the agent alternates Paris and London until max_iter (crewai only stops
    # the same call twice in a row).
    plain = Lookup(ran=[])
    llm = ScriptedLLM(model="fake")
    crew_for(llm, plain, cache=False).kickoff()
    assert len(plain.ran) >= 8, plain.ran

    ex = ToolExecutor(mnemodb.PersistentClient(str(tmp_path / "db")))
    inner = Lookup(ran=[])
    guarded = guard(inner, ex, max_repeats=2, cache=False)
    assert (guarded.name, guarded.description, guarded.args_schema) == (
        inner.name,
        inner.description,
        inner.args_schema,
    )
    llm = ScriptedLLM(model="fake")
    out = crew_for(llm, guarded, cache=False).kickoff()
    assert inner.ran == ["Paris", "London", "Paris", "London"], "the third Paris was refused"
    assert out.raw == "done"
    statuses = [c["status"] for c in ex.calls(tool="lookup")]
    assert statuses[:4] == ["ok"] * 4 and "refused" in statuses[4:]
    # A refusal is a ToolFailure: crewai's own cache handler would not keep it either.
    from crewai.tools.tool_failure import ToolFailure

    refused = guarded.run(city="Paris")
    assert isinstance(refused, ToolFailure) and "max_repeats=2" in refused.message
    # The async path goes through the same guard, and the tool serialises without its guts.
    import asyncio

    assert isinstance(asyncio.run(guarded.arun(city="London")), ToolFailure)
    assert "executor" not in guarded.model_dump()
    assert isinstance(CacheHandler(), CacheHandler)


def test_a_second_crew_run_in_another_process_hits_the_persisted_cache(tmp_path: Path) -> None:
    from tool_crew import main

    root = tmp_path / "store"
    first = main(str(root), "once")
    assert first == {"ran": ["Paris"], "output": "done", "handler": "MnemoCacheHandler"}
    child = subprocess.run(
        [sys.executable, str(HERE / "tool_crew.py"), str(root), "once"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )
    assert child.returncode == 0, child.stderr[-3000:]
    second = json.loads(child.stdout.strip().splitlines()[-1])
    assert second["ran"] == [], "the tool's result came from the first run's cache"
    assert second["output"] == "done"


def test_the_cache_handler_keeps_crewais_contract(tmp_path: Path) -> None:
    from crewai.agents.cache.cache_handler import CacheHandler
    from crewai.tools.tool_failure import ToolFailure

    from mnemodb.integrations.crewai import MnemoCacheHandler

    h = MnemoCacheHandler(path=str(tmp_path / "tools"))
    assert isinstance(h, CacheHandler)
    assert h.read("t", '{"a": 1}') is None
    h.add("t", '{"a": 1}', "one")
    h.add("t", "plain text input", {"k": [1, 2]})
    h.add("t", '{"a": 2}', ToolFailure(message="no"))
    assert h.read("t", '{"a":1}') == "one", "keys are canonical JSON"
    assert h.read("t", "plain text input") == {"k": [1, 2]}
    assert h.read("t", '{"a": 2}') is None, "failures are never stored"
    assert h.read("other", '{"a": 1}') is None
    again = MnemoCacheHandler(path=str(tmp_path / "tools"))
    assert again.read("t", '{"a": 1}') == "one"


def test_install_can_leave_crewais_cache_alone(tmp_path: Path) -> None:
    from crewai import Crew
    from crewai.agents.cache.cache_handler import CacheHandler

    from mnemodb.integrations.crewai import MnemoCacheHandler, install, uninstall

    install(tmp_path, tool_cache=False)
    try:
        assert type(Crew.__private_attributes__["_cache_handler"].get_default()) is CacheHandler
    finally:
        uninstall()
    install(tmp_path)
    try:
        assert isinstance(Crew.__private_attributes__["_cache_handler"].get_default(), MnemoCacheHandler)
    finally:
        uninstall()
    assert type(Crew.__private_attributes__["_cache_handler"].get_default()) is CacheHandler
