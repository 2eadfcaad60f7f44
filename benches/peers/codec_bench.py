"""mnemodb.codec against orjson and ormsgpack (and the stdlib json) on a LangGraph-shaped
checkpoint: the same nested dict as benches/benches/codec.rs (channel values holding chat
messages, channel versions, versions seen), at about 10 KB and 1 MB of JSON, in one run.

    .venv/bin/python -m pip install -r benches/peers/requirements-codec.txt
    .venv/bin/python benches/peers/codec_bench.py [--seconds 0.5]

Prints the median time per encode and decode (of 7 rounds of a timed loop) and the encoded size.
Every decode is checked against the original value once. Nothing is asserted on the times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any, Callable, Dict, List, Tuple

import orjson
import ormsgpack

from mnemodb import codec


def message(i: int) -> Dict[str, Any]:
    text = (
        f"Message {i}: the user asks about the weather in city {i % 97} and the assistant answers "
        f"with a forecast, a few numbers ({i * 0.37:.3f}, {i * 7}) and a follow-up question. "
        + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * (1 + i % 4)
    )
    mid = f"run-{i * 2654435761 % (1 << 32):08x}-{i:04x}-msg"
    if i % 4 == 0:
        return {"type": "human", "content": text, "id": mid, "additional_kwargs": {}, "response_metadata": {}}
    if i % 4 in (1, 3):
        calls = (
            [{"name": "get_weather", "args": {"city": "Paris", "days": 3}, "id": f"call_{i}", "type": "tool_call"}]
            if i % 4 == 1
            else []
        )
        return {
            "type": "ai",
            "content": text,
            "id": mid,
            "response_metadata": {
                "model_name": "gpt-4o-mini",
                "finish_reason": "stop",
                "token_usage": {"prompt_tokens": 120 + i, "completion_tokens": 42, "total_tokens": 162 + i},
            },
            "tool_calls": calls,
            "usage_metadata": {"input_tokens": 120},
        }
    return {"type": "tool", "content": text, "tool_call_id": f"call_{i - 1}", "status": "success", "artifact": None, "score": i / 3}


def checkpoint(size: int) -> Dict[str, Any]:
    messages: List[Dict[str, Any]] = []
    while True:
        messages.append(message(len(messages)))
        n = len(messages)
        cp = {
            "v": 4,
            "ts": "2026-12-04T13:00:00.000000+00:00",
            "id": "1efb2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
            "channel_values": {"messages": messages, "step": n, "branch:to:agent": None},
            "channel_versions": {
                "__start__": "00000000000000000000000000000002.0.243798",
                "messages": f"{n:032}.0.5",
                "branch:to:agent": "00000000000000000000000000000003.0.1",
            },
            "versions_seen": {"__input__": {}, "agent": {"messages": "00000000000000000000000000000002.0.1"}},
            "pending_sends": [],
        }
        if len(orjson.dumps(cp)) >= size:
            return cp


def per_call(fn: Callable[[], Any], seconds: float) -> float:
    """Median seconds per call over 7 rounds of about ``seconds / 7`` each."""
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t
        if dt > 0.02:
            break
        n *= 2
    loops = max(1, int(n * (seconds / 7) / dt))
    rounds = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(loops):
            fn()
        rounds.append((time.perf_counter() - t) / loops)
    return statistics.median(rounds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    args = ap.parse_args()
    peers: List[Tuple[str, Callable[[Any], bytes], Callable[[bytes], Any]]] = [
        ("mnemodb json", lambda v: codec.encode(v, "json"), codec.decode),
        ("mnemodb msgpack", lambda v: codec.encode(v, "msgpack"), codec.decode),
        ("mnemodb postcard", lambda v: codec.encode(v, "postcard"), codec.decode),
        ("mnemodb postcard+zstd", lambda v: codec.encode(v, "postcard+zstd"), codec.decode),
        ("orjson", orjson.dumps, orjson.loads),
        ("ormsgpack", ormsgpack.packb, ormsgpack.unpackb),
        ("json (stdlib)", lambda v: json.dumps(v).encode(), json.loads),
    ]
    print(f"orjson {orjson.__version__}, ormsgpack {ormsgpack.__version__}")
    for label, size in [("10KB", 10 << 10), ("1MB", 1 << 20)]:
        cp = checkpoint(size)
        print(f"\ncheckpoint {label} ({len(orjson.dumps(cp))} bytes of JSON, {len(cp['channel_values']['messages'])} messages)")
        print(f"| {'library':<22} | {'encode':>10} | {'decode':>10} | {'bytes':>9} |")
        print(f"|{'-' * 24}|{'-' * 12}|{'-' * 12}|{'-' * 11}|")
        for name, enc, dec in peers:
            data = enc(cp)
            assert dec(data) == cp, name
            e = per_call(lambda: enc(cp), args.seconds)
            d = per_call(lambda: dec(data), args.seconds)
            print(f"| {name:<22} | {e * 1e6:>7.1f} us | {d * 1e6:>7.1f} us | {len(data):>9} |")


if __name__ == "__main__":
    main()
