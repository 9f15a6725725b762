//! A connection's edges: a client that half-closes, calls pipelined behind a control call, clients
//! that send or read slowly, and running out of descriptors. Every complete request gets its
//! answer, and no client holds a thread or a descriptor without bound.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use tinyfc_harness::*;

/// [`tinyfc_harness::read_until_closed`], as text.
fn text_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let (out, closed) = read_until_closed(s, limit);
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

/// A GET whose head is exactly `len` bytes (padded with one header).
fn head_of_len(len: usize) -> Vec<u8> {
    let start = "GET /padded HTTP/1.1\r\nhost: t\r\nx-fc-control-path: /http-invoke\r\nx-pad: ";
    let end = "\r\n\r\n";
    let pad = len - start.len() - end.len();
    format!("{start}{}{end}", "p".repeat(pad)).into_bytes()
}

#[test]
fn a_request_whose_head_fills_whole_read_chunks_is_answered_after_a_half_close() {
    let f = Function::start("probe", &[]);
    for len in [2048, 4096, 6144, 3000] {
        for attempt in 0..5 {
            let mut s = f.raw();
            s.write_all(&head_of_len(len)).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let (text, closed) = text_until_closed(&mut s, Duration::from_secs(10));
            assert_eq!(
                status_of(&text),
                200,
                "{len}-byte head, try {attempt}: {text:?}"
            );
            assert!(text.ends_with("hello"), "{text}");
            assert!(closed, "{len}-byte head: not closed after the answer");
        }
    }
}

#[test]
fn every_pipelined_request_before_a_half_close_is_answered_then_the_connection_closes() {
    let f = Function::start("probe", &[]);
    let mut s = f.raw();
    let one = "GET /a HTTP/1.1\r\nhost: t\r\nx-fc-control-path: /http-invoke\r\n\r\n";
    s.write_all(one.repeat(3).as_bytes()).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let (text, closed) = text_until_closed(&mut s, Duration::from_secs(10));
    assert_eq!(count(&text, "HTTP/1.1 200 OK"), 3, "{text}");
    assert!(closed, "not closed after the answers");
}

/// Asserts that each of `conns`, whose client half-closed, gets a 200 and then the server's close
/// (within 5 s: long before the idle timeouts the tests set).
fn each_answered_200_then_closed(conns: Vec<TcpStream>) {
    for (i, mut s) in conns.into_iter().enumerate() {
        let (text, closed) = text_until_closed(&mut s, Duration::from_secs(5));
        assert_eq!(status_of(&text), 200, "connection {i}: {text:?}");
        assert!(
            closed,
            "connection {i} left open after its client half-closed"
        );
    }
}

#[test]
fn half_closed_connections_are_closed_once_answered_not_at_the_idle_timeout() {
    let f = Function::start("probe", &[("TINYFC_IDLE_TIMEOUT_MS", "60000")]);
    let request = b"GET / HTTP/1.1\r\nhost: t\r\nx-fc-control-path: /http-invoke\r\n\r\n";
    let conns: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = f.raw();
            s.write_all(request).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            s
        })
        .collect();
    each_answered_200_then_closed(conns);
}

#[test]
fn a_partial_head_then_a_half_close_is_closed_at_once_not_at_the_header_timeout() {
    let f = Function::start("probe", &[("TINYFC_HEADER_TIMEOUT_MS", "60000")]);
    let conns: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = f.raw();
            s.write_all(b"GET / HTTP/1.1\r\nx-fc-control-path: /http-inv")
                .unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            s
        })
        .collect();
    for (i, mut s) in conns.into_iter().enumerate() {
        let (text, closed) = text_until_closed(&mut s, Duration::from_secs(5));
        assert!(closed, "connection {i} left open: {text:?}");
        assert!(!text.contains("408"), "connection {i}: {text:?}");
    }
    assert_still_serving(&f);
}

#[test]
fn a_half_close_that_comes_while_the_request_runs_closes_the_connection_once_answered() {
    let f = Function::start(
        "probe",
        &[
            ("TINYFC_IDLE_TIMEOUT_MS", "60000"),
            ("TINYFC_WORKERS", "32"),
        ],
    );
    let request = b"GET /sleep/300 HTTP/1.1\r\nhost: t\r\nx-fc-control-path: /http-invoke\r\n\r\n";
    let conns: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = f.raw();
            s.write_all(request).unwrap();
            s
        })
        .collect();
    thread::sleep(Duration::from_millis(100)); // the calls are running now
    for s in &conns {
        s.shutdown(Shutdown::Write).unwrap();
    }
    each_answered_200_then_closed(conns);
}

/// Writes `/pre-freeze` with `GET <behind>` pipelined after it on one connection.
fn pre_freeze_then(f: &Function, behind: &str) -> TcpStream {
    let mut s = f.raw();
    let req = format!(
        "GET /pre-freeze HTTP/1.1\r\nhost: t\r\nx-fc-control-path: /pre-freeze\r\n\r\n\
         GET {behind} HTTP/1.1\r\nhost: t\r\nx-fc-control-path: /http-invoke\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    s
}

#[test]
fn a_call_pipelined_behind_a_control_call_runs_on_a_worker_not_the_control_thread() {
    let f = Function::start("probe", &[]);
    assert_eq!(f.initialize("init").status, 200);
    let mut first = pre_freeze_then(&f, "/sleep/6000");
    thread::sleep(Duration::from_millis(500)); // the sleep has started
    let started = Instant::now();
    let h = [("x-fc-control-path", "/pre-freeze")];
    assert_eq!(f.request("GET", "/pre-freeze", &h, b"").status, 200);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "a control call waited {took:?} behind an invocation"
    );
    // Both answers come on the first connection, the invocation's once it has slept.
    first.set_read_timeout(Some(HANG)).unwrap();
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    while count(&got, "HTTP/1.1 200") < 2 {
        let n = first.read(&mut buf).unwrap();
        assert!(n > 0, "closed before both answers: {got:?}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(got.ends_with("slept 6000"), "{got}");
}

#[test]
fn sigterm_exits_within_the_drain_limit_while_a_call_pipelined_behind_a_control_call_runs() {
    let mut f = Function::start("probe", &[("TINYFC_DRAIN_MS", "1000")]);
    assert_eq!(f.initialize("init").status, 200);
    let _conn = pre_freeze_then(&f, "/sleep/8000");
    thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    f.signal(libc::SIGTERM);
    let status = f.wait_exit(HANG).expect("no exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "SIGTERM with a 1 s drain limit took {took:?}"
    );
}

#[test]
fn sigterm_exits_within_the_drain_limit_while_the_pre_stop_hook_hangs() {
    let mut f = Function::start(
        "probe",
        &[("TINYFC_DRAIN_MS", "1000"), ("PROBE_PRESTOP_MS", "60000")],
    );
    assert_eq!(f.initialize("init").status, 200);
    let addr = f.addr();
    thread::spawn(move || {
        let h = [("x-fc-control-path", "/pre-stop")];
        let _ = tinyfc::client::request(addr, "GET", "/pre-stop", &h, b"", HANG);
    });
    thread::sleep(Duration::from_millis(500)); // the hook is now sleeping
    let started = Instant::now();
    f.signal(libc::SIGTERM);
    let status = f.wait_exit(HANG).expect("no exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
}

#[test]
fn slow_bodies_are_cut_at_the_body_timeout_and_free_their_workers() {
    let f = Function::start(
        "probe",
        &[("TINYFC_WORKERS", "2"), ("TINYFC_BODY_TIMEOUT_MS", "1500")],
    );
    let f = &f;
    thread::scope(|sc| {
        let drippers: Vec<_> = (0..2)
            .map(|_| {
                sc.spawn(move || {
                    let mut s = f.raw();
                    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n")
                        .unwrap();
                    let started = Instant::now();
                    for _ in 0..100 {
                        if s.write_all(b"x").is_err() || started.elapsed() > HANG {
                            break;
                        }
                        thread::sleep(Duration::from_millis(300));
                        let mut b = [0u8; 1];
                        s.set_nonblocking(true).unwrap();
                        let answered = s.peek(&mut b).is_ok();
                        s.set_nonblocking(false).unwrap();
                        if answered {
                            break;
                        }
                    }
                    read_to_close(&mut s)
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(500));
        let started = Instant::now();
        assert_still_serving(f);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(6),
            "a request waited {took:?} behind two slow bodies"
        );
        for d in drippers {
            let text = d.join().unwrap();
            assert_eq!(status_of(&text), 408, "{text}");
        }
    });
    assert_eq!(f.state().1, 1, "only the fast call ran");
}

#[test]
fn slow_readers_are_cut_at_the_write_timeout_and_free_their_workers() {
    let f = Function::start(
        "probe",
        &[("TINYFC_WORKERS", "2"), ("TINYFC_WRITE_TIMEOUT_MS", "1500")],
    );
    let f = &f;
    let body = vec![b'z'; 16 * 1024 * 1024];
    let body = &body;
    thread::scope(|sc| {
        let readers: Vec<_> = (0..2)
            .map(|_| {
                sc.spawn(move || {
                    let mut s = f.raw();
                    let head = format!(
                        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    s.write_all(head.as_bytes()).unwrap();
                    s.write_all(body).unwrap();
                    // Reads 4 KiB every 100 ms: 40 KB/s, minutes for the whole answer.
                    let started = Instant::now();
                    let mut buf = [0u8; 4096];
                    while started.elapsed() < HANG {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return true,
                            Ok(_) => thread::sleep(Duration::from_millis(100)),
                        }
                    }
                    false
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(1000));
        let started = Instant::now();
        assert_still_serving(f);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(8),
            "a request waited {took:?} behind two slow readers"
        );
        for r in readers {
            assert!(r.join().unwrap(), "a slow reader was never cut off");
        }
    });
}

/// Starts the probe with its descriptor limit (soft and hard) set to `nofile`.
fn probe_with_nofile(nofile: u64, env: &[(&str, &str)]) -> Function {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(example("probe"));
    cmd.env("FC_SERVER_PORT", "0").env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    // SAFETY: setrlimit(2) between fork and exec only touches the child.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: nofile,
                rlim_max: nofile,
            };
            match libc::setrlimit(libc::RLIMIT_NOFILE, &lim) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        })
    };
    Function::spawn(cmd, "tinyfc listening on 0.0.0.0:")
}

/// Opens `n` connections one after another, each answered 200 to one request and then left open,
/// idle.
fn idle_connections(f: &Function, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut s = f.raw();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nhost: t\r\nx-fc-control-path: /http-invoke\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).unwrap_or(0);
            let text = String::from_utf8_lossy(&buf[..n]);
            assert_eq!(status_of(&text), 200, "connection {i}: {text:?}");
            s
        })
        .collect()
}

#[test]
fn past_the_descriptor_limit_the_longest_idle_connection_makes_room_and_a_warning_says_so() {
    let f = probe_with_nofile(64, &[]);
    let _open = idle_connections(&f, 100);
    assert_still_serving(&f);
    let warnings = count(&f.stdout(), "accept failed") + count(&f.stderr(), "accept failed");
    assert!(warnings <= 2, "{warnings} accept warnings");
    // On FC the closed connection's next POST is a 502: say so, at most once per 10 s. The
    // harness reads stdout on its own thread: wait for the line before counting.
    assert!(
        f.wait_stdout("closed the longest-idle connection"),
        "{}",
        f.stdout()
    );
    let evictions = count(&f.stdout(), "closed the longest-idle connection");
    assert_eq!(evictions, 1, "{}", f.stdout());
}

#[test]
fn out_of_descriptors_the_longest_idle_connection_makes_room() {
    // The function's own files use up the reserve: accept fails with EMFILE before the
    // connection limit, and an idle connection must make room.
    let f = probe_with_nofile(64, &[("PROBE_HOLD_FDS", "40")]);
    let _open = idle_connections(&f, 40);
    assert_still_serving(&f);
}

#[test]
fn at_the_descriptor_limit_every_call_is_answered_200_or_503() {
    let f = probe_with_nofile(48, &[]);
    let mut conns = calls_in_flight(&f, 60, "/sleep/300");
    let mut ok = 0;
    for (i, s) in conns.iter_mut().enumerate() {
        let (text, _) = text_until_closed(s, HANG);
        match status_of(&text) {
            200 => ok += 1,
            503 => {}
            other => panic!("connection {i}: {other}: {text:?}"),
        }
    }
    assert!(ok > 0, "nothing was served");
    assert_still_serving(&f);
}
