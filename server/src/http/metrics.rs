//! `/metrics` in Prometheus' text format: request counts and latencies per route, requests in
//! flight, uptime, and the size of every collection (read when scraped).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request counters and latency histograms.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    in_flight: AtomicI64,
    /// (method, route, status) -> requests.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// (method, route) -> latencies.
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
}

/// One collection's size, for the gauge.
#[derive(Debug)]
pub(crate) struct CollectionSize {
    pub(crate) tenant: String,
    pub(crate) database: String,
    pub(crate) collection: String,
    pub(crate) records: u64,
    /// Committed slots, and how many of them the server's index has linked.
    pub(crate) slots: u64,
    pub(crate) linked: u64,
}

/// Background jobs of every open database, by state, for the gauge.
#[derive(Debug, Default)]
pub(crate) struct JobCounts {
    pub(crate) running: u64,
    pub(crate) queued: u64,
}

impl Metrics {
    pub(crate) fn new(started: Instant) -> Metrics {
        Metrics {
            started,
            in_flight: AtomicI64::new(0),
            requests: Mutex::default(),
            latency: Mutex::default(),
        }
    }

    fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        let mut lat = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let h = lat
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        h.count += 1;
        h.sum += seconds;
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.counts[i] += 1;
            }
        }
    }

    /// The text exposition.
    pub(crate) fn render(&self, sizes: &[CollectionSize], jobs: &JobCounts) -> String {
        let mut out = String::new();
        out.push_str("# HELP mnemodb_uptime_seconds Seconds since the server started.\n");
        out.push_str("# TYPE mnemodb_uptime_seconds gauge\n");
        let _ = writeln!(
            out,
            "mnemodb_uptime_seconds {:.3}",
            self.started.elapsed().as_secs_f64()
        );
        out.push_str("# HELP mnemodb_http_requests_in_flight Requests being served.\n");
        out.push_str("# TYPE mnemodb_http_requests_in_flight gauge\n");
        let _ = writeln!(
            out,
            "mnemodb_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP mnemodb_http_requests_total Requests answered, by route and status.\n",
        );
        out.push_str("# TYPE mnemodb_http_requests_total counter\n");
        for ((method, route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "mnemodb_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP mnemodb_http_request_duration_seconds Time to answer a request, by route.\n",
        );
        out.push_str("# TYPE mnemodb_http_request_duration_seconds histogram\n");
        for ((method, route), h) in self
            .latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "mnemodb_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "mnemodb_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "mnemodb_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "mnemodb_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out.push_str("# HELP mnemodb_collection_records Records in a collection.\n");
        out.push_str("# TYPE mnemodb_collection_records gauge\n");
        for s in sizes {
            let _ = writeln!(
                out,
                "mnemodb_collection_records{{tenant=\"{}\",database=\"{}\",collection=\"{}\"}} {}",
                escape(&s.tenant),
                escape(&s.database),
                escape(&s.collection),
                s.records
            );
        }
        out.push_str(
            "# HELP mnemodb_index_linked_slots Slots a collection's index has linked (the rest is scanned exactly).\n",
        );
        out.push_str("# TYPE mnemodb_index_linked_slots gauge\n");
        for s in sizes {
            let _ = writeln!(
                out,
                "mnemodb_index_linked_slots{{{}}} {}",
                labels(s),
                s.linked
            );
        }
        out.push_str(
            "# HELP mnemodb_index_coverage_ratio Share of a collection's slots its index has linked (1: complete or no index needed).\n",
        );
        out.push_str("# TYPE mnemodb_index_coverage_ratio gauge\n");
        for s in sizes {
            let ratio = if s.slots == 0 {
                1.0
            } else {
                s.linked as f64 / s.slots as f64
            };
            let _ = writeln!(out, "mnemodb_index_coverage_ratio{{{}}} {ratio}", labels(s));
        }
        out.push_str(
            "# HELP mnemodb_background_jobs Background jobs (index building, saves), by state.\n",
        );
        out.push_str("# TYPE mnemodb_background_jobs gauge\n");
        let _ = writeln!(
            out,
            "mnemodb_background_jobs{{state=\"running\"}} {}",
            jobs.running
        );
        let _ = writeln!(
            out,
            "mnemodb_background_jobs{{state=\"queued\"}} {}",
            jobs.queued
        );
        out
    }
}

/// A collection's labels.
fn labels(s: &CollectionSize) -> String {
    format!(
        "tenant=\"{}\",database=\"{}\",collection=\"{}\"",
        escape(&s.tenant),
        escape(&s.database),
        escape(&s.collection)
    )
}

/// Label values escape `\`, `"` and newlines.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Counts and times every request; echoes the request id as `chroma-trace-id`.
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let id = req.headers().get("x-request-id").cloned();
    let start = Instant::now();
    state.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let mut resp = next.run(req).await;
    state.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    let seconds = start.elapsed().as_secs_f64();
    state
        .metrics
        .record(&method, &route, resp.status().as_u16(), seconds);
    tracing::info!(
        status = resp.status().as_u16(),
        ms = format_args!("{:.2}", seconds * 1e3),
        "answered"
    );
    if let Some(id) = id {
        resp.headers_mut().insert("chroma-trace-id", id);
    } else {
        resp.headers_mut()
            .insert("chroma-trace-id", HeaderValue::from_static("-"));
    }
    resp
}
