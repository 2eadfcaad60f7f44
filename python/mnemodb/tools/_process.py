"""``isolation="process"``: a tool run in a forked child process, killed at its deadline."""

from __future__ import annotations

import multiprocessing
import pickle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional, Tuple


def _child(conn: Any, f: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
    try:
        out: Tuple[str, Any] = ("ok", f(*args, **kwargs))
    except BaseException as e:
        out = ("error", e)
    try:
        conn.send_bytes(pickle.dumps(out))
    except Exception as e:  # an unpicklable result or exception
        conn.send_bytes(pickle.dumps(("error", RuntimeError(f"the tool's outcome could not be sent back: {e!r}"))))
    conn.close()


def run_in_child(
    f: Callable[..., Any],
    args: Tuple[Any, ...],
    kwargs: Dict[str, Any],
    timeout: Optional[float],
) -> Tuple[str, Any]:
    """Runs ``f(*args, **kwargs)`` in a forked child: ``("ok", result)``, ``("error", exc)``,
    or ``("timeout", None)`` after killing the child at ``timeout`` seconds. Fork, so the
    function and its arguments are not pickled (closures work); the outcome is."""
    import time

    # The deadline counts from the call, fork included.
    deadline = None if timeout is None else time.monotonic() + timeout
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, f, args, kwargs), daemon=True)
    proc.start()
    child.close()
    try:
        if parent.poll(None if deadline is None else max(0.0, deadline - time.monotonic())):
            try:
                return pickle.loads(parent.recv_bytes())
            except EOFError:
                proc.join()
                return ("error", RuntimeError(f"the tool's process died (exit code {proc.exitcode})"))
        proc.kill()
        return ("timeout", None)
    finally:
        parent.close()
        proc.join()
