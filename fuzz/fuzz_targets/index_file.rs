//! HNSW graph files (`hnsw.<generation>.bin`) and live-slots checkpoints (`live.<gen>.bin`)
//! as an open reads them: any bytes give a graph or an error, never a panic or a wild read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mnemodb::Space;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("hnsw.0.bin");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    for space in [Space::L2, Space::Cosine, Space::Ip] {
        let _ = mnemodb::testing::read_index_file(&path, space);
    }
    let _ = mnemodb::testing::read_live_checkpoint(&path);
});
