//! JSON filters to the AST, with chromadb 1.5.9's validation, in chromadb's order and words.
//!
//! chromadb checks a filter in layers, and so does [`parse_filter`]:
//!
//! 1. **Client** ([`check_client`], or [`Validation::Client`]): the Python client's
//!    `validate_where` / `validate_where_document` (`chromadb/api/types.py`), messages such as
//!    `Expected where to have exactly one operator, got {}`, raised as `ValueError` with the
//!    call's ` in get.` (or `query`, `delete`) appended, as chromadb does.
//! 2. **JSON depth**: chromadb's backend reads the filter with serde_json's default recursion
//!    limit, so a filter nested more than [`MAX_JSON_DEPTH`] arrays/objects deep fails with
//!    `Invalid where clause` / `Invalid where document clause`.
//! 3. **Backend** (`rust/types/src/where_parsing.rs`): shapes the client lets through but the
//!    backend refuses (`{"$gt": 1}` as a key, `$gt` with a bool, `$eq` with a list, integers
//!    beyond `i64`, ...) give `Invalid where clause`; regexes are checked as `ChromaRegex` does
//!    (`Regex syntax errror: ...`, sic, or `Byte pattern is not allowed`).
//! 4. **Schema**: with a default collection schema, string comparisons on the key `#document`
//!    are refused (`Cannot filter using metadata key '#document' with type 'Str' because
//!    indexing is disabled`).
//!
//! [`Validation::Backend`] skips layer 1, as chroma's own HTTP server and Rust bindings do
//! (there `{"$and": []}` is valid and matches everything, and `{"#document": {"$regex": ...}}`
//! is accepted). Errors of layers 2 to 4 are [`Error::InvalidArgument`].
//!
//! Layer 1 and 2 walk the JSON with explicit stacks, so no input can overflow the stack; layer
//! 3 recurses, but only after layer 2 bounded the depth.

use regex_syntax::hir::{Class, Hir, HirKind};
use serde_json::{Map, Value};

use super::ast::{CmpOp, DOCUMENT_KEY, DocRegex, Filter, Scalar, ScalarList, Where, WhereDocument};
use super::pyrepr::py_str;
use crate::error::{Error, Op, Result};

/// The deepest nesting of JSON arrays and objects chromadb's backend parses: serde_json's
/// default recursion limit is 128, and the 128th nested container is refused.
pub(crate) const MAX_JSON_DEPTH: usize = 127;

/// The backend's message for any `where` it cannot parse.
pub(crate) const INVALID_WHERE: &str = "Invalid where clause";
/// The backend's message for any `where_document` it cannot parse.
pub(crate) const INVALID_WHERE_DOCUMENT: &str = "Invalid where document clause";

/// Which of chromadb's checks a filter goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validation {
    /// What a `chromadb` Python user gets: the client's checks (worded for the call `Op`),
    /// then the backend's.
    Client(Op),
    /// What chroma's HTTP server and Rust bindings accept: the backend's checks only (the
    /// engine's calls run [`check_client`] first, then this).
    Backend,
}

/// Layer 1 alone: the `chromadb` client's checks of one call's filters, as
/// [`ErrorKind::ValueError`](crate::ErrorKind::ValueError) ending in `" in <op>."`. `None`
/// means "no filter" (callers drop JSON `null` first).
pub(crate) fn check_client(
    r#where: Option<&Value>,
    where_document: Option<&Value>,
    op: Op,
) -> Result<()> {
    if let Some(w) = r#where {
        client_check_where(w).map_err(|m| Error::value(m, op))?;
    }
    if let Some(d) = where_document {
        client_check_where_document(d).map_err(|m| Error::value(m, op))?;
    }
    Ok(())
}

/// Parses the `where` and `where_document` of one call. `None` and JSON `null` mean "no
/// filter", as in chromadb.
pub(crate) fn parse_filter(
    r#where: Option<&Value>,
    where_document: Option<&Value>,
    validation: Validation,
) -> Result<Filter> {
    let r#where = r#where.filter(|v| !v.is_null());
    let where_document = where_document.filter(|v| !v.is_null());
    if let Validation::Client(op) = validation {
        check_client(r#where, where_document, op)?;
    }
    if r#where.is_some_and(|w| json_depth(w) > MAX_JSON_DEPTH) {
        return Err(Error::invalid(INVALID_WHERE));
    }
    if where_document.is_some_and(|d| json_depth(d) > MAX_JSON_DEPTH) {
        return Err(Error::invalid(INVALID_WHERE_DOCUMENT));
    }
    let r#where = r#where
        .map(backend_where)
        .transpose()
        .map_err(Error::InvalidArgument)?;
    let where_document = where_document
        .map(backend_where_document)
        .transpose()
        .map_err(Error::InvalidArgument)?;
    if let Some(w) = &r#where {
        schema_check(w).map_err(Error::InvalidArgument)?;
    }
    Ok(Filter {
        r#where,
        where_document,
    })
}

/// Parses a `where` alone (see [`parse_filter`]).
#[cfg(test)]
pub(crate) fn parse_where(value: &Value, validation: Validation) -> Result<Where> {
    parse_filter(Some(value), None, validation)?
        .r#where
        .ok_or_else(|| Error::invalid(INVALID_WHERE))
}

/// Parses a `where_document` alone (see [`parse_filter`]).
#[cfg(test)]
pub(crate) fn parse_where_document(value: &Value, validation: Validation) -> Result<WhereDocument> {
    parse_filter(None, Some(value), validation)?
        .where_document
        .ok_or_else(|| Error::invalid(INVALID_WHERE_DOCUMENT))
}

// --- layer 1: the Python client's checks ---------------------------------------------------------

/// Python's view of a JSON value's type, for `isinstance` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PyType {
    Str,
    Int,
    Float,
    Bool,
    None,
    List,
    Dict,
}

fn py_type(v: &Value) -> PyType {
    match v {
        Value::String(_) => PyType::Str,
        Value::Number(n) if n.is_f64() => PyType::Float,
        Value::Number(_) => PyType::Int,
        Value::Bool(_) => PyType::Bool,
        Value::Null => PyType::None,
        Value::Array(_) => PyType::List,
        Value::Object(_) => PyType::Dict,
    }
}

/// `isinstance(v, types)`: `bool` is a subclass of `int` in Python.
fn py_isinstance(v: &Value, types: &[PyType]) -> bool {
    let t = py_type(v);
    types
        .iter()
        .any(|&want| want == t || (want == PyType::Int && t == PyType::Bool))
}

const WHERE_OPERATORS: [&str; 10] = [
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$ne",
    "$eq",
    "$in",
    "$nin",
    "$contains",
    "$not_contains",
];

/// The single entry of a one-entry map (the caller checked the length).
fn only_entry(map: &Map<String, Value>) -> Option<(&String, &Value)> {
    map.iter().next()
}

/// `validate_where`, depth first in the same order as Python's recursion.
fn client_check_where(root: &Value) -> Result<(), String> {
    let mut stack = vec![root];
    while let Some(w) = stack.pop() {
        let Value::Object(map) = w else {
            return Err(format!("Expected where to be a dict, got {}", py_str(w)));
        };
        if map.len() != 1 {
            return Err(format!(
                "Expected where to have exactly one operator, got {}",
                py_str(w)
            ));
        }
        let Some((key, value)) = only_entry(map) else {
            continue;
        };
        if key == "$contains" || key == "$not_contains" {
            return Err(format!(
                "Expected where key to be a metadata field name or a logical operator \
                 ($and, $or), got {key}"
            ));
        }
        let logical = key == "$and" || key == "$or";
        if !logical
            && key != "$in"
            && key != "$nin"
            && !py_isinstance(
                value,
                &[PyType::Str, PyType::Int, PyType::Float, PyType::Dict],
            )
        {
            return Err(format!(
                "Expected where value to be a str, int, float, or operator expression, got {}",
                py_str(value)
            ));
        }
        if logical {
            let Value::Array(children) = value else {
                return Err(format!(
                    "Expected where value for $and or $or to be a list of where expressions, \
                     got {}",
                    py_str(value)
                ));
            };
            if children.len() <= 1 {
                return Err(format!(
                    "Expected where value for $and or $or to be a list with at least two where \
                     expressions, got {}",
                    py_str(value)
                ));
            }
            stack.extend(children.iter().rev());
        }
        if let Value::Object(expr) = value {
            if expr.len() != 1 {
                return Err(format!(
                    "Expected operator expression to have exactly one operator, got {}",
                    py_str(value)
                ));
            }
            if let Some((operator, operand)) = only_entry(expr) {
                client_check_operator(key, operator, operand)?;
            }
        }
    }
    Ok(())
}

/// The checks on `{key: {operator: operand}}`, in Python's order.
fn client_check_operator(key: &str, operator: &str, operand: &Value) -> Result<(), String> {
    let op = operator;
    if matches!(op, "$gt" | "$gte" | "$lt" | "$lte")
        && !py_isinstance(operand, &[PyType::Int, PyType::Float])
    {
        return Err(format!(
            "Expected operand value to be an int or a float for operator {op}, got {}",
            py_str(operand)
        ));
    }
    if matches!(op, "$in" | "$nin") && !operand.is_array() {
        return Err(format!(
            "Expected operand value to be an list for operator {op}, got {}",
            py_str(operand)
        ));
    }
    if matches!(op, "$contains" | "$not_contains") {
        if key == DOCUMENT_KEY && !operand.is_string() {
            return Err(format!(
                "Expected operand value to be a str for operator {op} on #document, got {}",
                py_str(operand)
            ));
        }
        if !py_isinstance(
            operand,
            &[PyType::Str, PyType::Int, PyType::Float, PyType::Bool],
        ) {
            return Err(format!(
                "Expected operand value to be a str, int, float, or bool for operator {op}, got {}",
                py_str(operand)
            ));
        }
    }
    if !WHERE_OPERATORS.contains(&op) {
        return Err(format!(
            "Expected where operator to be one of {}, got {op}",
            WHERE_OPERATORS.join(", ")
        ));
    }
    if !py_isinstance(
        operand,
        &[
            PyType::Str,
            PyType::Int,
            PyType::Float,
            PyType::Bool,
            PyType::List,
        ],
    ) {
        return Err(format!(
            "Expected where operand value to be a str, int, float, bool, or list of those type, \
             got {}",
            py_str(operand)
        ));
    }
    if let Value::Array(items) = operand {
        let homogeneous = match items.first() {
            None => false,
            Some(first) => {
                let t = py_type(first);
                items.iter().all(|x| py_isinstance(x, &[t]))
            }
        };
        if !homogeneous {
            return Err(format!(
                "Expected where operand value to be a non-empty list, and all values to be of the \
                 same type got {}",
                py_str(operand)
            ));
        }
    }
    Ok(())
}

const DOCUMENT_OPERATORS: [&str; 6] = [
    "$contains",
    "$not_contains",
    "$regex",
    "$not_regex",
    "$and",
    "$or",
];

/// `validate_where_document`, depth first in Python's order.
fn client_check_where_document(root: &Value) -> Result<(), String> {
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        let Value::Object(map) = d else {
            return Err(format!(
                "Expected where document to be a dictionary, got {}",
                py_str(d)
            ));
        };
        if map.len() != 1 {
            return Err(format!(
                "Expected where document to have exactly one operator, got {}",
                py_str(d)
            ));
        }
        let Some((operator, operand)) = only_entry(map) else {
            continue;
        };
        let op = operator.as_str();
        if !DOCUMENT_OPERATORS.contains(&op) {
            return Err(format!(
                "Expected where document operator to be one of {}, got {op}",
                DOCUMENT_OPERATORS.join(", ")
            ));
        }
        if op == "$and" || op == "$or" {
            let Value::Array(children) = operand else {
                return Err(format!(
                    "Expected document value for $and or $or to be a list of where document \
                     expressions, got {}",
                    py_str(operand)
                ));
            };
            if children.len() <= 1 {
                return Err(format!(
                    "Expected document value for $and or $or to be a list with at least two where \
                     document expressions, got {}",
                    py_str(operand)
                ));
            }
            stack.extend(children.iter().rev());
        } else {
            match operand {
                Value::String(s) if s.is_empty() => {
                    return Err(format!(
                        "Expected where document operand value for operator {op} to be a \
                         non-empty str"
                    ));
                }
                Value::String(_) => {}
                other => {
                    return Err(format!(
                        "Expected where document operand value for operator {op} to be a str, \
                         got {}",
                        py_str(other)
                    ));
                }
            }
        }
    }
    Ok(())
}

// --- layer 2: JSON depth -------------------------------------------------------------------------

/// How many arrays/objects are nested at the deepest point of `value` (a scalar is 0).
pub(crate) fn json_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, above)) = stack.pop() {
        match v {
            Value::Array(items) => {
                deepest = deepest.max(above + 1);
                stack.extend(items.iter().map(|x| (x, above + 1)));
            }
            Value::Object(map) => {
                deepest = deepest.max(above + 1);
                stack.extend(map.values().map(|x| (x, above + 1)));
            }
            _ => {}
        }
    }
    deepest
}

// --- layer 3: the backend's parser ---------------------------------------------------------------

fn invalid_where<T>() -> Result<T, String> {
    Err(INVALID_WHERE.to_owned())
}

/// `parse_where` of chroma's `where_parsing.rs`.
fn backend_where(value: &Value) -> Result<Where, String> {
    let Value::Object(map) = value else {
        return invalid_where();
    };
    if map.len() != 1 {
        return invalid_where();
    }
    let Some((key, value)) = only_entry(map) else {
        return invalid_where();
    };
    if key == "$and" || key == "$or" {
        let Value::Array(children) = value else {
            return invalid_where();
        };
        let children = children
            .iter()
            .map(backend_where)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if key == "$and" {
            Where::And(children)
        } else {
            Where::Or(children)
        });
    }
    if key.starts_with('$') {
        return invalid_where();
    }
    let key = key.clone();
    // The shorthand {"key": literal}.
    if let Some(value) = scalar(value) {
        return Ok(Where::Cmp {
            key,
            op: CmpOp::Eq,
            value,
        });
    }
    let Value::Object(expr) = value else {
        return invalid_where();
    };
    if expr.len() != 1 {
        return invalid_where();
    }
    let Some((operator, operand)) = only_entry(expr) else {
        return invalid_where();
    };
    let operator = operator.as_str();
    if let Value::Array(items) = operand {
        let negated = match operator {
            "$in" => false,
            "$nin" => true,
            _ => return invalid_where(),
        };
        return Ok(Where::In {
            key,
            values: scalar_list(items)?,
            negated,
        });
    }
    let Some(operand) = scalar(operand) else {
        return invalid_where();
    };
    let contains = match operator {
        "$contains" => Some(false),
        "$not_contains" => Some(true),
        _ => None,
    };
    if let Some(negated) = contains {
        if key == DOCUMENT_KEY {
            let Scalar::Str(text) = operand else {
                return invalid_where();
            };
            return Ok(Where::Document(if negated {
                WhereDocument::NotContains(text)
            } else {
                WhereDocument::Contains(text)
            }));
        }
        return Ok(Where::Contains {
            key,
            value: operand,
            negated,
        });
    }
    if let Scalar::Str(pattern) = &operand
        && (operator == "$regex" || operator == "$not_regex")
    {
        if key != DOCUMENT_KEY {
            return invalid_where();
        }
        let regex = chroma_regex(pattern)?;
        return Ok(Where::Document(if operator == "$regex" {
            WhereDocument::Regex(regex)
        } else {
            WhereDocument::NotRegex(regex)
        }));
    }
    let op = match operator {
        "$eq" => CmpOp::Eq,
        "$ne" => CmpOp::Ne,
        "$gt" => CmpOp::Gt,
        "$gte" => CmpOp::Gte,
        "$lt" => CmpOp::Lt,
        "$lte" => CmpOp::Lte,
        _ => return invalid_where(),
    };
    // Strings and booleans only compare for (in)equality.
    if matches!(operand, Scalar::Str(_) | Scalar::Bool(_)) && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
        return invalid_where();
    }
    Ok(Where::Cmp {
        key,
        op,
        value: operand,
    })
}

/// A JSON scalar as chroma's backend reads it: integers that fit `i64` are ints, numbers
/// serde_json holds as floats (a fraction, an exponent, or beyond `u64`) are floats, and
/// integers in `i64::MAX+1..=u64::MAX` are neither (the backend refuses them).
fn scalar(value: &Value) -> Option<Scalar> {
    match value {
        Value::String(s) => Some(Scalar::Str(s.clone())),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Number(n) if n.is_f64() => n.as_f64().map(Scalar::Float),
        Value::Number(n) => n.as_i64().map(Scalar::Int),
        _ => None,
    }
}

/// The operand of `$in` / `$nin`: its type is the first element's; a float list converts
/// later integers, any other mismatch is refused (as the backend does).
fn scalar_list(items: &[Value]) -> Result<ScalarList, String> {
    fn all<T>(items: &[Value], f: impl Fn(&Value) -> Option<T>) -> Result<Vec<T>, String> {
        items
            .iter()
            .map(|v| f(v).ok_or_else(|| INVALID_WHERE.to_owned()))
            .collect()
    }
    match items.first() {
        Some(Value::String(_)) => {
            all(items, |v| v.as_str().map(str::to_owned)).map(ScalarList::Str)
        }
        Some(Value::Bool(_)) => all(items, Value::as_bool).map(ScalarList::Bool),
        Some(Value::Number(n)) if n.is_f64() => all(items, Value::as_f64).map(ScalarList::Float),
        Some(Value::Number(n)) if n.is_i64() => all(items, Value::as_i64).map(ScalarList::Int),
        _ => invalid_where(),
    }
}

/// `parse_where_document` of chroma's `where_parsing.rs`.
fn backend_where_document(value: &Value) -> Result<WhereDocument, String> {
    let invalid = || INVALID_WHERE_DOCUMENT.to_owned();
    let Value::Object(map) = value else {
        return Err(invalid());
    };
    if map.len() != 1 {
        return Err(invalid());
    }
    let Some((operator, operand)) = only_entry(map) else {
        return Err(invalid());
    };
    if operator == "$and" || operator == "$or" {
        let Value::Array(children) = operand else {
            return Err(invalid());
        };
        let children = children
            .iter()
            .map(backend_where_document)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if operator == "$and" {
            WhereDocument::And(children)
        } else {
            WhereDocument::Or(children)
        });
    }
    let Value::String(text) = operand else {
        return Err(invalid());
    };
    match operator.as_str() {
        "$contains" => Ok(WhereDocument::Contains(text.clone())),
        "$not_contains" => Ok(WhereDocument::NotContains(text.clone())),
        "$regex" => Ok(WhereDocument::Regex(chroma_regex(text)?)),
        "$not_regex" => Ok(WhereDocument::NotRegex(chroma_regex(text)?)),
        _ => Err(invalid()),
    }
}

/// `ChromaRegex::try_from`: parse with `regex_syntax` (its message, prefixed `Regex syntax
/// errror: `, sic), refuse byte-oriented classes, then compile. chromadb compiles only when
/// the query runs and then fails with an internal SQLite error when the compiled program is
/// too big; the engine refuses such a pattern here, with chroma's message for a failed compile.
fn chroma_regex(pattern: &str) -> Result<DocRegex, String> {
    let hir = regex_syntax::parse(pattern).map_err(|e| format!("Regex syntax errror: {e}"))?;
    if matches_bytes(&hir) {
        return Err("Byte pattern is not allowed".to_owned());
    }
    let regex = regex::Regex::new(pattern).map_err(|e| format!("Unexpected regex error: {e}"))?;
    Ok(DocRegex::new(regex))
}

/// Whether the pattern has a byte class or a non-UTF-8 literal (chroma's `ChromaHir` refuses
/// both). The recursion is bounded by `regex_syntax`'s nesting limit.
fn matches_bytes(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(lit) => std::str::from_utf8(&lit.0).is_err(),
        HirKind::Class(Class::Unicode(_)) => false,
        HirKind::Class(Class::Bytes(_)) => true,
        HirKind::Repetition(rep) => matches_bytes(&rep.sub),
        HirKind::Capture(cap) => matches_bytes(&cap.sub),
        HirKind::Concat(hirs) | HirKind::Alternation(hirs) => hirs.iter().any(matches_bytes),
    }
}

// --- layer 4: the default collection schema ------------------------------------------------------

/// chromadb's default schema disables the string index of `#document`, so string comparisons
/// on that key are refused (numbers and booleans fall back to enabled defaults and match
/// nothing). [`super::ast::CHROMA_DOCUMENT_KEY`] has no such rule.
fn schema_check(w: &Where) -> Result<(), String> {
    let refuse = || {
        Err(format!(
            "Cannot filter using metadata key '{DOCUMENT_KEY}' with type 'Str' because indexing \
             is disabled"
        ))
    };
    match w {
        Where::And(children) | Where::Or(children) => children.iter().try_for_each(schema_check),
        Where::Cmp {
            key,
            value: Scalar::Str(_),
            ..
        } if key == DOCUMENT_KEY => refuse(),
        Where::In {
            key,
            values: ScalarList::Str(_),
            ..
        } if key == DOCUMENT_KEY => refuse(),
        Where::Contains {
            key,
            value: Scalar::Str(_),
            ..
        } if key == DOCUMENT_KEY => refuse(),
        _ => Ok(()),
    }
}
