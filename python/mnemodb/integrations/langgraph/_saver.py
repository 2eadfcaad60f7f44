"""``MnemoSaver``: LangGraph's ``BaseCheckpointSaver`` on mnemodb's sidecar tables.

A checkpoint is stored without its channel values; each value is a blob keyed by
``(thread, namespace, channel, version)``, written when its version changes, so a step that
changes one channel stores one value. Serialized values are LangGraph's serializer's
``(tag, bytes)``, stored and returned untouched. The engine does the storage
(``python/src/langgraph.rs``, ``engine/src/langgraph/``); this class converts.
"""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Optional, Union

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)

from mnemodb import _native
from mnemodb.integrations.langgraph._common import call_async, native_database

# Tag of a channel that a step emptied: its version changed, it holds no value.
_EMPTY = "empty"


def _version_key(version: Any) -> str:
    """A channel version as a blob key that keeps its type: ``1`` and ``"1"`` differ."""
    if isinstance(version, bool) or not isinstance(version, (int, float, str)):
        raise TypeError(f"channel versions are int, float or str, got {type(version).__name__}")
    if isinstance(version, int):
        return f"i:{version}"
    if isinstance(version, float):
        return f"f:{version!r}"
    return f"s:{version}"


class MnemoSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer storing into a mnemodb database.

    ``MnemoSaver(mnemodb.PersistentClient("./memory"))`` or ``MnemoSaver("./memory")``; pass
    ``serde=`` for another serializer (an encrypted one, say). Several processes may use one
    directory at once: each write is one transaction under the database's write lock.

    ``durability="synced"`` (the default) returns from ``put`` / ``put_writes`` once the write
    is on disk. ``"deferred"`` returns once it is committed and visible to every process, and
    syncs it with a later write: a process crash loses nothing, a power loss soon after may
    drop the latest checkpoints whole (the graph then resumes from an earlier step), and a
    step costs no disk sync.
    """

    def __init__(
        self,
        target: Union[str, "os.PathLike[str]", Any],
        *,
        serde: Optional[SerializerProtocol] = None,
        durability: str = "synced",
    ) -> None:
        super().__init__(serde=serde)
        if durability not in ("synced", "deferred"):
            raise ValueError(f"durability must be 'synced' or 'deferred', got {durability!r}")
        self._deferred = durability == "deferred"
        self._db, self._owner = native_database(target)

    # lifecycle
    def close(self) -> None:
        """Closes the client this saver opened from a path (a client passed in stays open)."""
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.close()

    def __enter__(self) -> "MnemoSaver":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> "MnemoSaver":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    # conversions
    def _put_args(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> tuple[tuple[Any, ...], RunnableConfig]:
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        checkpoint_ns = conf.get("checkpoint_ns", "") or ""
        stored: dict[str, Any] = dict(checkpoint)
        values: dict[str, Any] = stored.pop("channel_values", None) or {}
        blobs = [
            (channel, _version_key(version), *(self.serde.dumps_typed(values[channel]) if channel in values else (_EMPTY, b"")))
            for channel, version in new_versions.items()
        ]
        channels = [(channel, _version_key(v)) for channel, v in checkpoint["channel_versions"].items()]
        meta = get_checkpoint_metadata(config, metadata)
        run_id = meta.get("run_id")
        args = (
            self._db,
            thread_id,
            checkpoint_ns,
            checkpoint["id"],
            conf.get("checkpoint_id"),
            None if run_id is None else str(run_id),
            self.serde.dumps_typed(stored),
            self.serde.dumps_typed(meta),
            channels,
            blobs,
        )
        out: RunnableConfig = {
            "configurable": {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns, "checkpoint_id": checkpoint["id"]}
        }
        return args, out

    def _writes_args(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str
    ) -> tuple[Any, ...]:
        conf = config["configurable"]
        rows = [
            (task_id, WRITES_IDX_MAP.get(channel, i), task_path, channel, *self.serde.dumps_typed(value))
            for i, (channel, value) in enumerate(writes)
        ]
        return (self._db, str(conf["thread_id"]), conf.get("checkpoint_ns", "") or "", conf["checkpoint_id"], rows)

    @staticmethod
    def _get_args(config: RunnableConfig) -> tuple[Any, ...]:
        conf = config["configurable"]
        return (str(conf["thread_id"]), conf.get("checkpoint_ns", "") or "", get_checkpoint_id(config))

    def _tuple(self, row: Any, config: Optional[RunnableConfig] = None) -> CheckpointTuple:
        thread_id, checkpoint_ns, checkpoint_id, parent_id, cp, meta, writes, blobs = row
        checkpoint = self.serde.loads_typed(cp)
        checkpoint["channel_values"] = {
            channel: self.serde.loads_typed((tag, data)) for channel, _, tag, data in blobs if tag != _EMPTY
        }
        ordered = sorted(writes, key=lambda w: writes_sort_key(w[2], w[0], w[1]))
        return CheckpointTuple(
            config=config
            or {"configurable": {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns, "checkpoint_id": checkpoint_id}},
            checkpoint=checkpoint,
            metadata=self.serde.loads_typed(meta),
            parent_config=(
                {"configurable": {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns, "checkpoint_id": parent_id}}
                if parent_id
                else None
            ),
            pending_writes=[(task_id, channel, self.serde.loads_typed((tag, data))) for task_id, _, _, channel, tag, data in ordered],
        )

    @staticmethod
    def _list_args(
        config: Optional[RunnableConfig], filter: Optional[dict[str, Any]], before: Optional[RunnableConfig], limit: Optional[int]
    ) -> tuple[Any, ...]:
        conf = (config or {}).get("configurable") or {}
        thread_id = conf.get("thread_id")
        return (
            None if thread_id is None else str(thread_id),
            conf.get("checkpoint_ns"),
            get_checkpoint_id(config) if config else None,
            get_checkpoint_id(before) if before else None,
            # With a filter the limit counts matches, which only Python can tell.
            None if filter or limit is None else max(limit, 0),
        )

    def _matching(
        self, rows: list[Any], filter: Optional[dict[str, Any]], limit: Optional[int]
    ) -> Iterator[CheckpointTuple]:
        left = limit
        for row in rows:
            if left is not None and left <= 0:
                return
            item = self._tuple(row)
            if filter and not all(value == item.metadata.get(key) for key, value in filter.items()):
                continue
            if left is not None:
                left -= 1
            yield item

    @staticmethod
    def _prune_args(strategy: str) -> bool:
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(f"prune strategy must be 'keep_latest' or 'delete', got {strategy!r}")
        return strategy == "keep_latest"

    # sync
    def get_tuple(self, config: RunnableConfig) -> Optional[CheckpointTuple]:
        thread_id, ns, checkpoint_id = self._get_args(config)
        row = _native.lg_get(self._db, thread_id, ns, checkpoint_id)
        return None if row is None else self._tuple(row, config if checkpoint_id else None)

    def list(
        self,
        config: Optional[RunnableConfig],
        *,
        filter: Optional[dict[str, Any]] = None,
        before: Optional[RunnableConfig] = None,
        limit: Optional[int] = None,
    ) -> Iterator[CheckpointTuple]:
        rows = _native.lg_list(self._db, *self._list_args(config, filter, before, limit))
        yield from self._matching(rows, filter, limit)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        args, out = self._put_args(config, checkpoint, metadata, new_versions)
        _native.lg_put(*args, deferred=self._deferred)
        return out

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        _native.lg_put_writes(*self._writes_args(config, writes, task_id, task_path), deferred=self._deferred)

    def delete_thread(self, thread_id: str) -> None:
        _native.lg_delete_thread(self._db, str(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        _native.lg_delete_for_runs(self._db, [str(r) for r in run_ids])

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        _native.lg_copy_thread(self._db, str(source_thread_id), str(target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        keep = self._prune_args(strategy)
        _native.lg_prune(self._db, [str(t) for t in thread_ids], keep)

    # async: the same calls on the native worker pool
    async def aget_tuple(self, config: RunnableConfig) -> Optional[CheckpointTuple]:
        thread_id, ns, checkpoint_id = self._get_args(config)
        row = await call_async(_native.lg_get, self._db, thread_id, ns, checkpoint_id)
        return None if row is None else self._tuple(row, config if checkpoint_id else None)

    async def alist(
        self,
        config: Optional[RunnableConfig],
        *,
        filter: Optional[dict[str, Any]] = None,
        before: Optional[RunnableConfig] = None,
        limit: Optional[int] = None,
    ) -> AsyncIterator[CheckpointTuple]:
        rows = await call_async(_native.lg_list, self._db, *self._list_args(config, filter, before, limit))
        for item in self._matching(rows, filter, limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        args, out = self._put_args(config, checkpoint, metadata, new_versions)
        await call_async(_native.lg_put, *args, deferred=self._deferred)
        return out

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await call_async(_native.lg_put_writes, *self._writes_args(config, writes, task_id, task_path), deferred=self._deferred)

    async def adelete_thread(self, thread_id: str) -> None:
        await call_async(_native.lg_delete_thread, self._db, str(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await call_async(_native.lg_delete_for_runs, self._db, [str(r) for r in run_ids])

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await call_async(_native.lg_copy_thread, self._db, str(source_thread_id), str(target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        keep = self._prune_args(strategy)
        await call_async(_native.lg_prune, self._db, [str(t) for t in thread_ids], keep)

    def get_next_version(self, current: Optional[str], channel: None) -> str:
        """``<counter, 32 digits>.<random>``: string order follows the counter, and two
        processes stepping the same counter still make different versions."""
        if current is None:
            step = 1
        elif isinstance(current, int):
            step = current + 1
        else:
            step = int(str(current).split(".", 1)[0]) + 1
        return "%032d.%016d" % (step, random.getrandbits(53))
