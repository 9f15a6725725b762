//! Hostile clients and faulty handlers: every case ends with the function still answering a
//! well-formed request from another client. (Smuggling shapes and limits: tests/limits.rs.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use tinyfc_harness::*;

fn rss_kb(f: &Function) -> u64 {
    f.proc_status("VmRSS")
}

#[test]
fn absurd_methods_uris_and_control_bytes_get_400_and_close() {
    let f = Function::start("probe", &[]);
    for bad in [
        &b"G\x01T / HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET relative HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-\xff\xfe: v\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nName With Space: v\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a TLS ClientHello
    ] {
        let text = send_raw(&f, bad);
        assert_eq!(
            status_of(&text),
            400,
            "{:?} -> {text}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(f.state().1, 0, "no invocation ran");
    assert_still_serving(&f);
}

#[test]
fn smuggled_request_behind_an_ambiguous_one_never_runs() {
    let f = Function::start("probe", &[]);
    for shape in [
        &b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /panic HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\nGET /panic HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\nGET /panic HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 1\r\n\r\nxGET /panic HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\nGET /panic HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /panic HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        let text = send_raw(&f, shape);
        assert_eq!(status_of(&text), 400, "{:?} -> {text}", String::from_utf8_lossy(shape));
        assert_eq!(count(&text, "HTTP/1.1 "), 1, "one answer, then closed: {text}");
    }
    assert_eq!(
        f.state().1,
        0,
        "neither the request nor the smuggled one ran"
    );
    assert!(!f.stderr().contains("probe panic"));
}

#[test]
fn endless_header_line_gets_431_and_rss_grows_by_at_most_the_header_limit() {
    let limit = 256 * 1024;
    let f = Function::start("probe", &[("TINYFC_MAX_HEADER_BYTES", "262144")]);
    assert_still_serving(&f);
    let before = rss_kb(&f);
    let mut s = f.raw();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-Endless: ")
        .unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0;
    // Megabytes without CRLF; the server answers and stops reading long before the end.
    while sent < 8 * 1024 * 1024 && s.write_all(&chunk).is_ok() {
        sent += chunk.len();
    }
    let text = read_to_close(&mut s);
    assert!(text.is_empty() || status_of(&text) == 431, "{text}");
    let grown = rss_kb(&f).saturating_sub(before) * 1024;
    assert!(
        grown <= limit as u64,
        "RSS grew {grown} bytes for a {limit}-byte limit"
    );
    assert_still_serving(&f);
}

#[test]
fn a_thousand_headers_get_431() {
    let f = Function::start("probe", &[]);
    let mut req = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for i in 0..1000 {
        req.push_str(&format!("x-h-{i}: {i}\r\n"));
    }
    req.push_str("\r\n");
    assert_eq!(status_of(&send_raw(&f, req.as_bytes())), 431);
    assert_still_serving(&f);
}

#[test]
fn slowloris_is_cut_at_the_header_timeout_without_holding_a_worker() {
    let f = Function::start(
        "probe",
        &[
            ("TINYFC_WORKERS", "1"),
            ("TINYFC_HEADER_TIMEOUT_MS", "1500"),
        ],
    );
    let f = &f;
    thread::scope(|sc| {
        let slow = sc.spawn(move || {
            let mut s = f.raw();
            s.set_nodelay(true).unwrap();
            let started = Instant::now();
            for b in b"GET / HTTP/1.1\r\nHost: a-very-slow-client.example\r\n"
                .iter()
                .cycle()
            {
                if s.write_all(&[*b]).is_err() || started.elapsed() > HANG {
                    break;
                }
                thread::sleep(Duration::from_millis(100));
                let mut probe = [0u8; 1];
                s.set_nonblocking(true).unwrap();
                let closed = s.peek(&mut probe).is_ok();
                s.set_nonblocking(false).unwrap();
                if closed {
                    break; // the server answered (and closed)
                }
            }
            (read_to_close(&mut s), started.elapsed())
        });
        // The only worker is free for others while the slow client trickles.
        for _ in 0..5 {
            thread::sleep(Duration::from_millis(150));
            assert_still_serving(f);
        }
        let (text, took) = slow.join().unwrap();
        assert_eq!(status_of(&text), 408, "{text}");
        assert!(took < Duration::from_secs(10), "cut after {took:?}");
    });
}

#[test]
fn client_that_never_reads_its_answer_is_cut_off_and_frees_the_worker() {
    let f = Function::start(
        "probe",
        &[
            ("TINYFC_WORKERS", "1"),
            ("TINYFC_HEADER_TIMEOUT_MS", "1000"),
        ],
    );
    let body = vec![b'z'; 16 * 1024 * 1024];
    let mut s = f.raw();
    s.write_all(
        format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    s.write_all(&body).unwrap();
    // Never read. The worker's write stalls, times out, and the connection is dropped.
    thread::sleep(Duration::from_millis(2500));
    let started = Instant::now();
    assert_still_serving(&f);
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(s);
}

#[test]
fn two_thousand_idle_connections_keep_threads_bounded_and_new_clients_served() {
    let f = Function::start("probe", &[("TINYFC_WORKERS", "8")]);
    assert_still_serving(&f);
    let before = rss_kb(&f);
    let idle: Vec<TcpStream> = (0..2000)
        .map(|_| TcpStream::connect(f.addr()).unwrap())
        .collect();
    thread::sleep(Duration::from_millis(300));
    assert_still_serving(&f);
    let threads = f.threads();
    assert!(threads <= 8 + 2, "{threads} threads");
    let grown = rss_kb(&f).saturating_sub(before);
    assert!(
        grown < 32 * 1024,
        "RSS grew {grown} kB for 2000 idle connections"
    );
    drop(idle);
    // A burst: 2000 connections opened and closed at once, half of them mid-request.
    for i in 0..2000 {
        let mut s = TcpStream::connect(f.addr()).unwrap();
        if i % 2 == 0 {
            let _ = s.write_all(b"GET /x HTTP/1.1\r\n");
        }
    }
    thread::sleep(Duration::from_millis(300));
    assert_still_serving(&f);
    assert!(f.threads() <= 8 + 2);
}

#[test]
fn thread_count_follows_the_load_back_down() {
    let f = Function::start("probe", &[("TINYFC_WORKER_IDLE_MS", "300")]);
    let f = &f;
    thread::scope(|sc| {
        let busy: Vec<_> = (0..8)
            .map(|_| sc.spawn(move || f.http("GET", "/sleep/300").status))
            .collect();
        thread::sleep(Duration::from_millis(150));
        assert!(
            f.threads() >= 8,
            "8 concurrent invocations, {} threads",
            f.threads()
        );
        for b in busy {
            assert_eq!(b.join().unwrap(), 200);
        }
    });
    thread::sleep(Duration::from_millis(1200));
    assert!(f.threads() <= 2, "{} threads after the load", f.threads());
    assert_still_serving(f);
}

#[test]
fn connections_past_the_limit_evict_the_longest_idle_one() {
    let f = Function::start("probe", &[("TINYFC_MAX_CONNECTIONS", "50")]);
    let mut oldest = f.raw();
    thread::sleep(Duration::from_millis(50));
    let _others: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(f.addr()).unwrap())
        .collect();
    thread::sleep(Duration::from_millis(200));
    assert_still_serving(&f);
    let mut buf = [0u8; 1];
    assert_eq!(
        oldest.read(&mut buf).unwrap_or(0),
        0,
        "the oldest idle connection was closed"
    );
}

#[test]
fn a_connection_past_the_limit_with_none_idle_gets_503_service_unavailable_and_the_busy_ones_finish(
) {
    let f = Function::start("probe", &[("TINYFC_MAX_CONNECTIONS", "2")]);
    let mut busy = calls_in_flight(&f, 2, "/sleep/500");
    thread::sleep(Duration::from_millis(150));
    let mut third = f.raw();
    let answer = read_to_close(&mut third);
    assert_eq!(status_of(&answer), 503, "{answer}");
    assert!(answer.contains("too many connections"), "{answer}");
    assert!(
        answer.contains(r#""errorType":"ServiceUnavailable""#),
        "{answer}"
    );
    for s in busy.iter_mut() {
        assert_eq!(status_of(&read_to_close(s)), 200);
    }
    assert_still_serving(&f);
}

#[test]
fn panics_and_hangs_leave_other_invocations_and_the_drain_intact() {
    let mut f = Function::start(
        "probe",
        &[("TINYFC_WORKERS", "4"), ("TINYFC_DRAIN_MS", "500")],
    );
    let mut hung = f.raw();
    hung.write_all(b"GET /sleep/60000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap(); // hangs past any timeout
    let mut conn = f.connect();
    for i in 0..300 {
        let path = if i % 3 == 0 { "/error" } else { "/panic" };
        let r = conn.request("GET", path, &[], b"").unwrap();
        assert_eq!(r.status, 500, "{path}");
    }
    assert_still_serving(&f);
    let started = Instant::now();
    let r = f.pre_stop("stop");
    assert_eq!(r.status, 200);
    f.signal(libc::SIGTERM);
    let status = f.wait_exit(HANG).expect("no exit with a hung handler");
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drain limit ignored: {:?}",
        started.elapsed()
    );
}

#[test]
fn sigterm_during_initialization_answers_the_initialize_call_and_exits_0() {
    let mut f = Function::start("probe", &[("PROBE_INIT_MS", "800")]);
    let mut conn = f.connect();
    let init = thread::spawn(move || {
        conn.request(
            "POST",
            "/initialize",
            &[("x-fc-control-path", "/initialize")],
            b"",
        )
        .unwrap()
    });
    thread::sleep(Duration::from_millis(200));
    f.signal(libc::SIGTERM);
    assert_eq!(
        init.join().unwrap().status,
        200,
        "the in-flight answer was not lost"
    );
    assert_eq!(f.wait_exit(HANG).expect("no exit").code(), Some(0));
    assert!(f.stdout().contains("probe: pre-stop after 0 invocations"));
}

#[test]
fn sigterm_during_pre_stop_lets_it_finish_and_exits_0() {
    let mut f = Function::start("probe", &[("PROBE_PRESTOP_MS", "800")]);
    assert_eq!(f.initialize("init").status, 200);
    let addr = f.addr();
    let stop = thread::spawn(move || {
        let h = [("x-fc-control-path", "/pre-stop")];
        tinyfc::client::request(addr, "GET", "/pre-stop", &h, b"", HANG).unwrap()
    });
    thread::sleep(Duration::from_millis(200));
    f.signal(libc::SIGTERM);
    assert_eq!(
        stop.join().unwrap().status,
        200,
        "pre-stop's answer was not lost"
    );
    assert_eq!(f.wait_exit(HANG).expect("no exit").code(), Some(0));
    assert_eq!(
        count(&f.stdout(), "probe: pre-stop after"),
        1,
        "the hook ran once"
    );
}

/// 60 s of mixed load (keep-alive, new connections, bad requests, panicking handlers); afterwards RSS
/// and threads are back near where they started and every well-formed request got its answer.
/// `make soak` runs it (SOAK_SECS to change the length).
#[test]
#[ignore]
fn soak_mixed_load_keeps_memory_and_threads_flat_and_loses_nothing() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    // RUST_BACKTRACE=0: with backtraces on, the first panic loads the binary's debug info once
    // (tens of MB for a debug build): a one-time cache, not growth, but it would hide any real leak.
    let env = [
        ("TINYFC_WORKERS", "16"),
        ("TINYFC_WORKER_IDLE_MS", "1000"),
        ("RUST_LOG", "warn"),
        ("RUST_BACKTRACE", "0"),
    ];
    let f = Function::start("probe", &env);
    assert_still_serving(&f);
    let (rss0, threads0) = (rss_kb(&f), f.threads());
    let until = Instant::now() + Duration::from_secs(secs);
    let f = &f;
    let (mut ok, mut bad) = (0u64, 0u64);
    thread::scope(|sc| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                sc.spawn(move || {
                    let (mut ok, mut bad) = (0u64, 0u64);
                    let mut conn = f.connect();
                    let mut i = 0u64;
                    while Instant::now() < until {
                        i += 1;
                        match (w + i) % 5 {
                            0 => {
                                let body = format!("soak {w} {i}");
                                let r = conn.request("POST", "/echo", &[], body.as_bytes()).unwrap();
                                assert_eq!(r.body, body.as_bytes());
                                ok += 1;
                            }
                            1 => {
                                let r = f.http("GET", "/fresh-connection");
                                assert_eq!(r.status, 200);
                                ok += 1;
                            }
                            2 => {
                                let text = send_raw(f, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
                                assert_eq!(status_of(&text), 400);
                                bad += 1;
                            }
                            3 => {
                                let r = conn.request("GET", "/panic", &[], b"").unwrap();
                                assert_eq!(r.status, 500);
                                ok += 1;
                            }
                            _ => {
                                let r = conn.request("GET", "/sleep/1", &[], b"").unwrap();
                                assert_eq!(r.status, 200);
                                ok += 1;
                            }
                        }
                    }
                    (ok, bad)
                })
            })
            .collect();
        for w in workers {
            let (o, b) = w.join().unwrap();
            ok += o;
            bad += b;
        }
    });
    thread::sleep(Duration::from_millis(2500)); // idle workers retire
    let (rss1, threads1) = (rss_kb(f), f.threads());
    eprintln!("soak: {secs} s, {ok} well-formed answered, {bad} bad rejected; RSS {rss0} -> {rss1} kB, threads {threads0} -> {threads1}");
    assert!(rss1 < rss0 + 4 * 1024, "RSS {rss0} -> {rss1} kB");
    assert!(threads1 <= threads0 + 1, "threads {threads0} -> {threads1}");
    assert_still_serving(f);
}

#[test]
fn idle_connections_do_not_keep_the_buffers_of_large_bodies() {
    let f = Function::start("probe", &[("TINYFC_WORKERS", "4")]);
    assert_still_serving(&f);
    let before = rss_kb(&f);
    // 100 keep-alive connections, each having sent a body in one 1 MiB chunk, then left idle.
    let mut body = b"100000\r\n".to_vec();
    body.extend_from_slice(&[b'c'; 0x100000]);
    body.extend_from_slice(b"\r\n0\r\n\r\n");
    let mut conns = Vec::new();
    for _ in 0..100 {
        let mut s = f.raw();
        s.write_all(b"POST /state HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        s.write_all(&body).unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        assert_eq!(status_of(&String::from_utf8_lossy(&buf[..n])), 200);
        conns.push(s);
    }
    thread::sleep(Duration::from_millis(100));
    let grown = rss_kb(&f).saturating_sub(before);
    assert!(
        grown < 32 * 1024,
        "RSS grew {grown} kB: idle connections kept their body buffers"
    );
    assert_still_serving(&f);
}
