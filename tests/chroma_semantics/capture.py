#!/usr/bin/env python3
"""Capture chromadb 1.5.9's record-level semantics as data, for the engine's parity test.

Every scenario below is plain data: a name, a distance space and a list of operations on one
collection. Each scenario runs on a fresh collection of a reset `chromadb.EphemeralClient`,
and every operation's outcome (its normalized result, or the exception's class, message and
origin) is written to `engine/tests/data/chroma_semantics.json`, which
`engine/tests/it/chroma_parity.rs` replays on the mnemodb engine.

Regenerate (from the repository root; PyPI is the only network access needed):

    python3 -m venv /tmp/chromavenv && /tmp/chromavenv/bin/pip install chromadb==1.5.9
    ANONYMIZED_TELEMETRY=False /tmp/chromavenv/bin/python tests/chroma_semantics/capture.py

Conventions of the output (the Rust side relies on them):

* Embeddings are always explicit (the collection has `embedding_function=None`; the default
  one would download a model). In arguments, embeddings are lists of floats; NaN and the
  infinities, which JSON cannot hold, are the strings "NaN", "Infinity", "-Infinity".
* Only arguments the operation was called with appear in `args`; a missing `include` means
  chromadb's default.
* `outcome` is `{"ok": result}` or `{"error": {"class", "message", "origin"}}`. `origin` is
  "backend" when the exception came out of the Rust bindings (raised while
  `chromadb/api/rust.py` called into them) and "client" when chromadb's Python validation
  raised it (those messages end in " in <op>.").
* Results: `get` -> {ids, embeddings, documents, metadatas, uris} with fields not included as
  null; `query` -> the same plus `distances`, one inner list per query vector; `count` ->
  {count}; `delete` -> {deleted} as chromadb returns it, plus `existing`: how many of the
  requested ids existed just before (asked of chromadb with a `get`); add/update/upsert -> null.
* Ties: chromadb returns records at equal distance in insertion order when it returns all of
  them, but when `n_results` cuts through a group of tied records it returns a *random* subset
  of that group (still in insertion order; 30 runs of one query gave 29 different subsets).
  So for every successful query the script asks chromadb again for the full ranking (same
  ids, `n_results` = count) and, when the cut-off falls inside a tie group, records
  `tie_cut`: one entry per query vector, null or {distance, ids}: the tied distance and every
  record of the group in insertion order. The recorded subset is one sample, not a rule.
* Every scenario ends with two operations marked `"final": true`: a `get` of everything
  (embeddings, documents, metadatas, uris) and a `count`, so the end state is always compared.

Not scenarios, because the engine's typed API cannot express them: wrong Python types
(non-str ids, non-int `n_results`, dict metadata values, mixed-type lists), negative
`n_results`, `None` metadata values on `add`, ragged embeddings, and the `data` include field.
Those the engine's `request` conversions take (metadata values, lists, `None` on add,
`n_results`, rows of vectors, a number of rows different from the number of ids) are cases of
`capture_validation.py`, replayed through the Rust API, Python and HTTP. Neither is an
`update` of documents without embeddings: chromadb embeds such documents with the collection's
embedding function (a Python-layer concern; with `embedding_function=None` it raises), so here
document updates always come with embeddings. (`add` and `upsert` without embeddings are
scenarios: the engine requires embeddings for both, and chromadb rejects them too.)
"""

from __future__ import annotations

import datetime
import json
import math
import os
import random
import sys
import traceback
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
if os.environ.get("PYTHONHASHSEED") != "0":
    # chromadb builds some messages from Python sets ("Exactly one of documents, images, uris
    # must be provided"): a fixed hash seed keeps their word order, and the output, stable.
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import chromadb  # noqa: E402
from chromadb.config import Settings  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "engine" / "tests" / "data" / "chroma_semantics.json"

ALL_GET = ["embeddings", "documents", "metadatas", "uris"]


# --- operation constructors (they only build dicts) -----------------------------------------


def add(ids, embeddings=None, **kw):
    return _op("add", ids=ids, embeddings=embeddings, **kw)


def upsert(ids, embeddings=None, **kw):
    return _op("upsert", ids=ids, embeddings=embeddings, **kw)


def update(ids, embeddings=None, **kw):
    return _op("update", ids=ids, embeddings=embeddings, **kw)


def delete(ids):
    return _op("delete", ids=ids)


def get(**kw):
    return _op("get", **kw)


def query(query_embeddings, **kw):
    return _op("query", query_embeddings=query_embeddings, **kw)


def count():
    return _op("count")


def _op(name, **kw):
    return {"op": name, **{k: v for k, v in kw.items() if v is not None}}


def scenario(name, space, *ops):
    return {"name": name, "space": space, "ops": list(ops)}


NAN = float("nan")
INF = float("inf")


def random_vectors(seed, n, dim):
    """n vectors of `dim` components in [-1, 1], rounded to 4 decimals (short JSON)."""
    rng = random.Random(seed)
    return [[round(rng.uniform(-1.0, 1.0), 4) for _ in range(dim)] for _ in range(n)]


def random_scenario(space, seed):
    vecs = random_vectors(seed, 12, 8)
    qs = random_vectors(seed + 1000, 3, 8)
    ids = [f"r{i:02d}" for i in range(12)]
    return scenario(
        f"random8_{space}",
        space,
        add(ids[:7], vecs[:7]),
        add(ids[7:], vecs[7:]),
        query(qs, n_results=12, include=["distances"]),
        query(qs, n_results=3, include=["distances", "embeddings", "documents", "metadatas"]),
        query([qs[0]], n_results=4, ids=[ids[1], ids[5], ids[9], ids[11]], include=["distances"]),
    )


# --- scenarios ---------------------------------------------------------------------------------

NOTES_EXAMPLE = [
    add(["b", "c"], [[1, 2], [3, -1]], documents=["doc b", "doc c"]),
    query([[2, 1]], n_results=10),
    query([[2, 1], [-1, 3]], n_results=1, include=["distances", "embeddings"]),
]

SCENARIOS = [
    # -- distances ------------------------------------------------------------------------------
    scenario("space_l2_notes_example", "l2", *NOTES_EXAMPLE),
    scenario("space_ip_notes_example", "ip", *NOTES_EXAMPLE),
    scenario("space_cosine_notes_example", "cosine", *NOTES_EXAMPLE),
    random_scenario("l2", 11),
    random_scenario("ip", 22),
    random_scenario("cosine", 33),
    scenario(
        "cosine_zero_vector",
        "cosine",
        add(["z", "a"], [[0, 0], [1, 0]]),
        query([[1, 1]], n_results=2, include=["distances"]),
        query([[0, 0]], n_results=2, include=["distances"]),
    ),
    scenario(
        "float32_rounding_of_embeddings",
        "l2",
        add(["a", "b"], [[0.1, 0.2], [1e-3, 123456.789]]),
        query([[0.3, -0.7]], n_results=2, include=["distances", "embeddings"]),
    ),
    # -- add ------------------------------------------------------------------------------------
    scenario(
        "add_existing_id_is_silent_noop",
        "l2",
        add(["a", "b"], [[1, 1], [2, 2]], documents=["doc a", "doc b"], metadatas=[{"k": 1}, {"k": 2}]),
        add(["a", "c"], [[9, 9], [3, 3]], documents=["NEW a", "doc c"], metadatas=[{"k": 99}, {"k": 3}]),
        add(["b"], [[7, 7]], documents=["NEW b"]),
        query([[9, 9]], n_results=1, include=["distances", "documents"]),
    ),
    scenario(
        "add_duplicate_ids_in_call",
        "l2",
        add(["x", "y", "x"], [[1, 1], [2, 2], [3, 3]]),
        add(["x"], [[1, 1]]),
        add(["x", "x"], [[5, 5], [6, 6]]),
        add(["p", "q", "p", "q"], [[1, 1], [2, 2], [3, 3], [4, 4]]),
    ),
    scenario(
        "add_field_length_mismatch",
        "l2",
        add(["a", "b"], [[1, 1], [2, 2]], documents=["only one"]),
        add(["a", "b"], [[1, 1], [2, 2]], metadatas=[{"k": 1}]),
        add(["a", "b"], [[1, 1], [2, 2]], uris=["u1", "u2", "u3"]),
    ),
    scenario(
        "add_without_embeddings",
        "l2",
        add(["a"]),
        add(["a"], documents=["text only"]),
    ),
    scenario(
        "add_empty_ids_list",
        "l2",
        add([], []),
        add(["a"], [[1, 2]]),
        add([], []),
    ),
    scenario(
        "empty_string_id",
        "l2",
        add([""], [[1, 2]]),
        add(["a", ""], [[1, 2], [3, 4]]),
        add(["a"], [[1, 2]]),
        get(ids=[""]),
        get(ids=["a", ""]),
        query([[1, 2]], n_results=1, ids=[""]),
        update([""], [[5, 5]]),
        upsert([""], [[5, 5]]),
        delete([""]),
    ),
    scenario(
        "non_finite_embeddings",
        "l2",
        add(["n"], [[NAN, 1]]),
        add(["i", "j"], [[1, 1], [INF, 1]]),
        add(["a"], [[1, 2]]),
        query([[NAN, 0]], n_results=1),
        query([[0, -INF]], n_results=1),
        update(["a"], [[-INF, 0]]),
        upsert(["a"], [[NAN, NAN]]),
        upsert(["new"], [[0, INF]]),
    ),
    # -- dimension ------------------------------------------------------------------------------
    scenario(
        "dimension_mismatch_everywhere",
        "l2",
        add(["a"], [[1, 2]]),
        add(["b"], [[1, 2, 3]]),
        add(["b", "c"], [[1, 2, 3], [4, 5, 6]]),
        query([[1, 2, 3]], n_results=1),
        query([[1]], n_results=1),
        update(["a"], [[1, 2, 3]]),
        update(["missing"], [[1, 2, 3]]),
        upsert(["a"], [[1, 2, 3]]),
        upsert(["new"], [[1, 2, 3]]),
        get(ids=["a"], include=["embeddings"]),
    ),
    scenario(
        "dimension_kept_after_delete_all",
        "l2",
        add(["a"], [[1, 2]]),
        delete(["a"]),
        count(),
        add(["b"], [[1, 2, 3]]),
        query([[1, 2, 3]], n_results=1),
        query([[1, 2]], n_results=1),
        add(["c"], [[5, 6]]),
    ),
    scenario(
        "dimension_from_update_of_missing_id_on_empty_collection",
        "l2",
        update(["nope"], [[1, 2, 3]]),
        add(["a"], [[1, 2]]),
        query([[1, 2]], n_results=1),
    ),
    scenario(
        "dimension_set_by_first_upsert",
        "l2",
        upsert(["u"], [[1, 2, 3]], documents=["first"]),
        add(["a"], [[1, 2]]),
        add(["a"], [[1, 2, 4]]),
        query([[0, 0, 0]], n_results=5),
    ),
    scenario(
        "query_empty_collection_any_dimension",
        "l2",
        query([[1, 2, 3]], n_results=3),
        query([[1], [2]], n_results=3, include=["distances", "embeddings", "documents", "metadatas"]),
        add(["a"], [[1, 2]]),
        query([[1, 2]], n_results=3),
    ),
    # -- update ---------------------------------------------------------------------------------
    scenario(
        "update_missing_ids_are_ignored",
        "l2",
        add(["a"], [[1, 1]], documents=["doc a"], metadatas=[{"k": 1}]),
        update(["nope"], [[5, 5]], documents=["x"], metadatas=[{"k": 2}]),
        update(["nope", "a"], [[6, 6], [7, 7]], documents=["x", "new a"]),
        update(["nope2"], [[0, 0]], documents=["y"]),
        count(),
    ),
    scenario(
        "update_duplicate_ids_in_call",
        "l2",
        add(["a", "b"], [[1, 1], [2, 2]]),
        update(["a", "a"], [[5, 5], [6, 6]]),
        update(["a", "b", "a"], documents=["x", "y", "z"]),
    ),
    scenario(
        "update_documents_none_keeps_document",
        "l2",
        add(["a", "b", "c"], [[1, 1], [2, 2], [3, 3]], documents=["doc a", "doc b", None]),
        update(["a", "b", "c"], [[1, 1], [2, 2], [3, 3]], documents=[None, "new b", None]),
        update(["c"], [[3, 3]], documents=["doc c"]),
        update(["b"], [[2, 2]], documents=[""]),
        update(["a"], [[1, 1]], documents=[None]),
    ),
    scenario(
        "update_embedding_only_keeps_document_and_metadata",
        "l2",
        add(["a", "b", "c"], [[0, 0], [5, 5], [9, 9]], documents=["doc a", "doc b", "doc c"], metadatas=[{"k": 1}, {"k": 2}, None]),
        update(["a"], [[10, 10]]),
        query([[10, 10]], n_results=3, include=["distances", "documents", "metadatas", "embeddings"]),
        get(),
        get(ids=["c", "a"]),
    ),
    scenario(
        "update_metadata_merge_and_delete_keys",
        "l2",
        add(["a", "b"], [[1, 1], [2, 2]], metadatas=[{"k": 1, "s": "x"}, None]),
        update(["a"], metadatas=[{"k": None, "n": 2.5}]),
        get(),
        update(["a"], metadatas=[{"s": None, "n": None}]),
        get(),
        update(["b"], metadatas=[{"gone": None}]),
        get(),
        update(["b"], metadatas=[{"new": 1}]),
        update(["a", "b"], metadatas=[{"x": True}, {"new": "replaced", "other": [1, 2]}]),
    ),
    scenario(
        "update_metadatas_list_with_none_entry",
        "l2",
        add(["a", "b"], [[1, 1], [2, 2]], metadatas=[{"k": 1}, {"k": 2}]),
        update(["a", "b"], metadatas=[None, {"j": 3}]),
    ),
    scenario(
        "update_metadata_empty_dict",
        "l2",
        add(["a"], [[1, 1]], metadatas=[{"k": 1}]),
        update(["a"], metadatas=[{}]),
    ),
    scenario(
        "update_ids_only",
        "l2",
        add(["a"], [[1, 1]], documents=["doc a"], metadatas=[{"k": 1}]),
        update(["a"]),
        update(["nope"]),
    ),
    scenario(
        "update_and_upsert_uris",
        "l2",
        add(["a", "b"], [[1, 1], [2, 2]], uris=["u-a", None]),
        update(["a", "b"], uris=[None, "u-b"]),
        get(include=["uris"]),
        upsert(["a", "c"], [[3, 3], [4, 4]], uris=["u-a2", "u-c"]),
    ),
    # -- upsert ---------------------------------------------------------------------------------
    scenario(
        "upsert_insert_vs_update",
        "l2",
        add(["a"], [[1, 1]], documents=["doc a"], metadatas=[{"k": 1, "s": "x"}]),
        upsert(["b", "a"], [[2, 2], [3, 3]], documents=["doc b", None], metadatas=[{"x": 1}, {"k": None, "y": 2}]),
        get(),
        query([[3, 3]], n_results=2, include=["distances", "documents"]),
        upsert(["a"], [[4, 4]]),
        upsert(["c"], [[5, 5]]),
    ),
    scenario(
        "upsert_duplicate_ids_in_call",
        "l2",
        upsert(["a", "a"], [[1, 1], [2, 2]]),
        add(["a"], [[1, 1]]),
        upsert(["b", "a", "b"], [[1, 1], [2, 2], [3, 3]]),
    ),
    scenario(
        "upsert_new_record_with_none_metadata_value",
        "l2",
        upsert(["a"], [[1, 1]], metadatas=[{"k": 1, "gone": None}]),
        upsert(["b"], [[2, 2]], metadatas=[{"gone": None}]),
    ),
    scenario(
        "upsert_without_embeddings",
        "l2",
        add(["a"], [[1, 1]], documents=["doc a"]),
        upsert(["a"], documents=["x"]),
        upsert(["a"], metadatas=[{"k": 1}]),
    ),
    scenario(
        "upsert_all_existing_keeps_unspecified_fields",
        "l2",
        add(["a", "b"], [[1, 1], [2, 2]], documents=["doc a", "doc b"], metadatas=[{"k": 1}, {"k": 2}]),
        upsert(["b", "a"], [[20, 20], [10, 10]]),
        query([[20, 20]], n_results=2, include=["distances", "documents", "metadatas"]),
    ),
    # -- delete ---------------------------------------------------------------------------------
    scenario(
        "delete_missing_ids",
        "l2",
        add(["a", "b", "c"], [[1, 1], [2, 2], [3, 3]]),
        delete(["a", "zz"]),
        delete(["zz"]),
        delete(["a"]),
        delete(["c", "b", "x", "y"]),
        count(),
        query([[1, 1]], n_results=3),
    ),
    scenario(
        "delete_duplicate_ids_in_call",
        "l2",
        add(["a", "b"], [[1, 1], [2, 2]]),
        delete(["a", "a"]),
        delete(["zz", "zz"]),
    ),
    scenario(
        "delete_empty_ids_list",
        "l2",
        add(["a"], [[1, 1]]),
        delete([]),
    ),
    scenario(
        "delete_then_readd_same_id",
        "l2",
        add(["a", "b", "c"], [[1, 1], [2, 2], [3, 3]], documents=["a1", "b1", "c1"]),
        delete(["a"]),
        add(["a"], [[1, 1]], documents=["a2"]),
        get(),
        query([[2, 2]], n_results=3, include=["distances"]),
        delete(["b"]),
        upsert(["b"], [[2, 2]], documents=["b2"]),
    ),
    scenario(
        "deleted_records_leave_queries",
        "l2",
        add(["a", "b", "c"], [[1, 1], [2, 2], [3, 3]]),
        delete(["b"]),
        query([[2, 2]], n_results=3, include=["distances"]),
        query([[2, 2]], n_results=3, ids=["b"], include=["distances"]),
        query([[2, 2]], n_results=3, ids=["b", "c"], include=["distances"]),
        get(ids=["b", "c"]),
    ),
    # -- get ------------------------------------------------------------------------------------
    scenario(
        "get_insertion_order_and_missing_ids",
        "l2",
        add(["c", "a", "b"], [[3, 3], [1, 1], [2, 2]]),
        add(["d"], [[4, 4]]),
        get(ids=["b", "zzz", "d", "a"]),
        get(ids=["zzz"]),
        get(),
    ),
    scenario(
        "get_limit_offset",
        "l2",
        add(["e", "d", "c", "b", "a"], [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]),
        get(limit=2, include=[]),
        get(limit=2, offset=2, include=[]),
        get(limit=10, offset=4, include=[]),
        get(offset=5, include=[]),
        get(limit=1, offset=10, include=[]),
        get(limit=0, include=[]),
        get(limit=0, offset=2, include=[]),
        get(offset=1, include=[]),
        get(offset=0, include=[]),
        get(ids=["a", "c", "e", "zz"], limit=1, offset=1, include=[]),
        get(ids=["a", "c"], offset=5, include=[]),
        get(ids=["a", "c", "e"], limit=0, include=[]),
    ),
    scenario(
        "get_include_variants",
        "l2",
        add(["a"], [[1, 2]], documents=["doc a"], metadatas=[{"k": 1}], uris=["u-a"]),
        get(include=[]),
        get(include=["embeddings"]),
        get(include=["uris"]),
        get(include=["documents", "metadatas"]),
        get(include=["distances"]),
        get(include=["metadatas", "distances"]),
    ),
    scenario(
        "get_duplicate_ids",
        "l2",
        add(["a", "b"], [[1, 1], [2, 2]]),
        get(ids=["a", "a"]),
        get(ids=["zz", "b", "zz"]),
    ),
    scenario(
        "get_empty_ids_list",
        "l2",
        add(["a"], [[1, 1]]),
        get(ids=[]),
    ),
    scenario(
        "get_on_empty_collection",
        "cosine",
        get(),
        get(ids=["a"]),
        get(limit=3, offset=1),
        count(),
    ),
    # -- query ----------------------------------------------------------------------------------
    scenario(
        "query_n_results_larger_than_count",
        "l2",
        add(["a", "b", "c"], [[0, 0], [1, 0], [0, 2]]),
        query([[0, 0]], n_results=100),
        query([[0, 0], [0, 2]], n_results=4, include=["distances"]),
    ),
    scenario(
        "query_n_results_zero",
        "l2",
        add(["a"], [[0, 0]]),
        query([[0, 0]], n_results=0),
    ),
    scenario(
        "query_restricted_by_ids",
        "l2",
        add(["a", "b", "c", "d"], [[0, 0], [1, 0], [0, 2], [3, 3]]),
        query([[0, 0]], n_results=10, ids=["c", "b", "missing"], include=["distances"]),
        query([[0, 0]], n_results=1, ids=["d", "c"], include=["distances"]),
        query([[0, 0], [3, 3]], n_results=2, ids=["a", "d", "b"], include=["distances", "documents"]),
        query([[0, 0]], n_results=3, ids=["missing"]),
    ),
    scenario(
        "query_ids_empty_list",
        "l2",
        add(["a", "b"], [[0, 0], [1, 0]]),
        query([[0, 0]], n_results=2, ids=[]),
    ),
    scenario(
        "query_duplicate_ids",
        "l2",
        add(["a", "b"], [[0, 0], [1, 0]]),
        query([[0, 0]], n_results=2, ids=["b", "b"]),
    ),
    scenario(
        "query_ties_equal_distances",
        "l2",
        add(["d", "b"], [[1, 0], [0, 1]]),
        add(["a", "c"], [[-1, 0], [0, -1]]),
        query([[0, 0]], n_results=4, include=["distances"]),
        query([[0, 0]], n_results=2, include=["distances"]),
        query([[0, 0]], n_results=3, ids=["c", "a", "d"], include=["distances"]),
    ),
    scenario(
        "query_ties_identical_vectors",
        "ip",
        add([f"t{i}" for i in (5, 3, 8, 1, 9, 0, 7, 2, 6, 4)], [[0.5, 0.5]] * 10),
        query([[1, 1]], n_results=10, include=["distances"]),
        query([[1, 1]], n_results=4, include=["distances"]),
    ),
    scenario(
        "query_ties_after_update_and_readd",
        "l2",
        add(["a", "b", "c", "d"], [[1, 0], [0, 1], [-1, 0], [9, 9]]),
        update(["a"], [[1, 0]]),
        update(["d"], [[0, -1]]),
        query([[0, 0]], n_results=4, include=["distances"]),
        delete(["b"]),
        add(["b"], [[0, 1]]),
        query([[0, 0]], n_results=4, include=["distances"]),
        upsert(["c"], [[-1, 0]]),
        query([[0, 0]], n_results=4, include=["distances"]),
    ),
    scenario(
        "query_include_variants",
        "cosine",
        add(["a", "b"], [[1, 0], [1, 1]], documents=["doc a", None], metadatas=[None, {"k": "v"}], uris=["u-a", "u-b"]),
        query([[1, 0.1]], n_results=2, include=[]),
        query([[1, 0.1]], n_results=2, include=["embeddings"]),
        query([[1, 0.1]], n_results=2, include=["uris", "distances"]),
        query([[1, 0.1]], n_results=2, include=["documents", "metadatas", "embeddings", "uris", "distances"]),
    ),
    # -- metadata and documents -----------------------------------------------------------------
    scenario(
        "metadata_value_types_roundtrip",
        "l2",
        add(
            ["ints", "floats", "bools", "strs", "lists"],
            [[1, 0], [2, 0], [3, 0], [4, 0], [5, 0]],
            metadatas=[
                {"one": 1, "zero": 0, "neg": -5, "max": 2**63 - 1, "min": -(2**63)},
                {"one": 1.0, "zero": 0.0, "neg": -5.5, "tiny": 1e-300, "huge": 1e300, "tenth": 0.1},
                {"t": True, "f": False},
                {"s": "x", "empty": "", "uni": "héllo ✓ 漢字", "num": "1"},
                {"il": [1, 2, 3], "fl": [1.0, 2.5], "bl": [True, False], "sl": ["a", ""]},
            ],
        ),
        get(include=["metadatas"]),
        update(["ints"], metadatas=[{"one": 1.0, "zero": False}]),
        update(["floats"], metadatas=[{"one": 1, "zero": 0}]),
        get(ids=["ints", "floats"], include=["metadatas"]),
    ),
    scenario(
        "metadata_integers_beyond_i64",
        "l2",
        add(["big", "neg"], [[1, 0], [2, 0]], metadatas=[{"p63": 2**63, "p64": 2**64}, {"m63m1": -(2**63) - 1}]),
        get(include=["metadatas"]),
    ),
    scenario(
        "metadata_invalid_keys",
        "l2",
        add(["a"], [[1, 1]], metadatas=[{"#a": 1}]),
        add(["a"], [[1, 1]], metadatas=[{"$a": 1}]),
        add(["a"], [[1, 1]], metadatas=[{"": 1}]),
        add(["a"], [[1, 1]], metadatas=[{"chroma:document": "x"}]),
        add(["a"], [[1, 1]], metadatas=[{"ok": 1}]),
        update(["a"], metadatas=[{"#a": 1}]),
        update(["a"], metadatas=[{"chroma:document": None}]),
        upsert(["a"], [[1, 1]], metadatas=[{"$a": None}]),
    ),
    scenario(
        "metadata_empty_values",
        "l2",
        add(["a"], [[1, 1]], metadatas=[{}]),
        add(["a"], [[1, 1]], metadatas=[{"l": []}]),
        add(["a"], [[1, 1]], metadatas=[{"k": 1}]),
        update(["a"], metadatas=[{"l": []}]),
        upsert(["a"], [[1, 1]], metadatas=[{}]),
    ),
    scenario(
        "documents_roundtrip",
        "l2",
        add(
            ["a", "b", "c", "d"],
            [[1, 1], [2, 2], [3, 3], [4, 4]],
            documents=["", "héllo ✓ 漢字\nline two", None, "x" * 300],
        ),
        get(include=["documents"]),
    ),
]


# --- running -----------------------------------------------------------------------------------


def floats(rows):
    return [[float(x) for x in row] for row in rows]


def encode_float(x):
    """JSON cannot hold NaN or the infinities: write them as strings."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def encode_rows(rows):
    return [[encode_float(float(x)) for x in row] for row in rows]


def normalize(result, query_result):
    """A get/query result as JSON: numpy arrays become lists of floats."""
    out = {}
    for key in ("ids", "documents", "metadatas", "uris"):
        out[key] = result.get(key)
    emb = result.get("embeddings")
    if emb is None:
        out["embeddings"] = None
    elif query_result:
        out["embeddings"] = [encode_rows(e) for e in emb]
    else:
        out["embeddings"] = encode_rows(emb)
    if query_result:
        d = result.get("distances")
        out["distances"] = None if d is None else [[encode_float(float(x)) for x in row] for row in d]
    return out


def origin(exc):
    """'backend' if raised inside the Rust bindings, 'client' if by chromadb's Python checks."""
    last = traceback.extract_tb(exc.__traceback__)[-1]
    return "backend" if last.filename.replace("\\", "/").endswith("chromadb/api/rust.py") else "client"


def call(col, op):
    kind = op["op"]
    args = {k: v for k, v in op.items() if k not in ("op", "final")}
    for key in ("embeddings", "query_embeddings"):
        if key in args:
            args[key] = floats(args[key])
    if kind == "add":
        col.add(**args)
        return None
    if kind == "upsert":
        col.upsert(**args)
        return None
    if kind == "update":
        col.update(**args)
        return None
    if kind == "delete":
        r = col.delete(**args)
        return {"deleted": r["deleted"]} if isinstance(r, dict) else {"deleted": r}
    if kind == "get":
        return normalize(col.get(**args), query_result=False)
    if kind == "query":
        return normalize(col.query(**args), query_result=True)
    if kind == "count":
        return {"count": col.count()}
    raise ValueError(f"unknown op {kind}")


def existing_before_delete(col, ids):
    """How many of `ids` exist now (None when chromadb's `get` rejects these ids)."""
    try:
        return len(col.get(ids=ids, include=[])["ids"])
    except Exception:  # noqa: BLE001 - e.g. duplicate or no ids: delete fails the same way
        return None


def tie_cuts(col, op, result):
    """Per query vector: the tie group the `n_results` cut-off falls in, or None."""
    args = {k: v for k, v in op.items() if k in ("query_embeddings", "ids")}
    args["query_embeddings"] = floats(args["query_embeddings"])
    total = col.count()
    if total == 0:
        return None
    full = col.query(**args, n_results=total, include=["distances"])
    cuts = []
    for got_ids, all_ids, all_d in zip(result["ids"], full["ids"], full["distances"]):
        n = len(got_ids)
        if n == 0 or n != op["n_results"] or len(all_ids) <= n or all_d[n] != all_d[n - 1]:
            cuts.append(None)
            continue
        d = all_d[n - 1]
        cuts.append({"distance": d, "ids": [i for i, x in zip(all_ids, all_d) if x == d]})
    return cuts if any(cuts) else None


def encode_args(op):
    args = {k: v for k, v in op.items() if k not in ("op", "final")}
    for key in ("embeddings", "query_embeddings"):
        if key in args:
            args[key] = encode_rows(args[key])
    return args


def run(client, sc):
    client.reset()
    col = client.create_collection(
        "parity", configuration={"hnsw": {"space": sc["space"]}}, embedding_function=None
    )
    ops = sc["ops"] + [
        {"op": "get", "include": ALL_GET, "final": True},
        {"op": "count", "final": True},
    ]
    recorded = []
    for op in ops:
        entry = {"op": op["op"], "args": encode_args(op)}
        if op.get("final"):
            entry["final"] = True
        if op["op"] == "delete":
            entry["existing"] = existing_before_delete(col, op["ids"])
        try:
            entry["outcome"] = {"ok": call(col, op)}
            if op["op"] == "query":
                cuts = tie_cuts(col, op, entry["outcome"]["ok"])
                if cuts:
                    entry["tie_cut"] = cuts
        except Exception as exc:  # noqa: BLE001 - recording every outcome is the point
            entry["outcome"] = {
                "error": {"class": type(exc).__name__, "message": str(exc), "origin": origin(exc)}
            }
        recorded.append(entry)
    return {"name": sc["name"], "space": sc["space"], "ops": recorded}


def main():
    names = [s["name"] for s in SCENARIOS]
    dups = {n for n in names if names.count(n) > 1}
    if dups:
        sys.exit(f"duplicate scenario names: {sorted(dups)}")
    client = chromadb.EphemeralClient(settings=Settings(allow_reset=True, anonymized_telemetry=False))
    doc = {
        "chromadb_version": chromadb.__version__,
        "captured": datetime.date.today().isoformat(),
        "generator": "tests/chroma_semantics/capture.py",
        "scenarios": [run(client, sc) for sc in SCENARIOS],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        json.dump(doc, f, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False)
        f.write("\n")
    print(f"{len(SCENARIOS)} scenarios, chromadb {chromadb.__version__} -> {OUT}")


if __name__ == "__main__":
    main()
