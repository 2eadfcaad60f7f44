"""Several processes on one directory at once: two children write checkpoints, pending writes
and store items concurrently (each write is one transaction under the database's write lock);
every write of both is there afterwards, and each read back whole."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip("langgraph.checkpoint.base")

CHILD = r"""
import sys
from langgraph.checkpoint.base import empty_checkpoint
from mnemodb.integrations.langgraph import MnemoSaver, MnemoStore

path, me = sys.argv[1], sys.argv[2]
saver, store = MnemoSaver(path), MnemoStore(path)
config = {"configurable": {"thread_id": f"thread-{me}", "checkpoint_ns": ""}}
version = None
for step in range(40):
    cp = empty_checkpoint()
    cp["id"] = f"1ef-{step:04d}-{me}"
    version = saver.get_next_version(version, None)
    cp["channel_versions"] = {"log": version}
    cp["channel_values"] = {"log": [me] * (step + 1)}
    config = saver.put(config, cp, {"step": step, "writer": me}, {"log": version})
    saver.put_writes(config, [("log", f"{me}-{step}")], task_id=f"task-{step}")
    store.put(("shared",), f"{me}-{step}", {"writer": me, "step": step})
print("done")
"""


def test_two_processes_write_at_once_and_lose_nothing(tmp_path: Any) -> None:
    from mnemodb.integrations.langgraph import MnemoSaver, MnemoStore

    path = str(tmp_path)
    env = dict(os.environ)
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, path, me], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for me in ("a", "b")
    ]
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        assert out.strip() == "done"
    saver, store = MnemoSaver(path), MnemoStore(path)
    for me in ("a", "b"):
        history = list(saver.list({"configurable": {"thread_id": f"thread-{me}"}}))
        assert [t.metadata["step"] for t in history] == list(range(39, -1, -1))
        for t in history:
            step = t.metadata["step"]
            assert t.checkpoint["channel_values"] == {"log": [me] * (step + 1)}
            assert t.pending_writes == [(f"task-{step}", "log", f"{me}-{step}")]
    items = store.search(("shared",), limit=1000)
    assert sorted(i.key for i in items) == sorted(f"{me}-{s}" for me in ("a", "b") for s in range(40))
    saver.close()
    store.close()
