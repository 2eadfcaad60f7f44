//! Helpers shared by the integration tests: building batches and reading results compactly.

use mnemodb::{AddBatch, Collection, GetRequest, Include, QueryRequest, Vectors};

pub(crate) fn ids(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

/// Adds `ids` with the given flat embeddings (one row per id) and nothing else.
pub(crate) fn add(c: &Collection, ids_: &[&str], embeddings: &[f32]) -> mnemodb::Result<()> {
    let ids = ids(ids_);
    c.add(AddBatch {
        ids: &ids,
        embeddings: Vectors::new(
            embeddings,
            embeddings.len().checked_div(ids.len()).unwrap_or(0),
        ),
        ..AddBatch::default()
    })
}

/// All ids in insertion order.
pub(crate) fn all_ids(c: &Collection) -> Vec<String> {
    c.get(GetRequest {
        include: Include::default(),
        ..GetRequest::default()
    })
    .unwrap()
    .ids
}

/// Ids and distances of the `k` nearest to one query.
pub(crate) fn nearest(c: &Collection, q: &[f32], k: usize) -> Vec<(String, f32)> {
    let hits = c
        .query(QueryRequest {
            embeddings: q,
            dim: q.len(),
            n_results: k,
            ids: None,
            include: Include::query_default(),
        })
        .unwrap();
    let h = &hits[0];
    h.ids
        .iter()
        .cloned()
        .zip(h.distances.clone().unwrap())
        .collect()
}

// ---- Randomness and content that parent and child processes derive alike ----

/// A small deterministic generator (SplitMix64). The process tests print their seed, so a
/// failure can be replayed with the same choices (process timing aside).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub(crate) fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

/// SplitMix64's finalizer: a bijective scramble of 64 bits.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed in `var`, or a fresh one from the clock when it is unset.
pub(crate) fn seed_from_env(var: &str) -> u64 {
    match std::env::var(var) {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("{var}={s:?} is not a u64")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    }
}

/// The vector of version `version` of record `id`: a pure function, so a process that only
/// knows an id and a version knows the exact floats. Every value is a multiple of 2^-22 in
/// [-1, 1), exactly representable, so stored vectors compare with `==`.
pub(crate) fn vector_for(id: &str, version: u64, dim: usize) -> Vec<f32> {
    // FNV-1a: a stable hash (std's `DefaultHasher` promises no stability across releases).
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = Rng::new(h ^ mix64(version));
    (0..dim)
        .map(|_| (rng.next_u64() >> 41) as f32 / (1u64 << 22) as f32 - 1.0)
        .collect()
}

// ---- Child processes: the integration-test binary re-run as a worker ----

/// A child process running one `#[ignore]`d test of this binary. Dropping it kills and reaps
/// the child, so no child outlives its test, whatever path (panic included) the test takes.
#[derive(Debug)]
pub(crate) struct ChildProcess {
    child: std::process::Child,
    stderr_path: std::path::PathBuf,
}

impl ChildProcess {
    /// Runs test `test` (its full path, e.g. `crash::child_writer`) of this very binary with
    /// `envs` set, stdin and stdout piped, stderr into `stderr_path`.
    pub(crate) fn spawn(
        test: &str,
        envs: &[(&str, String)],
        stderr_path: &std::path::Path,
    ) -> ChildProcess {
        use std::process::{Command, Stdio};
        let exe = std::env::current_exe().expect("path of the test binary");
        let stderr = std::fs::File::create(stderr_path).expect("child stderr file");
        let child = Command::new(exe)
            // `-q`: libtest would otherwise print `test <name> ... ` before the test runs,
            // and the child's first line would come out glued to it.
            .args([
                "--exact",
                test,
                "--ignored",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn the test binary as a child");
        ChildProcess {
            child,
            stderr_path: stderr_path.to_owned(),
        }
    }

    /// The child's stdout (once).
    pub(crate) fn take_stdout(&mut self) -> std::process::ChildStdout {
        self.child.stdout.take().expect("stdout taken twice")
    }

    /// Writes one line to the child's stdin.
    pub(crate) fn send(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("stdin already closed");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .expect("write to the child's stdin");
    }

    /// Closes the child's stdin: children read it as "stop" (or "the parent is gone").
    pub(crate) fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    pub(crate) fn kill(&mut self) -> std::process::ExitStatus {
        // Fails only if the child was already reaped, which `wait` then reports.
        let _ = self.child.kill();
        self.child.wait().expect("wait for the child")
    }

    /// Waits for a child that is expected to exit on its own.
    pub(crate) fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait for the child")
    }

    /// What the child wrote on stderr so far (for failure messages).
    pub(crate) fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a line-forwarding thread reports about child `from`'s stdout.
#[derive(Debug)]
pub(crate) enum ChildEvent {
    /// A line without its `\n`; `complete` is false for a last line cut short by a kill.
    Line {
        from: usize,
        text: String,
        complete: bool,
    },
    /// The stdout pipe closed: the child exited or was killed.
    Eof { from: usize },
}

/// Forwards child `from`'s stdout, line by line, into `tx`, then `Eof`. Reading on a thread
/// lets the parent wait on a channel with a deadline instead of blocking on a pipe.
pub(crate) fn forward_lines(
    from: usize,
    stdout: std::process::ChildStdout,
    tx: std::sync::mpsc::Sender<ChildEvent>,
) -> std::thread::JoinHandle<()> {
    use std::io::BufRead;
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stdout);
        let mut buf = String::new();
        loop {
            buf.clear();
            match reader.read_line(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let complete = buf.ends_with('\n');
                    let text = buf.trim_end_matches('\n').to_owned();
                    if tx
                        .send(ChildEvent::Line {
                            from,
                            text,
                            complete,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        let _ = tx.send(ChildEvent::Eof { from });
    })
}

/// In a child: writes one protocol line to stdout and flushes it, so the parent has it before
/// the child does anything else. A write error means the parent is gone: exit.
pub(crate) fn emit(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(3);
    }
}

/// In a child: exits as soon as stdin reaches end of file, i.e. when the parent closes it or
/// dies. A child blocked in a long loop thus never outlives a parent killed without cleanup.
pub(crate) fn exit_when_stdin_closes() {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        std::process::exit(0);
    });
}
