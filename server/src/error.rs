//! The crate's one error type, and its one mapping to HTTP: status and chromadb error name.

use axum::http::StatusCode;

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the server and the CLI can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine refused or failed; its [`mnemodb::ErrorKind`] picks the HTTP status.
    #[error(transparent)]
    Engine(#[from] mnemodb::Error),

    /// A request the caller can fix: bad JSON, a wrong type, an unknown field, a bad value.
    #[error("{0}")]
    InvalidRequest(String),

    /// A tenant, a database or a route that does not exist.
    #[error("{0}")]
    NotFound(String),

    /// A route that exists, called with another method.
    #[error("{0}")]
    MethodNotAllowed(String),

    /// A tenant or database name that is taken.
    #[error("{0}")]
    AlreadyExists(String),

    /// A batch larger than the server's `max_batch_size`.
    #[error("Batch size of {got} is greater than max batch size of {max}")]
    BatchTooLarge {
        /// Records in the request.
        got: usize,
        /// The server's limit (reported by `/api/v2/pre-flight-checks`).
        max: usize,
    },

    /// A request body over the configured cap.
    #[error(
        "request body is larger than the limit of {limit} bytes; send smaller batches or \
         start the server with a larger --max-body-bytes"
    )]
    BodyTooLarge {
        /// The cap in bytes.
        limit: usize,
    },

    /// A missing or wrong token while the server requires one.
    #[error(
        "Unauthorized: send the server's token as `Authorization: Bearer <token>` or \
         `X-Chroma-Token: <token>`"
    )]
    Unauthorized,

    /// A route that would change data, on a server started with `--read-only`.
    #[error(
        "this server is read-only (mnemodb serve --read-only): {0} would change data and is \
         refused; restart the server without --read-only to write"
    )]
    ReadOnly(String),

    /// `POST /api/v2/reset` on a server started without `--allow-reset`.
    #[error("Reset is disabled by config")]
    ResetDisabled,

    /// A request that ran longer than the server's request timeout.
    #[error(
        "request timed out after {} s (the server's --request-timeout-secs); its engine work, \
         if it started, still completes",
        .0.as_secs_f64()
    )]
    Timeout(std::time::Duration),

    /// A file or socket operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we were doing.
        op: &'static str,
        /// On which file or address.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// A file that is not what the command expected (an export with a bad line, ...).
    #[error("{0}")]
    BadFile(String),

    /// `mnemodb inspect` found problems (listed, with what to do, in its report).
    #[error(
        "inspect found {problems} problem(s) in the database; the report above says what to \
         run next"
    )]
    Damaged {
        /// Problems found.
        problems: usize,
    },

    /// A remote Chroma server (`push`, `pull`) refused a request or could not be reached.
    #[error("{0}")]
    Remote(String),

    /// A bug or a crashed worker: never the caller's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub(crate) fn io(
        op: &'static str,
        path: impl std::fmt::Display,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            op,
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidRequest(msg.into())
    }

    /// The HTTP status and the chromadb error name (the `"error"` field, which
    /// `chromadb`'s client turns into the exception class of the same name in
    /// `chromadb.errors.error_types`). The one place errors meet HTTP.
    pub fn status_and_name(&self) -> (StatusCode, &'static str) {
        use mnemodb::ErrorKind;
        match self {
            Error::Engine(e) => match e.kind() {
                ErrorKind::NotFound => (StatusCode::NOT_FOUND, "NotFoundError"),
                // chromadb's Python `ValueError` / `TypeError` have no name on the wire:
                // chroma's server reports its own checks as `InvalidArgumentError`.
                ErrorKind::InvalidArgument | ErrorKind::ValueError | ErrorKind::TypeError => {
                    (StatusCode::BAD_REQUEST, "InvalidArgumentError")
                }
                ErrorKind::DuplicateId => (StatusCode::BAD_REQUEST, "DuplicateID"),
                ErrorKind::AlreadyExists => (StatusCode::CONFLICT, "UniqueConstraintError"),
                ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
                // A kind added to the engine later: a server error until mapped here.
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
            },
            Error::InvalidRequest(_) | Error::BadFile(_) => {
                (StatusCode::BAD_REQUEST, "InvalidArgumentError")
            }
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "NotFoundError"),
            Error::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "InvalidArgumentError"),
            Error::AlreadyExists(_) => (StatusCode::CONFLICT, "UniqueConstraintError"),
            Error::BatchTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "BatchSizeExceededError")
            }
            Error::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "InvalidArgumentError"),
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "AuthorizationError"),
            Error::ResetDisabled | Error::ReadOnly(_) => {
                (StatusCode::FORBIDDEN, "AuthorizationError")
            }
            Error::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "InternalError"),
            Error::Remote(_) => (StatusCode::BAD_GATEWAY, "InternalError"),
            Error::Io { .. } | Error::Internal(_) | Error::Damaged { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "InternalError")
            }
        }
    }
}
