"""A `mnemodb serve` process on a free loopback port, for the end-to-end tests.

`MNEMODB_BIN` names the binary to test (default: target/debug/mnemodb, else target/release).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _binary() -> Path:
    env = os.environ.get("MNEMODB_BIN")
    candidates = [Path(env)] if env else [
        ROOT / "target" / "debug" / "mnemodb",
        ROOT / "target" / "release" / "mnemodb",
    ]
    for c in candidates:
        if c.is_file():
            return c
    pytest.fail(f"no mnemodb binary at {candidates}: run `cargo build -p mnemodb-server` first")


class Server:
    def __init__(self, path: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [str(_binary()), "serve", "--path", str(path), "--port", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on http://" not in line:
            self.proc.kill()
            pytest.fail(f"mnemodb serve did not start: {line!r}")
        hostport = line.strip().rsplit("http://", 1)[1]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        self.url = f"http://{hostport}"

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout=30)
