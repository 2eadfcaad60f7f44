//! [`Value`], the codec's data model (Python's JSON-like values plus bytes), and how each
//! encoding sees it: natural maps and arrays for JSON and MessagePack, explicitly tagged
//! variants for postcard, which is not self-describing.

use std::fmt;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// The JSON key a byte string is written under (`{"$bytes": "<base64>"}`): JSON has no bytes.
pub const BYTES_KEY: &str = "$bytes";

/// Deepest nesting of lists and maps decoded (a hostile stream cannot exhaust the stack).
pub const MAX_DEPTH: usize = 128;

/// A value the codec encodes: what a Python checkpoint or an export record is made of.
///
/// Maps keep their keys in insertion order (a Python `dict` round-trips with its order);
/// integers and floats stay distinct (`1` and `1.0` come back as they went).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// JSON `null`, Python `None`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float (JSON refuses NaN and the infinities; the binary encodings keep them).
    Float(f64),
    /// A UTF-8 string.
    Str(String),
    /// A byte string (JSON writes it as `{"$bytes": "<base64>"}`).
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Value>),
    /// A map with string keys, in insertion order.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// The value under `key` of a map (the first one, if a key repeats).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether `self` and `other` are the same value bit for bit (floats compared by their
    /// bits, so NaN equals itself and `-0.0` differs from `0.0`).
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.same(vb))
            }
            _ => self == other,
        }
    }

    /// The name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "a list",
            Value::Map(_) => "a map",
        }
    }
}

/// Natural form: `null`, booleans, numbers, strings, arrays and maps; bytes as MessagePack's
/// `bin`, or in a human-readable format (JSON) as `{"$bytes": "<base64>"}`. JSON refuses what
/// it cannot give back: non-finite floats and a map that would read back as bytes.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => {
                if s.is_human_readable() && !f.is_finite() {
                    return Err(ser::Error::custom(format!(
                        "JSON cannot hold the float {f}: use msgpack or postcard"
                    )));
                }
                s.serialize_f64(*f)
            }
            Value::Str(v) => s.serialize_str(v),
            Value::Bytes(b) if s.is_human_readable() => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(
                    BYTES_KEY,
                    &base64::engine::general_purpose::STANDARD.encode(b),
                )?;
                m.end()
            }
            Value::Bytes(b) => s.serialize_bytes(b),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                if s.is_human_readable()
                    && let [(k, Value::Str(_))] = entries.as_slice()
                    && k == BYTES_KEY
                {
                    return Err(ser::Error::custom(format!(
                        "a map whose only key is {BYTES_KEY:?} with a string value would read \
                         back from JSON as bytes: rename the key, or use msgpack or postcard"
                    )));
                }
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

/// Reads the natural form of any self-describing format (JSON, MessagePack).
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let human = d.is_human_readable();
        NaturalSeed { depth: 0, human }.deserialize(d)
    }
}

#[derive(Clone, Copy)]
struct NaturalSeed {
    depth: usize,
    human: bool,
}

impl NaturalSeed {
    fn deeper<E: de::Error>(self) -> Result<NaturalSeed, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format!(
                "lists and maps nested more than {MAX_DEPTH} deep"
            )));
        }
        Ok(NaturalSeed {
            depth: self.depth + 1,
            ..self
        })
    }
}

impl<'de> DeserializeSeed<'de> for NaturalSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NaturalSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null, a boolean, number, string, bytes, list or map")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).map_err(|_| {
            E::custom(format!(
                "the integer {v} is past the largest the codec holds (2^63 - 1)"
            ))
        })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element_seed(inner)? {
            items.push(v);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut entries: Vec<(String, Value)> =
            Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(inner)?;
            entries.push((k, v));
        }
        if self.human
            && let [(k, Value::Str(b64))] = entries.as_slice()
            && k == BYTES_KEY
        {
            return base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map(Value::Bytes)
                .map_err(|e| de::Error::custom(format!("{BYTES_KEY}: not base64: {e}")));
        }
        Ok(Value::Map(entries))
    }
}

/// The variants' names and indices in postcard's tagged form (never reorder: they are the
/// format).
const VARIANTS: &[&str] = &[
    "Null", "Bool", "Int", "Float", "Str", "Bytes", "List", "Map",
];

/// `value` in postcard's tagged form: each value is a variant index (a varint) then its
/// content, as a derived enum would be.
pub(crate) struct Tagged<'a>(pub(crate) &'a Value);

struct RawBytes<'a>(&'a [u8]);

impl Serialize for RawBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

struct TaggedList<'a>(&'a [Value]);

impl Serialize for TaggedList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Tagged))
    }
}

struct TaggedMap<'a>(&'a [(String, Value)]);

impl Serialize for TaggedMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, Tagged(v))))
    }
}

impl Serialize for Tagged<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const NAME: &str = "Value";
        match self.0 {
            Value::Null => s.serialize_unit_variant(NAME, 0, VARIANTS[0]),
            Value::Bool(b) => s.serialize_newtype_variant(NAME, 1, VARIANTS[1], b),
            Value::Int(i) => s.serialize_newtype_variant(NAME, 2, VARIANTS[2], i),
            Value::Float(f) => s.serialize_newtype_variant(NAME, 3, VARIANTS[3], f),
            Value::Str(v) => s.serialize_newtype_variant(NAME, 4, VARIANTS[4], v),
            Value::Bytes(b) => s.serialize_newtype_variant(NAME, 5, VARIANTS[5], &RawBytes(b)),
            Value::List(l) => s.serialize_newtype_variant(NAME, 6, VARIANTS[6], &TaggedList(l)),
            Value::Map(m) => s.serialize_newtype_variant(NAME, 7, VARIANTS[7], &TaggedMap(m)),
        }
    }
}

/// Reads postcard's tagged form, at most [`MAX_DEPTH`] deep. postcard drops the text of a
/// custom error, so going too deep is also recorded in `too_deep`.
#[derive(Clone, Copy)]
pub(crate) struct TaggedSeed<'a> {
    pub(crate) depth: usize,
    pub(crate) too_deep: &'a std::cell::Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for TaggedSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_enum("Value", VARIANTS, self)
    }
}

impl<'de> Visitor<'de> for TaggedSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tagged codec value")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        use de::VariantAccess as _;
        let (index, variant): (u32, _) = data.variant()?;
        let nested = || {
            if self.depth >= MAX_DEPTH {
                self.too_deep.set(true);
                Err(de::Error::custom(format!(
                    "lists and maps nested more than {MAX_DEPTH} deep"
                )))
            } else {
                Ok(TaggedSeed {
                    depth: self.depth + 1,
                    ..self
                })
            }
        };
        Ok(match index {
            0 => {
                variant.unit_variant()?;
                Value::Null
            }
            1 => Value::Bool(variant.newtype_variant()?),
            2 => Value::Int(variant.newtype_variant()?),
            3 => Value::Float(variant.newtype_variant()?),
            4 => Value::Str(variant.newtype_variant()?),
            5 => Value::Bytes(variant.newtype_variant::<OwnedBytes>()?.0),
            6 => Value::List(variant.newtype_variant_seed(ListSeed(nested()?))?),
            7 => Value::Map(variant.newtype_variant_seed(MapSeed(nested()?))?),
            other => {
                return Err(de::Error::custom(format!(
                    "unknown value tag {other} (this build knows 0-7)"
                )));
            }
        })
    }
}

struct OwnedBytes(Vec<u8>);

impl<'de> Deserialize<'de> for OwnedBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OwnedBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<OwnedBytes, E> {
                Ok(OwnedBytes(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<OwnedBytes, E> {
                Ok(OwnedBytes(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

struct ListSeed<'a>(TaggedSeed<'a>);

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Vec<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of tagged values")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element_seed(self.0)? {
            items.push(v);
        }
        Ok(items)
    }
}

struct MapSeed<'a>(TaggedSeed<'a>);

impl<'de> DeserializeSeed<'de> for MapSeed<'_> {
    type Value = Vec<(String, Value)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MapSeed<'_> {
    type Value = Vec<(String, Value)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of tagged values")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(k) = map.next_key::<String>()? {
            entries.push((k, map.next_value_seed(self.0)?));
        }
        Ok(entries)
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN))),
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::Map(o.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect())
            }
        }
    }
}

impl Value {
    /// The value as JSON (bytes as `{"$bytes": ...}`), for configurations that live as JSON.
    pub fn to_json(&self) -> crate::Result<serde_json::Value> {
        serde_json::to_value(self).map_err(|e| crate::Error::BadData {
            at: "value".into(),
            detail: e.to_string(),
        })
    }
}
