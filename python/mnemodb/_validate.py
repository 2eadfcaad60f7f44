"""Conversion of chromadb's argument forms, before the engine checks them.

The engine is the one validator: ids, lengths, metadata, filters, ``include``,
``n_results`` and ``delete``'s arguments are checked by ``mnemodb._native`` with chromadb
1.5.9's rules, messages and `` in <op>.`` suffix. What stays here is what only Python has:
numpy arrays and lists turned into one C-contiguous float32 matrix (a float32 C-contiguous
array passes through untouched, no copy; the engine judges empty and ragged rows), the
inputs of an embedding function (query texts, images: their checks are the engine's too,
called from here), and :func:`context`, chromadb's ``validation_context`` for the messages
raised here.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, List, Optional, Sequence, TypeVar

import numpy as np

from . import _native

T = TypeVar("T")

_EMBEDDING_DTYPES = (np.float16, np.float32, np.float64, np.int32, np.int64)


def context(name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Appends `` in <name>.`` to the message of an error the wrapped function raises, as
    chromadb's ``validation_context`` does, unless the engine worded it (it did so already)."""

    def decorator(func: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            try:
                return func(*args, **kwargs)
            except Exception as e:
                if getattr(e, "_mnemodb_worded", False):
                    raise
                msg = f"{str(e)} in {name}."
                e.args = (msg,) + e.args[1:] if e.args else ()
                raise

        return wrapper

    return decorator


def one_to_many(target: Any) -> Optional[List[Any]]:
    if target is None:
        return None
    if isinstance(target, list):
        return target
    return [target]


def embeddings_matrix(target: Any, op: str) -> Optional[np.ndarray]:
    """chromadb's accepted embedding forms as one ``(n, dim)`` C-contiguous float32 array.
    An empty list becomes an empty matrix, which the engine refuses in chromadb's words."""
    if target is None:
        return None
    if len(target) == 0:
        return np.empty((0, 0), dtype=np.float32)
    if isinstance(target, np.ndarray):
        if target.ndim == 1:
            arr = target.reshape(1, -1)
        elif target.ndim == 2:
            arr = target
        else:
            raise ValueError(
                "Expected embeddings to be a list of floats or ints, a list of lists, a numpy "
                f"array, or a list of numpy arrays, got {target}"
            )
        _check_dtype(arr)
        if arr.shape[1] == 0:
            _native.embedding_rows([0] * len(arr), op)
        return _contiguous(arr)
    if isinstance(target, list):
        first = target[0]
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            return np.array([target], dtype=np.float32)
        if isinstance(first, np.ndarray):
            if len(target) == 1 and first.ndim == 1 and first.size:
                # One vector (a single query): the checks and result of the loop below, as a
                # view of the row instead of a copy through `np.array`.
                _check_dtype(first)
                return _contiguous(first.reshape(1, -1))
            for row in target:
                if not isinstance(row, np.ndarray):
                    raise ValueError(
                        "Expected each embedding in the embeddings to be a numpy array, got "
                        f"{list(set(type(e).__name__ for e in target))}"
                    )
                if row.ndim == 0:
                    raise ValueError(f"Expected a 1-dimensional array, got a 0-dimensional array {row}")
                if row.size:
                    _check_dtype(row)
            return _stack(target, op)
        if isinstance(first, list):
            if len(first) and isinstance(first[0], (int, float)) and not isinstance(first[0], bool):
                return _stack(target, op)
    raise ValueError(
        "Expected embeddings to be a list of floats or ints, a list of lists, a numpy array, or "
        f"a list of numpy arrays, got {target}"
    )


def _check_dtype(arr: np.ndarray) -> None:
    if arr.dtype not in _EMBEDDING_DTYPES:
        raise ValueError(
            "Expected each value in the embedding to be a int or float, got an embedding with "
            f"{arr.dtype} - {arr}"
        )


def _contiguous(arr: np.ndarray) -> np.ndarray:
    # No copy when `arr` already is C-contiguous float32 (the fast path the tests check).
    return np.ascontiguousarray(arr, dtype=np.float32)


def _stack(rows: Sequence[Any], op: str) -> np.ndarray:
    # The engine's rule for rows given one by one: none empty, all of one length.
    _native.embedding_rows([len(r) for r in rows], op)
    return np.array(rows, dtype=np.float32)


def record_set_lengths(fields: Dict[str, Any], op: str) -> None:
    """chromadb's length rule (the engine's) over the inputs of an embedding function (a
    query's texts, images, uris beside embeddings; a write's images), which never reach the
    engine themselves."""
    _native.check_lengths([(k, None if v is None else len(v)) for k, v in fields.items()], op)
