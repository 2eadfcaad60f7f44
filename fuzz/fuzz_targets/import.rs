//! `mnemodb import` of arbitrary bytes as JSON Lines and as MessagePack: records or an error
//! naming the bad line, never a panic.
#![no_main]

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use mnemodb_server::cli::Cli;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    for (name, format) in [("in.jsonl", "jsonl"), ("in.msgpack", "msgpack")] {
        let file = dir.path().join(name);
        if std::fs::write(&file, data).is_err() {
            return;
        }
        let db = dir.path().join(format!("db-{format}"));
        let (Some(db_s), Some(file_s)) = (db.to_str(), file.to_str()) else { return };
        let Ok(cli) = Cli::try_parse_from([
            "mnemodb", "import", db_s, file_s, "--collection", "fuzzed", "--format", format,
        ]) else {
            return;
        };
        let _ = mnemodb_server::run(cli);
    }
});
