#!/usr/bin/env python3
"""Capture chromadb 1.5.9's filter language (`where`, `where_document`) as data.

One collection holds RECORDS (ints, floats incl. 1.0 vs 1, bools, strings, lists of each type,
missing keys, records without metadata or document, unicode documents, hostile keys). Every
case in CASES is a `get(where=..., where_document=...)` on it, asked twice:

* `client`: through `Collection.get`, i.e. chromadb's Python validation and then the backend;
  what a `chromadb` user sees. Python validation errors end in " in get.".
* `backend`: straight into the Rust bindings (`bindings.get` with `json.dumps` of the filters,
  as `chromadb/api/rust.py` calls it), i.e. only the Rust frontend's parsing and checks; what
  chroma's HTTP server does with a request that no Python client validated.

Both outcomes are recorded, `{"ok": [matching ids in the order chromadb returns them]}` or
`{"error": {"class", "message"}}` (the client side adds `origin`: "backend" when the exception
came out of the bindings, "client" when chromadb's Python code raised it). The output,
`engine/tests/data/chroma_filters.json`, is replayed by the unit test in
`engine/src/filter/tests.rs` on mnemodb's filter parser and evaluator.

Regenerate (from the repository root; PyPI is the only network access needed):

    python3 -m venv /tmp/chromavenv && /tmp/chromavenv/bin/pip install chromadb==1.5.9
    ANONYMIZED_TELEMETRY=False /tmp/chromavenv/bin/python tests/chroma_semantics/capture_filters.py

Conventions of the output (the Rust side relies on them):

* Embeddings are explicit and irrelevant (every record has [1, 0]); `include=[]`.
* `records` are read back from chromadb after the add (`get` with metadatas and documents), in
  insertion order, so they show what chromadb stored.
* A case has `where` and/or `where_document` only when it passes them. Filters too deep to
  store in this file (serde_json, like chromadb's backend, refuses JSON nested more than 127
  levels) are described by `generated`: {"target": "where" | "where_document", "depth": d,
  "sibling": s, "leaf": l}, meaning: start with l, then d times wrap it as
  {"$and": [s, <previous>]}.
* Dicts with several keys are written with their keys sorted, because the Rust side holds JSON
  objects in sorted order and chromadb's messages print dicts in insertion order.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import traceback
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import chromadb  # noqa: E402
from chromadb.config import Settings  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "engine" / "tests" / "data" / "chroma_filters.json"

LONG_KEY = "k" * 10240
HOSTILE_KEYS = ["it's \"q\"", "k; DROP TABLE embeddings;--", "ключ🔑", "%_\\", "a$b"]

# (id, metadata, document), in insertion order.
RECORDS = [
    ("int1", {"n": 1, "s": "a", "b": True, "tags": ["x", "y"], "ints": [1, 2, 3]}, "hello world"),
    ("float1", {"n": 1.0, "s": "b", "b": False, "floats": [1.0, 2.5]}, "Hello World"),
    ("int0", {"n": 0, "s": "", "bools": [True], "z": 0}, "The quick brown fox"),
    ("float15", {"n": 1.5, "s": "A", "ints": [2], "floats": [2.0]}, "50% off_price"),
    ("negint", {"n": -2, "s": "ä", "f": -0.5}, "C:\\path\\file"),
    ("negfloat", {"n": -0.5, "tags": ["x"], "z": -0.0}, "Grüße, 世界! 🚀"),
    ("big", {"big": 2**53 + 1, "n2": 2**63 - 1}, "ÉCOLE école"),
    ("bigf", {"big": float(2**53), "n2": -(2**63)}, "line one\nline two"),
    ("booltrue", {"n": True, "b": True}, "tab\tseparated"),
    ("boolfalse", {"n": False, "b": False, "bools": [False, True]}, "it's \"quoted\""),
    ("strdigit", {"n": "1", "s": "1"}, "hello"),
    ("strlist", {"n": ["1", "a"], "tags": ["y", ""]}, "a.b*c+?"),
    ("intlist", {"n": [1, 2]}, "1 2 3"),
    ("floatlist", {"n": [1.0, 2.5]}, "HELLO"),
    ("boollist", {"n": [True, False]}, "ʜᴇʟʟᴏ"),
    ("nometa", None, "hello again"),
    ("nodoc", {"n": 3, "s": "a"}, None),
    ("nothing", None, None),
    ("emptydoc", {"n": 4}, ""),
    (
        "hostile",
        {
            HOSTILE_KEYS[0]: 1,
            HOSTILE_KEYS[1]: "x",
            HOSTILE_KEYS[2]: "значение",
            HOSTILE_KEYS[3]: 2,
            HOSTILE_KEYS[4]: 3,
            LONG_KEY: 5,
            "s": "'; DROP TABLE x; --",
        },
        "'; DROP TABLE embeddings; --",
    ),
]


def case(name, where=None, where_document=None, generated=None):
    c = {"name": name}
    if where is not None:
        c["where"] = where
    if where_document is not None:
        c["where_document"] = where_document
    if generated is not None:
        c["generated"] = generated
    return c


def W(name, where):  # noqa: N802 - reads like a table
    return case(name, where=where)


def D(name, where_document):  # noqa: N802
    return case(name, where_document=where_document)


def deep(name, target, depth, sibling, leaf):
    return case(name, generated={"target": target, "depth": depth, "sibling": sibling, "leaf": leaf})


CASES = [
    # -- equality and numeric types ---------------------------------------------------------------
    W("eq_shorthand_int_matches_int_and_float", {"n": 1}),
    W("eq_shorthand_float_matches_int_and_float", {"n": 1.0}),
    W("eq_op_int", {"n": {"$eq": 1}}),
    W("eq_bool_true_only_bools", {"n": True}),
    W("eq_bool_false_only_bools", {"n": False}),
    W("eq_int_zero_not_false", {"n": 0}),
    W("eq_int_one_not_true", {"b": 1}),
    W("eq_op_bool_true", {"b": {"$eq": True}}),
    W("eq_str", {"s": "a"}),
    W("eq_str_case_sensitive", {"s": "A"}),
    W("eq_str_empty", {"s": ""}),
    W("eq_str_digit_not_int", {"n": "1"}),
    W("eq_str_unicode", {"s": "ä"}),
    W("eq_float_operand_truncates_for_int_column", {"n": 1.5}),
    W("eq_negative_float_operand_truncates", {"n": -0.5}),
    W("eq_float_zero_matches_negative_zero", {"z": 0.0}),
    W("eq_int_zero_matches_negative_zero", {"z": 0}),
    W("eq_int_operand_rounds_for_float_column", {"big": 2**53 + 1}),
    W("eq_int_exact_for_int_column", {"big": 2**53 - 1}),
    W("eq_float_operand_2_53", {"big": float(2**53)}),
    W("eq_i64_max", {"n2": 2**63 - 1}),
    W("eq_i64_min", {"n2": -(2**63)}),
    W("eq_u64_beyond_i64_rejected", {"n2": 2**63}),
    W("eq_beyond_u64_is_a_float", {"n2": 2**64}),
    W("eq_never_matches_list_int", {"ints": 1}),
    W("eq_never_matches_list_str", {"tags": "x"}),
    W("eq_missing_key", {"nokey": 1}),
    W("eq_empty_key", {"": 1}),
    W("eq_hash_prefixed_key", {"#other": 1}),
    W("eq_embedding_key", {"#embedding": "x"}),
    # -- $ne --------------------------------------------------------------------------------------
    W("ne_int_matches_missing_none_lists_and_bools", {"n": {"$ne": 1}}),
    W("ne_bool", {"n": {"$ne": True}}),
    W("ne_str", {"s": {"$ne": "a"}}),
    W("ne_float_operand_truncates", {"n": {"$ne": 1.5}}),
    W("ne_on_list_key_always_matches", {"tags": {"$ne": "x"}}),
    W("ne_missing_key_matches_all", {"nokey": {"$ne": 0}}),
    # -- ordering -----------------------------------------------------------------------------------
    W("gt_int", {"n": {"$gt": 0}}),
    W("gte_int", {"n": {"$gte": 1}}),
    W("lt_int", {"n": {"$lt": 1}}),
    W("lte_float", {"n": {"$lte": 1.0}}),
    W("gt_float", {"n": {"$gt": 1.2}}),
    W("lt_float_operand_truncates", {"n": {"$lt": 0.5}}),
    W("gte_float_operand_truncates", {"n": {"$gte": 0.5}}),
    W("gt_negative_float_operand_truncates", {"n": {"$gt": -0.5}}),
    W("lte_negative_int", {"n": {"$lte": -1}}),
    W("gt_never_matches_strings", {"s": {"$gt": 0}}),
    W("gt_never_matches_bools", {"b": {"$gte": 0}}),
    W("gt_never_matches_lists", {"ints": {"$gt": 0}}),
    W("lt_huge_float_saturates", {"n2": {"$lt": 1e300}}),
    W("gt_negative_huge_float_saturates", {"n2": {"$gt": -1e300}}),
    W("gt_float_operand_2_53", {"big": {"$gt": float(2**53)}}),
    W("gte_int_on_float_column_rounds", {"big": {"$gte": 2**53 + 1}}),
    W("lt_i64_max", {"n2": {"$lt": 2**63 - 1}}),
    # -- $in / $nin ---------------------------------------------------------------------------------
    W("in_int", {"n": {"$in": [1, 3]}}),
    W("in_float", {"n": {"$in": [1.5, -0.5]}}),
    W("in_float_operand_truncates", {"n": {"$in": [1.5]}}),
    W("in_str", {"s": {"$in": ["a", "ä"]}}),
    W("in_bool", {"n": {"$in": [True]}}),
    W("in_str_not_int", {"n": {"$in": ["1"]}}),
    W("nin_int", {"n": {"$nin": [1]}}),
    W("nin_float_operand_truncates", {"n": {"$nin": [1.5]}}),
    W("nin_str_matches_missing_key", {"s": {"$nin": ["a", ""]}}),
    W("in_never_matches_lists", {"tags": {"$in": ["x", "y"]}}),
    W("nin_always_matches_lists", {"tags": {"$nin": ["x", "y"]}}),
    W("in_mixed_int_float_rejected", {"n": {"$in": [1, 2.5]}}),
    W("in_mixed_float_int", {"n": {"$in": [1.5, 1]}}),
    W("in_mixed_int_bool", {"n": {"$in": [1, True]}}),
    W("in_mixed_bool_int", {"n": {"$in": [True, 1]}}),
    W("in_mixed_str_int", {"n": {"$in": ["a", 1]}}),
    W("in_empty", {"n": {"$in": []}}),
    W("nin_empty", {"n": {"$nin": []}}),
    W("in_nested_lists", {"n": {"$in": [[1], [2]]}}),
    W("in_none", {"n": {"$in": [None]}}),
    W("in_u64_beyond_i64", {"n2": {"$in": [2**63]}}),
    W("in_float_list_with_u64", {"n2": {"$in": [1.5, 2**63]}}),
    W("in_not_a_list", {"n": {"$in": 1}}),
    W("nin_dict_operand", {"n": {"$nin": {"a": 1}}}),
    # -- $contains / $not_contains on array metadata -------------------------------------------------
    W("contains_str", {"tags": {"$contains": "x"}}),
    W("contains_empty_str_element", {"tags": {"$contains": ""}}),
    W("not_contains_str", {"tags": {"$not_contains": "x"}}),
    W("contains_int", {"ints": {"$contains": 2}}),
    W("contains_int_not_in_float_list", {"floats": {"$contains": 1}}),
    W("contains_float", {"floats": {"$contains": 2.0}}),
    W("contains_float_not_in_int_list", {"ints": {"$contains": 2.0}}),
    W("contains_bool", {"bools": {"$contains": True}}),
    W("contains_int_not_in_bool_list", {"bools": {"$contains": 1}}),
    W("contains_mixed_key", {"n": {"$contains": "1"}}),
    W("contains_never_matches_scalars", {"s": {"$contains": "a"}}),
    W("not_contains_matches_scalars_and_missing", {"s": {"$not_contains": "a"}}),
    W("contains_list_operand", {"tags": {"$contains": ["x"]}}),
    W("contains_dict_operand", {"tags": {"$contains": {"a": 1}}}),
    W("contains_none_operand", {"tags": {"$contains": None}}),
    W("contains_as_top_level_key", {"$contains": "x"}),
    W("not_contains_as_top_level_key", {"$not_contains": "x"}),
    # -- the special keys #document and chroma:document ------------------------------------------------
    W("where_document_key_contains", {"#document": {"$contains": "hello"}}),
    W("where_document_key_not_contains", {"#document": {"$not_contains": "hello"}}),
    W("where_document_key_contains_empty_str", {"#document": {"$contains": ""}}),
    W("where_document_key_contains_int", {"#document": {"$contains": 1}}),
    W("where_document_key_not_contains_bool", {"#document": {"$not_contains": True}}),
    W("where_document_key_regex", {"#document": {"$regex": "^h"}}),
    W("where_document_key_not_regex", {"#document": {"$not_regex": "o$"}}),
    W("where_document_key_bad_regex", {"#document": {"$regex": "("}}),
    W("where_document_key_eq_str", {"#document": "hello world"}),
    W("where_document_key_ne_str", {"#document": {"$ne": "x"}}),
    W("where_document_key_in_str", {"#document": {"$in": ["x"]}}),
    W("where_document_key_eq_int", {"#document": 1}),
    W("where_document_key_inside_and", {"$and": [{"n": 1}, {"#document": "x"}]}),
    W("chroma_document_key_eq", {"chroma:document": "hello world"}),
    W("chroma_document_key_empty_document", {"chroma:document": ""}),
    W("chroma_document_key_in", {"chroma:document": {"$in": ["hello", "HELLO", "nope"]}}),
    W("chroma_document_key_ne", {"chroma:document": {"$ne": "hello"}}),
    W("chroma_document_key_contains_is_array_op", {"chroma:document": {"$contains": "hello"}}),
    W("regex_on_metadata_key", {"s": {"$regex": "a"}}),
    W("not_regex_on_metadata_key", {"s": {"$not_regex": "a"}}),
    # -- $and / $or ------------------------------------------------------------------------------------
    W("and_two", {"$and": [{"n": {"$gte": 0}}, {"s": {"$ne": "a"}}]}),
    W("or_two", {"$or": [{"n": 1}, {"s": "ä"}]}),
    W("and_three", {"$and": [{"n": {"$gt": -1}}, {"n": {"$lt": 2}}, {"b": False}]}),
    W(
        "nested_and_or",
        {"$or": [{"$and": [{"n": {"$gte": 1}}, {"tags": {"$contains": "x"}}]}, {"$and": [{"s": "a"}, {"n": 3}]}]},
    ),
    W("or_with_document_key", {"$or": [{"#document": {"$contains": "hello"}}, {"n": 3}]}),
    W("and_one_child", {"$and": [{"n": 1}]}),
    W("or_one_child", {"$or": [{"n": 1}]}),
    W("and_no_children", {"$and": []}),
    W("or_no_children", {"$or": []}),
    W("and_not_a_list", {"$and": {"n": 1}}),
    W("or_string", {"$or": "x"}),
    W("and_with_invalid_child", {"$and": [{"n": 1}, {"n": {"$foo": 1}}]}),
    W("and_children_not_dicts", {"$and": ["a", "b"]}),
    W("and_children_numbers", {"$and": [1, 2]}),
    # -- structure errors --------------------------------------------------------------------------------
    W("empty_where", {}),
    W("two_keys", {"a": 1, "b": 2}),
    W("operator_dict_empty", {"n": {}}),
    W("operator_dict_two_operators", {"n": {"$eq": 1, "$ne": 2}}),
    W("unknown_operator", {"n": {"$foo": 1}}),
    W("unknown_operator_like", {"s": {"$like": "a%"}}),
    W("gt_string_operand", {"n": {"$gt": "a"}}),
    W("lte_string_operand", {"n": {"$lte": "1"}}),
    W("gt_bool_operand", {"n": {"$gt": True}}),
    W("gt_list_operand", {"n": {"$gt": [1]}}),
    W("gt_none_operand", {"n": {"$gt": None}}),
    W("eq_list_operand", {"n": {"$eq": [1, 2]}}),
    W("ne_none_operand", {"n": {"$ne": None}}),
    W("eq_dict_operand", {"n": {"$eq": {"$eq": 1}}}),
    W("value_list", {"n": [1, 2]}),
    W("value_none", {"n": None}),
    W("top_level_unknown_dollar_key", {"$foo": 1}),
    W("top_level_in", {"$in": [1]}),
    W("top_level_gt", {"$gt": 1}),
    W("top_level_in_with_operator_dict", {"$in": {"$eq": 1}}),
    W("where_is_a_string", "a"),
    W("where_is_a_list", [{"n": 1}]),
    W("where_is_a_number", 1),
    # -- message formatting (Python repr of the offending value) ---------------------------------------------
    W("repr_unicode_and_soft_hyphen", {"$and": [{"ключ🔑": "a\u00adb\u200bc"}]}),
    W("repr_quotes_and_escapes", {"$or": [{"it's": "a\tb\n\"c\"\\"}]}),
    W("repr_double_quote_only", {"$or": ['say "hi"']}),
    W("repr_floats", {"$or": [{"n": {"$in": [1e16, 1e15, 0.0001, 1e-05, -0.0, 1.5e300, 123456789.125, 0.1]}}]}),
    W("repr_nested", {"$and": [{"$or": [{"a": True}, {"b": None}]}]}),
    W("repr_control_chars", {"$and": [{"k": "\x00\x1f\x7f\x85\xa0\u2028\ue000\U0001f600"}]}),
    # -- hostile keys and values -----------------------------------------------------------------------------
    W("hostile_quote_key", {HOSTILE_KEYS[0]: 1}),
    W("hostile_sql_key", {HOSTILE_KEYS[1]: "x"}),
    W("hostile_unicode_key", {HOSTILE_KEYS[2]: "значение"}),
    W("hostile_like_wildcards_key", {HOSTILE_KEYS[3]: {"$gte": 2}}),
    W("hostile_dollar_inside_key", {HOSTILE_KEYS[4]: {"$in": [3, 4]}}),
    W("hostile_10kb_key", {LONG_KEY: {"$lt": 6}}),
    W("hostile_sql_value", {"s": "'; DROP TABLE x; --"}),
    W("hostile_key_ne", {HOSTILE_KEYS[1]: {"$ne": "x"}}),
    # -- where_document -----------------------------------------------------------------------------------
    D("doc_contains", {"$contains": "hello"}),
    D("doc_contains_case_sensitive", {"$contains": "Hello"}),
    D("doc_contains_unicode", {"$contains": "世界"}),
    D("doc_contains_unicode_case", {"$contains": "É"}),
    D("doc_contains_emoji", {"$contains": "🚀"}),
    D("doc_contains_percent_is_literal", {"$contains": "%"}),
    D("doc_contains_underscore_is_literal", {"$contains": "_"}),
    D("doc_contains_backslash", {"$contains": "\\path"}),
    D("doc_contains_quote", {"$contains": "'"}),
    D("doc_contains_newline", {"$contains": "one\nline"}),
    D("doc_contains_short", {"$contains": "o"}),
    D("doc_not_contains_matches_no_document", {"$not_contains": "hello"}),
    D("doc_regex_anchor", {"$regex": "^h"}),
    D("doc_regex_end_anchor_not_multiline", {"$regex": "one$"}),
    D("doc_regex_multiline_flag", {"$regex": "(?m)one$"}),
    D("doc_regex_dot_not_newline", {"$regex": "one.line"}),
    D("doc_regex_dot_all_flag", {"$regex": "(?s)one.line"}),
    D("doc_regex_case_insensitive_flag", {"$regex": "(?i)^hello"}),
    D("doc_regex_unicode_class", {"$regex": "\\p{Han}"}),
    D("doc_regex_word_boundary", {"$regex": "\\bworld\\b"}),
    D("doc_regex_metachar_escaped", {"$regex": "\\.b\\*c\\+\\?"}),
    D("doc_regex_matches_anywhere", {"$regex": "ick"}),
    D("doc_regex_posix_class", {"$regex": "^[[:digit:]]"}),
    D("doc_not_regex_matches_no_document", {"$not_regex": "o"}),
    D("doc_regex_unclosed_group", {"$regex": "("}),
    D("doc_regex_lookahead_unsupported", {"$regex": "(?=a)"}),
    D("doc_regex_bad_escape", {"$regex": "a\\Kb"}),
    D("doc_regex_byte_class", {"$regex": "(?-u)\\w"}),
    D("doc_regex_byte_case_insensitive", {"$regex": "(?i-u)a"}),
    D("doc_regex_ascii_literal_without_unicode", {"$regex": "(?-u)a"}),
    D("doc_regex_too_big_to_compile", {"$regex": "\\w{1000}{1000}"}),
    D("doc_contains_empty", {"$contains": ""}),
    D("doc_not_contains_empty", {"$not_contains": ""}),
    D("doc_regex_empty", {"$regex": ""}),
    D("doc_contains_int", {"$contains": 1}),
    D("doc_regex_none", {"$regex": None}),
    D("doc_unknown_operator", {"$eq": "x"}),
    D("doc_metadata_style", {"n": 1}),
    D("doc_empty", {}),
    D("doc_two_operators", {"$contains": "a", "$regex": "b"}),
    D("doc_and", {"$and": [{"$contains": "hello"}, {"$not_contains": "again"}]}),
    D("doc_or", {"$or": [{"$contains": "🚀"}, {"$regex": "^[0-9]"}]}),
    D("doc_nested", {"$and": [{"$or": [{"$contains": "o"}, {"$contains": "O"}]}, {"$not_regex": "\\s"}]}),
    D("doc_and_one_child", {"$and": [{"$contains": "hello"}]}),
    D("doc_and_no_children", {"$and": []}),
    D("doc_or_no_children", {"$or": []}),
    D("doc_and_not_a_list", {"$and": {"$contains": "a"}}),
    D("doc_and_with_metadata_child", {"$and": [{"$contains": "a"}, {"n": 1}]}),
    D("doc_and_bad_regex_child", {"$or": [{"$contains": "a"}, {"$regex": "["}]}),
    D("doc_is_a_string", "hello"),
    case("where_and_where_document", where={"n": {"$gte": 0}}, where_document={"$contains": "o"}),
    case("both_invalid_where_reported_first", where={"n": {"$foo": 1}}, where_document={"$foo": "x"}),
    case("both_invalid_backend_where_first", where={"n": {"$eq": [1]}}, where_document={"$regex": "("}),
    case("valid_where_bad_where_document", where={"n": 1}, where_document={"$contains": 5}),
    # -- nesting depth ------------------------------------------------------------------------------------
    W("and_depth_5", {"$and": [{"n": {"$gte": 0}}, {"$and": [{"n": {"$lte": 3}}, {"$or": [{"s": "a"}, {"$and": [{"b": False}, {"$or": [{"n": 0}, {"n": 1.5}]}]}]}]}]}),
    # {"$and": [{"s": "a"}, ...]} 63 times around {"n": 1}: 127 nested JSON containers.
    deep("and_depth_63_127_levels", "where", 63, {"s": "a"}, {"n": 1}),
    deep("and_depth_63_128_levels", "where", 63, {"s": "a"}, {"n": {"$eq": 1}}),
    deep("and_depth_63_128_levels_in_sibling", "where", 63, {"s": {"$ne": "b"}}, {"n": 1}),
    deep("and_depth_64", "where", 64, {"s": "a"}, {"n": 1}),
    deep("and_depth_200", "where", 200, {"s": "a"}, {"n": 1}),
    deep("and_depth_200_bad_leaf", "where", 200, {"s": "a"}, {"n": {"$foo": 1}}),
    deep("and_depth_600", "where", 600, {"s": "a"}, {"n": 1}),
    deep("doc_and_depth_63", "where_document", 63, {"$contains": "o"}, {"$contains": "l"}),
    deep("doc_and_depth_64", "where_document", 64, {"$contains": "o"}, {"$contains": "l"}),
]


def build_generated(g):
    w = g["leaf"]
    for _ in range(g["depth"]):
        w = {"$and": [g["sibling"], w]}
    return w


def filters_of(c):
    where = c.get("where")
    where_document = c.get("where_document")
    if "generated" in c:
        built = build_generated(c["generated"])
        if c["generated"]["target"] == "where":
            where = built
        else:
            where_document = built
    return where, where_document


def origin(exc):
    """'backend' if raised inside the Rust bindings, 'client' if by chromadb's Python checks."""
    last = traceback.extract_tb(exc.__traceback__)[-1]
    return "backend" if last.filename.replace("\\", "/").endswith("chromadb/api/rust.py") else "client"


def error(exc, with_origin):
    e = {"class": type(exc).__name__, "message": str(exc)}
    if with_origin:
        e["origin"] = origin(exc)
    return {"error": e}


def run_client(col, where, where_document):
    try:
        return {"ok": col.get(where=where, where_document=where_document, include=[])["ids"]}
    except Exception as exc:  # noqa: BLE001 - recording every outcome is the point
        return error(exc, with_origin=True)


def run_backend(client, col, where, where_document):
    try:
        w = None if where is None else json.dumps(where)
        d = None if where_document is None else json.dumps(where_document)
        r = client._server.bindings.get(
            str(col.id), None, w, None, 0, d, [], col.tenant, col.database
        )
        return {"ok": list(r.ids)}
    except Exception as exc:  # noqa: BLE001
        return error(exc, with_origin=False)


def check_sorted_keys(value, path):
    if isinstance(value, dict):
        if list(value) != sorted(value):
            sys.exit(f"{path}: dict keys must be sorted (see the module docstring)")
        for v in value.values():
            check_sorted_keys(v, path)
    elif isinstance(value, list):
        for v in value:
            check_sorted_keys(v, path)


def main():
    names = [c["name"] for c in CASES]
    dups = {n for n in names if names.count(n) > 1}
    if dups:
        sys.exit(f"duplicate case names: {sorted(dups)}")
    for c in CASES:
        for key in ("where", "where_document"):
            if key in c:
                check_sorted_keys(c[key], c["name"])
        if "generated" in c:
            check_sorted_keys([c["generated"]["sibling"], c["generated"]["leaf"]], c["name"])

    client = chromadb.EphemeralClient(settings=Settings(allow_reset=True, anonymized_telemetry=False))
    client.reset()
    col = client.create_collection("filters", embedding_function=None)
    col.add(
        ids=[r[0] for r in RECORDS],
        embeddings=[[1.0, 0.0]] * len(RECORDS),
        metadatas=[r[1] for r in RECORDS],
        documents=[r[2] for r in RECORDS],
    )
    stored = col.get(include=["metadatas", "documents"])
    records = [
        {"id": i, "metadata": m, "document": d}
        for i, m, d in zip(stored["ids"], stored["metadatas"], stored["documents"])
    ]
    if [r["id"] for r in records] != [r[0] for r in RECORDS]:
        sys.exit("chromadb did not return the records in insertion order")

    cases = []
    for c in CASES:
        where, where_document = filters_of(c)
        entry = dict(c)
        entry["client"] = run_client(col, where, where_document)
        entry["backend"] = run_backend(client, col, where, where_document)
        cases.append(entry)

    doc = {
        "chromadb_version": chromadb.__version__,
        "captured": datetime.date.today().isoformat(),
        "generator": "tests/chroma_semantics/capture_filters.py",
        "records": records,
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        json.dump(doc, f, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False)
        f.write("\n")
    print(f"{len(cases)} cases over {len(records)} records, chromadb {chromadb.__version__} -> {OUT}")


if __name__ == "__main__":
    main()
