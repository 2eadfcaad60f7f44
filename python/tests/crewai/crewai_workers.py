"""Process bodies of the multi-process tests (module level, so ``spawn`` can import them)."""

from __future__ import annotations

import os
import time
import traceback


def _offline() -> None:
    os.environ["CREWAI_TRACING_ENABLED"] = "false"
    os.environ["CREWAI_DISABLE_TELEMETRY"] = "true"
    os.environ["OTEL_SDK_DISABLED"] = "true"


def remember_worker(path: str, worker: int, n: int, start, out) -> None:
    """Remembers ``n`` facts through crewai's Memory (zero-LLM path) into ``path``."""
    _offline()
    try:
        from crewai.memory import Memory

        from crewai_fakes import MemoryEmbedder
        from mnemodb.integrations.crewai import MnemoStorage

        mem = Memory(storage=MnemoStorage(path), embedder=MemoryEmbedder(), consolidation_threshold=1.0)
        start.wait()
        for i in range(n):
            r = mem.remember(
                f"worker {worker} fact {i} about topic{i % 7}",
                scope=f"/workers/w{worker}",
                categories=[f"topic{i % 7}"],
                importance=0.5,
                metadata={"worker": worker, "i": i},
            )
            assert r is not None
        mem.drain_writes()
        mem.close()
        out.put(("ok", worker, n))
    except BaseException:  # reported to the parent
        out.put(("error", worker, traceback.format_exc()))


def recall_worker(path: str, stop, out) -> None:
    """Recalls in a loop until ``stop`` is set; reports how many recalls ran."""
    _offline()
    try:
        from crewai.memory import Memory

        from crewai_fakes import MemoryEmbedder
        from mnemodb.integrations.crewai import MnemoStorage

        mem = Memory(storage=MnemoStorage(path), embedder=MemoryEmbedder(), consolidation_threshold=1.0)
        recalls = 0
        seen = 0
        while not stop.is_set() or recalls < 3:
            matches = mem.recall("fact about topic3", scope="/workers", depth="shallow", limit=5)
            assert all(m.record.scope.startswith("/workers/w") for m in matches)
            seen = max(seen, len(matches))
            recalls += 1
            time.sleep(0.01)
        out.put(("ok", "reader", recalls, seen))
    except BaseException:
        out.put(("error", "reader", traceback.format_exc()))
