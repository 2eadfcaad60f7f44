"""Shared fixtures of the end-to-end Python tests: no network but loopback.

Every test runs with `socket.connect` refusing any address outside 127.0.0.0/8 and ::1, so a
test that would download something (a model, a package) or phone home (telemetry) fails
instead of silently depending on the network. Unix sockets are unaffected.
"""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Any, Iterator

import pytest

# chromadb's product telemetry would otherwise try to reach its collector.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def _is_loopback(address: Any) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        return host in ("localhost", "::1") or host.startswith("127.")
    return isinstance(address, (str, bytes))  # AF_UNIX paths


def _loopback_works() -> bool:
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen()
        try:
            client.connect(server.getsockname())
            return True
        except OSError:
            return False


def _ensure_loopback() -> None:
    """`unshare --net` leaves loopback down in its new namespace: bring it up (that touches
    only the private namespace), or say what is wrong."""
    if _loopback_works():
        return
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False, capture_output=True)
    if not _loopback_works():
        pytest.fail("loopback is down: in a network namespace run `ip link set lo up` first")


@pytest.fixture(autouse=True, scope="session")
def loopback_only() -> Iterator[None]:
    """Every connection to a non-loopback address fails with ConnectionRefusedError."""
    _ensure_loopback()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise ConnectionRefusedError(f"network blocked by the tests: {address!r}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise ConnectionRefusedError(f"network blocked by the tests: {address!r}")
        return real_connect_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
