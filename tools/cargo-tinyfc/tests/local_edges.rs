//! `cargo tinyfc local` at its edges, against a function written by hand in the test (a listener
//! that answers as told): a panic in the front door, too many async invocations, a connection the
//! function closes mid-request, and seconds options out of range.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tinyfc_harness::*;

/// What the hand-written function does with its n-th request (counted from 1, over all
/// connections).
#[derive(Clone, Copy)]
enum Answer {
    /// Writes these bytes and keeps the connection.
    Send(&'static [u8]),
    /// Closes the connection without answering.
    Close,
    /// Never answers, keeps the connection open.
    Hold,
}

/// A function on 127.0.0.1 that answers each request as `answer` says; counts requests.
struct Fake {
    port: u16,
    requests: Arc<AtomicUsize>,
    /// Connections held open (Answer::Hold), so they are not closed before the test ends.
    _held: Arc<Mutex<Vec<TcpStream>>>,
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nx-fc-status: 200\r\ncontent-length: 2\r\n\r\nok";

fn fake(answer: fn(usize) -> Answer) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(Mutex::new(Vec::new()));
    let (count, hold) = (requests.clone(), held.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (count, hold) = (count.clone(), hold.clone());
            std::thread::spawn(move || serve(conn, &count, &hold, answer));
        }
    });
    Fake {
        port,
        requests,
        _held: held,
    }
}

/// Reads requests (head and Content-Length body) from one connection and answers them.
fn serve(
    mut conn: TcpStream,
    count: &AtomicUsize,
    held: &Mutex<Vec<TcpStream>>,
    answer: fn(usize) -> Answer,
) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        match answer(n) {
            Answer::Send(bytes) => {
                if conn.write_all(bytes).is_err() {
                    return;
                }
            }
            Answer::Close => return,
            Answer::Hold => {
                held.lock().unwrap().push(conn);
                return;
            }
        }
    }
}

/// `cargo tinyfc local` serving on a free port in front of the hand-written function (no
/// initializer; the instance process is a `sleep` that only keeps the instance alive).
fn serving(f: &Fake, args: &[&str]) -> Function {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"));
    cmd.args(["local", "--listen", "127.0.0.1:0", "--no-initializer"])
        .args(["--port", &f.port.to_string()])
        .args(args)
        .args(["--", "sleep", "600"]);
    Function::spawn(cmd, "front door on http://127.0.0.1:")
}

#[test]
fn a_panic_while_answering_never_lowers_the_front_doors_capacity() {
    // A chunk size near 2^64: the platform's client overflowed on it (a panic in the thread
    // answering the caller). Each such answer used to cost the front door one of its 16 threads.
    // A chunked answer is relayed as it comes (streaming), so its head has reached the caller
    // before the bad chunk: the caller sees the stream cut.
    let f = fake(|n| {
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
    let f = fake(|_| Answer::Hold);
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
    let f = fake(|n| {
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
