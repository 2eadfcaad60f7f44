"""Guarded tool calls: timeouts, loop limits, a durable ledger and a shared result cache.

``ToolExecutor(client)`` wraps tools (plain functions or coroutine functions) with
``@executor.tool(...)``. Each call is checked against the tool's policy (nesting depth, calls
per run, repeats of the same arguments in one run), answered from the cache when a fresh
result is there, recorded in the database's ledger and, when it succeeds, cached for every
process that opens the same directory. The engine keeps the policy, the ledger and the cache
(``engine/src/tools/``); this module runs the tools and enforces their timeouts.

Timeouts, by kind of tool (see ``python/README.md``):

* ``async def`` tools are awaited under ``asyncio.wait_for``: at the deadline the task is
  cancelled (``CancelledError`` is raised at its next ``await``).
* plain functions with a timeout and ``isolation="thread"`` (the default) run on a fresh
  daemon thread; at the deadline the caller gets ``ToolTimeoutError`` and the thread is
  abandoned, not stopped (Python cannot stop a thread): its late result or exception is
  recorded as ``abandoned`` and discarded, never cached.
* ``isolation="process"`` runs the function in a forked child process that is killed
  (SIGKILL) at the deadline: nothing of it runs on.
* plain functions without a timeout run inline, in the caller's thread.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import functools
import inspect
import json
import threading
import uuid
import weakref

from mnemodb.errors import ToolTimeoutError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar, Union

    F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["ToolExecutor", "current_call"]

# The call this context is inside of: (executor identity, ledger id, depth), so a tool that
# calls tools makes them one level deeper and names its call as their parent.
_CURRENT: contextvars.ContextVar[Optional[Tuple[int, int, int]]] = contextvars.ContextVar(
    "mnemodb_tool_call", default=None
)

_DAY = 86400.0


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


_UNSET: Any = _Unset()


def current_call() -> Optional[Tuple[int, int]]:
    """``(ledger id, depth)`` of the tool call running in this context, or ``None``."""
    cur = _CURRENT.get()
    return None if cur is None else (cur[1], cur[2])


def _args_json(args: Dict[str, Any]) -> str:
    # Values JSON cannot hold are keyed by their repr (a repr with an address never hits).
    return json.dumps(args, default=repr, ensure_ascii=False)


def _result_json(result: Any) -> Tuple[str, str]:
    """``("ok", json)`` for a result that round-trips through JSON, else
    ``("ok-uncached", repr)``: recorded, not cached."""
    if result is None or type(result) in (str, int, bool):  # round-trip as they are
        return "ok", json.dumps(result, ensure_ascii=False)
    try:
        text = json.dumps(result, ensure_ascii=False)
    except (TypeError, ValueError):
        return "ok-uncached", repr(result)
    if json.loads(text) != result:  # tuples, int-keyed dicts, ...: would come back changed
        return "ok-uncached", repr(result)
    return "ok", text


SEMANTIC_COLLECTION = "mnemodb_tool_semantic"
"""The collection (in the executor's client) holding the embedded arguments of semantic tools'
cached calls (metadata ``tool`` and ``args``)."""

_MISS: Any = object()


def _default_text(args: Dict[str, Any]) -> str:
    """The text embedded for a call: its string arguments joined, or its JSON."""
    values = list(args.values())
    if values and all(isinstance(v, str) for v in values):
        return " ".join(values)
    return json.dumps(args, sort_keys=True, ensure_ascii=False)


def _semantic_id(tool: str, args_json: str) -> str:
    import hashlib

    canonical = json.dumps(json.loads(args_json), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{tool}\n{canonical}".encode()).hexdigest()


def _flush_at_exit(executor: Any) -> None:
    ex = executor()
    if ex is not None:
        try:
            ex.flush()
        except Exception:  # the database is gone: the journal keeps the outcomes
            pass


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


class ToolExecutor:
    """Runs tools under policies, records each call in the database's ledger and caches
    results in the database, shared by every process that opens it.

    ``client`` is a ``mnemodb.PersistentClient`` (or ``EphemeralClient``). The keywords are
    the defaults of every tool; ``@executor.tool(...)`` overrides them per tool. ``run_id``
    groups calls for the per-run limits (a new random one if omitted; ``new_run()`` starts
    another). ``ledger_ttl`` is how long ledger rows are kept (seconds; ``None``: always).
    """

    def __init__(
        self,
        client: Any,
        *,
        run_id: Optional[str] = None,
        timeout: Optional[float] = None,
        max_depth: int = 8,
        max_calls_per_run: Optional[int] = None,
        max_repeats: Optional[int] = 3,
        cache: bool = True,
        cache_ttl: Optional[float] = None,
        ledger_ttl: Optional[float] = 30 * _DAY,
        embedding_function: Optional[Callable[[List[str]], Any]] = None,
        semantic_threshold: float = 0.1,
    ) -> None:
        from mnemodb import _native

        db = getattr(client, "_db", client)
        self._defaults: Dict[str, Any] = dict(
            timeout=timeout,
            max_depth=max_depth,
            max_calls_per_run=max_calls_per_run,
            max_repeats=max_repeats,
            cache=cache,
            cache_ttl=cache_ttl,
        )
        self._native = _native.ToolExecutor(db, ledger_ttl=ledger_ttl, **self._defaults)
        # Outcomes reach the ledger with the next call or within milliseconds; at exit, now
        # (a process that dies first leaves them in its journal for the next opener).
        atexit.register(_flush_at_exit, weakref.ref(self))
        self.run_id: str = run_id or uuid.uuid4().hex
        self._client = client
        self._embed = embedding_function
        self._threshold = float(semantic_threshold)
        self._semantic: Dict[str, Callable[[Dict[str, Any]], str]] = {}
        self._collection: Any = None

    def flush(self) -> None:
        """Writes the outcomes of calls finished in this process into the ledger (and the
        results they cache) now: other processes see them from its return. Without it they
        are written with the next call, any ledger read, or within a few milliseconds."""
        self._native.flush()

    def new_run(self, run_id: Optional[str] = None) -> str:
        """Starts a new run (the per-run limits count afresh) and returns its id."""
        self.run_id = run_id or uuid.uuid4().hex
        return self.run_id

    # ---- declaring tools ----

    def tool(
        self,
        fn: Optional[F] = None,
        *,
        name: Optional[str] = None,
        timeout: Optional[float] = _UNSET,
        cache_ttl: Optional[float] = _UNSET,
        cache: bool = _UNSET,
        max_repeats: Optional[int] = _UNSET,
        max_calls_per_run: Optional[int] = _UNSET,
        max_depth: int = _UNSET,
        isolation: str = "thread",
        semantic: Union[bool, Callable[[Dict[str, Any]], str]] = False,
    ) -> Any:
        """Decorator: ``@executor.tool`` or ``@executor.tool(timeout=5, cache_ttl=600,
        max_repeats=2, isolation="process")``. The wrapper keeps the function's name,
        signature and docstring, and is a coroutine function when the tool is one.

        ``semantic=True`` (or a function from the arguments dict to the text to embed) also
        answers a call from the cached result of the nearest earlier call whose arguments'
        text lies within ``semantic_threshold`` (cosine distance) of this one's, embedded
        with the executor's ``embedding_function``."""
        if isolation not in ("thread", "process"):
            raise ValueError(f'isolation must be "thread" or "process", got {isolation!r}')
        given = dict(
            timeout=timeout,
            cache_ttl=cache_ttl,
            cache=cache,
            max_repeats=max_repeats,
            max_calls_per_run=max_calls_per_run,
            max_depth=max_depth,
        )

        def decorate(f: F) -> F:
            tool_name = name or getattr(f, "__name__", None) or repr(f)
            policy = dict(self._defaults)
            policy.update({k: v for k, v in given.items() if v is not _UNSET})
            self._native.set_policy(tool_name, **policy)
            if semantic:
                if self._embed is None:
                    raise ValueError("semantic=True needs ToolExecutor(..., embedding_function=...)")
                self._semantic[tool_name] = semantic if callable(semantic) else _default_text
            return self.wrap(f, name=tool_name, isolation=isolation)

        return decorate(fn) if fn is not None else decorate

    def set_policy(self, tool: str, **policy: Any) -> None:
        """Gives ``tool`` a policy: the executor's defaults with ``policy``'s keywords
        (``timeout``, ``max_depth``, ``max_calls_per_run``, ``max_repeats``, ``cache``,
        ``cache_ttl``) over them."""
        merged = dict(self._defaults)
        for k, v in policy.items():
            if k not in merged:
                raise TypeError(f"unknown policy keyword {k!r}; expected one of {sorted(merged)}")
            merged[k] = v
        self._native.set_policy(tool, **merged)

    def policy(self, tool: str) -> Dict[str, Any]:
        """The policy calls of ``tool`` run under."""
        return dict(self._native.policy(tool))

    def wrap(self, f: F, *, name: Optional[str] = None, isolation: str = "thread") -> F:
        """``f`` guarded under the policy of ``name`` (``f.__name__`` by default), without
        changing the policy."""
        tool_name = name or f.__name__
        sig = inspect.signature(f)
        params = list(sig.parameters.values())
        # Plain parameters only (no *args, **kwargs, keyword- or positional-only): arguments
        # are bound here without Signature.bind (3 us a call), to the same dict.
        simple = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
        names = [p.name for p in params]
        known = set(names)
        defaults = {p.name: p.default for p in params if p.default is not p.empty}

        def bound_args(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> str:
            if simple and len(args) <= len(names) and known.issuperset(kwargs):
                given = dict(zip(names, args))
                if given.keys().isdisjoint(kwargs):
                    given.update(kwargs)
                    if all(n in given or n in defaults for n in names):
                        return _args_json({n: given[n] if n in given else defaults[n] for n in names})
            b = sig.bind(*args, **kwargs)  # a wrong call raises TypeError, as the tool would
            b.apply_defaults()
            return _args_json(dict(b.arguments))

        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await self._acall(tool_name, f, args, kwargs, bound_args(args, kwargs))

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return self._call(tool_name, f, args, kwargs, bound_args(args, kwargs), isolation)

        return wrapper  # type: ignore[return-value]

    # ---- running calls ----

    def run(self, tool: str, fn: Callable[..., Any], kwargs: Dict[str, Any], *, isolation: str = "thread") -> Any:
        """Runs ``fn(**kwargs)`` as a call of ``tool`` under its policy (for wrappers that
        have keyword arguments in hand, as CrewAI's tools do); ``kwargs`` are the arguments
        the ledger and the cache key record."""
        return self._call(tool, fn, (), kwargs, _args_json(kwargs), isolation)

    def _begin(self, tool: str, args_json: str) -> Tuple[int, Optional[str], Any, int]:
        cur = _CURRENT.get()
        if cur is not None and cur[0] == id(self):
            depth, parent = cur[2] + 1, cur[1]
        else:
            depth, parent = 0, None
        call_id, cached, ticket = self._native.begin(tool, args_json, self.run_id, depth, parent)
        return call_id, cached, ticket, depth

    def _finish_ok(self, ticket: Any, result: Any) -> None:
        status, payload = _result_json(result)
        self._native.finish(ticket, status, payload)

    def _call(
        self,
        tool: str,
        f: Callable[..., Any],
        args: Tuple[Any, ...],
        kwargs: Dict[str, Any],
        args_json: str,
        isolation: str,
    ) -> Any:
        call_id, cached, ticket, depth = self._begin(tool, args_json)
        if ticket is None:
            return json.loads(cached) if cached is not None else None
        hit, vector = self._semantic_probe(tool, args_json, ticket)
        if hit is not _MISS:
            return hit
        timeout = ticket.timeout
        token = _CURRENT.set((id(self), call_id, depth))
        try:
            if isolation == "process":
                from mnemodb.tools._process import run_in_child

                outcome = run_in_child(f, args, kwargs, timeout)
            elif timeout is None:
                try:
                    outcome = ("ok", f(*args, **kwargs))
                except BaseException as e:
                    outcome = ("error", e)
            else:
                outcome = self._on_thread(ticket, f, args, kwargs, timeout)
        finally:
            _CURRENT.reset(token)
        self._semantic_store(tool, args_json, vector, outcome)
        return self._settle(tool, ticket, outcome)

    def _settle(self, tool: str, ticket: Any, outcome: Tuple[str, Any]) -> Any:
        kind, value = outcome
        if kind == "ok":
            self._finish_ok(ticket, value)
            return value
        if kind == "timeout":
            self._native.finish(ticket, "timeout")
            late = value() if callable(value) else None
            if late is not None:
                self._record_late(ticket.id, late)
            raise ToolTimeoutError(
                f"tool `{tool}` timed out after {round((ticket.timeout or 0) * 1000)} ms; "
                "raise its timeout or make the tool faster"
            )
        self._native.finish(ticket, "error", _error_text(value))
        raise value

    def _record_late(self, call_id: int, late: Tuple[str, Any]) -> None:
        kind, value = late
        if kind == "ok":
            status, payload = _result_json(value)
            self._native.abandoned(call_id, status, payload)
        else:
            self._native.abandoned(call_id, "error", _error_text(value))

    def _on_thread(
        self,
        ticket: Any,
        f: Callable[..., Any],
        args: Tuple[Any, ...],
        kwargs: Dict[str, Any],
        timeout: float,
    ) -> Tuple[str, Any]:
        """Runs ``f`` on a daemon thread; at the deadline gives it up. Returns the outcome, or
        ``("timeout", take_late)`` where ``take_late()`` marks the call given up and returns
        an outcome that arrived meanwhile (after the ledger said ``timeout``)."""
        lock = threading.Lock()
        done = threading.Event()
        state: Dict[str, Any] = {}
        ctx = contextvars.copy_context()
        executor = self
        call_id = ticket.id

        def work() -> None:
            try:
                out: Tuple[str, Any] = ("ok", ctx.run(f, *args, **kwargs))
            except BaseException as e:
                out = ("error", e)
            with lock:
                gave_up = state.get("gave_up", False)
                if not gave_up:
                    state["outcome"] = out
            if gave_up:
                try:
                    executor._record_late(call_id, out)
                except Exception:  # the database closed meanwhile: nothing to record into
                    pass
            else:
                done.set()

        threading.Thread(target=work, name=f"mnemodb-tool-{call_id}", daemon=True).start()
        if done.wait(timeout):
            return state["outcome"]

        def take_late() -> Optional[Tuple[str, Any]]:
            with lock:
                state["gave_up"] = True
                return state.pop("outcome", None)

        return ("timeout", take_late)

    async def _acall(
        self,
        tool: str,
        f: Callable[..., Any],
        args: Tuple[Any, ...],
        kwargs: Dict[str, Any],
        args_json: str,
    ) -> Any:
        call_id, cached, ticket, depth = self._begin(tool, args_json)
        if ticket is None:
            return json.loads(cached) if cached is not None else None
        hit, vector = self._semantic_probe(tool, args_json, ticket)
        if hit is not _MISS:
            return hit
        token = _CURRENT.set((id(self), call_id, depth))
        try:
            try:
                if ticket.timeout is None:
                    outcome: Tuple[str, Any] = ("ok", await f(*args, **kwargs))
                else:
                    outcome = ("ok", await asyncio.wait_for(f(*args, **kwargs), ticket.timeout))
            except asyncio.TimeoutError:
                outcome = ("timeout", None)
            except asyncio.CancelledError:
                # The caller was cancelled: the call ends here, as an error.
                self._native.finish(ticket, "error", "CancelledError: the caller was cancelled")
                raise
            except BaseException as e:
                outcome = ("error", e)
        finally:
            _CURRENT.reset(token)
        self._semantic_store(tool, args_json, vector, outcome)
        return self._settle(tool, ticket, outcome)

    # ---- semantic hits ----

    def _semantic_collection(self) -> Any:
        if self._collection is None:
            self._collection = self._client.get_or_create_collection(
                SEMANTIC_COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
        return self._collection

    def _semantic_probe(self, tool: str, args_json: str, ticket: Any) -> Tuple[Any, Any]:
        """For a semantic tool: ``(cached result, vector)`` when the nearest cached call of
        ``tool`` lies within the threshold and its result is still cached (the ticket is then
        finished as ``cache-hit``), else ``(_MISS, vector)``."""
        text_of = self._semantic.get(tool)
        if text_of is None or self._embed is None:
            return _MISS, None
        try:
            vector = [float(x) for x in self._embed([text_of(json.loads(args_json))])[0]]
        except BaseException as e:
            self._native.finish(ticket, "error", f"embedding the arguments failed: {_error_text(e)}")
            raise
        col = self._semantic_collection()
        if col.count() == 0:
            return _MISS, vector
        found = col.query(query_embeddings=[vector], n_results=3, where={"tool": tool}, include=["metadatas", "distances"])
        for meta, dist in zip(found["metadatas"][0], found["distances"][0]):
            if dist > self._threshold:
                break
            text = self._native.cache_get(tool, str(meta["args"]))
            if text is not None:
                self._native.finish(ticket, "cache-hit", text)
                return json.loads(text), vector
        return _MISS, vector

    def _semantic_store(self, tool: str, args_json: str, vector: Any, outcome: Tuple[str, Any]) -> None:
        if vector is None or outcome[0] != "ok" or _result_json(outcome[1])[0] != "ok":
            return
        if not self.policy(tool)["cache"]:
            return
        self._semantic_collection().upsert(
            ids=[_semantic_id(tool, args_json)], embeddings=[vector], metadatas=[{"tool": tool, "args": args_json}]
        )

    # ---- the ledger and the cache ----

    def calls(
        self,
        run_id: Optional[str] = None,
        tool: Optional[str] = None,
        status: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> List[Dict[str, Any]]:
        """Ledger rows (dicts: ``id``, ``run_id``, ``tool``, ``args``, ``status``, ``result``,
        ``error``, ``depth``, ``parent_id``, ``started_at`` (epoch seconds), ``duration``
        (seconds)), oldest first. ``status``: ``running``, ``ok``, ``error``, ``timeout``,
        ``refused``, ``cache-hit`` or ``abandoned``."""
        return list(self._native.calls(run_id, tool, status, limit))

    def summary(self) -> List[Dict[str, Any]]:
        """Per tool: ``calls``, ``ok``, ``errors``, ``timeouts``, ``refused``,
        ``cache_hits``, ``running`` and ``hit_rate``."""
        return list(self._native.summary())

    def cache_get(self, tool: str, args: Any) -> Any:
        """The cached result of ``tool`` for ``args`` (a dict of arguments, or any JSON
        value), or ``None``."""
        text = self._native.cache_get(tool, _args_json(args))
        return None if text is None else json.loads(text)

    def cache_put(self, tool: str, args: Any, result: Any, ttl: Optional[float] = None) -> None:
        """Caches ``result`` (JSON-serialisable) for ``tool`` and ``args`` for ``ttl``
        seconds (``None``: the tool's ``cache_ttl``)."""
        self._native.cache_put(tool, _args_json(args), json.dumps(result, ensure_ascii=False), ttl)

    def invalidate(self, tool: str, args: Any = _UNSET) -> int:
        """Removes ``tool``'s cached results: all of them, or the one for ``args``."""
        if self._semantic and SEMANTIC_COLLECTION in {c.name for c in self._client.list_collections()}:
            col = self._semantic_collection()
            if args is _UNSET:
                col.delete(where={"tool": tool})
            else:
                col.delete(ids=[_semantic_id(tool, _args_json(args))])
        if args is _UNSET:
            return int(self._native.invalidate(tool))
        return int(self._native.invalidate(tool, _args_json(args)))
