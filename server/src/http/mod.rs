//! The HTTP server: Chroma's HTTP API v2 over axum, engine work on the blocking pool.
//!
//! Every request passes, outermost first: a request id (`x-request-id`, echoed as
//! `chroma-trace-id`, which chromadb's client attaches to its exceptions), a tracing span,
//! metrics, the request timeout, bearer-token auth, `--read-only`'s refusal of writes, then
//! the route. Handlers read the body as
//! bytes (capped) and do the JSON parsing, the engine call and the JSON writing in one
//! closure on tokio's blocking pool, so no engine or serialization work runs on the reactor.

mod auth;
pub mod dashboard;
mod metrics;
mod openapi;
mod params;
mod read_only;
mod records;
mod replies;
mod routes;
pub mod wire;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::{Error, Result};
use crate::namespace::Namespaces;

pub use auth::checked_token;
pub use metrics::Metrics;

/// chromadb's `max_batch_size` (SQLite's variable limit / 6); mnemodb has no such limit,
/// but keeps the number so clients batch the same way.
pub const DEFAULT_MAX_BATCH_SIZE: usize = 5461;
/// chromadb's `max_payload_size_bytes` default, 40 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 40 * 1024 * 1024;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The data directory.
    pub path: PathBuf,
    /// If set, every API route but heartbeat needs this token (a blank one is refused by
    /// [`serve`], see [`checked_token`]).
    pub token: Option<String>,
    /// Request bodies larger than this are refused with 413.
    pub max_body_bytes: usize,
    /// The batch size reported by pre-flight checks and enforced on writes.
    pub max_batch_size: usize,
    /// A request running longer than this gets 504 (its engine work still completes).
    pub request_timeout: Duration,
    /// Whether `POST /api/v2/reset` may wipe the data.
    pub allow_reset: bool,
    /// `--read-only`: every route that could change data answers 403.
    pub read_only: bool,
    /// Engine calls running at once; more wait their turn.
    pub max_concurrent: usize,
    /// `--embed default`: documents and query texts sent without embeddings are embedded
    /// with this model (all-MiniLM-L6-v2); `None`, they are refused.
    pub embedder: Option<Arc<mnemodb::Embedder>>,
}

impl ServeConfig {
    /// Defaults for a data directory.
    pub fn new(path: impl Into<PathBuf>) -> ServeConfig {
        ServeConfig {
            path: path.into(),
            token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            request_timeout: Duration::from_secs(120),
            allow_reset: false,
            read_only: false,
            max_concurrent: 16,
            embedder: None,
        }
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub(crate) struct AppState(Arc<Shared>);

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) ns: Arc<Namespaces>,
    pub(crate) cfg: ServeConfig,
    pub(crate) metrics: Metrics,
    gate: Semaphore,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Runs `f` on the blocking pool, at most `max_concurrent` at once.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Namespaces) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .gate
            .acquire()
            .await
            .map_err(|_| Error::Internal("the server is shutting down".into()))?;
        let ns = Arc::clone(&self.ns);
        tokio::task::spawn_blocking(move || f(&ns))
            .await
            .map_err(|e| Error::Internal(format!("engine worker failed: {e}")))?
    }
}

/// A request body read as bytes, at most `max_body_bytes` (413 past that).
pub(crate) struct RawBody(pub(crate) Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self> {
        let limit = state.cfg.max_body_bytes;
        let body = req.into_body();
        match axum::body::to_bytes(body, limit).await {
            Ok(b) => Ok(RawBody(b)),
            Err(e) => {
                let too_large = std::error::Error::source(&e)
                    .and_then(|s| s.downcast_ref::<http_body_util::LengthLimitError>())
                    .is_some();
                if too_large {
                    Err(Error::BodyTooLarge { limit })
                } else {
                    Err(Error::invalid(format!(
                        "could not read the request body: {e}"
                    )))
                }
            }
        }
    }
}

/// A JSON response with this status.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Response> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))?;
    Ok((
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response())
}

/// Every failure's body.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct ErrorBody<'a> {
    /// The chromadb exception class the client raises (`NotFoundError`, ...).
    error: &'a str,
    /// What went wrong and how to fix it.
    message: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, name) = self.status_and_name();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, status = status.as_u16(), "request refused");
        }
        let body = ErrorBody {
            error: name,
            message: self.to_string(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        (
            status,
            [(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response()
    }
}

/// The whole application: routes and middleware over the shared state.
pub(crate) fn app(state: AppState) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    routes::router(state.clone())
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            Error::Internal("the request handler panicked (a bug); see the server log".into())
                .into_response()
        }))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            read_only::refuse_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(state, metrics::track))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// 504 for a request running past the configured timeout.
async fn timeout(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let limit = state.cfg.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => Error::Timeout(limit).into_response(),
    }
}

/// Opens the data directory and serves on `listener` until `shutdown` completes; then stops
/// accepting, lets in-flight requests finish, and closes the databases.
pub async fn serve(
    cfg: ServeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let cfg = ServeConfig {
        token: checked_token(cfg.token)?,
        ..cfg
    };
    let path = cfg.path.clone();
    let ns = tokio::task::spawn_blocking(move || Namespaces::open(&path))
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    let ns = Arc::new(ns);
    let state = AppState(Arc::new(Shared {
        ns: Arc::clone(&ns),
        gate: Semaphore::new(cfg.max_concurrent.max(1)),
        cfg,
        metrics: Metrics::new(Instant::now()),
    }));
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("address of", "listener", e))?;
    tracing::info!(%addr, path = %ns.root().display(), "serving the Chroma HTTP API v2");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::io("serve", addr, e))?;
    tracing::info!("in-flight requests done; closing the databases");
    tokio::task::spawn_blocking(move || ns.close())
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(())
}

/// A future that resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when
/// this is called (inside the runtime), so a signal that arrives before the server polls the
/// future is not lost and does not kill the process.
#[cfg(unix)]
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let install = |kind| signal(kind).map_err(|e| Error::io("install a handler for", "signals", e));
    let mut int = install(SignalKind::interrupt())?;
    let mut term = install(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        }
    })
}

/// A future that resolves on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C: shutting down");
        }
    })
}
