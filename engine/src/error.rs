//! The engine's one error type: every failure a caller can see, with a message that names the fix.

use std::path::PathBuf;

/// `Result` with the engine's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
///
/// Messages follow chromadb's wording where chromadb has one, so a port keeps its
/// error handling; [`Error::kind`] tells which chromadb exception class a variant maps to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A collection with this name does not exist (or was deleted).
    #[error("Collection [{0}] does not exist")]
    CollectionNotFound(String),

    /// `create_collection` with a name that is taken.
    #[error("Collection [{0}] already exists")]
    CollectionExists(String),

    /// The collection name breaks Chroma's naming rule.
    #[error("Validation error: name: {0}")]
    InvalidCollectionName(String),

    /// An embedding has the wrong number of dimensions for its collection.
    #[error("Collection expecting embedding with dimension of {expected}, got {got}")]
    DimensionMismatch {
        /// The collection's dimension.
        expected: usize,
        /// The dimension that was passed.
        got: usize,
    },

    /// An embedding holds NaN or an infinity.
    #[error(
        "Validation error: embeddings: Embeddings must not contain NaN or Infinity values \
         (record {index})"
    )]
    NonFiniteEmbedding {
        /// Position of the offending record in the call.
        index: usize,
    },

    /// An id is the empty string.
    #[error("Empty ID, ID must have at least one character")]
    EmptyId,

    /// The same id appears more than once in one call (chromadb's `DuplicateIDError`).
    #[error("{}", duplicates_message(.ids, *.op))]
    DuplicateIds {
        /// Each duplicated id once, in the order of their first repetition.
        ids: Vec<String>,
        /// The call.
        op: Op,
    },

    /// A request chromadb refuses in its Python client, before its backend sees it, with
    /// Python's `ValueError` or `TypeError` ([`ErrorKind::ValueError`], [`ErrorKind::TypeError`]).
    /// `message` is chromadb's text; with `op`, the whole message ends in chromadb's
    /// `" in <op>."`, as its `validation_context` appends it.
    #[error("{message}{}", in_op(*.op))]
    Refused {
        /// [`ErrorKind::ValueError`] or [`ErrorKind::TypeError`].
        kind: ErrorKind,
        /// chromadb's message, without the suffix.
        message: String,
        /// The call the message names, if chromadb names one.
        op: Option<Op>,
    },

    /// `query(ids=...)` named ids the collection does not have. chromadb raises this as an
    /// internal error with the same text; the ids are appended so the caller can fix the call.
    #[error("Error executing plan: Internal error: Error finding id: {}", .0.join(", "))]
    QueryIdsNotFound(Vec<String>),

    /// Any other argument a caller can fix; the message says what and how.
    #[error("{0}")]
    InvalidArgument(String),

    /// A file of ours is damaged or was written by something else.
    #[error(
        "{path}: {detail}; the database may be damaged: restore it from a backup or export what still opens"
    )]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What was wrong with it.
        detail: String,
    },

    /// A file was written by a newer (or unknown) format version.
    #[error(
        "{path}: format version {found} is not supported by this build (it reads version {supported}); \
         upgrade mnemodb"
    )]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },

    /// `MNEMODB_SIMD` names a path this CPU (or build) does not have, or no path at all.
    #[error("MNEMODB_SIMD={requested}: {reason}")]
    SimdUnavailable {
        /// What the variable said.
        requested: String,
        /// Why it cannot be used, and what can.
        reason: String,
    },

    /// An operating-system I/O failure on one of our files.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we were doing.
        op: &'static str,
        /// On which file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The file system holding the database is full. The write that met it was refused as a
    /// whole: nothing of it is visible, and the database accepts writes again once there is
    /// space.
    #[error(
        "no space left on the device holding {path}: the write was refused and nothing of it \
         was kept; free some space (or move the database), then retry"
    )]
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },

    /// The directory was written by chromadb (`chroma.sqlite3`) and has not been imported:
    /// opened as it is, it would show none of its collections.
    #[error(
        "{path} is a Chroma directory (chroma.sqlite3): mnemodb does not read its collections \
         in place. Copy them once with `mnemodb import-chroma {path}` (or \
         `mnemodb.migrate_chroma({path:?})` in Python; chromadb is not needed and its files \
         are left as they are), then open the directory again",
        path = .path.display()
    )]
    ChromaDirectory {
        /// The directory.
        path: PathBuf,
    },

    /// A tool call refused by its policy without being called ([`crate::ToolPolicy`]); the
    /// refusal is in the ledger.
    #[error("tool `{tool}` was not called: {reason}")]
    ToolRefused {
        /// The tool.
        tool: String,
        /// Why.
        reason: crate::tools::Refusal,
    },

    /// A tool call did not finish within its policy's timeout.
    #[error(
        "tool `{tool}` timed out after {} ms; raise its timeout or make the tool faster",
        .after.as_millis()
    )]
    ToolTimeout {
        /// The tool.
        tool: String,
        /// The timeout.
        after: std::time::Duration,
    },

    /// A tool run by [`crate::ToolExecutor::call`] returned an error (or panicked).
    #[error("tool `{tool}` failed: {message}")]
    ToolFailed {
        /// The tool.
        tool: String,
        /// Its error.
        message: String,
    },

    /// Encoded data (a codec stream, an export file, an encoded value) that cannot be read as
    /// what it claims to be; `at` names the file and the frame, line or record.
    #[error("{at}: {detail}")]
    BadData {
        /// Where: the file (or `bytes`), and the line, frame or record in it.
        at: String,
        /// What was wrong.
        detail: String,
    },

    /// The embedding model's files are missing, unreadable or not all-MiniLM-L6-v2's.
    #[error("embedding model: {detail}")]
    EmbeddingModel {
        /// Which file, what was wrong, and what to install.
        detail: String,
    },

    /// SQLite failed (locked for longer than the busy timeout, ...).
    #[error("sqlite: {0}")]
    Sqlite(#[source] rusqlite::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => Error::DiskFull {
                path: PathBuf::from(crate::meta::SQLITE_FILE),
            },
            _ => Error::Sqlite(e),
        }
    }
}

/// The chromadb exception class an [`Error`] corresponds to, for the Python and HTTP layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `chromadb.errors.NotFoundError` (HTTP 404).
    NotFound,
    /// `chromadb.errors.InvalidArgumentError` (HTTP 400).
    InvalidArgument,
    /// `chromadb.errors.DuplicateIDError` (HTTP 400).
    DuplicateId,
    /// `chromadb.errors.UniqueConstraintError` (HTTP 409).
    AlreadyExists,
    /// `chromadb.errors.InternalError` (HTTP 500). chromadb also uses it for one user error,
    /// query ids that do not exist ([`Error::QueryIdsNotFound`]).
    Internal,
    /// Python's `ValueError`, which chromadb's client-side checks raise (HTTP 400, reported as
    /// `InvalidArgumentError`: chroma's HTTP API has no other name for it).
    ValueError,
    /// Python's `TypeError`, which a few of chromadb's checks raise (HTTP 400, reported as
    /// `InvalidArgumentError`).
    TypeError,
    /// A Chroma directory opened before its import ([`Error::ChromaDirectory`]); Python's
    /// `mnemodb.errors.ChromaDirectoryError`.
    ChromaDirectory,
    /// A tool call refused by its policy ([`Error::ToolRefused`]); Python's
    /// `mnemodb.errors.ToolRefusedError`.
    ToolRefused,
    /// A tool call past its timeout ([`Error::ToolTimeout`]); Python's
    /// `mnemodb.errors.ToolTimeoutError`.
    ToolTimeout,
    /// A tool's own failure ([`Error::ToolFailed`]); Python's `mnemodb.errors.ToolError`.
    ToolFailed,
}

/// The request a validation message belongs to, named as chromadb names it: its client ends
/// the message of every check it makes with `" in <op>."` (`validation_context`), and so does
/// the engine, so every caller (Rust, Python, HTTP) reads the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `add`.
    Add,
    /// `update`.
    Update,
    /// `upsert`.
    Upsert,
    /// `get`.
    Get,
    /// `query`.
    Query,
    /// `delete`.
    Delete,
}

impl Op {
    /// chromadb's name of the call: `add`, `update`, `upsert`, `get`, `query`, `delete`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Update => "update",
            Op::Upsert => "upsert",
            Op::Get => "get",
            Op::Query => "query",
            Op::Delete => "delete",
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Op {
    type Err = Error;

    fn from_str(s: &str) -> Result<Op> {
        [
            Op::Add,
            Op::Update,
            Op::Upsert,
            Op::Get,
            Op::Query,
            Op::Delete,
        ]
        .into_iter()
        .find(|op| op.name() == s)
        .ok_or_else(|| {
            Error::invalid(format!(
                "unknown operation {s:?}: expected add, update, upsert, get, query or delete"
            ))
        })
    }
}

/// chromadb's `" in <op>."`, or nothing.
fn in_op(op: Option<Op>) -> String {
    op.map_or_else(String::new, |op| format!(" in {op}."))
}

/// chromadb's `DuplicateIDError` text: every duplicate below ten, else the count and the first
/// five and last five of the first eleven (as `validate_ids` prints its set).
fn duplicates_message(ids: &[String], op: Op) -> String {
    let listed = if ids.len() < 10 {
        format!("found duplicates of: {}", ids.join(", "))
    } else {
        let examples = &ids[..ids.len().min(11)];
        format!(
            "found {} duplicated IDs: {}, ..., {}",
            ids.len(),
            examples[..5].join(", "),
            examples[examples.len() - 5..].join(", ")
        )
    };
    format!("Expected IDs to be unique, {listed} in {op}.")
}

impl Error {
    /// Which chromadb exception class this error maps to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::CollectionNotFound(_) => ErrorKind::NotFound,
            Error::CollectionExists(_) => ErrorKind::AlreadyExists,
            Error::DuplicateIds { .. } => ErrorKind::DuplicateId,
            Error::Refused { kind, .. } => *kind,
            Error::InvalidCollectionName(_)
            | Error::DimensionMismatch { .. }
            | Error::NonFiniteEmbedding { .. }
            | Error::EmptyId
            | Error::InvalidArgument(_)
            | Error::BadData { .. }
            | Error::SimdUnavailable { .. } => ErrorKind::InvalidArgument,
            Error::EmbeddingModel { .. } => ErrorKind::ValueError,
            Error::ChromaDirectory { .. } => ErrorKind::ChromaDirectory,
            Error::ToolRefused { .. } => ErrorKind::ToolRefused,
            Error::ToolTimeout { .. } => ErrorKind::ToolTimeout,
            Error::ToolFailed { .. } => ErrorKind::ToolFailed,
            Error::QueryIdsNotFound(_)
            | Error::Corrupt { .. }
            | Error::UnsupportedFormat { .. }
            | Error::Io { .. }
            | Error::DiskFull { .. }
            | Error::Sqlite(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::StorageFull {
            return Error::DiskFull { path: path.into() };
        }
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    /// chromadb's client-side `ValueError` with `" in <op>."`.
    pub(crate) fn value(msg: impl Into<String>, op: Op) -> Self {
        Error::Refused {
            kind: ErrorKind::ValueError,
            message: msg.into(),
            op: Some(op),
        }
    }

    /// chromadb's client-side `TypeError` with `" in <op>."`.
    pub(crate) fn type_error(msg: impl Into<String>, op: Op) -> Self {
        Error::Refused {
            kind: ErrorKind::TypeError,
            message: msg.into(),
            op: Some(op),
        }
    }
}
