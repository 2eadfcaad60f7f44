//! Integration tests of the engine: one binary, topic modules.

mod api;
mod model;
mod support;
