//! The OpenAPI 3.1 document of the routes served, at `/openapi.json` (where chroma serves its
//! own). Written by hand from the same bodies as `wire.rs`; a test checks every path in it
//! is routed.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

fn op(summary: &str, request: Option<&str>, response: &str) -> Value {
    let mut o = json!({
        "summary": summary,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{response}")}}}},
            "4XX": {"description": "Caller error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "5XX": {"description": "Server error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        }
    });
    if let Some(r) = request {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{r}")}}}});
    }
    o
}

/// The document.
pub(crate) fn spec() -> Value {
    const T: &str = "/api/v2/tenants/{tenant}/databases/{database}";
    let c = |s: &str| format!("{T}/collections{s}");
    let mut paths = serde_json::Map::new();
    let mut put = |path: String, method: &str, v: Value| {
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[method] = v;
    };
    put(
        "/api/v2/heartbeat".into(),
        "get",
        op("Nanoseconds since the epoch", None, "Heartbeat"),
    );
    put(
        "/api/v2/healthcheck".into(),
        "get",
        op("Readiness", None, "Any"),
    );
    put(
        "/api/v2/version".into(),
        "get",
        op("API version", None, "Any"),
    );
    put(
        "/api/v2/pre-flight-checks".into(),
        "get",
        op(
            "Limits: max_batch_size, supports_base64_encoding",
            None,
            "Any",
        ),
    );
    put(
        "/api/v2/auth/identity".into(),
        "get",
        op("The caller's identity", None, "Any"),
    );
    put(
        "/api/v2/reset".into(),
        "post",
        op("Delete everything (needs --allow-reset)", None, "Any"),
    );
    put(
        "/api/v2/tenants".into(),
        "post",
        op("Create a tenant", Some("Name"), "Empty"),
    );
    put(
        "/api/v2/tenants/{tenant}".into(),
        "get",
        op("Get a tenant", None, "Any"),
    );
    put(
        "/api/v2/tenants/{tenant}/databases".into(),
        "get",
        op("List databases (?limit&offset)", None, "Any"),
    );
    put(
        "/api/v2/tenants/{tenant}/databases".into(),
        "post",
        op("Create a database", Some("Name"), "Empty"),
    );
    put(
        "/api/v2/tenants/{tenant}/databases/{database}".into(),
        "get",
        op("Get a database", None, "Database"),
    );
    put(
        "/api/v2/tenants/{tenant}/databases/{database}".into(),
        "delete",
        op("Delete a database", None, "Empty"),
    );
    put(
        c(""),
        "get",
        op("List collections (?limit&offset)", None, "CollectionList"),
    );
    put(
        c(""),
        "post",
        op(
            "Create a collection",
            Some("CreateCollection"),
            "Collection",
        ),
    );
    put(
        format!("{T}/collections_count"),
        "get",
        op("Count collections", None, "Any"),
    );
    put(
        c("/{collection_name}"),
        "get",
        op("Get a collection by name", None, "Collection"),
    );
    put(
        c("/{collection_name}"),
        "delete",
        op("Delete a collection by name", None, "Empty"),
    );
    put(
        c("/{collection_id}"),
        "put",
        op(
            "Modify a collection by id",
            Some("ModifyCollection"),
            "Empty",
        ),
    );
    put(
        c("/by-id/{collection_id}"),
        "get",
        op("Get a collection by id", None, "Collection"),
    );
    put(
        c("/{collection_id}/add"),
        "post",
        op("Add records (answers 201)", Some("Records"), "Empty"),
    );
    put(
        c("/{collection_id}/upsert"),
        "post",
        op("Upsert records", Some("Records"), "Empty"),
    );
    put(
        c("/{collection_id}/update"),
        "post",
        op("Update records", Some("Records"), "Empty"),
    );
    put(
        c("/{collection_id}/delete"),
        "post",
        op("Delete records", Some("Delete"), "Deleted"),
    );
    put(
        c("/{collection_id}/get"),
        "post",
        op("Get records", Some("Get"), "GetResult"),
    );
    put(
        c("/{collection_id}/query"),
        "post",
        op("Nearest neighbours", Some("Query"), "QueryResult"),
    );
    put(
        c("/{collection_id}/count"),
        "get",
        op("Count records", None, "Any"),
    );
    put(
        "/metrics".into(),
        "get",
        op("Prometheus metrics (text)", None, "Any"),
    );
    let filter = json!({"type": ["object", "null"], "description": "chromadb's where / where_document filter"});
    let include = json!({"type": "array", "items": {"enum": ["documents", "embeddings", "metadatas", "distances", "uris", "data"]}});
    let ids = json!({"type": ["array", "null"], "items": {"type": "string"}});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "mnemodb: the Chroma HTTP API v2",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The routes of chroma's HTTP API v2 that chromadb's HttpClient calls. Errors are {\"error\": <chromadb.errors class name>, \"message\": ...}. With --token, every route but heartbeat and healthcheck needs `Authorization: Bearer <token>` or `X-Chroma-Token: <token>`."
        },
        "paths": paths,
        "components": {"schemas": {
            "Any": {},
            "Empty": {"type": "object"},
            "Error": {"type": "object", "required": ["error", "message"], "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
            "Heartbeat": {"type": "object", "properties": {"nanosecond heartbeat": {"type": "integer"}}},
            "Name": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}, "additionalProperties": false},
            "Database": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}, "tenant": {"type": "string"}}},
            "Metadata": {"type": ["object", "null"], "additionalProperties": {"oneOf": [{"type": "boolean"}, {"type": "integer"}, {"type": "number"}, {"type": "string"}, {"type": "array"}, {"type": "null"}]}},
            "Collection": {"type": "object", "properties": {
                "id": {"type": "string", "format": "uuid"}, "name": {"type": "string"},
                "configuration_json": {"type": "object"}, "schema": {"type": ["object", "null"]},
                "metadata": {"$ref": "#/components/schemas/Metadata"}, "dimension": {"type": ["integer", "null"]},
                "tenant": {"type": "string"}, "database": {"type": "string"},
                "log_position": {"type": "integer"}, "version": {"type": "integer"}}},
            "CollectionList": {"type": "array", "items": {"$ref": "#/components/schemas/Collection"}},
            "CreateCollection": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                "name": {"type": "string"}, "metadata": {"$ref": "#/components/schemas/Metadata"},
                "configuration": {"type": ["object", "null"], "description": "{\"hnsw\": {\"space\": \"l2|cosine|ip\", \"ef_construction\", \"ef_search\", \"max_neighbors\", ...}}"},
                "schema": {"type": ["object", "null"], "description": "accepted, ignored"},
                "get_or_create": {"type": "boolean"}}},
            "ModifyCollection": {"type": "object", "additionalProperties": false, "properties": {
                "new_name": {"type": ["string", "null"]}, "new_metadata": {"$ref": "#/components/schemas/Metadata"},
                "new_configuration": {"type": ["object", "null"]}}},
            "Records": {"type": "object", "required": ["ids"], "additionalProperties": false, "properties": {
                "ids": {"type": "array", "items": {"type": "string"}},
                "embeddings": {"type": ["array", "null"], "items": {"oneOf": [{"type": "array", "items": {"type": "number"}}, {"type": "string", "description": "little-endian f32, base64"}, {"type": "null"}]}},
                "metadatas": {"type": ["array", "null"], "items": {"$ref": "#/components/schemas/Metadata"}},
                "documents": {"type": ["array", "null"], "items": {"type": ["string", "null"]}},
                "uris": {"type": ["array", "null"], "items": {"type": ["string", "null"]}}}},
            "Delete": {"type": "object", "additionalProperties": false, "properties": {
                "ids": ids, "where": filter, "where_document": filter, "limit": {"type": ["integer", "null"]}}},
            "Deleted": {"type": "object", "properties": {"deleted": {"type": "integer"}}},
            "Get": {"type": "object", "additionalProperties": false, "properties": {
                "ids": ids, "where": filter, "where_document": filter,
                "limit": {"type": ["integer", "null"]}, "offset": {"type": ["integer", "null"]}, "include": include}},
            "GetResult": {"type": "object", "properties": {"ids": {"type": "array"}, "embeddings": {}, "documents": {}, "uris": {}, "metadatas": {}, "include": {}}},
            "Query": {"type": "object", "required": ["query_embeddings"], "additionalProperties": false, "properties": {
                "ids": ids, "query_embeddings": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                "n_results": {"type": ["integer", "null"]}, "where": filter, "where_document": filter, "include": include}},
            "QueryResult": {"type": "object", "properties": {"ids": {"type": "array"}, "embeddings": {}, "documents": {}, "uris": {}, "metadatas": {}, "distances": {}, "include": {}}}
        }}
    })
}

pub(crate) async fn document() -> Response {
    axum::Json(spec()).into_response()
}
