//! Request bodies of the Chroma HTTP API as the server parses them (add, update, query, get,
//! delete, create collection), then converted as the handlers do. Must answer with a value or
//! an error, never panic, and never hold more records than the batch limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mnemodb::Op;
use mnemodb_server::http::wire::{
    AddBody, CreateCollection, DeleteBody, GetBody, QueryBody, UpdateBody, parse_body,
    parse_write_body,
};

const MAX_BATCH: usize = 64;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut b) = parse_write_body::<AddBody>(data, MAX_BATCH) {
        if b.check_counted(Op::Add).is_ok() {
            let _ = b.take_embeddings(Op::Add);
            let _ = b.take_metadatas();
        }
        // A list past the limit is counted, not stored.
        assert!(b.ids.into_vec().len() <= MAX_BATCH);
    }
    if let Ok(mut b) = parse_write_body::<UpdateBody>(data, MAX_BATCH) {
        if b.check_counted(Op::Upsert).is_ok() {
            let _ = b.take_embeddings(Op::Upsert);
            let _ = b.take_patches(Op::Upsert);
        }
    }
    let _ = parse_body::<QueryBody>(data);
    let _ = parse_body::<GetBody>(data);
    let _ = parse_body::<DeleteBody>(data);
    let _ = parse_body::<CreateCollection>(data);
});
