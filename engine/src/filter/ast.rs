//! The filter AST: chromadb's `where` (metadata) and `where_document` (document) trees.
//!
//! Built by [`super::parse`], evaluated by [`super::eval`]; the SQL compiler of the execution
//! half walks the same types. Integers and floats stay distinct ([`Scalar::Int`] vs
//! [`Scalar::Float`]) because chromadb compares them differently (see the table in the module
//! docs of [`super`]).

use std::fmt;

/// The `where` key that makes `$contains` / `$not_contains` (and, on the backend only, `$regex`
/// / `$not_regex`) a test on the document instead of on metadata.
pub(crate) const DOCUMENT_KEY: &str = "#document";

/// The metadata key under which chromadb's SQLite store keeps documents. A `where` on this key
/// compares the document (as a string value) in chromadb 1.5.9, so it does here too.
pub(crate) const CHROMA_DOCUMENT_KEY: &str = "chroma:document";

/// A filter operand: one metadata scalar.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    /// A string.
    Str(String),
    /// A 64-bit integer (JSON numbers without a fraction or exponent).
    Int(i64),
    /// A float (JSON numbers with a fraction or an exponent, and integers beyond `u64`).
    Float(f64),
    /// `true` / `false`, never equal to an integer.
    Bool(bool),
}

/// The operand of `$in` / `$nin`: a non-empty list of one scalar type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ScalarList {
    /// Strings.
    Str(Vec<String>),
    /// Integers.
    Int(Vec<i64>),
    /// Floats (a list whose first element is a float; later integers are converted).
    Float(Vec<f64>),
    /// Booleans.
    Bool(Vec<bool>),
}

/// A comparison operator of `where`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    /// `$eq`, and the shorthand `{"key": value}`.
    Eq,
    /// `$ne`.
    Ne,
    /// `$gt` (numbers only).
    Gt,
    /// `$gte` (numbers only).
    Gte,
    /// `$lt` (numbers only).
    Lt,
    /// `$lte` (numbers only).
    Lte,
}

/// A `where` filter on metadata.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Where {
    /// `$and`: every child matches (no children: everything matches; the Python client
    /// requires at least two).
    And(Vec<Where>),
    /// `$or`: some child matches (no children: nothing matches).
    Or(Vec<Where>),
    /// `$eq $ne $gt $gte $lt $lte` on a scalar metadata value.
    Cmp {
        /// The metadata key (any string: it is data, never SQL text).
        key: String,
        /// The operator.
        op: CmpOp,
        /// The operand.
        value: Scalar,
    },
    /// `$in` (`negated: false`) / `$nin` (`negated: true`) on a scalar metadata value.
    In {
        /// The metadata key.
        key: String,
        /// The operand list.
        values: ScalarList,
        /// `$nin`.
        negated: bool,
    },
    /// `$contains` / `$not_contains` on an array metadata value (membership of one element).
    Contains {
        /// The metadata key.
        key: String,
        /// The element looked for.
        value: Scalar,
        /// `$not_contains`.
        negated: bool,
    },
    /// `{"#document": {"$contains" | "$not_contains" | "$regex" | "$not_regex": str}}`: a test
    /// on the document inside `where`. Always a leaf of [`WhereDocument`] (never `And`/`Or`).
    Document(WhereDocument),
}

/// A `where_document` filter on the document text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WhereDocument {
    /// `$and` (no children: everything matches).
    And(Vec<WhereDocument>),
    /// `$or` (no children: nothing matches).
    Or(Vec<WhereDocument>),
    /// `$contains`: the document holds this substring (case-sensitive). Records without a
    /// document never match.
    Contains(String),
    /// `$not_contains`: the negation of `Contains` (records without a document match).
    NotContains(String),
    /// `$regex`: the pattern matches somewhere in the document.
    Regex(DocRegex),
    /// `$not_regex`: the negation of `Regex` (records without a document match).
    NotRegex(DocRegex),
}

/// A `$regex` pattern, validated as chromadb does and compiled once by the parser.
///
/// The source text is [`DocRegex::as_str`]; SQL execution binds it as a parameter.
#[derive(Clone)]
pub(crate) struct DocRegex {
    regex: regex::Regex,
}

impl DocRegex {
    pub(crate) fn new(regex: regex::Regex) -> DocRegex {
        DocRegex { regex }
    }

    /// The pattern as the caller wrote it.
    pub(crate) fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    /// The compiled pattern.
    pub(crate) fn regex(&self) -> &regex::Regex {
        &self.regex
    }
}

impl PartialEq for DocRegex {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for DocRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DocRegex").field(&self.as_str()).finish()
    }
}

/// Both filters of a `get` / `query` / `delete`; a record passes when it matches both.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Filter {
    /// The metadata filter, if any.
    pub(crate) r#where: Option<Where>,
    /// The document filter, if any.
    pub(crate) where_document: Option<WhereDocument>,
}

impl Filter {
    /// Whether the filter lets every record through (neither part given).
    pub(crate) fn is_empty(&self) -> bool {
        self.r#where.is_none() && self.where_document.is_none()
    }
}
