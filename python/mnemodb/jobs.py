"""Background jobs as Python sees them: ``client.jobs()`` and ``collection.compact()``."""

from __future__ import annotations

from typing import Any, Dict, Optional


class Job(Dict[str, Any]):
    """A background job of the database (index catch-up, saves, expiry sweep, compaction).

    A dict with ``id``, ``kind``, ``collection``, ``done``, ``total``, ``state`` (queued,
    running, done, failed, cancelled) and ``error``, as of when it was read, plus
    :meth:`wait` and :meth:`cancel` on the running job."""

    def __init__(self, info: Dict[str, Any], handle: Any = None) -> None:
        super().__init__(info)
        self._handle = handle

    def cancel(self) -> None:
        """Asks the job to stop: a queued job never starts, a running one stops at its next
        step, keeping what it finished (a cancelled compaction leaves the old file as it was)."""
        if self._handle is not None:
            self._handle.cancel()

    def wait(self, timeout: Optional[float] = None) -> str:
        """Waits until the job ends or ``timeout`` seconds pass (``None``: no limit), then
        refreshes this dict and returns the job's state."""
        if self._handle is not None:
            self._handle.wait(timeout)
            self.update(self._handle.info())
        return str(self["state"])

    def __repr__(self) -> str:
        return f"Job({dict.__repr__(self)})"
