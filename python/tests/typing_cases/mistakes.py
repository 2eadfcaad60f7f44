"""Mistakes mypy must catch in a mnemodb program (tests/test_typing.py): each line marked
with an "E:" comment must get an error containing the text after it, and no other line may get one."""

from __future__ import annotations

import mnemodb
from mnemodb import Documentz  # E: Module "mnemodb" has no attribute "Documentz"
from mnemodb.api import ClientAPI
from mnemodb.api.models.Collection import Collection

client: ClientAPI = mnemodb.PersistentClinet("./data")  # E: Module has no attribute "PersistentClinet"
col: Collection = mnemodb.EphemeralClient().create_collection("notes")
col.ad(ids=["a"], embeddings=[[1.0, 2.0]])  # E: "Collection" has no attribute "ad"
col.add(ids=1, embeddings=[[1.0, 2.0]])  # E: Argument "ids" to "add" of "Collection" has incompatible type "int"
col.add(ids=["a"], documents=[b"bytes"])  # E: List item 0 has incompatible type "bytes"; expected "str"
col.query(query_embeddings=[[1.0, 2.0]], n_results="3")  # E: Argument "n_results" to "query" of "Collection" has incompatible type "str"
col.get(include=["embedding"])  # E: List item 0 has incompatible type
col.get(where="kind = 'fruit'")  # E: Argument "where" to "get" of "Collection" has incompatible type "str"
result = col.query(query_embeddings=[[1.0, 2.0]])
result["distance"]  # E: TypedDict "QueryResult" has no key "distance"
mnemodb.EphemeralClient().get_collection("notes", embedding_function="none")  # E: Argument "embedding_function" to "get_collection" of "Client" has incompatible type "str"
count: str = col.count()  # E: Incompatible types in assignment (expression has type "int", variable has type "str")


async def async_mistakes() -> None:
    aclient = await mnemodb.AsyncEphemeralClient()
    acol = await aclient.create_collection("notes")
    await acol.add(ids=2, embeddings=[[1.0, 2.0]])  # E: Argument "ids" to "add" of "AsyncCollection" has incompatible type "int"
    await acol.query(query_texts=["x"], where_document="apple")  # E: Argument "where_document" to "query" of "AsyncCollection" has incompatible type "str"
