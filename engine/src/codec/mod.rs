//! The codec: one serializer for everything the engine writes out of the database or keeps as
//! opaque values (export files, checkpoints), in three encodings, each optionally compressed.
//!
//! A [`Value`] (null, bool, int, float, string, bytes, list, map in insertion order) goes into
//! a stream: a 16-byte versioned header naming the [`Format`], then frames. [`encode`] /
//! [`decode`] do one value; [`StreamWriter`] / [`StreamReader`] do a sequence.
//! [`export_file`] / [`import_file`] write a collection as such a stream and read it back
//! (atomically: a bad record leaves no collection behind).
//!
//! ```
//! use mnemodb::codec::{self, Format, Value};
//!
//! # fn main() -> mnemodb::Result<()> {
//! let v = Value::Map(vec![("k".into(), Value::List(vec![Value::Int(1), Value::Float(1.0)]))]);
//! for format in Format::ALL {
//!     assert_eq!(codec::decode(&codec::encode(&v, format)?)?, v);
//! }
//! let f: Format = "msgpack+zstd".parse()?;
//! assert_eq!(f.to_string(), "msgpack+zstd");
//! # Ok(()) }
//! ```

mod backup;
mod export;
mod stream;
mod value;

pub use backup::BackupReport;
pub use export::{
    EXPORT_VERSION, ImportReport, export_file, export_to, import_file, import_from,
    metadata_to_value, read_all, value_to_metadata,
};

pub use stream::{
    Compression, Encoding, Format, HEADER_LEN, MAGIC, STREAM_VERSION, StreamReader, StreamWriter,
    ZSTD_LEVEL, decode, encode, header, parse_header,
};
pub use value::{BYTES_KEY, MAX_DEPTH, Value};

#[cfg(test)]
mod tests;
