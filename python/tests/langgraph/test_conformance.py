"""MnemoSaver against LangGraph's official checkpointer conformance suite
(langgraph-checkpoint-conformance, pinned in python/requirements-langgraph.txt): every base and
every extended capability must be detected and pass, with the network blocked."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any, AsyncIterator, List

import pytest

pytest.importorskip("langgraph.checkpoint.conformance")

from langgraph.checkpoint.conformance import checkpointer_test, validate  # noqa: E402
from langgraph.checkpoint.conformance.report import ProgressCallbacks  # noqa: E402

from mnemodb.integrations.langgraph import MnemoSaver  # noqa: E402


def registered(durability: str) -> Any:
    @checkpointer_test(name=f"MnemoSaver({durability})")
    async def mnemo_saver() -> AsyncIterator[MnemoSaver]:
        with tempfile.TemporaryDirectory() as path:
            saver = MnemoSaver(path, durability=durability)
            try:
                yield saver
            finally:
                saver.close()

    return mnemo_saver


@pytest.mark.parametrize("durability", ["synced", "deferred"])
def test_every_base_and_extended_capability_passes(durability: str, network_attempts: List[str]) -> None:
    report: Any = asyncio.run(validate(registered(durability), progress=ProgressCallbacks.quiet()))
    failures = {
        name: result.failures
        for name, result in report.results.items()
        if result.detected and not result.passed
    }
    assert failures == {}, failures
    undetected = sorted(name for name, result in report.results.items() if not result.detected)
    assert undetected == [], f"capabilities the suite could not find on MnemoSaver: {undetected}"
    assert report.passed_all_base() and report.passed_all()
    # Real tests ran in every capability (a capability with no test would pass vacuously).
    assert all(result.tests_passed > 0 for result in report.results.values())
    assert network_attempts == []


def test_sync_methods_agree_with_in_memory_saver(tmp_path: Any) -> None:
    """The suite calls only the async methods: the sync ones replay a history against
    LangGraph's InMemorySaver and must read back the same tuples."""
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.memory import InMemorySaver

    ours, reference = MnemoSaver(str(tmp_path)), InMemorySaver()

    def tuples(saver: Any, **kw: Any) -> List[Any]:
        return [(t.config, t.checkpoint, t.metadata, t.parent_config, t.pending_writes) for t in saver.list(**kw)]

    def history(saver: Any, thread: str) -> None:
        config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        versions: Any = {}
        for step in range(4):
            cp = empty_checkpoint()
            cp["id"] = f"1ef-{step:04d}"
            changed = {"a": step} if step % 2 == 0 else {"b": [step]}
            for channel in changed:
                versions[channel] = saver.get_next_version(versions.get(channel), None)
            cp["channel_versions"] = dict(versions)
            cp["channel_values"] = {"a": step - step % 2, "b": [step - 1 + step % 2]}
            new = {c: versions[c] for c in changed}
            config = saver.put(config, cp, {"source": "loop", "step": step, "run_id": f"r{step % 2}"}, new)
            saver.put_writes(config, [("a", step), ("__error__", "boom")], task_id="task", task_path="~")
            saver.put_writes(config, [("a", "retry ignored")], task_id="task")

    history(ours, "t")
    ours.copy_thread("t", "u")  # InMemorySaver has no copy_thread: it replays the history
    history(reference, "t")
    history(reference, "u")
    for kw in (
        {"config": {"configurable": {"thread_id": "t"}}},
        {"config": None, "filter": {"run_id": "r1"}},
        {"config": {"configurable": {"thread_id": "u", "checkpoint_ns": ""}}, "limit": 2},
        {"config": {"configurable": {"thread_id": "t"}}, "before": {"configurable": {"checkpoint_id": "1ef-0002"}}},
    ):
        got, want = tuples(ours, **kw), tuples(reference, **kw)
        # Versions carry a random part: compare values and writes, the versions' counters only.
        for tup in (*got, *want):
            tup[1]["channel_versions"] = {c: v.split(".")[0] for c, v in tup[1]["channel_versions"].items()}
            tup[1].pop("ts")
        if kw["config"] is None:
            # Across threads we list newest first; InMemorySaver goes thread by thread.
            got, want = sorted(got, key=repr), sorted(want, key=repr)
        assert got == want, kw
        assert got, kw
    latest = ours.get_tuple({"configurable": {"thread_id": "t"}})
    assert latest is not None and latest.checkpoint["channel_values"] == {"a": 2, "b": [3]}
    ours.delete_for_runs(["r1"])
    assert [t.metadata["step"] for t in ours.list({"configurable": {"thread_id": "u"}})] == [2, 0]
    ours.prune(["u"])
    assert [t.metadata["step"] for t in ours.list({"configurable": {"thread_id": "u"}})] == [2]
    ours.delete_thread("u")
    assert ours.get_tuple({"configurable": {"thread_id": "u"}}) is None
    ours.close()
