//! The codec against serde_json and rmp-serde on a LangGraph-shaped checkpoint (a nested dict:
//! channel values holding a list of chat messages, channel versions, versions seen), at about
//! 10 KB and 1 MB of JSON: encode and decode, each library on its own dynamic value type
//! (`codec::Value`, `serde_json::Value`). Run with
//! `cargo bench -p mnemodb-bench --bench codec -- --warm-up-time 1 --measurement-time 3`.
//! `benches/peers/codec_bench.py` compares the same shape from Python with orjson and ormsgpack.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mnemodb::codec::{self, Compression, Encoding, Format, Value};

fn s(x: &str) -> Value {
    Value::Str(x.to_owned())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// Message `i` of a conversation: human and AI turns, some AI turns with a tool call, and a
/// tool result; texts of a few hundred characters.
fn message(i: usize) -> Value {
    let text = format!(
        "Message {i}: the user asks about the weather in city {} and the assistant answers \
         with a forecast, a few numbers ({:.3}, {}) and a follow-up question. {}",
        i % 97,
        i as f64 * 0.37,
        i * 7,
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(1 + i % 4)
    );
    let id = format!("run-{:08x}-{:04x}-msg", i * 2_654_435_761 % (1 << 32), i);
    match i % 4 {
        0 => map(vec![
            ("type", s("human")),
            ("content", Value::Str(text)),
            ("id", Value::Str(id)),
            ("additional_kwargs", map(vec![])),
            ("response_metadata", map(vec![])),
        ]),
        1 | 3 => map(vec![
            ("type", s("ai")),
            ("content", Value::Str(text)),
            ("id", Value::Str(id)),
            (
                "response_metadata",
                map(vec![
                    ("model_name", s("gpt-4o-mini")),
                    ("finish_reason", s("stop")),
                    (
                        "token_usage",
                        map(vec![
                            ("prompt_tokens", Value::Int(120 + i as i64)),
                            ("completion_tokens", Value::Int(42)),
                            ("total_tokens", Value::Int(162 + i as i64)),
                        ]),
                    ),
                ]),
            ),
            (
                "tool_calls",
                Value::List(if i % 4 == 1 {
                    vec![map(vec![
                        ("name", s("get_weather")),
                        (
                            "args",
                            map(vec![("city", s("Paris")), ("days", Value::Int(3))]),
                        ),
                        ("id", Value::Str(format!("call_{i}"))),
                        ("type", s("tool_call")),
                    ])]
                } else {
                    vec![]
                }),
            ),
            (
                "usage_metadata",
                map(vec![("input_tokens", Value::Int(120))]),
            ),
        ]),
        _ => map(vec![
            ("type", s("tool")),
            ("content", Value::Str(text)),
            ("tool_call_id", Value::Str(format!("call_{}", i - 1))),
            ("status", s("success")),
            ("artifact", Value::Null),
            ("score", Value::Float(i as f64 / 3.0)),
        ]),
    }
}

/// A checkpoint whose JSON is at least `bytes` long.
fn checkpoint(bytes: usize) -> Value {
    let mut messages = Vec::new();
    loop {
        messages.push(message(messages.len()));
        let v = wrap(messages.clone());
        if serde_json::to_vec(&v).map_or(0, |b| b.len()) >= bytes {
            return v;
        }
    }
}

fn wrap(messages: Vec<Value>) -> Value {
    let n = messages.len() as i64;
    map(vec![
        ("v", Value::Int(4)),
        ("ts", s("2026-12-04T13:00:00.000000+00:00")),
        ("id", s("1efb2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d")),
        (
            "channel_values",
            map(vec![
                ("messages", Value::List(messages)),
                ("step", Value::Int(n)),
                ("branch:to:agent", Value::Null),
            ]),
        ),
        (
            "channel_versions",
            map(vec![
                ("__start__", s("00000000000000000000000000000002.0.243798")),
                ("messages", Value::Str(format!("{n:032}.0.5"))),
                ("branch:to:agent", s("00000000000000000000000000000003.0.1")),
            ]),
        ),
        (
            "versions_seen",
            map(vec![
                ("__input__", map(vec![])),
                (
                    "agent",
                    map(vec![(
                        "messages",
                        s("00000000000000000000000000000002.0.1"),
                    )]),
                ),
            ]),
        ),
        ("pending_sends", Value::List(vec![])),
    ])
}

fn codec_bench(c: &mut Criterion) {
    for (label, size) in [("10KB", 10 << 10), ("1MB", 1 << 20)] {
        let value = checkpoint(size);
        let json_value = value.to_json().expect("a checkpoint is JSON");
        let json_len = serde_json::to_vec(&json_value).expect("json").len();
        let mut sizes = vec![format!("serde_json {json_len} B")];
        let mut g = c.benchmark_group(format!("codec/{label}"));
        g.throughput(Throughput::Bytes(json_len as u64));
        let ours = [
            Format::new(Encoding::Json, Compression::None),
            Format::new(Encoding::MessagePack, Compression::None),
            Format::new(Encoding::Postcard, Compression::None),
            Format::new(Encoding::Postcard, Compression::Zstd),
        ];
        for format in ours {
            let bytes = codec::encode(&value, format).expect("encode");
            sizes.push(format!("{format} {} B", bytes.len()));
            g.bench_function(
                BenchmarkId::new("encode", format!("mnemodb-{format}")),
                |b| b.iter(|| codec::encode(black_box(&value), format).expect("encode")),
            );
            g.bench_function(
                BenchmarkId::new("decode", format!("mnemodb-{format}")),
                |b| b.iter(|| codec::decode(black_box(&bytes)).expect("decode")),
            );
        }
        let json = serde_json::to_vec(&json_value).expect("json");
        g.bench_function(BenchmarkId::new("encode", "serde_json"), |b| {
            b.iter(|| serde_json::to_vec(black_box(&json_value)).expect("json"))
        });
        g.bench_function(BenchmarkId::new("decode", "serde_json"), |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&json)).expect("json"))
        });
        let mp = rmp_serde::to_vec(&json_value).expect("msgpack");
        sizes.push(format!("rmp-serde {} B", mp.len()));
        g.bench_function(BenchmarkId::new("encode", "rmp-serde"), |b| {
            b.iter(|| rmp_serde::to_vec(black_box(&json_value)).expect("msgpack"))
        });
        g.bench_function(BenchmarkId::new("decode", "rmp-serde"), |b| {
            b.iter(|| rmp_serde::from_slice::<serde_json::Value>(black_box(&mp)).expect("msgpack"))
        });
        g.finish();
        eprintln!("codec/{label} sizes: {}", sizes.join(", "));
    }
}

criterion_group!(benches, codec_bench);
criterion_main!(benches);
