"""The engine's codec from Python: ``encode`` a value (None, bool, int, float, str, bytes,
list, tuple, dict with str keys) as a self-describing stream and ``decode`` it back.

``format`` is ``json``, ``msgpack`` or ``postcard``, each optionally ``+zstd``; the stream's
16-byte header names it, so ``decode`` needs no argument. Values round-trip exactly (ints stay
ints, floats floats, dict order kept; tuples come back as lists)::

    from mnemodb import codec
    data = codec.encode({"messages": [{"role": "user", "content": "hi"}]}, "postcard+zstd")
    codec.decode(data)
"""

from __future__ import annotations

from typing import Any

__all__ = ["encode", "decode"]


def encode(obj: object, format: str = "msgpack") -> bytes:
    """``obj`` as a codec stream of ``format`` (header included)."""
    from . import _native

    return _native.encode(obj, format)


def decode(data: bytes) -> Any:
    """The value of a stream made by :func:`encode`."""
    from . import _native

    return _native.decode(data)
