"""mnemodb.tools: guarded tool calls (policy limits, honest timeouts in each isolation mode),
the ledger, and the cache shared between executors and processes."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

import mnemodb
from mnemodb.errors import ToolError, ToolRefusedError, ToolTimeoutError
from mnemodb.tools import ToolExecutor, current_call


@pytest.fixture
def client(tmp_path: Path) -> Any:
    return mnemodb.PersistentClient(str(tmp_path / "db"))


def statuses(ex: ToolExecutor, **kw: Any) -> List[str]:
    return [c["status"] for c in ex.calls(**kw)]


def wait_for_status(ex: ToolExecutor, call_id: int, status: str) -> Dict[str, Any]:
    """The ledger row once it reaches ``status`` (polled; bounded by a count, not a clock)."""
    for _ in range(1000):
        row = next(c for c in ex.calls() if c["id"] == call_id)
        if row["status"] == status:
            return row
        time.sleep(0.01)
    raise AssertionError(f"call {call_id} never became {status}: {row}")


def test_the_wrapper_keeps_name_signature_and_docstring(client: Any) -> None:
    ex = ToolExecutor(client)

    @ex.tool(timeout=5)
    def search(query: str, limit: int = 3) -> List[str]:
        """Searches the web."""
        return [query] * limit

    @ex.tool
    async def fetch(url: str) -> str:
        """Fetches a page."""
        return url

    assert search.__name__ == "search" and search.__doc__ == "Searches the web."
    assert str(inspect.signature(search)) == "(query: 'str', limit: 'int' = 3) -> 'List[str]'"
    assert fetch.__name__ == "fetch" and fetch.__doc__ == "Fetches a page."
    assert inspect.iscoroutinefunction(fetch)
    assert search("a", limit=2) == ["a", "a"]
    assert asyncio.run(fetch("u")) == "u"
    assert ex.policy("search")["timeout"] == 5


def test_repeats_are_refused_and_the_cache_answers_before_that(client: Any) -> None:
    ex = ToolExecutor(client, max_repeats=3)
    ran: List[int] = []

    @ex.tool
    def square(x: int) -> int:
        ran.append(x)
        return x * x

    assert [square(4), square(x=4), square(4)] == [16, 16, 16]
    assert ran == [4], "the second and third calls were cache hits"
    with pytest.raises(ToolRefusedError, match=r"max_repeats=3") as e:
        square(4)
    assert isinstance(e.value, ToolError)
    assert statuses(ex) == ["ok", "cache-hit", "cache-hit", "refused"]
    assert square(5) == 25
    ex.new_run()
    assert square(4) == 16, "a new run counts afresh"


def test_failures_are_recorded_reraised_and_never_cached(client: Any) -> None:
    ex = ToolExecutor(client, max_repeats=None)
    calls: List[int] = []

    @ex.tool
    def flaky(x: int) -> int:
        calls.append(x)
        raise ValueError(f"bad {x}")

    for _ in range(2):
        with pytest.raises(ValueError, match="bad 1"):
            flaky(1)
    assert calls == [1, 1]
    rows = ex.calls(tool="flaky")
    assert [r["status"] for r in rows] == ["error", "error"]
    assert rows[0]["error"] == "ValueError: bad 1"
    assert ex.cache_get("flaky", {"x": 1}) is None


def test_a_sync_tool_past_its_timeout_is_abandoned_and_its_late_result_recorded(client: Any) -> None:
    ex = ToolExecutor(client)
    release = threading.Event()

    @ex.tool(timeout=0.05)
    def slow(q: str) -> str:
        release.wait()
        return f"late {q}"

    with pytest.raises(ToolTimeoutError, match="timed out after 50 ms") as e:
        slow("x")
    assert isinstance(e.value, TimeoutError)
    (row,) = ex.calls(tool="slow")
    assert row["status"] == "timeout"
    release.set()
    row = wait_for_status(ex, row["id"], "abandoned")
    assert json.loads(row["result"]) == "late x"
    assert ex.cache_get("slow", {"q": "x"}) is None, "a late result is discarded, not cached"


def test_an_async_tool_past_its_timeout_is_cancelled(client: Any) -> None:
    ex = ToolExecutor(client)
    events: List[str] = []

    @ex.tool(timeout=0.05)
    async def slow() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        return "never"

    async def main() -> None:
        with pytest.raises(ToolTimeoutError):
            await slow()

    asyncio.run(main())
    assert events == ["cancelled"]
    assert statuses(ex) == ["timeout"]


def test_a_process_isolated_tool_is_killed_at_its_deadline(client: Any, tmp_path: Path) -> None:
    ex = ToolExecutor(client, max_repeats=None)
    pid_file = tmp_path / "pid"
    offset = 10

    @ex.tool(timeout=0.5, isolation="process")
    def hang(n: int) -> int:
        pid_file.write_text(str(os.getpid()))
        if n < 0:
            time.sleep(60)
        return n + offset  # a closure: the function is not pickled

    assert hang(1) == 11
    child_pid = int(pid_file.read_text())
    assert child_pid != os.getpid()
    with pytest.raises(ToolTimeoutError):
        hang(-1)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped
    assert statuses(ex) == ["ok", "timeout"]


def test_a_process_isolated_tools_exception_comes_back(client: Any) -> None:
    ex = ToolExecutor(client)

    @ex.tool(timeout=10, isolation="process")
    def boom() -> None:
        raise KeyError("inside the child")

    with pytest.raises(KeyError, match="inside the child"):
        boom()
    assert statuses(ex) == ["error"]


def test_nested_calls_record_depth_and_parent_and_are_limited(client: Any) -> None:
    ex = ToolExecutor(client, max_depth=1, cache=False)
    seen: List[Any] = []

    @ex.tool
    def leaf(x: int) -> int:
        seen.append(current_call())
        return x + 1

    @ex.tool
    def middle(x: int) -> int:
        return leaf(x) * 10

    @ex.tool
    def top(x: int) -> int:
        return middle(x)

    assert middle(1) == 20
    rows = ex.calls()
    by_tool = {r["tool"]: r for r in rows}
    assert by_tool["middle"]["depth"] == 0 and by_tool["leaf"]["depth"] == 1
    assert by_tool["leaf"]["parent_id"] == by_tool["middle"]["id"]
    assert seen == [(by_tool["leaf"]["id"], 1)]
    with pytest.raises(ToolRefusedError, match="max_depth=1"):
        top(2)  # leaf would be at depth 2
    assert statuses(ex, tool="leaf") == ["ok", "refused"]


def test_results_that_do_not_round_trip_through_json_are_recorded_not_cached(client: Any) -> None:
    ex = ToolExecutor(client, max_repeats=None)
    ran: List[int] = []

    @ex.tool
    def pair(x: int) -> Any:
        ran.append(x)
        return (x, {1: "one"})

    assert pair(1) == (1, {1: "one"})
    assert pair(1) == (1, {1: "one"})
    assert ran == [1, 1]
    assert statuses(ex) == ["ok", "ok"]


def test_ttl_and_invalidation(client: Any) -> None:
    ex = ToolExecutor(client, max_repeats=None)
    ran: List[str] = []

    @ex.tool(cache_ttl=0.2)
    def quote(sym: str) -> str:
        ran.append(sym)
        return sym.lower()

    quote("A")
    quote("A")
    assert ran == ["A"]
    # Invalidation by key, then by tool.
    quote("B")
    assert ex.invalidate("quote", {"sym": "A"}) == 1
    quote("A")
    quote("B")
    assert ran == ["A", "B", "A"]
    assert ex.invalidate("quote") == 2
    quote("B")
    assert ran == ["A", "B", "A", "B"]
    # Expiry: past the ttl the entry is stale (polled, no wall-clock assertion).
    for _ in range(100):
        if ex.cache_get("quote", {"sym": "B"}) is None:
            break
        time.sleep(0.05)
    quote("B")
    assert ran[-1] == "B" and len(ran) == 5
    summary = {s["tool"]: s for s in ex.summary()}
    assert summary["quote"]["cache_hits"] == 2 and summary["quote"]["calls"] == 7


CHILD = r"""
import sys, json, mnemodb
from mnemodb.tools import ToolExecutor
ex = ToolExecutor(mnemodb.PersistentClient(sys.argv[1]), max_repeats=None)
ran = []
@ex.tool
def lookup(key: str) -> dict:
    ran.append(key)
    return {"key": key, "from": sys.argv[2]}
out = [lookup(k) for k in sys.argv[3:]]
print(json.dumps({"ran": ran, "out": out}))
"""


def run_child(path: Path, name: str, *keys: str) -> Dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), name, *keys],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_cache_is_shared_by_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared"
    first = run_child(path, "first", "a", "b")
    assert first["ran"] == ["a", "b"]
    second = run_child(path, "second", "a", "b", "c")
    assert second["ran"] == ["c"], "a and b came from the first process's results"
    assert second["out"][0] == {"key": "a", "from": "first"}
    ex = ToolExecutor(mnemodb.PersistentClient(str(path)))
    assert ex.cache_get("lookup", {"key": "c"}) == {"key": "c", "from": "second"}
    assert sorted(statuses(ex)) == ["cache-hit", "cache-hit", "ok", "ok", "ok"]


HANGING_CHILD = r"""
import sys, time, mnemodb
from mnemodb.tools import ToolExecutor
ex = ToolExecutor(mnemodb.PersistentClient(sys.argv[1]), max_repeats=None)
@ex.tool
def quick(x: int) -> int:
    return x * 2
@ex.tool
def slow(x: int) -> int:
    print("running", flush=True)
    time.sleep(600)
    return x
quick(1)
slow(2)
"""


def test_a_call_cut_short_by_a_killed_process_is_recorded_as_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "killed"
    child = subprocess.Popen(
        [sys.executable, "-c", HANGING_CHILD, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line == "running\n", child.stderr.read() if child.stderr else line
    finally:
        child.kill()
        child.wait(timeout=60)
    ex = ToolExecutor(mnemodb.PersistentClient(str(path)))
    calls = {c["tool"]: c for c in ex.calls()}
    assert calls["quick"]["status"] == "ok"
    assert calls["slow"]["status"] == "error"
    assert calls["slow"]["error"].startswith("interrupted: the process making the call ended")


def bag_of_words(texts: List[str]) -> List[List[float]]:
    """A deterministic embedding: hashed words, normalised (no model, no network)."""
    import hashlib
    import math

    out = []
    for t in texts:
        v = [0.0] * 32
        for w in t.lower().split():
            v[int(hashlib.md5(w.encode()).hexdigest(), 16) % 32] += 1.0
        n = math.sqrt(sum(x * x for x in v)) or 1.0
        out.append([x / n for x in v])
    return out


def test_semantic_hits_answer_calls_with_near_arguments(client: Any) -> None:
    ex = ToolExecutor(client, embedding_function=bag_of_words, semantic_threshold=0.05, max_repeats=None)
    ran: List[str] = []

    @ex.tool(semantic=True)
    def weather(query: str) -> str:
        ran.append(query)
        return f"forecast for {query}"

    @ex.tool
    def exact_only(query: str) -> str:
        ran.append("exact " + query)
        return query

    assert weather("weather in Paris today") == "forecast for weather in Paris today"
    # The same words in another order: distance 0, answered from the first call's result.
    assert weather("today weather in Paris") == "forecast for weather in Paris today"
    # Other words: too far, the tool runs.
    assert weather("stock price of ACME") == "forecast for stock price of ACME"
    # A tool without semantic=True only hits exactly.
    exact_only("a b")
    exact_only("b a")
    assert ran == ["weather in Paris today", "stock price of ACME", "exact a b", "exact b a"]
    assert statuses(ex, tool="weather") == ["ok", "cache-hit", "ok"]
    # Invalidation removes the semantic entries too.
    ex.invalidate("weather")
    weather("today weather in Paris")
    assert ran[-1] == "today weather in Paris"


def test_semantic_needs_an_embedding_function(client: Any) -> None:
    ex = ToolExecutor(client)
    with pytest.raises(ValueError, match="embedding_function"):

        @ex.tool(semantic=True)
        def f(q: str) -> str:
            return q


def test_arguments_are_recorded_as_signature_bind_gives_them(client: Any) -> None:
    ex = ToolExecutor(client, max_repeats=None, cache=False)

    def g(x: Any, y: Any = 2, z: Any = "q") -> Any:
        return [x, y, z]

    def star(x: Any, *rest: Any, **more: Any) -> Any:
        return [x, rest, more]

    calls = [
        (g, (1,), {}),
        (g, (1, 5), {}),
        (g, (1,), {"z": "w"}),
        (g, (), {"x": 3}),
        (g, (), {"y": 1, "x": 3}),
        (g, (1, 2, 3), {}),
        (star, (1, 2), {"k": 3}),
    ]
    for f, args, kwargs in calls:
        ex.tool(f)(*args, **kwargs)
    for f, args, kwargs in [(g, (1, 2, 3, 4), {}), (g, (1,), {"x": 1}), (g, (), {}), (g, (1,), {"w": 1})]:
        with pytest.raises(TypeError):
            ex.tool(f)(*args, **kwargs)
    recorded = [json.loads(c["args"]) for c in ex.calls() if c["status"] == "ok"]
    expected = []
    for f, args, kwargs in calls:
        b = inspect.signature(f).bind(*args, **kwargs)
        b.apply_defaults()
        expected.append(json.loads(json.dumps(dict(b.arguments))))
    assert recorded == expected
