//! The benchmark package has no library code; the benches live in `benches/benches/`.
