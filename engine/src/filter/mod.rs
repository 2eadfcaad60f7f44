//! Chroma's filter language: `where` on metadata and `where_document` on documents.
//!
//! [`parse_filter`] turns the JSON a caller passes to `get` / `query` / `delete` into a
//! [`Filter`] with chromadb 1.5.9's validation and error messages ([`parse`] describes the
//! layers); [`Filter::matches`] evaluates it on one record ([`eval`] describes how). No SQL
//! here: the execution half compiles the same AST to SQL and is tested against this evaluator.
//!
//! ```text
//! Where := {key: literal}                                  shorthand for $eq
//!        | {key: {"$eq"|"$ne": str|int|float|bool}}
//!        | {key: {"$gt"|"$gte"|"$lt"|"$lte": int|float}}
//!        | {key: {"$in"|"$nin": [scalars of one type, non-empty]}}
//!        | {key: {"$contains"|"$not_contains": scalar}}      membership in array metadata
//!        | {"#document": {"$contains"|"$not_contains": str}} a document test inside where
//!        | {"$and"|"$or": [Where, Where, ...]}              >= 2 (client), any (backend)
//! WhereDocument := {"$contains"|"$not_contains"|"$regex"|"$not_regex": non-empty str}
//!        | {"$and"|"$or": [WhereDocument, WhereDocument, ...]}
//! ```
//!
//! # Type semantics
//!
//! Every row was checked against the real chromadb 1.5.9 (local `EphemeralClient`, SQLite
//! backend) by the cases named in the last column, recorded by
//! `tests/chroma_semantics/capture_filters.py` in `engine/tests/data/chroma_filters.json` and
//! replayed by this module's tests (which also check that every case named here exists).
//! The engine does the same unless the row says otherwise.
//!
//! | question | chromadb 1.5.9 | cases |
//! |---|---|---|
//! | Does `{"n": 1}` match a stored `1.0`, and `{"n": 1.0}` a stored `1`? | Yes: ints and floats compare as numbers (also `$gt`..., `$in`). | `eq_shorthand_int_matches_int_and_float`, `eq_shorthand_float_matches_int_and_float`, `in_int` |
//! | Does `{"b": 1}` match a stored `True`, `{"n": 0}` a stored `False`? | No: booleans only equal booleans. | `eq_int_one_not_true`, `eq_int_zero_not_false`, `eq_bool_true_only_bools`, `in_bool` |
//! | Does a string `"1"` equal the int `1`? | No. | `eq_str_digit_not_int`, `in_str_not_int` |
//! | A float operand against a stored int? | Compared as `operand as i64` (truncated toward zero, saturating): `{"n": 1.5}` matches `1`, `$lt 0.5` misses `0`, `$gte 0.5` and `$gt -0.5` behave like `0`, `$in [1.5]` matches `1`, `1e300` is `i64::MAX`. | `eq_float_operand_truncates_for_int_column`, `eq_negative_float_operand_truncates`, `lt_float_operand_truncates`, `gte_float_operand_truncates`, `gt_negative_float_operand_truncates`, `in_float_operand_truncates`, `nin_float_operand_truncates`, `ne_float_operand_truncates`, `lt_huge_float_saturates`, `gt_negative_huge_float_saturates` |
//! | An int operand against a stored float beyond 2^53? | Compared as `operand as f64`: `{"big": 2**53 + 1}` matches a stored `2.0**53`. | `eq_int_operand_rounds_for_float_column`, `gte_int_on_float_column_rounds`, `eq_int_exact_for_int_column` |
//! | Integer operands beyond `i64`? | `2**63 ..= 2**64-1`: `Invalid where clause`; `>= 2**64`: read as a float. | `eq_u64_beyond_i64_rejected`, `eq_beyond_u64_is_a_float` |
//! | Is `-0.0` equal to `0`? | Yes. | `eq_float_zero_matches_negative_zero`, `eq_int_zero_matches_negative_zero` |
//! | Do `$ne` / `$nin` match records without the key, or with metadata `None`? | Yes: they are the exact negation of `$eq` / `$in`. | `ne_int_matches_missing_none_lists_and_bools`, `ne_missing_key_matches_all`, `nin_int`, `nin_str_matches_missing_key` |
//! | `$gt` on a string-, bool- or list-valued key? | Never matches (the operand must be a number: a string operand is a client `ValueError`, a bool operand a backend `Invalid where clause`). | `gt_never_matches_strings`, `gt_never_matches_bools`, `gt_never_matches_lists`, `gt_string_operand`, `gt_bool_operand` |
//! | `$eq` / `$in` on an array-valued key? | Never match (no element test); `$ne` / `$nin` always match. | `eq_never_matches_list_int`, `eq_never_matches_list_str`, `in_never_matches_lists`, `ne_on_list_key_always_matches`, `nin_always_matches_lists` |
//! | `$contains` on a scalar key? | Never matches; `$not_contains` matches every record (scalars, missing key, no metadata). | `contains_never_matches_scalars`, `not_contains_matches_scalars_and_missing` |
//! | `$contains` with an int on an int list; ints vs floats vs bools inside lists? | Element of exactly the operand's type: `2` is in `[1, 2, 3]`, `1` is not in `[1.0, 2.5]`, `2.0` is not in `[2]`, `1` is not in `[True]`. | `contains_int`, `contains_float`, `contains_bool`, `contains_str`, `contains_int_not_in_float_list`, `contains_float_not_in_int_list`, `contains_int_not_in_bool_list` |
//! | Records with no document under `$not_contains` / `$not_regex`? | Match (and never match `$contains` / `$regex`). | `doc_not_contains_matches_no_document`, `doc_not_regex_matches_no_document`, `where_document_key_not_contains` |
//! | Document `$contains`? | Case-sensitive substring; `%`, `_`, `\` and quotes are literal; unicode compared exactly. | `doc_contains_case_sensitive`, `doc_contains_unicode_case`, `doc_contains_percent_is_literal`, `doc_contains_underscore_is_literal`, `doc_contains_backslash`, `doc_contains_quote` |
//! | Document `$regex`? | Rust `regex` syntax, matches anywhere (find); `^` / `$` anchor the whole text unless `(?m)`, `.` skips `\n` unless `(?s)`; look-around and byte classes (`(?-u)\w`) are refused. | `doc_regex_matches_anywhere`, `doc_regex_anchor`, `doc_regex_end_anchor_not_multiline`, `doc_regex_multiline_flag`, `doc_regex_dot_not_newline`, `doc_regex_dot_all_flag`, `doc_regex_lookahead_unsupported`, `doc_regex_byte_class`, `doc_regex_unclosed_group` |
//! | `{"#document": ...}` in `where`? | `$contains` / `$not_contains` with a string test the document; `$regex` / `$not_regex` are refused by the client but accepted by the backend; string `$eq $ne $in $nin` fail with `Cannot filter using metadata key '#document' with type 'Str' because indexing is disabled`; numbers match nothing. | `where_document_key_contains`, `where_document_key_contains_int`, `where_document_key_regex`, `where_document_key_eq_str`, `where_document_key_in_str`, `where_document_key_eq_int` |
//! | The key `chroma:document` in `where`? | It is where chromadb's SQLite stores documents, so `$eq $ne $in $nin` compare the document as a string (`$contains` does not). | `chroma_document_key_eq`, `chroma_document_key_empty_document`, `chroma_document_key_in`, `chroma_document_key_ne`, `chroma_document_key_contains_is_array_op` |
//! | `$and` / `$or` with one or no children? | Client: `ValueError` (at least two). Backend: one child is that child, `$and: []` matches everything, `$or: []` nothing. | `and_one_child`, `or_one_child`, `and_no_children`, `or_no_children`, `doc_and_no_children` |
//! | Empty strings in `where_document`? | Client: `ValueError`. Backend: `$contains ""` matches every record with a document. | `doc_contains_empty`, `doc_not_contains_empty`, `doc_regex_empty` |
//! | How deep may a filter nest? | 127 nested JSON arrays/objects (63 `$and` levels around a shorthand); 128 give `Invalid where clause` / `Invalid where document clause`. From about 600 levels chromadb's Python fails first with `RecursionError`; the engine keeps answering `Invalid where clause`, at any depth and without recursion. | `and_depth_63_127_levels`, `and_depth_63_128_levels`, `and_depth_63_128_levels_in_sibling`, `and_depth_200`, `and_depth_600`, `doc_and_depth_63`, `doc_and_depth_64` |
//! | A regex whose compiled program is too big (`\w{1000}{1000}`)? | chromadb accepts it and the query fails with `InternalError: ... (code: 1043) constraint failed`; the engine refuses it when parsing: `Unexpected regex error: Compiled regex exceeds size limit ...`. | `doc_regex_too_big_to_compile` |

mod ast;
mod eval;
mod parse;
mod pyrepr;
#[cfg(test)]
mod tests;

pub(crate) use ast::{
    CHROMA_DOCUMENT_KEY, CmpOp, Filter, Scalar, ScalarList, Where, WhereDocument,
};
pub(crate) use eval::{Stored, array_contains, compare, in_list};
#[cfg(test)]
pub(crate) use parse::{
    INVALID_WHERE, INVALID_WHERE_DOCUMENT, MAX_JSON_DEPTH, parse_where, parse_where_document,
};
pub(crate) use parse::{Validation, check_client, parse_filter};
pub(crate) use pyrepr::{py_str, py_type_name};
