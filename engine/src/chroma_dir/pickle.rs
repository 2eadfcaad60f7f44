//! A reader of the small subset of Python's pickle format that Chroma's `index_metadata.pickle`
//! uses: dicts of strings and integers (chromadb 1.x writes a plain dict; 0.4/0.5 pickled an
//! object whose state is that dict). It builds values only, never calls or imports anything.

use std::collections::HashMap;

/// A value read from a pickle.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// A class or function named by `GLOBAL`; only ever instantiated into [`Value::Object`].
    Global,
    /// An object made by `NEWOBJ` / `REDUCE`, with the state `BUILD` gave it.
    Object(Box<Value>),
}

impl Value {
    /// The entry `key` of a dict (or of an object's state dict).
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(items) => items
                .iter()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v),
            Value::Object(state) => state.get(key),
            _ => None,
        }
    }
}

/// An item on the machine's stack.
enum Item {
    Mark,
    V(Value),
}

/// Reads one pickle; `Err` says what was not understood (the caller names the file).
pub(crate) fn read(data: &[u8]) -> Result<Value, String> {
    let mut r = Reader { data, at: 0 };
    let mut stack: Vec<Item> = Vec::new();
    let mut memo: HashMap<u64, Value> = HashMap::new();
    loop {
        let op = r.byte()?;
        match op {
            0x80 => {
                r.byte()?; // PROTO n
            }
            0x95 => {
                r.take(8)?; // FRAME: a length hint
            }
            b'.' => {
                // STOP
                return match stack.pop() {
                    Some(Item::V(v)) => Ok(v),
                    _ => Err("STOP with no value".into()),
                };
            }
            b'(' => stack.push(Item::Mark),
            b'N' => stack.push(Item::V(Value::None)),
            0x88 => stack.push(Item::V(Value::Bool(true))),
            0x89 => stack.push(Item::V(Value::Bool(false))),
            b'}' => stack.push(Item::V(Value::Dict(Vec::new()))),
            b']' => stack.push(Item::V(Value::List(Vec::new()))),
            b')' => stack.push(Item::V(Value::List(Vec::new()))),
            b'J' => {
                let v = i32::from_le_bytes(r.array()?);
                stack.push(Item::V(Value::Int(i64::from(v))));
            }
            b'K' => {
                let v = r.byte()?;
                stack.push(Item::V(Value::Int(i64::from(v))));
            }
            b'M' => {
                let v = u16::from_le_bytes(r.array()?);
                stack.push(Item::V(Value::Int(i64::from(v))));
            }
            0x8a => {
                // LONG1: n little-endian two's-complement bytes
                let n = usize::from(r.byte()?);
                let bytes = r.take(n)?;
                stack.push(Item::V(Value::Int(long(bytes)?)));
            }
            b'G' => {
                let v = f64::from_be_bytes(r.array()?);
                stack.push(Item::V(Value::Float(v)));
            }
            b'X' => {
                let n = u32::from_le_bytes(r.array()?) as usize;
                stack.push(Item::V(Value::Str(r.text(n)?)));
            }
            0x8c => {
                let n = usize::from(r.byte()?);
                stack.push(Item::V(Value::Str(r.text(n)?)));
            }
            0x8d => {
                let n = usize::try_from(u64::from_le_bytes(r.array()?))
                    .map_err(|_| "string too long")?;
                stack.push(Item::V(Value::Str(r.text(n)?)));
            }
            b'C' => {
                let n = usize::from(r.byte()?);
                stack.push(Item::V(Value::Bytes(r.take(n)?.to_vec())));
            }
            b'B' => {
                let n = u32::from_le_bytes(r.array()?) as usize;
                stack.push(Item::V(Value::Bytes(r.take(n)?.to_vec())));
            }
            b'c' => {
                // GLOBAL "module\nname\n"
                r.line()?;
                r.line()?;
                stack.push(Item::V(Value::Global));
            }
            0x93 => {
                // STACK_GLOBAL
                pop(&mut stack)?;
                pop(&mut stack)?;
                stack.push(Item::V(Value::Global));
            }
            0x81 | b'R' => {
                // NEWOBJ / REDUCE: callable, args -> object
                pop(&mut stack)?;
                match pop(&mut stack)? {
                    Value::Global => {}
                    _ => return Err("only classes named by GLOBAL can be instantiated".into()),
                }
                stack.push(Item::V(Value::Object(Box::new(Value::None))));
            }
            b'b' => {
                // BUILD
                let state = pop(&mut stack)?;
                match stack.last_mut() {
                    Some(Item::V(Value::Object(s))) => **s = state,
                    _ => return Err("BUILD without an object".into()),
                }
            }
            0x85..=0x87 => {
                // TUPLE1..3
                let n = usize::from(op - 0x84);
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(pop(&mut stack)?);
                }
                items.reverse();
                stack.push(Item::V(Value::List(items)));
            }
            b't' | b'l' => {
                let items = pop_to_mark(&mut stack)?;
                stack.push(Item::V(Value::List(items)));
            }
            b'd' => {
                let items = pop_to_mark(&mut stack)?;
                let dict = pairs(items)?;
                stack.push(Item::V(Value::Dict(dict)));
            }
            b's' => {
                let v = pop(&mut stack)?;
                let k = pop(&mut stack)?;
                dict_top(&mut stack)?.push((k, v));
            }
            b'u' => {
                let items = pop_to_mark(&mut stack)?;
                let new = pairs(items)?;
                dict_top(&mut stack)?.extend(new);
            }
            b'a' => {
                let v = pop(&mut stack)?;
                list_top(&mut stack)?.push(v);
            }
            b'e' => {
                let items = pop_to_mark(&mut stack)?;
                list_top(&mut stack)?.extend(items);
            }
            b'q' | b'r' | 0x94 => {
                // BINPUT / LONG_BINPUT / MEMOIZE
                let key = match op {
                    b'q' => u64::from(r.byte()?),
                    b'r' => u64::from(u32::from_le_bytes(r.array()?)),
                    _ => memo.len() as u64,
                };
                match stack.last() {
                    Some(Item::V(v)) => {
                        memo.insert(key, v.clone());
                    }
                    _ => return Err("memo put with no value".into()),
                }
            }
            b'h' | b'j' => {
                let key = if op == b'h' {
                    u64::from(r.byte()?)
                } else {
                    u64::from(u32::from_le_bytes(r.array()?))
                };
                let v = memo.get(&key).ok_or("memo get of an unknown key")?;
                stack.push(Item::V(v.clone()));
            }
            other => return Err(format!("unsupported pickle opcode 0x{other:02x}")),
        }
    }
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| format!("truncated at byte {}", self.at))?;
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn text(&mut self, n: usize) -> Result<String, String> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "a string is not UTF-8".into())
    }

    fn line(&mut self) -> Result<(), String> {
        let rest = &self.data[self.at..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("unterminated line")?;
        self.at += n + 1;
        Ok(())
    }
}

fn long(bytes: &[u8]) -> Result<i64, String> {
    if bytes.len() > 8 {
        return Err("integer wider than 64 bits".into());
    }
    let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
    let mut buf = if negative { [0xff; 8] } else { [0; 8] };
    buf[..bytes.len()].copy_from_slice(bytes);
    Ok(i64::from_le_bytes(buf))
}

fn pop(stack: &mut Vec<Item>) -> Result<Value, String> {
    match stack.pop() {
        Some(Item::V(v)) => Ok(v),
        _ => Err("stack underflow".into()),
    }
}

fn pop_to_mark(stack: &mut Vec<Item>) -> Result<Vec<Value>, String> {
    let mut items = Vec::new();
    loop {
        match stack.pop() {
            Some(Item::V(v)) => items.push(v),
            Some(Item::Mark) => break,
            None => return Err("no MARK".into()),
        }
    }
    items.reverse();
    Ok(items)
}

fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>, String> {
    if !items.len().is_multiple_of(2) {
        return Err("odd number of dict items".into());
    }
    let mut it = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn dict_top(stack: &mut [Item]) -> Result<&mut Vec<(Value, Value)>, String> {
    match stack.last_mut() {
        Some(Item::V(Value::Dict(d))) => Ok(d),
        _ => Err("SETITEM(S) without a dict".into()),
    }
}

fn list_top(stack: &mut [Item]) -> Result<&mut Vec<Value>, String> {
    match stack.last_mut() {
        Some(Item::V(Value::List(l))) => Ok(l),
        _ => Err("APPEND(S) without a list".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{'a': 1, 'b': {'x': 300}, 'n': None}` at protocol 3 (as `pickle.dumps` writes it).
    const DICT_P3: &[u8] = b"\x80\x03}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02}q\x03X\x01\x00\x00\x00xq\x04M,\x01sX\x01\x00\x00\x00nq\x05Nu.";

    #[test]
    fn reads_a_protocol_3_dict() {
        let v = read(DICT_P3).expect("pickle");
        assert_eq!(v.get("a"), Some(&Value::Int(1)));
        assert_eq!(v.get("b").and_then(|b| b.get("x")), Some(&Value::Int(300)));
        assert_eq!(v.get("n"), Some(&Value::None));
    }

    /// An object of a class `PersistentData` with the fields chromadb 0.4/0.5 pickled, at
    /// protocol 4 (frames, memoized short strings, `STACK_GLOBAL`, `NEWOBJ`, `BUILD`).
    const OBJECT_P4: &[u8] = b"\x80\x04\x95\x99\x00\x00\x00\x00\x00\x00\x00\x8c\x07hnswmod\x94\x8c\x0ePersistentData\x94\x93\x94)\x81\x94}\x94(\x8c\x0edimensionality\x94K\x03\x8c\x14total_elements_added\x94K\x02\x8c\x0bid_to_label\x94}\x94(\x8c\x01x\x94K\x01\x8c\x01y\x94K\x02u\x8c\x0blabel_to_id\x94}\x94(K\x01h\tK\x02h\nu\x8c\nmax_seq_id\x94K\x05ub.";

    #[test]
    fn reads_an_objects_state_at_protocol_4() {
        let v = read(OBJECT_P4).expect("pickle");
        assert!(matches!(v, Value::Object(_)));
        let Some(Value::Dict(ids)) = v.get("id_to_label") else {
            panic!("no id_to_label in {v:?}");
        };
        assert_eq!(
            ids,
            &vec![
                (Value::Str("x".into()), Value::Int(1)),
                (Value::Str("y".into()), Value::Int(2))
            ]
        );
        let Some(Value::Dict(labels)) = v.get("label_to_id") else {
            panic!("no label_to_id in {v:?}");
        };
        assert_eq!(labels[1], (Value::Int(2), Value::Str("y".into())));
        assert_eq!(v.get("max_seq_id"), Some(&Value::Int(5)));
    }

    #[test]
    fn damaged_pickles_are_errors_never_panics() {
        for bytes in [DICT_P3, OBJECT_P4] {
            for cut in 0..bytes.len() {
                assert!(read(&bytes[..cut]).is_err(), "cut at {cut}");
            }
        }
        // A class is named, never looked up or called.
        assert_eq!(read(b"\x80\x03cos\nsystem\n."), Ok(Value::Global));
        assert!(read(b"\x80\x03\xff.").is_err());
    }

    #[test]
    fn negative_and_wide_longs() {
        assert_eq!(long(&[0xff]), Ok(-1));
        assert_eq!(long(&[0x00, 0x01]), Ok(256));
        assert!(long(&[0; 9]).is_err());
    }
}
