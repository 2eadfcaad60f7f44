//! One SQL statement per filter leaf, built only from constant fragments and placeholders.

use std::rc::Rc;

use rusqlite::types::{ToSql, Value};

use super::super::records::FTS_COLLECTION_SHIFT;
use crate::filter::{CHROMA_DOCUMENT_KEY, CmpOp, Scalar, ScalarList, Where};

/// A statement under construction: text made of constant fragments and placeholders, and the
/// values bound to those placeholders.
pub(crate) struct Sql {
    /// The collection's catalog key, also bound as `?1`.
    pub(super) key: i64,
    pub(super) text: String,
    pub(super) params: Vec<Box<dyn ToSql>>,
}

impl Sql {
    /// A statement about collection `key`, bound as `?1`.
    pub(super) fn new(key: i64) -> Sql {
        Sql {
            key,
            text: String::with_capacity(256),
            params: vec![Box::new(key)],
        }
    }

    /// Appends constant SQL. Only `&'static str` is accepted: caller data cannot get here.
    pub(super) fn push(&mut self, fragment: &'static str) {
        self.text.push_str(fragment);
    }

    /// Binds a value and appends its placeholder.
    pub(super) fn bind(&mut self, value: impl ToSql + 'static) {
        self.params.push(Box::new(value));
        // A number written by us, never caller text.
        self.text.push('?');
        self.text.push_str(&self.params.len().to_string());
    }

    /// Binds a list for `rarray(...)`.
    pub(super) fn bind_list(&mut self, values: Vec<Value>) {
        self.bind(Rc::new(values));
    }

    /// `SELECT ord FROM record_metadata WHERE collection_id = ?1 AND key = ? AND in_list = ?
    /// AND ` (the caller appends the value test).
    pub(super) fn metadata_rows(&mut self, key: &str, in_list: bool) {
        self.push("SELECT ord FROM record_metadata WHERE collection_id = ?1 AND key = ");
        self.bind(key.to_owned());
        self.push(if in_list {
            " AND in_list = 1 AND "
        } else {
            " AND in_list = 0 AND "
        });
    }

    /// `SELECT r.ord FROM records AS r WHERE r.collection_id = ?1 AND ` (a scan of the
    /// collection's records, for tests on the document text).
    pub(super) fn document_rows(&mut self) {
        self.push("SELECT r.ord FROM records AS r WHERE r.collection_id = ?1 AND ");
    }
}

/// A numeric bound of a `$gt` / `$gte` / `$lt` / `$lte` leaf.
pub(super) type Bound<'a> = (CmpOp, &'a Scalar);

/// Splits the children of an `$and` into numeric bounds grouped by key (keys with two or
/// more bounds only, in first-seen order) and the other children.
pub(super) fn numeric_ranges(children: &[Where]) -> (Vec<(&str, Vec<Bound<'_>>)>, Vec<&Where>) {
    pub(super) fn bound(w: &Where) -> Option<&str> {
        match w {
            Where::Cmp {
                key,
                op: CmpOp::Gt | CmpOp::Gte | CmpOp::Lt | CmpOp::Lte,
                value: Scalar::Int(_) | Scalar::Float(_),
            } if key != CHROMA_DOCUMENT_KEY => Some(key.as_str()),
            _ => None,
        }
    }
    let mut groups: Vec<(&str, Vec<Bound<'_>>)> = Vec::new();
    for c in children {
        if let (Some(key), Where::Cmp { op, value, .. }) = (bound(c), c) {
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, bounds)) => bounds.push((*op, value)),
                None => groups.push((key, vec![(*op, value)])),
            }
        }
    }
    groups.retain(|(_, bounds)| bounds.len() > 1);
    let others = children
        .iter()
        .filter(|c| bound(c).is_none_or(|k| !groups.iter().any(|(g, _)| *g == k)))
        .collect();
    (groups, others)
}

/// Every bound on one key at once. A record holds one scalar per key, so the conjunction of
/// the bounds is, per typed column, the conjunction of each bound's test on that column (with
/// the same int/float conversions as [`compare`]).
pub(super) fn range(coll: i64, key: &str, bounds: &[Bound<'_>]) -> Sql {
    let mut sql = Sql::new(coll);
    for (n, column) in ["int_value", "float_value"].into_iter().enumerate() {
        if n > 0 {
            sql.push(" UNION ALL ");
        }
        sql.metadata_rows(key, false);
        for (i, &(op, value)) in bounds.iter().enumerate() {
            if i > 0 {
                sql.push(" AND ");
            }
            sql.push(column);
            sql.push(op_sql(op));
            match (column, value) {
                ("int_value", Scalar::Float(f)) => sql.bind(*f as i64),
                ("int_value", Scalar::Int(i)) => sql.bind(*i),
                (_, Scalar::Int(i)) => sql.bind(*i as f64),
                (_, Scalar::Float(f)) => sql.bind(*f),
                // `numeric_ranges` only groups numbers.
                _ => sql.push("NULL"),
            }
        }
    }
    sql
}

pub(super) fn op_sql(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq | CmpOp::Ne => " = ",
        CmpOp::Gt => " > ",
        CmpOp::Gte => " >= ",
        CmpOp::Lt => " < ",
        CmpOp::Lte => " <= ",
    }
}

/// `key <op> value` on scalar metadata (`op` is not `Ne`).
pub(super) fn compare(coll: i64, key: &str, op: CmpOp, value: &Scalar) -> Sql {
    let op = op_sql(op);
    let mut sql = Sql::new(coll);
    if key == CHROMA_DOCUMENT_KEY {
        // chromadb keeps documents under this key as strings: only string operands match.
        sql.document_rows();
        if let Scalar::Str(s) = value {
            sql.push("r.document");
            sql.push(op);
            sql.bind(s.clone());
        } else {
            sql.push("0");
        }
        return sql;
    }
    match value {
        Scalar::Str(s) => {
            sql.metadata_rows(key, false);
            sql.push("str_value");
            sql.push(op);
            sql.bind(s.clone());
        }
        Scalar::Bool(b) => {
            sql.metadata_rows(key, false);
            sql.push("bool_value");
            sql.push(op);
            sql.bind(i64::from(*b));
        }
        Scalar::Int(i) => {
            sql.metadata_rows(key, false);
            sql.push("int_value");
            sql.push(op);
            sql.bind(*i);
            sql.push(" UNION ALL ");
            sql.metadata_rows(key, false);
            sql.push("float_value");
            sql.push(op);
            // chromadb compares a stored float with the int operand converted to f64.
            sql.bind(*i as f64);
        }
        Scalar::Float(f) => {
            sql.metadata_rows(key, false);
            sql.push("float_value");
            sql.push(op);
            sql.bind(*f);
            sql.push(" UNION ALL ");
            sql.metadata_rows(key, false);
            sql.push("int_value");
            sql.push(op);
            // chromadb compares a stored int with the float operand as `f as i64`
            // (truncated toward zero, saturating).
            sql.bind(*f as i64);
        }
    }
    sql
}

/// `key IN values` on scalar metadata.
pub(super) fn in_list(coll: i64, key: &str, values: &ScalarList) -> Sql {
    let mut sql = Sql::new(coll);
    if key == CHROMA_DOCUMENT_KEY {
        sql.document_rows();
        if let ScalarList::Str(v) = values {
            sql.push("r.document IN (SELECT value FROM rarray(");
            sql.bind_list(v.iter().map(|s| Value::Text(s.clone())).collect());
            sql.push("))");
        } else {
            sql.push("0");
        }
        return sql;
    }
    match values {
        ScalarList::Str(v) => {
            sql.metadata_rows(key, false);
            sql.push("str_value IN (SELECT value FROM rarray(");
            sql.bind_list(v.iter().map(|s| Value::Text(s.clone())).collect());
            sql.push("))");
        }
        ScalarList::Bool(v) => {
            sql.metadata_rows(key, false);
            sql.push("bool_value IN (SELECT value FROM rarray(");
            sql.bind_list(v.iter().map(|&b| Value::Integer(i64::from(b))).collect());
            sql.push("))");
        }
        ScalarList::Int(v) => {
            sql.metadata_rows(key, false);
            sql.push("int_value IN (SELECT value FROM rarray(");
            sql.bind_list(v.iter().map(|&i| Value::Integer(i)).collect());
            sql.push(")) UNION ALL ");
            sql.metadata_rows(key, false);
            sql.push("float_value IN (SELECT value FROM rarray(");
            sql.bind_list(v.iter().map(|&i| Value::Real(i as f64)).collect());
            sql.push("))");
        }
        ScalarList::Float(v) => {
            sql.metadata_rows(key, false);
            sql.push("float_value IN (SELECT value FROM rarray(");
            sql.bind_list(v.iter().map(|&f| Value::Real(f)).collect());
            sql.push(")) UNION ALL ");
            sql.metadata_rows(key, false);
            sql.push("int_value IN (SELECT value FROM rarray(");
            sql.bind_list(v.iter().map(|&f| Value::Integer(f as i64)).collect());
            sql.push("))");
        }
    }
    sql
}

/// An array value under `key` holds `value` (an element of exactly its type).
pub(super) fn list_contains(coll: i64, key: &str, value: &Scalar) -> Sql {
    let mut sql = Sql::new(coll);
    if key == CHROMA_DOCUMENT_KEY {
        // The document is a scalar string there: no array to look into.
        sql.document_rows();
        sql.push("0");
        return sql;
    }
    sql.metadata_rows(key, true);
    match value {
        Scalar::Str(s) => {
            sql.push("str_value = ");
            sql.bind(s.clone());
        }
        Scalar::Int(i) => {
            sql.push("int_value = ");
            sql.bind(*i);
        }
        Scalar::Float(f) => {
            sql.push("float_value = ");
            sql.bind(*f);
        }
        Scalar::Bool(b) => {
            sql.push("bool_value = ");
            sql.bind(i64::from(*b));
        }
    }
    sql
}

/// The document holds `text` (case-sensitive).
pub(super) fn document_contains(coll: i64, text: &str) -> Sql {
    let mut sql = Sql::new(coll);
    if text.chars().count() >= 3 {
        // The trigram index finds the candidates of this collection (its rowid range);
        // `instr` keeps the answer exact whatever the tokenizer does.
        let lo = sql.key << FTS_COLLECTION_SHIFT;
        sql.push(
            "SELECT r.ord FROM records AS r INDEXED BY records_by_ord \
             WHERE r.collection_id = ?1 AND r.ord IN (SELECT rowid - ",
        );
        sql.bind(lo);
        sql.push(" FROM record_documents WHERE record_documents MATCH ");
        // A bound value, read by FTS5's query parser only.
        sql.bind(trigram_query(text));
        sql.push(" AND rowid BETWEEN ");
        sql.bind(lo);
        sql.push(" AND ");
        sql.bind(lo | ((1i64 << FTS_COLLECTION_SHIFT) - 1));
        sql.push(") AND ");
    } else {
        sql.document_rows();
    }
    sql.push("instr(r.document, ");
    sql.bind(text.to_owned());
    sql.push(") > 0");
    sql
}

/// The most trigrams a `$contains` asks the index for: enough to leave few candidates for
/// `instr`, few enough that a long text's query stays cheap to parse and run.
const MAX_QUERY_TRIGRAMS: usize = 32;

/// An FTS5 query for the documents holding every trigram of `text` (of 3 or more
/// characters): `"abc" AND "bcd" AND ...`, each trigram in double quotes, its own quotes
/// doubled. Not a phrase of them: the index keeps no positions (`detail=none`, a third of the
/// size), so it cannot say the trigrams are adjacent; the candidates are a superset of the
/// answer, which the caller's `instr` makes exact. For the same reason a long text's query
/// stops at [`MAX_QUERY_TRIGRAMS`] distinct trigrams.
fn trigram_query(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut seen = std::collections::HashSet::new();
    let mut query = String::new();
    for window in chars.windows(3) {
        let trigram: String = window.iter().collect();
        if seen.len() == MAX_QUERY_TRIGRAMS || !seen.insert(trigram.clone()) {
            continue;
        }
        if !query.is_empty() {
            query.push_str(" AND ");
        }
        query.push('"');
        query.push_str(&trigram.replace('"', "\"\""));
        query.push('"');
    }
    query
}

/// The document matches the pattern somewhere.
pub(super) fn document_regex(coll: i64, pattern: &str) -> Sql {
    let mut sql = Sql::new(coll);
    sql.document_rows();
    sql.push("mnemo_regex(");
    sql.bind(pattern.to_owned());
    sql.push(", r.document)");
    sql
}
