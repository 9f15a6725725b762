//! `cargo tinyfc local` at its edges, against a function written by hand in the test (a listener
//! that answers as told): a panic in the front door, too many async invocations, a connection the
//! function closes mid-request, and seconds options out of range.

mod fake;

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fake::{fake, serving, Answer, OK};
use tinyfc_harness::*;

#[test]
fn a_panic_while_answering_never_lowers_the_front_doors_capacity() {
    // A chunk size near 2^64: the platform's client overflowed on it (a panic in the thread
    // answering the caller). Each such answer used to cost the front door one of its 16 threads.
    // A chunked answer is relayed as it comes (streaming), so its head has reached the caller
    // before the bad chunk: the caller sees the stream cut.
    let f = fake(|n, _| {
        if n <= 40 {
            Answer::Send(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffff\r\n",
            )
        } else {
            Answer::Send(OK)
        }
    });
    let local = serving(&f, &[]);
    for i in 0..40 {
        let e = local.connect().request("GET", "/", &[], b"").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "call {i}: {e}");
    }
    // All 16 threads still answer: 16 callers at once, each served.
    let port = local.port;
    let callers: Vec<_> = (0..16)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Connection::connect(("127.0.0.1", port), HANG).unwrap();
                c.request("GET", "/", &[], b"").unwrap()
            })
        })
        .collect();
    for c in callers {
        let r = c.join().unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    }
    assert_eq!(f.requests.load(Ordering::SeqCst), 56);
}

#[test]
fn async_invocations_run_on_a_bounded_number_of_threads() {
    // The function never answers, so every async invocation stays in progress.
    let f = fake(|_, _| Answer::Hold);
    let local = serving(&f, &["--concurrency", "16", "--queue-limit", "4"]);
    let path = "/2023-03-30/functions/local-function/invocations";
    let asynchronous = [("x-fc-invocation-type", "Async")];
    let mut accepted = 0;
    for _ in 0..150 {
        let r = local.request("POST", path, &asynchronous, b"e");
        assert!(matches!(r.status, 202 | 429), "{} {}", r.status, r.text());
        accepted += usize::from(r.status == 202);
    }
    assert!(accepted >= 100, "only {accepted} of 150 queued");
    // The ones running reached the function; the rest wait for a thread.
    let until = Instant::now() + HANG;
    while f.requests.load(Ordering::SeqCst) < 16 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    // 16 + 4 + 4 front-door threads (--concurrency, --queue-limit, spares), at most 16 running
    // async invocations, and a few of the platform's.
    let threads = local.threads();
    assert!(
        threads <= 24 + 16 + 13,
        "{threads} threads after 150 async invocations"
    );
    assert!(f.requests.load(Ordering::SeqCst) <= 20);
}

#[test]
fn an_invocation_is_not_sent_twice_when_the_function_closes_the_connection_while_running_it() {
    // The function answers the first request; it reads the second and closes the connection (it
    // may have run it: a non-idempotent handler must not run again).
    let f = fake(|n, _| {
        if n == 1 {
            Answer::Send(OK)
        } else {
            Answer::Close
        }
    });
    let local = serving(&f, &[]);
    let mut caller = local.connect();
    assert_eq!(caller.request("GET", "/", &[], b"").unwrap().status, 200);
    let r = caller.request("POST", "/pay", &[], b"1").unwrap();
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(
        f.requests.load(Ordering::SeqCst),
        2,
        "the second invocation was sent again"
    );
}

#[test]
fn a_seconds_option_too_large_for_a_duration_is_a_usage_error() {
    for option in [
        "--grace",
        "--idle-stop",
        "--init-timeout",
        "--start-timeout",
        "--prestop-timeout",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"))
            .args(["local", "--once", option, "1e30", "--", "true"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{option}: {err}");
        assert!(err.contains(option) && !err.contains("panicked"), "{err}");
    }
}

#[test]
fn an_event_file_that_cannot_be_read_is_a_usage_error_naming_the_file() {
    let missing = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such-event.json");
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"))
        .args(["local", "--once", "--event"])
        .arg(&missing)
        .args(["--", "true"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("--event {}: ", missing.display())),
        "{err}"
    );
}
