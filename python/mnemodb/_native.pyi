"""Type stub of the private native module (checked by ``python -m mypy.stubtest mnemodb._native``)."""

from typing import Any, Dict, List, Optional, Tuple, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "Database",
    "Collection",
    "Job",
    "Pending",
    "Mailbox",
    "buffer_address",
    "cli_main",
    "check_lengths",
    "check_records",
    "check_texts",
    "embedding_rows",
    "import_chroma",
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
class Collection:
    @property
    def id(self) -> str: ...
    def info(self, *, deliver: Optional[_Deliver] = None) -> Dict[str, Any]: ...
    def count(
        self, where: Optional[Any] = None, where_document: Optional[Any] = None, *, deliver: Optional[_Deliver] = None
    ) -> int: ...
    def wait_for_index(self) -> None: ...
    def start_compaction(self) -> Job: ...
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
    def compact(self) -> int: ...

@final
class Pending:
    def cancel(self) -> None: ...
    def cancelled(self) -> bool: ...
    def __call__(self, future: Any) -> None: ...

@final
class Mailbox:
    def __init__(self) -> None: ...
    def drain(self) -> None: ...
