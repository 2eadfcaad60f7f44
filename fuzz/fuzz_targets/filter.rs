//! `where` / `where_document` as JSON: parsed both as the Python client and as chroma's
//! server validate them, and evaluated on a few records. Must return a result or a typed
//! error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mnemodb::{Metadata, MetadataValue};

fuzz_target!(|data: &[u8]| {
    // The first byte says which argument the rest is.
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(rest) else {
        return;
    };
    let (where_, document) = match which % 3 {
        0 => (Some(&value), None),
        1 => (None, Some(&value)),
        _ => (Some(&value), Some(&value)),
    };
    let mut m = Metadata::new();
    m.insert("k".into(), MetadataValue::Int(3));
    m.insert("s".into(), MetadataValue::Str("abc".into()));
    m.insert("f".into(), MetadataValue::Float(0.5));
    m.insert("b".into(), MetadataValue::Bool(true));
    for backend in [false, true] {
        if let Ok(matches) = mnemodb::testing::oracle(where_, document, backend) {
            let _ = matches(Some(&m), Some("the abc document"));
            let _ = matches(None, None);
        }
    }
});
