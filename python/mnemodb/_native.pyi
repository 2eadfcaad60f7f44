"""Type stub of the private native module (checked by ``python -m mypy.stubtest mnemodb._native``)."""

from typing import Any, Dict, List, Optional, Tuple, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "Database",
    "Collection",
    "Job",
    "Embedder",
    "Pending",
    "Mailbox",
    "ToolExecutor",
    "Ticket",
    "buffer_address",
    "cli_main",
    "check_lengths",
    "check_records",
    "check_texts",
    "embedding_rows",
    "import_chroma",
    "lg_copy_thread",
    "lg_delete_for_runs",
    "lg_delete_thread",
    "lg_get",
    "lg_list",
    "lg_prune",
    "lg_put",
    "lg_put_writes",
    "lg_store_get",
    "lg_store_namespaces",
    "lg_store_refresh",
    "lg_store_search",
    "lg_store_sweep",
    "lg_store_write",
    "encode",
    "decode",
    "__version__",
]

__version__: str

# `(event loop, mailbox, done)`: with it a call runs on the async worker pool and returns a
# `Pending`; `done(exception, value)` then runs on the loop (see python/src/pool.rs).
_Deliver = Tuple[Any, Mailbox, Any]

def cli_main(argv: List[str]) -> int: ...
def buffer_address(arr: npt.NDArray[np.float32]) -> int: ...
def check_records(
    op: str,
    ids: Any,
    documents: Optional[Any] = None,
    uris: Optional[List[Optional[str]]] = None,
    metadatas: Optional[Any] = None,
) -> None: ...
def embedding_rows(lengths: List[int], op: str) -> int: ...
def check_lengths(fields: List[Tuple[str, Optional[int]]], op: str) -> None: ...
def check_texts(texts: Any, nullable: bool, op: str) -> None: ...
def import_chroma(src: str, dest: Optional[str] = None) -> Dict[str, Any]: ...
def encode(obj: object, format: str = "msgpack") -> bytes: ...
def decode(data: bytes) -> Any: ...

@final
class Database:
    @staticmethod
    def open(path: str, *, deliver: Optional[_Deliver] = None) -> Database: ...
    @staticmethod
    def in_memory(*, deliver: Optional[_Deliver] = None) -> Database: ...
    @property
    def path(self) -> Optional[str]: ...
    def create_collection(
        self,
        name: str,
        configuration: Optional[Any] = None,
        metadata: Optional[Dict[str, Any]] = None,
        get_or_create: bool = False,
        *,
        deliver: Optional[_Deliver] = None,
    ) -> Collection: ...
    def get_collection(self, name: str, *, deliver: Optional[_Deliver] = None) -> Collection: ...
    def get_collection_by_id(self, id: str, *, deliver: Optional[_Deliver] = None) -> Collection: ...
    def list_collections(self, *, deliver: Optional[_Deliver] = None) -> List[Dict[str, Any]]: ...
    def delete_collection(self, name: str, *, deliver: Optional[_Deliver] = None) -> None: ...
    def jobs(self) -> List[Dict[str, Any]]: ...
    def job(self, id: int) -> Optional[Job]: ...
    def close(self, timeout: float = 5.0) -> bool: ...
    def export(self, name: str, path: str, format: str = "json") -> int: ...
    def import_(self, path: str, name: Optional[str] = None) -> Tuple[str, int]: ...
    def backup(self, dest: str) -> Dict[str, int]: ...

@final
class Job:
    def info(self) -> Dict[str, Any]: ...
    def cancel(self) -> None: ...
    def wait(self, timeout: Optional[float] = None) -> str: ...

@final
class Ticket:
    @property
    def id(self) -> int: ...
    @property
    def timeout(self) -> Optional[float]: ...

@final
class ToolExecutor:
    def __new__(
        cls,
        db: Database,
        *,
        timeout: Optional[float] = None,
        max_depth: int = 8,
        max_calls_per_run: Optional[int] = None,
        max_repeats: Optional[int] = ...,
        cache: bool = True,
        cache_ttl: Optional[float] = None,
        ledger_ttl: Optional[float] = ...,
    ) -> ToolExecutor: ...
    def set_policy(
        self,
        tool: str,
        *,
        timeout: Optional[float],
        max_depth: int,
        max_calls_per_run: Optional[int],
        max_repeats: Optional[int],
        cache: bool,
        cache_ttl: Optional[float],
    ) -> None: ...
    def policy(self, tool: str) -> Dict[str, Any]: ...
    def begin(
        self, tool: str, args: str, run_id: str, depth: int = 0, parent_id: Optional[int] = None
    ) -> Tuple[int, Optional[str], Optional[Ticket]]: ...
    def finish(self, ticket: Ticket, status: str, payload: Optional[str] = None) -> None: ...
    def flush(self) -> None: ...
    def abandoned(self, id: int, status: str, payload: Optional[str] = None) -> bool: ...
    def cache_get(self, tool: str, args: str) -> Optional[str]: ...
    def cache_put(self, tool: str, args: str, result: str, ttl: Optional[float] = None) -> None: ...
    def invalidate(self, tool: str, args: Optional[str] = None) -> int: ...
    def calls(
        self,
        run_id: Optional[str] = None,
        tool: Optional[str] = None,
        status: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> List[Dict[str, Any]]: ...
    def summary(self) -> List[Dict[str, Any]]: ...

@final
class Collection:
    @property
    def id(self) -> str: ...
    def info(self, *, deliver: Optional[_Deliver] = None) -> Dict[str, Any]: ...
    def count(
        self, where: Optional[Any] = None, where_document: Optional[Any] = None, *, deliver: Optional[_Deliver] = None
    ) -> int: ...
    def wait_for_index(self) -> None: ...
    def compact(self) -> Job: ...
    def add(
        self,
        ids: Any,
        embeddings: npt.NDArray[np.float32],
        documents: Optional[Any] = None,
        uris: Optional[List[Optional[str]]] = None,
        metadatas: Optional[Any] = None,
        *,
        ttl: Optional[float] = None,
        expires_at: Optional[float] = None,
        deliver: Optional[_Deliver] = None,
    ) -> None: ...
    def update(
        self,
        ids: Any,
        embeddings: Optional[npt.NDArray[np.float32]] = None,
        documents: Optional[Any] = None,
        uris: Optional[List[Optional[str]]] = None,
        metadatas: Optional[Any] = None,
        upsert: bool = False,
        *,
        synced: bool = True,
        ttl: Optional[float] = None,
        expires_at: Optional[float] = None,
        deliver: Optional[_Deliver] = None,
    ) -> None: ...
    def delete(
        self,
        ids: Optional[Any] = None,
        where: Optional[Any] = None,
        where_document: Optional[Any] = None,
        limit: Optional[Any] = None,
        *,
        deliver: Optional[_Deliver] = None,
    ) -> int: ...
    def get(
        self,
        ids: Optional[Any] = None,
        where: Optional[Any] = None,
        where_document: Optional[Any] = None,
        limit: Optional[int] = None,
        offset: int = 0,
        include: Optional[Any] = None,
        *,
        deliver: Optional[_Deliver] = None,
    ) -> Dict[str, Any]: ...
    def query(
        self,
        embeddings: npt.NDArray[np.float32],
        n_results: Any,
        ids: Optional[Any] = None,
        where: Optional[Any] = None,
        where_document: Optional[Any] = None,
        include: Optional[Any] = None,
        *,
        deliver: Optional[_Deliver] = None,
    ) -> Dict[str, Any]: ...
    def explain(
        self,
        embeddings: npt.NDArray[np.float32],
        n_results: Any,
        ids: Optional[Any] = None,
        where: Optional[Any] = None,
        where_document: Optional[Any] = None,
    ) -> Dict[str, Any]: ...
    def modify(
        self, name: Optional[str] = None, metadata: Optional[Dict[str, Any]] = None, *, deliver: Optional[_Deliver] = None
    ) -> None: ...
    def modify_configuration(self, configuration: Any, *, deliver: Optional[_Deliver] = None) -> Any: ...
    def compact_blocking(self) -> int: ...

@final
class Embedder:
    def __new__(cls, directory: str, threads: int = 2) -> "Embedder": ...
    def embed(self, texts: List[str], progress: Optional[Any] = None) -> npt.NDArray[np.float32]: ...
    def tokenize(self, text: str) -> List[int]: ...
    @property
    def directory(self) -> str: ...

@final
class Pending:
    def cancel(self) -> None: ...
    def cancelled(self) -> bool: ...
    def __call__(self, future: Any) -> None: ...

@final
class Mailbox:
    def __init__(self) -> None: ...
    def wake_fd(self) -> Optional[int]: ...
    def arm(self) -> None: ...
    def drain(self) -> None: ...

# LangGraph's tables (python/src/langgraph.rs), for mnemodb.integrations.langgraph.
_Typed = Tuple[str, bytes]
_LgWrite = Tuple[str, int, str, str, str, bytes]
_LgBlob = Tuple[str, str, str, bytes]
_LgTuple = Tuple[str, str, str, Optional[str], _Typed, _Typed, List[_LgWrite], List[_LgBlob]]
_LgItem = Tuple[Tuple[str, ...], str, str, int, int, Optional[int]]

def lg_put(
    db: Database,
    thread_id: str,
    checkpoint_ns: str,
    checkpoint_id: str,
    parent_id: Optional[str],
    run_id: Optional[str],
    checkpoint: Tuple[str, bytes],
    metadata: Tuple[str, bytes],
    channels: List[Tuple[str, str]],
    blobs: List[Tuple[str, str, str, bytes]],
    *,
    deferred: bool = False,
    deliver: Optional[_Deliver] = None,
) -> None: ...
def lg_put_writes(
    db: Database,
    thread_id: str,
    checkpoint_ns: str,
    checkpoint_id: str,
    writes: List[Tuple[str, int, str, str, str, bytes]],
    *,
    deferred: bool = False,
    deliver: Optional[_Deliver] = None,
) -> None: ...
def lg_get(
    db: Database,
    thread_id: str,
    checkpoint_ns: str,
    checkpoint_id: Optional[str] = None,
    *,
    deliver: Optional[_Deliver] = None,
) -> Optional[_LgTuple]: ...
def lg_list(
    db: Database,
    thread_id: Optional[str] = None,
    checkpoint_ns: Optional[str] = None,
    checkpoint_id: Optional[str] = None,
    before: Optional[str] = None,
    limit: Optional[int] = None,
    *,
    deliver: Optional[_Deliver] = None,
) -> List[_LgTuple]: ...
def lg_delete_thread(db: Database, thread_id: str, *, deliver: Optional[_Deliver] = None) -> None: ...
def lg_copy_thread(db: Database, source: str, target: str, *, deliver: Optional[_Deliver] = None) -> None: ...
def lg_prune(
    db: Database, thread_ids: List[str], keep_latest: bool, *, deliver: Optional[_Deliver] = None
) -> None: ...
def lg_delete_for_runs(db: Database, run_ids: List[str], *, deliver: Optional[_Deliver] = None) -> None: ...
def lg_store_write(
    db: Database,
    writes: List[Tuple[List[str], str, Optional[str], Optional[float]]],
    *,
    deliver: Optional[_Deliver] = None,
) -> None: ...
def lg_store_get(
    db: Database, keys: List[Tuple[List[str], str]], *, deliver: Optional[_Deliver] = None
) -> List[Optional[_LgItem]]: ...
def lg_store_search(db: Database, prefix: List[str], *, deliver: Optional[_Deliver] = None) -> List[_LgItem]: ...
def lg_store_refresh(
    db: Database, keys: List[Tuple[List[str], str]], *, deliver: Optional[_Deliver] = None
) -> None: ...
def lg_store_namespaces(db: Database, *, deliver: Optional[_Deliver] = None) -> List[Tuple[str, ...]]: ...
def lg_store_sweep(db: Database, *, deliver: Optional[_Deliver] = None) -> List[Tuple[Tuple[str, ...], str]]: ...
