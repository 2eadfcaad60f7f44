"""Argument normalisation and checks with chromadb 1.5.9's rules and exact messages.

chromadb validates in Python before calling its backend and appends `` in <op>.`` to every
message (its ``validation_context``); :func:`context` does the same here. Embeddings end up
as one C-contiguous float32 matrix: a float32 C-contiguous array passes through untouched
(no copy), anything else is converted once.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, List, Optional, Sequence, TypeVar

import numpy as np

from . import _native
from .errors import DuplicateIDError, InvalidArgumentError

T = TypeVar("T")

INCLUDE_ITEMS = ("documents", "embeddings", "metadatas", "distances", "uris", "data")
_EMBEDDING_DTYPES = (np.float16, np.float32, np.float64, np.int32, np.int64)


def context(name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Appends `` in <name>.`` to the message of any error the wrapped function raises."""

    def decorator(func: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            try:
                return func(*args, **kwargs)
            except Exception as e:
                if getattr(e, "_backend", False):  # chromadb raises these past its validation
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


def embeddings_matrix(target: Any) -> Optional[np.ndarray]:
    """chromadb's accepted embedding forms as one ``(n, dim)`` C-contiguous float32 array."""
    if target is None:
        return None
    if len(target) == 0:
        raise ValueError(f"Expected Embeddings to be non-empty list or numpy array, got {target}")
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
            for i, row in enumerate(target):
                if not isinstance(row, np.ndarray):
                    raise ValueError(
                        "Expected each embedding in the embeddings to be a numpy array, got "
                        f"{list(set(type(e).__name__ for e in target))}"
                    )
                if row.ndim == 0:
                    raise ValueError(f"Expected a 1-dimensional array, got a 0-dimensional array {row}")
                if row.size == 0:
                    raise ValueError(_EMPTY_ROW.format(i))
                _check_dtype(row)
            return _stack(target)
        if isinstance(first, list):
            if len(first) and isinstance(first[0], (int, float)) and not isinstance(first[0], bool):
                for i, row in enumerate(target):
                    if isinstance(row, list) and len(row) == 0:
                        raise ValueError(_EMPTY_ROW.format(i))
                return _stack(target)
    raise ValueError(
        "Expected embeddings to be a list of floats or ints, a list of lists, a numpy array, or "
        f"a list of numpy arrays, got {target}"
    )


_EMPTY_ROW = (
    "Expected each embedding in the embeddings to be a 1-dimensional numpy array with at least "
    "1 int/float value. Got a 1-dimensional numpy array with no values at pos {}"
)


def _check_dtype(arr: np.ndarray) -> None:
    if arr.dtype not in _EMBEDDING_DTYPES:
        raise ValueError(
            "Expected each value in the embedding to be a int or float, got an embedding with "
            f"{arr.dtype} - {arr}"
        )
    if arr.size == 0:
        raise ValueError(_EMPTY_ROW.format(0))


def _contiguous(arr: np.ndarray) -> np.ndarray:
    # No copy when `arr` already is C-contiguous float32 (the fast path the tests check).
    return np.ascontiguousarray(arr, dtype=np.float32)


def _stack(rows: Sequence[Any]) -> np.ndarray:
    lengths = {len(r) for r in rows}
    if len(lengths) > 1:
        # chromadb's backend refuses ragged input, with this message and class.
        err = InvalidArgumentError("Inconsistent dimensions in provided embeddings")
        err._backend = True  # type: ignore[attr-defined]
        raise err
    return np.array(rows, dtype=np.float32)


def record_set_lengths(fields: Dict[str, Any]) -> None:
    """chromadb's length-consistency rule over the given fields (in chromadb's key order)."""
    lengths = [len(v) for v in fields.values() if v is not None]
    if not lengths:
        raise ValueError(f"At least one of one of {', '.join(fields.keys())} must be provided")
    zero = [k for k, v in fields.items() if v is not None and len(v) == 0]
    if zero:
        raise ValueError(f"Non-empty lists are required for {zero}")
    if len(set(lengths)) > 1:
        desc = ", ".join(f"{k}: {len(v)}" for k, v in fields.items() if v is not None)
        raise ValueError(f"Unequal lengths for fields: {desc}")


def ids(ids: Any) -> List[str]:
    if not isinstance(ids, list):
        raise ValueError(f"Expected IDs to be a list, got {type(ids).__name__} as IDs")
    if len(ids) == 0:
        raise ValueError(f"Expected IDs to be a non-empty list, got {len(ids)} IDs")
    seen = set()
    dups = set()
    for id_ in ids:
        if not isinstance(id_, str):
            raise ValueError(f"Expected ID to be a str, got {id_}")
        if id_ in seen:
            dups.add(id_)
        else:
            seen.add(id_)
    if dups:
        if len(dups) < 10:
            message = f"Expected IDs to be unique, found duplicates of: {', '.join(dups)}"
        else:
            examples = list(dups)[:11]
            message = (
                f"Expected IDs to be unique, found {len(dups)} duplicated IDs: "
                f"{', '.join(examples[:5])}, ..., {', '.join(examples[-5:])}"
            )
        raise DuplicateIDError(message)
    return ids


def _list_value(key: str, value: list) -> None:
    if len(value) == 0:
        raise ValueError(f"Expected metadata list value for key '{key}' to be non-empty")
    first = bool if isinstance(value[0], bool) else type(value[0])
    for item in value:
        t = bool if isinstance(item, bool) else type(item)
        if t is not first or t not in (str, int, float, bool):
            raise ValueError(
                f"Expected metadata list value for key '{key}' to contain only str, int, float, "
                f"or bool and all elements must be the same type, got {value}"
            )


def metadata(md: Any) -> None:
    if not isinstance(md, dict) and md is not None:
        raise ValueError(f"Expected metadata to be a dict or None, got {type(md).__name__} as metadata")
    if md is None:
        return
    if len(md) == 0:
        raise ValueError(f"Expected metadata to be a non-empty dict, got {len(md)} metadata attributes")
    for key, value in md.items():
        if key == "chroma:document":
            raise ValueError("Expected metadata to not contain the reserved key chroma:document")
        if not isinstance(key, str):
            raise TypeError(f"Expected metadata key to be a str, got {key} which is a {type(key).__name__}")
        if isinstance(value, list):
            _list_value(key, value)
        elif not isinstance(value, (str, int, float, bool, type(None))):
            raise ValueError(
                "Expected metadata value to be a str, int, float, bool, SparseVector, list, or "
                f"None, got {value} which is a {type(value).__name__}"
            )


def metadatas(mds: Any) -> None:
    if not isinstance(mds, list):
        raise ValueError(f"Expected metadatas to be a list, got {mds}")
    for md in mds:
        metadata(md)


def documents(docs: Any, nullable: bool) -> None:
    if not isinstance(docs, list):
        raise ValueError(f"Expected documents to be a list, got {type(docs).__name__}")
    if len(docs) == 0:
        raise ValueError(f"Expected documents to be a non-empty list, got {len(docs)} documents")
    for d in docs:
        if d is None and nullable:
            continue
        if not isinstance(d, str):
            raise ValueError(f"Expected document to be a str, got {d}")


def include(inc: Any, disallowed: Optional[List[str]] = None) -> None:
    if not isinstance(inc, list):
        raise ValueError(f"Expected include to be a list, got {inc}")
    for item in inc:
        if not isinstance(item, str):
            raise ValueError(f"Expected include item to be a str, got {item}")
        if item not in INCLUDE_ITEMS:
            raise ValueError(f"Expected include item to be one of {', '.join(INCLUDE_ITEMS)}, got {item}")
        if disallowed is not None and item in disallowed:
            raise ValueError(f"Include item cannot be one of {', '.join(disallowed)}, got {item}")


def n_results(n: Any) -> int:
    if not isinstance(n, int):
        raise ValueError(f"Expected requested number of results to be a int, got {n}")
    if n <= 0:
        raise TypeError(f"Number of requested results {n}, cannot be negative, or zero.")
    return n


def filters(where: Any, where_document: Any) -> None:
    if where is not None or where_document is not None:
        _native.validate_filter(where, where_document)
