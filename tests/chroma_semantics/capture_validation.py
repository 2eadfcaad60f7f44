#!/usr/bin/env python3
"""Capture chromadb 1.5.9's refusals of bad requests, for the one-validator tests.

Every case below is plain data: a name, an operation (add, update, upsert, get, query,
delete) and its arguments, each with one fault; and `collection_cases`, a collection's bad
metadata on create, get_or_create or modify. Each runs on one collection of a
`chromadb.EphemeralClient()` holding `SETUP`, and the exception's class and message are
written to `engine/tests/data/chroma_validation.json`. Two tests replay the cases:
`engine/tests/it/validation.rs` through the engine's Rust API, and
`tests/test_one_validator.py` through the Python package, its native module and
`mnemodb serve` over HTTP (and against chromadb itself, so the file cannot drift).

Regenerate (from the repository root; PyPI is the only network access needed):

    python3 -m venv /tmp/chromavenv && /tmp/chromavenv/bin/pip install chromadb==1.5.9
    ANONYMIZED_TELEMETRY=False /tmp/chromavenv/bin/python tests/chroma_semantics/capture_validation.py

Conventions of the output:

* Arguments are JSON; a NaN in embeddings is the string "NaN". Embeddings are lists of rows.
  A query without `n_results` uses chromadb's default, 10.
* `error` is `{"class", "message"}` as chromadb raised it.
* `ours`, on a few cases: mnemodb's message where it deliberately says more than chromadb's
  (it must start with chromadb's text), with `why`. Elsewhere mnemodb's message is
  chromadb's, exactly.
* No case has two faults (the order in which chromadb reports them is not specified), nor
  two duplicated ids (chromadb lists them in Python's set order, which changes per run).
  Left out because chromadb fails by accident there: a metadata that is a list (chromadb's
  `normalize_metadata` raises `AttributeError: 'list' object has no attribute 'items'`).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "engine" / "tests" / "data" / "chroma_validation.json"
NAN = "NaN"

# What every case runs against: two records of dimension 2.
SETUP: Dict[str, Any] = {
    "ids": ["a", "b"],
    "embeddings": [[1.0, 2.0], [3.0, 4.0]],
    "metadatas": [{"k": 1}, {"k": "x"}],
    "documents": ["d1", "d2"],
}

E2 = [[1.0, 2.0]]  # one valid vector
RECORD_0_NAN = (
    "mnemodb names the record with the NaN or infinity: "
    "Validation error: embeddings: Embeddings must not contain NaN or Infinity values (record 0)"
)


def case(name: str, op: str, args: Dict[str, Any], ours: Optional[str] = None, why: Optional[str] = None) -> Dict[str, Any]:
    c: Dict[str, Any] = {"name": name, "op": op, "args": args}
    if ours is not None:
        c["ours"] = ours
        c["why"] = why
    return c


CASES: List[Dict[str, Any]] = [
    # -- add ----------------------------------------------------------------------------------------
    case("add_duplicate_id", "add", {"ids": ["x", "x"], "embeddings": E2 * 2}),
    case("add_no_ids", "add", {"ids": [], "embeddings": []}),
    case("add_no_ids_one_embedding", "add", {"ids": [], "embeddings": E2}),
    case("add_empty_id", "add", {"ids": [""], "embeddings": E2}),
    case("add_wrong_dimension", "add", {"ids": ["c"], "embeddings": [[1.0, 2.0, 3.0]]}),
    case(
        "add_nan",
        "add",
        {"ids": ["c"], "embeddings": [[NAN, 1.0]]},
        ours="Validation error: embeddings: Embeddings must not contain NaN or Infinity values (record 0)",
        why="the engine names the record",
    ),
    case("add_fewer_embeddings", "add", {"ids": ["c", "d"], "embeddings": E2}),
    case("add_more_documents", "add", {"ids": ["c"], "embeddings": E2, "documents": ["x", "y"]}),
    case("add_fewer_metadatas", "add", {"ids": ["c", "d"], "embeddings": E2 * 2, "metadatas": [{"m": 1}]}),
    case("add_empty_row", "add", {"ids": ["c", "d"], "embeddings": [[1.0, 2.0], []]}),
    case("add_ragged", "add", {"ids": ["c", "d"], "embeddings": [[1.0, 2.0], [1.0]]}),
    case("add_metadata_empty", "add", {"ids": ["c"], "embeddings": E2, "metadatas": [{}]}),
    case("add_metadata_reserved_key", "add", {"ids": ["c"], "embeddings": E2, "metadatas": [{"chroma:document": "x"}]}),
    case("add_metadata_empty_list", "add", {"ids": ["c"], "embeddings": E2, "metadatas": [{"m": []}]}),
    case("add_metadata_mixed_list", "add", {"ids": ["c"], "embeddings": E2, "metadatas": [{"m": [1, "b"]}]}),
    case("add_metadata_nested", "add", {"ids": ["c"], "embeddings": E2, "metadatas": [{"m": {"b": 1}}]}),
    case("add_metadata_none_value", "add", {"ids": ["c"], "embeddings": E2, "metadatas": [{"m": None}]}),
    case(
        "add_metadata_key_dollar",
        "add",
        {"ids": ["c"], "embeddings": E2, "metadatas": [{"$m": 1}]},
        ours="Validation error: metadatas: Invalid metadata at index 0: key \"$m\" must be non-empty "
        "and not start with '#' or '$'",
        why="the engine names the key and the rule",
    ),
    # -- update and upsert --------------------------------------------------------------------------
    case("update_duplicate_id", "update", {"ids": ["a", "a"], "embeddings": E2 * 2}),
    case("update_metadata_empty", "update", {"ids": ["a"], "metadatas": [{}]}),
    case("update_wrong_dimension", "update", {"ids": ["a"], "embeddings": [[1.0, 2.0, 3.0]]}),
    case("update_more_metadatas", "update", {"ids": ["a"], "metadatas": [{"m": 1}, {"m": 2}]}),
    case(
        "upsert_nan",
        "upsert",
        {"ids": ["a"], "embeddings": [[NAN, 2.0]]},
        ours="Validation error: embeddings: Embeddings must not contain NaN or Infinity values (record 0)",
        why="the engine names the record",
    ),
    case("upsert_fewer_uris", "upsert", {"ids": ["a", "z"], "embeddings": E2 * 2, "uris": ["u"]}),
    case("upsert_metadata_nested", "upsert", {"ids": ["a"], "embeddings": E2, "metadatas": [{"m": {"b": 1}}]}),
    # -- get ----------------------------------------------------------------------------------------
    case("get_duplicate_id", "get", {"ids": ["a", "a"]}),
    case("get_no_ids", "get", {"ids": []}),
    case("get_include_unknown", "get", {"include": ["foo"]}),
    case("get_include_distances", "get", {"include": ["distances"]}),
    case("get_where_two_keys", "get", {"where": {"a": 1, "b": 2}}),
    case("get_where_unknown_operator", "get", {"where": {"a": {"$foo": 1}}}),
    case("get_where_gt_string", "get", {"where": {"a": {"$gt": "x"}}}),
    case("get_where_gt_bool", "get", {"where": {"a": {"$gt": True}}}),
    case("get_where_in_empty", "get", {"where": {"a": {"$in": []}}}),
    case("get_where_document_unknown_operator", "get", {"where_document": {"$eq": "x"}}),
    case("get_where_document_empty", "get", {"where_document": {"$contains": ""}}),
    case("get_where_document_bad_regex", "get", {"where_document": {"$regex": "("}}),
    # -- query --------------------------------------------------------------------------------------
    case("query_n_results_zero", "query", {"query_embeddings": E2, "n_results": 0}),
    case("query_n_results_negative", "query", {"query_embeddings": E2, "n_results": -1}),
    case("query_wrong_dimension", "query", {"query_embeddings": [[1.0, 2.0, 3.0]]}),
    case("query_no_embeddings", "query", {"query_embeddings": []}),
    case("query_ragged", "query", {"query_embeddings": [[1.0, 2.0], [1.0]]}),
    case("query_include_unknown", "query", {"query_embeddings": E2, "include": ["foo"]}),
    case("query_where_and_one_child", "query", {"query_embeddings": E2, "where": {"$and": [{"a": 1}]}}),
    case("query_where_document_not_a_str", "query", {"query_embeddings": E2, "where_document": {"$contains": 1}}),
    case(
        "query_missing_ids",
        "query",
        {"query_embeddings": E2, "ids": ["zz"]},
        ours="Error executing plan: Internal error: Error finding id: zz",
        why="the engine names the missing ids",
    ),
    # -- delete -------------------------------------------------------------------------------------
    case("delete_nothing", "delete", {}),
    case("delete_limit_without_filter", "delete", {"ids": ["a"], "limit": 1}),
    case("delete_limit_negative", "delete", {"where": {"k": 1}, "limit": -1}),
    case("delete_duplicate_id", "delete", {"ids": ["a", "a"]}),
    case("delete_no_ids", "delete", {"ids": []}),
    case("delete_where_gt_string", "delete", {"where": {"k": {"$gt": "x"}}}),
]

# Bad collection metadata: each on `create_collection`, `get_or_create_collection` (a new
# name per case) or `modify` of a collection created with `{"k": 1}`. Left out: a valid
# non-empty list on create (chromadb 1.5.9's backend panics), NaN and non-str keys (JSON
# cannot hold them: tests/test_one_validator.py checks those against chromadb directly).
BAD_COLLECTION_METADATA: Dict[str, Any] = {
    "empty": {},
    "empty_list": {"m": []},
    "mixed_list": {"m": [1, "b"]},
    "list_of_dicts": {"m": [{"a": 1}]},
    "list_of_none": {"m": [None]},
    "nested": {"m": {"b": 1}},
    "key_dollar": {"$m": 1},
    "key_hash": {"#m": 1},
    "key_empty": {"": 1},
    "a_list": [1, 2],
    "a_str": "abc",
}
COLLECTION_CASES: List[Dict[str, Any]] = [
    {"name": f"{op}_{fault}", "op": op, "metadata": md}
    for op in ("create", "get_or_create", "modify")
    for fault, md in BAD_COLLECTION_METADATA.items()
] + [
    {"name": "create_none_value", "op": "create", "metadata": {"m": None}},
    {"name": "get_or_create_none_value", "op": "get_or_create", "metadata": {"m": None}},
    {"name": "modify_reserved_key", "op": "modify", "metadata": {"chroma:document": "x"}},
    {"name": "modify_hnsw_space", "op": "modify", "metadata": {"hnsw:space": "ip"}},
]
COLLECTION_SETUP: Dict[str, Any] = {"k": 1}


def call_collection(client: Any, base: Any, op: str, name: str, metadata: Any) -> Any:
    """Runs one collection-metadata case with chromadb's Python API (shared with the replay
    test); `base` is the collection `modify` changes, `name` a new collection's."""
    if op == "create":
        return client.create_collection(name, metadata=metadata, embedding_function=None)
    if op == "get_or_create":
        return client.get_or_create_collection(name, metadata=metadata, embedding_function=None)
    if op == "modify":
        return base.modify(metadata=metadata)
    raise ValueError(f"unknown collection op {op}")


def py(value: Any) -> Any:
    """JSON arguments as the Python values a chromadb user passes ("NaN" strings to floats
    inside embeddings)."""
    if value == NAN:
        return math.nan
    if isinstance(value, list):
        return [py(v) for v in value]
    return value


def call(collection: Any, op: str, args: Dict[str, Any]) -> Any:
    """Runs one operation with chromadb's Python API (shared with the replay test)."""
    a = dict(args)
    for key in ("embeddings", "query_embeddings"):
        if key in a:
            a[key] = py(a[key])
    if op == "query":
        a.setdefault("n_results", 10)
    return getattr(collection, op)(**a)


def main() -> None:
    import chromadb

    if chromadb.__version__ != "1.5.9":
        sys.exit(f"chromadb {chromadb.__version__} is installed; the capture is of 1.5.9")
    client = chromadb.EphemeralClient(settings=chromadb.config.Settings(anonymized_telemetry=False))
    col = client.create_collection("validation", embedding_function=None)
    col.add(**SETUP)
    out = []
    for c in CASES:
        try:
            call(col, c["op"], c["args"])
        except Exception as e:  # noqa: BLE001 - the error is what is captured
            c = dict(c, error={"class": type(e).__name__, "message": str(e)})
        else:
            sys.exit(f"{c['name']}: chromadb accepted it")
        if "ours" in c and not c["ours"].startswith(c["error"]["message"]):
            sys.exit(f"{c['name']}: {c['ours']!r} does not extend {c['error']['message']!r}")
        out.append(c)
    base = client.create_collection("collection-metadata", metadata=COLLECTION_SETUP, embedding_function=None)
    collection_out = []
    for i, c in enumerate(COLLECTION_CASES):
        try:
            call_collection(client, base, c["op"], f"collection-metadata-{i}", c["metadata"])
        except Exception as e:  # noqa: BLE001 - the error is what is captured
            collection_out.append(dict(c, error={"class": type(e).__name__, "message": str(e)}))
        else:
            sys.exit(f"{c['name']}: chromadb accepted it")
    names = [c["name"] for c in out + collection_out]
    assert len(set(names)) == len(names), "case names repeat"
    doc = {
        "chromadb_version": chromadb.__version__,
        "generator": "tests/chroma_semantics/capture_validation.py",
        "captured": datetime.date.today().isoformat(),
        "setup": SETUP,
        "cases": out,
        "collection_setup": COLLECTION_SETUP,
        "collection_cases": collection_out,
    }
    # One case per line, so a change in chromadb's answers reads as a small diff.
    lists = ("cases", "collection_cases")
    head = json.dumps({k: v for k, v in doc.items() if k not in lists}, ensure_ascii=False)[:-1]
    parts = [head]
    for key in lists:
        lines = ",\n  ".join(json.dumps(c, ensure_ascii=False) for c in doc[key])
        parts.append(f'"{key}": [\n  {lines}\n]')
    OUT.write_text(", ".join(parts) + "}\n")
    print(f"{len(out)} + {len(collection_out)} cases written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
