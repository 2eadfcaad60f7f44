//! The OpenAPI 3.1 document of the routes served, at `/openapi.json` (where chroma serves its
//! own) and `/api/v2/openapi.json`. The router is built through [`Api`], which records each
//! route's method, path, summary and body types as it routes it, so the document lists exactly
//! the routes served; every schema in it is generated from the Rust types the handlers read
//! and write (`schemars`). Only the summaries and the path parameters' descriptions are prose.

use axum::Router;
use axum::body::Bytes;
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::{MethodRouter, delete, get, post, put};
use schemars::generate::{Contract, SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use super::{AppState, ErrorBody};

/// Where the document is served.
const DOCUMENT_PATHS: [&str; 2] = ["/openapi.json", "/api/v2/openapi.json"];

/// A schema for a type, added to a generator's components.
type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// What one route takes and answers, for the document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Doc {
    summary: &'static str,
    /// The query parameters, as the fields of one type.
    query: Option<SchemaFn>,
    /// The JSON request body.
    request: Option<SchemaFn>,
    status: StatusCode,
    answer: Answer,
}

#[derive(Debug, Clone, Copy)]
enum Answer {
    Json(SchemaFn),
    /// Text of this content type.
    Text(&'static str),
}

impl Doc {
    /// A route answering `200` with a `T` as JSON.
    pub(crate) fn json<T: JsonSchema>(summary: &'static str) -> Doc {
        Doc {
            summary,
            query: None,
            request: None,
            status: StatusCode::OK,
            answer: Answer::Json(SchemaGenerator::subschema_for::<T>),
        }
    }

    /// A route answering `200` with text of `content_type`.
    pub(crate) fn text(summary: &'static str, content_type: &'static str) -> Doc {
        Doc {
            summary,
            query: None,
            request: None,
            status: StatusCode::OK,
            answer: Answer::Text(content_type),
        }
    }

    /// The route reads a `T` from the JSON body.
    pub(crate) fn takes<T: JsonSchema>(self) -> Doc {
        Doc {
            request: Some(SchemaGenerator::subschema_for::<T>),
            ..self
        }
    }

    /// The route reads the fields of a `T` from the query string.
    pub(crate) fn query<T: JsonSchema>(self) -> Doc {
        Doc {
            query: Some(SchemaGenerator::root_schema_for::<T>),
            ..self
        }
    }

    /// The route answers this status on success (`200` unless said).
    pub(crate) fn status(self, status: StatusCode) -> Doc {
        Doc { status, ..self }
    }
}

/// One documented route: an HTTP method on a path.
#[derive(Debug)]
struct Operation {
    /// Lower case, as OpenAPI keys them.
    method: &'static str,
    path: String,
    doc: Doc,
}

/// The router and its document, built together: a route is added with its [`Doc`], so the
/// document cannot miss a route or name one that is not served.
#[derive(Debug)]
pub(crate) struct Api {
    router: Router<AppState>,
    operations: Vec<Operation>,
}

impl Api {
    pub(crate) fn new() -> Api {
        Api {
            router: Router::new(),
            operations: Vec::new(),
        }
    }

    pub(crate) fn get<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        h: H,
        doc: Doc,
    ) -> Api {
        self.add("get", path, get(h), doc)
    }

    pub(crate) fn post<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        h: H,
        doc: Doc,
    ) -> Api {
        self.add("post", path, post(h), doc)
    }

    pub(crate) fn put<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        h: H,
        doc: Doc,
    ) -> Api {
        self.add("put", path, put(h), doc)
    }

    pub(crate) fn delete<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        h: H,
        doc: Doc,
    ) -> Api {
        self.add("delete", path, delete(h), doc)
    }

    fn add(
        mut self,
        method: &'static str,
        path: &str,
        route: MethodRouter<AppState>,
        doc: Doc,
    ) -> Api {
        self.router = self.router.route(path, route);
        self.operations.push(Operation {
            method,
            path: path.to_owned(),
            doc,
        });
        self
    }

    /// A route the document leaves out, because OpenAPI cannot state it (a catch-all that
    /// answers every method alike).
    pub(crate) fn unlisted(mut self, path: &str, route: MethodRouter<AppState>) -> Api {
        self.router = self.router.route(path, route);
        self
    }

    /// The router, with the document served at [`DOCUMENT_PATHS`]. The document is made and
    /// serialized here, once.
    pub(crate) fn into_router(mut self) -> Router<AppState> {
        for path in DOCUMENT_PATHS {
            self.operations.push(Operation {
                method: "get",
                path: path.to_owned(),
                doc: Doc::json::<Value>("This document: the routes served and their bodies"),
            });
        }
        let body = Bytes::from(document(&self.operations).to_string());
        let mut router = self.router;
        for path in DOCUMENT_PATHS {
            let body = body.clone();
            let json = HeaderValue::from_static("application/json");
            router = router.route(
                path,
                get(move || async move { ([(header::CONTENT_TYPE, json)], body) }),
            );
        }
        router
    }
}

/// The document of these operations.
fn document(operations: &[Operation]) -> Value {
    let mut schemas = Schemas::new();
    let paths = paths(operations, &mut schemas);
    json!({
        "openapi": "3.1.0",
        "info": info(),
        "paths": paths,
        "components": {"schemas": schemas.components()},
    })
}

/// The `paths` object: one item per path, one operation per method.
fn paths(operations: &[Operation], schemas: &mut Schemas) -> Map<String, Value> {
    let mut paths = Map::new();
    for op in operations {
        let item = paths.entry(op.path.clone()).or_insert_with(|| json!({}));
        item[op.method] = operation(op, schemas);
    }
    paths
}

/// The schemas of the bodies the server reads and of those it writes, as components.
struct Schemas {
    requests: SchemaGenerator,
    answers: SchemaGenerator,
}

impl Schemas {
    fn new() -> Schemas {
        Schemas {
            requests: generator(Contract::Deserialize),
            answers: generator(Contract::Serialize),
        }
    }

    /// Every schema made, by name. A type both read and written (an `include` item, a
    /// metadata value) has the same schema under both contracts: a test checks that.
    fn components(mut self) -> Map<String, Value> {
        let mut schemas = self.requests.take_definitions(true);
        for (name, schema) in self.answers.take_definitions(true) {
            schemas.entry(name).or_insert(schema);
        }
        schemas
    }
}

/// Schemas of the bodies the server reads (`Deserialize`: fields with a default are optional)
/// or writes (`Serialize`: every field is sent), as components of this document.
fn generator(contract: Contract) -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
            s.contract = contract;
        })
        .into_generator()
}

fn info() -> Value {
    json!({
        "title": "mnemodb: the Chroma HTTP API v2",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "The routes of chroma's HTTP API v2 that chromadb's HttpClient calls. \
            Errors are {\"error\": <chromadb.errors class name>, \"message\": ...}. With \
            --token, every route but heartbeat, healthcheck, this document, the dashboard's \
            page and assets and /mnemodb/auth needs \
            `Authorization: Bearer <token>` or `X-Chroma-Token: <token>`.",
    })
}

fn operation(op: &Operation, schemas: &mut Schemas) -> Value {
    let mut out = json!({
        "summary": op.doc.summary,
        "responses": responses(&op.doc, &mut schemas.answers),
    });
    let mut parameters = path_parameters(&op.path);
    if let Some(query) = op.doc.query {
        parameters.extend(query_parameters(query(&mut generator(
            Contract::Deserialize,
        ))));
    }
    if !parameters.is_empty() {
        out["parameters"] = Value::Array(parameters);
    }
    if let Some(request) = op.doc.request {
        out["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": request(&mut schemas.requests)}},
        });
    }
    out
}

fn responses(doc: &Doc, answers: &mut SchemaGenerator) -> Value {
    let (content_type, schema) = match doc.answer {
        Answer::Json(schema) => ("application/json", schema(answers).to_value()),
        Answer::Text(content_type) => (content_type, json!({"type": "string"})),
    };
    let error = json!({"application/json": {"schema": answers.subschema_for::<ErrorBody<'_>>()}});
    let mut out = Map::new();
    out.insert(
        doc.status.as_str().to_owned(),
        json!({
            "description": doc.status.canonical_reason().unwrap_or("Success"),
            "content": {content_type: {"schema": schema}},
        }),
    );
    out.insert(
        "4XX".to_owned(),
        json!({"description": "The caller's error", "content": error}),
    );
    out.insert(
        "5XX".to_owned(),
        json!({"description": "The server's error", "content": error}),
    );
    Value::Object(out)
}

/// The parameters named in `{braces}` in `path`.
fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            json!({
                "name": name,
                "in": "path",
                "required": true,
                "schema": {"type": "string"},
                "description": path_parameter(name),
            })
        })
        .collect()
}

fn path_parameter(name: &str) -> &'static str {
    match name {
        "tenant" => "A tenant's name (`default_tenant` unless more were made)",
        "database" => "A database's name within the tenant (`default_database`, ...)",
        "collection" => {
            "The collection's id (a UUID); its name for GET and DELETE on \
             `.../collections/{collection}`, as in chroma"
        }
        _ => "",
    }
}

/// One query parameter per property of `schema` (a type's root schema).
fn query_parameters(schema: Schema) -> Vec<Value> {
    let schema = schema.to_value();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": property,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Schemas, paths};

    /// A type both read and written gets one component, which must describe both directions.
    #[test]
    fn shared_components_agree_between_requests_and_answers() {
        let api = super::super::routes::api();
        let mut schemas = Schemas::new();
        paths(&api.operations, &mut schemas);
        let requests = schemas.requests.take_definitions(true);
        let answers = schemas.answers.take_definitions(true);
        let shared: Vec<&String> = requests
            .keys()
            .filter(|k| answers.contains_key(*k))
            .collect();
        assert!(
            shared.iter().any(|k| *k == "IncludeItem"),
            "no type is both read and written, so this checks nothing: {shared:?}"
        );
        for name in shared {
            assert_eq!(requests[name], answers[name], "{name}");
        }
    }
}
