//! Integration tests of the engine: one binary, topic modules.

mod api;
mod golden;
mod model;
mod support;
