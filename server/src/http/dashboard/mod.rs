//! The web dashboard of `mnemodb serve`: one page (`/`) with its script and style sheet,
//! written here and embedded in the binary (no build step, no CDN: the page works offline),
//! and the two JSON routes of ours it needs beside the Chroma API it calls for the rest
//! (`get`, `query`, `delete`, `/metrics`):
//!
//! - `GET /mnemodb/auth`: whether the server wants a token (open: no data in it);
//! - `GET /mnemodb/overview`: every database and collection with count, dimension, space,
//!   disk size and index coverage (what `mnemodb inspect` shows), and the background jobs;
//! - `POST /mnemodb/tenants/{tenant}/databases/{database}/collections/{collection}/compact`:
//!   starts a compaction and returns its job.
//!
//! The page and its assets are served without a token; every data route keeps the server's
//! token check (`auth.rs`), and mutating routes are refused under `--read-only`
//! (`read_only.rs`).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Serialize;
use uuid::Uuid;

use super::openapi::{Api, Doc};
use super::params::collection_id;
use super::{AppState, json};
use crate::error::Result;

/// The page, its script and its style sheet, as served.
const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The paths served without a token: the page, its assets, and whether a token is needed.
pub(crate) const PUBLIC_PATHS: [&str; 4] = ["/", "/dashboard/app.js", "/dashboard/app.css", AUTH];

const AUTH: &str = "/mnemodb/auth";

/// Bytes embedded in the binary for the dashboard (page, script, style sheet).
pub const ASSET_BYTES: usize = INDEX_HTML.len() + APP_JS.len() + APP_CSS.len();

/// The dashboard's routes, added to `api`.
pub(crate) fn routes(api: Api) -> Api {
    api.get("/", page, Doc::text("The dashboard (a web page)", HTML))
        .get(
            "/dashboard/app.js",
            script,
            Doc::text("The dashboard's script", JS),
        )
        .get(
            "/dashboard/app.css",
            style,
            Doc::text("The dashboard's style sheet", CSS),
        )
        .get(
            AUTH,
            auth,
            Doc::json::<AuthOut>("Whether the server needs a token (mnemodb's dashboard)"),
        )
        .get(
            "/mnemodb/overview",
            overview,
            Doc::json::<Overview>(
                "Databases, collections (count, dimension, disk, index coverage) and jobs",
            ),
        )
        .post(
            "/mnemodb/tenants/{tenant}/databases/{database}/collections/{collection}/compact",
            compact,
            Doc::json::<JobOut>("Start compacting a collection; answers its job"),
        )
}

/// An asset with its content type; the content security policy keeps the page to what this
/// server serves (no inline script, no other origin).
fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                ),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    asset(INDEX_HTML, HTML)
}

async fn script() -> Response {
    asset(APP_JS, JS)
}

async fn style() -> Response {
    asset(APP_CSS, CSS)
}

/// What `GET /mnemodb/auth` answers.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AuthOut {
    /// Whether every data route needs the server's token.
    token_required: bool,
}

async fn auth(State(state): State<AppState>) -> Result<Response> {
    json(
        StatusCode::OK,
        &AuthOut {
            token_required: state.cfg.token.is_some(),
        },
    )
}

/// What `GET /mnemodb/overview` answers.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Overview {
    /// The server's version.
    version: &'static str,
    /// Whether the server refuses every write (`--read-only`).
    read_only: bool,
    /// Whether the server embeds `query_texts` itself (`--embed default`).
    embeds_texts: bool,
    databases: Vec<DatabaseOut>,
}

/// One database of the overview.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DatabaseOut {
    tenant: String,
    name: String,
    /// Bytes of the SQLite file with its log.
    sqlite_bytes: u64,
    collections: Vec<CollectionSummary>,
    /// Jobs queued or running, and the last finished ones, oldest first.
    jobs: Vec<JobOut>,
}

/// One collection of the overview.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CollectionSummary {
    id: Uuid,
    name: String,
    /// Records (what `count` answers).
    count: u64,
    /// Fixed by the first add.
    dimension: Option<usize>,
    /// `cosine`, `l2` or `ip`.
    space: String,
    /// Slots in the vector file, and those no record points to (compaction frees them).
    slots: u64,
    dead_slots: u64,
    /// Records past their expiry time that the sweep has not removed yet (no read sees them).
    expired: u64,
    /// Slots the server's graph has linked (0 until a query loads the saved graph); the rest
    /// are scanned exactly.
    linked: u64,
    /// Slots the saved graph file covers (what a query loads).
    saved: u64,
    /// Share of the slots the index covers, loaded or saved (1 when the collection is
    /// searched exactly).
    linked_fraction: f64,
    /// Whether the collection is small enough to be searched exactly, with no graph.
    exact_only: bool,
    /// Bytes on disk: vector files, and the graph file among them.
    disk_bytes: u64,
    index_bytes: u64,
    /// The embedding function the collection was created with (a chromadb configuration),
    /// if any.
    embedding_function: Option<String>,
}

/// One background job.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct JobOut {
    id: u64,
    /// `index_catch_up`, `compaction`, ...
    kind: String,
    /// The collection's id and name, for a job on one collection.
    collection: Option<Uuid>,
    collection_name: Option<String>,
    /// Units done of those known (0 of 0 until the job knows).
    done: u64,
    total: u64,
    /// `queued`, `running`, `done`, `failed` or `cancelled`.
    state: String,
    error: Option<String>,
}

impl JobOut {
    fn new(job: mnemodb::JobInfo, name: Option<String>) -> JobOut {
        JobOut {
            id: job.id,
            kind: job.kind.as_str().to_owned(),
            collection: job.collection,
            collection_name: name,
            done: job.done,
            total: job.total,
            state: job.state.as_str().to_owned(),
            error: job.error,
        }
    }
}

async fn overview(State(state): State<AppState>) -> Result<Response> {
    let read_only = state.cfg.read_only;
    let embeds_texts = state.cfg.embedder.is_some();
    let databases = state
        .run(move |ns| {
            let mut out = Vec::new();
            for (entry, db) in ns.all()? {
                out.push(database_out(ns, entry, &db)?);
            }
            Ok(out)
        })
        .await?;
    json(
        StatusCode::OK,
        &Overview {
            version: env!("CARGO_PKG_VERSION"),
            read_only,
            embeds_texts,
            databases,
        },
    )
}

fn database_out(
    ns: &crate::namespace::Namespaces,
    entry: crate::namespace::DatabaseEntry,
    db: &mnemodb::Database,
) -> Result<DatabaseOut> {
    use crate::commands::{dir_size, file_size, index_file_bytes};
    let dir = db.path().map(std::path::Path::to_path_buf);
    let sqlite_bytes = dir.as_ref().map_or(0, |d| {
        ["", "-wal", "-shm"]
            .iter()
            .map(|s| file_size(&d.join(format!("mnemo.sqlite3{s}"))))
            .sum()
    });
    let mut collections = Vec::new();
    for info in db.list_collections()? {
        let col = db.get_collection_by_id(info.id)?;
        let stats = col.stats()?;
        let cov = col.index_coverage()?;
        let linked = if cov.exact_only {
            cov.slots
        } else {
            cov.linked
        };
        let covered = linked.max(cov.saved).min(cov.slots);
        let cdir = dir
            .as_ref()
            .map(|d| d.join("collections").join(info.id.to_string()));
        let embedding_function = ns.embedding_function(info.id).map(|ef| {
            ef.get("name")
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| ef.to_string(), str::to_owned)
        });
        collections.push(CollectionSummary {
            id: info.id,
            count: col.count()?,
            dimension: info.dimension,
            space: info.space.as_str().to_owned(),
            slots: cov.slots,
            dead_slots: stats.dead_slots,
            expired: stats.expired,
            linked,
            saved: cov.saved,
            linked_fraction: if cov.slots == 0 {
                1.0
            } else {
                covered as f64 / cov.slots as f64
            },
            exact_only: cov.exact_only,
            disk_bytes: cdir.as_deref().map_or(0, dir_size),
            index_bytes: cdir.as_deref().and_then(index_file_bytes).unwrap_or(0),
            embedding_function,
            name: info.name,
        });
    }
    let names: std::collections::HashMap<Uuid, String> =
        collections.iter().map(|c| (c.id, c.name.clone())).collect();
    let jobs = db
        .jobs()
        .into_iter()
        .map(|j| {
            let name = j.collection.and_then(|id| names.get(&id).cloned());
            JobOut::new(j, name)
        })
        .collect();
    Ok(DatabaseOut {
        tenant: entry.tenant,
        name: entry.name,
        sqlite_bytes,
        collections,
        jobs,
    })
}

async fn compact(
    State(state): State<AppState>,
    Path((tenant, database, id)): Path<(String, String, String)>,
) -> Result<Response> {
    let id = collection_id(&id)?;
    let job = state
        .run(move |ns| {
            let col = ns.database(&tenant, &database)?.get_collection_by_id(id)?;
            let name = col.info()?.name;
            Ok(JobOut::new(col.compact().info(), Some(name)))
        })
        .await?;
    json(StatusCode::OK, &job)
}
