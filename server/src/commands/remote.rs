//! `push` and `pull`: copy collections between a local database directory and any server
//! speaking the Chroma HTTP API v2 (Chroma itself, single-node or distributed, or another
//! `mnemodb serve`), in batches, with a progress bar.
//!
//! Both sides use `add`, which leaves an id already present untouched (chromadb's rule, and
//! the engine's), so an interrupted copy is resumed by running it again: what was copied is
//! skipped by the receiver, the rest is added.

use std::path::Path;
use std::time::Duration;

use mnemodb::{AddBatch, CollectionConfig, Database, Metadata, Vectors};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{for_each_page, open_existing, progress};
use crate::error::{Error, Result};

/// Records per request when the server does not say (chroma's default `max_batch_size`).
const DEFAULT_BATCH: usize = 5461;
const TENANT_DB: &str = "tenants/default_tenant/databases/default_database";

/// A Chroma HTTP API v2 server.
struct Remote {
    base: String,
    token: Option<String>,
    http: reqwest::blocking::Client,
}

#[derive(Debug, Deserialize)]
struct RemoteCollection {
    id: String,
    name: String,
    #[serde(default)]
    configuration_json: Value,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize)]
struct RemotePage {
    ids: Vec<String>,
    #[serde(default)]
    embeddings: Option<Vec<Vec<f32>>>,
    #[serde(default)]
    documents: Option<Vec<Option<String>>>,
    #[serde(default)]
    uris: Option<Vec<Option<String>>>,
    #[serde(default)]
    metadatas: Option<Vec<Option<Metadata>>>,
}

impl Remote {
    fn new(url: &str, token: Option<String>) -> Result<Remote> {
        let base = url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::invalid(format!(
                "--to/--from {url}: expected a URL like http://HOST:PORT"
            )));
        }
        if base.starts_with("https://") {
            return Err(Error::invalid(format!(
                "{url}: this build speaks plain http only; reach an https server through a \
                 local tunnel or proxy"
            )));
        }
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| Error::Remote(format!("{base}: {e}")))?;
        Ok(Remote { base, token, http })
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let url = format!("{}/api/v2/{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .map_err(|e| Error::Remote(format!("{method} {url}: {e}")))?;
        let status = resp.status();
        let text = resp
            .text()
            .map_err(|e| Error::Remote(format!("{method} {url}: reading the answer: {e}")))?;
        if !status.is_success() {
            let hint = if status.as_u16() == 401 || status.as_u16() == 403 {
                " (give the server's token with --token)"
            } else {
                ""
            };
            return Err(Error::Remote(format!(
                "{method} {url}: {status}: {}{hint}",
                text.trim()
            )));
        }
        serde_json::from_str(&text)
            .map_err(|e| Error::Remote(format!("{method} {url}: not JSON ({e}): {text:.200}")))
    }

    fn batch_size(&self) -> usize {
        self.call(reqwest::Method::GET, "pre-flight-checks", None)
            .ok()
            .and_then(|v| v.get("max_batch_size").and_then(Value::as_u64))
            .map_or(DEFAULT_BATCH, |n| (n as usize).clamp(1, DEFAULT_BATCH))
    }

    fn collections(&self) -> Result<Vec<RemoteCollection>> {
        let v = self.call(
            reqwest::Method::GET,
            &format!("{TENANT_DB}/collections"),
            None,
        )?;
        serde_json::from_value(v).map_err(|e| Error::Remote(format!("{}: {e}", self.base)))
    }

    fn collection(&self, name: &str) -> Result<RemoteCollection> {
        let v = self.call(
            reqwest::Method::GET,
            &format!("{TENANT_DB}/collections/{name}"),
            None,
        )?;
        serde_json::from_value(v).map_err(|e| Error::Remote(format!("{}: {e}", self.base)))
    }
}

/// Only the `hnsw` part of a configuration travels: the rest (an embedding function, spann)
/// belongs to the client or to one server's index.
fn hnsw_only(configuration: &Value) -> Value {
    match configuration.get("hnsw") {
        Some(h) if h.is_object() => json!({ "hnsw": h }),
        _ => Value::Null,
    }
}

/// `mnemodb push DIR --to URL`: returns one line per collection copied.
pub(crate) fn push(
    path: &Path,
    url: &str,
    only: Option<&str>,
    token: Option<String>,
) -> Result<String> {
    let remote = Remote::new(url, token)?;
    let db = open_existing(path)?;
    let batch = remote.batch_size();
    let names: Vec<String> = match only {
        Some(n) => vec![n.to_owned()],
        None => db.list_collections()?.into_iter().map(|c| c.name).collect(),
    };
    let mut report = String::new();
    for name in names {
        let col = db.get_collection(&name)?;
        let info = col.info()?;
        let count = col.count()?;
        let made = remote.call(
            reqwest::Method::POST,
            &format!("{TENANT_DB}/collections"),
            Some(&json!({
                "name": info.name,
                "configuration": hnsw_only(&info.configuration.to_json()),
                "metadata": info.metadata,
                "get_or_create": true,
            })),
        )?;
        let id = made
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Remote(format!("{url}: a created collection without an id")))?
            .to_owned();
        let bar = progress(count, "push");
        for_each_page(&col, batch, |page| {
            let n = page.ids.len();
            let embeddings = page.embeddings.unwrap_or_default();
            let rows: Vec<Vec<f32>> = (0..n).map(|i| embeddings.row(i).to_vec()).collect();
            remote.call(
                reqwest::Method::POST,
                &format!("{TENANT_DB}/collections/{id}/add"),
                Some(&json!({
                    "ids": page.ids,
                    "embeddings": rows,
                    "documents": page.documents,
                    "uris": page.uris,
                    "metadatas": page.metadatas,
                })),
            )?;
            bar.inc(n as u64);
            Ok(())
        })?;
        bar.finish_and_clear();
        let remote_count = remote.call(
            reqwest::Method::GET,
            &format!("{TENANT_DB}/collections/{id}/count"),
            None,
        )?;
        report.push_str(&format!(
            "pushed {name}: {count} records here, {} there\n",
            remote_count
        ));
    }
    Ok(report)
}

/// `mnemodb pull DIR --from URL`: returns one line per collection copied.
pub(crate) fn pull(
    path: &Path,
    url: &str,
    only: Option<&str>,
    token: Option<String>,
) -> Result<String> {
    let remote = Remote::new(url, token)?;
    let batch = remote.batch_size();
    let wanted = match only {
        Some(n) => vec![remote.collection(n)?],
        None => remote.collections()?,
    };
    let db = Database::open(path)?;
    let mut report = String::new();
    for rc in wanted {
        let config = CollectionConfig::resolve(
            Some(&hnsw_only(&rc.configuration_json)),
            rc.metadata.as_ref(),
        )?;
        let col = db.get_or_create_collection(&rc.name, config, rc.metadata.as_ref())?;
        let total = remote
            .call(
                reqwest::Method::GET,
                &format!("{TENANT_DB}/collections/{}/count", rc.id),
                None,
            )?
            .as_u64()
            .unwrap_or(0);
        let bar = progress(total, "pull");
        let mut offset = 0usize;
        loop {
            let v = remote.call(
                reqwest::Method::POST,
                &format!("{TENANT_DB}/collections/{}/get", rc.id),
                Some(&json!({
                    "limit": batch,
                    "offset": offset,
                    "include": ["embeddings", "documents", "uris", "metadatas"],
                })),
            )?;
            let page: RemotePage =
                serde_json::from_value(v).map_err(|e| Error::Remote(format!("{url}: {e}")))?;
            let n = page.ids.len();
            if n == 0 {
                break;
            }
            let rows = page.embeddings.unwrap_or_default();
            let dim = rows.first().map_or(0, Vec::len);
            let flat: Vec<f32> = rows.into_iter().flatten().collect();
            col.add(AddBatch {
                ids: &page.ids,
                embeddings: Vectors::new(&flat, dim),
                documents: page.documents.as_deref(),
                uris: page.uris.as_deref(),
                metadatas: page.metadatas.as_deref(),
            })?;
            offset += n;
            bar.inc(n as u64);
        }
        bar.finish_and_clear();
        report.push_str(&format!(
            "pulled {}: {total} records there, {} here\n",
            rc.name,
            col.count()?
        ));
    }
    Ok(report)
}
