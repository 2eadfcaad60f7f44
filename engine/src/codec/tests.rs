//! Round trips of every encoding (proptest), the golden streams of each format version, and
//! the refusals (bad headers, damaged frames, values JSON cannot hold).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use proptest::prelude::*;

use super::*;

/// Any value; `json` leaves out what JSON refuses (non-finite floats, a `{"$bytes": str}` map).
fn value(json: bool) -> impl Strategy<Value = Value> {
    let float = if json {
        prop_oneof![
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
            Just(-0.0),
            Just(f64::MIN_POSITIVE / 2.0),
            Just(f64::MAX),
        ]
        .boxed()
    } else {
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0)
        ]
        .boxed()
    };
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0), Just(-1)].prop_map(Value::Int),
        float.prop_map(Value::Float),
        ".{0,12}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::vec((".{0,6}", inner), 0..6).prop_map(move |mut m| {
                if json {
                    for (k, _) in &mut m {
                        if k == BYTES_KEY {
                            k.push('_');
                        }
                    }
                }
                Value::Map(m)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_value_round_trips_through_json(v in value(true)) {
        for compression in [Compression::None, Compression::Zstd] {
            let bytes = encode(&v, Format::new(Encoding::Json, compression)).unwrap();
            let back = decode(&bytes).unwrap();
            prop_assert!(back.same(&v), "{v:?} came back as {back:?}");
        }
    }

    #[test]
    fn every_value_round_trips_through_msgpack(v in value(false)) {
        for compression in [Compression::None, Compression::Zstd] {
            let bytes = encode(&v, Format::new(Encoding::MessagePack, compression)).unwrap();
            let back = decode(&bytes).unwrap();
            prop_assert!(back.same(&v), "{v:?} came back as {back:?}");
        }
    }

    #[test]
    fn every_value_round_trips_through_postcard(v in value(false)) {
        for compression in [Compression::None, Compression::Zstd] {
            let bytes = encode(&v, Format::new(Encoding::Postcard, compression)).unwrap();
            let back = decode(&bytes).unwrap();
            prop_assert!(back.same(&v), "{v:?} came back as {back:?}");
        }
    }

    /// A stream of many values reads back value by value, whatever the format.
    #[test]
    fn streams_of_values_read_back_in_order(vs in proptest::collection::vec(value(true), 0..8)) {
        for format in Format::ALL {
            let mut w = StreamWriter::new(Vec::new(), format).unwrap();
            for v in &vs {
                w.write(v).unwrap();
            }
            let bytes = w.finish().unwrap();
            let mut r = StreamReader::new(bytes.as_slice(), "test").unwrap();
            prop_assert_eq!(r.format(), format);
            for v in &vs {
                let back = r.next_value().unwrap().unwrap();
                prop_assert!(back.same(v), "{format}: {v:?} came back as {back:?}");
            }
            prop_assert!(r.next_value().unwrap().is_none());
        }
    }

    /// Damaged bytes are an error or some value, never a panic.
    #[test]
    fn damaged_streams_are_errors_never_panics(v in value(false), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        for format in Format::ALL {
            let Ok(mut bytes) = encode(&v, format) else { continue };
            let i = at.index(bytes.len());
            bytes[i] = byte;
            let _ = decode(&bytes);
            bytes.truncate(i);
            prop_assert!(decode(&bytes).is_err() || i >= HEADER_LEN);
        }
    }
}

/// The value in every golden stream: each variant, the integer and float extremes, unicode,
/// nesting, and empty containers.
fn golden_values() -> Vec<Value> {
    let checkpoint = Value::Map(vec![
        ("v".into(), Value::Int(4)),
        (
            "id".into(),
            Value::Str("1ef4f797-8335-6428-8001-8a1503f9b875".into()),
        ),
        ("ts".into(), Value::Str("2026-12-04T13:00:00+00:00".into())),
        (
            "channel_values".into(),
            Value::Map(vec![(
                "messages".into(),
                Value::List(vec![
                    Value::Map(vec![
                        ("type".into(), Value::Str("human".into())),
                        ("content".into(), Value::Str("héllo, wörld ✓ 🦀".into())),
                    ]),
                    Value::Map(vec![
                        ("type".into(), Value::Str("ai".into())),
                        ("content".into(), Value::Str(String::new())),
                        ("tool_calls".into(), Value::List(vec![])),
                        ("usage".into(), Value::Map(vec![])),
                    ]),
                ]),
            )]),
        ),
        ("blob".into(), Value::Bytes(vec![0, 1, 2, 254, 255])),
        ("none".into(), Value::Null),
        (
            "flags".into(),
            Value::List(vec![Value::Bool(true), Value::Bool(false)]),
        ),
    ]);
    let numbers = Value::List(vec![
        Value::Int(0),
        Value::Int(-1),
        Value::Int(127),
        Value::Int(128),
        Value::Int(-129),
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Float(0.1),
        Value::Float(1.0),
        Value::Float(-2.5e-308),
        Value::Float(f64::MAX),
        Value::Float(f64::from(0.1f32)),
    ]);
    vec![checkpoint, numbers]
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/codec")
}

/// Each format of stream version 1 has a golden file (`tests/data/codec/v1/values.<ext>`):
/// it decodes to [`golden_values`], and encoding them today gives it byte for byte. To
/// regenerate after a deliberate change of the format (with a new version):
/// `MNEMODB_BLESS=1 cargo test -p mnemodb --lib codec::tests::golden` (see the README there).
#[test]
fn golden_streams_of_version_1_decode_and_encode_byte_for_byte() {
    let dir = golden_dir().join(format!("v{STREAM_VERSION}"));
    let values = golden_values();
    for format in Format::ALL {
        let mut w = StreamWriter::new(Vec::new(), format).unwrap();
        for v in &values {
            w.write(v).unwrap();
        }
        let ours = w.finish().unwrap();
        let path = dir.join(format!("values.{}", format.extension()));
        if std::env::var_os("MNEMODB_BLESS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &ours).unwrap();
        }
        let golden = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (bless it: see the doc comment)", path.display()));
        let mut r = StreamReader::new(golden.as_slice(), "golden").unwrap();
        assert_eq!(r.format(), format);
        for v in &values {
            let back = r.next_value().unwrap().unwrap();
            assert!(back.same(v), "{}: {back:?}", path.display());
        }
        assert!(r.next_value().unwrap().is_none());
        assert!(
            ours == golden,
            "{}: encoding the golden values no longer gives the golden bytes; a change of \
             the format needs a new STREAM_VERSION (and a new golden directory)",
            path.display()
        );
    }
}

#[test]
fn headers_name_their_format_and_unknown_ones_are_refused() {
    for format in Format::ALL {
        let h = header(format);
        assert_eq!(parse_header(&h, "x").unwrap(), format);
        assert_eq!(format.to_string().parse::<Format>().unwrap(), format);
        assert_eq!(h[15], b'\n');
    }
    let mut h = header(Format::ALL[0]);
    h[8] = 2;
    let e = parse_header(&h, "f").unwrap_err();
    assert!(
        matches!(e, crate::Error::UnsupportedFormat { found: 2, .. }),
        "{e}"
    );
    let e = parse_header(b"{\"mnemodb_export\":1}", "f").unwrap_err();
    assert!(e.to_string().contains("not a mnemodb codec stream"), "{e}");
    let mut h = header(Format::ALL[0]);
    h[10] = 9;
    assert!(
        parse_header(&h, "f")
            .unwrap_err()
            .to_string()
            .contains("encoding 9")
    );
    let e = "yaml".parse::<Format>().unwrap_err();
    assert!(e.to_string().contains("json, msgpack or postcard"), "{e}");
}

#[test]
fn json_refuses_what_it_could_not_give_back() {
    let json = Format::new(Encoding::Json, Compression::None);
    let e = encode(&Value::Float(f64::NAN), json).unwrap_err();
    assert!(e.to_string().contains("use msgpack or postcard"), "{e}");
    let tricky = Value::Map(vec![(BYTES_KEY.into(), Value::Str("AAE=".into()))]);
    let e = encode(&tricky, json).unwrap_err();
    assert!(
        e.to_string().contains("read back from JSON as bytes"),
        "{e}"
    );
    // The binary encodings keep both.
    for format in &Format::ALL[2..] {
        assert!(
            decode(&encode(&tricky, *format).unwrap())
                .unwrap()
                .same(&tricky)
        );
    }
}

#[test]
fn nesting_past_the_limit_is_refused_on_decode() {
    let mut deep = Value::Null;
    for _ in 0..=MAX_DEPTH + 1 {
        deep = Value::List(vec![deep]);
    }
    for format in &Format::ALL[2..] {
        let bytes = encode(&deep, *format).unwrap();
        let e = decode(&bytes).unwrap_err();
        assert!(e.to_string().contains("nested more than"), "{format}: {e}");
    }
}

#[test]
fn errors_name_the_line_or_value() {
    let mut bytes = header(Format::new(Encoding::Json, Compression::None)).to_vec();
    bytes.extend_from_slice(b"{\"a\":1}\n\n{\"b\":\n");
    let mut r = StreamReader::new(bytes.as_slice(), "f.jsonl").unwrap();
    assert!(r.next_value().unwrap().is_some());
    let e = r.next_value().unwrap_err();
    assert!(e.to_string().starts_with("f.jsonl line 4:"), "{e}");
    let mut w = StreamWriter::new(Vec::new(), Format::ALL[4]).unwrap();
    w.write(&Value::Int(1)).unwrap();
    w.write(&Value::Str("abc".into())).unwrap();
    let mut bytes = w.finish().unwrap();
    bytes.pop();
    let mut r = StreamReader::new(bytes.as_slice(), "f.postcard").unwrap();
    assert!(r.next_value().unwrap().is_some());
    let e = r.next_value().unwrap_err();
    assert!(e.to_string().starts_with("f.postcard value 2:"), "{e}");
}
