//! Python's `str()` / `repr()` of JSON values, for chromadb's client-side validation messages.
//!
//! chromadb builds its messages with f-strings (`f"... got {where}"`), so the offending value
//! appears as Python prints it: `{'a': 1}`, `[1.0, True, None]`, `1e+16`, a bare string at
//! the top level but a quoted one inside containers. Dicts print in the order serde_json
//! iterates them (sorted keys, as this crate builds serde_json without `preserve_order`),
//! Python in insertion order: the two agree when the keys were written sorted.

use std::fmt::Write as _;
use std::sync::LazyLock;

use serde_json::{Number, Value};

/// `str(value)`: strings bare, everything else as [`py_repr`].
pub(crate) fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// `type(value).__name__` of the Python object `json.loads` would build from `value`.
pub(crate) fn py_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `repr(value)` of the Python object `json.loads` would build from `value`.
///
/// Iterative, so a value nested arbitrarily deep cannot overflow the stack.
pub(crate) fn py_repr(value: &Value) -> String {
    enum Item<'a> {
        Value(&'a Value),
        Key(&'a str),
        Text(&'static str),
    }
    let mut out = String::new();
    let mut stack = vec![Item::Value(value)];
    while let Some(item) = stack.pop() {
        match item {
            Item::Text(t) => out.push_str(t),
            Item::Key(k) => {
                repr_str(&mut out, k);
                out.push_str(": ");
            }
            Item::Value(v) => match v {
                Value::Null => out.push_str("None"),
                Value::Bool(true) => out.push_str("True"),
                Value::Bool(false) => out.push_str("False"),
                Value::Number(n) => repr_number(&mut out, n),
                Value::String(s) => repr_str(&mut out, s),
                Value::Array(items) => {
                    out.push('[');
                    stack.push(Item::Text("]"));
                    for (i, x) in items.iter().enumerate().rev() {
                        stack.push(Item::Value(x));
                        if i > 0 {
                            stack.push(Item::Text(", "));
                        }
                    }
                }
                Value::Object(map) => {
                    out.push('{');
                    stack.push(Item::Text("}"));
                    let entries: Vec<_> = map.iter().collect();
                    for (i, (k, x)) in entries.into_iter().enumerate().rev() {
                        stack.push(Item::Value(x));
                        stack.push(Item::Key(k));
                        if i > 0 {
                            stack.push(Item::Text(", "));
                        }
                    }
                }
            },
        }
    }
    out
}

fn repr_number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        out.push_str(&py_float_repr(f));
    }
}

/// `repr(float)`: the shortest digits that round-trip, in fixed notation when the decimal
/// exponent is in `-4..16` (`0.0001`, `1000000000000000.0`), else `1e-05`, `1.5e+300`.
pub(crate) fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    // Rust's `{:e}` also prints the shortest round-tripping digits: "-1.2345e-7", "1e16".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::from(sign);
    if (-4..16).contains(&exp) {
        // Position of the decimal point after the first `point` digits.
        let point = exp + 1;
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
            out.push_str(&digits);
        } else {
            let point = point as usize;
            if point >= digits.len() {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', point - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    }
    out
}

/// Python's `repr(str)`: single quotes unless the text has `'` and no `"`; backslash escapes
/// for the quote, `\\`, `\t \n \r`, and `\xhh` / `\uhhhh` / `\Uhhhhhhhh` for characters
/// that are not printable.
fn repr_str(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        let code = c as u32;
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            _ if code < 0x20 || code == 0x7f => {
                let _ = write!(out, "\\x{code:02x}");
            }
            c if code < 0x7f || is_printable(c) => out.push(c),
            _ if code <= 0xff => {
                let _ = write!(out, "\\x{code:02x}");
            }
            _ if code <= 0xffff => {
                let _ = write!(out, "\\u{code:04x}");
            }
            _ => {
                let _ = write!(out, "\\U{code:08x}");
            }
        }
    }
    out.push(quote);
}

/// Python's `str.isprintable` for one non-ASCII character: not in the general categories
/// Other (Cc, Cf, Cs, Co, Cn) or Separator (Zl, Zp, Zs). The Unicode version is the regex
/// crate's, which may differ from the Python build's for recently assigned characters.
fn is_printable(c: char) -> bool {
    static NOT_PRINTABLE: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"^[\p{C}\p{Z}]$").ok());
    let mut buf = [0u8; 4];
    match NOT_PRINTABLE.as_ref() {
        Some(re) => !re.is_match(c.encode_utf8(&mut buf)),
        None => !c.is_control() && !c.is_whitespace(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{py_float_repr, py_repr, py_str};

    #[test]
    fn floats_print_like_python() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (1e-05, "1e-05"),
            (-0.0, "-0.0"),
            (1.5e300, "1.5e+300"),
            (123456789.125, "123456789.125"),
            (-2.5e-7, "-2.5e-07"),
            (9007199254740992.0, "9007199254740992.0"),
            (1.2345678901234567e19, "1.2345678901234567e+19"),
        ] {
            assert_eq!(py_float_repr(f), want, "{f:e}");
        }
    }

    #[test]
    fn containers_and_strings_print_like_python() {
        let v = json!([{"it's": "a\tb\n\"c\"\\"}, "say \"hi\"", null, true, 1, 2.0]);
        assert_eq!(
            py_repr(&v),
            r#"[{"it's": 'a\tb\n"c"\\'}, 'say "hi"', None, True, 1, 2.0]"#
        );
        assert_eq!(py_str(&json!("bare")), "bare");
        assert_eq!(
            py_repr(&json!(
                "\u{0}\u{1f}\u{7f}\u{85}\u{a0}\u{ad}\u{200b}\u{2028}\u{e000}é😀"
            )),
            r"'\x00\x1f\x7f\x85\xa0\xad\u200b\u2028\ue000é😀'"
        );
    }
}
