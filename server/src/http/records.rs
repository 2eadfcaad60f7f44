//! The record routes: add, upsert, update, delete, get, query, count, and their documentation.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use mnemodb::{AddBatch, Collection, GetRequest, Op, QueryRequest, UpdateBatch, Vectors, request};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::openapi::{Api, Doc};
use super::params::{collection_id, query_params};
use super::replies::{Deleted, Empty};
use super::wire::{self, AddBody, DeleteBody, GetBody, GetOut, QueryBody, QueryOut, UpdateBody};
use super::{AppState, RawBody};
use crate::error::{Error, Result};
use crate::namespace::Namespaces;

/// The record routes of the collection path `c`.
pub(crate) fn routes(api: Api, c: &str) -> Api {
    api.post(
        &format!("{c}/add"),
        add,
        Doc::json::<Empty>("Add records")
            .takes::<AddBody>()
            .status(StatusCode::CREATED),
    )
    .post(
        &format!("{c}/upsert"),
        upsert,
        Doc::json::<Empty>("Upsert records").takes::<UpdateBody>(),
    )
    .post(
        &format!("{c}/update"),
        update,
        Doc::json::<Empty>("Update records").takes::<UpdateBody>(),
    )
    .post(
        &format!("{c}/delete"),
        delete,
        Doc::json::<Deleted>("Delete records").takes::<DeleteBody>(),
    )
    .post(
        &format!("{c}/get"),
        get,
        Doc::json::<GetOut>("Get records").takes::<GetBody>(),
    )
    .post(
        &format!("{c}/query"),
        query,
        Doc::json::<QueryOut>("Nearest neighbours").takes::<QueryBody>(),
    )
    .get(
        &format!("{c}/count"),
        count,
        Doc::json::<u64>("Count records").query::<CountParams>(),
    )
}

type CollectionPath = Path<(String, String, String)>;

/// Runs `f` on the collection named by the path, on the blocking pool.
async fn with_collection(
    state: &AppState,
    Path((tenant, database, id)): CollectionPath,
    f: impl FnOnce(&Namespaces, Collection) -> Result<Response> + Send + 'static,
) -> Result<Response> {
    let id = collection_id(&id)?;
    state
        .run(move |ns| {
            let col = ns.database(&tenant, &database)?.get_collection_by_id(id)?;
            f(ns, col)
        })
        .await
}

fn check_batch(state: &AppState, n: usize) -> Result<()> {
    let max = state.cfg.max_batch_size;
    if n > max {
        return Err(Error::BatchTooLarge { got: n, max });
    }
    Ok(())
}

async fn add(
    State(state): State<AppState>,
    path: CollectionPath,
    RawBody(body): RawBody,
) -> Result<Response> {
    let st = state.clone();
    with_collection(&state, path, move |_, col| {
        let mut b: AddBody = wire::parse_write_body(&body, st.cfg.max_batch_size)?;
        check_batch(&st, b.ids.len())?;
        b.check_counted(Op::Add)?;
        let embeddings = b.take_embeddings(Op::Add)?;
        let metadatas = b.take_metadatas()?;
        let embeddings = match embeddings {
            Some(e) => Some(e),
            None => embed_documents(&st, b.documents.as_deref())?,
        };
        let Some((embeddings, dim)) = embeddings else {
            return Err(Error::invalid(
                "add needs embeddings: compute them in the client (an embedding function) and \
                 send them, or start the server with --embed default to embed documents here",
            ));
        };
        let opts = b.write_options()?;
        col.add_with(
            AddBatch {
                ids: &b.ids,
                embeddings: Vectors::new(&embeddings, dim),
                documents: b.documents.as_deref(),
                uris: b.uris.as_deref(),
                metadatas: metadatas.as_deref(),
            },
            opts,
        )?;
        super::json(StatusCode::CREATED, &Empty {})
    })
    .await
}

async fn update_or_upsert(
    state: AppState,
    path: CollectionPath,
    body: axum::body::Bytes,
    upsert: bool,
) -> Result<Response> {
    let st = state.clone();
    with_collection(&state, path, move |_, col| {
        let op = if upsert { Op::Upsert } else { Op::Update };
        let mut b: UpdateBody = wire::parse_write_body(&body, st.cfg.max_batch_size)?;
        check_batch(&st, b.ids.len())?;
        b.check_counted(op)?;
        let embeddings = match b.take_embeddings(op)? {
            Some(e) => Some(e),
            None => embed_documents(&st, b.documents.as_deref())?,
        };
        let metadatas = b.take_patches(op)?;
        let opts = b.write_options()?;
        let batch = UpdateBatch {
            ids: &b.ids,
            embeddings: embeddings.as_ref().map(|(e, dim)| Vectors::new(e, *dim)),
            documents: b.documents.as_deref(),
            uris: b.uris.as_deref(),
            metadatas: metadatas.as_deref(),
        };
        if upsert {
            col.upsert_with(batch, opts)?;
        } else {
            col.update_with_options(batch, opts)?;
        }
        super::json(StatusCode::OK, &Empty {})
    })
    .await
}

async fn upsert(
    State(state): State<AppState>,
    path: CollectionPath,
    RawBody(body): RawBody,
) -> Result<Response> {
    update_or_upsert(state, path, body, true).await
}

async fn update(
    State(state): State<AppState>,
    path: CollectionPath,
    RawBody(body): RawBody,
) -> Result<Response> {
    update_or_upsert(state, path, body, false).await
}

/// `documents` embedded by the server's model (`--embed default`), as rows and their
/// dimension; `None` without documents or without a model.
fn embed_documents(
    state: &AppState,
    documents: Option<&[Option<String>]>,
) -> Result<Option<(Vec<f32>, usize)>> {
    let Some(documents) = documents.filter(|_| state.cfg.embedder.is_some()) else {
        return Ok(None);
    };
    let texts = documents
        .iter()
        .map(|t| {
            t.as_deref().ok_or_else(|| {
                Error::invalid(
                    "a document to embed is null: send embeddings for records without one",
                )
            })
        })
        .collect::<Result<Vec<&str>>>()?;
    Ok(embed_texts(state, &texts))
}

/// `texts` embedded by the server's model on the model's own threads; `None` without one.
fn embed_texts(state: &AppState, texts: &[&str]) -> Option<(Vec<f32>, usize)> {
    let model = state.cfg.embedder.as_ref()?;
    Some((model.embed(texts), mnemodb::EMBEDDING_DIMENSION))
}

/// `None` for an absent or `null` value.
fn given(v: Option<Value>) -> Option<Value> {
    v.filter(|v| !v.is_null())
}

async fn delete(
    State(state): State<AppState>,
    path: CollectionPath,
    RawBody(body): RawBody,
) -> Result<Response> {
    with_collection(&state, path, move |_, col| {
        let b: DeleteBody = wire::parse_body(&body)?;
        let (where_, where_document) = (given(b.where_), given(b.where_document));
        let limit = given(b.limit)
            .map(|l| request::delete_limit(&l))
            .transpose()?;
        let deleted = col.delete_where(
            b.ids.as_deref(),
            where_.as_ref(),
            where_document.as_ref(),
            limit,
        )?;
        // chromadb counts the ids asked for when only ids are given, found or not.
        let reported = match (&b.ids, &where_, &where_document) {
            (Some(ids), None, None) => ids.len() as u64,
            _ => deleted,
        };
        super::json(StatusCode::OK, &Deleted { deleted: reported })
    })
    .await
}

async fn get(
    State(state): State<AppState>,
    path: CollectionPath,
    RawBody(body): RawBody,
) -> Result<Response> {
    with_collection(&state, path, move |_, col| {
        let b: GetBody = wire::parse_body(&body)?;
        let (include, names) = wire::include(b.include, &["metadatas", "documents"], Op::Get)?;
        let (where_, where_document) = (given(b.where_), given(b.where_document));
        let result = col.get(GetRequest {
            ids: b.ids.as_deref(),
            limit: b.limit,
            offset: b.offset.unwrap_or(0),
            include,
            where_: where_.as_ref(),
            where_document: where_document.as_ref(),
        })?;
        super::json(StatusCode::OK, &GetOut::new(result, names))
    })
    .await
}

async fn query(
    State(state): State<AppState>,
    path: CollectionPath,
    RawBody(body): RawBody,
) -> Result<Response> {
    let st = state.clone();
    with_collection(&state, path, move |_, col| {
        let b: QueryBody = wire::parse_body(&body)?;
        let given_embeddings = match b.query_embeddings {
            Some(list) => wire::flatten(list, Op::Query)?,
            None => None,
        };
        let (embeddings, dim) = match given_embeddings {
            Some(e) => e,
            None => {
                let texts: Option<Vec<&str>> = b
                    .query_texts
                    .as_ref()
                    .map(|t| t.iter().map(String::as_str).collect());
                texts.and_then(|t| embed_texts(&st, &t))
            }
            .ok_or_else(|| {
                Error::invalid(
                    "missing field `query_embeddings` (query_texts are embedded only by a \
                     server started with --embed default)",
                )
            })?,
        };
        let (include, names) = wire::include(
            b.include,
            &["metadatas", "documents", "distances"],
            Op::Query,
        )?;
        let n_results = given(b.n_results)
            .map(|n| request::n_results(&n))
            .transpose()?
            .unwrap_or(10);
        let (where_, where_document) = (given(b.where_), given(b.where_document));
        let hits = col.query_where(
            QueryRequest {
                embeddings: &embeddings,
                dim,
                n_results,
                ids: b.ids.as_deref(),
                include,
            },
            where_.as_ref(),
            where_document.as_ref(),
        )?;
        super::json(StatusCode::OK, &QueryOut::new(hits, include, names))
    })
    .await
}

/// `?read_level=index_and_wal|index_only`: every read sees every committed write here.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CountParams {
    #[allow(dead_code)]
    read_level: Option<String>,
}

async fn count(
    State(state): State<AppState>,
    path: CollectionPath,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let _: CountParams = query_params(q)?;
    with_collection(&state, path, move |_, col| {
        super::json(StatusCode::OK, &col.count()?)
    })
    .await
}
