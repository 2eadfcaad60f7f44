"""Type stub of the private native module (checked by ``python -m mypy.stubtest mnemodb._native``)."""

from typing import Any, Dict, List, Optional, Tuple, final

import numpy as np
import numpy.typing as npt

__all__ = ["Database", "Collection", "Pending", "Mailbox", "buffer_address", "validate_filter", "__version__"]

__version__: str

# `(event loop, mailbox, done)`: with it a call runs on the async worker pool and returns a
# `Pending`; `done(exception, value)` then runs on the loop (see python/src/pool.rs).
_Deliver = Tuple[Any, Mailbox, Any]

def buffer_address(arr: npt.NDArray[np.float32]) -> int: ...
def validate_filter(where: Optional[Any] = None, where_document: Optional[Any] = None) -> None: ...

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

@final
class Collection:
    @property
    def id(self) -> str: ...
    def info(self, *, deliver: Optional[_Deliver] = None) -> Dict[str, Any]: ...
    def count(
        self, where: Optional[Any] = None, where_document: Optional[Any] = None, *, deliver: Optional[_Deliver] = None
    ) -> int: ...
    def wait_for_index(self) -> None: ...
    def add(
        self,
        ids: List[str],
        embeddings: npt.NDArray[np.float32],
        documents: Optional[List[Optional[str]]] = None,
        uris: Optional[List[Optional[str]]] = None,
        metadatas: Optional[List[Optional[Dict[str, Any]]]] = None,
        *,
        deliver: Optional[_Deliver] = None,
    ) -> None: ...
    def update(
        self,
        ids: List[str],
        embeddings: Optional[npt.NDArray[np.float32]] = None,
        documents: Optional[List[Optional[str]]] = None,
        uris: Optional[List[Optional[str]]] = None,
        metadatas: Optional[List[Optional[Dict[str, Any]]]] = None,
        upsert: bool = False,
        *,
        synced: bool = True,
        deliver: Optional[_Deliver] = None,
    ) -> None: ...
    def delete(
        self,
        ids: Optional[List[str]] = None,
        where: Optional[Any] = None,
        where_document: Optional[Any] = None,
        limit: Optional[int] = None,
        *,
        deliver: Optional[_Deliver] = None,
    ) -> int: ...
    def get(
        self,
        ids: Optional[List[str]] = None,
        where: Optional[Any] = None,
        where_document: Optional[Any] = None,
        limit: Optional[int] = None,
        offset: int = 0,
        include: List[str] = ...,
        *,
        deliver: Optional[_Deliver] = None,
    ) -> Dict[str, Any]: ...
    def query(
        self,
        embeddings: npt.NDArray[np.float32],
        n_results: int,
        ids: Optional[List[str]] = None,
        where: Optional[Any] = None,
        where_document: Optional[Any] = None,
        include: Optional[List[str]] = None,
        *,
        deliver: Optional[_Deliver] = None,
    ) -> Dict[str, Any]: ...
    def explain(
        self,
        embeddings: npt.NDArray[np.float32],
        n_results: int,
        ids: Optional[List[str]] = None,
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
