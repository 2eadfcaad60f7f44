//! The OpenAPI document held against the server: one real request per documented route, each
//! sent with a body the document's request schema admits and answered with the documented
//! status and a body its response schema admits; unknown fields refused by both alike; and
//! no route added to the router except through the builder that documents it.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::TestServer;

const DB: &str = "/api/v2/tenants/{tenant}/databases/{database}";
const DEFAULT_DB: &str = "/api/v2/tenants/default_tenant/databases/default_database";

/// A request to send: the route as the document names it, the concrete path (`{id}` stands
/// for the id of the collection the calls create) and the JSON body.
struct Call {
    method: &'static str,
    route: String,
    path: String,
    body: Option<Value>,
}

fn call(method: &'static str, route: &str, path: &str, body: Option<Value>) -> Call {
    Call {
        method,
        route: route.to_owned(),
        path: path.to_owned(),
        body,
    }
}

/// One call per documented route, in an order in which each succeeds.
fn calls() -> Vec<Call> {
    let col = format!("{DB}/collections/{{collection}}");
    let probe = format!("{DEFAULT_DB}/collections/{{id}}");
    vec![
        call("get", "/api/v2", "/api/v2", None),
        call("get", "/api/v2/heartbeat", "/api/v2/heartbeat", None),
        call("get", "/api/v2/healthcheck", "/api/v2/healthcheck", None),
        call("get", "/api/v2/version", "/api/v2/version", None),
        call(
            "get",
            "/api/v2/pre-flight-checks",
            "/api/v2/pre-flight-checks",
            None,
        ),
        call(
            "get",
            "/api/v2/auth/identity",
            "/api/v2/auth/identity",
            None,
        ),
        call(
            "post",
            "/api/v2/tenants",
            "/api/v2/tenants",
            Some(json!({"name": "acme"})),
        ),
        call(
            "get",
            "/api/v2/tenants/{tenant}",
            "/api/v2/tenants/acme",
            None,
        ),
        call(
            "post",
            "/api/v2/tenants/{tenant}/databases",
            "/api/v2/tenants/acme/databases",
            Some(json!({"name": "second"})),
        ),
        call(
            "get",
            "/api/v2/tenants/{tenant}/databases",
            "/api/v2/tenants/acme/databases?limit=10&offset=0",
            None,
        ),
        call("get", DB, "/api/v2/tenants/acme/databases/second", None),
        call(
            "get",
            &format!("{DB}/tool_runs/{{run_id}}/calls"),
            &format!("{DEFAULT_DB}/tool_runs/run-1/calls?limit=10&offset=0"),
            None,
        ),
        call(
            "post",
            &format!("{DB}/collections"),
            &format!("{DEFAULT_DB}/collections"),
            Some(json!({
                "name": "probe",
                "metadata": {"topic": "notes", "tags": ["a", "b"]},
                "configuration": {"hnsw": {"space": "cosine"}},
                "get_or_create": false,
            })),
        ),
        call(
            "get",
            &format!("{DB}/collections"),
            &format!("{DEFAULT_DB}/collections?limit=5"),
            None,
        ),
        call(
            "get",
            &format!("{DB}/collections_count"),
            &format!("{DEFAULT_DB}/collections_count"),
            None,
        ),
        call(
            "get",
            &col,
            &format!("{DEFAULT_DB}/collections/probe"),
            None,
        ),
        call(
            "get",
            &format!("{DB}/collections/by-id/{{collection}}"),
            &format!("{DEFAULT_DB}/collections/by-id/{{id}}"),
            None,
        ),
        call(
            "put",
            &col,
            &probe,
            Some(
                json!({"new_metadata": {"topic": "ideas"}, "new_configuration": {"hnsw": {"ef_search": 50}}}),
            ),
        ),
        call(
            "post",
            &format!("{col}/add"),
            &format!("{probe}/add"),
            Some(json!({
                "ids": ["a", "b"],
                // A list of floats and the same form packed in base64 ([0.0, 1.0]).
                "embeddings": [[1.0, 0.0], "AAAAAAAAgD8="],
                "documents": ["first", null],
                "metadatas": [{"n": 1, "ok": true}, null],
                "uris": [null, "file:///b"],
            })),
        ),
        call(
            "post",
            &format!("{col}/upsert"),
            &format!("{probe}/upsert"),
            Some(json!({"ids": ["c"], "embeddings": [[1.0, 1.0]], "metadatas": [{"n": null}]})),
        ),
        call(
            "post",
            &format!("{col}/update"),
            &format!("{probe}/update"),
            Some(json!({"ids": ["a"], "documents": ["changed"]})),
        ),
        call(
            "post",
            &format!("{col}/get"),
            &format!("{probe}/get"),
            Some(json!({
                "ids": ["a", "b"],
                "where": {"n": {"$gte": 0}},
                "limit": 10,
                "offset": 0,
                "include": ["documents", "metadatas", "embeddings", "uris"],
            })),
        ),
        call(
            "post",
            &format!("{col}/query"),
            &format!("{probe}/query"),
            Some(json!({
                "query_embeddings": [[1.0, 0.0], [0.0, 1.0]],
                "n_results": 2,
                "where_document": {"$contains": "first"},
                "include": ["distances", "documents", "metadatas", "embeddings", "uris"],
            })),
        ),
        call(
            "get",
            &format!("{col}/count"),
            &format!("{probe}/count?read_level=index_and_wal"),
            None,
        ),
        call(
            "post",
            &format!("{col}/delete"),
            &format!("{probe}/delete"),
            Some(json!({"ids": ["c"]})),
        ),
        call("get", "/metrics", "/metrics", None),
        call("get", "/", "/", None),
        call("get", "/dashboard/app.js", "/dashboard/app.js", None),
        call("get", "/dashboard/app.css", "/dashboard/app.css", None),
        call("get", "/mnemodb/auth", "/mnemodb/auth", None),
        call("get", "/mnemodb/overview", "/mnemodb/overview", None),
        call(
            "post",
            "/mnemodb/tenants/{tenant}/databases/{database}/collections/{collection}/compact",
            "/mnemodb/tenants/default_tenant/databases/default_database/collections/{id}/compact",
            None,
        ),
        call("get", "/openapi.json", "/openapi.json", None),
        call("get", "/api/v2/openapi.json", "/api/v2/openapi.json", None),
        call(
            "delete",
            &col,
            &format!("{DEFAULT_DB}/collections/probe"),
            None,
        ),
        call("delete", DB, "/api/v2/tenants/acme/databases/second", None),
        call("post", "/api/v2/reset", "/api/v2/reset", None),
    ]
}

/// Every (method, route) of the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (route, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.insert((method.clone(), route.clone()));
        }
    }
    ops
}

/// Whether `instance` fits `schema`, a schema of the document whose `$ref`s point into its
/// components; the reasons when it does not.
fn fits(doc: &Value, schema: &Value, instance: &Value) -> Result<(), Vec<String>> {
    let root = json!({"components": doc["components"], "allOf": [schema]});
    let validator = jsonschema::draft202012::new(&root)
        .unwrap_or_else(|e| panic!("the document holds a bad schema {schema}: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| e.to_string())
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Sends a request; returns the status, the content type and the body text.
fn send(
    s: &TestServer,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, String, String) {
    let method: Method = method.to_uppercase().parse().unwrap();
    let mut req = s.http.request(method, format!("{}{path}", s.url));
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().unwrap();
    let status = resp.status();
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    (status, content_type, resp.text().unwrap())
}

/// The documented parameters of `op` that are `in` this place.
fn parameters<'a>(op: &'a Value, place: &str) -> BTreeSet<&'a str> {
    op["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter(|p| p["in"] == place)
                .filter_map(|p| p["name"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// The path and query parameters `c` uses are the documented ones.
fn check_parameters(op: &Value, c: &Call) {
    let named: BTreeSet<&str> = c
        .route
        .split('/')
        .filter_map(|p| p.strip_prefix('{')?.strip_suffix('}'))
        .collect();
    assert_eq!(parameters(op, "path"), named, "{} {}", c.method, c.route);
    let query = c.path.split_once('?').map_or("", |(_, q)| q);
    let documented = parameters(op, "query");
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let name = pair.split('=').next().unwrap_or_default();
        assert!(
            documented.contains(name),
            "{} {}: query parameter {name} is not documented ({documented:?})",
            c.method,
            c.route
        );
    }
}

/// A body with a field the schema does not name: the schema and the server agree on it.
fn check_unknown_field_refused(s: &TestServer, doc: &Value, schema: &Value, c: &Call, path: &str) {
    let Some(Value::Object(body)) = &c.body else {
        return;
    };
    let mut odd = body.clone();
    odd.insert("no_such_field".into(), json!(1));
    let odd = Value::Object(odd);
    assert!(
        fits(doc, schema, &odd).is_err(),
        "{} {}: the schema admits unknown fields",
        c.method,
        c.route
    );
    let (status, _, text) = send(s, c.method, path, Some(&odd));
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{} {path}: {text}",
        c.method
    );
    let error_schema = &doc["paths"][&c.route][c.method]["responses"]["4XX"]["content"]["application/json"]
        ["schema"];
    let answer: Value = serde_json::from_str(&text).unwrap();
    fits(doc, error_schema, &answer)
        .unwrap_or_else(|e| panic!("{} {path}: error {answer} does not fit: {e:?}", c.method));
}

#[test]
fn every_route_answers_as_its_document_says() {
    let s = TestServer::start(|c| c.allow_reset = true);
    let (status, doc) = s.get("/openapi.json");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let calls = calls();
    let called: BTreeSet<(String, String)> = calls
        .iter()
        .map(|c| (c.method.to_owned(), c.route.clone()))
        .collect();
    assert_eq!(
        called,
        documented(&doc),
        "the calls and the document's routes differ"
    );
    let mut id = String::new();
    for c in &calls {
        let op = &doc["paths"][&c.route][c.method];
        let path = c.path.replace("{id}", &id);
        check_parameters(op, c);
        let request = &op["requestBody"]["content"]["application/json"]["schema"];
        match &c.body {
            Some(body) => {
                fits(&doc, request, body).unwrap_or_else(|e| {
                    panic!(
                        "{} {}: {body} does not fit {request}: {e:?}",
                        c.method, c.route
                    )
                });
                check_unknown_field_refused(&s, &doc, request, c, &path);
            }
            None => assert!(
                request.is_null(),
                "{} {}: a body is documented",
                c.method,
                c.route
            ),
        }
        let (status, content_type, text) = send(&s, c.method, &path, c.body.as_ref());
        assert!(status.is_success(), "{} {path}: {status} {text}", c.method);
        let content = op["responses"][status.as_str()]["content"]
            .as_object()
            .unwrap_or_else(|| {
                panic!(
                    "{} {}: status {status} is not documented",
                    c.method, c.route
                )
            });
        let (media, answer) = content.iter().next().unwrap();
        assert_eq!(&content_type, media, "{} {}", c.method, c.route);
        if media == "application/json" {
            let body: Value = serde_json::from_str(&text).unwrap();
            fits(&doc, &answer["schema"], &body).unwrap_or_else(|e| {
                panic!(
                    "{} {path}: {body} does not fit {}: {e:?}",
                    c.method, answer["schema"]
                )
            });
            if c.method == "post" && c.route == format!("{DB}/collections") {
                id = body["id"].as_str().unwrap().to_owned();
            }
            if c.route.ends_with("/compact") {
                // The compaction runs on: let it end before the calls delete the collection
                // (a collection deleted while it is being compacted can fail with a 500).
                wait_for_job(&s, &body["id"]);
            }
        }
    }
}

/// Waits until the overview lists the job `id` as finished.
fn wait_for_job(s: &TestServer, id: &Value) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, v) = s.get("/mnemodb/overview");
        let finished = v["databases"][0]["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == *id && j["state"] != "running" && j["state"] != "queued");
        if finished {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {id} never ended: {v}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The schemas are strict enough to tell bodies apart: a get answer is no query answer, and a
/// record batch without ids is no batch.
#[test]
fn the_schemas_refuse_the_wrong_shapes() {
    let s = TestServer::start(|_| {});
    let doc = s.get("/openapi.json").1;
    let op = |route: &str, method: &str| doc["paths"][route][method].clone();
    let col = format!("{DB}/collections/{{collection}}");
    let answer = |o: &Value| o["responses"]["200"]["content"]["application/json"]["schema"].clone();
    let request = |o: &Value| o["requestBody"]["content"]["application/json"]["schema"].clone();
    let get_answer = json!({"ids": ["a"], "embeddings": null, "documents": null, "uris": null,
        "metadatas": null, "include": []});
    assert!(
        fits(
            &doc,
            &answer(&op(&format!("{col}/get"), "post")),
            &get_answer
        )
        .is_ok()
    );
    assert!(
        fits(
            &doc,
            &answer(&op(&format!("{col}/query"), "post")),
            &get_answer
        )
        .is_err()
    );
    let add = request(&op(&format!("{col}/add"), "post"));
    assert!(fits(&doc, &add, &json!({"embeddings": [[1.0]]})).is_err());
    assert!(
        fits(
            &doc,
            &add,
            &json!({"ids": ["a"], "metadatas": [{"k": {"nested": 1}}]})
        )
        .is_err()
    );
    // A null metadata value removes a key on update and upsert; add has no such thing.
    let patch = json!({"ids": ["a"], "metadatas": [{"k": null}]});
    assert!(fits(&doc, &add, &patch).is_err());
    assert!(
        fits(
            &doc,
            &request(&op(&format!("{col}/update"), "post")),
            &patch
        )
        .is_ok()
    );
}

/// The router is built only through the builder that documents each route, so no route is
/// served that the document lacks (but the unlisted v1 catch-alls, which it names).
#[test]
fn routes_are_added_only_through_the_documenting_builder() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let builder = src.join("http").join("openapi.rs");
    assert!(files.contains(&builder), "no {}", builder.display());
    let routing = [
        "Router::new(",
        ".route(",
        ".nest(",
        ".merge(",
        ".route_service(",
    ];
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| **f != builder)
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let found: Vec<&str> = routing
                .iter()
                .copied()
                .filter(|r| text.contains(r))
                .collect();
            (!found.is_empty()).then(|| format!("{}: {found:?}", f.display()))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "add routes with `Api::get/post/put/delete` (documented) or `Api::unlisted`: {offenders:?}"
    );
}
