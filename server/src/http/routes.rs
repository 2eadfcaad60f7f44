//! The routes: system (heartbeat, version, pre-flight checks, identity, reset), tenants,
//! databases and collections. Record routes are in `records.rs`.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use mnemodb::request::{self, CollectionCall};
use mnemodb::{CollectionConfig, HnswConfigUpdate};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::metrics::{CollectionSize, JobCounts};
use super::openapi::{Api, Doc};
use super::params::{collection_id, query_params};
use super::replies::{Empty, Health, Heartbeat, Identity, PreFlight, Tenant, ToolCallOut};
use super::wire::{self, CollectionOut, CreateCollection, ModifyCollection, NameBody};
use super::{AppState, RawBody, records};
use crate::error::{Error, Result};
use crate::namespace::{DEFAULT_DATABASE, DEFAULT_TENANT, DatabaseEntry};

/// What `/metrics` answers: Prometheus' text format.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every route of the API, each with what it takes and answers.
pub(crate) fn api() -> Api {
    const T: &str = "/api/v2/tenants/{tenant}/databases/{database}";
    let api = system(Api::new());
    let api = databases(api);
    let api = collections(api, T);
    let api = records::routes(api, &format!("{T}/collections/{{collection}}"));
    let api = super::dashboard::routes(api);
    let api = api.get(
        &format!("{T}/tool_runs/{{run_id}}/calls"),
        tool_run_calls,
        Doc::json::<Vec<ToolCallOut>>("List a tool run's calls (mnemodb's tool ledger)")
            .query::<Page>(),
    );
    api.get(
        "/metrics",
        metrics,
        Doc::text("Prometheus metrics", METRICS_CONTENT_TYPE),
    )
    .unlisted("/api/v1", any(v1_gone))
    .unlisted("/api/v1/{*rest}", any(v1_gone))
}

/// Liveness, version, limits, identity and reset.
fn system(api: Api) -> Api {
    api.get("/api/v2", heartbeat, Doc::json::<Heartbeat>("Heartbeat"))
        .get(
            "/api/v2/heartbeat",
            heartbeat,
            Doc::json::<Heartbeat>("Heartbeat"),
        )
        .get(
            "/api/v2/healthcheck",
            healthcheck,
            Doc::json::<Health>("Readiness"),
        )
        .get(
            "/api/v2/version",
            version,
            Doc::json::<String>("The API version"),
        )
        .get(
            "/api/v2/pre-flight-checks",
            pre_flight,
            Doc::json::<PreFlight>("The limits the client batches by"),
        )
        .get(
            "/api/v2/auth/identity",
            identity,
            Doc::json::<Identity>("The caller's identity"),
        )
        .post(
            "/api/v2/reset",
            reset,
            Doc::json::<bool>("Delete everything (needs --allow-reset)"),
        )
}

/// Tenants and their databases.
fn databases(api: Api) -> Api {
    const TENANT: &str = "/api/v2/tenants/{tenant}";
    api.post(
        "/api/v2/tenants",
        create_tenant,
        Doc::json::<Empty>("Create a tenant").takes::<NameBody>(),
    )
    .get(TENANT, get_tenant, Doc::json::<Tenant>("Get a tenant"))
    .get(
        &format!("{TENANT}/databases"),
        list_databases,
        Doc::json::<Vec<DatabaseEntry>>("List databases").query::<Page>(),
    )
    .post(
        &format!("{TENANT}/databases"),
        create_database,
        Doc::json::<Empty>("Create a database").takes::<NameBody>(),
    )
    .get(
        &format!("{TENANT}/databases/{{database}}"),
        get_database,
        Doc::json::<DatabaseEntry>("Get a database"),
    )
    .delete(
        &format!("{TENANT}/databases/{{database}}"),
        delete_database,
        Doc::json::<Empty>("Delete a database"),
    )
}

/// The collection routes under the database prefix `t`.
fn collections(api: Api, t: &str) -> Api {
    let one = format!("{t}/collections/{{collection}}");
    api.get(
        &format!("{t}/collections"),
        list_collections,
        Doc::json::<Vec<CollectionOut>>("List collections").query::<Page>(),
    )
    .post(
        &format!("{t}/collections"),
        create_collection,
        Doc::json::<CollectionOut>("Create a collection").takes::<CreateCollection>(),
    )
    .get(
        &format!("{t}/collections_count"),
        count_collections,
        Doc::json::<usize>("Count collections"),
    )
    .get(
        &one,
        get_collection,
        Doc::json::<CollectionOut>("Get a collection by name"),
    )
    .put(
        &one,
        modify_collection,
        Doc::json::<Empty>("Modify a collection by id").takes::<ModifyCollection>(),
    )
    .delete(
        &one,
        delete_collection,
        Doc::json::<Empty>("Delete a collection by name"),
    )
    .get(
        &format!("{t}/collections/by-id/{{collection}}"),
        get_collection_by_id,
        Doc::json::<CollectionOut>("Get a collection by id"),
    )
}

/// The router: [`api`] with its document, and the answers for no route and a wrong method.
pub(crate) fn router(state: AppState) -> Router {
    api()
        .into_router()
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state)
}

/// Query parameters of the list routes.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Page {
    limit: Option<usize>,
    offset: Option<usize>,
}

fn collection_out(
    ns: &crate::namespace::Namespaces,
    col: &mnemodb::Collection,
    tenant: &str,
    database: &str,
) -> Result<Response> {
    let out = CollectionOut::new(
        col.info()?,
        ns.embedding_function(col.id()),
        tenant,
        database,
    );
    super::json(StatusCode::OK, &out)
}

fn ok_empty(status: StatusCode) -> Result<Response> {
    super::json(status, &Empty {})
}

async fn heartbeat() -> Response {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    axum::Json(Heartbeat { nanos }).into_response()
}

async fn healthcheck() -> Response {
    axum::Json(Health {
        is_executor_ready: true,
        is_log_client_ready: true,
    })
    .into_response()
}

/// chroma's own server answers "1.0.0" (its API version); clients do not check it.
async fn version() -> Response {
    axum::Json("1.0.0").into_response()
}

async fn pre_flight(State(state): State<AppState>) -> Response {
    axum::Json(PreFlight {
        max_batch_size: state.cfg.max_batch_size,
        supports_base64_encoding: true,
    })
    .into_response()
}

async fn identity() -> Response {
    axum::Json(Identity {
        user_id: String::new(),
        tenant: DEFAULT_TENANT.to_owned(),
        databases: vec![DEFAULT_DATABASE.to_owned()],
    })
    .into_response()
}

async fn reset(State(state): State<AppState>) -> Result<Response> {
    if !state.cfg.allow_reset {
        return Err(Error::ResetDisabled);
    }
    state.run(|ns| ns.reset()).await?;
    super::json(StatusCode::OK, &true)
}

async fn create_tenant(State(state): State<AppState>, RawBody(body): RawBody) -> Result<Response> {
    state
        .run(move |ns| {
            let b: NameBody = wire::parse_body(&body)?;
            ns.create_tenant(&b.name)?;
            ok_empty(StatusCode::OK)
        })
        .await
}

async fn get_tenant(State(state): State<AppState>, Path(tenant): Path<String>) -> Result<Response> {
    state.ns.require_tenant(&tenant)?;
    super::json(
        StatusCode::OK,
        &Tenant {
            name: tenant,
            resource_name: None,
        },
    )
}

async fn list_databases(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let page: Page = query_params(q)?;
    let list = state
        .ns
        .list_databases(&tenant, page.limit, page.offset.unwrap_or(0));
    super::json(StatusCode::OK, &list)
}

async fn create_database(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response> {
    state
        .run(move |ns| {
            let b: NameBody = wire::parse_body(&body)?;
            ns.create_database(&tenant, &b.name)?;
            ok_empty(StatusCode::OK)
        })
        .await
}

async fn get_database(
    State(state): State<AppState>,
    Path((tenant, database)): Path<(String, String)>,
) -> Result<Response> {
    let entry = state.ns.get_database(&tenant, &database)?;
    super::json(StatusCode::OK, &entry)
}

async fn delete_database(
    State(state): State<AppState>,
    Path((tenant, database)): Path<(String, String)>,
) -> Result<Response> {
    state
        .run(move |ns| {
            ns.delete_database(&tenant, &database)?;
            ok_empty(StatusCode::OK)
        })
        .await
}

async fn list_collections(
    State(state): State<AppState>,
    Path((tenant, database)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let page: Page = query_params(q)?;
    state
        .run(move |ns| {
            let db = ns.database(&tenant, &database)?;
            let list: Vec<CollectionOut> = db
                .list_collections()?
                .into_iter()
                .skip(page.offset.unwrap_or(0))
                .take(page.limit.unwrap_or(usize::MAX))
                .map(|info| {
                    let ef = ns.embedding_function(info.id);
                    CollectionOut::new(info, ef, &tenant, &database)
                })
                .collect();
            super::json(StatusCode::OK, &list)
        })
        .await
}

/// The ledger rows of one run of `mnemodb.tools`, oldest first.
async fn tool_run_calls(
    State(state): State<AppState>,
    Path((tenant, database, run_id)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let page: Page = query_params(q)?;
    state
        .run(move |ns| {
            let db = ns.database(&tenant, &database)?;
            let calls: Vec<ToolCallOut> = db
                .tool_calls(&mnemodb::CallFilter {
                    run_id: Some(run_id),
                    ..mnemodb::CallFilter::default()
                })?
                .into_iter()
                .skip(page.offset.unwrap_or(0))
                .take(page.limit.unwrap_or(usize::MAX))
                .map(ToolCallOut::new)
                .collect();
            super::json(StatusCode::OK, &calls)
        })
        .await
}

async fn count_collections(
    State(state): State<AppState>,
    Path((tenant, database)): Path<(String, String)>,
) -> Result<Response> {
    state
        .run(move |ns| {
            let n = ns.database(&tenant, &database)?.list_collections()?.len();
            super::json(StatusCode::OK, &n)
        })
        .await
}

async fn create_collection(
    State(state): State<AppState>,
    Path((tenant, database)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> Result<Response> {
    state
        .run(move |ns| {
            let b: CreateCollection = wire::parse_body(&body)?;
            let metadata = request::collection_metadata(b.metadata, CollectionCall::Create)?;
            let db = ns.database(&tenant, &database)?;
            let config = CollectionConfig::resolve(b.configuration.as_ref(), metadata.as_ref())?;
            // A get-or-create racing a delete of the same name can find the collection and
            // lose it before reading its info: then it tries again (and creates it).
            let mut attempts = 0;
            let (col, info) = loop {
                let col = if b.get_or_create {
                    db.get_or_create_collection(&b.name, config.clone(), metadata.as_ref())?
                } else {
                    db.create_collection(&b.name, config.clone(), metadata.as_ref())?
                };
                match col.info() {
                    Ok(info) => break (col, info),
                    Err(mnemodb::Error::CollectionNotFound(_)) if attempts < 5 => attempts += 1,
                    Err(mnemodb::Error::CollectionNotFound(_)) => {
                        return Err(Error::Internal(format!(
                            "collection [{}] was deleted concurrently while being created; retry",
                            b.name
                        )));
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            if let Some(ef) = b
                .configuration
                .as_ref()
                .and_then(|c| c.get("embedding_function"))
            {
                ns.set_embedding_function(col.id(), ef, !b.get_or_create)?;
            }
            let out = CollectionOut::new(info, ns.embedding_function(col.id()), &tenant, &database);
            super::json(StatusCode::OK, &out)
        })
        .await
}

async fn get_collection(
    State(state): State<AppState>,
    Path((tenant, database, name)): Path<(String, String, String)>,
) -> Result<Response> {
    state
        .run(move |ns| {
            let col = ns.database(&tenant, &database)?.get_collection(&name)?;
            collection_out(ns, &col, &tenant, &database)
        })
        .await
}

async fn get_collection_by_id(
    State(state): State<AppState>,
    Path((tenant, database, id)): Path<(String, String, String)>,
) -> Result<Response> {
    let id = collection_id(&id)?;
    state
        .run(move |ns| {
            let col = ns.database(&tenant, &database)?.get_collection_by_id(id)?;
            collection_out(ns, &col, &tenant, &database)
        })
        .await
}

async fn modify_collection(
    State(state): State<AppState>,
    Path((tenant, database, id)): Path<(String, String, String)>,
    RawBody(body): RawBody,
) -> Result<Response> {
    let id = collection_id(&id)?;
    state
        .run(move |ns| {
            let b: ModifyCollection = wire::parse_body(&body)?;
            let new_metadata =
                request::collection_metadata(b.new_metadata, CollectionCall::Modify)?;
            let update = b
                .new_configuration
                .as_ref()
                .filter(|v| !v.is_null())
                .map(HnswConfigUpdate::from_json)
                .transpose()?;
            let col = ns.database(&tenant, &database)?.get_collection_by_id(id)?;
            if b.new_name.is_some() || new_metadata.is_some() {
                col.modify(b.new_name.as_deref(), new_metadata.as_ref().map(Some))?;
            }
            if let Some(update) = update {
                col.modify_configuration(&update)?;
            }
            if let Some(ef) = b
                .new_configuration
                .as_ref()
                .and_then(|c| c.get("embedding_function"))
            {
                ns.set_embedding_function(id, ef, true)?;
            }
            ok_empty(StatusCode::OK)
        })
        .await
}

async fn delete_collection(
    State(state): State<AppState>,
    Path((tenant, database, name)): Path<(String, String, String)>,
) -> Result<Response> {
    state
        .run(move |ns| {
            let db = ns.database(&tenant, &database)?;
            let id = db.get_collection(&name)?.id();
            db.delete_collection(&name)?;
            ns.forget_embedding_function(id)?;
            ok_empty(StatusCode::OK)
        })
        .await
}

async fn metrics(State(state): State<AppState>) -> Result<Response> {
    let (sizes, jobs) = state
        .run(|ns| {
            let mut sizes = Vec::new();
            let mut jobs = JobCounts::default();
            for (entry, db) in ns.all()? {
                for job in db.jobs() {
                    match job.state {
                        mnemodb::JobState::Running => jobs.running += 1,
                        mnemodb::JobState::Queued => jobs.queued += 1,
                        _ => {}
                    }
                }
                for info in db.list_collections()? {
                    let col = db.get_collection_by_id(info.id)?;
                    let records = col.count()?;
                    let cov = col.index_coverage()?;
                    sizes.push(CollectionSize {
                        tenant: entry.tenant.clone(),
                        database: entry.name.clone(),
                        collection: info.name,
                        records,
                        slots: cov.slots,
                        // A collection searched exactly needs no index: it is complete.
                        linked: if cov.exact_only {
                            cov.slots
                        } else {
                            cov.linked
                        },
                    });
                }
            }
            Ok((sizes, jobs))
        })
        .await?;
    let text = state.metrics.render(&sizes, &jobs);
    Ok((
        [(axum::http::header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        text,
    )
        .into_response())
}

async fn v1_gone() -> Response {
    (
        StatusCode::GONE,
        axum::Json(json!({
            "error": "Unimplemented",
            "message": "The v1 API is deprecated. Please use /v2 apis",
        })),
    )
        .into_response()
}

async fn no_route(method: Method, uri: Uri) -> Error {
    Error::NotFound(format!(
        "no route for {method} {}; see /openapi.json for the API",
        uri.path()
    ))
}

async fn wrong_method(method: Method, uri: Uri) -> Error {
    Error::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}
