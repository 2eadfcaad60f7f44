//! Unit tests of the tool executor: the policy's limits, the cache, timeouts, the ledger's
//! queries and its retention.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::{Clock, Database};

fn spec<'a>(tool: &'a str, args: &'a Value, run: &'a str) -> CallSpec<'a> {
    CallSpec {
        tool,
        args,
        run_id: run,
        depth: 0,
        parent_id: None,
    }
}

/// A tool that counts its calls and returns its argument `x` doubled.
fn doubler(
    count: &Arc<AtomicUsize>,
) -> impl FnOnce(Value) -> std::result::Result<Value, String> + Send + 'static {
    let count = Arc::clone(count);
    move |args| {
        count.fetch_add(1, Ordering::SeqCst);
        Ok(json!(args["x"].as_i64().unwrap_or(0) * 2))
    }
}

fn statuses(db: &Database, run: &str) -> Vec<CallStatus> {
    db.tool_calls(&CallFilter {
        run_id: Some(run.to_owned()),
        ..CallFilter::default()
    })
    .unwrap()
    .into_iter()
    .map(|c| c.status)
    .collect()
}

#[test]
fn repeats_past_the_limit_are_refused_with_a_typed_error_and_recorded() {
    let db = Database::in_memory().unwrap();
    let tools = db.tools(ToolPolicy {
        max_repeats: Some(2),
        cache: false,
        ..ToolPolicy::default()
    });
    let count = Arc::new(AtomicUsize::new(0));
    let args = json!({"x": 2});
    for _ in 0..2 {
        assert_eq!(
            tools
                .call(&spec("double", &args, "r1"), doubler(&count))
                .unwrap(),
            json!(4)
        );
    }
    let err = tools
        .call(&spec("double", &args, "r1"), doubler(&count))
        .unwrap_err();
    assert!(
        matches!(&err, Error::ToolRefused { tool, reason: Refusal::Repeated { limit: 2, .. } } if tool == "double"),
        "{err:?}"
    );
    assert!(err.to_string().contains("max_repeats=2"), "{err}");
    assert_eq!(err.kind(), crate::ErrorKind::ToolRefused);
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "the refused call never ran"
    );
    // Other arguments, and the same ones in another run, still go through.
    tools
        .call(&spec("double", &json!({"x": 3}), "r1"), doubler(&count))
        .unwrap();
    tools
        .call(&spec("double", &args, "r2"), doubler(&count))
        .unwrap();
    assert_eq!(
        statuses(&db, "r1"),
        [
            CallStatus::Ok,
            CallStatus::Ok,
            CallStatus::Refused,
            CallStatus::Ok
        ]
    );
}

#[test]
fn calls_per_run_and_depth_are_limited() {
    let db = Database::in_memory().unwrap();
    let tools = db.tools(ToolPolicy {
        max_calls_per_run: Some(3),
        max_depth: 1,
        max_repeats: None,
        cache: false,
        ..ToolPolicy::default()
    });
    let count = Arc::new(AtomicUsize::new(0));
    for x in 0..3 {
        tools
            .call(&spec("double", &json!({"x": x}), "r"), doubler(&count))
            .unwrap();
    }
    let err = tools
        .call(&spec("double", &json!({"x": 9}), "r"), doubler(&count))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ToolRefused {
                reason: Refusal::TooManyCalls { limit: 3, .. },
                ..
            }
        ),
        "{err:?}"
    );
    let args = json!({"x": 1});
    let deep = CallSpec {
        depth: 2,
        ..spec("double", &args, "other")
    };
    let err = tools.call(&deep, doubler(&count)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ToolRefused {
                reason: Refusal::TooDeep { depth: 2, limit: 1 },
                ..
            }
        ),
        "{err:?}"
    );
    let ok = CallSpec { depth: 1, ..deep };
    tools.call(&ok, doubler(&count)).unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 4);
}

#[test]
fn results_are_cached_by_canonical_arguments_and_failures_never_are() {
    let db = Database::in_memory().unwrap();
    let tools = db.tools(ToolPolicy {
        max_repeats: None,
        ..ToolPolicy::default()
    });
    let count = Arc::new(AtomicUsize::new(0));
    let a = json!({"x": 5, "unit": "m"});
    let b: Value = serde_json::from_str(r#"{"unit":"m","x":5.0}"#).unwrap();
    assert_eq!(
        tools
            .call(&spec("double", &a, "r"), doubler(&count))
            .unwrap(),
        json!(10)
    );
    assert_eq!(
        tools
            .call(&spec("double", &b, "r"), doubler(&count))
            .unwrap(),
        json!(10)
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "the second call was answered by the cache"
    );
    assert_eq!(statuses(&db, "r"), [CallStatus::Ok, CallStatus::CacheHit]);

    // A failure is recorded and not cached: the next call runs again.
    let fails = Arc::new(AtomicUsize::new(0));
    for _ in 0..2 {
        let f = Arc::clone(&fails);
        let err = tools
            .call(&spec("flaky", &a, "r"), move |_| {
                f.fetch_add(1, Ordering::SeqCst);
                Err("upstream said no".to_owned())
            })
            .unwrap_err();
        assert!(matches!(&err, Error::ToolFailed { message, .. } if message == "upstream said no"));
    }
    assert_eq!(fails.load(Ordering::SeqCst), 2);
    assert_eq!(tools.cache_get("flaky", &a).unwrap(), None);

    // Invalidation by key, then by tool.
    tools
        .cache_put("double", &json!({"x": 6}), &json!(12), None)
        .unwrap();
    assert_eq!(tools.invalidate("double", Some(&b)).unwrap(), 1);
    assert_eq!(tools.cache_get("double", &a).unwrap(), None);
    assert_eq!(
        tools.cache_get("double", &json!({"x": 6})).unwrap(),
        Some(json!(12))
    );
    assert_eq!(tools.invalidate("double", None).unwrap(), 1);
    assert_eq!(tools.cache_get("double", &json!({"x": 6})).unwrap(), None);
}

#[test]
fn a_cached_result_expires_after_its_tools_ttl() {
    let db = Database::in_memory().unwrap();
    let clock = Clock::manual(1_000_000);
    db.set_clock(clock.clone());
    let tools = db.tools(ToolPolicy {
        max_repeats: None,
        ..ToolPolicy::default()
    });
    tools.set_policy(
        "weather",
        ToolPolicy {
            cache_ttl: Some(Duration::from_secs(60)),
            max_repeats: None,
            ..ToolPolicy::default()
        },
    );
    let count = Arc::new(AtomicUsize::new(0));
    let args = json!({"x": 1});
    tools
        .call(&spec("weather", &args, "r"), doubler(&count))
        .unwrap();
    tools
        .call(&spec("forever", &args, "r"), doubler(&count))
        .unwrap();
    clock.advance(Duration::from_secs(59));
    tools
        .call(&spec("weather", &args, "r"), doubler(&count))
        .unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 2, "fresh for 59 s");
    clock.advance(Duration::from_secs(1));
    tools
        .call(&spec("weather", &args, "r"), doubler(&count))
        .unwrap();
    tools
        .call(&spec("forever", &args, "r"), doubler(&count))
        .unwrap();
    assert_eq!(
        count.load(Ordering::SeqCst),
        3,
        "stale at 60 s; the tool without a ttl still hits"
    );
}

#[test]
fn a_timeout_abandons_the_call_and_records_its_late_result() {
    let db = Database::in_memory().unwrap();
    let tools = db.tools(ToolPolicy {
        timeout: Some(Duration::from_millis(20)),
        ..ToolPolicy::default()
    });
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let args = json!({"q": "slow"});
    let err = tools
        .call(&spec("slow", &args, "r"), move |_| {
            // Returns only once the test lets it, well after the timeout fired.
            let _ = gate.recv();
            Ok(json!("late"))
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::ToolTimeout { tool, after } if tool == "slow" && *after == Duration::from_millis(20)),
        "{err:?}"
    );
    assert_eq!(err.kind(), crate::ErrorKind::ToolTimeout);
    assert_eq!(statuses(&db, "r"), [CallStatus::Timeout]);
    release.send(()).unwrap();
    // The worker records the late result; wait for it (bounded by the loop, not a clock).
    let mut calls = Vec::new();
    for _ in 0..500 {
        calls = db.tool_calls(&CallFilter::default()).unwrap();
        if calls[0].status == CallStatus::Abandoned {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(calls[0].status, CallStatus::Abandoned);
    assert_eq!(calls[0].result.as_deref(), Some("\"late\""));
    assert!(
        calls[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("timed out"))
    );
    assert_eq!(
        tools.cache_get("slow", &args).unwrap(),
        None,
        "a late result is not cached"
    );
}

#[test]
fn the_ledger_is_queried_by_run_tool_and_status_and_summarised() {
    let db = Database::in_memory().unwrap();
    let tools = db.tools(ToolPolicy {
        max_repeats: Some(2),
        ..ToolPolicy::default()
    });
    let count = Arc::new(AtomicUsize::new(0));
    let one = json!({"x": 1});
    for _ in 0..3 {
        let _ = tools.call(&spec("a", &one, "r1"), doubler(&count));
    }
    let _ = tools.call(&spec("b", &one, "r2"), |_| Err("no".to_owned()));
    let by = |run: Option<&str>, tool: Option<&str>, status: Option<CallStatus>| {
        db.tool_calls(&CallFilter {
            run_id: run.map(str::to_owned),
            tool: tool.map(str::to_owned),
            status,
            limit: None,
        })
        .unwrap()
        .len()
    };
    assert_eq!(by(Some("r1"), None, None), 3);
    assert_eq!(by(None, Some("b"), None), 1);
    assert_eq!(by(None, None, Some(CallStatus::CacheHit)), 1);
    assert_eq!(by(None, Some("a"), Some(CallStatus::Refused)), 1);
    assert_eq!(by(Some("r2"), Some("a"), None), 0);
    let calls = db.tool_calls(&CallFilter::default()).unwrap();
    assert_eq!(calls[0].args, r#"{"x":1}"#);
    assert!(calls.iter().all(|c| c.duration_us.is_some()));
    let summary = db.tool_summary().unwrap();
    assert_eq!(summary.len(), 2);
    let a = &summary[0];
    assert_eq!(
        (a.tool.as_str(), a.calls, a.ok, a.cache_hits, a.refused),
        ("a", 3, 1, 1, 1)
    );
    assert!((a.hit_rate() - 0.5).abs() < 1e-9);
    assert_eq!((summary[1].calls, summary[1].errors), (1, 1));
}

#[test]
fn ledger_rows_and_cache_entries_are_swept_after_their_retention() {
    let db = Database::in_memory().unwrap();
    let clock = Clock::manual(5_000_000);
    db.set_clock(clock.clone());
    let tools = db.tools(ToolPolicy {
        cache_ttl: Some(Duration::from_secs(10)),
        ..ToolPolicy::default()
    });
    tools.set_ledger_retention(Some(Duration::from_secs(100)));
    let count = Arc::new(AtomicUsize::new(0));
    tools
        .call(&spec("a", &json!(1), "old"), doubler(&count))
        .unwrap();
    tools.set_ledger_retention(None);
    tools
        .call(&spec("a", &json!(2), "kept"), doubler(&count))
        .unwrap();
    clock.advance(Duration::from_secs(99));
    db.sweep_expired().unwrap();
    assert_eq!(db.tool_calls(&CallFilter::default()).unwrap().len(), 2);
    clock.advance(Duration::from_secs(1));
    db.sweep_expired().unwrap();
    let left = db.tool_calls(&CallFilter::default()).unwrap();
    assert_eq!(
        left.iter().map(|c| c.run_id.as_str()).collect::<Vec<_>>(),
        ["kept"]
    );
    // The expired cache entries went too (their rows, not only their visibility).
    let cached: i64 = db
        .inner()
        .sidecar()
        .read(|tx| Ok(tx.query_row("SELECT COUNT(*) FROM tool_cache", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(cached, 0);
}

#[test]
fn an_outcome_left_in_a_dead_processs_journal_is_applied_by_the_next_reader_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let tools = db.tools(ToolPolicy::default());
    let Begin::Run(a) = tools.begin(&spec("t", &json!({"x": 1}), "r")).unwrap() else {
        panic!("a first call runs");
    };
    let Begin::Run(b) = tools.begin(&spec("t", &json!({"x": 2}), "r")).unwrap() else {
        panic!("a first call runs");
    };
    tools.finish(&b, &Outcome::Ok(json!("b's"))).unwrap();
    tools.flush().unwrap();
    // A journal as a killed process leaves it (nobody holds its lock): `a` finished there,
    // and a stale line for `b`, whose row is `ok` already.
    let line = |id: i64, status: &str, result: Option<&str>, cache: bool| {
        serde_json::to_string(&outbox::Finished {
            id,
            status: status.to_owned(),
            result: result.map(str::to_owned),
            error: None,
            duration_us: 7,
            cache: cache.then(|| ("t".to_owned(), a.args.clone(), 1, None)),
        })
        .unwrap()
    };
    let jdir = dir.path().join(outbox::JOURNAL_DIR);
    std::fs::create_dir_all(&jdir).unwrap();
    let orphan = jdir.join("1-1.jsonl");
    let text = format!(
        "{}\n{}\n{{\"id\": 9",
        line(a.id, "ok", Some("\"a's\""), true),
        line(b.id, "error", None, false)
    );
    std::fs::write(&orphan, text).unwrap();
    let calls = db.tool_calls(&CallFilter::default()).unwrap();
    let got: Vec<_> = calls
        .iter()
        .map(|c| (c.id, c.status, c.result.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (a.id, CallStatus::Ok, Some("\"a's\"".to_owned())),
            (b.id, CallStatus::Ok, Some("\"b's\"".to_owned())),
        ]
    );
    assert!(!orphan.exists(), "an applied journal is deleted");
    assert_eq!(
        tools.cache_get("t", &json!({"x": 1})).unwrap(),
        Some(json!("a's"))
    );
}

#[test]
fn an_outcome_is_in_the_ledger_for_every_reader_of_this_process_once_finish_returns() {
    let db = Database::in_memory().unwrap();
    let tools = db.tools(ToolPolicy::default());
    let Begin::Run(t) = tools.begin(&spec("t", &json!(1), "r")).unwrap() else {
        panic!("a first call runs");
    };
    tools.finish(&t, &Outcome::Ok(json!(2))).unwrap();
    assert_eq!(tools.cache_get("t", &json!(1)).unwrap(), Some(json!(2)));
    assert_eq!(statuses(&db, "r"), [CallStatus::Ok]);
    let Begin::Cached { result, .. } = tools.begin(&spec("t", &json!(1), "r")).unwrap() else {
        panic!("the second call is a hit");
    };
    assert_eq!(result, json!(2));
}

/// A call its process started and never finished (the process died) is recorded as an
/// `error` saying so by whoever takes over the dead process's journal, not left `running`;
/// a call that journal shows finished, or whose row is already final, keeps its outcome.
#[test]
fn a_call_left_running_by_a_dead_process_is_recorded_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let tools = db.tools(ToolPolicy::default());
    let mut begun = Vec::new();
    for x in 0..3 {
        let Begin::Run(t) = tools.begin(&spec("t", &json!({"x": x}), "r")).unwrap() else {
            panic!("a first call runs");
        };
        begun.push(t);
    }
    let [a, b, c] = [&begun[0], &begun[1], &begun[2]];
    // This process journals each call it starts (its journal is locked: it lives).
    let jdir = dir.path().join(outbox::JOURNAL_DIR);
    let own: String = std::fs::read_dir(&jdir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    for t in [a, b, c] {
        assert!(own.contains(&format!("{{\"started\":{}}}", t.id)), "{own}");
    }
    tools.finish(c, &Outcome::Ok(json!("c's"))).unwrap();
    tools.flush().unwrap();
    // A dead process's journal: `a` and `b` and `c` started there, `b` finished there, then
    // it died (a line cut short at the end).
    let finished_b = serde_json::to_string(&outbox::Finished {
        id: b.id,
        status: "ok".to_owned(),
        result: Some("\"b's\"".to_owned()),
        error: None,
        duration_us: 5,
        cache: None,
    })
    .unwrap();
    let orphan = jdir.join("1-1.jsonl");
    let text = format!(
        "{{\"started\":{}}}\n{{\"started\":{}}}\n{{\"started\":{}}}\n{finished_b}\n{{\"star",
        a.id, b.id, c.id
    );
    std::fs::write(&orphan, text).unwrap();
    let calls = db.tool_calls(&CallFilter::default()).unwrap();
    let got: Vec<_> = calls
        .iter()
        .map(|k| (k.id, k.status, k.error.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                a.id,
                CallStatus::Error,
                Some(outbox::INTERRUPTED.to_owned())
            ),
            (b.id, CallStatus::Ok, None),
            (c.id, CallStatus::Ok, None),
        ]
    );
    assert!(!orphan.exists(), "an applied journal is deleted");
}
