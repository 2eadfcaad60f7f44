"""Type stub of the private native module (checked by ``python -m mypy.stubtest mnemodb._native``)."""

from typing import Any, Dict, List, Optional, final

import numpy as np
import numpy.typing as npt

__all__ = ["Database", "Collection", "buffer_address", "validate_filter", "__version__"]

__version__: str

def buffer_address(arr: npt.NDArray[np.float32]) -> int: ...
def validate_filter(where: Optional[Any] = None, where_document: Optional[Any] = None) -> None: ...

@final
class Database:
    @staticmethod
    def open(path: str) -> Database: ...
    @staticmethod
    def in_memory() -> Database: ...
    @property
    def path(self) -> Optional[str]: ...
    def create_collection(
        self,
        name: str,
        configuration: Optional[Any] = None,
        metadata: Optional[Dict[str, Any]] = None,
        get_or_create: bool = False,
    ) -> Collection: ...
    def get_collection(self, name: str) -> Collection: ...
    def get_collection_by_id(self, id: str) -> Collection: ...
    def list_collections(self) -> List[Dict[str, Any]]: ...
    def delete_collection(self, name: str) -> None: ...
    def jobs(self) -> List[Dict[str, Any]]: ...
    def close(self, timeout: float = 5.0) -> bool: ...

@final
class Collection:
    @property
    def id(self) -> str: ...
    def info(self) -> Dict[str, Any]: ...
    def count(self, where: Optional[Any] = None, where_document: Optional[Any] = None) -> int: ...
    def wait_for_index(self) -> None: ...
    def add(
        self,
        ids: List[str],
        embeddings: npt.NDArray[np.float32],
        documents: Optional[List[Optional[str]]] = None,
        uris: Optional[List[Optional[str]]] = None,
        metadatas: Optional[List[Optional[Dict[str, Any]]]] = None,
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
    ) -> None: ...
    def delete(
        self,
        ids: Optional[List[str]] = None,
        where: Optional[Any] = None,
        where_document: Optional[Any] = None,
        limit: Optional[int] = None,
    ) -> int: ...
    def get(
        self,
        ids: Optional[List[str]] = None,
        where: Optional[Any] = None,
        where_document: Optional[Any] = None,
        limit: Optional[int] = None,
        offset: int = 0,
        include: List[str] = ...,
    ) -> Dict[str, Any]: ...
    def query(
        self,
        embeddings: npt.NDArray[np.float32],
        n_results: int,
        ids: Optional[List[str]] = None,
        where: Optional[Any] = None,
        where_document: Optional[Any] = None,
        include: Optional[List[str]] = None,
    ) -> Dict[str, Any]: ...
    def explain(
        self,
        embeddings: npt.NDArray[np.float32],
        n_results: int,
        ids: Optional[List[str]] = None,
        where: Optional[Any] = None,
        where_document: Optional[Any] = None,
    ) -> Dict[str, Any]: ...
    def modify(self, name: Optional[str] = None, metadata: Optional[Dict[str, Any]] = None) -> None: ...
    def modify_configuration(self, configuration: Any) -> Any: ...
    def compact(self) -> int: ...
