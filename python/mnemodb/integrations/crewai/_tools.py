"""CrewAI's tool cache and tool guard on mnemodb's tool executor (``mnemodb.tools``).

- :class:`MnemoCacheHandler`: a ``crewai.agents.cache.CacheHandler`` whose entries live in a
  mnemodb database, so a crew's tool cache persists across runs and is shared by every process
  on the directory (crewai's own is a dict that dies with the process).
- :func:`guard`: a crewai ``BaseTool`` with the same name, description and argument schema,
  whose calls go through a :class:`~mnemodb.tools.ToolExecutor` (timeout, repetition limit,
  ledger). A refused or timed-out call comes back to the agent as a ``ToolFailure``, which
  crewai never caches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

from crewai.agents.cache.cache_handler import CacheHandler  # type: ignore  # crewai is optional
from crewai.tools import BaseTool  # type: ignore  # crewai is optional
from crewai.tools.tool_failure import ToolFailure, ToolFailureReason  # type: ignore  # crewai is optional
from pydantic import ConfigDict, Field, PrivateAttr

from mnemodb.errors import ToolRefusedError, ToolTimeoutError
from mnemodb.tools import ToolExecutor, _result_json

_EXECUTORS: Dict[str, ToolExecutor] = {}


def _executor_for(path: Path) -> ToolExecutor:
    """One executor per directory in the process (its client keeps the database open)."""
    key = str(path)
    ex = _EXECUTORS.get(key)
    if ex is None:
        import mnemodb

        path.mkdir(parents=True, exist_ok=True)
        ex = ToolExecutor(mnemodb.PersistentClient(key), max_repeats=None)
        _EXECUTORS[key] = ex
    return ex


def _args(input: str) -> Any:
    """crewai's cache key input (``json.dumps`` of the arguments, or their ``str``) as the
    value the executor keys by: the arguments dict when it is JSON."""
    if not input:
        return {}
    try:
        return json.loads(input)
    except ValueError:
        return input


class MnemoCacheHandler(CacheHandler):  # type: ignore[misc]  # crewai's class is untyped here
    """crewai's ``CacheHandler`` interface (``add(tool, input, output)``, ``read(tool,
    input)``) over a mnemodb tool cache in ``path``. ``ttl`` (seconds) bounds each entry's
    life (``None``: until invalidated). Outputs that do not come back equal through JSON, and
    ``ToolFailure`` outputs, are not stored."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: str
    ttl: Optional[float] = None
    _executor: Any = PrivateAttr(default=None)

    def model_post_init(self, __context: Any) -> None:
        super().model_post_init(__context)
        self._executor = _executor_for(Path(self.path).expanduser().resolve())

    @property
    def executor(self) -> ToolExecutor:
        return self._executor  # type: ignore[no-any-return]

    def add(self, tool: str, input: str, output: Any) -> None:
        if isinstance(output, ToolFailure):
            return
        status, _ = _result_json(output)
        if status != "ok":
            return
        self._executor.cache_put(tool, _args(input), output, self.ttl)

    def read(self, tool: str, input: str) -> Any:
        return self._executor.cache_get(tool, _args(input))


class _GuardedTool(BaseTool):  # type: ignore[misc]  # crewai's class is untyped here
    # Left out of crewai's serialisation of the tool (tracing, copies): not data.
    inner: Any = Field(exclude=True)
    executor: Any = Field(exclude=True)

    async def _arun(self, *args: Any, **kwargs: Any) -> Any:
        # crewai's async paths: the guarded call (and its timeout) on a worker thread.
        import asyncio

        return await asyncio.to_thread(self._run, *args, **kwargs)

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.executor.run(self.name, self.inner.run, kwargs)
        except ToolRefusedError as e:
            return ToolFailure(message=str(e), reason=ToolFailureReason.REPEATED_CALL)
        except ToolTimeoutError as e:
            return ToolFailure(message=str(e), reason=ToolFailureReason.EXCEPTION, retryable=True)


_UNSET: Any = object()


def guard(
    tool: Any,
    executor: ToolExecutor,
    *,
    timeout: Optional[float] = _UNSET,
    max_repeats: Optional[int] = _UNSET,
    max_calls_per_run: Optional[int] = _UNSET,
    cache: bool = _UNSET,
    cache_ttl: Optional[float] = _UNSET,
) -> Any:
    """``tool`` (a crewai ``BaseTool``) guarded by ``executor``: the same name, description,
    argument schema and ``result_as_answer``; each call is checked against the tool's policy
    (the executor's defaults with these keywords over them), recorded in the ledger, and
    cached by the executor. A refused call (``max_repeats``, ``max_calls_per_run``) and a
    call past its ``timeout`` reach the agent as a ``ToolFailure`` saying why; the tool's own
    exceptions propagate as crewai expects."""
    policy = {
        k: v
        for k, v in dict(
            timeout=timeout,
            max_repeats=max_repeats,
            max_calls_per_run=max_calls_per_run,
            cache=cache,
            cache_ttl=cache_ttl,
        ).items()
        if v is not _UNSET
    }
    executor.set_policy(tool.name, **policy)
    return _GuardedTool(
        name=tool.name,
        description=tool.description,
        args_schema=tool.args_schema,
        result_as_answer=getattr(tool, "result_as_answer", False),
        inner=tool,
        executor=executor,
    )


_original_factory: Any = None


def install_cache(root: Optional[Path], ttl: Optional[float] = None) -> None:
    """Has every ``Crew`` built from now on start with a :class:`MnemoCacheHandler` in
    ``<root>/tools`` (``root``: :func:`default_root` at each use when ``None``) instead of
    crewai's in-memory one."""
    global _original_factory
    from crewai import Crew  # type: ignore  # crewai is optional

    attr = Crew.__private_attributes__["_cache_handler"]
    if _original_factory is None:
        _original_factory = attr.default_factory
    def make() -> MnemoCacheHandler:
        from ._paths import default_root

        return MnemoCacheHandler(path=str(Path(root if root is not None else default_root()) / "tools"), ttl=ttl)

    attr.default_factory = make


def uninstall_cache() -> None:
    """Gives crews crewai's in-memory cache handler again."""
    global _original_factory
    if _original_factory is None:
        return
    from crewai import Crew  # type: ignore  # crewai is optional

    Crew.__private_attributes__["_cache_handler"].default_factory = _original_factory
    _original_factory = None
