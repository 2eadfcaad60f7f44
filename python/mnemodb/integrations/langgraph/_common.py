"""What the LangGraph checkpointer and store share: the database they open and the async bridge."""

from __future__ import annotations

import os
from typing import Any, Callable, Union

from mnemodb import _native


def native_database(target: Union[str, "os.PathLike[str]", Any]) -> tuple[Any, Any]:
    """``(native database, owner)`` for a mnemodb client or a directory path.

    With a path, a ``mnemodb.PersistentClient`` is opened on it (so the database is shared
    with every other client of that directory in the process) and returned as the owner, whose
    ``close()`` the integration calls when it is closed."""
    if isinstance(target, (str, os.PathLike)):
        import mnemodb

        client = mnemodb.PersistentClient(path=os.fspath(target))
        return client._db, client
    db = getattr(target, "_db", None)
    if db is None or not isinstance(db, _native.Database):
        raise TypeError(
            "expected a mnemodb client (mnemodb.PersistentClient(...)) or a directory path, "
            f"got {type(target).__name__}"
        )
    return db, None


async def call_async(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Awaits a ``_native.lg_*`` call run on the native worker pool (GIL released)."""
    from mnemodb.async_api import _call

    return await _call(fn, *args, **kwargs)
