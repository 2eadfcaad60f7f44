"""The quickstart example runs (small sizes here; its default is 20,000 x 384)."""

from __future__ import annotations

import os
import subprocess
import sys

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def test_quickstart_runs(tmp_path: object) -> None:
    r = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "quickstart.py"), "--n", "3000", "--dim", "32", "--queries", "20"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "reopen + first query" in r.stdout and "count 3000" in r.stdout
