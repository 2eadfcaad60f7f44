"""`Collection.update_deferred` (mnemodb only): `update`'s checks and effect, with a commit
that is not synced before it returns. Durability itself (what a power loss undoes) cannot be
tested here; what can: the write is committed for every reader, survives a reopen, and leaves
the connection writing synced commits again."""

from __future__ import annotations

from typing import Any

import pytest

import mnemodb


def _client(tmp_path: Any) -> Any:
    return mnemodb.PersistentClient(path=str(tmp_path / "db"))


def test_a_deferred_update_is_committed_for_every_reader(tmp_path: Any) -> None:
    col = _client(tmp_path).create_collection("col")
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], metadatas=[{"k": 1}, {"k": 2}])
    col.update_deferred(ids=["a", "missing"], metadatas=[{"seen": "now"}, {"seen": "never"}])
    other = _client(tmp_path).get_collection("col")  # a second client: its own connections
    got = other.get(ids=["a", "b", "missing"], include=["metadatas"])
    assert got["ids"] == ["a", "b"]
    assert got["metadatas"] == [{"k": 1, "seen": "now"}, {"k": 2}]
    # A synced write after it still works, and both are there after a reopen.
    col.update(ids=["b"], metadatas=[{"k": 3}])
    del col, other
    again = _client(tmp_path).get_collection("col")
    assert again.get(include=["metadatas"])["metadatas"] == [{"k": 1, "seen": "now"}, {"k": 3}]


def test_a_deferred_update_checks_as_update_does(tmp_path: Any) -> None:
    col = _client(tmp_path).create_collection("col")
    col.add(ids=["a"], embeddings=[[1.0, 0.0]])
    with pytest.raises(ValueError) as deferred:
        col.update_deferred(ids=["a"], metadatas=[{"bad": {"nested": 1}}])
    with pytest.raises(ValueError) as synced:
        col.update(ids=["a"], metadatas=[{"bad": {"nested": 1}}])
    assert str(deferred.value) == str(synced.value)
    assert col.get(ids=["a"])["metadatas"] == [None]
