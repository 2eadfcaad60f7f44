"""LangGraph on mnemodb: a checkpointer and a long-term store in the database directory.

- :class:`MnemoSaver`, a ``BaseCheckpointSaver``: checkpoints, pending writes and channel
  values, serialized by LangGraph's own serializer and stored as they come.
- :class:`MnemoStore`, a ``BaseStore``: JSON items by namespace and key, filters, semantic
  search through a mnemodb collection, and time to live.

Both take a mnemodb client (``mnemodb.PersistentClient(path)``) or a directory path, and are
safe for several processes on one directory. Importing this module imports langgraph.
"""

from mnemodb.integrations.langgraph._saver import MnemoSaver
from mnemodb.integrations.langgraph._store import MnemoStore

__all__ = ["MnemoSaver", "MnemoStore"]
