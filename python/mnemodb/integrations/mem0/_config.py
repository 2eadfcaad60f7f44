"""``MnemoDbConfig``: the ``config`` of mem0's ``vector_store`` when its provider is ``"mnemodb"``.

mem0 finds a provider's config class by importing ``mem0.configs.vector_stores.<provider>``;
:func:`mnemodb.integrations.mem0.register` makes that name this module.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class _Fields(BaseModel):
    # Declared on a base class: mem0 gives every config whose own annotations name a `path`
    # the default "/tmp/<provider>"; mnemodb's default is beside mem0's history database.
    collection_name: str = Field("mem0", description="Name of the mnemodb collection holding the memories")
    path: Optional[str] = Field(
        None, description="Database directory (default: <mem0 directory>/mnemodb, beside history.db)"
    )
    client: Optional[Any] = Field(None, description="An existing mnemodb client (takes precedence over path)")
    distance: Literal["cosine", "l2", "ip"] = Field(
        "cosine", description="Space of a new collection; an existing collection keeps its own"
    )
    embedding_model_dims: Optional[int] = Field(
        None, description="Vector size; when set, vectors of another size are refused up front"
    )
    keyword_search: bool = Field(
        True, description="BM25 keyword search for mem0's hybrid scoring; False: vectors only"
    )

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")


class MnemoDbConfig(_Fields):
    """Settings of the ``"mnemodb"`` vector store: ``collection_name``, ``path`` or ``client``,
    ``distance``, ``embedding_model_dims`` and ``keyword_search``."""

    def __deepcopy__(self, memo: Any = None) -> "MnemoDbConfig":
        # mem0 deep-copies the config for its entity store and telemetry: the copy shares the
        # client (a handle on a database, which cannot be copied); the other fields are immutable.
        return self.model_copy()
