//! Codec streams: the 16-byte header, then frames of one encoding, the whole body optionally
//! zstd-compressed. [`StreamWriter`] and [`StreamReader`] write and read them a value at a time.
//!
//! ```text
//! offset  0  "MNEMOCDC"        magic
//!         8  u16 LE            stream format version (1)
//!        10  u8                encoding: 0 JSON, 1 MessagePack, 2 postcard
//!        11  u8                compression: 0 none, 1 zstd
//!        12  [0, 0, 0]         reserved, zero
//!        15  '\n'              so `tail -n +2` of a JSON stream is JSON lines
//! body: JSON: one value a line; MessagePack: values back to back; postcard: each value
//!       preceded by its length in bytes (LEB128)
//! ```

use std::io::{BufRead, BufReader, Read, Write};

use serde::Deserialize;

use super::value::{Tagged, TaggedSeed, Value};
use crate::error::{Error, Result};

/// The magic at the start of every codec stream.
pub const MAGIC: &[u8; 8] = b"MNEMOCDC";
/// The stream format version this build writes and reads.
pub const STREAM_VERSION: u16 = 1;
/// Bytes of the stream header.
pub const HEADER_LEN: usize = 16;
/// The zstd level streams are compressed at (zstd's default: about gzip's ratio at several
/// times its speed).
pub const ZSTD_LEVEL: i32 = 3;
/// The longest postcard frame read (a guard against a damaged length).
const MAX_FRAME: u64 = 1 << 32;

/// How values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// JSON, one value a line: readable, the largest and slowest.
    Json,
    /// MessagePack: self-describing and compact; what most languages read.
    MessagePack,
    /// postcard: varints and tags, no key names for the tags; the smallest and fastest.
    Postcard,
}

/// Whether the stream's body is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// As encoded.
    None,
    /// zstd at [`ZSTD_LEVEL`].
    Zstd,
}

/// An encoding and a compression: what a stream header names. Written as text
/// `json`, `msgpack`, `postcard`, each optionally followed by `+zstd` (`jsonl` is read as
/// `json`, `mp` as `msgpack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Format {
    /// How values are written.
    pub encoding: Encoding,
    /// Whether the body is compressed.
    pub compression: Compression,
}

impl Format {
    /// Every format, for tests and benchmarks.
    pub const ALL: [Format; 6] = [
        Format::new(Encoding::Json, Compression::None),
        Format::new(Encoding::Json, Compression::Zstd),
        Format::new(Encoding::MessagePack, Compression::None),
        Format::new(Encoding::MessagePack, Compression::Zstd),
        Format::new(Encoding::Postcard, Compression::None),
        Format::new(Encoding::Postcard, Compression::Zstd),
    ];

    /// A format from its parts.
    pub const fn new(encoding: Encoding, compression: Compression) -> Format {
        Format {
            encoding,
            compression,
        }
    }

    /// The name a file of this format ends with: `json`, `msgpack.zst`, ...
    pub fn extension(self) -> &'static str {
        match (self.encoding, self.compression) {
            (Encoding::Json, Compression::None) => "jsonl",
            (Encoding::Json, Compression::Zstd) => "jsonl.zst",
            (Encoding::MessagePack, Compression::None) => "msgpack",
            (Encoding::MessagePack, Compression::Zstd) => "msgpack.zst",
            (Encoding::Postcard, Compression::None) => "postcard",
            (Encoding::Postcard, Compression::Zstd) => "postcard.zst",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.encoding {
            Encoding::Json => "json",
            Encoding::MessagePack => "msgpack",
            Encoding::Postcard => "postcard",
        })?;
        if self.compression == Compression::Zstd {
            f.write_str("+zstd")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Format> {
        let (name, compression) = match s.strip_suffix("+zstd") {
            Some(name) => (name, Compression::Zstd),
            None => (s, Compression::None),
        };
        let encoding = match name {
            "json" | "jsonl" => Encoding::Json,
            "msgpack" | "mp" => Encoding::MessagePack,
            "postcard" => Encoding::Postcard,
            _ => {
                return Err(Error::invalid(format!(
                    "unknown format {s:?}: expected json, msgpack or postcard, each optionally \
                     followed by +zstd (json+zstd)"
                )));
            }
        };
        Ok(Format::new(encoding, compression))
    }
}

/// The 16 header bytes of a stream of `format`.
pub fn header(format: Format) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..10].copy_from_slice(&STREAM_VERSION.to_le_bytes());
    h[10] = match format.encoding {
        Encoding::Json => 0,
        Encoding::MessagePack => 1,
        Encoding::Postcard => 2,
    };
    h[11] = match format.compression {
        Compression::None => 0,
        Compression::Zstd => 1,
    };
    h[15] = b'\n';
    h
}

/// The format a stream header names; `at` names the stream in errors.
pub fn parse_header(h: &[u8], at: &str) -> Result<Format> {
    let bad = |detail: String| Error::BadData {
        at: at.to_owned(),
        detail,
    };
    if h.len() < HEADER_LEN || &h[..8] != MAGIC {
        return Err(bad(
            "not a mnemodb codec stream (it does not start with MNEMOCDC)".into(),
        ));
    }
    let version = u16::from_le_bytes([h[8], h[9]]);
    if version != STREAM_VERSION {
        return Err(Error::UnsupportedFormat {
            path: at.into(),
            found: u32::from(version),
            supported: u32::from(STREAM_VERSION),
        });
    }
    let encoding = match h[10] {
        0 => Encoding::Json,
        1 => Encoding::MessagePack,
        2 => Encoding::Postcard,
        e => return Err(bad(format!("unknown encoding {e} in the stream header"))),
    };
    let compression = match h[11] {
        0 => Compression::None,
        1 => Compression::Zstd,
        c => return Err(bad(format!("unknown compression {c} in the stream header"))),
    };
    if h[12..15] != [0, 0, 0] || h[15] != b'\n' {
        return Err(bad("damaged stream header (reserved bytes set)".into()));
    }
    Ok(Format::new(encoding, compression))
}

/// Where a writer's body goes: straight out, or through zstd.
enum Sink<W: Write> {
    Plain(W),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Zstd(w) => w.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(buf),
            Sink::Zstd(w) => w.write_all(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Zstd(w) => w.flush(),
        }
    }
}

/// Writes a codec stream: the header at creation, then one frame per [`write`](Self::write).
/// Call [`finish`](Self::finish) to end the compressed body and get the writer back.
pub struct StreamWriter<W: Write> {
    sink: Sink<W>,
    encoding: Encoding,
    /// Reused for postcard frames (their length goes first).
    scratch: Vec<u8>,
}

impl<W: Write> std::fmt::Debug for StreamWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter")
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

fn io_err(e: std::io::Error) -> Error {
    Error::io("write", "codec stream", e)
}

impl<W: Write> StreamWriter<W> {
    /// Starts a stream of `format` on `out` (writes the header).
    pub fn new(mut out: W, format: Format) -> Result<StreamWriter<W>> {
        out.write_all(&header(format)).map_err(io_err)?;
        let sink = match format.compression {
            Compression::None => Sink::Plain(out),
            Compression::Zstd => {
                Sink::Zstd(zstd::stream::write::Encoder::new(out, ZSTD_LEVEL).map_err(io_err)?)
            }
        };
        Ok(StreamWriter {
            sink,
            encoding: format.encoding,
            scratch: Vec::new(),
        })
    }

    /// Writes one value.
    pub fn write(&mut self, value: &Value) -> Result<()> {
        let refused = |e: String| Error::invalid(format!("cannot encode the value: {e}"));
        match self.encoding {
            // Each value is serialized into `scratch` first, then written whole: the many
            // small writes of a serializer cost twice as much through the sink's dispatch.
            Encoding::Json => {
                self.scratch.clear();
                serde_json::to_writer(&mut self.scratch, value)
                    .map_err(|e| refused(e.to_string()))?;
                self.scratch.push(b'\n');
                self.sink.write_all(&self.scratch).map_err(io_err)
            }
            Encoding::MessagePack => {
                self.scratch.clear();
                rmp_serde::encode::write(&mut self.scratch, value)
                    .map_err(|e| refused(e.to_string()))?;
                self.sink.write_all(&self.scratch).map_err(io_err)
            }
            Encoding::Postcard => {
                self.scratch.clear();
                let body = postcard::to_extend(&Tagged(value), std::mem::take(&mut self.scratch))
                    .map_err(|e| refused(e.to_string()))?;
                let mut len = [0u8; 10];
                let n = leb128(body.len() as u64, &mut len);
                self.sink.write_all(&len[..n]).map_err(io_err)?;
                self.sink.write_all(&body).map_err(io_err)?;
                self.scratch = body;
                Ok(())
            }
        }
    }

    /// Ends the stream (the compressed body's last block) and returns the writer.
    pub fn finish(self) -> Result<W> {
        match self.sink {
            Sink::Plain(mut w) => {
                w.flush().map_err(io_err)?;
                Ok(w)
            }
            Sink::Zstd(z) => {
                let mut w = z.finish().map_err(io_err)?;
                w.flush().map_err(io_err)?;
                Ok(w)
            }
        }
    }
}

/// Writes `n` as LEB128 into `out`; returns the bytes used.
fn leb128(mut n: u64, out: &mut [u8; 10]) -> usize {
    let mut i = 0;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out[i] = byte;
            return i + 1;
        }
        out[i] = byte | 0x80;
        i += 1;
    }
}

/// Reads a codec stream a value at a time; errors name the stream and the frame (the line,
/// for JSON).
pub struct StreamReader<'a> {
    src: Box<dyn BufRead + 'a>,
    format: Format,
    at: String,
    /// Frames read so far (lines, for JSON).
    frame: u64,
    line: Vec<u8>,
}

impl std::fmt::Debug for StreamReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader")
            .field("format", &self.format)
            .field("at", &self.at)
            .field("frame", &self.frame)
            .finish_non_exhaustive()
    }
}

impl<'a> StreamReader<'a> {
    /// Reads the header of the stream in `src`; `at` names it in errors (a path, `bytes`).
    pub fn new(mut src: impl BufRead + 'a, at: &str) -> Result<StreamReader<'a>> {
        let mut h = [0u8; HEADER_LEN];
        let mut got = 0;
        while got < HEADER_LEN {
            let n = src
                .read(&mut h[got..])
                .map_err(|e| Error::io("read", at, e))?;
            if n == 0 {
                break;
            }
            got += n;
        }
        let format = parse_header(&h[..got], at)?;
        let src: Box<dyn BufRead + 'a> = match format.compression {
            Compression::None => Box::new(src),
            Compression::Zstd => Box::new(BufReader::new(
                zstd::stream::read::Decoder::with_buffer(src)
                    .map_err(|e| Error::io("read", at, e))?,
            )),
        };
        let mut reader = Self::headerless(src, format, at);
        if format.encoding == Encoding::Json {
            // The header is the file's first line: count lines as an editor shows them.
            reader.frame = 1;
        }
        Ok(reader)
    }

    /// A reader of a body with no header (export files written before codec streams, whose
    /// format the caller knows).
    pub(crate) fn headerless(
        src: Box<dyn BufRead + 'a>,
        format: Format,
        at: &str,
    ) -> StreamReader<'a> {
        StreamReader {
            src,
            format,
            at: at.to_owned(),
            frame: 0,
            line: Vec::new(),
        }
    }

    /// The stream's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Where the last value read was: `<stream> line N` for JSON, `<stream> value N` otherwise.
    pub fn position(&self) -> String {
        match self.format.encoding {
            Encoding::Json => format!("{} line {}", self.at, self.frame),
            _ => format!("{} value {}", self.at, self.frame),
        }
    }

    fn bad(&self, detail: impl std::fmt::Display) -> Error {
        Error::BadData {
            at: self.position(),
            detail: detail.to_string(),
        }
    }

    fn read_err(&self, e: std::io::Error) -> Error {
        // zstd reports a damaged body as an I/O error of kind Other.
        match e.kind() {
            std::io::ErrorKind::Other | std::io::ErrorKind::InvalidData => self.bad(e),
            _ => Error::io("read", self.at.clone(), e),
        }
    }

    /// The next value, `None` at the end of the stream.
    pub fn next_value(&mut self) -> Result<Option<Value>> {
        match self.format.encoding {
            Encoding::Json => loop {
                self.line.clear();
                let n = self
                    .src
                    .read_until(b'\n', &mut self.line)
                    .map_err(|e| self.read_err(e))?;
                if n == 0 {
                    return Ok(None);
                }
                self.frame += 1;
                if self.line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(&self.line)
                    .map(Some)
                    .map_err(|e| self.bad(e));
            },
            Encoding::MessagePack => {
                let at_end = match self.src.fill_buf() {
                    Ok(buf) => buf.is_empty(),
                    Err(e) => return Err(self.read_err(e)),
                };
                if at_end {
                    return Ok(None);
                }
                self.frame += 1;
                let mut de = rmp_serde::Deserializer::new(&mut self.src);
                Value::deserialize(&mut de)
                    .map(Some)
                    .map_err(|e| self.bad(e))
            }
            Encoding::Postcard => {
                let Some(len) = self.read_leb128()? else {
                    return Ok(None);
                };
                self.frame += 1;
                if len > MAX_FRAME {
                    return Err(self.bad(format!("frame length {len} is damaged")));
                }
                self.line.clear();
                let got = (&mut self.src)
                    .take(len)
                    .read_to_end(&mut self.line)
                    .map_err(|e| self.read_err(e))?;
                if got as u64 != len {
                    return Err(self.bad(format!(
                        "the stream ends inside a frame ({got} of {len} bytes)"
                    )));
                }
                let mut de = postcard::Deserializer::from_bytes(&self.line);
                let too_deep = std::cell::Cell::new(false);
                let seed = TaggedSeed {
                    depth: 0,
                    too_deep: &too_deep,
                };
                let value =
                    serde::de::DeserializeSeed::deserialize(seed, &mut de).map_err(|e| {
                        if too_deep.get() {
                            self.bad(format!(
                                "lists and maps nested more than {} deep",
                                super::MAX_DEPTH
                            ))
                        } else {
                            self.bad(e)
                        }
                    })?;
                let rest = de.finalize().map_err(|e| self.bad(e))?;
                if !rest.is_empty() {
                    return Err(self.bad(format!("{} stray bytes after the value", rest.len())));
                }
                Ok(Some(value))
            }
        }
    }

    /// A postcard frame's length, `None` at the clean end of the stream.
    fn read_leb128(&mut self) -> Result<Option<u64>> {
        let mut n = 0u64;
        for i in 0..10 {
            let mut b = [0u8];
            let got = self.src.read(&mut b).map_err(|e| self.read_err(e))?;
            if got == 0 {
                return if i == 0 {
                    Ok(None)
                } else {
                    Err(self.bad("the stream ends inside a frame length"))
                };
            }
            n |= u64::from(b[0] & 0x7f) << (7 * i);
            if b[0] & 0x80 == 0 {
                return Ok(Some(n));
            }
        }
        Err(self.bad("a frame length longer than 10 bytes"))
    }
}

/// `value` as a stream of one frame in `format` (header included).
pub fn encode(value: &Value, format: Format) -> Result<Vec<u8>> {
    let mut w = StreamWriter::new(Vec::with_capacity(256), format)?;
    w.write(value)?;
    w.finish()
}

/// The one value of a stream made by [`encode`] (its header says the format).
pub fn decode(bytes: &[u8]) -> Result<Value> {
    let mut r = StreamReader::new(bytes, "bytes")?;
    let value = r.next_value()?.ok_or_else(|| Error::BadData {
        at: "bytes".into(),
        detail: "the stream holds no value".into(),
    })?;
    if r.next_value()?.is_some() {
        return Err(Error::BadData {
            at: "bytes".into(),
            detail: "the stream holds more than one value (read it with StreamReader)".into(),
        });
    }
    Ok(value)
}
