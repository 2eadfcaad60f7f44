#!/usr/bin/env python3
"""mem0 on mnemodb vs mem0 on chromadb: ``Memory.add`` (``infer=False``) and ``Memory.search``
latency, same memories, same queries, same run.

    .venv/bin/python benches/peers/mem0_bench.py                 # 10,000 memories, 300 searches
    .venv/bin/python benches/peers/mem0_bench.py --memories 2000 --searches 100

Needs the repository's .venv (scripts/pyenv.sh: mnemodb, chromadb 1.5.9, mem0ai 2.2.1). No
network, no model: the embedder is deterministic (each word of a 3,000-word vocabulary has a
fixed random 384-d unit vector; a text is the normalised sum of its words' vectors) and no LLM
is called (``infer=False``). The memories are sentences of 6 to 16 words drawn from that
vocabulary with Zipf-like frequencies, spread round-robin over 10 users; the searches are 2 to
5 words, each scoped to one user (``filters={"user_id": ...}``, as mem0 requires), mem0's
default ``top_k=20``.

Providers, each in its own directory under one temporary directory, one after the other:
- ``mnemodb``: ``{"provider": "mnemodb", "config": {"path": ...}}`` (mnemodb.integrations.mem0,
  cosine, hybrid search: mem0 also calls its ``keyword_search``, BM25 over the scope's words);
- ``mnemodb-vectors``: the same with ``"keyword_search": False`` (vectors only, as chroma);
- ``chroma``: mem0's own ``{"provider": "chroma", "config": {"path": ...}}`` on chromadb 1.5.9
  (a persistent chromadb client, l2; no keyword search, so mem0 scores by vectors only).

Each add is one ``Memory.add`` call (embedding, the store's insert, mem0's SQLite history
record, all on disk; mnemodb syncs every commit to disk, chromadb's defaults do not fsync
each write). Each search is one ``Memory.search`` call (embedding, the store's search over
4 x top_k, for mnemodb the keyword search, mem0's scoring). Reported: median, p95 and mean
latency in ms, and for mnemodb the part of a search spent in ``keyword_search`` (timed by
wrapping the store's method). Not run by the test suite.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

os.environ["MEM0_TELEMETRY"] = "False"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ.setdefault("MEM0_DIR", tempfile.mkdtemp(prefix="mem0-bench-home-"))

import numpy as np  # noqa: E402

DIMS = 384
VOCAB = 3000
USERS = 10
SEED = 20260522


class Corpus:
    """The vocabulary's word vectors, the memories and the queries, all from one seed."""

    def __init__(self, memories: int, searches: int) -> None:
        rng = np.random.default_rng(SEED)
        self.words = [f"w{i}" for i in range(VOCAB)]
        vecs = rng.standard_normal((VOCAB, DIMS)).astype(np.float32)
        self.vectors = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        self.index = {w: i for i, w in enumerate(self.words)}
        p = 1.0 / np.arange(1, VOCAB + 1) ** 1.07  # Zipf-like word frequencies
        p /= p.sum()

        def sentence(lo: int, hi: int) -> str:
            return " ".join(self.words[i] for i in rng.choice(VOCAB, size=int(rng.integers(lo, hi + 1)), p=p))

        self.memories = [sentence(6, 16) for _ in range(memories)]
        self.users = [f"user{i % USERS}" for i in range(memories)]
        self.queries = [sentence(2, 5) for _ in range(searches)]
        self.query_users = [f"user{int(u)}" for u in rng.integers(0, USERS, size=searches)]

    def embed(self, text: str) -> List[float]:
        ids = [self.index[w] for w in text.split() if w in self.index]
        v = self.vectors[ids].sum(axis=0) if ids else np.ones(DIMS, dtype=np.float32)
        return (v / np.linalg.norm(v)).tolist()


def install_fakes(corpus: Corpus) -> None:
    from mem0.embeddings.base import EmbeddingBase
    from mem0.llms.base import LLMBase
    from mem0.utils.factory import EmbedderFactory, LlmFactory

    class BenchEmbedding(EmbeddingBase):
        def embed(self, text: Any, memory_action: Any = None) -> List[float]:
            return corpus.embed(text)

    class NoLLM(LLMBase):
        def generate_response(self, messages: Any, **kwargs: Any) -> str:
            raise AssertionError("the bench adds with infer=False: no LLM call")

    module = sys.modules[__name__]
    module.BenchEmbedding = BenchEmbedding  # type: ignore[attr-defined]
    module.NoLLM = NoLLM  # type: ignore[attr-defined]
    EmbedderFactory.provider_to_class["bench"] = f"{__name__}.BenchEmbedding"
    LlmFactory.register_provider("bench", f"{__name__}.NoLLM")


def stats(samples: List[float]) -> Dict[str, float]:
    ms = sorted(s * 1e3 for s in samples)
    return {
        "p50": statistics.median(ms),
        "p95": ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))],
        "mean": statistics.fmean(ms),
    }


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


PROVIDERS = {
    "mnemodb": ("mnemodb", {}),
    "mnemodb-vectors": ("mnemodb", {"keyword_search": False}),
    "chroma": ("chroma", {}),
}


def run(name: str, corpus: Corpus, root: str) -> Dict[str, Any]:
    from mem0 import Memory

    provider, extra = PROVIDERS[name]
    d = os.path.join(root, name)
    os.makedirs(d)
    config = {"collection_name": "bench", "path": os.path.join(d, "store"), **extra}
    m = Memory.from_config(
        {
            "vector_store": {"provider": provider, "config": config},
            "embedder": {"provider": "bench"},
            "llm": {"provider": "bench"},
            "history_db_path": os.path.join(d, "history.db"),
        }
    )
    adds = []
    t0 = time.perf_counter()
    for text, user in zip(corpus.memories, corpus.users):
        adds.append(timed(lambda: m.add(text, user_id=user, infer=False)))
    add_total = time.perf_counter() - t0

    keyword: List[float] = []
    store = m.vector_store
    from mem0.vector_stores.base import VectorStoreBase

    if type(store).keyword_search is not VectorStoreBase.keyword_search:
        inner = store.keyword_search

        def wrapped(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return inner(*a, **k)
            finally:
                keyword.append(time.perf_counter() - t)

        store.keyword_search = wrapped  # type: ignore[method-assign]

    # one warm-up search per user (first-use costs: caches, index load), not timed
    for u in range(USERS):
        m.search(corpus.queries[0], filters={"user_id": f"user{u}"})
    keyword.clear()
    searches = []
    hits = 0
    for q, user in zip(corpus.queries, corpus.query_users):
        t = time.perf_counter()
        r = m.search(q, filters={"user_id": user})
        searches.append(time.perf_counter() - t)
        hits += len(r["results"])
    m.close()
    out = {
        "add": stats(adds),
        "add_total_s": add_total,
        "search": stats(searches),
        "mean_hits": hits / len(corpus.queries),
    }
    if keyword:
        out["keyword_search"] = stats(keyword)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--memories", type=int, default=10_000)
    ap.add_argument("--searches", type=int, default=300)
    ap.add_argument("--providers", default=",".join(PROVIDERS), help=f"any of {', '.join(PROVIDERS)}")
    args = ap.parse_args()

    logging.getLogger("mem0").setLevel(logging.ERROR)
    import chromadb
    import mem0  # noqa: F401
    import mnemodb
    import mnemodb.integrations.mem0  # noqa: F401  (registers the "mnemodb" provider)
    from importlib.metadata import version

    corpus = Corpus(args.memories, args.searches)
    install_fakes(corpus)
    root = tempfile.mkdtemp(prefix="mem0-bench-")
    results = {}
    try:
        for provider in args.providers.split(","):
            print(f"{provider}: {args.memories} adds, {args.searches} searches ...", flush=True)
            results[provider] = run(provider, corpus, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print()
    print(
        f"mem0ai {version('mem0ai')}, mnemodb {mnemodb.__version__}, chromadb {chromadb.__version__}; "
        f"{args.memories} memories over {USERS} users, {DIMS}-d, {args.searches} searches (top_k 20, one user); "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print()
    print("| provider | add p50 ms | add p95 ms | add mean ms | adds total s | search p50 ms | search p95 ms | search mean ms | of which keyword_search p50 ms | hits/search |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for provider, r in results.items():
        kw = r.get("keyword_search")
        print(
            f"| {provider} | {r['add']['p50']:.2f} | {r['add']['p95']:.2f} | {r['add']['mean']:.2f} | {r['add_total_s']:.1f} "
            f"| {r['search']['p50']:.2f} | {r['search']['p95']:.2f} | {r['search']['mean']:.2f} "
            f"| {kw['p50']:.2f} | {r['mean_hits']:.1f} |"
            if kw
            else f"| {provider} | {r['add']['p50']:.2f} | {r['add']['p95']:.2f} | {r['add']['mean']:.2f} | {r['add_total_s']:.1f} "
            f"| {r['search']['p50']:.2f} | {r['search']['p95']:.2f} | {r['search']['mean']:.2f} | n/a (none) | {r['mean_hits']:.1f} |"
        )


if __name__ == "__main__":
    main()
