//! Filters executed with SQL: which records of a collection match a [`Filter`].
//!
//! Every leaf of the filter is one SQL statement that returns the `ord`s of the records it
//! matches, answered by an index: the typed key/value rows of `record_metadata` (one partial
//! index per value type) or the trigram FTS5 index of documents. The sets are then combined in
//! Rust ([`Matcher`]): `$and` intersects (smallest first, stopping when empty), `$or` unites,
//! and the negations (`$ne`, `$nin`, `$not_contains`, document `$not_contains` /
//! `$not_regex`) are the complement within the collection's records, so they match records
//! without the key or without metadata exactly as the naive evaluator (`filter/eval.rs`, the
//! oracle of the tests) says. Evaluating leaves one by one keeps every statement simple enough
//! that SQLite always drives it from the right index (a single statement for the whole tree
//! let the planner scan every record under a bloom filter), and its cost is the sum of the
//! leaves' matches.
//!
//! The statements' text comes only from the `&'static str` fragments of this file and from
//! placeholder numbers (`?7`), through [`Sql`]: every key, string, number and list of the
//! caller is a bound parameter, so no input (quotes, `;`, 10 kB keys) can change a statement.
//! Lists go in as one `rarray` parameter each (exact values of every type).
//!
//! Leaves, as chromadb 1.5.9 answers them (see the table in the filter module's docs):
//!
//! * a metadata comparison reads `in_list = 0` rows of the operand's type family; an int
//!   operand `i` also reads floats against `i as f64`, a float operand `f` also ints against
//!   `f as i64` (truncated toward zero, saturating), both computed in Rust;
//! * numeric bounds on one key among the children of an `$and` (`n >= a`, `n < b`) are one
//!   range lookup, so a wide bound does not read records the other bound drops;
//! * `$contains` on metadata reads `in_list = 1` rows of the operand's exact type;
//! * document `$contains` of 3 or more characters is looked up in the trigram index, then
//!   confirmed with `instr` (exact, case-sensitive); shorter needles use `instr` alone over the
//!   collection's documents; `$regex` calls `mnemo_regex`, Rust's `regex`, registered on every
//!   connection by [`register`];
//! * the key `chroma:document` compares the document itself.

use std::rc::Rc;
use std::sync::Arc;

use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSql, Value, ValueRef};
use rusqlite::{Connection, params_from_iter};

use super::records::{COLUMNS, FTS_COLLECTION_SHIFT, RecordRow, decode_row, raw_row};
use crate::error::Result;
use crate::filter::{CHROMA_DOCUMENT_KEY, CmpOp, Filter, Scalar, ScalarList, Where, WhereDocument};

/// The SQL function that runs a `$regex`: `mnemo_regex(pattern, document)` is 1 when the
/// pattern matches somewhere in the document, 0 otherwise (and for a NULL document).
const REGEX_FUNCTION: &str = "mnemo_regex";

/// Registers what compiled filters call on a connection: [`REGEX_FUNCTION`] and `rarray`.
pub(crate) fn register(conn: &Connection) -> Result<()> {
    rusqlite::vtab::array::load_module(conn)?;
    conn.create_scalar_function(
        REGEX_FUNCTION,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            // The pattern is a bound parameter, a constant for SQLite: the compiled regex is
            // kept as auxiliary data for the whole statement, compiled once per execution.
            let re: Arc<regex::Regex> = ctx.get_or_create_aux(0, |v| {
                // The parser already compiled this pattern with the same settings, so this
                // cannot fail for a pattern that comes from a `Filter`.
                let pattern = v.as_str().map_err(|e| Box::new(e) as BoxError)?;
                regex::Regex::new(pattern).map_err(|e| Box::new(e) as BoxError)
            })?;
            Ok(match ctx.get_raw(1) {
                ValueRef::Text(t) => std::str::from_utf8(t).is_ok_and(|d| re.is_match(d)),
                _ => false,
            })
        },
    )?;
    Ok(())
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Sorted, de-duplicated `ord`s of records.
pub(crate) type Ords = Vec<u64>;

/// The ords of the records of collection `key` that pass `filter` and are among `ids` (if
/// given), sorted. Read inside the caller's transaction, so one snapshot.
pub(crate) fn matching_ords(
    conn: &Connection,
    key: i64,
    filter: &Filter,
    ids: Option<&[String]>,
) -> Result<Ords> {
    let mut m = Matcher {
        conn,
        key,
        universe: None,
    };
    let mut sets = Vec::new();
    if let Some(ids) = ids {
        let mut sql = Sql::new(key);
        sql.push(
            "SELECT ord FROM records WHERE collection_id = ?1 AND id IN (SELECT value FROM rarray(",
        );
        sql.bind_list(ids.iter().map(|id| Value::Text(id.clone())).collect());
        sql.push("))");
        sets.push(m.run(&sql)?);
    }
    if let Some(w) = &filter.r#where {
        sets.push(m.where_ords(w)?);
    }
    if let Some(d) = &filter.where_document {
        sets.push(m.document_ords(d)?);
    }
    if sets.is_empty() {
        return m.universe();
    }
    Ok(intersect_all(sets))
}

/// The records with these ords (sorted), in insertion order.
pub(crate) fn records_by_ords(conn: &Connection, key: i64, ords: &[u64]) -> Result<Vec<RecordRow>> {
    if ords.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM records WHERE collection_id = ?1 \
         AND ord IN (SELECT value FROM rarray(?2)) ORDER BY ord"
    );
    let list: rusqlite::vtab::array::Array =
        Rc::new(ords.iter().map(|&o| Value::Integer(o as i64)).collect());
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(rusqlite::params![key, list], raw_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(decode_row).collect()
}

/// The ids of the records with these ords (sorted), in insertion order.
pub(crate) fn ids_by_ords(conn: &Connection, key: i64, ords: &[u64]) -> Result<Vec<String>> {
    if ords.is_empty() {
        return Ok(Vec::new());
    }
    let list: rusqlite::vtab::array::Array =
        Rc::new(ords.iter().map(|&o| Value::Integer(o as i64)).collect());
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM records WHERE collection_id = ?1 \
         AND ord IN (SELECT value FROM rarray(?2)) ORDER BY ord",
    )?;
    let ids = stmt
        .query_map(rusqlite::params![key, list], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(ids)
}

/// Evaluates a filter leaf by leaf in one transaction.
struct Matcher<'c> {
    conn: &'c Connection,
    key: i64,
    /// Every ord of the collection, read once when a negation or an empty `$and` needs it.
    universe: Option<Ords>,
}

impl Matcher<'_> {
    /// Runs a statement whose only column is an ord; the result sorted and de-duplicated.
    fn run(&self, sql: &Sql) -> Result<Ords> {
        // Each statement is one leaf with a few parameters (a list is one `rarray`
        // parameter, a merged range two per bound), far below SQLite's limit.
        let mut stmt = self.conn.prepare_cached(&sql.text)?;
        let mut ords = stmt
            .query_map(params_from_iter(sql.params.iter()), |r| {
                r.get::<_, i64>(0).map(|o| o as u64)
            })?
            .collect::<rusqlite::Result<Vec<u64>>>()?;
        ords.sort_unstable();
        ords.dedup();
        Ok(ords)
    }

    fn universe(&mut self) -> Result<Ords> {
        if let Some(u) = &self.universe {
            return Ok(u.clone());
        }
        let mut sql = Sql::new(self.key);
        sql.push("SELECT ord FROM records INDEXED BY records_by_ord WHERE collection_id = ?1");
        let u = self.run(&sql)?;
        self.universe = Some(u.clone());
        Ok(u)
    }

    /// The records not in `set`.
    fn complement(&mut self, set: &Ords) -> Result<Ords> {
        let all = self.universe()?;
        Ok(difference(&all, set))
    }

    fn where_ords(&mut self, w: &Where) -> Result<Ords> {
        match w {
            Where::And(children) if children.is_empty() => self.universe(),
            Where::And(children) => {
                let mut sets = Vec::with_capacity(children.len());
                // Numeric bounds on one key (`n >= a` and `n < b`) become one range lookup:
                // alone, `n >= 0` could read every record only to be intersected away.
                let (ranges, others) = numeric_ranges(children);
                for (key, bounds) in ranges {
                    let set = self.run(&range(self.key, key, &bounds))?;
                    if set.is_empty() {
                        return Ok(set);
                    }
                    sets.push(set);
                }
                for c in others {
                    let set = self.where_ords(c)?;
                    if set.is_empty() {
                        return Ok(set);
                    }
                    sets.push(set);
                }
                Ok(intersect_all(sets))
            }
            Where::Or(children) => {
                let mut all = Vec::new();
                for c in children {
                    all.extend(self.where_ords(c)?);
                }
                all.sort_unstable();
                all.dedup();
                Ok(all)
            }
            Where::Cmp { key, op, value } => {
                if *op == CmpOp::Ne {
                    let eq = self.run(&compare(self.key, key, CmpOp::Eq, value))?;
                    self.complement(&eq)
                } else {
                    self.run(&compare(self.key, key, *op, value))
                }
            }
            Where::In {
                key,
                values,
                negated,
            } => {
                let set = self.run(&in_list(self.key, key, values))?;
                if *negated {
                    self.complement(&set)
                } else {
                    Ok(set)
                }
            }
            Where::Contains {
                key,
                value,
                negated,
            } => {
                let set = self.run(&list_contains(self.key, key, value))?;
                if *negated {
                    self.complement(&set)
                } else {
                    Ok(set)
                }
            }
            Where::Document(d) => self.document_ords(d),
        }
    }

    fn document_ords(&mut self, d: &WhereDocument) -> Result<Ords> {
        match d {
            WhereDocument::And(children) if children.is_empty() => self.universe(),
            WhereDocument::And(children) => {
                let mut sets = Vec::with_capacity(children.len());
                for c in children {
                    let set = self.document_ords(c)?;
                    if set.is_empty() {
                        return Ok(set);
                    }
                    sets.push(set);
                }
                Ok(intersect_all(sets))
            }
            WhereDocument::Or(children) => {
                let mut all = Vec::new();
                for c in children {
                    all.extend(self.document_ords(c)?);
                }
                all.sort_unstable();
                all.dedup();
                Ok(all)
            }
            WhereDocument::Contains(text) => self.run(&document_contains(self.key, text)),
            WhereDocument::NotContains(text) => {
                let set = self.run(&document_contains(self.key, text))?;
                self.complement(&set)
            }
            WhereDocument::Regex(re) => self.run(&document_regex(self.key, re.as_str())),
            WhereDocument::NotRegex(re) => {
                let set = self.run(&document_regex(self.key, re.as_str()))?;
                self.complement(&set)
            }
        }
    }
}

/// The intersection of sorted sets, smallest first so the work is bounded by it.
fn intersect_all(mut sets: Vec<Ords>) -> Ords {
    sets.sort_by_key(Vec::len);
    let mut it = sets.into_iter();
    let Some(mut acc) = it.next() else {
        return Vec::new();
    };
    for set in it {
        if acc.is_empty() {
            break;
        }
        acc.retain(|o| set.binary_search(o).is_ok());
    }
    acc
}

/// `a` without `b` (both sorted).
fn difference(a: &[u64], b: &[u64]) -> Ords {
    let mut out = Vec::with_capacity(a.len().saturating_sub(b.len()));
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out
}

// --- one statement per leaf --------------------------------------------------------------------

/// A statement under construction: text made of constant fragments and placeholders, and the
/// values bound to those placeholders.
pub(crate) struct Sql {
    /// The collection's catalog key, also bound as `?1`.
    key: i64,
    text: String,
    params: Vec<Box<dyn ToSql>>,
}

impl Sql {
    /// A statement about collection `key`, bound as `?1`.
    fn new(key: i64) -> Sql {
        Sql {
            key,
            text: String::with_capacity(256),
            params: vec![Box::new(key)],
        }
    }

    /// Appends constant SQL. Only `&'static str` is accepted: caller data cannot get here.
    fn push(&mut self, fragment: &'static str) {
        self.text.push_str(fragment);
    }

    /// Binds a value and appends its placeholder.
    fn bind(&mut self, value: impl ToSql + 'static) {
        self.params.push(Box::new(value));
        // A number written by us, never caller text.
        self.text.push('?');
        self.text.push_str(&self.params.len().to_string());
    }

    /// Binds a list for `rarray(...)`.
    fn bind_list(&mut self, values: Vec<Value>) {
        self.bind(Rc::new(values));
    }

    /// `SELECT ord FROM record_metadata WHERE collection_id = ?1 AND key = ? AND in_list = ?
    /// AND ` (the caller appends the value test).
    fn metadata_rows(&mut self, key: &str, in_list: bool) {
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
    fn document_rows(&mut self) {
        self.push("SELECT r.ord FROM records AS r WHERE r.collection_id = ?1 AND ");
    }
}

/// A numeric bound of a `$gt` / `$gte` / `$lt` / `$lte` leaf.
type Bound<'a> = (CmpOp, &'a Scalar);

/// Splits the children of an `$and` into numeric bounds grouped by key (keys with two or
/// more bounds only, in first-seen order) and the other children.
fn numeric_ranges(children: &[Where]) -> (Vec<(&str, Vec<Bound<'_>>)>, Vec<&Where>) {
    fn bound(w: &Where) -> Option<&str> {
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
fn range(coll: i64, key: &str, bounds: &[Bound<'_>]) -> Sql {
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

fn op_sql(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq | CmpOp::Ne => " = ",
        CmpOp::Gt => " > ",
        CmpOp::Gte => " >= ",
        CmpOp::Lt => " < ",
        CmpOp::Lte => " <= ",
    }
}

/// `key <op> value` on scalar metadata (`op` is not `Ne`).
fn compare(coll: i64, key: &str, op: CmpOp, value: &Scalar) -> Sql {
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
fn in_list(coll: i64, key: &str, values: &ScalarList) -> Sql {
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
fn list_contains(coll: i64, key: &str, value: &Scalar) -> Sql {
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
fn document_contains(coll: i64, text: &str) -> Sql {
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
        // An FTS5 phrase: the text in double quotes, its own quotes doubled. A bound value,
        // read by FTS5's query parser only.
        sql.bind(format!("\"{}\"", text.replace('"', "\"\"")));
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

/// The document matches the pattern somewhere.
fn document_regex(coll: i64, pattern: &str) -> Sql {
    let mut sql = Sql::new(coll);
    sql.document_rows();
    sql.push("mnemo_regex(");
    sql.bind(pattern.to_owned());
    sql.push(", r.document)");
    sql
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::distance::Space;
    use crate::filter::{Validation, parse_filter};
    use crate::meta::{Sidecar, catalog, records};

    /// The statements of the leaves of a filter with hostile keys and values.
    fn leaf_statements(key: &str) -> Vec<Sql> {
        let s = |v: &str| Scalar::Str(v.to_owned());
        vec![
            compare(7, key, CmpOp::Eq, &s("x'y")),
            compare(7, key, CmpOp::Gte, &Scalar::Float(1.5)),
            compare(7, CHROMA_DOCUMENT_KEY, CmpOp::Eq, &s("x'y")),
            in_list(7, key, &ScalarList::Str(vec!["a'".into(), "b\"".into()])),
            in_list(7, key, &ScalarList::Float(vec![1.5])),
            list_contains(7, key, &s("z; --")),
            document_contains(7, "'); DROP"),
            document_contains(7, "a'"),
            document_regex(7, "a'b"),
        ]
    }

    /// The statement text is made of this file's fragments and placeholders only: none of the
    /// caller's strings, whatever they hold, appears in it.
    #[test]
    fn no_caller_text_in_sql() {
        let long = "k".repeat(10_000);
        let hostile = [
            "it's",
            "\"q\"",
            "a; DROP TABLE records; --",
            "ключ 🚀",
            "?1",
            "%_\\",
            long.as_str(),
        ];
        for key in hostile {
            for sql in leaf_statements(key) {
                // (`?1` is also our own first placeholder, so it is not looked for.)
                let key_needle = if key == "?1" { "x'y" } else { key };
                for needle in [key_needle, "x'y", "a'", "z; --", "DROP", "a'b"] {
                    assert!(
                        !sql.text.contains(needle),
                        "caller text {needle:?} in SQL: {}",
                        sql.text
                    );
                }
                assert!(
                    sql.text
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || " _?(),=<>-.*".contains(c)),
                    "unexpected character in {}",
                    sql.text
                );
            }
        }
    }

    /// The records of the chromadb capture in a sidecar, and the collection's key.
    fn captured_records() -> (Sidecar, i64, Vec<RecordRow>) {
        let capture: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/data/chroma_filters.json"))
                .unwrap_or_else(|e| panic!("{e}"));
        let records: Vec<RecordRow> = capture["records"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, r)| RecordRow {
                id: r["id"].as_str().unwrap_or_default().to_owned(),
                slot: i as u64,
                ord: i as u64,
                document: r["document"].as_str().map(str::to_owned),
                uri: None,
                metadata: serde_json::from_value(r["metadata"].clone())
                    .unwrap_or_else(|e| panic!("{e}")),
            })
            .collect();
        let sidecar = Sidecar::in_memory().unwrap_or_else(|e| panic!("{e}"));
        let key = sidecar
            .write(|tx| {
                // Another collection first, so the collection key is not 1 and the FTS rowid
                // ranges of two collections are both in play.
                for name in ["other", "captured"] {
                    catalog::insert_collection(tx, uuid::Uuid::new_v4(), name, Space::L2, None)?;
                    let row = catalog::collection_by_name(tx, name)?
                        .unwrap_or_else(|| panic!("no collection"));
                    for r in &records {
                        records::insert(tx, row.key, 1, r)?;
                    }
                }
                let row = catalog::collection_by_name(tx, "captured")?
                    .unwrap_or_else(|| panic!("no collection"));
                Ok(row.key)
            })
            .unwrap_or_else(|e| panic!("{e}"));
        (sidecar, key, records)
    }

    fn check_against_oracle(
        sidecar: &Sidecar,
        key: i64,
        records: &[RecordRow],
        filter: &Filter,
    ) -> Result<(), String> {
        let want: Vec<String> = records
            .iter()
            .filter(|r| filter.matches(r.metadata.as_ref(), r.document.as_deref()))
            .map(|r| r.id.clone())
            .collect();
        let got = sidecar
            .read(|tx| {
                let ords = matching_ords(tx, key, filter, None)?;
                ids_by_ords(tx, key, &ords)
            })
            .map_err(|e| e.to_string())?;
        if got == want {
            Ok(())
        } else {
            Err(format!("sql {got:?}, oracle {want:?}"))
        }
    }

    /// Every captured case, parsed as the client and as the backend does (so `$and` / `$or`
    /// of no or one child, empty needles and `#document` regexes are in), gives the oracle's
    /// answer through SQL.
    #[test]
    fn captured_cases_in_both_modes_equal_oracle() {
        let (sidecar, key, records) = captured_records();
        let capture: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/data/chroma_filters.json"))
                .unwrap_or_else(|e| panic!("{e}"));
        let mut failures = Vec::new();
        let mut checked = 0;
        for case in capture["cases"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if case.get("generated").is_some() {
                continue; // deep nesting: covered below
            }
            for validation in [Validation::Client, Validation::Backend] {
                let Ok(filter) =
                    parse_filter(case.get("where"), case.get("where_document"), validation)
                else {
                    continue;
                };
                checked += 1;
                if let Err(e) = check_against_oracle(&sidecar, key, &records, &filter) {
                    failures.push(format!("{} {validation:?}: {e}", case["name"]));
                }
            }
        }
        let extra = [
            (json!({"$and": []}), None),
            (json!({"$or": []}), None),
            (json!({"$and": [{"n": 1}]}), None),
            (json!({"$or": [{"$and": []}, {"n": 1}]}), None),
            (
                json!({"$and": [{"$or": []}]}),
                Some(json!({"$contains": ""})),
            ),
            (
                json!({"#document": {"$regex": "^h"}}),
                Some(json!({"$or": []})),
            ),
            (
                json!({"#document": {"$not_regex": "o"}}),
                Some(json!({"$and": []})),
            ),
            // Bounds on one key are merged into one range lookup.
            (
                json!({"$and": [{"n": {"$gte": 0.5}}, {"n": {"$lt": 1.5}}]}),
                None,
            ),
            (
                json!({"$and": [{"n": {"$gt": -0.5}}, {"n": {"$lte": 1}}]}),
                None,
            ),
            (
                json!({"$and": [{"n": {"$gt": -1.5}}, {"s": "a"}, {"n": {"$lt": 1e300}}]}),
                None,
            ),
            (
                json!({"$and": [{"n": {"$gte": -2}}, {"n": {"$lt": 0.5}}, {"n": {"$ne": 0}}]}),
                None,
            ),
            (
                json!({"$and": [
                    {"big": {"$gte": 9_007_199_254_740_993_i64}},
                    {"big": {"$lte": 9_007_199_254_740_993_i64}}
                ]}),
                None,
            ),
            (
                json!({"$and": [{"n2": {"$gt": -1e300}}, {"n2": {"$lt": 1e300}}]}),
                None,
            ),
        ];
        for (w, d) in &extra {
            let filter = parse_filter(Some(w), d.as_ref(), Validation::Backend)
                .unwrap_or_else(|e| panic!("{w}: {e}"));
            checked += 1;
            if let Err(e) = check_against_oracle(&sidecar, key, &records, &filter) {
                failures.push(format!("{w} {d:?}: {e}"));
            }
        }
        assert!(checked >= 250, "only {checked} filters checked");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// The deepest filters the parser accepts (127 JSON levels), alternating `$and` / `$or`
    /// so nothing flattens, compile to SQL that SQLite accepts and answers exactly.
    #[test]
    fn deepest_filters_run() {
        let (sidecar, key, records) = captured_records();
        for (leaf, sibling) in [
            (json!({"n": {"$gte": 0}}), json!({"s": {"$ne": "b"}})),
            (
                json!({"#document": {"$contains": "hello"}}),
                json!({"tags": {"$contains": "x"}}),
            ),
        ] {
            let mut w = leaf;
            let mut levels = 0;
            loop {
                let op = if levels % 2 == 0 { "$and" } else { "$or" };
                let next = json!({ op: [sibling.clone(), w.clone()] });
                if crate::filter::parse_filter(Some(&next), None, Validation::Backend).is_err() {
                    break;
                }
                w = next;
                levels += 1;
            }
            assert!(levels >= 60, "only {levels} levels");
            let filter =
                parse_filter(Some(&w), None, Validation::Backend).unwrap_or_else(|e| panic!("{e}"));
            check_against_oracle(&sidecar, key, &records, &filter)
                .unwrap_or_else(|e| panic!("{levels} levels: {e}"));
        }
    }

    /// A wide `$or` runs one cached statement per leaf.
    #[test]
    fn wide_or() {
        let (sidecar, key, records) = captured_records();
        let children: Vec<serde_json::Value> = (0..5000).map(|i| json!({"n": i - 10})).collect();
        let filter = parse_filter(Some(&json!({ "$or": children })), None, Validation::Client)
            .unwrap_or_else(|e| panic!("{e}"));
        check_against_oracle(&sidecar, key, &records, &filter).unwrap_or_else(|e| panic!("{e}"));
    }
}
