//! The lifecycle state machine, driven over sockets against the probe example.

use std::thread;
use std::time::{Duration, Instant};

use tinyfc_harness::*;

#[test]
fn platform_initialize_runs_the_initializer_before_the_first_invocation() {
    let f = Function::start("probe", &[]);
    let r = f.initialize("init-1");
    assert_eq!((r.status, r.header("x-fc-status")), (200, Some("200")));
    assert!(f.wait_stdout("FC Initialize Start RequestId: init-1"));
    assert!(f.wait_stdout("FC Initialize End RequestId: init-1"));
    assert_eq!(f.invoke("inv-1", b"{}").status, 200);
    assert_eq!(f.state(), (1, 1, 0));
}

#[test]
fn first_invocation_runs_the_initializer_when_the_platform_never_calls_initialize() {
    let f = Function::start("probe", &[("PROBE_INIT_MS", "100")]);
    let r = f.invoke("lazy-1", b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello");
    assert!(f.wait_stdout("FC Invoke End RequestId: lazy-1"));
    let out = f.stdout();
    let invoke_start = out.find("FC Invoke Start RequestId: lazy-1").unwrap();
    let init_start = out.find("FC Initialize Start RequestId: lazy-1").unwrap();
    let init_end = out.find("FC Initialize End RequestId: lazy-1").unwrap();
    let invoke_end = out.find("FC Invoke End RequestId: lazy-1").unwrap();
    assert!(invoke_start < init_start && init_start < init_end && init_end < invoke_end);
    assert_eq!(f.state(), (1, 1, 0));
}

#[test]
fn concurrent_initialize_calls_and_invocations_share_exactly_one_initializer_run() {
    let f = Function::start("probe", &[("PROBE_INIT_MS", "400")]);
    let f = &f;
    thread::scope(|s| {
        let mut calls = Vec::new();
        for i in 0..4 {
            calls.push(s.spawn(move || f.initialize(&format!("init-{i}")).status));
        }
        for i in 0..8 {
            calls.push(s.spawn(move || f.invoke(&format!("inv-{i}"), b"").status));
        }
        for c in calls {
            assert_eq!(c.join().unwrap(), 200);
        }
    });
    assert_eq!(f.state(), (1, 8, 0));
    assert!(f.wait_stdout("FC Initialize End"));
    assert_eq!(count(&f.stdout(), "FC Initialize Start"), 1);
}

#[test]
fn initialize_after_success_answers_200_without_running_again() {
    let f = Function::start("probe", &[]);
    assert_eq!(f.initialize("a").status, 200);
    assert_eq!(f.initialize("b").status, 200);
    assert_eq!(f.state().0, 1);
}

#[test]
fn retryable_initializer_failure_answers_404_and_the_next_initialize_retries() {
    let f = Function::start("probe", &[("PROBE_INIT_FAIL", "retry:2")]);
    for attempt in 1..=2 {
        let r = f.initialize(&format!("try-{attempt}"));
        assert_eq!((r.status, r.header("x-fc-status")), (404, Some("404")));
        let body = r.text();
        assert!(body.contains(r#""errorType":"ProbeRetry""#), "{body}");
        assert!(body.contains(&format!("probe retry {attempt}/2")), "{body}");
        assert!(body.contains(r#""stackTrace":["#), "{body}");
    }
    assert_eq!(f.initialize("try-3").status, 200);
    assert_eq!(f.state().0, 3);
}

#[test]
fn retryable_failure_on_the_lazy_path_fails_that_invocation_and_the_next_one_retries() {
    let f = Function::start("probe", &[("PROBE_INIT_FAIL", "retry:1")]);
    let r = f.invoke("first", b"");
    assert_eq!((r.status, r.header("x-fc-status")), (404, Some("404")));
    assert!(r.text().contains("ProbeRetry"));
    assert_eq!(f.invoke("second", b"").status, 200);
    assert_eq!(f.state(), (2, 1, 0));
}

#[test]
fn fatal_initializer_failure_answers_500_and_every_invocation_fails_without_the_handler() {
    let f = Function::start("probe", &[("PROBE_INIT_FAIL", "fatal")]);
    let r = f.initialize("init");
    assert_eq!((r.status, r.header("x-fc-status")), (500, Some("404")));
    assert!(r.text().contains(r#""errorType":"ProbeFatal""#));
    for path in ["/invoke", "/state", "/echo"] {
        let r = f.request("POST", path, &[], b"x");
        assert_eq!(
            (r.status, r.header("x-fc-status")),
            (500, Some("404")),
            "{path}"
        );
        assert!(r.text().contains("probe fatal"), "{path}: {}", r.text());
    }
    assert_eq!(f.initialize("again").status, 500);
    assert!(f.wait_stdout("FC Invoke End"));
    // The failure is sticky: the initializer never ran again.
    assert_eq!(count(&f.stdout(), "FC Initialize Start"), 1);
}

#[test]
fn panicking_initializer_answers_500_with_the_panic_message() {
    let f = Function::start("probe", &[("PROBE_INIT_FAIL", "panic")]);
    let r = f.initialize("init");
    assert_eq!((r.status, r.header("x-fc-status")), (500, Some("404")));
    let body = r.text();
    assert!(body.contains(r#""errorType":"Panic""#), "{body}");
    assert!(body.contains("probe init panic"), "{body}");
    assert_eq!(f.invoke("after", b"").status, 500);
}

#[test]
fn pre_stop_waits_for_in_flight_invocations_then_runs_the_hook_once() {
    let f = Function::start("probe", &[("TINYFC_DRAIN_MS", "10000")]);
    assert_eq!(f.initialize("init").status, 200);
    let f = &f;
    thread::scope(|s| {
        let sent = Instant::now();
        let slow = s.spawn(move || f.http("GET", "/sleep/700"));
        thread::sleep(Duration::from_millis(150));
        let r = f.pre_stop("stop-1");
        // Server-side order, not two client threads' wake-up order: the answer could not come
        // before the 700 ms handler ended.
        assert!(
            sent.elapsed() >= Duration::from_millis(700),
            "pre-stop answered before the drain"
        );
        assert_eq!((r.status, r.header("x-fc-status")), (200, Some("200")));
        assert_eq!(
            slow.join().unwrap().status,
            200,
            "the in-flight invocation completed"
        );
    });
    assert!(f.wait_stdout("probe: pre-stop after 1 invocations"));
    assert!(f.wait_stdout("FC PreStop Start RequestId: stop-1"));
    assert!(f.wait_stdout("FC PreStop End RequestId: stop-1"));
    assert_eq!(f.pre_stop("stop-2").status, 200);
    assert!(f.wait_stdout("FC PreStop End RequestId: stop-2"));
    assert_eq!(count(&f.stdout(), "probe: pre-stop after"), 1);
}

#[test]
fn calls_during_the_pre_stop_hook_answer_503_instance_stopping() {
    let f = Function::start("probe", &[("PROBE_PRESTOP_MS", "3000")]);
    assert_eq!(f.initialize("init").status, 200);
    let f = &f;
    thread::scope(|s| {
        let stop = s.spawn(move || f.pre_stop("stop"));
        assert!(f.wait_stdout("FC PreStop Start RequestId: stop"));
        // The hook sleeps 3 s; this is well inside it.
        thread::sleep(Duration::from_millis(300));
        let r = f.invoke("late", b"");
        assert_eq!((r.status, r.header("x-fc-status")), (503, Some("404")));
        assert!(r.text().contains(r#""errorType":"InstanceStopping""#));
        assert_eq!(f.initialize("late-init").status, 503);
        assert_eq!(stop.join().unwrap().status, 200);
    });
    assert!(!f.stdout().contains("FC Invoke Start RequestId: late"));
}

#[test]
fn pre_stop_is_answered_while_every_worker_is_stuck_in_a_handler() {
    let f = Function::start(
        "probe",
        &[("TINYFC_WORKERS", "2"), ("TINYFC_DRAIN_MS", "300")],
    );
    assert_eq!(f.initialize("init").status, 200);
    let f = &f;
    thread::scope(|s| {
        let stuck: Vec<_> = (0..2)
            .map(|_| s.spawn(move || f.http("GET", "/sleep/6000").status))
            .collect();
        thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        // Its head is longer than the main thread's first look at a connection (4 KiB).
        let padding = "p".repeat(6000);
        let r = f.request(
            "GET",
            "/pre-stop",
            &[
                ("x-fc-control-path", "/pre-stop"),
                ("x-fc-request-id", "stop"),
                ("x-padding", &padding),
            ],
            b"",
        );
        assert_eq!(r.status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "pre-stop waited for the stuck handlers instead of the drain limit"
        );
        assert!(f.wait_stdout("probe: pre-stop after 2 invocations"));
        for t in stuck {
            assert_eq!(t.join().unwrap(), 200);
        }
    });
}

#[test]
fn pre_stop_before_initialization_answers_200_and_skips_the_hook() {
    let f = Function::start("probe", &[]);
    assert_eq!(f.pre_stop("early").status, 200);
    assert!(f.wait_stdout("FC PreStop End RequestId: early"));
    assert!(!f.stdout().contains("probe: pre-stop"));
}

#[test]
fn failing_pre_stop_hook_answers_404_with_the_error() {
    let f = Function::start("probe", &[("PROBE_PRESTOP_FAIL", "1")]);
    assert_eq!(f.initialize("init").status, 200);
    let r = f.pre_stop("stop");
    assert_eq!((r.status, r.header("x-fc-status")), (404, Some("404")));
    assert!(r.text().contains(r#""errorType":"ProbePreStop""#));
}

#[test]
fn pre_freeze_answers_200() {
    let f = Function::start("probe", &[]);
    let h = [("x-fc-control-path", "/pre-freeze")];
    assert_eq!(f.request("GET", "/pre-freeze", &h, b"").status, 200);
    assert_eq!(f.initialize("init").status, 200);
    let r = f.request("GET", "/pre-freeze", &h, b"");
    assert_eq!((r.status, r.header("x-fc-status")), (200, Some("200")));
}

#[test]
fn sigterm_lets_the_in_flight_invocation_finish_runs_pre_stop_and_exits_0() {
    let mut f = Function::start("probe", &[]);
    assert_eq!(f.initialize("init").status, 200);
    let mut conn = f.connect();
    let slow = thread::spawn(move || conn.request("GET", "/sleep/600", &[], b"").unwrap());
    thread::sleep(Duration::from_millis(150));
    f.signal(libc::SIGTERM);
    let r = slow.join().unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "slept 600"));
    let status = f.wait_exit(HANG).expect("no exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(f.wait_stdout("probe: pre-stop after 1 invocations"));
}

#[test]
fn a_pre_stop_run_by_sigterm_sees_the_context_from_fcs_environment() {
    let mut f = Function::start("probe", &[("FC_FUNCTION_NAME", "envfn")]);
    assert_eq!(f.initialize("init").status, 200);
    f.signal(libc::SIGTERM);
    assert_eq!(f.wait_exit(HANG).expect("no exit").code(), Some(0));
    let out = f.stdout();
    assert!(
        out.contains(r#"pre-stop after 0 invocations, function "envfn""#),
        "{out}"
    );
}

#[test]
fn with_stdout_gone_a_sigterm_still_drains_and_exits_0() {
    // stdout is a pipe whose reader (`head`) exits after the listening line, as when a log
    // collector dies: every later write to it fails with EPIPE.
    let mut cmd = std::process::Command::new("bash");
    cmd.args(["-c", r#"exec "$0" > >(head -n 1)"#])
        .arg(example("probe"))
        .env("FC_SERVER_PORT", "0")
        .env("RUST_LOG", "info");
    let mut f = Function::spawn(cmd, "tinyfc listening on 0.0.0.0:");
    thread::sleep(Duration::from_millis(200)); // `head` has exited
    assert_eq!(f.initialize("init").status, 200);
    assert_eq!(f.invoke("inv", b"e").status, 200);
    f.signal(libc::SIGTERM);
    let status = f
        .wait_exit(HANG)
        .expect("no exit after SIGTERM with stdout gone");
    assert_eq!(status.code(), Some(0), "{}", f.stderr());
}

#[test]
fn sigint_before_initialization_exits_0_without_the_hook() {
    let mut f = Function::start("probe", &[]);
    f.signal(libc::SIGINT);
    assert_eq!(f.wait_exit(HANG).expect("no exit").code(), Some(0));
    assert!(!f.stdout().contains("probe: pre-stop"));
}

#[test]
fn sigterm_right_after_listening_drains_and_exits_0() {
    // The main loop's thread installs the signals' actions as it starts, just after listening; one
    // sent before is held, not lost, and not left to its default action (which would kill the
    // process by the signal).
    for _ in 0..5 {
        let mut f = Function::start("probe", &[]);
        f.signal(libc::SIGTERM);
        let status = f.wait_exit(HANG).expect("no exit after SIGTERM");
        assert_eq!(status.code(), Some(0), "{status:?}");
    }
}

#[test]
fn only_the_main_loop_thread_lets_sigterm_and_sigint_through() {
    // A handler's blocking calls on a worker are never interrupted by a stop signal.
    let f = Function::start("probe", &[("TINYFC_WORKERS", "4")]);
    assert_eq!(f.initialize("init").status, 200);
    let freeze = [("x-fc-control-path", "/pre-freeze")];
    assert_eq!(f.request("GET", "/pre-freeze", &freeze, b"").status, 200); // the control thread
    let f = &f;
    thread::scope(|s| {
        let busy: Vec<_> = (0..3)
            .map(|_| s.spawn(move || f.http("GET", "/sleep/500").status))
            .collect();
        thread::sleep(Duration::from_millis(200));
        let stop = (1u64 << (libc::SIGTERM - 1)) | (1u64 << (libc::SIGINT - 1));
        let mut seen = Vec::new();
        for task in std::fs::read_dir(format!("/proc/{}/task", f.pid())).unwrap() {
            let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
            let field = |k: &str| {
                let line = status.lines().find(|l| l.starts_with(k)).unwrap();
                line[k.len()..].trim().to_string()
            };
            let blocked = u64::from_str_radix(&field("SigBlk:"), 16).unwrap();
            seen.push((field("Name:"), blocked & stop == stop));
        }
        seen.sort();
        let workers = seen.iter().filter(|(n, _)| n == "tinyfc-worker").count();
        assert!(workers >= 2, "{seen:?}");
        assert!(seen.iter().any(|(n, _)| n == "tinyfc-control"), "{seen:?}");
        for (name, held) in &seen {
            assert_eq!(*held, name != "tinyfc-main", "{name} in {seen:?}");
        }
        for t in busy {
            assert_eq!(t.join().unwrap(), 200);
        }
    });
}

#[test]
fn sigterm_after_pre_stop_does_not_run_the_hook_again() {
    let mut f = Function::start("probe", &[]);
    assert_eq!(f.initialize("init").status, 200);
    assert_eq!(f.pre_stop("stop").status, 200);
    f.signal(libc::SIGTERM);
    assert_eq!(f.wait_exit(HANG).expect("no exit").code(), Some(0));
    assert_eq!(count(&f.stdout(), "probe: pre-stop after"), 1);
}

#[test]
fn second_signal_exits_at_once_with_128_plus_signal() {
    let mut f = Function::start("probe", &[("PROBE_PRESTOP_MS", "20000")]);
    assert_eq!(f.initialize("init").status, 200);
    f.signal(libc::SIGTERM);
    thread::sleep(Duration::from_millis(300)); // the hook is now sleeping
    f.signal(libc::SIGTERM);
    let status = f
        .wait_exit(Duration::from_secs(10))
        .expect("second signal ignored");
    assert_eq!(status.code(), Some(128 + libc::SIGTERM));
}

// A new life after pre-stop: FC calls PreStop before it freezes an instance and the Initializer
// when it thaws one, so after /pre-stop the next call starts over.

#[test]
fn initialize_after_pre_stop_begins_a_new_life_with_a_new_initializer_run() {
    let f = Function::start("probe", &[]);
    assert_eq!(f.initialize("init-1").status, 200);
    assert_eq!(f.invoke("inv-1", b"").status, 200);
    assert_eq!(f.pre_stop("stop-1").status, 200);
    let r = f.initialize("init-2");
    assert_eq!((r.status, r.header("x-fc-status")), (200, Some("200")));
    assert!(f.wait_stdout("FC Initialize End RequestId: init-2"));
    let r = f.invoke("inv-2", b"");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    // The first life's state was dropped after its hook; the second one's is in use.
    assert_eq!(f.counters(), [2, 2, 1, 1]);
    assert_eq!(f.initialize("init-3").status, 200, "still the second life");
    assert_eq!(f.state().0, 2);
}

#[test]
fn an_invocation_after_pre_stop_begins_a_new_life_when_initialize_is_not_called() {
    let f = Function::start("probe", &[]);
    assert_eq!(f.invoke("inv-1", b"").status, 200);
    assert_eq!(f.pre_stop("stop").status, 200);
    let r = f.invoke("inv-2", b"");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert!(f.wait_stdout("FC Initialize End RequestId: inv-2"));
    assert_eq!(f.counters(), [2, 2, 1, 1]);
}

#[test]
fn retryable_failure_in_the_second_life_answers_404_and_the_next_initialize_retries() {
    let f = Function::start(
        "probe",
        &[("PROBE_INIT_FAIL", "retry:1"), ("PROBE_INIT_FROM", "2")],
    );
    assert_eq!(f.initialize("init-1").status, 200);
    assert_eq!(f.pre_stop("stop").status, 200);
    let r = f.initialize("init-2");
    assert_eq!((r.status, r.header("x-fc-status")), (404, Some("404")));
    assert!(r.text().contains("probe retry 1/1"), "{}", r.text());
    assert_eq!(f.initialize("init-3").status, 200);
    assert_eq!(f.invoke("inv", b"").status, 200);
    assert_eq!(f.counters(), [3, 1, 1, 1]);
}

#[test]
fn fatal_failure_in_the_second_life_is_sticky_until_the_next_pre_stop() {
    let f = Function::start(
        "probe",
        &[("PROBE_INIT_FAIL", "fatal"), ("PROBE_INIT_FROM", "2")],
    );
    assert_eq!(f.initialize("init-1").status, 200);
    assert_eq!(f.pre_stop("stop-1").status, 200);
    let r = f.initialize("init-2");
    assert_eq!((r.status, r.header("x-fc-status")), (500, Some("404")));
    assert!(r.text().contains(r#""errorType":"ProbeFatal""#));
    let r = f.invoke("inv-2", b"");
    assert_eq!(r.status, 500);
    assert!(r.text().contains("probe fatal"), "{}", r.text());
    assert!(f.wait_stdout("FC Invoke End RequestId: inv-2"));
    assert_eq!(count(&f.stdout(), "FC Initialize Start"), 2, "sticky");
    // The failed life ends without its hook (no state), and a third life runs the initializer
    // again.
    assert_eq!(f.pre_stop("stop-2").status, 200);
    assert_eq!(f.initialize("init-3").status, 500);
    assert!(f.wait_stdout("FC Initialize End RequestId: init-3"));
    assert_eq!(count(&f.stdout(), "FC Initialize Start"), 3);
    assert_eq!(count(&f.stdout(), "probe: pre-stop after"), 1);
}

#[test]
fn pre_stop_twice_runs_the_hook_once_per_life() {
    let f = Function::start("probe", &[]);
    assert_eq!(f.initialize("init-1").status, 200);
    assert_eq!(f.pre_stop("stop-1").status, 200);
    assert_eq!(f.pre_stop("stop-1-again").status, 200);
    assert!(f.wait_stdout("FC PreStop End RequestId: stop-1-again"));
    assert_eq!(count(&f.stdout(), "probe: pre-stop after"), 1);
    assert_eq!(f.invoke("inv-2", b"").status, 200);
    assert_eq!(f.pre_stop("stop-2").status, 200);
    assert_eq!(f.pre_stop("stop-2-again").status, 200);
    assert!(f.wait_stdout("FC PreStop End RequestId: stop-2-again"));
    assert_eq!(count(&f.stdout(), "probe: pre-stop after"), 2);
    // /state begins a third life; both ended lives' states were dropped.
    assert_eq!(f.counters(), [3, 1, 2, 2]);
}

#[test]
fn a_failing_pre_stop_hook_still_ends_the_life() {
    let f = Function::start("probe", &[("PROBE_PRESTOP_FAIL", "1")]);
    assert_eq!(f.initialize("init-1").status, 200);
    assert_eq!(f.pre_stop("stop").status, 404);
    assert_eq!(f.pre_stop("stop-again").status, 404, "the same result");
    assert_eq!(f.initialize("init-2").status, 200);
    assert_eq!(f.counters(), [2, 0, 1, 1]);
}

#[test]
fn pre_freeze_after_pre_stop_answers_200_without_beginning_a_life() {
    let f = Function::start("probe", &[]);
    assert_eq!(f.initialize("init").status, 200);
    assert_eq!(f.pre_stop("stop").status, 200);
    let h = [
        ("x-fc-control-path", "/pre-freeze"),
        ("x-fc-request-id", "freeze"),
    ];
    let r = f.request("GET", "/pre-freeze", &h, b"");
    assert_eq!((r.status, r.header("x-fc-status")), (200, Some("200")));
    assert!(f.wait_stdout("FC PreFreeze End RequestId: freeze"));
    assert_eq!(count(&f.stdout(), "FC Initialize Start"), 1);
}

#[test]
fn sigterm_during_the_second_initializer_lets_it_finish_runs_pre_stop_and_exits_0() {
    let mut f = Function::start(
        "probe",
        &[("PROBE_INIT_MS", "800"), ("PROBE_INIT_FROM", "2")],
    );
    assert_eq!(f.initialize("init-1").status, 200);
    assert_eq!(f.pre_stop("stop-1").status, 200);
    let mut conn = f.connect();
    let h = [
        ("x-fc-control-path", "/initialize"),
        ("x-fc-request-id", "init-2"),
    ];
    let init = thread::spawn(move || conn.request("POST", "/initialize", &h, b"").unwrap());
    assert!(f.wait_stdout("FC Initialize Start RequestId: init-2"));
    f.signal(libc::SIGTERM);
    assert_eq!(
        init.join().unwrap().status,
        200,
        "the in-flight answer was lost"
    );
    assert_eq!(f.wait_exit(HANG).expect("no exit").code(), Some(0));
    assert_eq!(
        count(&f.stdout(), "probe: pre-stop after"),
        2,
        "the second life's hook did not run"
    );
}

#[test]
fn sigterm_during_a_second_initializer_longer_than_the_drain_limit_exits_0() {
    let mut f = Function::start(
        "probe",
        &[
            ("PROBE_INIT_MS", "20000"),
            ("PROBE_INIT_FROM", "2"),
            ("TINYFC_DRAIN_MS", "300"),
        ],
    );
    assert_eq!(f.initialize("init-1").status, 200);
    assert_eq!(f.pre_stop("stop-1").status, 200);
    let addr = f.addr();
    thread::spawn(move || {
        let h = [
            ("x-fc-control-path", "/initialize"),
            ("x-fc-request-id", "init-2"),
        ];
        let _ = tinyfc::client::request(addr, "POST", "/initialize", &h, b"", HANG);
    });
    assert!(f.wait_stdout("FC Initialize Start RequestId: init-2"));
    let signalled = Instant::now();
    f.signal(libc::SIGTERM);
    assert_eq!(f.wait_exit(HANG).expect("no exit").code(), Some(0));
    // The initializer sleeps 20 s; the drain limit is 300 ms.
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "waited for the initializer past the drain limit: {:?}",
        signalled.elapsed()
    );
    assert_eq!(count(&f.stdout(), "probe: pre-stop after"), 1);
}

/// The outside review's sequence: a pre-stop whose drain limit passes while a slow initializer
/// runs ends that life; the next call must wait for the old run to end before running its own.
#[test]
fn an_initializer_never_runs_twice_at_once_across_lives() {
    let f = Function::start(
        "probe",
        &[("TINYFC_DRAIN_MS", "300"), ("PROBE_INIT_MS", "2000")],
    );
    let first = {
        let addr = f.addr();
        thread::spawn(move || {
            let mut c = Connection::connect(addr, HANG).unwrap();
            let h = [
                ("x-fc-request-id", "slow-1"),
                ("x-fc-control-path", "/invoke"),
            ];
            c.request("POST", "/invoke", &h, b"").unwrap().status
        })
    };
    assert!(f.wait_stdout("FC Initialize Start RequestId: slow-1"));
    assert_eq!(f.pre_stop("stop-1").status, 200);
    assert_eq!(f.invoke("next-1", b"").status, 200, "{}", f.stdout());
    assert_eq!(
        first.join().unwrap(),
        503,
        "the first life's call outlived it"
    );
    let out = f.stdout();
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("FC Initialize"))
        .map(|l| l.split(" RequestId").next().unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            "FC Initialize Start",
            "FC Initialize End",
            "FC Initialize Start",
            "FC Initialize End"
        ],
        "{out}"
    );
}
