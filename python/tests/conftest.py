"""Shared fixtures: the network is blocked for every test, and chromadb (the reference the
parity tests compare against) is imported only by the tests that need it."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest

# chromadb reads this at import: no telemetry client, no attempt to reach its server.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


class NetworkBlocked(OSError):
    pass


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise NetworkBlocked("network access is blocked in mnemodb's tests")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _connect(self: socket.socket, address: Any) -> Any:
    if self.family == socket.AF_UNIX:
        return _real_connect(self, address)
    raise NetworkBlocked(f"network access is blocked in mnemodb's tests (connect to {address!r})")


def _connect_ex(self: socket.socket, address: Any) -> Any:
    if self.family == socket.AF_UNIX:
        return _real_connect_ex(self, address)
    raise NetworkBlocked(f"network access is blocked in mnemodb's tests (connect to {address!r})")


@pytest.fixture(autouse=True, scope="session")
def block_network() -> Any:
    """Every socket connection (but local unix sockets) fails, and so does name resolution,
    so a test that would download a model or send telemetry fails loudly instead."""
    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", _connect)
    mp.setattr(socket.socket, "connect_ex", _connect_ex)
    mp.setattr(socket, "create_connection", _refuse)
    mp.setattr(socket, "getaddrinfo", _refuse)
    yield
    mp.undo()


@pytest.fixture()
def chromadb() -> Any:
    """The real chromadb package (1.5.9), skipped when it is not installed."""
    return pytest.importorskip("chromadb")
