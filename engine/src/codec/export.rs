//! Export and import of a collection: a codec stream whose first value is a header (name,
//! configuration, metadata, dimension, count) and each next value one record. An import fills
//! a hidden collection and renames it at the end, so a bad record leaves nothing behind.
//!
//! ```text
//! MNEMOCDC.......\n                                   (stream header, 16 bytes)
//! {"mnemodb_export":2,"name":"notes","configuration":{...},"metadata":null,"dimension":3,"count":2}
//! {"id":"a","embedding":[1.0,0.0,0.0],"document":"apples","metadata":{"k":1}}
//! {"id":"b","embedding":[0.0,1.0,0.0],"uri":"s3://b"}
//! ```
//! Absent fields are left out. JSON writes embeddings as lists of floats (each the exact value
//! of the f32), MessagePack and postcard as bytes (little-endian f32). Files of export format
//! 1 (JSON lines or MessagePack with no stream header, written by earlier builds) still import.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::stream::{Compression, Encoding, Format, MAGIC, StreamReader, StreamWriter};
use super::value::Value;
use crate::collection::Collection;
use crate::config::CollectionConfig;
use crate::db::Database;
use crate::error::{Error, ErrorKind, Result};
use crate::types::{AddBatch, GetRequest, Include, Metadata, MetadataValue, Vectors};

/// The export format this build writes (1: before codec streams; still read).
pub const EXPORT_VERSION: i64 = 2;
/// Records read or written per engine call.
const PAGE: usize = 1000;

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The collection created.
    pub name: String,
    /// Records added.
    pub records: u64,
}

/// A metadata map as a codec value.
pub fn metadata_to_value(m: &Metadata) -> Value {
    Value::Map(
        m.iter()
            .map(|(k, v)| {
                let v = match v {
                    MetadataValue::Bool(b) => Value::Bool(*b),
                    MetadataValue::Int(i) => Value::Int(*i),
                    MetadataValue::Float(f) => Value::Float(*f),
                    MetadataValue::Str(s) => Value::Str(s.clone()),
                    MetadataValue::BoolList(l) => {
                        Value::List(l.iter().map(|b| Value::Bool(*b)).collect())
                    }
                    MetadataValue::IntList(l) => {
                        Value::List(l.iter().map(|i| Value::Int(*i)).collect())
                    }
                    MetadataValue::FloatList(l) => {
                        Value::List(l.iter().map(|f| Value::Float(*f)).collect())
                    }
                    MetadataValue::StrList(l) => {
                        Value::List(l.iter().map(|s| Value::Str(s.clone())).collect())
                    }
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

/// A codec value as a metadata map, read as chromadb reads JSON metadata (a list of integers
/// and floats is a list of floats). The validator checks the result when it is written.
pub fn value_to_metadata(v: &Value) -> std::result::Result<Metadata, String> {
    let Value::Map(entries) = v else {
        return Err(format!("metadata must be a map, got {}", v.type_name()));
    };
    let mut out = Metadata::new();
    for (k, v) in entries {
        let mv = match v {
            Value::Bool(b) => MetadataValue::Bool(*b),
            Value::Int(i) => MetadataValue::Int(*i),
            Value::Float(f) => MetadataValue::Float(*f),
            Value::Str(s) => MetadataValue::Str(s.clone()),
            Value::List(items) => list_value(items).ok_or_else(|| {
                format!("metadata {k:?}: a list must hold booleans, numbers or strings, one kind")
            })?,
            other => {
                return Err(format!(
                    "metadata {k:?}: {} is not a metadata value",
                    other.type_name()
                ));
            }
        };
        out.insert(k.clone(), mv);
    }
    Ok(out)
}

fn list_value(items: &[Value]) -> Option<MetadataValue> {
    let all = |f: fn(&Value) -> bool| items.iter().all(f);
    if all(|v| matches!(v, Value::Bool(_))) {
        Some(MetadataValue::BoolList(
            items
                .iter()
                .map(|v| matches!(v, Value::Bool(true)))
                .collect(),
        ))
    } else if all(|v| matches!(v, Value::Int(_))) {
        Some(MetadataValue::IntList(
            items
                .iter()
                .filter_map(|v| match v {
                    Value::Int(i) => Some(*i),
                    _ => None,
                })
                .collect(),
        ))
    } else if all(|v| matches!(v, Value::Int(_) | Value::Float(_))) {
        Some(MetadataValue::FloatList(
            items
                .iter()
                .filter_map(|v| match v {
                    Value::Int(i) => Some(*i as f64),
                    Value::Float(f) => Some(*f),
                    _ => None,
                })
                .collect(),
        ))
    } else if all(|v| matches!(v, Value::Str(_))) {
        Some(MetadataValue::StrList(
            items
                .iter()
                .filter_map(|v| match v {
                    Value::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
        ))
    } else {
        None
    }
}

/// Writes `col` to `out` as an export stream of `format`; `progress(done, total)` is called
/// after each page. Returns the records written and the writer.
pub fn export_to<W: Write>(
    col: &Collection,
    out: W,
    format: Format,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(u64, W)> {
    let info = col.info()?;
    let count = col.count()?;
    let mut w = StreamWriter::new(out, format)?;
    w.write(&Value::Map(vec![
        ("mnemodb_export".into(), Value::Int(EXPORT_VERSION)),
        ("name".into(), Value::Str(info.name.clone())),
        (
            "configuration".into(),
            Value::from(&info.configuration.to_json()),
        ),
        (
            "metadata".into(),
            info.metadata
                .as_ref()
                .map_or(Value::Null, metadata_to_value),
        ),
        (
            "dimension".into(),
            info.dimension.map_or(Value::Null, |d| Value::Int(d as i64)),
        ),
        ("count".into(), Value::Int(count as i64)),
    ]))?;
    let binary = format.encoding != Encoding::Json;
    let mut written = 0u64;
    let mut offset = 0;
    loop {
        let page = col.get(GetRequest {
            limit: Some(PAGE),
            offset,
            include: Include::all_get(),
            ..GetRequest::default()
        })?;
        let n = page.ids.len();
        if n == 0 {
            break;
        }
        let embeddings = page.embeddings.unwrap_or_default();
        let mut documents = page.documents.unwrap_or_default().into_iter();
        let mut uris = page.uris.unwrap_or_default().into_iter();
        let mut metadatas = page.metadatas.unwrap_or_default().into_iter();
        for (i, id) in page.ids.into_iter().enumerate() {
            let row = embeddings.row(i);
            let embedding = if binary {
                Value::Bytes(row.iter().flat_map(|f| f.to_le_bytes()).collect())
            } else {
                Value::List(row.iter().map(|f| Value::Float(f64::from(*f))).collect())
            };
            let mut record = vec![
                ("id".into(), Value::Str(id)),
                ("embedding".into(), embedding),
            ];
            if let Some(d) = documents.next().flatten() {
                record.push(("document".into(), Value::Str(d)));
            }
            if let Some(u) = uris.next().flatten() {
                record.push(("uri".into(), Value::Str(u)));
            }
            // `get` gives `{}` for a record with a uri and no metadata (chromadb keeps the uri
            // in the metadata); `add` refuses `{}`, and it means none.
            if let Some(m) = metadatas.next().flatten().filter(|m| !m.is_empty()) {
                record.push(("metadata".into(), metadata_to_value(&m)));
            }
            w.write(&Value::Map(record))?;
        }
        written += n as u64;
        offset += n;
        progress(written, count);
    }
    Ok((written, w.finish()?))
}

/// Writes the collection `name` of `db` to the file `path` (through `<path>.partial`, renamed
/// when complete and synced, so a failed export leaves no file). Returns the records written.
pub fn export_file(
    db: &Database,
    name: &str,
    path: &Path,
    format: Format,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64> {
    let col = db.get_collection(name)?;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file = File::create(&partial).map_err(|e| Error::io("create", &partial, e))?;
    let done = (|| {
        let (n, out) = export_to(&col, BufWriter::new(file), format, progress)?;
        let file = out
            .into_inner()
            .map_err(|e| Error::io("write", &partial, e.into_error()))?;
        file.sync_all()
            .map_err(|e| Error::io("sync", &partial, e))?;
        std::fs::rename(&partial, path).map_err(|e| Error::io("rename", path, e))?;
        Ok(n)
    })();
    if done.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    done
}

/// One record read from an export, with where it was.
struct Record {
    at: String,
    id: String,
    embedding: Vec<f32>,
    document: Option<String>,
    uri: Option<String>,
    metadata: Option<Metadata>,
}

fn record(v: Value, at: String) -> Result<Record> {
    let bad = |detail: String| Error::BadData {
        at: at.clone(),
        detail,
    };
    let Value::Map(entries) = v else {
        return Err(bad(format!(
            "a record must be a map, got {}",
            v.type_name()
        )));
    };
    let mut id = None;
    let mut embedding = None;
    let (mut document, mut uri, mut metadata) = (None, None, None);
    let text = |field: &str, v: Value| match v {
        Value::Null => Ok(None),
        Value::Str(s) => Ok(Some(s)),
        other => Err(bad(format!(
            "{field} must be a string, got {}",
            other.type_name()
        ))),
    };
    for (k, v) in entries {
        match k.as_str() {
            "id" => match v {
                Value::Str(s) => id = Some(s),
                other => {
                    return Err(bad(format!(
                        "id must be a string, got {}",
                        other.type_name()
                    )));
                }
            },
            "embedding" => embedding = Some(floats(v).map_err(&bad)?),
            "document" => document = text("document", v)?,
            "uri" => uri = text("uri", v)?,
            "metadata" => {
                metadata = match v {
                    Value::Null => None,
                    m => Some(value_to_metadata(&m).map_err(&bad)?).filter(|m| !m.is_empty()),
                }
            }
            other => return Err(bad(format!("unknown field {other:?} in a record"))),
        }
    }
    let id = id.ok_or_else(|| bad("the record has no id".into()))?;
    let embedding = embedding.ok_or_else(|| bad(format!("record {id:?} has no embedding")))?;
    Ok(Record {
        at,
        id,
        embedding,
        document,
        uri,
        metadata,
    })
}

/// An embedding written as bytes (little-endian f32) or as a list of numbers.
fn floats(v: Value) -> std::result::Result<Vec<f32>, String> {
    match v {
        Value::Bytes(b) if b.len() % 4 == 0 => Ok(b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()),
        Value::Bytes(b) => Err(format!(
            "an embedding of {} bytes is not a whole number of f32",
            b.len()
        )),
        Value::List(items) => items
            .into_iter()
            .map(|x| match x {
                Value::Float(f) => Ok(f as f32),
                Value::Int(i) => Ok(i as f32),
                other => Err(format!(
                    "an embedding holds numbers, not {}",
                    other.type_name()
                )),
            })
            .collect(),
        other => Err(format!(
            "an embedding must be a list of numbers or bytes, got {}",
            other.type_name()
        )),
    }
}

/// The stream of an export in `src`: a codec stream, or an export of format 1 (JSON lines or
/// MessagePack without a stream header).
fn open_stream<'a>(mut src: Box<dyn BufRead + 'a>, at: &str) -> Result<StreamReader<'a>> {
    let first = src
        .fill_buf()
        .map_err(|e| Error::io("read", at, e))?
        .first()
        .copied();
    let legacy = |encoding| Format::new(encoding, Compression::None);
    match first {
        Some(b'{') => Ok(StreamReader::headerless(src, legacy(Encoding::Json), at)),
        Some(0x80..=0x8f | 0xde | 0xdf) => Ok(StreamReader::headerless(
            src,
            legacy(Encoding::MessagePack),
            at,
        )),
        Some(b) if b == MAGIC[0] => StreamReader::new(src, at),
        Some(_) => Err(Error::BadData {
            at: at.to_owned(),
            detail: "not a mnemodb export (no MNEMOCDC stream header, nor a JSON or MessagePack \
                     export header)"
                .into(),
        }),
        None => Err(Error::BadData {
            at: at.to_owned(),
            detail: "empty file, expected an export header".into(),
        }),
    }
}

/// Imports the export in `src` (named `at` in errors) into `db` as a new collection called
/// `name` (default: the exported name). Atomic: the records go into a hidden collection that
/// is renamed when every one is in; any failure (a bad record, named by its line or value
/// number, the name being taken meanwhile, a full disk) deletes it, and a process dying
/// mid-import leaves a hidden collection the next open removes. `progress(done, total)`
/// follows each batch.
pub fn import_from<'a>(
    db: &Database,
    src: impl BufRead + 'a,
    at: &str,
    name: Option<&str>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportReport> {
    let mut reader = open_stream(Box::new(src), at)?;
    let head = reader.next_value()?.ok_or_else(|| Error::BadData {
        at: at.to_owned(),
        detail: "empty stream, expected an export header".into(),
    })?;
    let bad_head = |detail: String| Error::BadData {
        at: reader.position(),
        detail,
    };
    let version = match head.get("mnemodb_export") {
        Some(Value::Int(v)) => *v,
        _ => {
            return Err(bad_head(
                "not an export header (no \"mnemodb_export\" version): was this file written \
                 by `mnemodb export`?"
                    .into(),
            ));
        }
    };
    if !(1..=EXPORT_VERSION).contains(&version) {
        return Err(Error::UnsupportedFormat {
            path: at.into(),
            found: u32::try_from(version).unwrap_or(u32::MAX),
            supported: EXPORT_VERSION as u32,
        });
    }
    let exported_name = match head.get("name") {
        Some(Value::Str(s)) => s.clone(),
        _ => return Err(bad_head("the export header has no name".into())),
    };
    let metadata = match head.get("metadata") {
        None | Some(Value::Null) => None,
        Some(m) => Some(value_to_metadata(m).map_err(&bad_head)?),
    };
    let total = match head.get("count") {
        Some(Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
        _ => 0,
    };
    let configuration = match head.get("configuration") {
        None | Some(Value::Null) => None,
        Some(c) => Some(c.to_json()?),
    };
    let name = name.unwrap_or(&exported_name).to_owned();
    crate::validate::collection_name(&name)?;
    if db.get_collection(&name).is_ok() {
        return Err(Error::CollectionExists(name));
    }
    let config = CollectionConfig::resolve(configuration.as_ref(), metadata.as_ref())?;
    let (col, hidden, lock) = db.create_import_target(&config, metadata.as_ref())?;
    let filled = fill(&col, &mut reader, total, progress).and_then(|records| {
        col.modify(Some(&name), None)?;
        Ok(records)
    });
    drop(lock);
    match filled {
        Ok(records) => Ok(ImportReport { name, records }),
        Err(e) => {
            // Nothing of it was ever visible; if this fails too, the next open removes it.
            let _ = db.delete_collection(&hidden);
            Err(e)
        }
    }
}

/// Adds every record of `reader` to `col` in batches; returns how many.
fn fill(
    col: &Collection,
    reader: &mut StreamReader<'_>,
    total: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64> {
    let mut batch: Vec<Record> = Vec::with_capacity(PAGE);
    let mut dim: Option<usize> = None;
    let mut added = 0u64;
    loop {
        let next = reader.next_value()?;
        let done = next.is_none();
        if let Some(v) = next {
            let r = record(v, reader.position())?;
            let d = *dim.get_or_insert(r.embedding.len());
            if r.embedding.len() != d {
                return Err(Error::BadData {
                    at: r.at,
                    detail: format!(
                        "record {:?} has dimension {}, earlier records {d}",
                        r.id,
                        r.embedding.len()
                    ),
                });
            }
            batch.push(r);
        }
        if batch.len() == PAGE || (done && !batch.is_empty()) {
            add_batch(col, &batch, dim.unwrap_or(0))?;
            added += batch.len() as u64;
            progress(added, total.max(added));
            batch.clear();
        }
        if done {
            return Ok(added);
        }
    }
}

fn add_batch(col: &Collection, batch: &[Record], dim: usize) -> Result<()> {
    let ids: Vec<String> = batch.iter().map(|r| r.id.clone()).collect();
    let embeddings: Vec<f32> = batch
        .iter()
        .flat_map(|r| r.embedding.iter().copied())
        .collect();
    let documents: Vec<Option<String>> = batch.iter().map(|r| r.document.clone()).collect();
    let uris: Vec<Option<String>> = batch.iter().map(|r| r.uri.clone()).collect();
    let metadatas: Vec<Option<Metadata>> = batch.iter().map(|r| r.metadata.clone()).collect();
    col.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(&embeddings, dim),
        documents: Some(&documents),
        uris: Some(&uris),
        metadatas: Some(&metadatas),
    })
    .map_err(|e| {
        // A refused record: say where it is in the file.
        let refused = matches!(
            e.kind(),
            ErrorKind::InvalidArgument
                | ErrorKind::ValueError
                | ErrorKind::TypeError
                | ErrorKind::DuplicateId
        );
        if !refused {
            return e;
        }
        let at = match &e {
            Error::NonFiniteEmbedding { index } => batch.get(*index).map(|r| r.at.clone()),
            _ => None,
        }
        .unwrap_or_else(|| {
            let first = batch.first().map_or("", |r| r.at.as_str());
            let last = batch.last().map_or("", |r| r.at.as_str());
            format!("{first} to {last}")
        });
        Error::BadData {
            at,
            detail: format!("the collection refused a record: {e}"),
        }
    })
}

/// Imports the export file `path` into `db` (see [`import_from`]).
pub fn import_file(
    db: &Database,
    path: &Path,
    name: Option<&str>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportReport> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let at = path.display().to_string();
    import_from(db, BufReader::new(file), &at, name, progress)
}

/// Reads every value of an export stream (header first), for tools and tests.
pub fn read_all(src: impl Read) -> Result<Vec<Value>> {
    let mut r = open_stream(Box::new(BufReader::new(src)), "export")?;
    let mut out = Vec::new();
    while let Some(v) = r.next_value()? {
        out.push(v);
    }
    Ok(out)
}
