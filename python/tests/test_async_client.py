"""The async client (``mnemodb.AsyncPersistentClient`` / ``AsyncEphemeralClient``): chromadb's
async API shape, the sync client's results and errors, cancellation, and no thread per call."""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import threading
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Tuple

import numpy as np
import pytest

import mnemodb
from mnemodb import async_api
from mnemodb.config import Settings

DIM = 8


def plain(value: Any) -> Any:
    """A result with numpy arrays as lists and ids as strings, comparable with ``==``."""
    if isinstance(value, np.ndarray):
        return ["ndarray", value.dtype.str, value.tolist()]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, uuid.UUID):
        return "uuid"
    return value


def outcome(call: Callable[[], Any]) -> Tuple[str, Any]:
    try:
        return ("ok", plain(call()))
    except Exception as e:  # noqa: BLE001 (the test compares exceptions)
        return (type(e).__module__ + "." + type(e).__name__, str(e))


async def aoutcome(call: Callable[[], Awaitable[Any]]) -> Tuple[str, Any]:
    try:
        return ("ok", plain(await call()))
    except Exception as e:  # noqa: BLE001
        return (type(e).__module__ + "." + type(e).__name__, str(e))


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


# Each step: (name, method, args, kwargs); "client." steps run on the client, the others on
# the collection made by the first step. The same script runs on a sync and an async client.
V = vectors(40)
SCRIPT: List[Tuple[str, str, Tuple[Any, ...], Dict[str, Any]]] = [
    ("create", "client.create_collection", ("notes",), {"metadata": {"topic": "t"}, "configuration": {"hnsw": {"space": "cosine"}}}),
    ("add", "add", (), {"ids": [f"r{i}" for i in range(30)], "embeddings": V[:30], "documents": [f"doc {i}" for i in range(30)], "metadatas": [{"i": i, "even": i % 2 == 0} for i in range(30)]}),
    ("add_one", "add", (), {"ids": "solo", "embeddings": V[30].tolist(), "documents": "solo doc"}),
    ("count", "count", (), {}),
    ("get_all", "get", (), {}),
    ("get_ids", "get", (), {"ids": ["r3", "r1", "missing"], "include": ["embeddings", "metadatas", "documents", "uris"]}),
    ("get_where", "get", (), {"where": {"even": True}, "limit": 5, "offset": 2}),
    ("get_where_doc", "get", (), {"where_document": {"$contains": "doc 1"}}),
    ("peek", "peek", (), {"limit": 3}),
    ("query", "query", (), {"query_embeddings": V[31:34], "n_results": 4}),
    ("query_where", "query", (), {"query_embeddings": V[34], "n_results": 3, "where": {"i": {"$gte": 10}}, "include": ["distances", "embeddings"]}),
    ("query_ids", "query", (), {"query_embeddings": [V[35].tolist()], "ids": ["r1", "r2", "r9"], "n_results": 2}),
    ("query_no_ids", "query", (), {"query_embeddings": [V[35].tolist()], "ids": [], "n_results": 2}),
    ("upsert", "upsert", (), {"ids": ["r1", "new"], "embeddings": V[36:38], "metadatas": [{"i": 100}, {"i": 101}]}),
    ("update", "update", (), {"ids": ["r2"], "embeddings": V[38:39], "metadatas": [{"i": None, "x": "y"}], "documents": ["changed"]}),
    ("update_deferred", "update_deferred", (), {"ids": ["r4"], "metadatas": [{"seen": 1}]}),
    ("after_writes", "get", (), {"ids": ["r1", "new", "r2", "r4"], "include": ["embeddings", "metadatas", "documents"]}),
    ("delete_ids", "delete", (), {"ids": ["r5", "nope"]}),
    ("delete_where", "delete", (), {"where": {"even": False}, "limit": 3}),
    ("count_after", "count", (), {}),
    ("modify", "modify", (), {"name": "notes2", "metadata": {"topic": "u"}, "configuration": {"hnsw": {"ef_search": 50}}}),
    ("attrs", "attrs", (), {}),
    ("list", "client.list_collections", (), {}),
    ("count_collections", "client.count_collections", (), {}),
    ("get_collection", "client.get_collection", ("notes2",), {}),
    ("get_or_create", "client.get_or_create_collection", ("other",), {"metadata": {"a": 1}}),
    ("max_batch", "client.get_max_batch_size", (), {}),
    ("version", "client.get_version", (), {}),
    # errors
    ("e_dup_batch", "add", (), {"ids": ["a", "a"], "embeddings": V[:2]}),
    ("e_dim", "add", (), {"ids": ["z"], "embeddings": vectors(1, 1)[:, :3]}),
    ("e_query_dim", "query", (), {"query_embeddings": [[1.0, 2.0]], "n_results": 1}),
    ("e_no_embeddings", "add", (), {"ids": ["z"], "documents": ["no ef"]}),
    ("e_bad_where", "get", (), {"where": {"i": {"$bogus": 1}}}),
    ("e_bad_n", "query", (), {"query_embeddings": V[0], "n_results": 0}),
    ("e_bad_include", "get", (), {"include": ["bogus"]}),
    ("e_update_missing", "update", (), {"ids": ["missing"], "embeddings": V[:1]}),
    ("e_delete_nothing", "delete", (), {}),
    ("e_modify_space", "modify", (), {"metadata": {"hnsw:space": "l2"}}),
    ("e_exists", "client.create_collection", ("notes2",), {}),
    ("e_missing", "client.get_collection", ("absent",), {}),
    ("e_bad_name", "client.create_collection", ("x",), {}),
    ("e_reset", "client.reset", (), {}),
    ("delete_collection", "client.delete_collection", ("other",), {}),
    ("e_delete_missing", "client.delete_collection", ("other",), {}),
]


def attrs(col: Any) -> Dict[str, Any]:
    return {
        "name": col.name,
        "id_is_uuid": isinstance(col.id, uuid.UUID),
        "metadata": col.metadata,
        "configuration": col.configuration,
        "tenant": col.tenant,
        "database": col.database,
        "schema": col.schema,
        "embedding_function": col.embedding_function,
    }


def shape(name: str, value: Any) -> Any:
    """Collections and lists of them compare by their attributes."""
    if isinstance(value, (mnemodb.api.Collection, async_api.AsyncCollection)):
        return attrs(value)
    if isinstance(value, list) and value and isinstance(value[0], (mnemodb.api.Collection, async_api.AsyncCollection)):
        return [attrs(c) for c in value]
    return value


def run_sync(path: str) -> Dict[str, Any]:
    client = mnemodb.PersistentClient(path)
    out: Dict[str, Any] = {}
    col: Any = None
    for name, method, args, kwargs in SCRIPT:
        if method == "attrs":
            out[name] = ("ok", attrs(col))
            continue
        target = client if method.startswith("client.") else col
        fn = getattr(target, method.split(".")[-1])
        result: List[Any] = []
        out[name] = outcome(lambda: result.append(shape(name, fn(*args, **kwargs))) or result[0])
        if name == "create":
            col = client.get_collection("notes")
    return out


async def run_async(path: str) -> Dict[str, Any]:
    client = await mnemodb.AsyncPersistentClient(path)
    out: Dict[str, Any] = {}
    col: Any = None
    for name, method, args, kwargs in SCRIPT:
        if method == "attrs":
            out[name] = ("ok", attrs(col))
            continue
        target = client if method.startswith("client.") else col
        fn = getattr(target, method.split(".")[-1])

        async def call() -> Any:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return shape(name, result)

        out[name] = await aoutcome(call)
        if name == "create":
            col = await client.get_collection("notes")
    return out


def test_every_method_gives_the_sync_clients_results_and_errors(tmp_path: Any) -> None:
    expected = run_sync(str(tmp_path / "sync"))
    got = asyncio.run(run_async(str(tmp_path / "async")))
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name] == expected[name], name
    # The script reaches both outcomes: results and a variety of errors.
    assert expected["query"][0] == "ok" and expected["e_missing"][0].endswith("NotFoundError")
    assert len({kind for kind, _ in expected.values()}) >= 5


def test_reset_and_heartbeat(tmp_path: Any) -> None:
    async def main() -> None:
        client = await mnemodb.AsyncPersistentClient(str(tmp_path), settings=Settings(allow_reset=True))
        await client.create_collection("one")
        assert isinstance(await client.heartbeat(), int)
        assert await client.reset() is True
        assert await client.count_collections() == 0

    asyncio.run(main())


_MNEMODB_ONLY = {"ttl", "expires_at"}


def test_shape_matches_chromadbs_async_api(chromadb: Any) -> None:
    from chromadb.api import AsyncClientAPI
    from chromadb.api.models.AsyncCollection import AsyncCollection

    assert inspect.iscoroutinefunction(chromadb.AsyncHttpClient)
    assert inspect.iscoroutinefunction(mnemodb.AsyncPersistentClient)
    assert inspect.iscoroutinefunction(mnemodb.AsyncEphemeralClient)
    pairs = [(AsyncClientAPI, async_api.AsyncClient, mnemodb.api.Client), (AsyncCollection, async_api.AsyncCollection, mnemodb.api.Collection)]
    checked = 0
    for theirs, ours, sync in pairs:
        for name in dir(theirs):
            member = getattr(theirs, name)
            if name.startswith("_") or not callable(member) or not hasattr(sync, name):
                continue  # what the sync client lacks too (fork, search, set_tenant, ...)
            mine = getattr(ours, name)
            assert inspect.iscoroutinefunction(mine) == inspect.iscoroutinefunction(member), name
            want = [p for p in inspect.signature(member).parameters if p != "self"]
            have = [p for p in inspect.signature(mine).parameters if p != "self"]
            # mnemodb's own keyword-only write options (expiry) come after chromadb's.
            have = [p for p in have if p not in _MNEMODB_ONLY or p in want]
            assert have == want, name
            checked += 1
    assert checked >= 20

    async def main() -> None:
        client = await mnemodb.AsyncEphemeralClient()
        col = await client.get_or_create_collection("shape_check")
        assert isinstance(client, AsyncClientAPI)
        assert isinstance(col, AsyncCollection)
        await client.delete_collection("shape_check")

    asyncio.run(main())


def test_async_and_sync_clients_share_the_database(tmp_path: Any) -> None:
    path = str(tmp_path / "db")
    sync = mnemodb.PersistentClient(path)

    async def main() -> None:
        client = await mnemodb.AsyncPersistentClient(path)
        col = await client.create_collection("shared")
        await col.add(ids=["a"], embeddings=[[1.0, 2.0]])

    asyncio.run(main())
    assert sync.get_collection("shared").get(ids=["a"])["ids"] == ["a"]


@pytest.fixture()
def filled(tmp_path: Any) -> Tuple[str, np.ndarray]:
    path = str(tmp_path / "db")
    col = mnemodb.PersistentClient(path).create_collection("many")
    data = vectors(500, seed=3)
    col.add(ids=[f"id{i}" for i in range(len(data))], embeddings=data, metadatas=[{"i": i} for i in range(len(data))])
    return path, data


def test_many_concurrent_calls_from_one_loop(filled: Tuple[str, np.ndarray]) -> None:
    path, data = filled
    sync = mnemodb.PersistentClient(path).get_collection("many")
    queries = vectors(300, seed=4)
    expected = [plain(sync.query(query_embeddings=q, n_results=5)) for q in queries]

    async def main() -> List[Any]:
        col = await (await mnemodb.AsyncPersistentClient(path)).get_collection("many")
        calls = [col.query(query_embeddings=q, n_results=5) for q in queries]
        calls += [col.get(ids=[f"id{i}"], include=["embeddings"]) for i in range(100)]
        return list(await asyncio.gather(*calls))

    got = asyncio.run(main())
    assert [plain(r) for r in got[:300]] == expected
    for i, r in enumerate(got[300:]):
        assert r["ids"] == [f"id{i}"] and np.array_equal(r["embeddings"][0], data[i])


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through /proc")
def test_no_thread_per_call(filled: Tuple[str, np.ndarray]) -> None:
    path, _ = filled
    queries = vectors(200, seed=5)

    async def main() -> Tuple[int, int, int, int]:
        col = await (await mnemodb.AsyncPersistentClient(path)).get_collection("many")
        await asyncio.gather(*[col.query(query_embeddings=q, n_results=3) for q in queries[:20]])  # pool started
        before, py_before = os_threads(), threading.active_count()
        tasks = [asyncio.ensure_future(col.query(query_embeddings=q, n_results=3)) for q in queries]
        await asyncio.sleep(0)  # every task has submitted its call
        during = os_threads()
        results = await asyncio.gather(*tasks)
        assert len(results) == 200 and all(len(r["ids"][0]) == 3 for r in results)
        return before, during, py_before, threading.active_count()

    before, during, py_before, py_after = asyncio.run(main())
    assert during <= before, (before, during)
    assert py_after == py_before


def test_a_call_cancelled_before_it_starts_never_runs(tmp_path: Any) -> None:
    """The native side: with the interpreter's switch interval raised, this thread keeps the
    GIL while it queues calls, so each worker can start at most one (it then waits for the
    GIL to hand its result over); a call queued behind more calls than there are workers has
    not started when it is cancelled."""
    col = mnemodb.PersistentClient(str(tmp_path / "db")).create_collection("cancel")
    native = col._native
    loop = asyncio.new_event_loop()
    mailbox = mnemodb._native.Mailbox()
    delivered: Dict[str, Any] = {}
    futures: List[asyncio.Future[Any]] = []

    def deliver(key: str) -> Tuple[Any, Any]:
        fut = loop.create_future()
        futures.append(fut)

        def done(exc: Any, value: Any) -> None:
            delivered[key] = (exc, value)
            fut.set_result(None)

        return (loop, mailbox, done)

    one = np.ones((1, DIM), dtype=np.float32)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        for i in range(64):  # more than the pool's workers (at most 8)
            native.count(deliver=deliver(f"count{i}"))
        target = native.add(["cancelled"], one, deliver=deliver("target"))
        target.cancel()
        native.add(["kept"], one, deliver=deliver("kept"))
    finally:
        sys.setswitchinterval(old)
    assert target.cancelled()
    waiting = [f for f in futures if f is not futures[64]]
    loop.run_until_complete(asyncio.gather(*waiting))
    loop.close()
    assert "target" not in delivered
    assert delivered["kept"] == (None, None)
    assert col.get(ids=["cancelled", "kept"])["ids"] == ["kept"]


def test_cancelling_the_awaiting_task_cancels_the_call(tmp_path: Any) -> None:
    col_sync = mnemodb.PersistentClient(str(tmp_path / "db")).create_collection("cancel")
    pendings: List[Any] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        pending = col_sync._native.count(*args, **kwargs)
        pendings.append(pending)
        return pending

    async def main() -> None:
        task = asyncio.ensure_future(async_api._call(recording))
        await asyncio.sleep(0)  # the task has submitted its call
        assert len(pendings) == 1 and not pendings[0].cancelled()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The future's done callback has run: the call is marked cancelled.
        assert pendings[0].cancelled()
        # An awaited call that is not cancelled completes as usual.
        assert await async_api._call(col_sync._native.count) == 0

    asyncio.run(main())


def test_errors_raised_on_the_pool_keep_their_class_and_message(tmp_path: Any) -> None:
    path = str(tmp_path / "db")
    col = mnemodb.PersistentClient(path).create_collection("errs")
    col.add(ids=["a"], embeddings=[[1.0, 0.0]])
    with pytest.raises(mnemodb.errors.InvalidArgumentError) as sync_err:
        col.query(query_embeddings=[[1.0, 0.0, 0.0]], n_results=1)

    async def main() -> BaseException:
        acol = await (await mnemodb.AsyncPersistentClient(path)).get_collection("errs")
        try:
            await acol.query(query_embeddings=[[1.0, 0.0, 0.0]], n_results=1)
        except mnemodb.errors.InvalidArgumentError as e:
            return e
        raise AssertionError("no error")

    err = asyncio.run(main())
    assert type(err) is type(sync_err.value) and str(err) == str(sync_err.value)


def test_results_arrive_on_the_loops_thread(tmp_path: Any) -> None:
    seen: List[int] = []
    original = async_api._resolve

    def spy(fut: Any, exc: Any, value: Any) -> None:
        seen.append(threading.get_ident())
        original(fut, exc, value)

    async def main() -> None:
        col = await (await mnemodb.AsyncPersistentClient(str(tmp_path))).create_collection("thread")
        await col.add(ids=["a"], embeddings=[[1.0]])

    async_api._resolve = spy
    try:
        asyncio.run(main())
    finally:
        async_api._resolve = original
    assert seen and set(seen) == {threading.get_ident()}



def test_workers_wake_the_loop_through_its_socket_or_else_call_soon_threadsafe(tmp_path: Any) -> None:
    """Workers never take the GIL to hand results over: they wake the loop through a socket it
    watches (``add_reader``); a loop that cannot watch one is woken with
    ``call_soon_threadsafe``. Both give every result."""
    watched: List[bool] = []

    async def main(can_watch: bool) -> List[Any]:
        loop = asyncio.get_running_loop()
        if not can_watch:

            def refuse(*args: Any) -> None:
                raise NotImplementedError

            loop.add_reader = refuse  # type: ignore[method-assign]
        col = await (await mnemodb.AsyncPersistentClient(str(tmp_path))).get_or_create_collection("wake")
        await col.upsert(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
        fd = async_api._local.mailbox.wake_fd()
        watched.append(fd in loop._selector.get_map())  # type: ignore[attr-defined]
        return await asyncio.gather(*[col.query(query_embeddings=[[1.0, 0.1]], n_results=1) for _ in range(50)])

    for can_watch in (True, False):
        got = asyncio.run(main(can_watch))
        assert [r["ids"] for r in got] == [[["a"]]] * 50
    assert watched == [True, False], "the default loop watches the mailbox's socket"


def test_exiting_with_calls_in_flight_is_clean(tmp_path: Any) -> None:
    """The interpreter exits while workers still have calls queued and running: the process
    ends at once and cleanly (the exit hook drops queued calls and waits for running ones, so
    no worker takes the GIL during finalization, which CPython answers with an abort)."""
    import subprocess

    script = f"""
import asyncio, numpy as np, mnemodb
col = mnemodb.PersistentClient({str(tmp_path / "db")!r}).get_or_create_collection("exit")
col.upsert(ids=[str(i) for i in range(3000)], embeddings=np.random.default_rng(0).normal(size=(3000, 32)).astype(np.float32))

async def main():
    acol = await (await mnemodb.AsyncPersistentClient({str(tmp_path / "db")!r})).get_collection("exit")
    tasks = [asyncio.ensure_future(acol.query(query_embeddings=np.ones(32, dtype=np.float32), n_results=5)) for _ in range(2000)]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    print("first done", flush=True)

asyncio.run(main())  # cancels the other tasks; their calls are queued or running
"""
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert r.returncode == 0 and "first done" in r.stdout, r.stderr
        assert "Fatal Python error" not in r.stderr
