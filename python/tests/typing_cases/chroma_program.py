"""A program written for chromadb 1.5.9 with its usual imports, after the import swap.

tests/test_typing.py type-checks it with mypy (it must pass), type-checks it against chromadb
(the errors must be exactly on the lines marked "chromadb rejects") and runs it (argv[1]: a
directory).
"""

from __future__ import annotations

import sys
from typing import List, Optional

import numpy as np

import mnemodb
from mnemodb import (
    Collection,
    Documents,
    EmbeddingFunction,
    Embeddings,
    GetResult,
    IDs,
    Include,
    Metadata,
    Metadatas,
    QueryResult,
    Where,
    WhereDocument,
)
from mnemodb.api import ClientAPI
from mnemodb.api.models.Collection import Collection as CollectionModel
from mnemodb.api.types import OneOrMany


class LengthEmbedding(EmbeddingFunction[Documents]):
    """A tiny local embedding function typed as chromadb's are."""

    def __call__(self, input: Documents) -> Embeddings:
        return [np.array([float(len(d)), 1.0, float(d.count("a"))], dtype=np.float32) for d in input]


def open_client(path: str) -> ClientAPI:
    return mnemodb.PersistentClient(path=path)


def fill(col: Collection) -> None:
    metas: Metadatas = [{"kind": "fruit", "n": 1}, {"kind": "vehicle", "n": 2, "tags": ["a", "b"]}]
    col.add(ids=["a", "b"], documents=["apples", "bikes"], metadatas=metas)
    col.upsert(ids="c", embeddings=[0.5, 0.5, 0.0], documents="cars")
    one: Metadata = {"kind": "fruit", "n": 3, "ripe": True}
    col.update(ids="c", metadatas=one)


def ask(col: CollectionModel, texts: OneOrMany[str]) -> List[IDs]:
    where: Where = {"$and": [{"kind": "fruit"}, {"ripe": True}]}
    contains: WhereDocument = {"$contains": "a"}
    include: Include = ["documents", "distances", "metadatas"]
    res: QueryResult = col.query(query_texts=texts, n_results=2, where=where, where_document=contains, include=include)
    distances: Optional[List[List[float]]] = res["distances"]
    assert distances is not None
    return res["ids"]


def main(path: str) -> None:
    client = open_client(path)
    col = client.get_or_create_collection(
        "notes",
        embedding_function=LengthEmbedding(),  # chromadb rejects: its EmbeddingFunction[Embeddable] is contravariant
        configuration={"hnsw": {"space": "l2"}},
        metadata={"owner": "me"},
    )
    fill(col)
    print(ask(col, ["apple"]))
    got: GetResult = col.get(ids=["a"], include=["embeddings", "documents"])
    docs = got["documents"]
    print(docs[0] if docs else None, col.count())
    col.delete(where={"kind": "vehicle"})
    client.delete_collection(col.name)


if __name__ == "__main__":
    main(sys.argv[1])
