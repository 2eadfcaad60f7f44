"""mnemodb's clients and collections pass chromadb's own type checks (``isinstance``, pydantic's
``is-instance`` validator) against the real chromadb 1.5.9, whichever is imported first, and
mnemodb still never imports chromadb (python/mnemodb/_chroma_types.py).

Each scenario runs in a fresh interpreter: the import order is the point."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# The checks, run after both packages are imported; `client` and `col` exist.
CHECKS = """
import json
import chromadb, chromadb.api, chromadb.api.client
from chromadb.api.models.AsyncCollection import AsyncCollection
from pydantic import BaseModel, ConfigDict, ValidationError
from typing import Optional

class Config(BaseModel):  # the shape of mem0's ChromaDbConfig
    model_config = ConfigDict(arbitrary_types_allowed=True)
    client: Optional[chromadb.api.client.Client] = None
    collection: Optional[chromadb.Collection] = None

try:
    Config(client=col)
    wrong_type_refused = False
except ValidationError:
    wrong_type_refused = True
validated = Config(client=client, collection=col)
out = {
    "client_is_ClientAPI": isinstance(client, chromadb.api.ClientAPI),
    "client_is_Client": isinstance(client, chromadb.api.client.Client),
    "col_is_Collection": isinstance(col, chromadb.Collection),
    "client_is_AsyncClientAPI": isinstance(client, chromadb.api.AsyncClientAPI),
    "col_is_AsyncCollection": isinstance(col, AsyncCollection),
    "col_is_ClientAPI": isinstance(col, chromadb.api.ClientAPI),
    "client_is_Collection": isinstance(client, chromadb.Collection),
    "pydantic_keeps_objects": validated.client is client and validated.collection is col,
    "pydantic_refuses_wrong_type": wrong_type_refused,
    "type_is_mnemodb": type(client) is mnemodb.api.Client and type(col) is mnemodb.api.Collection,
    "still_mnemodb_instances": isinstance(client, mnemodb.api.Client) and isinstance(col, mnemodb.Collection),
    "class_derives_from_mnemodb": issubclass(client.__class__, mnemodb.api.Client) and client.__class__.__mro__[1] is mnemodb.api.Client,
    "collection_works": col.count() == 1 and col.get(ids=["a"])["ids"] == ["a"],
}
print(json.dumps(out))
"""

MAKE = """
import mnemodb
client = mnemodb.EphemeralClient()
col = client.get_or_create_collection("isinstance_probe")
col.upsert(ids=["a"], embeddings=[[1.0, 0.0]])
"""

ORDERS = {
    "chromadb_first": "import chromadb\n" + MAKE,
    "mnemodb_first": MAKE + "import chromadb\n",
    # the objects exist before chromadb is imported, and are checked after
    "objects_before_chromadb": MAKE + "assert 'chromadb' not in __import__('sys').modules\nimport chromadb\n",
}

EXPECTED = {
    "client_is_ClientAPI": True,
    "client_is_Client": True,
    "col_is_Collection": True,
    "client_is_AsyncClientAPI": False,
    "col_is_AsyncCollection": False,
    "col_is_ClientAPI": False,
    "client_is_Collection": False,
    "pydantic_keeps_objects": True,
    "pydantic_refuses_wrong_type": True,
    "type_is_mnemodb": True,
    "still_mnemodb_instances": True,
    "class_derives_from_mnemodb": True,
    "collection_works": True,
}


def _run(code: str) -> dict:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_chromadb_type_checks_pass(chromadb, order: str) -> None:
    assert _run(ORDERS[order] + CHECKS) == EXPECTED


def test_without_chromadb_nothing_changes() -> None:
    """chromadb made unimportable: the objects are plainly mnemodb's, and checking them
    (isinstance against anything, reading __class__) imports nothing."""
    out = _run(
        """
        import sys, json
        sys.modules["chromadb"] = None  # `import chromadb` raises ImportError
        import mnemodb
        client = mnemodb.EphemeralClient()
        col = client.get_or_create_collection("probe")
        try:
            import chromadb
            importable = True
        except ImportError:
            importable = False
        print(json.dumps({
            "importable": importable,
            "client_class": client.__class__ is mnemodb.api.Client,
            "col_class": col.__class__ is mnemodb.api.Collection,
            "isinstance_dict": isinstance(client, dict) or isinstance(col, dict),
            "isinstance_own": isinstance(client, mnemodb.api.Client) and isinstance(col, mnemodb.Collection),
            "loaded": sorted(m for m in sys.modules if m.startswith("chromadb") and sys.modules[m] is not None),
        }))
        """
    )
    assert out == {
        "importable": False,
        "client_class": True,
        "col_class": True,
        "isinstance_dict": False,
        "isinstance_own": True,
        "loaded": [],
    }


def test_checks_do_not_import_chromadb() -> None:
    """With chromadb installed but not imported, isinstance checks on mnemodb's objects and
    their __class__ leave chromadb unimported."""
    out = _run(
        """
        import sys, json
        import mnemodb
        client = mnemodb.EphemeralClient()
        col = client.get_or_create_collection("probe")
        isinstance(client, dict); isinstance(col, int); client.__class__; col.__class__
        print(json.dumps({"chromadb": [m for m in sys.modules if m.split(".")[0] == "chromadb"]}))
        """
    )
    assert out == {"chromadb": []}


def test_presented_class_is_made_once_per_pair(chromadb) -> None:
    import mnemodb
    from mnemodb import _chroma_types

    client = mnemodb.EphemeralClient()
    first, second = client.__class__, mnemodb.EphemeralClient().__class__
    assert first is second
    assert issubclass(first, chromadb.api.client.Client)
    assert _chroma_types.presented_class(type(client), "chromadb.api.client", "Client") is first


def test_subclass_of_mnemodb_client_is_presented_too(chromadb) -> None:
    import mnemodb

    class MyClient(mnemodb.api.Client):
        pass

    mine = MyClient(ephemeral=True)
    assert isinstance(mine, chromadb.api.client.Client)
    assert type(mine) is MyClient and mine.__class__.__mro__[1] is MyClient
