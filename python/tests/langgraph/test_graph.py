"""A real LangGraph graph on MnemoSaver and MnemoStore: interrupted in one process, resumed
from its checkpoint in another, then travelled back in time through ``get_state_history``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip("langgraph.graph")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import graph_app  # noqa: E402


def run_child(path: str, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, os.path.join(HERE, "graph_app.py"), path, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["attempts"] == [], "the child tried to reach the network"
    return out


def test_interrupt_in_one_process_resume_in_another_then_time_travel(tmp_path: Any) -> None:
    from langgraph.types import Command

    path = str(tmp_path)
    started = run_child(path, "start")
    assert started["interrupts"] == [{"question": "publish 'a note about otters'?"}]
    assert started["next"] == ["ask"]

    resumed = run_child(path, "resume", "yes")
    assert resumed["state"] == {
        "topic": "otters",
        "draft": "a note about otters",
        "answer": "yes",
        "log": ["draft", "ask:yes", "finish"],
        "remembered": 1,
    }

    # This process reads the history both children wrote, newest first.
    app = graph_app.build(path)
    history = list(app.get_state_history(graph_app.THREAD))
    assert [tuple(s.next) for s in history] == [(), ("finish",), ("ask",), ("draft",), ("__start__",)]
    assert history[0].values["answer"] == "yes"
    assert history[2].tasks[0].interrupts[0].value == {"question": "publish 'a note about otters'?"}
    assert app.get_state(graph_app.THREAD).values == history[0].values

    # Time travel. Resuming the checkpoint waiting at `ask` again reuses the answer recorded
    # against it (its pending writes come back from the saver), as with InMemorySaver ...
    waiting = history[2]
    replayed = app.invoke(Command(resume="no"), waiting.config)
    assert replayed["answer"] == "yes" and replayed["log"] == ["draft", "ask:yes", "finish"]
    # ... and a fork from it (update_state) asks again: a new branch with another answer.
    fork = app.update_state(waiting.config, None)
    assert fork["configurable"]["checkpoint_id"] > history[0].config["configurable"]["checkpoint_id"]
    forked = app.invoke(Command(resume="no"), fork)
    assert forked["answer"] == "no" and forked["log"] == ["draft", "ask:no", "finish"]
    after = list(app.get_state_history(graph_app.THREAD))
    assert after[0].values["answer"] == "no"
    ids = [s.config["configurable"]["checkpoint_id"] for s in after]
    assert ids == sorted(ids, reverse=True), "newest first"
    assert set(ids) >= {s.config["configurable"]["checkpoint_id"] for s in history}, "nothing is lost"
    parents = {s.config["configurable"]["checkpoint_id"]: s.parent_config for s in after}
    assert parents[fork["configurable"]["checkpoint_id"]]["configurable"]["checkpoint_id"] == waiting.config["configurable"]["checkpoint_id"]
    # The store saw the draft once: it is keyed by topic.
    assert [i.key for i in app.store.search(("drafts",))] == ["otters"]


def test_the_readme_example_runs(tmp_path: Any) -> None:
    """python/README.md's LangGraph example, as a user copies it, in a fresh directory."""
    readme = open(os.path.join(HERE, "..", "..", "README.md"), encoding="utf-8").read()
    section = readme.split("## LangGraph", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr
    assert "likes otters" in done.stdout and "{'n': 1}" in done.stdout
