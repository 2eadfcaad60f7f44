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
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, params_from_iter};

use super::records::{COLUMNS, RecordRow, decode_row, raw_row};
use crate::error::Result;
use crate::filter::{CmpOp, Filter, Where, WhereDocument};

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

mod leaves;
#[cfg(test)]
mod tests;

use leaves::*;
