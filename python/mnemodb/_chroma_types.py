"""mnemodb's clients and collections pass chromadb's ``isinstance`` checks, when chromadb is
imported, without mnemodb ever importing chromadb.

Libraries written for chromadb check the objects they are given:
``isinstance(client, chromadb.api.client.Client)`` (mem0's config, a pydantic field, whose
``is-instance`` validator calls ``isinstance``), ``isinstance(client, chromadb.api.ClientAPI)``,
``isinstance(collection, chromadb.Collection)``. ``isinstance(obj, cls)`` is true when
``type(obj)`` is a subclass of ``cls`` or, failing that, when ``obj.__class__`` is: Python's
``type.__instancecheck__`` and ``abc.ABCMeta.__instancecheck__`` both read ``__class__``, the
protocol proxies (``unittest.mock``, wrapt's ``ObjectProxy``) rely on. So mnemodb's classes
define ``__class__`` as a property (:func:`presents_as`): while chromadb's class is not loaded it
is the object's own class; once it is, it is a class deriving from both, made once per pair.

Why this mechanism, and not the others:

- ``ABCMeta.register`` (virtual subclasses) fits ``ClientAPI`` and ``Client`` (ABCs) but not
  chromadb 1.5.9's ``Collection``, a plain class (metaclass ``type``); and it has to run when
  chromadb is imported, which takes an import hook (a ``sys.meta_path`` finder wrapping
  chromadb's loaders) installed by ``import mnemodb``, process-wide.
- Re-basing mnemodb's classes onto chromadb's (``__bases__`` assignment, as ``mnemodb.errors``
  does for exceptions) would make chromadb's methods reachable on mnemodb's objects and is
  refused by CPython for classes deriving directly from ``object``.
- Patching chromadb's classes (their metaclass or ``__instancecheck__``) changes chromadb for
  everybody.

The property is looked up at check time, so the import order does not matter (chromadb imported
before mnemodb, after it, or after the client was made), ``import mnemodb`` does nothing, and
nothing of chromadb changes. ``type(obj)`` stays mnemodb's class; ``obj.__class__`` is a
subclass of it, so code that reads ``obj.__class__`` (``functools.singledispatch``, reprs)
still finds mnemodb's class first in its MRO. Only ``isinstance`` is affected:
``issubclass(mnemodb.api.Client, chromadb.api.client.Client)`` stays false.
"""

from __future__ import annotations

import sys
import threading

TYPE_CHECKING = False  # typing is not imported at run time: `import mnemodb` stays cheap
if TYPE_CHECKING:
    from typing import Any, Dict, Tuple

# (mnemodb's class, chromadb's class) -> the class deriving from both. Keyed by chromadb's
# class object too, so a reloaded chromadb module gets a new one.
_presented: Dict[Tuple[type, type], type] = {}
_lock = threading.Lock()


def presented_class(own: type, module: str, name: str) -> type:
    """``own``, or once ``module`` (a chromadb module) is imported and has the class ``name``,
    the class deriving from ``own`` and that class. Never imports anything."""
    mod = sys.modules.get(module)
    theirs = getattr(mod, name, None) if mod is not None else None
    if not isinstance(theirs, type) or issubclass(own, theirs):
        return own
    key = (own, theirs)
    cls = _presented.get(key)
    if cls is not None:
        return cls
    with _lock:
        cls = _presented.get(key)
        if cls is None:
            cls = _derive(own, theirs)
            _presented[key] = cls
    return cls


def _derive(own: type, theirs: type) -> type:
    import types

    def body(ns: Dict[str, Any]) -> None:
        ns["__module__"] = own.__module__
        ns["__qualname__"] = own.__qualname__
        ns["__doc__"] = own.__doc__

    try:
        return types.new_class(own.__name__, (own, theirs), exec_body=body)
    except TypeError:
        # A layout or metaclass conflict in some other chromadb version: the objects keep
        # their own class and fail chromadb's checks, as they would without this module.
        return own


def presents_as(module: str, name: str) -> Any:
    """The ``__class__`` property of a class whose instances stand for chromadb's ``name``
    from ``module`` (``"chromadb.api.client"``, ``"Client"``)."""

    def get(self: Any) -> type:
        return presented_class(type(self), module, name)

    get.__name__ = "__class__"
    get.__doc__ = f"mnemodb's class, seen as a subclass of {module}.{name} once chromadb is imported"
    return property(get)
