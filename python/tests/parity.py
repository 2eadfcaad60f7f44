"""A script of operations run against chromadb and mnemodb alike, and the comparison of what
each returned (values, or the class and message of the error raised)."""

from __future__ import annotations

import math
from typing import Any, Callable, List, Tuple

import numpy as np

Step = Tuple[str, Callable[[Any], Any]]


def normalize(value: Any) -> Any:
    """Results as plain Python: numpy arrays to nested lists of floats, tuples to lists."""
    if isinstance(value, np.ndarray):
        return [normalize(x) for x in value.tolist()] if value.ndim else float(value)
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def run(steps: List[Step], target: Any) -> List[Tuple[str, str, Any]]:
    """Runs every step; each outcome is ("ok", value) or ("error", class name, message)."""
    out = []
    for name, fn in steps:
        try:
            out.append((name, "ok", normalize(fn(target))))
        except Exception as e:  # noqa: BLE001 - the error is the outcome we compare
            out.append((name, "error", (type(e).__name__, str(e))))
    return out


def same(a: Any, b: Any, path: str = "") -> List[str]:
    """Differences between two normalized values: floats to 1e-5 relative (+1e-6 absolute),
    everything else exactly, ints and bools kept apart."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return [f"{path}: {a!r} != {b!r}"]
        if type(a) is not type(b) and not path.endswith("embeddings") and "distances" not in path and "embeddings" not in path:
            return [f"{path}: type {type(a).__name__} != {type(b).__name__} ({a!r}, {b!r})"]
        if math.isnan(a) and math.isnan(b):
            return []
        if abs(a - b) <= 1e-5 * max(abs(a), abs(b)) + 1e-6:
            return []
        return [f"{path}: {a!r} != {b!r}"]
    if type(a) is not type(b):
        return [f"{path}: type {type(a).__name__} != {type(b).__name__} ({a!r}, {b!r})"]
    if isinstance(a, dict):
        if list(a.keys()) != list(b.keys()) and set(a.keys()) != set(b.keys()):
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        diffs: List[str] = []
        for k in a:
            diffs += same(a[k], b[k], f"{path}.{k}")
        return diffs
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}: {a!r} != {b!r}"]
        diffs = []
        for i, (x, y) in enumerate(zip(a, b)):
            diffs += same(x, y, f"{path}[{i}]")
        return diffs
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def compare(reference: List[Tuple[str, str, Any]], ours: List[Tuple[str, str, Any]]) -> List[str]:
    diffs = []
    for (name, kind_r, val_r), (_, kind_o, val_o) in zip(reference, ours):
        if kind_r != kind_o:
            diffs.append(f"{name}: chromadb {kind_r} {val_r!r}, mnemodb {kind_o} {val_o!r}")
            continue
        for d in same(val_r, val_o, name):
            diffs.append(d)
    return diffs
