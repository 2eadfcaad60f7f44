//! Canonical JSON for tool arguments: the text two equal argument values always share, the
//! cache's and the repetition limit's key.
//!
//! Object keys are sorted (by their UTF-8 bytes) at every depth, there is no whitespace, and
//! a number with an integral value that an `f64` holds exactly (|x| < 2^53) is written as an
//! integer, so `{"b": 1.0, "a": [2]}` and `{"a":[2],"b":1}` give the same text (Python's
//! `1 == 1.0` too). `-0.0` is `0`. Strings are escaped as `serde_json` escapes them.

use serde_json::Value;

/// Largest integer an `f64` holds exactly, and one past it.
const EXACT_INT_F64: f64 = 9_007_199_254_740_992.0;

/// The canonical text of `value`.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => out.push_str(&value.to_string()),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < EXACT_INT_F64 => {
                out.push_str(&(f as i64).to_string());
            }
            _ => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write(v, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn equal_arguments_share_one_text_whatever_their_order_and_spelling() {
        let a = json!({"b": 1.0, "a": [2, {"y": -0.0, "x": "é\n"}], "c": null});
        let b: Value =
            serde_json::from_str(r#"{"c":null,"a":[2.0,{"x":"é\n","y":0}],"b":1}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(
            canonical_json(&a),
            r#"{"a":[2,{"x":"é\n","y":0}],"b":1,"c":null}"#
        );
        // Different values stay different.
        assert_ne!(
            canonical_json(&json!({"a": 1.5})),
            canonical_json(&json!({"a": 1}))
        );
        assert_ne!(canonical_json(&json!(["1"])), canonical_json(&json!([1])));
        // Beyond 2^53 a float is not an integer's spelling.
        assert_eq!(canonical_json(&json!(1e300)), "1e+300");
    }
}
