//! The tool executor across processes: a process killed in the middle of tool calls loses no
//! call it recorded, and the result cache is shared by every process on the directory.
//!
//! Children are this test binary re-run (`tools::child`, a no-op unless `MNEMODB_TOOLS_CHILD`
//! names a role); they report through stdout and take orders on stdin.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use mnemodb::{Begin, CallFilter, CallSpec, CallStatus, Database, Outcome, ToolPolicy};
use serde_json::json;

use crate::support::{ChildEvent, ChildProcess, Rng, emit, forward_lines, seed_from_env};

const ROLE_ENV: &str = "MNEMODB_TOOLS_CHILD";
const DIR_ENV: &str = "MNEMODB_TOOLS_DIR";
const TAG_ENV: &str = "MNEMODB_TOOLS_TAG";
/// A child that says nothing for this long is stuck.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
#[ignore = "child process of the tools tests; a no-op unless MNEMODB_TOOLS_CHILD is set"]
fn child() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let dir = std::env::var(DIR_ENV).unwrap();
    match role.as_str() {
        "caller" => caller(Path::new(&dir), &std::env::var(TAG_ENV).unwrap()),
        "cache" => cache_user(Path::new(&dir)),
        other => panic!("unknown child role {other:?}"),
    }
}

/// Calls tools forever: `@begin <n> <id>` once a call is recorded as running, `@done <n>
/// <status>` once its outcome is recorded (each call's work takes a millisecond). Every third call fails, every fifth repeats an
/// earlier call (so the cache answers it).
fn caller(dir: &Path, tag: &str) {
    crate::support::exit_when_stdin_closes();
    let db = Database::open(dir).unwrap();
    let tools = db.tools(ToolPolicy {
        max_repeats: None,
        ..ToolPolicy::default()
    });
    emit("@ready");
    for n in 0u64.. {
        let x = if n % 5 == 4 { n - 1 } else { n };
        let args = json!({"x": x, "tag": tag});
        let spec = CallSpec {
            tool: "work",
            args: &args,
            run_id: tag,
            depth: 0,
            parent_id: None,
        };
        match tools.begin(&spec).unwrap() {
            Begin::Cached { id, .. } => emit(&format!("@done {n} {id} cache-hit")),
            Begin::Run(ticket) => {
                emit(&format!("@begin {n} {}", ticket.id));
                // The tool's work takes a moment, so a kill usually lands while a call runs.
                std::thread::sleep(Duration::from_millis(1));
                let (outcome, status) = if n % 3 == 2 {
                    (Outcome::Error(format!("failure {n}")), "error")
                } else {
                    (Outcome::Ok(json!(x * 2)), "ok")
                };
                tools.finish(&ticket, &outcome).unwrap();
                emit(&format!("@done {n} {} {status}", ticket.id));
            }
        }
    }
}

/// Kills a process making tool calls at random moments, again and again on one directory:
/// every call it reported as begun is in the ledger, every call it reported as done has the
/// status it reported, and nothing else is there. A call is reported done once `finish`
/// returns, when its outcome is in the process's journal and not yet in the ledger, so this
/// also checks that the next process applies a dead one's journal.
#[test]
fn a_killed_process_loses_no_recorded_tool_call() {
    let seed = seed_from_env("MNEMODB_TOOLS_SEED");
    eprintln!("MNEMODB_TOOLS_SEED={seed}");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    // id -> the status the child reported ("running" for begun only).
    let mut expected: HashMap<i64, (String, String)> = HashMap::new();
    for round in 0..4 {
        let tag = format!("run{round}");
        let mut child = ChildProcess::spawn(
            "tools::child",
            &[
                (ROLE_ENV, "caller".to_owned()),
                (DIR_ENV, dir.path().display().to_string()),
                (TAG_ENV, tag.clone()),
            ],
            &dir.path().join(format!("child{round}.stderr")),
        );
        let (tx, rx) = mpsc::channel();
        forward_lines(0, child.take_stdout(), tx);
        let kill_after = rng.range(1, 60);
        let mut dones = 0;
        while dones < kill_after {
            let Some(line) = next_line(&rx, &child) else {
                break;
            };
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["@ready"] => {}
                ["@begin", _, id] => {
                    expected.insert(id.parse().unwrap(), (tag.clone(), "running".to_owned()));
                }
                ["@done", _, id, status] => {
                    expected.insert(id.parse().unwrap(), (tag.clone(), (*status).to_owned()));
                    dones += 1;
                }
                _ => panic!("unexpected line {line:?}"),
            }
        }
        child.kill();
        // Lines already in the pipe when it died are acknowledgements too. They are read up
        // to the pipe's end: the thread forwarding them may still be at it when the kill
        // returns (stopping at the first empty moment of the channel missed some on a loaded
        // machine, and the count below then failed).
        loop {
            let text = match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(ChildEvent::Line {
                    text,
                    complete: true,
                    ..
                }) => text,
                // The last line, cut short by the kill: not an acknowledgement.
                Ok(ChildEvent::Line { .. }) => continue,
                Ok(ChildEvent::Eof { .. }) => break,
                Err(e) => panic!("seed {seed}: the killed child's output never ended: {e}"),
            };
            let parts: Vec<&str> = text.split(' ').collect();
            match parts.as_slice() {
                ["@begin", _, id] => {
                    expected.insert(id.parse().unwrap(), (tag.clone(), "running".to_owned()));
                }
                ["@done", _, id, status] => {
                    expected.insert(id.parse().unwrap(), (tag.clone(), (*status).to_owned()));
                }
                _ => {}
            }
        }
        let db = Database::open(dir.path()).unwrap();
        let calls = db.tool_calls(&CallFilter::default()).unwrap();
        let found: HashMap<i64, _> = calls.iter().map(|c| (c.id, c)).collect();
        for (id, (run, status)) in &expected {
            let Some(c) = found.get(id) else {
                panic!("seed {seed}: call {id} of {run} ({status}) is missing");
            };
            assert_eq!(&c.run_id, run, "seed {seed}: call {id}");
            if status == "running" {
                // Begun (so journalled as started: `begin` returned), then killed before or
                // while its outcome was recorded: its outcome, or an error saying the process
                // died, never `running` once the dead process's journal is taken over.
                assert!(
                    matches!(c.status, CallStatus::Ok | CallStatus::Error),
                    "seed {seed}: call {id} is {:?} ({:?})",
                    c.status,
                    c.error
                );
            } else {
                assert_eq!(c.status.as_str(), status, "seed {seed}: call {id}");
            }
        }
        // At most one call per child was recorded and not reported (killed between the
        // commit and the line).
        assert!(
            calls.len() <= expected.len() + round + 1,
            "seed {seed}: {} calls recorded, {} reported",
            calls.len(),
            expected.len()
        );
    }
}

/// Caches through its own handle on orders from stdin: `call <x>` runs tool `square` through
/// the executor and answers `ran <x>` or `hit <x>`; `get <x>` answers `cached <x> <value>` or
/// `missing <x>`.
fn cache_user(dir: &Path) {
    let db = Database::open(dir).unwrap();
    let tools = db.tools(ToolPolicy {
        max_repeats: None,
        ..ToolPolicy::default()
    });
    emit("@ready");
    let mut line = String::new();
    while {
        line.clear();
        std::io::stdin().read_line(&mut line).unwrap() > 0
    } {
        let (verb, x) = line.trim().split_once(' ').unwrap();
        let x: i64 = x.parse().unwrap();
        let args = json!({"x": x});
        match verb {
            "call" => {
                let spec = CallSpec {
                    tool: "square",
                    args: &args,
                    run_id: "child",
                    depth: 0,
                    parent_id: None,
                };
                let answer = match tools.begin(&spec).unwrap() {
                    Begin::Cached { result, .. } => {
                        assert_eq!(result, json!(x * x));
                        "hit"
                    }
                    Begin::Run(t) => {
                        tools.finish(&t, &Outcome::Ok(json!(x * x))).unwrap();
                        // Into the ledger and the cache now, not within milliseconds.
                        tools.flush().unwrap();
                        "ran"
                    }
                };
                emit(&format!("{answer} {x}"));
            }
            "get" => match tools.cache_get("square", &args).unwrap() {
                Some(v) => emit(&format!("cached {x} {v}")),
                None => emit(&format!("missing {x}")),
            },
            other => panic!("unknown order {other:?}"),
        }
    }
}

/// Two processes share the cache: what one caches the other hits, what one invalidates the
/// other recomputes, and a failure in one is not cached for the other.
#[test]
fn the_result_cache_is_shared_between_processes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let tools = db.tools(ToolPolicy {
        max_repeats: None,
        ..ToolPolicy::default()
    });
    let mut child = ChildProcess::spawn(
        "tools::child",
        &[
            (ROLE_ENV, "cache".to_owned()),
            (DIR_ENV, dir.path().display().to_string()),
        ],
        &dir.path().join("cache.stderr"),
    );
    let (tx, rx) = mpsc::channel();
    forward_lines(0, child.take_stdout(), tx);
    let ask = |child: &mut ChildProcess, order: &str| -> String {
        child.send(order);
        loop {
            let line = next_line(&rx, child).expect("the child answers");
            if line != "@ready" {
                return line;
            }
        }
    };
    // The child computes 0..10; this process then hits every one without running the tool.
    for x in 0..10 {
        assert_eq!(ask(&mut child, &format!("call {x}")), format!("ran {x}"));
    }
    for x in 0..10i64 {
        let args = json!({"x": x});
        let got = tools
            .call(
                &CallSpec {
                    tool: "square",
                    args: &args,
                    run_id: "parent",
                    depth: 0,
                    parent_id: None,
                },
                |_| Err("the tool ran although the other process cached its result".to_owned()),
            )
            .unwrap();
        assert_eq!(got, json!(x * x));
    }
    // This process caches 10..12 (12 fails); the child hits 10 and 11 and runs 12.
    for x in 10..13i64 {
        let args = json!({"x": x});
        let spec = CallSpec {
            tool: "square",
            args: &args,
            run_id: "parent",
            depth: 0,
            parent_id: None,
        };
        let _ = tools.call(&spec, move |_| {
            if x == 12 {
                Err("flaky".to_owned())
            } else {
                Ok(json!(x * x))
            }
        });
    }
    tools.flush().unwrap();
    assert_eq!(ask(&mut child, "call 10"), "hit 10");
    assert_eq!(ask(&mut child, "call 11"), "hit 11");
    assert_eq!(ask(&mut child, "call 12"), "ran 12");
    // Invalidation here is seen there, by key and by tool.
    assert_eq!(
        tools.invalidate("square", Some(&json!({"x": 3}))).unwrap(),
        1
    );
    assert_eq!(ask(&mut child, "get 3"), "missing 3");
    assert_eq!(ask(&mut child, "get 4"), "cached 4 16");
    assert_eq!(ask(&mut child, "call 3"), "ran 3");
    assert!(tools.invalidate("square", None).unwrap() >= 12);
    assert_eq!(ask(&mut child, "get 4"), "missing 4");
    child.close_stdin();
    assert!(child.wait().success(), "{}", child.stderr_text());
    // Both processes' calls are in the one ledger.
    let runs: Vec<String> = db
        .tool_calls(&CallFilter::default())
        .unwrap()
        .into_iter()
        .map(|c| c.run_id)
        .collect();
    assert!(runs.iter().any(|r| r == "child") && runs.iter().any(|r| r == "parent"));
}

/// Tool writes keep the sidecar's log bounded as record writes do, while readers of another
/// handle keep the log in use (without the checkpoint after each ledger write it grows with
/// every call).
#[test]
fn tool_calls_keep_the_log_bounded_while_another_handle_reads() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    const BOUND: u64 = 256 << 10;
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    mnemodb::testing::set_wal_bound(&db, BOUND);
    let tools = db.tools(ToolPolicy {
        max_repeats: None,
        ..ToolPolicy::default()
    });
    let reader = Database::open(dir.path()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_r = Arc::clone(&stop);
    let reading = std::thread::spawn(move || {
        let mut reads = 0u64;
        while !stop_r.load(Ordering::Relaxed) {
            reader
                .tool_calls(&CallFilter {
                    limit: Some(5),
                    ..CallFilter::default()
                })
                .unwrap();
            reads += 1;
        }
        reads
    });
    let payload = "x".repeat(2000);
    let mut largest = 0;
    for i in 0..3000u64 {
        let args = json!({"i": i});
        let spec = CallSpec {
            tool: "big",
            args: &args,
            run_id: "r",
            depth: 0,
            parent_id: None,
        };
        let p = payload.clone();
        tools.call(&spec, move |_| Ok(json!(p))).unwrap();
        largest = largest.max(mnemodb::testing::wal_bytes(&db));
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reading.join().unwrap() > 0, "the reader ran");
    assert!(
        largest < 6 * BOUND,
        "the log reached {largest} bytes with a bound of {BOUND}"
    );
}

/// The child's next protocol line (libtest's own lines skipped); `None` once it is gone.
fn next_line(rx: &Receiver<ChildEvent>, child: &ChildProcess) -> Option<String> {
    loop {
        match rx.recv_timeout(PROGRESS_TIMEOUT) {
            Ok(ChildEvent::Line {
                text,
                complete: true,
                ..
            }) if !text.trim().is_empty() && !text.starts_with("running ") => return Some(text),
            Ok(ChildEvent::Line { complete: true, .. }) => {}
            Ok(ChildEvent::Line { .. } | ChildEvent::Eof { .. }) => return None,
            Err(_) => panic!("the child is stuck; its stderr:\n{}", child.stderr_text()),
        }
    }
}
