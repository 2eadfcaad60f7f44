//! The small JSON answers: heartbeat, health, pre-flight checks, identity, a tenant, a
//! delete's count and the empty object. Typed like the bodies in `wire.rs`, so the OpenAPI
//! document's schemas are generated from what the handlers send.

use schemars::JsonSchema;
use serde::Serialize;

/// `GET /api/v2/heartbeat`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Heartbeat {
    /// Nanoseconds since the Unix epoch.
    #[serde(rename = "nanosecond heartbeat")]
    pub(crate) nanos: u128,
}

/// `GET /api/v2/healthcheck`: always ready (there is no executor or log service to wait for).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Health {
    pub(crate) is_executor_ready: bool,
    pub(crate) is_log_client_ready: bool,
}

/// `GET /api/v2/pre-flight-checks`: the limits the client batches by.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PreFlight {
    pub(crate) max_batch_size: usize,
    pub(crate) supports_base64_encoding: bool,
}

/// `GET /api/v2/auth/identity`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Identity {
    pub(crate) user_id: String,
    pub(crate) tenant: String,
    pub(crate) databases: Vec<String>,
}

/// `GET /api/v2/tenants/{tenant}`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Tenant {
    pub(crate) name: String,
    /// Always `null` here (chroma's cloud names its tenants' resources).
    pub(crate) resource_name: Option<String>,
}

/// `POST .../delete`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Deleted {
    /// The records deleted; with ids alone, the number of ids asked for, as chromadb counts.
    pub(crate) deleted: u64,
}

/// `{}`: the answer of a change that returns nothing.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Empty {}

/// One call of `GET .../tool_runs/{run_id}/calls`: a row of the tool ledger (`mnemodb.tools`).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ToolCallOut {
    pub(crate) id: i64,
    pub(crate) run_id: String,
    pub(crate) tool: String,
    /// The arguments (canonical JSON).
    pub(crate) args: serde_json::Value,
    /// `running`, `ok`, `error`, `timeout`, `refused`, `cache-hit` or `abandoned`.
    pub(crate) status: String,
    pub(crate) result: Option<serde_json::Value>,
    pub(crate) error: Option<String>,
    pub(crate) depth: u32,
    pub(crate) parent_id: Option<i64>,
    /// Seconds since the Unix epoch.
    pub(crate) started_at: f64,
    /// Seconds (`null` while running).
    pub(crate) duration: Option<f64>,
}

impl ToolCallOut {
    pub(crate) fn new(c: mnemodb::CallRecord) -> ToolCallOut {
        let json = |t: &str| serde_json::from_str(t).unwrap_or_else(|_| t.into());
        ToolCallOut {
            id: c.id,
            args: json(&c.args),
            result: c.result.as_deref().map(json),
            run_id: c.run_id,
            tool: c.tool,
            status: c.status.as_str().to_owned(),
            error: c.error,
            depth: c.depth,
            parent_id: c.parent_id,
            started_at: c.started_at_ms as f64 / 1000.0,
            duration: c.duration_us.map(|u| u as f64 / 1e6),
        }
    }
}
