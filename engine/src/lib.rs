//! mnemodb: an embedded vector memory database for AI agents.
#![deny(missing_docs)]

mod distance;
mod error;

pub use distance::{Isa, Kernel, Space};
pub use error::{Error, ErrorKind, Result};
