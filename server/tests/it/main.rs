//! Integration tests of the `mnemodb` binary and its HTTP server.
