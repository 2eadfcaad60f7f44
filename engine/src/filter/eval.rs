//! The naive evaluator: a filter against one record's metadata and document, in plain Rust.
//!
//! It is the oracle the SQL execution is tested against, so it follows what chromadb 1.5.9's
//! local (SQLite) backend does, quirks included, and is written for obviousness, not speed.
//! chromadb keeps scalar metadata in one row per key with a column per type (string, int,
//! float, bool), array metadata exploded in a second table, and documents both in an FTS table
//! and as the scalar string `chroma:document`. From that layout follow the rules below (each
//! one checked against chromadb by a case of `engine/tests/data/chroma_filters.json`):
//!
//! * `$eq $gt $gte $lt $lte` and `$in` look only at scalar values of the operand's type
//!   family: strings with strings, booleans with booleans, numbers with numbers. An int
//!   operand `i` compares exactly with stored ints and as `i as f64` with stored floats; a
//!   float operand `f` compares with stored floats and as `f as i64` (truncated toward zero,
//!   saturating) with stored ints, so `{"n": 1.5}` matches a stored `1` and `{"n": {"$lt":
//!   0.5}}` does not match a stored `0`.
//! * `$ne` and `$nin` are the exact negations of `$eq` and `$in`: they match records without
//!   the key, without metadata, with a list or with another type under the key.
//! * `$contains` looks only at array values, and only at elements of the operand's exact type
//!   (an int never matches a float element); `$not_contains` is its negation.
//! * Document tests never match a record without a document, and their negations always do.

use std::cmp::Ordering;

use super::ast::{CHROMA_DOCUMENT_KEY, CmpOp, Filter, Scalar, ScalarList, Where, WhereDocument};
use crate::types::{Metadata, MetadataValue};

impl Filter {
    /// Whether a record with this metadata and document passes both filters.
    pub(crate) fn matches(&self, metadata: Option<&Metadata>, document: Option<&str>) -> bool {
        self.r#where
            .as_ref()
            .is_none_or(|w| w.matches(metadata, document))
            && self
                .where_document
                .as_ref()
                .is_none_or(|d| d.matches(document))
    }
}

impl Where {
    /// Whether a record with this metadata and document matches.
    ///
    /// The document is needed for `{"#document": {"$contains": ...}}` and for the key
    /// `chroma:document`, under which chromadb finds the document as a string value.
    pub(crate) fn matches(&self, metadata: Option<&Metadata>, document: Option<&str>) -> bool {
        match self {
            Where::And(children) => children.iter().all(|c| c.matches(metadata, document)),
            Where::Or(children) => children.iter().any(|c| c.matches(metadata, document)),
            Where::Cmp { key, op, value } => {
                let stored = Stored::lookup(key, metadata, document);
                match op {
                    CmpOp::Ne => !compare(stored, CmpOp::Eq, value),
                    _ => compare(stored, *op, value),
                }
            }
            Where::In {
                key,
                values,
                negated,
            } => in_list(Stored::lookup(key, metadata, document), values) != *negated,
            Where::Contains {
                key,
                value,
                negated,
            } => array_contains(Stored::lookup(key, metadata, document), value) != *negated,
            Where::Document(test) => test.matches(document),
        }
    }
}

impl WhereDocument {
    /// Whether a record with this document (or none) matches.
    pub(crate) fn matches(&self, document: Option<&str>) -> bool {
        match self {
            WhereDocument::And(children) => children.iter().all(|c| c.matches(document)),
            WhereDocument::Or(children) => children.iter().any(|c| c.matches(document)),
            WhereDocument::Contains(text) => document.is_some_and(|d| d.contains(text.as_str())),
            WhereDocument::NotContains(text) => {
                !document.is_some_and(|d| d.contains(text.as_str()))
            }
            WhereDocument::Regex(re) => document.is_some_and(|d| re.regex().is_match(d)),
            WhereDocument::NotRegex(re) => !document.is_some_and(|d| re.regex().is_match(d)),
        }
    }
}

/// What a record holds under a key. Public to the crate so the in-memory filter index
/// (`collection/filter_index.rs`) answers each leaf with this module's own tests.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stored<'a> {
    Missing,
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// An array value: invisible to every operator but `$contains`.
    List(&'a MetadataValue),
}

impl<'a> Stored<'a> {
    fn lookup(key: &str, metadata: Option<&'a Metadata>, document: Option<&'a str>) -> Self {
        if key == CHROMA_DOCUMENT_KEY {
            // Metadata can never hold this key (chromadb reserves it), documents live there.
            return document.map_or(Stored::Missing, Stored::Str);
        }
        match metadata.and_then(|m| m.get(key)) {
            None => Stored::Missing,
            Some(MetadataValue::Str(s)) => Stored::Str(s),
            Some(MetadataValue::Int(i)) => Stored::Int(*i),
            Some(MetadataValue::Float(f)) => Stored::Float(*f),
            Some(MetadataValue::Bool(b)) => Stored::Bool(*b),
            Some(list) => Stored::List(list),
        }
    }
}

fn holds(ord: Option<Ordering>, op: CmpOp) -> bool {
    let Some(ord) = ord else { return false };
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Gte => ord != Ordering::Less,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Lte => ord != Ordering::Greater,
    }
}

/// `stored <op> operand`, as chromadb's SQL answers it (`op` is never `Ne` here).
pub(crate) fn compare(stored: Stored<'_>, op: CmpOp, operand: &Scalar) -> bool {
    let ord = match (stored, operand) {
        (Stored::Str(x), Scalar::Str(s)) => Some(x.cmp(s.as_str())),
        (Stored::Bool(x), Scalar::Bool(b)) => Some(x.cmp(b)),
        (Stored::Int(x), Scalar::Int(i)) => Some(x.cmp(i)),
        (Stored::Float(x), Scalar::Int(i)) => x.partial_cmp(&(*i as f64)),
        // chromadb converts a float operand with Rust's `as i64` for its integer column.
        (Stored::Int(x), Scalar::Float(f)) => Some(x.cmp(&(*f as i64))),
        (Stored::Float(x), Scalar::Float(f)) => x.partial_cmp(f),
        _ => None,
    };
    holds(ord, op)
}

/// `$in` before negation: an int list also matches floats equal to `i as f64`, a float list
/// also matches ints equal to `f as i64`.
pub(crate) fn in_list(stored: Stored<'_>, values: &ScalarList) -> bool {
    match (stored, values) {
        (Stored::Str(x), ScalarList::Str(v)) => v.iter().any(|s| s == x),
        (Stored::Bool(x), ScalarList::Bool(v)) => v.contains(&x),
        (Stored::Int(x), ScalarList::Int(v)) => v.contains(&x),
        (Stored::Float(x), ScalarList::Int(v)) => v.iter().any(|&i| i as f64 == x),
        (Stored::Int(x), ScalarList::Float(v)) => v.iter().any(|&f| f as i64 == x),
        (Stored::Float(x), ScalarList::Float(v)) => v.contains(&x),
        _ => false,
    }
}

/// `$contains` before negation: an element of exactly the operand's type and value.
pub(crate) fn array_contains(stored: Stored<'_>, element: &Scalar) -> bool {
    let Stored::List(list) = stored else {
        return false;
    };
    match (list, element) {
        (MetadataValue::StrList(v), Scalar::Str(s)) => v.contains(s),
        (MetadataValue::IntList(v), Scalar::Int(i)) => v.contains(i),
        (MetadataValue::FloatList(v), Scalar::Float(f)) => v.contains(f),
        (MetadataValue::BoolList(v), Scalar::Bool(b)) => v.contains(b),
        _ => false,
    }
}
