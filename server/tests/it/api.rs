//! Every route and every error of the HTTP API, in process.

use std::time::Duration;

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{T, TestServer, assert_error};

#[test]
fn system_routes() {
    let s = TestServer::start(|c| c.max_batch_size = 777);
    for path in ["/api/v2", "/api/v2/heartbeat"] {
        let (st, v) = s.get(path);
        assert_eq!(st, StatusCode::OK);
        assert!(v["nanosecond heartbeat"].as_u64().unwrap() > 1_600_000_000_000_000_000);
    }
    assert_eq!(s.get("/api/v2/healthcheck").1["is_executor_ready"], true);
    assert_eq!(s.get("/api/v2/version").1, "1.0.0");
    assert_eq!(
        s.get("/api/v2/pre-flight-checks").1,
        json!({"max_batch_size": 777, "supports_base64_encoding": true})
    );
    assert_eq!(
        s.get("/api/v2/auth/identity").1,
        json!({"user_id": "", "tenant": "default_tenant", "databases": ["default_database"]})
    );
    assert_error(
        s.get("/api/v1/heartbeat"),
        410,
        "Unimplemented",
        "v1 API is deprecated",
    );
    assert_error(
        s.get("/nowhere"),
        404,
        "NotFoundError",
        "no route for GET /nowhere",
    );
    assert_error(
        s.call(Method::DELETE, "/api/v2/heartbeat", None),
        405,
        "InvalidArgumentError",
        "DELETE is not allowed",
    );
    assert_error(
        s.post("/api/v2/reset", json!(null)),
        403,
        "AuthorizationError",
        "Reset is disabled",
    );
    // Every response carries a request id, echoed as chroma-trace-id.
    let r = s
        .http
        .get(format!("{}/api/v2/heartbeat", s.url))
        .send()
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(r.headers()["chroma-trace-id"].to_str().unwrap(), id);
}

#[test]
fn tenants_and_databases() {
    let s = TestServer::start(|_| {});
    assert_eq!(
        s.get("/api/v2/tenants/default_tenant").1["name"],
        "default_tenant"
    );
    assert_error(
        s.get("/api/v2/tenants/acme"),
        404,
        "NotFoundError",
        "Tenant [acme] not found",
    );
    assert_eq!(
        s.post("/api/v2/tenants", json!({"name": "acme"})).0,
        StatusCode::OK
    );
    assert_eq!(
        s.get("/api/v2/tenants/acme").1,
        json!({"name": "acme", "resource_name": null})
    );
    assert_error(
        s.post("/api/v2/tenants", json!({"name": "acme"})),
        409,
        "UniqueConstraintError",
        "already exists",
    );
    assert_error(
        s.post("/api/v2/tenants", json!({"name": "ab"})),
        400,
        "InvalidArgumentError",
        "at least 3",
    );
    assert_error(
        s.post("/api/v2/tenants", json!({"nom": "x"})),
        400,
        "InvalidArgumentError",
        "unknown field",
    );

    let dbs = "/api/v2/tenants/acme/databases";
    assert_eq!(s.get(dbs).1, json!([]));
    assert_eq!(s.post(dbs, json!({"name": "research"})).0, StatusCode::OK);
    assert_eq!(s.post(dbs, json!({"name": "archive"})).0, StatusCode::OK);
    assert_error(
        s.post(dbs, json!({"name": "research"})),
        409,
        "UniqueConstraintError",
        "Database [research] already exists",
    );
    assert_error(
        s.post(dbs, json!({"name": "d1"})),
        400,
        "InvalidArgumentError",
        "Expected a name containing 3-512 characters",
    );
    let list = s.get(dbs).1;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["name"], "research");
    assert_eq!(list[0]["tenant"], "acme");
    assert_eq!(
        s.get(&format!("{dbs}?limit=1&offset=1")).1[0]["name"],
        "archive"
    );
    assert_error(
        s.get(&format!("{dbs}?limit=x")),
        400,
        "InvalidArgumentError",
        "invalid query string",
    );
    let one = s.get(&format!("{dbs}/research")).1;
    assert_eq!(one["name"], "research");
    assert!(one["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
    assert_eq!(
        s.get("/api/v2/tenants/default_tenant/databases/default_database")
            .1["id"],
        "00000000-0000-0000-0000-000000000000"
    );
    assert_error(
        s.get(&format!("{dbs}/nope")),
        404,
        "NotFoundError",
        "Database [nope] not found. Are you sure it exists?",
    );

    // Collections live per database.
    let scoped = "/api/v2/tenants/acme/databases/research/collections";
    assert_eq!(s.post(scoped, json!({"name": "notes"})).0, StatusCode::OK);
    assert_eq!(s.get(&format!("{T}/collections_count")).1, 0);
    assert_eq!(
        s.get("/api/v2/tenants/acme/databases/research/collections_count")
            .1,
        1
    );
    assert_error(
        s.get("/api/v2/tenants/nobody/databases/research/collections"),
        404,
        "NotFoundError",
        "Tenant [nobody] not found",
    );
    assert_error(
        s.call(Method::DELETE, &format!("{dbs}/nope"), None),
        404,
        "NotFoundError",
        "Database [nope]",
    );
    assert_error(
        s.call(
            Method::DELETE,
            "/api/v2/tenants/default_tenant/databases/default_database",
            None,
        ),
        400,
        "InvalidArgumentError",
        "default database cannot be deleted",
    );
    assert_eq!(
        s.call(Method::DELETE, &format!("{dbs}/research"), None).0,
        StatusCode::OK
    );
    assert_error(s.get(scoped), 404, "NotFoundError", "Database [research]");
}

#[test]
fn collections_crud() {
    let s = TestServer::start(|_| {});
    let c = format!("{T}/collections");
    let (st, v) = s.post(
        &c,
        json!({"name": "notes", "metadata": {"hnsw:space": "ip", "topic": "x"},
               "configuration": {"hnsw": {"space": "cosine", "ef_search": 50}, "embedding_function": {"type": "legacy"}},
               "schema": null, "get_or_create": false}),
    );
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "notes");
    assert_eq!(v["configuration_json"]["hnsw"]["space"], "cosine");
    assert_eq!(v["configuration_json"]["hnsw"]["ef_search"], 50);
    assert_eq!(v["metadata"], json!({"hnsw:space": "ip", "topic": "x"}));
    assert_eq!(v["tenant"], "default_tenant");
    assert_eq!(v["database"], "default_database");
    assert_eq!(v["dimension"], Value::Null);
    let id = v["id"].as_str().unwrap().to_owned();

    let legacy = s
        .post(
            &c,
            json!({"name": "legacy", "metadata": {"hnsw:space": "ip"}}),
        )
        .1;
    assert_eq!(legacy["configuration_json"]["hnsw"]["space"], "ip");
    assert_error(
        s.post(&c, json!({"name": "notes"})),
        409,
        "UniqueConstraintError",
        "Collection [notes] already exists",
    );
    let again = s
        .post(
            &c,
            json!({"name": "notes", "metadata": {"other": 1}, "get_or_create": true}),
        )
        .1;
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["metadata"]["topic"], "x");
    assert_error(
        s.post(&c, json!({"name": "a"})),
        400,
        "InvalidArgumentError",
        "Expected a name containing 3-512",
    );
    assert_error(
        s.post(
            &c,
            json!({"name": "bad", "configuration": {"hnsw": {"space": "dot"}}}),
        ),
        400,
        "InvalidArgumentError",
        "unknown variant `dot`",
    );
    assert_error(
        s.post(&c, json!({"name": "bad", "metadata": {"nested": {"a": 1}}})),
        400,
        "InvalidArgumentError",
        "metadata",
    );
    assert_error(
        s.post(&c, json!({"name": 5})),
        400,
        "InvalidArgumentError",
        "invalid type",
    );

    let list = s.get(&c).1;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(
        s.get(&format!("{c}?limit=1")).1.as_array().unwrap().len(),
        1
    );
    assert_eq!(s.get(&format!("{c}?offset=1")).1[0]["name"], "legacy");
    assert_error(
        s.get(&format!("{c}?limit=-1")),
        400,
        "InvalidArgumentError",
        "invalid query string",
    );
    assert_eq!(s.get(&format!("{T}/collections_count")).1, 2);
    assert_eq!(s.get(&format!("{c}/notes")).1["id"], id.as_str());
    assert_eq!(s.get(&format!("{c}/by-id/{id}")).1["name"], "notes");
    assert_error(
        s.get(&format!("{c}/nope")),
        404,
        "NotFoundError",
        "Collection [nope] does not exist",
    );
    assert_error(
        s.get(&format!("{c}/by-id/not-a-uuid")),
        400,
        "InvalidArgumentError",
        "not a valid UUID",
    );
    let ghost = uuid::Uuid::new_v4();
    assert_error(
        s.get(&format!("{c}/by-id/{ghost}")),
        404,
        "NotFoundError",
        &ghost.to_string(),
    );

    // modify: name, metadata (replaced whole), configuration (ef_search only)
    let put = |body: Value| s.call(Method::PUT, &format!("{c}/{id}"), Some(body));
    assert_eq!(
        put(json!({"new_name": "notes2", "new_metadata": {"v": 2}, "new_configuration": null})).0,
        StatusCode::OK
    );
    let v = s.get(&format!("{c}/notes2")).1;
    assert_eq!(v["metadata"], json!({"v": 2}));
    assert_eq!(
        put(json!({"new_configuration": {"hnsw": {"ef_search": 77}, "spann": null}})).0,
        StatusCode::OK
    );
    assert_eq!(
        s.get(&format!("{c}/notes2")).1["configuration_json"]["hnsw"]["ef_search"],
        77
    );
    assert_error(
        put(json!({"new_configuration": {"hnsw": {"space": "l2"}}})),
        400,
        "InvalidArgumentError",
        "cannot be changed",
    );
    assert_error(
        put(json!({"new_name": "legacy"})),
        409,
        "UniqueConstraintError",
        "Collection [legacy] already exists",
    );
    assert_error(
        put(json!({"new_metadata": {"hnsw:space": "l2"}})),
        400,
        "InvalidArgumentError",
        "Changing the distance function",
    );
    assert_error(
        put(json!({"rename": "x"})),
        400,
        "InvalidArgumentError",
        "unknown field `rename`",
    );
    assert_error(
        s.call(
            Method::PUT,
            &format!("{c}/{ghost}"),
            Some(json!({"new_name": "zzz"})),
        ),
        404,
        "NotFoundError",
        "does not exist",
    );

    assert_eq!(
        s.call(Method::DELETE, &format!("{c}/notes2"), None).0,
        StatusCode::OK
    );
    assert_error(
        s.call(Method::DELETE, &format!("{c}/notes2"), None),
        404,
        "NotFoundError",
        "Collection [notes2] does not exist",
    );
    assert_error(
        s.get(&format!("{c}/{id}/count")),
        404,
        "NotFoundError",
        "does not exist",
    );
}

fn b64(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn records_round_trip() {
    let s = TestServer::start(|_| {});
    let id = s.create("recs", json!({}));
    let r = format!("{T}/collections/{id}");
    // Float lists and base64, as the client sends either.
    let (st, v) = s.post(
        &format!("{r}/add"),
        json!({"ids": ["a", "b"], "embeddings": [[1.0, 0.0, 0.0], b64(&[0.0, 1.0, 0.0])],
               "metadatas": [{"k": 1, "tags": ["x", "y"]}, null], "documents": ["hello", "world"], "uris": null}),
    );
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v, json!({}));
    assert_eq!(s.get(&format!("{r}/count")).1, 2);
    assert_eq!(s.get(&format!("{r}/count?read_level=index_and_wal")).1, 2);
    assert_error(
        s.get(&format!("{r}/count?bogus=1")),
        400,
        "InvalidArgumentError",
        "invalid query string",
    );

    let got = s
        .post(
            &format!("{r}/get"),
            json!({"ids": null, "where": null, "limit": null, "offset": null,
        "where_document": null, "include": ["embeddings", "metadatas", "documents"]}),
        )
        .1;
    assert_eq!(
        got,
        json!({"ids": ["a", "b"], "embeddings": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        "documents": ["hello", "world"], "uris": null, "metadatas": [{"k": 1, "tags": ["x", "y"]}, null],
        "include": ["embeddings", "metadatas", "documents"]})
    );
    let default = s.post(&format!("{r}/get"), json!({})).1;
    assert_eq!(default["include"], json!(["metadatas", "documents"]));
    assert_eq!(default["embeddings"], Value::Null);
    assert_eq!(
        s.post(&format!("{r}/get"), json!({"where": {"k": {"$gte": 1}}}))
            .1["ids"],
        json!(["a"])
    );
    assert_eq!(
        s.post(
            &format!("{r}/get"),
            json!({"where_document": {"$contains": "wor"}})
        )
        .1["ids"],
        json!(["b"])
    );
    assert_eq!(
        s.post(&format!("{r}/get"), json!({"limit": 1, "offset": 1}))
            .1["ids"],
        json!(["b"])
    );

    let q = s.post(&format!("{r}/query"), json!({"ids": null, "query_embeddings": [[1.0, 0.0, 0.0], [0.0, 0.9, 0.0]],
        "n_results": 2, "where": null, "where_document": null, "include": ["metadatas", "documents", "distances"]})).1;
    assert_eq!(q["ids"], json!([["a", "b"], ["b", "a"]]));
    assert_eq!(q["distances"][0], json!([0.0, 2.0]));
    assert_eq!(q["documents"][1], json!(["world", "hello"]));
    assert_eq!(q["embeddings"], Value::Null);
    let qe = s
        .post(
            &format!("{r}/query"),
            json!({"query_embeddings": [[1.0, 0.0, 0.0]], "n_results": 1,
        "include": ["embeddings", "uris"]}),
        )
        .1;
    assert_eq!(qe["embeddings"], json!([[[1.0, 0.0, 0.0]]]));
    assert_eq!(qe["uris"], json!([[null]]));
    assert_eq!(qe["distances"], Value::Null);
    let filtered = s
        .post(
            &format!("{r}/query"),
            json!({"query_embeddings": [[0.0, 1.0, 0.0]], "where": {"k": 1}}),
        )
        .1;
    assert_eq!(filtered["ids"], json!([["a"]]));

    // update: metadata merged per key, null removes a key; documents null keeps
    assert_eq!(
        s.post(
            &format!("{r}/update"),
            json!({"ids": ["a"], "embeddings": null,
        "metadatas": [{"k": null, "new": true}], "documents": [null], "uris": ["u://a"]})
        )
        .0,
        StatusCode::OK
    );
    let a = s
        .post(
            &format!("{r}/get"),
            json!({"ids": ["a"], "include": ["metadatas", "documents", "uris"]}),
        )
        .1;
    assert_eq!(a["metadatas"], json!([{"new": true, "tags": ["x", "y"]}]));
    assert_eq!(a["documents"], json!(["hello"]));
    assert_eq!(a["uris"], json!(["u://a"]));
    assert_eq!(
        s.post(
            &format!("{r}/upsert"),
            json!({"ids": ["b", "c"], "embeddings": [[0.0, 0.0, 1.0], b64(&[0.5, 0.5, 0.5])],
        "metadatas": [{"k": 2}, {"k": 3}], "documents": null})
        )
        .0,
        StatusCode::OK
    );
    assert_eq!(s.get(&format!("{r}/count")).1, 3);
    assert_eq!(
        s.post(
            &format!("{r}/get"),
            json!({"ids": ["b"], "include": ["embeddings", "documents"]})
        )
        .1["embeddings"],
        json!([[0.0, 0.0, 1.0]])
    );

    // delete: by ids reports the ids asked for (chromadb's count); by filter, the real count
    assert_eq!(
        s.post(
            &format!("{r}/delete"),
            json!({"ids": ["a", "nope"], "where": null, "where_document": null})
        )
        .1,
        json!({"deleted": 2})
    );
    assert_eq!(
        s.post(
            &format!("{r}/delete"),
            json!({"where": {"k": {"$gte": 0}}, "limit": 1})
        )
        .1,
        json!({"deleted": 1})
    );
    assert_eq!(s.get(&format!("{r}/count")).1, 1);
    // An empty collection answers empty lists, not an error.
    let e = s.create("empty", json!({}));
    let q = s
        .post(
            &format!("{T}/collections/{e}/query"),
            json!({"query_embeddings": [[1.0, 2.0]], "n_results": 3}),
        )
        .1;
    assert_eq!(q["ids"], json!([[]]));
    assert_eq!(q["distances"], json!([[]]));
}

#[test]
fn record_errors() {
    let s = TestServer::start(|c| {
        c.max_batch_size = 10;
        c.max_body_bytes = 4096;
    });
    let id = s.create("errs", json!({}));
    let r = format!("{T}/collections/{id}");
    assert_eq!(
        s.post(
            &format!("{r}/add"),
            json!({"ids": ["a"], "embeddings": [[1.0, 2.0]]})
        )
        .0,
        StatusCode::CREATED
    );
    let add = |b: Value| s.post(&format!("{r}/add"), b);
    assert_error(
        add(json!({"ids": ["b"], "embeddings": [[1.0, 2.0, 3.0]]})),
        400,
        "InvalidArgumentError",
        "Collection expecting embedding with dimension of 2, got 3",
    );
    assert_error(
        add(json!({"ids": ["b", "b"], "embeddings": [[1.0, 2.0], [1.0, 2.0]]})),
        400,
        "DuplicateID",
        "Expected IDs to be unique",
    );
    assert_error(
        add(json!({"ids": ["b", "c"], "embeddings": [[1.0, 2.0]]})),
        400,
        "InvalidArgumentError",
        "Unequal lengths for fields: ids: 2, embeddings: 1",
    );
    assert_error(
        add(json!({"ids": ["b", "c"], "embeddings": [[1.0, 2.0], [1.0]]})),
        400,
        "InvalidArgumentError",
        "Inconsistent dimensions in provided embeddings",
    );
    assert_error(
        add(json!({"ids": ["b"]})),
        400,
        "InvalidArgumentError",
        "add needs embeddings",
    );
    assert_error(
        add(json!({"ids": [""], "embeddings": [[1.0, 2.0]]})),
        400,
        "InvalidArgumentError",
        "Empty ID",
    );
    assert_error(
        add(json!({"ids": ["b"], "embeddings": ["!!!"]})),
        400,
        "InvalidArgumentError",
        "invalid base64",
    );
    assert_error(
        add(json!({"ids": ["b"], "embeddings": ["AAA="]})),
        400,
        "InvalidArgumentError",
        "whole number",
    );
    assert_error(
        add(json!({"ids": ["b"], "embeddings": [[1.0, 2.0]], "metadatas": [{"a": null}]})),
        400,
        "InvalidArgumentError",
        "argument 'metadatas': Cannot convert Python object to MetadataValue",
    );
    assert_error(
        add(json!({"ids": ["b"], "embeddings": [[1.0, "x"]]})),
        400,
        "InvalidArgumentError",
        "Failed to deserialize",
    );
    assert_error(
        add(json!({"ids": "b", "embeddings": [[1.0, 2.0]]})),
        400,
        "InvalidArgumentError",
        "ids",
    );
    assert_error(
        add(json!({"ids": ["b"], "embeddings": [[1.0, 2.0]], "extra": 1})),
        400,
        "InvalidArgumentError",
        "unknown field `extra`",
    );
    assert_error(
        add(json!([1, 2])),
        400,
        "InvalidArgumentError",
        "Failed to deserialize",
    );
    assert_error(
        s.post_raw(&format!("{r}/add"), "{\"ids\": [\"b\""),
        400,
        "InvalidArgumentError",
        "Failed to parse the request body as JSON",
    );
    assert_error(
        s.post_raw(&format!("{r}/add"), ""),
        400,
        "InvalidArgumentError",
        "Failed to parse",
    );
    let ids: Vec<String> = (0..11).map(|i| format!("x{i}")).collect();
    assert_error(
        add(json!({"ids": ids, "embeddings": vec![[0.0, 0.0]; 11]})),
        413,
        "BatchSizeExceededError",
        "Batch size of 11 is greater than max batch size of 10",
    );
    let big = format!("{{\"ids\": [\"{}\"]}}", "x".repeat(5000));
    assert_error(
        s.post_raw(&format!("{r}/add"), big),
        413,
        "InvalidArgumentError",
        "larger than the limit of 4096 bytes",
    );
    assert_error(
        s.post(
            &format!("{r}/upsert"),
            json!({"ids": ["a"], "documents": ["d"]}),
        ),
        400,
        "InvalidArgumentError",
        "upsert needs embeddings",
    );
    assert_error(
        s.post(
            &format!("{r}/update"),
            json!({"ids": ["a"], "embeddings": [[1.0, 2.0, 3.0]]}),
        ),
        400,
        "InvalidArgumentError",
        "dimension",
    );

    let get = |b: Value| s.post(&format!("{r}/get"), b);
    assert_error(
        get(json!({"include": ["distances"]})),
        400,
        "InvalidArgumentError",
        "distances",
    );
    assert_error(
        get(json!({"include": ["bogus"]})),
        400,
        "InvalidArgumentError",
        "Expected include item to be one of documents, embeddings, metadatas, distances, uris, \
         data, got bogus in get.",
    );
    assert_error(
        get(json!({"where": {"a": {"$bogus": 1}}})),
        400,
        "InvalidArgumentError",
        "$bogus",
    );
    assert_error(
        get(json!({"where_document": {"$eq": "x"}})),
        400,
        "InvalidArgumentError",
        "where document",
    );
    assert_error(
        get(json!({"limit": -1})),
        400,
        "InvalidArgumentError",
        "limit",
    );
    let query = |b: Value| s.post(&format!("{r}/query"), b);
    assert_error(
        query(json!({"query_embeddings": [[1.0, 2.0]], "n_results": 0})),
        400,
        "InvalidArgumentError",
        "Number of requested results 0",
    );
    assert_error(
        query(json!({"query_embeddings": [[1.0, 2.0]], "n_results": -2})),
        400,
        "InvalidArgumentError",
        "Number of requested results -2, cannot be negative, or zero. in query.",
    );
    assert_error(
        query(json!({"query_embeddings": [[1.0, 2.0, 3.0]]})),
        400,
        "InvalidArgumentError",
        "dimension of 2, got 3",
    );
    assert_error(
        query(json!({"query_embeddings": []})),
        400,
        "InvalidArgumentError",
        "Expected Embeddings to be non-empty list or numpy array, got [] in query.",
    );
    assert_error(
        query(json!({"n_results": 1})),
        400,
        "InvalidArgumentError",
        "missing field `query_embeddings`",
    );
    assert_error(
        query(json!({"query_embeddings": [[1.0, 2.0]], "ids": ["zz"]})),
        500,
        "InternalError",
        "Error finding id: zz",
    );
    assert_error(
        s.post(&format!("{r}/delete"), json!({})),
        400,
        "InvalidArgumentError",
        "At least one of ids, where, or where_document",
    );
    assert_error(
        s.post(&format!("{r}/delete"), json!({"ids": ["a"], "limit": 1})),
        400,
        "InvalidArgumentError",
        "limit can only be specified",
    );
    assert_error(
        s.post(
            &format!("{r}/delete"),
            json!({"where": {"k": 1}, "limit": -1}),
        ),
        400,
        "InvalidArgumentError",
        "limit must be a non-negative integer in delete.",
    );
}

#[test]
fn reset_when_allowed() {
    let s = TestServer::start(|c| c.allow_reset = true);
    s.create("one", json!({}));
    assert_eq!(
        s.post("/api/v2/tenants", json!({"name": "acme"})).0,
        StatusCode::OK
    );
    let (st, v) = s.post("/api/v2/reset", json!(null));
    assert_eq!((st, v), (StatusCode::OK, json!(true)));
    assert_eq!(s.get(&format!("{T}/collections_count")).1, 0);
    assert_eq!(s.get("/api/v2/tenants/acme").0, StatusCode::NOT_FOUND);
}

#[test]
fn token_auth() {
    let s = TestServer::start(|c| c.token = Some("s3cret".into()));
    let path = format!("{}{T}/collections_count", s.url);
    let status = |req: reqwest::blocking::RequestBuilder| req.send().unwrap().status().as_u16();
    assert_eq!(status(s.http.get(&path)), 401);
    let (st, v) = s.get(&format!("{T}/collections_count"));
    assert_error((st, v), 401, "AuthorizationError", "Unauthorized");
    assert_eq!(status(s.http.get(&path).bearer_auth("s3cret")), 200);
    assert_eq!(
        status(s.http.get(&path).header("X-Chroma-Token", "s3cret")),
        200
    );
    assert_eq!(status(s.http.get(&path).bearer_auth("wrong")), 401);
    assert_eq!(
        status(s.http.get(&path).header("X-Chroma-Token", "s3cre")),
        401
    );
    assert_eq!(
        status(s.http.get(format!("{}/api/v2/heartbeat", s.url))),
        200
    );
    assert_eq!(
        status(s.http.get(format!("{}/api/v2/auth/identity", s.url))),
        401
    );
    assert_eq!(status(s.http.get(format!("{}/metrics", s.url))), 401);
    // Off: no header needed.
    let open = TestServer::start(|_| {});
    assert_eq!(
        open.get(&format!("{T}/collections_count")).0,
        StatusCode::OK
    );
}

#[test]
fn timeout_gives_504_and_heartbeat_still_answers() {
    // The timeout covers reading the body: a client that sends half a body and stalls gets
    // 504 after the timeout, while heartbeats keep answering.
    use std::io::{Read, Write};
    let s = TestServer::start(|c| c.request_timeout = Duration::from_millis(500));
    let id = s.create("slowpoke", json!({}));
    let addr = s.url.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST {T}/collections/{id}/add HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"ids\": "
    )
    .unwrap();
    stream.flush().unwrap();
    let t = std::time::Instant::now();
    assert_eq!(s.get("/api/v2/heartbeat").0, StatusCode::OK);
    assert!(t.elapsed() < Duration::from_millis(400));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    assert!(answer.contains("\"error\":\"InternalError\""), "{answer}");
    assert!(answer.contains("timed out"), "{answer}");
}

#[test]
fn metrics_count_requests_and_collection_sizes() {
    let s = TestServer::start(|_| {});
    let id = s.create("sized", json!({}));
    s.post(
        &format!("{T}/collections/{id}/add"),
        json!({"ids": ["a", "b", "c"], "embeddings": [[1.0], [2.0], [3.0]]}),
    );
    s.get("/nowhere");
    let text = s
        .http
        .get(format!("{}/metrics", s.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(text.contains("mnemodb_collection_records{tenant=\"default_tenant\",database=\"default_database\",collection=\"sized\"} 3"), "{text}");
    assert!(text.contains(&format!("mnemodb_http_requests_total{{method=\"POST\",route=\"{}/collections/{{collection}}/add\",status=\"201\"}} 1",
        "/api/v2/tenants/{tenant}/databases/{database}")), "{text}");
    assert!(
        text.contains("route=\"unmatched\",status=\"404\""),
        "{text}"
    );
    assert!(
        text.contains("mnemodb_http_request_duration_seconds_bucket{method=\"POST\""),
        "{text}"
    );
    assert!(text.contains("# TYPE mnemodb_http_request_duration_seconds histogram"));
    // Three records need no index: searched exactly, the coverage is complete.
    let labels = "tenant=\"default_tenant\",database=\"default_database\",collection=\"sized\"";
    assert!(
        text.contains(&format!("mnemodb_index_linked_slots{{{labels}}} 3")),
        "{text}"
    );
    assert!(
        text.contains(&format!("mnemodb_index_coverage_ratio{{{labels}}} 1")),
        "{text}"
    );
    assert!(
        text.contains("mnemodb_background_jobs{state=\"running\"} "),
        "{text}"
    );
    assert!(
        text.contains("mnemodb_background_jobs{state=\"queued\"} "),
        "{text}"
    );
}

/// mnemodb's `ttl` / `expires_at` write fields reach the engine, which checks them.
#[test]
fn writes_pass_expiry_through() {
    let s = TestServer::start(|_| {});
    let id = s.create("ttl", json!({}));
    let r = format!("{T}/collections/{id}");
    let add = |b: Value| s.post(&format!("{r}/add"), b);
    let (st, v) = add(json!({"ids": ["a", "b"], "embeddings": [[1.0], [2.0]], "ttl": 3600}));
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = add(json!({"ids": ["c"], "embeddings": [[3.0]], "expires_at": 0}));
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(s.get(&format!("{r}/count")).1, 2);
    let upsert = json!({"ids": ["a"], "embeddings": [[1.0]], "expires_at": 1.0});
    assert_eq!(s.post(&format!("{r}/upsert"), upsert).0, StatusCode::OK);
    assert_eq!(s.get(&format!("{r}/count")).1, 1);
    assert_error(
        add(json!({"ids": ["d"], "embeddings": [[4.0]], "ttl": -1})),
        400,
        "InvalidArgumentError",
        "ttl must be",
    );
}

/// `GET .../tool_runs/{run_id}/calls` lists one run's tool calls from the ledger, oldest
/// first, with their status and JSON arguments and results; another run's calls are not in it.
#[test]
fn a_tool_runs_calls_are_listed_over_http() {
    use mnemodb::{CallSpec, ToolPolicy};
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), |_| {});
    let db = mnemodb::Database::open(dir.path()).unwrap();
    let tools = db.tools(ToolPolicy {
        max_repeats: Some(2),
        ..ToolPolicy::default()
    });
    for run in ["run-a", "run-a", "run-a", "run-b"] {
        let args = serde_json::json!({"q": "weather"});
        let spec = CallSpec {
            tool: "search",
            args: &args,
            run_id: run,
            depth: 0,
            parent_id: None,
        };
        let _ = tools.call(&spec, |_| Ok(serde_json::json!({"hits": 3})));
    }
    let (status, body) =
        s.get("/api/v2/tenants/default_tenant/databases/default_database/tool_runs/run-a/calls");
    assert_eq!(status, StatusCode::OK, "{body}");
    let calls = body.as_array().unwrap();
    let statuses: Vec<&str> = calls
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "cache-hit", "refused"]);
    assert_eq!(calls[0]["args"], serde_json::json!({"q": "weather"}));
    assert_eq!(calls[0]["result"], serde_json::json!({"hits": 3}));
    assert!(
        calls[2]["error"]
            .as_str()
            .unwrap()
            .contains("max_repeats=2")
    );
    assert!(calls.iter().all(|c| c["run_id"] == "run-a"));
}
