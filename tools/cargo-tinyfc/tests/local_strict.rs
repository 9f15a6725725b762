//! `cargo tinyfc local` as strict as FC, against a function written by hand (tests/fake): FC's
//! pooled connections, its limits, timeouts said as timeouts, and the front door's defects an
//! outside review reproduced (each test was seen failing before its fix).

mod fake;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fake::{fake, serving, Answer, OK};
use tinyfc_harness::*;

/// The head of the answer on `s` (up to its blank line).
fn head(s: &mut std::net::TcpStream) -> String {
    read_until(s, b"\r\n\r\n")
}

/// An upgrade to WebSocket on `path`, written on a fresh raw connection.
fn upgrade(local: &Function, path: &str) -> std::net::TcpStream {
    let mut s = local.raw();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .unwrap();
    s
}

const SWITCH: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

#[test]
fn a_head_answer_says_the_length_get_would_have() {
    let f = fake(|_, _| Answer::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"));
    let local = serving(&f, &[]);
    let mut s = local.raw();
    s.write_all(b"HEAD /doc HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let h = head(&mut s);
    assert_eq!(status_of(&h), 200, "{h}");
    assert!(
        h.to_ascii_lowercase().contains("content-length: 5\r\n"),
        "{h}"
    );
}

#[test]
fn bytes_a_function_sends_after_its_answer_never_reach_the_next_invocation() {
    // A body on a HEAD answer: five bytes the pooled connection must not carry into the next call.
    let f = fake(|_, head| {
        if head.starts_with("head ") {
            Answer::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
        } else {
            Answer::Send(OK)
        }
    });
    let local = serving(&f, &[]);
    assert_eq!(local.request("HEAD", "/", &[], b"").status, 200);
    let r = local.request("GET", "/", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
}

#[test]
fn an_upgrade_the_function_does_not_take_is_answered_at_once_with_a_request_id() {
    // The function answers the upgrade as a plain request and keeps the connection open.
    let f = fake(|_, _| Answer::Send(OK));
    let local = serving(&f, &[]);
    let mut s = upgrade(&local, "/plain");
    let answer = read_until(&mut s, b"ok");
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("x-fc-request-id: 1-"),
        "{answer}"
    );
    assert!(answer.ends_with("ok"), "{answer}");
}

#[test]
fn websocket_sockets_count_against_concurrency_and_never_stop_the_front_door() {
    // --concurrency 1 --queue-limit 0: the front door has 1 + 0 + 4 threads. Six sockets asked
    // for: one holds the instance's place, the others are refused 429, and plain requests are
    // still answered.
    let f = fake(|_, head| {
        if head.contains("upgrade: websocket") {
            Answer::Send(SWITCH)
        } else {
            Answer::Send(OK)
        }
    });
    let local = serving(&f, &["--concurrency", "1", "--queue-limit", "0"]);
    let mut sockets = Vec::new();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let mut s = upgrade(&local, "/ws");
        statuses.push(status_of(&head(&mut s)));
        sockets.push(s);
    }
    statuses.sort();
    assert_eq!(statuses, [101, 429, 429, 429, 429, 429]);
    let r = local.request("GET", "/", &[], b"");
    assert_eq!(r.status, 429, "{}", r.text());
    // Closing the socket frees its place.
    drop(sockets);
    let until = std::time::Instant::now() + HANG;
    loop {
        let r = local.request("GET", "/", &[], b"");
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 429, "{}", r.text());
        assert!(
            std::time::Instant::now() < until,
            "the socket's place was never freed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_pooled_connection_the_function_closed_fails_a_post_with_502_and_retries_a_get() {
    // The function closes every connection after its answer, as a server whose keep-alive
    // timeout is shorter than FC's 15 minutes does while the connection is idle.
    let f = fake(|_, _| Answer::SendClose(OK));
    let local = serving(&f, &[]);
    assert_eq!(local.request("GET", "/a", &[], b"").status, 200);
    std::thread::sleep(Duration::from_millis(300)); // the close reaches the platform
    let r = local.request("POST", "/pay", &[], b"1");
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("keep-alive"), "{}", r.text());
    assert_eq!(
        f.requests.load(Ordering::SeqCst),
        1,
        "the POST reached the function"
    );
    assert!(local.wait_stdout("closed an idle keep-alive connection"));

    assert_eq!(local.request("GET", "/b", &[], b"").status, 200);
    std::thread::sleep(Duration::from_millis(300));
    let r = local.request("GET", "/c", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "ok"), "GET is retried");
    assert_eq!(f.requests.load(Ordering::SeqCst), 3);
}

#[test]
fn requests_past_fcs_limits_are_refused_with_fcs_error_body() {
    let f = fake(|_, head| {
        if head.starts_with("get /big-head") {
            let big = format!(
                "HTTP/1.1 200 OK\r\nx-big: {}\r\ncontent-length: 2\r\n\r\nok",
                "h".repeat(9 * 1024)
            );
            Answer::Send(Box::leak(big.into_bytes().into_boxed_slice()))
        } else {
            Answer::Send(OK)
        }
    });
    let local = serving(&f, &[]);
    let check = |r: Response, status: u16, code: &str| {
        assert_eq!(r.status, status, "{}", r.text());
        assert!(
            r.text().contains(&format!("\"errorCode\":\"{code}\"")),
            "{}",
            r.text()
        );
        assert!(r.header("x-fc-request-id").is_some());
    };
    let long_path = format!("/{}", "p".repeat(4 * 1024));
    check(
        local.request("GET", &long_path, &[], b""),
        400,
        "InvalidArgument",
    );
    let big = "v".repeat(8 * 1024);
    check(
        local.request("GET", "/", &[("x-big", &big)], b""),
        400,
        "InvalidArgument",
    );
    let body = vec![b'b'; 32 * 1024 * 1024 + 1];
    check(
        local.request("POST", "/", &[], &body),
        413,
        "EntityTooLarge",
    );
    let event = vec![b'e'; 128 * 1024 + 1];
    let path = "/2023-03-30/functions/local-function/invocations";
    let asynchronous = [("x-fc-invocation-type", "Async")];
    check(
        local.request("POST", path, &asynchronous, &event),
        413,
        "EntityTooLarge",
    );
    check(
        local.request("GET", "/big-head", &[], b""),
        502,
        "BadResponse",
    );
    // Within the limits all reach the function.
    let ok = local.request("GET", &format!("/{}", "p".repeat(4000)), &[], b"");
    assert_eq!(ok.status, 200, "{}", ok.text());
}

#[test]
fn an_invocation_past_the_timeout_is_answered_as_a_timeout_and_the_instance_restarted() {
    let f = fake(|_, _| Answer::Hold);
    let local = serving(&f, &["--timeout", "1"]);
    let path = "/2023-03-30/functions/local-function/invocations";
    let r = local.request("POST", path, &[], b"{}");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-fc-error-type"),
        Some("UnhandledInvocationError")
    );
    assert!(
        r.text().contains("Function timed out after 1 seconds"),
        "{}",
        r.text()
    );
    assert!(local.wait_stdout("restarting the instance"));
    let r = local.request("GET", "/", &[], b"");
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("timed out"), "{}", r.text());
}

/// `cargo tinyfc local` serving in front of the hand-written function, in a directory whose
/// s.yaml gives function `f` the props `props` (YAML, indented 6 spaces).
fn serving_with_props(f: &fake::Fake, name: &str, props: &str) -> Function {
    serving_with(f, name, props, &[])
}

/// The same with more options for `local`.
fn serving_with(f: &fake::Fake, name: &str, props: &str, args: &[&str]) -> Function {
    let dir = std::env::temp_dir().join(format!("tinyfc-strict-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = format!(
        "edition: 3.0.0\nname: app\nresources:\n  f:\n    component: fc3\n    props:\n      \
         region: cn-hangzhou\n      functionName: f\n      runtime: custom.debian12\n      \
         code: ./code\n{props}"
    );
    std::fs::write(dir.join("s.yaml"), yaml).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"));
    cmd.current_dir(&dir)
        .args(["local", "--listen", "127.0.0.1:0", "--no-initializer"])
        .args(["--port", &f.port.to_string(), "--external-function"])
        .args(args)
        .args(["--", "sleep", "600"]);
    Function::spawn(cmd, "front door on http://127.0.0.1:")
}

/// The same with `asyncInvokeConfig`: `retries` and both destinations.
fn serving_with_async(f: &fake::Fake, name: &str, retries: u32) -> Function {
    let props = format!(
        "      asyncInvokeConfig:\n        maxAsyncRetryAttempts: {retries}\n        \
         destinationConfig:\n          onSuccess:\n            destination: acs:mns:::/queues/ok/messages\n          \
         onFailure:\n            destination: acs:mns:::/queues/failed/messages\n"
    );
    serving_with_props(f, name, &props)
}

const FAILED: &[u8] = b"HTTP/1.1 404 Not Found\r\nx-fc-status: 404\r\ncontent-length: 37\r\n\r\n{\"errorMessage\":\"no\",\"errorType\":\"E\"}";

#[test]
fn a_failed_async_invocation_is_retried_and_its_success_goes_to_on_success() {
    let f = fake(|n, _| {
        if n <= 2 {
            Answer::Send(FAILED)
        } else {
            Answer::Send(OK)
        }
    });
    let local = serving_with_async(&f, "retried", 3);
    let path = "/2023-03-30/functions/f/invocations";
    let r = local.request("POST", path, &[("x-fc-invocation-type", "Async")], b"{}");
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(local.wait_stdout("FC would send to onSuccess acs:mns:::/queues/ok/messages"));
    let out = local.stdout();
    assert!(out.contains("attempt 1/4 failed"), "{out}");
    assert!(out.contains("attempt 3/4 -> 200"), "{out}");
    assert!(out.contains(r#""approximateInvokeCount":3"#), "{out}");
    assert_eq!(f.requests.load(Ordering::SeqCst), 3);
    assert!(f.heads.lock().unwrap()[2].contains("x-fc-retry-count: 2"));
}

#[test]
fn an_async_invocation_that_keeps_failing_stops_at_max_retries_and_goes_to_on_failure() {
    let f = fake(|_, _| Answer::Send(FAILED));
    let local = serving_with_async(&f, "failing", 1);
    let path = "/2023-03-30/functions/f/invocations";
    let r = local.request("POST", path, &[("x-fc-invocation-type", "Async")], b"{}");
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(local.wait_stdout("FC would send to onFailure acs:mns:::/queues/failed/messages"));
    let out = local.stdout();
    assert!(out.contains("failed for good after 2 attempts"), "{out}");
    assert_eq!(f.requests.load(Ordering::SeqCst), 2);
}

const HEALTH: &str = "      customRuntimeConfig:\n        healthCheckConfig:\n          \
    httpGetUrl: /healthz\n          periodSeconds: 1\n          failureThreshold: 2\n";

#[test]
fn an_instance_that_fails_its_health_checks_is_restarted() {
    let f = fake(|_, head| {
        if head.starts_with("get /healthz") {
            Answer::Send(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n")
        } else {
            Answer::Send(OK)
        }
    });
    let local = serving_with_props(&f, "unhealthy", HEALTH);
    assert!(local.wait_stdout("2 health checks failed in a row (failureThreshold)"));
    let out = local.stdout();
    assert!(
        out.contains("GET /healthz failed (1/2): answered 500"),
        "{out}"
    );
    assert!(out.contains("restarting the instance"), "{out}");
    // The new instance is checked again from the start.
    let until = std::time::Instant::now() + HANG;
    while count(&local.stdout(), "GET /healthz failed (1/2)") < 2 {
        assert!(std::time::Instant::now() < until, "{}", local.stdout());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn health_checks_failing_past_max_restarts_make_the_platform_give_up_with_exit_1() {
    let f = fake(|_, head| {
        if head.starts_with("get /healthz") {
            Answer::Send(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n")
        } else {
            Answer::Send(OK)
        }
    });
    let mut local = serving_with(&f, "gives-up", HEALTH, &["--max-restarts", "1"]);
    let status = local.wait_exit(HANG);
    let out = local.stdout();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(
        out.contains("(failureThreshold), restart 1/1 (--max-restarts)"),
        "{out}"
    );
    assert_eq!(count(&out, "restarting the instance"), 1, "{out}");
    assert!(
        out.contains(
            "giving up: 2 health checks failed in a row (failureThreshold), after 1 restarts for \
             failed health checks (--max-restarts 1)"
        ),
        "{out}"
    );
    assert!(out.contains("the platform gave up"), "{out}");
}

#[test]
fn a_healthy_instance_is_said_healthy_and_keeps_serving() {
    let f = fake(|_, _| Answer::Send(OK));
    let local = serving_with_props(&f, "healthy", HEALTH);
    assert!(local.wait_stdout("healthy (GET /healthz -> 200)"));
    // Three checks seen by the function, none failed.
    let checks = || {
        f.heads
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.starts_with("get /healthz"))
            .count()
    };
    let until = std::time::Instant::now() + HANG;
    while checks() < 3 {
        assert!(std::time::Instant::now() < until, "{}", local.stdout());
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = local.stdout();
    assert!(!out.contains("failed"), "{out}");
    assert!(!out.contains("restarting"), "{out}");
    assert_eq!(local.request("GET", "/", &[], b"").status, 200);
}
