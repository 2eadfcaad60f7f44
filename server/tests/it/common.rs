//! Helpers: an in-process server on 127.0.0.1:0, a child-process server, and a small JSON
//! client over reqwest.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mnemodb_server::http::{ServeConfig, serve};
use reqwest::blocking::Client;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The `T` prefix of the record routes for the default tenant and database.
pub(crate) const T: &str = "/api/v2/tenants/default_tenant/databases/default_database";

/// Binds 127.0.0.1:0. In a private network namespace made without `ip link set lo up` (as
/// `unshare --net` leaves it) loopback is down; then this brings it up once, which only
/// touches that namespace, and fails with a clear message if it cannot.
pub(crate) fn bind_loopback() -> TcpListener {
    static LOOPBACK: std::sync::Once = std::sync::Once::new();
    let reachable = || {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = l.local_addr().expect("local addr");
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map(|_| l)
            .map_err(|e| (addr, e))
    };
    match reachable() {
        Ok(l) => l,
        Err(_) => {
            LOOPBACK.call_once(|| {
                let _ = Command::new("ip")
                    .args(["link", "set", "lo", "up"])
                    .status();
            });
            reachable().unwrap_or_else(|(addr, e)| {
                panic!(
                    "cannot connect to {addr} ({e}): loopback is down here; in a network \
                     namespace run `ip link set lo up` first"
                )
            })
        }
    }
}

/// A server running in this process on its own runtime; stops (gracefully) when dropped.
pub(crate) struct TestServer {
    pub(crate) url: String,
    pub(crate) http: Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A server over a fresh temporary directory, with `tweak` applied to the defaults.
    pub(crate) fn start(tweak: impl FnOnce(&mut ServeConfig)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Self::start_in(dir.path(), tweak);
        s._dir = Some(dir);
        s
    }

    /// A server over `path`.
    pub(crate) fn start_in(path: &Path, tweak: impl FnOnce(&mut ServeConfig)) -> TestServer {
        let mut cfg = ServeConfig::new(path);
        tweak(&mut cfg);
        let std_listener = bind_loopback();
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr: SocketAddr = std_listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                ready_tx.send(()).expect("ready");
                serve(cfg, listener, async {
                    let _ = rx.await;
                })
                .await
                .expect("serve");
            });
        });
        ready_rx.recv().expect("server thread started");
        let s = TestServer {
            url: format!("http://{addr}"),
            http: Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("client"),
            stop: Some(tx),
            thread: Some(thread),
            _dir: None,
        };
        // The namespaces open before the first request is answered: wait for a heartbeat.
        for _ in 0..200 {
            if s.http
                .get(format!("{}/api/v2/heartbeat", s.url))
                .send()
                .is_ok()
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        s
    }

    /// Sends a request with an optional JSON body; returns the status and the JSON answer
    /// (`Value::Null` for an empty or non-JSON body).
    pub(crate) fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().expect("request");
        let status = resp.status();
        let text = resp.text().expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub(crate) fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None)
    }

    pub(crate) fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body))
    }

    /// POSTs raw bytes as JSON.
    pub(crate) fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::blocking::Body>,
    ) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .expect("request");
        let status = resp.status();
        (status, resp.json().unwrap_or(Value::Null))
    }

    /// Creates a collection and returns its id.
    pub(crate) fn create(&self, name: &str, extra: Value) -> String {
        let mut body = serde_json::json!({ "name": name });
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        let (status, v) = self.post(&format!("{T}/collections"), body);
        assert_eq!(status, StatusCode::OK, "{v}");
        v["id"].as_str().expect("id").to_owned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Asserts a chromadb-shaped error: status, `error` name and a fragment of the message.
#[track_caller]
pub(crate) fn assert_error(got: (StatusCode, Value), status: u16, name: &str, fragment: &str) {
    let (s, v) = got;
    assert_eq!(s.as_u16(), status, "{v}");
    assert_eq!(v["error"], name, "{v}");
    let msg = v["message"].as_str().unwrap_or_default();
    assert!(msg.contains(fragment), "message {msg:?} lacks {fragment:?}");
}

/// `mnemodb serve` as a child process on a free port.
pub(crate) struct ChildServer {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
}

impl ChildServer {
    pub(crate) fn start(path: &Path, extra: &[&str]) -> ChildServer {
        let _ = bind_loopback();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mnemodb"))
            .args(["serve", "--port", "0", "--path"])
            .arg(path)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mnemodb serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        ChildServer { child, addr }
    }

    /// Sends SIGTERM.
    pub(crate) fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for exit, at most `secs`; returns the exit code.
    pub(crate) fn wait(&mut self, secs: u64) -> Option<i32> {
        for _ in 0..secs * 20 {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("mnemodb serve did not exit within {secs} s");
    }

    /// Resident set size in KiB (Linux).
    pub(crate) fn rss_kib(&self) -> Option<u64> {
        self.proc_status_kib("VmRSS:")
    }

    /// The peak resident set size so far in KiB (Linux).
    pub(crate) fn peak_rss_kib(&self) -> Option<u64> {
        self.proc_status_kib("VmHWM:")
    }

    fn proc_status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
