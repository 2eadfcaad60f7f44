//! Placeholder for the PyO3 bindings (`mnemodb._native`): nothing here yet. The Python client
//! issue builds the binding crate and the pure-Python `mnemodb` package over it.
