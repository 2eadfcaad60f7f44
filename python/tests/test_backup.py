"""``client.backup(dest)`` while a thread keeps writing: the copy opens, passes the engine's
check (``mnemodb inspect``), and holds every record added before the call."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import mnemodb
from mnemodb.errors import InvalidArgumentError


def test_a_backup_while_a_thread_writes_holds_everything_added_before(tmp_path: Path) -> None:
    client = mnemodb.PersistentClient(str(tmp_path / "src"))
    col = client.create_collection("notes")
    rng = np.random.default_rng(3)
    col.add(ids=[f"a{i}" for i in range(2000)], embeddings=rng.standard_normal((2000, 16)).astype(np.float32))
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        k = 0
        while not stop.is_set():
            col.add(ids=[f"w{k}-{j}" for j in range(10)], embeddings=rng.standard_normal((10, 16)).astype(np.float32))
            k += 1
            written[0] = k

    t = threading.Thread(target=writer)
    t.start()
    while written[0] < 5:
        stop.wait(0.01)
    before = written[0]
    want = col.get(ids=[f"a{i}" for i in range(2000)] + [f"w{k}-{j}" for k in range(before) for j in range(10)], include=["embeddings"])
    report = client.backup(tmp_path / "copy")
    stop.set()
    t.join()
    assert report["collections"] == 1 and report["records"] >= 2000 + 10 * before
    copy = mnemodb.PersistentClient(str(tmp_path / "copy"))
    got = copy.get_collection("notes").get(ids=want["ids"], include=["embeddings"])
    assert got["ids"] == want["ids"]
    assert np.array_equal(np.asarray(got["embeddings"]), np.asarray(want["embeddings"]))
    copy.close()
    inspect = subprocess.run(
        [sys.executable, "-m", "mnemodb", "inspect", str(tmp_path / "copy")], capture_output=True, text=True
    )
    assert inspect.returncode == 0 and "consistency: ok" in inspect.stdout, inspect.stdout + inspect.stderr
    with pytest.raises(InvalidArgumentError, match="new or empty directory"):
        client.backup(tmp_path / "copy")
    client.close()
