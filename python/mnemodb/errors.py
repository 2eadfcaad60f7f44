"""Exception classes with chromadb's names (``chromadb.errors``), raised by mnemodb.

Every class here is also a subclass of chromadb's class of the same name as soon as
``chromadb.errors`` has been imported in the process, so ``except chromadb.errors.NotFoundError``
keeps working after switching to mnemodb. mnemodb never imports chromadb itself (it takes
over a second): the classes are re-based onto chromadb's lazily, when an error is raised or a
client is made after chromadb was imported (``_adopt_chroma``).

Engine errors are mapped to these classes in one place, ``python/src/error.rs``.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing is not imported at run time: `import mnemodb` stays cheap
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Type

__all__ = [
    "ChromaError",
    "InvalidDimensionException",
    "IDAlreadyExistsError",
    "ChromaAuthError",
    "DuplicateIDError",
    "InvalidArgumentError",
    "InvalidUUIDError",
    "InvalidHTTPVersion",
    "AuthorizationError",
    "NotFoundError",
    "UniqueConstraintError",
    "BatchSizeExceededError",
    "VersionMismatchError",
    "InternalError",
    "RateLimitError",
    "QuotaError",
    "ChromaDirectoryError",
    "ToolError",
    "ToolRefusedError",
    "ToolTimeoutError",
]


class ChromaError(Exception):
    """Base class of mnemodb's errors (chromadb's ``ChromaError``)."""

    trace_id: Optional[str] = None

    def __init__(self, *args: object) -> None:
        _adopt_chroma()
        super().__init__(*args)

    def code(self) -> int:
        """The HTTP status chromadb gives this error."""
        return 400

    def message(self) -> str:
        return ", ".join(str(a) for a in self.args)

    @classmethod
    def name(cls) -> str:
        return cls.__name__


class InvalidDimensionException(ChromaError):
    @classmethod
    def name(cls) -> str:
        return "InvalidDimension"


class IDAlreadyExistsError(ChromaError):
    def code(self) -> int:
        return 409

    @classmethod
    def name(cls) -> str:
        return "IDAlreadyExists"


class ChromaAuthError(ChromaError):
    def code(self) -> int:
        return 403

    @classmethod
    def name(cls) -> str:
        return "AuthError"


class DuplicateIDError(ChromaError):
    @classmethod
    def name(cls) -> str:
        return "DuplicateID"


class InvalidArgumentError(ChromaError):
    @classmethod
    def name(cls) -> str:
        return "InvalidArgument"


class InvalidUUIDError(ChromaError):
    @classmethod
    def name(cls) -> str:
        return "InvalidUUID"


class InvalidHTTPVersion(ChromaError):
    pass


class AuthorizationError(ChromaError):
    def code(self) -> int:
        return 401


class NotFoundError(ChromaError):
    def code(self) -> int:
        return 404


class UniqueConstraintError(ChromaError):
    def code(self) -> int:
        return 409


class BatchSizeExceededError(ChromaError):
    def code(self) -> int:
        return 413


class VersionMismatchError(ChromaError):
    def code(self) -> int:
        return 500


class InternalError(ChromaError):
    def code(self) -> int:
        return 500


class RateLimitError(ChromaError):
    def code(self) -> int:
        return 429


class QuotaError(ChromaError):
    pass


class ChromaDirectoryError(ChromaError):
    """mnemodb's own: the path is a Chroma directory (``chroma.sqlite3``) not yet imported.
    Opened as it is it would show none of its collections, so it is refused; the message
    names the command that imports it (``mnemodb import-chroma PATH`` or
    ``mnemodb.migrate_chroma(PATH)``)."""

    def code(self) -> int:
        return 400


class ToolError(ChromaError):
    """mnemodb's own: a tool call run by ``mnemodb.tools`` failed or was stopped."""

    def code(self) -> int:
        return 500


class ToolRefusedError(ToolError):
    """A tool call refused by its policy without being called (repeated arguments, too many
    calls in the run, nested too deep); the message says which limit and how to change it."""

    def code(self) -> int:
        return 429


class ToolTimeoutError(ToolError, TimeoutError):
    """A tool call that did not finish within its timeout (also a ``TimeoutError``)."""

    def code(self) -> int:
        return 504


_LEAVES: List[Type[ChromaError]] = [
    InvalidDimensionException,
    IDAlreadyExistsError,
    ChromaAuthError,
    DuplicateIDError,
    InvalidArgumentError,
    InvalidUUIDError,
    InvalidHTTPVersion,
    AuthorizationError,
    NotFoundError,
    UniqueConstraintError,
    BatchSizeExceededError,
    VersionMismatchError,
    InternalError,
    RateLimitError,
    QuotaError,
    ChromaDirectoryError,
]

_adopted = False


def _adopt_chroma() -> None:
    """Makes every class here a subclass of chromadb's namesake, if chromadb is imported.

    Cheap when chromadb is not imported (one dict lookup) and a no-op after the first success.
    Class identities do not change: ``mnemodb.errors.NotFoundError`` stays the same object.
    """
    global _adopted
    if _adopted:
        return
    theirs = sys.modules.get("chromadb.errors")
    if theirs is None:
        return
    for cls in _LEAVES:
        base = getattr(theirs, cls.__name__, None)
        if isinstance(base, type) and issubclass(base, BaseException) and base not in cls.__mro__:
            try:
                cls.__bases__ = (base, ChromaError)
            except TypeError:  # an unexpected layout in some chromadb version: keep ours
                pass
    _adopted = True


def _make(name: str, message: str) -> ChromaError:
    """The exception ``name`` (a class of this module) with ``message``; used by the native
    module, after adopting chromadb's classes if chromadb is imported."""
    _adopt_chroma()
    cls: Type[ChromaError] = _BY_NAME.get(name, InternalError)
    return cls(message)


_BY_NAME: Dict[str, Type[ChromaError]] = {c.__name__: c for c in _LEAVES}
_BY_NAME.update({c.__name__: c for c in (ToolError, ToolRefusedError, ToolTimeoutError)})
