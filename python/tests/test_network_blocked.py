"""The conftest really blocks the network (so the other tests prove they need none)."""

import socket

import pytest


def test_tcp_connect_fails() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(OSError, match="blocked"):
            s.connect(("127.0.0.1", 9))
    finally:
        s.close()


def test_name_resolution_fails() -> None:
    with pytest.raises(OSError, match="blocked"):
        socket.getaddrinfo("example.com", 443)
