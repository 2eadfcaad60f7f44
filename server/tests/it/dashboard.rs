//! The dashboard's routes and the two guards it relies on: the token gate (the page and its
//! assets are open, every data route is not) and `--read-only` (every route that could
//! change data is refused). Both are checked over every route the OpenAPI document lists, so
//! a route added later is covered without touching these tests. The page itself is driven in
//! a real browser by `tests/test_dashboard.py`.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{T, TestServer, assert_error};

const TOKEN: &str = "s3cret";
/// What the records hold, so a test can look for it in answers that must not carry data.
const SECRET_DOC: &str = "the launch code is 0000";

/// Every (method, route) of the served document, with the route's parameters filled in for
/// the collection `id` named `name`.
fn documented(s: &TestServer, id: &str, name: &str) -> Vec<(Method, String, String)> {
    let (status, doc) = s.get("/openapi.json");
    assert_eq!(status, StatusCode::OK);
    let mut out = Vec::new();
    for (route, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let by_name = route.ends_with("/collections/{collection}")
                && (method == "get" || method == "delete");
            let path = route
                .replace("{tenant}", "default_tenant")
                .replace("{database}", "default_database")
                .replace("{collection}", if by_name { name } else { id })
                .replace("{run_id}", "run-1");
            out.push((method.to_uppercase().parse().unwrap(), route.clone(), path));
        }
    }
    assert!(
        out.len() > 30,
        "the document lists {} operations",
        out.len()
    );
    out
}

/// A collection of 3 records (2-d) through `s`, with `auth` added to each request.
fn seed(
    s: &TestServer,
    auth: impl Fn(reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder,
) -> String {
    let send = |method: Method, path: &str, body: Value| {
        let resp = auth(
            s.http
                .request(method, format!("{}{path}", s.url))
                .json(&body),
        )
        .send()
        .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json::<Value>().unwrap()
    };
    let col = send(
        Method::POST,
        &format!("{T}/collections"),
        json!({"name": "notes"}),
    );
    let id = col["id"].as_str().unwrap().to_owned();
    send(
        Method::POST,
        &format!("{T}/collections/{id}/add"),
        json!({
            "ids": ["a", "b", "c"],
            "embeddings": [[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]],
            "documents": [SECRET_DOC, "second", "third"],
            "metadatas": [{"n": 1}, {"n": 2}, {"n": 3}],
        }),
    );
    id
}

#[test]
fn without_the_token_the_page_loads_and_no_route_gives_data() {
    let s = TestServer::start(|c| c.token = Some(TOKEN.into()));
    let id = seed(&s, |r| r.bearer_auth(TOKEN));
    let open = [
        "/",
        "/dashboard/app.js",
        "/dashboard/app.css",
        "/mnemodb/auth",
        "/openapi.json",
        "/api/v2/openapi.json",
        "/api/v2",
        "/api/v2/heartbeat",
        "/api/v2/healthcheck",
    ];
    let mut gated = 0;
    for (method, route, path) in documented(&s, &id, "notes") {
        let resp = s
            .http
            .request(method.clone(), format!("{}{path}", s.url))
            .json(&json!({}))
            .send()
            .unwrap();
        let status = resp.status();
        let text = resp.text().unwrap();
        assert!(
            !text.contains(SECRET_DOC),
            "{method} {route} gave data: {text}"
        );
        if open.contains(&route.as_str()) {
            assert_eq!(status, StatusCode::OK, "{method} {route}: {text}");
        } else {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_error((status, v), 401, "AuthorizationError", "Unauthorized");
            gated += 1;
        }
    }
    assert!(gated >= 20, "only {gated} routes were gated");
    let (_, auth) = s.get("/mnemodb/auth");
    assert_eq!(auth, json!({"token_required": true}));
    // With the token, the overview lists the collection.
    let overview: Value = s
        .http
        .get(format!("{}/mnemodb/overview", s.url))
        .header("X-Chroma-Token", TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        overview["databases"][0]["collections"][0]["id"],
        id.as_str()
    );
    let open_server = TestServer::start(|_| {});
    assert_eq!(
        open_server.get("/mnemodb/auth").1,
        json!({"token_required": false})
    );
}

#[test]
fn the_page_and_its_assets_are_served_with_their_types_and_a_strict_policy() {
    let s = TestServer::start(|_| {});
    let mut served = 0;
    for (path, kind, fragment) in [
        ("/", "text/html", "/dashboard/app.js"),
        ("/dashboard/app.js", "text/javascript", "/mnemodb/overview"),
        ("/dashboard/app.css", "text/css", ".meter"),
    ] {
        let resp = s.http.get(format!("{}{path}", s.url)).send().unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let headers = resp.headers().clone();
        let content_type = headers["content-type"].to_str().unwrap();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'self'"), "{path}: {csp}");
        let body = resp.text().unwrap();
        assert!(body.contains(fragment), "{path}");
        served += body.len();
    }
    // The figure the docs quote is what the browser downloads.
    assert_eq!(served, mnemodb_server::http::dashboard::ASSET_BYTES);
}

#[test]
fn the_overview_reports_what_the_api_and_the_files_say() {
    let s = TestServer::start(|_| {});
    let id = seed(&s, |r| r);
    let (status, v) = s.get("/mnemodb/overview");
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["read_only"], false);
    assert_eq!(v["embeds_texts"], false);
    let db = &v["databases"][0];
    assert_eq!(
        (db["tenant"].as_str(), db["name"].as_str()),
        (Some("default_tenant"), Some("default_database"))
    );
    assert!(db["sqlite_bytes"].as_u64().unwrap() > 0, "{db}");
    let c = &db["collections"][0];
    assert_eq!(c["id"], id.as_str());
    assert_eq!(c["name"], "notes");
    assert_eq!(c["count"], s.get(&format!("{T}/collections/{id}/count")).1);
    assert_eq!(c["count"], 3);
    assert_eq!(c["dimension"], 2);
    assert_eq!(c["space"], "l2");
    assert_eq!(c["slots"], 3);
    assert_eq!(c["dead_slots"], 0);
    assert_eq!(c["expired"], 0);
    // Three records are searched exactly: nothing to link, the index is complete.
    assert_eq!(
        (c["exact_only"].as_bool(), c["linked_fraction"].as_f64()),
        (Some(true), Some(1.0))
    );
    assert!(c["disk_bytes"].as_u64().unwrap() >= 3 * 2 * 4, "{c}");

    // Two records written already expired: no read sees them, and the overview counts them
    // apart until the sweep removes them.
    let (status, v) = s.post(
        &format!("{T}/collections/{id}/add"),
        json!({"ids": ["x", "y"], "embeddings": [[5.0, 5.0], [6.0, 6.0]], "expires_at": 1.0}),
    );
    assert_eq!(status, StatusCode::CREATED, "{v}"); // as chromadb answers an add
    let (_, v) = s.get("/mnemodb/overview");
    let c = &v["databases"][0]["collections"][0];
    assert_eq!(
        (
            c["count"].as_u64(),
            c["expired"].as_u64(),
            c["slots"].as_u64()
        ),
        (Some(3), Some(2), Some(5)),
        "{c}"
    );
}

#[test]
fn compact_starts_a_job_the_overview_follows_to_its_end() {
    let s = TestServer::start(|_| {});
    let id = seed(&s, |r| r);
    let (status, v) = s.post(
        &format!("{T}/collections/{id}/delete"),
        json!({"ids": ["a", "b"]}),
    );
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, before) = s.get("/mnemodb/overview");
    assert_eq!(before["databases"][0]["collections"][0]["dead_slots"], 2);
    let (status, job) = s.post(
        &format!(
            "/mnemodb/tenants/default_tenant/databases/default_database/collections/{id}/compact"
        ),
        json!(null),
    );
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["kind"], "compaction");
    assert_eq!(job["collection_name"], "notes");
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        let (_, v) = s.get("/mnemodb/overview");
        let listed = v["databases"][0]["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == job["id"])
            .cloned()
            .unwrap_or_else(|| panic!("job {job} is not listed: {v}"));
        if listed["state"] == "done" {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the compaction never ended: {listed}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let c = &finished["databases"][0]["collections"][0];
    assert_eq!(
        (
            c["count"].as_u64(),
            c["slots"].as_u64(),
            c["dead_slots"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
    let (status, v) = s.post(
        "/mnemodb/tenants/default_tenant/databases/default_database/collections/00000000-0000-0000-0000-000000000000/compact",
        json!(null),
    );
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
}

#[test]
fn read_only_refuses_every_write_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let s = TestServer::start_in(dir.path(), |_| {});
        seed(&s, |r| r)
    };
    let s = TestServer::start_in(dir.path(), |c| {
        c.read_only = true;
        c.allow_reset = true;
    });
    let reads = [
        ("/collections/{collection}/get", json!({"ids": ["a"]})),
        (
            "/collections/{collection}/query",
            json!({"query_embeddings": [[1.0, 0.0]], "n_results": 2}),
        ),
    ];
    let mut refused = 0;
    for (method, route, path) in documented(&s, &id, "notes") {
        let read = reads
            .iter()
            .find(|(r, _)| method == Method::POST && route.ends_with(r));
        let body = read.map_or_else(|| json!({"name": "x"}), |(_, b)| b.clone());
        let (status, v) = s.call(method.clone(), &path, Some(body));
        if method == Method::GET || read.is_some() {
            assert_ne!(status, StatusCode::FORBIDDEN, "{method} {route}: {v}");
            if read.is_some() {
                assert_eq!(status, StatusCode::OK, "{method} {route}: {v}");
            }
        } else {
            assert_error((status, v), 403, "AuthorizationError", "read-only");
            refused += 1;
        }
    }
    assert!(refused >= 10, "only {refused} writes were tried");
    let (_, v) = s.get("/mnemodb/overview");
    assert_eq!(v["read_only"], true);
    let c = &v["databases"][0]["collections"][0];
    assert_eq!(
        (c["name"].as_str(), c["count"].as_u64()),
        (Some("notes"), Some(3))
    );
    let (_, got) = s.post(
        &format!("{T}/collections/{id}/get"),
        json!({"include": ["documents"]}),
    );
    assert_eq!(got["documents"], json!([SECRET_DOC, "second", "third"]));
}
