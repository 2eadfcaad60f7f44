//! `export` and `import`: a collection as a header followed by one value per record, as JSON
//! lines or as a sequence of MessagePack maps.
//!
//! ```text
//! {"mnemodb_export":1,"name":"notes","configuration":{"hnsw":{...}},"metadata":null,"dimension":3,"count":2}
//! {"id":"a","embedding":[1.0,0.0,0.0],"document":"apples","uri":null,"metadata":{"k":1}}
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use mnemodb::{AddBatch, CollectionConfig, Metadata, Vectors};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{for_each_page, open_existing, progress};
use crate::cli::Format;
use crate::error::{Error, Result};

/// Version of the export format.
const EXPORT_FORMAT: u32 = 1;
/// Records read or written per engine call.
const PAGE: usize = 1000;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    mnemodb_export: u32,
    name: String,
    configuration: Value,
    metadata: Option<Metadata>,
    dimension: Option<usize>,
    count: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    id: String,
    embedding: Vec<f32>,
    #[serde(default)]
    document: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

/// Writes values in one of the two formats.
struct Writer {
    out: BufWriter<File>,
    format: Format,
}

impl Writer {
    fn write<T: Serialize>(&mut self, v: &T) -> std::io::Result<()> {
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, v)?;
                self.out.write_all(b"\n")
            }
            Format::Msgpack => rmp_serde::encode::write_named(&mut self.out, v)
                .map_err(|e| std::io::Error::other(e.to_string())),
        }
    }
}

/// `mnemodb export`: returns how many records were written.
pub(crate) fn export(path: &Path, name: &str, out: &Path, format: Format) -> Result<u64> {
    let db = open_existing(path)?;
    let col = db.get_collection(name)?;
    let info = col.info()?;
    let count = col.count()?;
    let file = File::create(out).map_err(|e| Error::io("create", out.display(), e))?;
    let mut w = Writer {
        out: BufWriter::new(file),
        format,
    };
    let io = |e| Error::io("write", out.display(), e);
    w.write(&Header {
        mnemodb_export: EXPORT_FORMAT,
        name: info.name.clone(),
        configuration: info.configuration.to_json(),
        metadata: info.metadata.clone(),
        dimension: info.dimension,
        count,
    })
    .map_err(io)?;
    let bar = progress(count, "export");
    let mut written = 0u64;
    for_each_page(&col, PAGE, |page| {
        let n = page.ids.len();
        let embeddings = page.embeddings.unwrap_or_default();
        let mut documents = page.documents.unwrap_or_default().into_iter();
        let mut uris = page.uris.unwrap_or_default().into_iter();
        let mut metadatas = page.metadatas.unwrap_or_default().into_iter();
        for (i, id) in page.ids.into_iter().enumerate() {
            w.write(&Record {
                id,
                embedding: embeddings.row(i).to_vec(),
                document: documents.next().flatten(),
                uri: uris.next().flatten(),
                metadata: metadatas.next().flatten(),
            })
            .map_err(io)?;
        }
        written += n as u64;
        bar.inc(n as u64);
        Ok(())
    })?;
    w.out.flush().map_err(io)?;
    w.out.get_ref().sync_all().map_err(io)?;
    bar.finish_and_clear();
    Ok(written)
}

/// Reads values in one of the two formats.
enum Reader {
    Jsonl(std::io::Lines<BufReader<File>>, usize),
    Msgpack(
        rmp_serde::Deserializer<rmp_serde::decode::ReadReader<BufReader<File>>>,
        usize,
    ),
}

impl Reader {
    /// The next value, `None` at the end of the file.
    fn next<T: for<'de> Deserialize<'de>>(&mut self, file: &Path) -> Result<Option<T>> {
        match self {
            Reader::Jsonl(lines, n) => loop {
                let Some(line) = lines.next() else {
                    return Ok(None);
                };
                *n += 1;
                let line = line.map_err(|e| Error::io("read", file.display(), e))?;
                if line.trim().is_empty() {
                    continue;
                }
                return serde_json::from_str(&line)
                    .map(Some)
                    .map_err(|e| Error::BadFile(format!("{} line {n}: {e}", file.display())));
            },
            Reader::Msgpack(de, n) => {
                // End of file: no byte left before the next value.
                let at_end = de
                    .get_mut()
                    .fill_buf()
                    .map_err(|e| Error::io("read", file.display(), e))?
                    .is_empty();
                if at_end {
                    return Ok(None);
                }
                *n += 1;
                T::deserialize(&mut *de)
                    .map(Some)
                    .map_err(|e| Error::BadFile(format!("{} value {n}: {e}", file.display())))
            }
        }
    }
}

/// `mnemodb import`: returns the collection's name and how many records were added.
pub(crate) fn import(
    path: &Path,
    file: &Path,
    format: Option<Format>,
    rename: Option<&str>,
) -> Result<(String, u64)> {
    let format = format.unwrap_or_else(|| match file.extension().and_then(|e| e.to_str()) {
        Some("msgpack" | "mp") => Format::Msgpack,
        _ => Format::Jsonl,
    });
    let f = File::open(file).map_err(|e| Error::io("open", file.display(), e))?;
    let mut reader = match format {
        Format::Jsonl => Reader::Jsonl(BufReader::new(f).lines(), 0),
        Format::Msgpack => Reader::Msgpack(rmp_serde::Deserializer::new(BufReader::new(f)), 0),
    };
    let header: Header = reader.next(file)?.ok_or_else(|| {
        Error::BadFile(format!(
            "{}: empty file, expected an export header",
            file.display()
        ))
    })?;
    if header.mnemodb_export != EXPORT_FORMAT {
        return Err(Error::BadFile(format!(
            "{}: export format {} is not supported (this build reads {EXPORT_FORMAT})",
            file.display(),
            header.mnemodb_export
        )));
    }
    let name = rename.unwrap_or(&header.name).to_owned();
    let db = mnemodb::Database::open(path)?;
    let config = CollectionConfig::resolve(Some(&header.configuration), header.metadata.as_ref())?;
    let col = db.create_collection(&name, config, header.metadata.as_ref())?;
    let bar = progress(header.count, "import");
    let mut added = 0u64;
    let mut ids = Vec::with_capacity(PAGE);
    let mut embeddings = Vec::new();
    let mut documents = Vec::with_capacity(PAGE);
    let mut uris = Vec::with_capacity(PAGE);
    let mut metadatas = Vec::with_capacity(PAGE);
    let mut dim = None;
    loop {
        let record: Option<Record> = reader.next(file)?;
        if let Some(r) = &record
            && *dim.get_or_insert(r.embedding.len()) != r.embedding.len()
        {
            return Err(Error::BadFile(format!(
                "{}: record {:?} has dimension {}, earlier records {}",
                file.display(),
                r.id,
                r.embedding.len(),
                dim.unwrap_or(0)
            )));
        }
        let done = record.is_none();
        if let Some(r) = record {
            ids.push(r.id);
            embeddings.extend_from_slice(&r.embedding);
            documents.push(r.document);
            uris.push(r.uri);
            metadatas.push(r.metadata);
        }
        if ids.len() == PAGE || (done && !ids.is_empty()) {
            col.add(AddBatch {
                ids: &ids,
                embeddings: Vectors::new(&embeddings, dim.unwrap_or(0)),
                documents: Some(&documents),
                uris: Some(&uris),
                metadatas: Some(&metadatas),
            })?;
            added += ids.len() as u64;
            bar.inc(ids.len() as u64);
            ids.clear();
            embeddings.clear();
            documents.clear();
            uris.clear();
            metadatas.clear();
        }
        if done {
            break;
        }
    }
    bar.finish_and_clear();
    Ok((name, added))
}
