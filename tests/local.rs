//! tinyfc-local driving the probe and hello examples as FC would.

mod common;

use std::collections::HashSet;
use std::process::Command;

use common::*;

fn local(args: &[&str], function: &str, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tinyfc-local"));
    cmd.args(args).arg("--").arg(example(function));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// tinyfc-local serving its front door on a free port.
fn serving(args: &[&str], env: &[(&str, &str)]) -> Function {
    let mut all = vec!["--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    Function::spawn(local(&all, "probe", env), "front door on http://127.0.0.1:")
}

fn pids(out: &str) -> HashSet<String> {
    out.lines()
        .filter_map(|l| l.split("started: pid ").nth(1))
        .map(|rest| rest.split(',').next().unwrap().to_string())
        .collect()
}

#[test]
fn once_runs_every_step_and_exits_0() {
    let out = local(&["--once"], "hello", &[]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for step in [
        "instance listening after",
        "initialized: RequestId 1-",
        "Init Duration:",
        "status 200 (x-fc-status 200)",
        "response body: Hello, World!",
        "answered 200",
        "exit status: 0",
        "all steps succeeded",
    ] {
        assert!(text.contains(step), "missing {step:?} in\n{text}");
    }
}

#[test]
fn once_exits_1_when_initialization_fails() {
    let out = local(
        &["--once", "--max-restarts", "0"],
        "probe",
        &[("PROBE_INIT_FAIL", "fatal")],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("initialization failed"), "{text}");
    assert!(text.contains("a step failed"), "{text}");
}

#[test]
fn invoke_n_sends_n_event_invocations_with_the_event_file() {
    let dir = std::env::temp_dir().join(format!("tinyfc-local-event-{}", std::process::id()));
    std::fs::write(&dir, b"{\"k\":1}").unwrap();
    let event = dir.to_str().unwrap();
    let out = local(&["--invoke", "3", "--event", event], "probe", &[])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(count(&text, "FC Invoke Start"), 3, "{text}");
    assert!(
        text.contains("probe: pre-stop after 3 invocations"),
        "{text}"
    );
    let _ = std::fs::remove_file(dir);
}

#[test]
fn retries_the_initializer_on_404_and_the_caller_never_sees_the_failures() {
    let f = serving(&[], &[("PROBE_INIT_FAIL", "retry:3")]);
    let r = f.request("GET", "/state", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(r#""init_runs":4"#), "{}", r.text());
    assert_eq!(r.header("X-Fc-Error-Type"), None);
    assert_eq!(count(&f.stdout(), "initializer answered 404"), 3);
    assert_eq!(
        pids(&f.stdout()).len(),
        1,
        "no restart for a retryable failure"
    );
}

#[test]
fn restarts_the_instance_on_500_with_a_new_process_then_reports_initialization_error() {
    let f = serving(&["--max-restarts", "2"], &[("PROBE_INIT_FAIL", "fatal")]);
    let r = f.request("GET", "/anything", &[], b"");
    assert_eq!(
        r.status, 200,
        "FC answers an initialization failure with 200"
    );
    assert_eq!(r.header("X-Fc-Error-Type"), Some("InitializationError"));
    assert!(r.text().contains(r#""errorMessage":""#), "{}", r.text());
    assert!(r.text().contains("probe fatal"), "{}", r.text());
    assert_eq!(
        pids(&f.stdout()).len(),
        3,
        "three processes:\n{}",
        f.stdout()
    );
    assert_eq!(count(&f.stdout(), "restarting the instance"), 2);
}

#[test]
fn restarts_the_instance_when_the_initializer_panics() {
    let f = serving(&["--max-restarts", "1"], &[("PROBE_INIT_FAIL", "panic")]);
    let r = f.request("GET", "/", &[], b"");
    assert_eq!(r.header("X-Fc-Error-Type"), Some("InitializationError"));
    assert!(r.text().contains("probe init panic"), "{}", r.text());
    assert_eq!(pids(&f.stdout()).len(), 2);
}

#[test]
fn handler_error_reaches_the_caller_as_unhandled_invocation_error() {
    let f = serving(&[], &[]);
    let r = f.request("GET", "/error", &[], b"");
    assert_eq!(r.status, 500);
    assert_eq!(
        r.header("X-Fc-Error-Type"),
        Some("UnhandledInvocationError")
    );
    assert!(r.text().contains(r#""errorMessage":"probe error""#));
    assert_eq!(
        r.header("x-fc-status"),
        None,
        "the platform's header stays inside"
    );
    let ok = f.request("GET", "/fine", &[], b"");
    assert_eq!((ok.status, ok.header("X-Fc-Error-Type")), (200, None));
}

#[test]
fn invoke_function_path_becomes_an_event_invocation() {
    let f = serving(&["--function-name", "fx"], &[]);
    let r = f.request("POST", "/2023-03-30/functions/fx/invocations", &[], b"evt");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert!(f.wait_stdout("POST /2023-03-30/functions/fx/invocations -> 200"));
}

#[test]
fn platform_headers_are_injected_and_caller_x_fc_headers_dropped() {
    let f = serving(
        &[
            "--function-name",
            "my-fn",
            "--region",
            "cn-shanghai",
            "--memory",
            "1024",
            "--timeout",
            "9",
        ],
        &[("ALIBABA_CLOUD_ACCESS_KEY_ID", "AKID-from-env")],
    );
    let r = f.request("GET", "/context", &[("x-fc-function-name", "spoofed")], b"");
    let body = r.text();
    for field in [
        r#""function_name":"my-fn""#,
        r#""region":"cn-shanghai""#,
        r#""memory_mb":1024"#,
        r#""timeout_s":9"#,
        r#""access_key_id":"AKID-from-env""#,
        r#""control_path":"/http-invoke""#,
        r#""request_id":"1-"#,
    ] {
        assert!(body.contains(field), "missing {field} in {body}");
    }
    assert!(r
        .header("X-Fc-Request-Id")
        .is_some_and(|id| id.starts_with("1-")));
}

#[test]
fn fc_limits_apply_at_the_front_door() {
    let f = serving(&[], &[]);
    let long_path = format!("/{}", "p".repeat(5000));
    assert_eq!(f.request("GET", &long_path, &[], b"").status, 414);
    let big = "v".repeat(9000);
    assert_eq!(f.request("GET", "/", &[("x-big", &big)], b"").status, 431);
    assert_eq!(f.request("GET", "/", &[], b"").status, 200);
}

#[test]
fn sigterm_stops_with_pre_stop_then_sigterm_to_the_instance() {
    let mut f = serving(&[], &[]);
    assert_eq!(f.request("GET", "/", &[], b"").status, 200);
    f.signal(libc::SIGTERM);
    let status = f.wait_exit(HANG).expect("tinyfc-local did not stop");
    assert_eq!(status.code(), Some(0));
    let out = f.stdout();
    let order = [
        "signal received: stopping",
        "FC PreStop Start",
        "probe: pre-stop after 1 invocations",
        "sending SIGTERM to pid",
        "exit status: 0",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|s| {
            out.find(s)
                .unwrap_or_else(|| panic!("missing {s:?} in\n{out}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "out of order:\n{out}");
}

#[test]
fn idle_stop_stops_after_the_idle_period() {
    let mut f = serving(&["--idle-stop", "0.5"], &[]);
    let status = f.wait_exit(HANG).expect("idle-stop did not stop");
    assert_eq!(status.code(), Some(0));
    assert!(f.stdout().contains("idle for"));
}
