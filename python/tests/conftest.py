"""Shared fixtures: the network is blocked for every test, and chromadb (the reference the
parity tests compare against) is imported only by the tests that need it."""

from __future__ import annotations

import os
import socket
from typing import Any, List

import pytest

# chromadb reads this at import: no telemetry client, no attempt to reach its server.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


class NetworkBlocked(OSError):
    pass


ATTEMPTS: List[str] = []
"""Every blocked attempt (connection or name lookup) of this process, for tests that show
there is none (fixture ``network_attempts``)."""


def _refuse(*args: Any, **kwargs: Any) -> Any:
    ATTEMPTS.append(f"lookup or connection {args[:2]!r}")
    raise NetworkBlocked("network access is blocked in mnemodb's tests")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _connect(self: socket.socket, address: Any) -> Any:
    if self.family == socket.AF_UNIX:
        return _real_connect(self, address)
    ATTEMPTS.append(f"connect {address!r}")
    raise NetworkBlocked(f"network access is blocked in mnemodb's tests (connect to {address!r})")


def _connect_ex(self: socket.socket, address: Any) -> Any:
    if self.family == socket.AF_UNIX:
        return _real_connect_ex(self, address)
    ATTEMPTS.append(f"connect {address!r}")
    raise NetworkBlocked(f"network access is blocked in mnemodb's tests (connect to {address!r})")


@pytest.fixture(autouse=True, scope="session")
def block_network() -> Any:
    """Every socket connection (but local unix sockets) fails, and so does name resolution,
    so a test that would download a model or send telemetry fails loudly instead."""
    mp = pytest.MonkeyPatch()
    block_and_record(mp)
    yield
    mp.undo()


def block_and_record(mp: pytest.MonkeyPatch) -> None:
    """Blocks the network in this process, recording each attempt in ``ATTEMPTS`` (also
    used by child processes of tests: ``crewai/offline_probe.py``)."""
    mp.setattr(socket.socket, "connect", _connect)
    mp.setattr(socket.socket, "connect_ex", _connect_ex)
    mp.setattr(socket, "create_connection", _refuse)
    mp.setattr(socket, "getaddrinfo", _refuse)


@pytest.fixture()
def network_attempts() -> List[str]:
    """The network attempts made during the test (all blocked), recorded as they happen."""
    ATTEMPTS.clear()
    return ATTEMPTS


@pytest.fixture()
def chromadb() -> Any:
    """The real chromadb package (1.5.9), skipped when it is not installed."""
    return pytest.importorskip("chromadb")
