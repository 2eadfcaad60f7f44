//! Hostile request bodies cost memory in proportion to what is kept, not to what is sent:
//! limits are checked while the JSON is read (issue 21). Peak memory is read from /proc.

use serde_json::{Value, json};

use crate::common::{ChildServer, T};

/// Creates collection `c` on `server`, adds one small record, and returns the add route.
fn add_route(server: &ChildServer, http: &reqwest::blocking::Client) -> String {
    let url = format!("http://{}", server.addr);
    let created: Value = http
        .post(format!("{url}{T}/collections"))
        .json(&json!({"name": "coll"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let add = format!(
        "{url}{T}/collections/{}/add",
        created["id"].as_str().unwrap()
    );
    let warm = http
        .post(&add)
        .json(&json!({"ids": ["w"], "embeddings": [[0.5, 0.5]]}))
        .send()
        .unwrap();
    assert_eq!(warm.status().as_u16(), 201);
    add
}

/// Posts `body` and returns (status, message, rise of the server's peak RSS in MiB).
fn post_measured(
    server: &ChildServer,
    http: &reqwest::blocking::Client,
    route: &str,
    body: Vec<u8>,
) -> (u16, String, f64) {
    let before = server.peak_rss_kib().expect("VmHWM (Linux only)");
    let resp = http
        .post(route)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().unwrap_or(Value::Null);
    let after = server.peak_rss_kib().expect("VmHWM");
    let msg = v["message"].as_str().unwrap_or_default().to_owned();
    (status, msg, (after - before) as f64 / 1024.0)
}

#[test]
fn one_huge_embedding_is_refused_before_it_is_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let server = ChildServer::start(dir.path(), &[]);
    let http = reqwest::blocking::Client::new();
    let route = add_route(&server, &http);
    // The issue's body: one embedding of 10 million floats, 38 MiB of JSON.
    let mut body = br#"{"ids":["a"],"embeddings":[["#.to_vec();
    body.extend(vec!["0.5"; 10_000_000].join(",").into_bytes());
    body.extend(b"]]}");
    let size_mib = body.len() as f64 / (1024.0 * 1024.0);
    let (status, msg, rise) = post_measured(&server, &http, &route, body);
    assert_eq!(status, 400, "{msg}");
    assert!(
        msg.contains("embeddings[0]: an embedding has at most 65536 values"),
        "{msg}"
    );
    // The body itself is held once or twice while it is read; parsing it into generic JSON
    // values first (as a serde untagged enum did) cost ten times its size (380 MiB).
    println!("one 10M-float embedding: body {size_mib:.1} MiB, peak RSS +{rise:.1} MiB");
    assert!(
        rise < 4.0 * size_mib,
        "peak RSS rose {rise:.1} MiB for a {size_mib:.1} MiB body"
    );
}

#[test]
fn per_record_lists_past_the_batch_limit_are_counted_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = ChildServer::start(dir.path(), &[]);
    let http = reqwest::blocking::Client::new();
    let route = add_route(&server, &http);
    // 12.5 million empty ids (38 MiB): 24 bytes each as `String`s, 300 MiB, if stored.
    let n = 12_500_000;
    let mut body = br#"{"ids":["#.to_vec();
    body.extend(vec![r#""""#; n].join(",").into_bytes());
    body.extend(br#"],"embeddings":[[0.5]]}"#);
    let size_mib = body.len() as f64 / (1024.0 * 1024.0);
    let (status, msg, rise) = post_measured(&server, &http, &route, body);
    assert_eq!(status, 413, "{msg}");
    assert!(
        msg.contains(&format!(
            "Batch size of {n} is greater than max batch size of 5461"
        )),
        "{msg}"
    );
    println!("{n} empty ids: body {size_mib:.1} MiB, peak RSS +{rise:.1} MiB");
    assert!(
        rise < 4.0 * size_mib,
        "peak RSS rose {rise:.1} MiB for {size_mib:.1} MiB"
    );
    // The same for another list: 7 million `null` metadatas beside one id.
    let m = 7_000_000;
    let mut body = br#"{"ids":["a"],"embeddings":[[0.5]],"metadatas":["#.to_vec();
    body.extend(vec!["null"; m].join(",").into_bytes());
    body.extend(b"]}");
    let size_mib = body.len() as f64 / (1024.0 * 1024.0);
    let (status, msg, rise) = post_measured(&server, &http, &route, body);
    assert_eq!(status, 400, "{msg}");
    assert!(
        msg.contains(&format!(
            "Unequal lengths for fields: ids: 1, metadatas: {m}, embeddings: 1 in add."
        )),
        "{msg}"
    );
    println!("{m} null metadatas: body {size_mib:.1} MiB, peak RSS +{rise:.1} MiB");
    assert!(
        rise < 4.0 * size_mib,
        "peak RSS rose {rise:.1} MiB for {size_mib:.1} MiB"
    );
}
