//! LangGraph's tables: checkpoints with their writes and blobs, the maintenance calls, the
//! store's items (prefixes, order, expiry), and writers on separate handles of one directory.

use std::collections::BTreeMap;
use std::time::Duration;

use mnemodb::{
    Clock, Database, Durability, LgBlob, LgCheckpoint, LgItemWrite, LgListQuery, LgWrite, Typed,
};

fn typed(s: &str) -> Typed {
    Typed {
        tag: "msgpack".to_owned(),
        bytes: s.as_bytes().to_vec(),
    }
}

fn checkpoint(
    thread: &str,
    ns: &str,
    id: &str,
    parent: Option<&str>,
    run: Option<&str>,
) -> LgCheckpoint {
    LgCheckpoint {
        thread_id: thread.to_owned(),
        checkpoint_ns: ns.to_owned(),
        checkpoint_id: id.to_owned(),
        parent_id: parent.map(str::to_owned),
        run_id: run.map(str::to_owned),
        checkpoint: typed(&format!("cp-{id}")),
        metadata: typed(&format!("md-{id}")),
        channels: vec![
            ("a".to_owned(), format!("v-{id}")),
            ("b".to_owned(), "v-1".to_owned()),
        ],
    }
}

fn blob(channel: &str, version: &str) -> LgBlob {
    LgBlob {
        channel: channel.to_owned(),
        version: version.to_owned(),
        value: typed(&format!("{channel}@{version}")),
    }
}

fn write(task: &str, idx: i64, value: &str) -> LgWrite {
    LgWrite {
        task_id: task.to_owned(),
        idx,
        task_path: String::new(),
        channel: "ch".to_owned(),
        value: typed(value),
    }
}

/// Three checkpoints in namespace "" of `thread` (ids 1..3, each reading its own `a` and the
/// shared `b@v-1`) and one in namespace "sub", each with a write.
fn history(db: &Database, thread: &str, run: &str) {
    db.lg_put(
        &checkpoint(thread, "", "1", None, Some(run)),
        &[blob("a", "v-1"), blob("b", "v-1")],
        Durability::Synced,
    )
    .unwrap();
    db.lg_put(
        &checkpoint(thread, "", "2", Some("1"), Some("other")),
        &[blob("a", "v-2")],
        Durability::Synced,
    )
    .unwrap();
    db.lg_put(
        &checkpoint(thread, "", "3", Some("2"), Some(run)),
        &[blob("a", "v-3")],
        Durability::Synced,
    )
    .unwrap();
    db.lg_put(
        &checkpoint(thread, "sub", "2", None, Some(run)),
        &[blob("a", "v-2")],
        Durability::Synced,
    )
    .unwrap();
    for (ns, id) in [("", "1"), ("", "2"), ("", "3"), ("sub", "2")] {
        db.lg_put_writes(thread, ns, id, &[write("t", 0, id)], Durability::Synced)
            .unwrap();
    }
}

fn ids(db: &Database, thread: &str, ns: Option<&str>) -> Vec<String> {
    db.lg_list(&LgListQuery {
        thread_id: Some(thread.to_owned()),
        checkpoint_ns: ns.map(str::to_owned),
        ..LgListQuery::default()
    })
    .unwrap()
    .into_iter()
    .map(|t| {
        format!(
            "{}/{}",
            t.checkpoint.checkpoint_ns, t.checkpoint.checkpoint_id
        )
    })
    .collect()
}

#[test]
fn checkpoints_read_back_with_their_writes_and_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    history(&db, "t1", "r1");
    let latest = db.lg_get("t1", "", None).unwrap().unwrap();
    assert_eq!(
        latest.checkpoint,
        checkpoint("t1", "", "3", Some("2"), Some("r1"))
    );
    let blobs: Vec<_> = latest
        .blobs
        .iter()
        .map(|b| (b.channel.as_str(), b.version.as_str()))
        .collect();
    assert_eq!(blobs, [("a", "v-3"), ("b", "v-1")]);
    assert_eq!(latest.writes, [write("t", 0, "3")]);
    // An exact id, never the latest in its place; an unknown one is None.
    assert_eq!(
        db.lg_get("t1", "", Some("1"))
            .unwrap()
            .unwrap()
            .checkpoint
            .checkpoint_id,
        "1"
    );
    assert!(db.lg_get("t1", "", Some("9")).unwrap().is_none());
    assert!(db.lg_get("t1", "nope", None).unwrap().is_none());
    // A write at idx >= 0 keeps the first value; a negative idx replaces.
    db.lg_put_writes(
        "t1",
        "",
        "3",
        &[write("t", 0, "again"), write("t", -1, "e1")],
        Durability::Synced,
    )
    .unwrap();
    db.lg_put_writes("t1", "", "3", &[write("t", -1, "e2")], Durability::Synced)
        .unwrap();
    let writes = db.lg_get("t1", "", Some("3")).unwrap().unwrap().writes;
    assert_eq!(writes, [write("t", -1, "e2"), write("t", 0, "3")]);
    // Listing: newest first, scoped, `before` strict, `limit`.
    assert_eq!(ids(&db, "t1", Some("")), ["/3", "/2", "/1"]);
    assert_eq!(ids(&db, "t1", None), ["/3", "/2", "sub/2", "/1"]);
    let before = db
        .lg_list(&LgListQuery {
            thread_id: Some("t1".to_owned()),
            checkpoint_ns: Some(String::new()),
            before: Some("3".to_owned()),
            limit: Some(1),
            ..LgListQuery::default()
        })
        .unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].checkpoint.checkpoint_id, "2");
    // Everything survives a reopen.
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(ids(&db, "t1", None), ["/3", "/2", "sub/2", "/1"]);
}

#[test]
fn delete_copy_prune_and_runs_span_every_namespace() {
    let db = Database::in_memory().unwrap();
    history(&db, "src", "r1");
    history(&db, "keep", "r2");
    db.lg_copy_thread("src", "dst").unwrap();
    let dump = |thread: &str| {
        db.lg_list(&LgListQuery {
            thread_id: Some(thread.to_owned()),
            ..LgListQuery::default()
        })
        .unwrap()
        .into_iter()
        .map(|mut t| {
            t.checkpoint.thread_id.clear();
            t
        })
        .collect::<Vec<_>>()
    };
    assert_eq!(dump("src"), dump("dst"));
    assert_eq!(dump("src").len(), 4);

    // keep_latest: one checkpoint per namespace, with its writes and the blobs it reads.
    db.lg_prune(&["dst".to_owned()], true).unwrap();
    assert_eq!(ids(&db, "dst", None), ["/3", "sub/2"]);
    let kept = db.lg_get("dst", "", None).unwrap().unwrap();
    assert_eq!(
        kept.blobs.len(),
        2,
        "the blob of an older put is still read"
    );
    assert_eq!(kept.writes, [write("t", 0, "3")]);
    db.lg_prune(&["dst".to_owned()], false).unwrap();
    assert!(ids(&db, "dst", None).is_empty());

    // delete_for_runs: the run's checkpoints in every thread and namespace, nothing else.
    db.lg_delete_for_runs(&["r1".to_owned()]).unwrap();
    assert_eq!(ids(&db, "src", None), ["/2"]);
    let left = db.lg_get("src", "", None).unwrap().unwrap();
    assert_eq!(left.blobs.len(), 2);
    assert_eq!(ids(&db, "keep", None).len(), 4);

    db.lg_delete_thread("src").unwrap();
    db.lg_delete_thread("unknown").unwrap();
    assert!(ids(&db, "src", None).is_empty());
    assert_eq!(ids(&db, "keep", None).len(), 4);
    // Copying an unknown thread leaves the target empty.
    db.lg_copy_thread("unknown", "keep").unwrap();
    assert!(ids(&db, "keep", None).is_empty());
}

fn ns(labels: &[&str]) -> Vec<String> {
    labels.iter().map(|l| (*l).to_owned()).collect()
}

fn put(labels: &[&str], key: &str, value: &str, ttl: Option<Duration>) -> LgItemWrite {
    LgItemWrite {
        namespace: ns(labels),
        key: key.to_owned(),
        value: Some(value.to_owned()),
        ttl,
    }
}

#[test]
fn store_items_prefixes_order_and_expiry() {
    let db = Database::in_memory().unwrap();
    let clock = Clock::manual(1_000_000);
    db.set_clock(clock.clone());
    db.lg_store_write(&[
        put(&["a"], "k1", "{\"n\":1}", None),
        put(&["ab"], "k1", "{\"n\":2}", None),
        put(
            &["a", "b"],
            "k2",
            "{\"n\":3}",
            Some(Duration::from_secs(60)),
        ),
        put(&["a"], "k0", "{\"n\":4}", None),
    ])
    .unwrap();
    let keys = |prefix: &[&str]| {
        db.lg_store_search(&ns(prefix))
            .unwrap()
            .into_iter()
            .map(|i| format!("{}:{}", i.namespace.join("."), i.key))
            .collect::<Vec<_>>()
    };
    // Label-wise prefixes, insertion order; a re-put keeps its place, a delete then put moves.
    assert_eq!(keys(&["a"]), ["a:k1", "a.b:k2", "a:k0"]);
    assert_eq!(keys(&[]), ["a:k1", "ab:k1", "a.b:k2", "a:k0"]);
    clock.advance(Duration::from_secs(1));
    db.lg_store_write(&[put(&["a"], "k1", "{\"n\":5}", None)])
        .unwrap();
    let k1 = db.lg_store_get(&[(ns(&["a"]), "k1".to_owned())]).unwrap()[0]
        .clone()
        .unwrap();
    assert_eq!(
        (k1.value.as_str(), k1.created_at_ms, k1.updated_at_ms),
        ("{\"n\":5}", 1_000_000, 1_001_000)
    );
    db.lg_store_write(&[
        LgItemWrite {
            namespace: ns(&["a"]),
            key: "k1".to_owned(),
            value: None,
            ttl: None,
        },
        put(&["a"], "k1", "{}", None),
    ])
    .unwrap();
    assert_eq!(keys(&["a"]), ["a.b:k2", "a:k0", "a:k1"]);
    assert_eq!(
        db.lg_store_namespaces().unwrap(),
        [ns(&["a"]), ns(&["a", "b"]), ns(&["ab"])]
    );

    // Expiry: refreshed reads push it back; past it the item is gone from every read.
    let k2 = [(ns(&["a", "b"]), "k2".to_owned())];
    clock.advance(Duration::from_secs(50));
    db.lg_store_refresh(&k2).unwrap();
    clock.advance(Duration::from_secs(50));
    assert!(
        db.lg_store_get(&k2).unwrap()[0].is_some(),
        "the refresh moved the expiry"
    );
    clock.advance(Duration::from_secs(11));
    assert!(db.lg_store_get(&k2).unwrap()[0].is_none());
    assert_eq!(keys(&["a"]), ["a:k0", "a:k1"]);
    assert!(!db.lg_store_namespaces().unwrap().contains(&ns(&["a", "b"])));
    db.lg_store_refresh(&k2).unwrap();
    assert!(
        db.lg_store_get(&k2).unwrap()[0].is_none(),
        "an expired item is never revived"
    );
    assert_eq!(db.lg_store_sweep().unwrap(), k2.to_vec());
    assert!(db.lg_store_sweep().unwrap().is_empty());

    // A NUL in a label is refused and changes nothing.
    assert!(
        db.lg_store_write(&[put(&["x\0y"], "k", "{}", None)])
            .is_err()
    );
    assert_eq!(keys(&[]).len(), 3);
}

/// Two handles on one directory (each with its own SQLite connections, as two processes
/// have) writing checkpoints and items at once: every write lands, none is lost.
#[test]
fn writers_on_separate_handles_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let handles: Vec<_> = (0..2)
        .map(|w| {
            let db = Database::open(dir.path()).unwrap();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let thread = format!("w{w}");
                    let id = format!("{i:04}");
                    db.lg_put(
                        &checkpoint(&thread, "", &id, None, None),
                        &[blob("a", &format!("v-{id}"))],
                        Durability::Deferred,
                    )
                    .unwrap();
                    db.lg_store_write(&[put(&["shared"], &format!("{w}-{i}"), "{}", None)])
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    let mut per_thread = BTreeMap::new();
    for t in db.lg_list(&LgListQuery::default()).unwrap() {
        *per_thread.entry(t.checkpoint.thread_id).or_insert(0) += 1;
    }
    assert_eq!(
        per_thread,
        BTreeMap::from([("w0".to_owned(), 50), ("w1".to_owned(), 50)])
    );
    assert_eq!(db.lg_store_search(&ns(&["shared"])).unwrap().len(), 100);
}
