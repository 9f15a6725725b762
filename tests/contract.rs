//! FC's published contract (issue 22): connections kept as FC pools them, deadlines that never cut
//! a call FC still runs, the health path, bodies bounded by the function's memory, one initializer
//! run at a time across lives.

use std::io::Write;
use std::thread;
use std::time::Duration;

use tinyfc_harness::*;

/// FC keeps its connections to the function open and reuses them; a POST on a connection the
/// server closed while idle is a 502 for FC's caller ("Process exited unexpectedly before
/// completing request"). Past FC's 60 s of old default: 75 s idle, then the next POST.
#[test]
fn a_keep_alive_connection_idle_for_75_s_still_serves_the_next_post() {
    let f = Function::start("probe", &[]);
    let mut conn = f.connect();
    let post = |conn: &mut Connection| conn.request("POST", "/invoke", &[], b"e").unwrap();
    assert_eq!(post(&mut conn).status, 200);
    thread::sleep(Duration::from_secs(75));
    assert_eq!(post(&mut conn).status, 200, "{}", f.stdout());
}

/// A GET of `/healthz` on a fresh connection is answered 200 within 2 s (FC's health check waits
/// 1 to 3 s), not behind `what`.
fn assert_health_answered_at_once(f: &Function, what: &str) {
    let started = std::time::Instant::now();
    assert_eq!(health(f, "GET", "/healthz").status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited behind {what}"
    );
}

/// GET `path` on a fresh connection, with FC's health check's timeout (1 to 3 s) as the bound.
fn health(f: &Function, method: &str, path: &str) -> Response {
    let mut c = Connection::connect(f.addr(), Duration::from_secs(3)).unwrap();
    c.request(method, path, &[], b"").unwrap()
}

#[test]
fn the_health_path_is_answered_by_the_runtime_within_ms_while_every_worker_is_busy() {
    let f = Function::start(
        "probe",
        &[("TINYFC_HEALTH_PATH", "/healthz"), ("TINYFC_WORKERS", "2")],
    );
    // Before any initialization: the instance can serve.
    let r = health(&f, "GET", "/healthz?probe=1");
    assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
    let _busy = calls_in_flight(&f, 2, "/sleep/5000");
    assert!(f.wait_stdout("FC Invoke Start"));
    thread::sleep(Duration::from_millis(200));
    let started = std::time::Instant::now();
    for method in ["GET", "HEAD"] {
        let r = health(&f, method, "/healthz");
        assert_eq!(r.status, 200, "{method}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited behind the workers"
    );
    // Not invocations: no FC lines, not counted, never the handler's "hello".
    assert_eq!(count(&f.stdout(), "FC Invoke Start"), 2, "{}", f.stdout());
    // Another method, or another path, is the handler's.
    assert_eq!(f.request("POST", "/healthz", &[], b"").body, b"hello");
    assert_eq!(f.state().1, 3, "the two sleeps and the POST, nothing else");
}

#[test]
fn a_health_or_control_call_with_a_body_gets_400_unread_and_holds_up_no_later_health_check() {
    let f = Function::start("probe", &[("TINYFC_HEALTH_PATH", "/healthz")]);
    // A body that never comes: the health thread must not wait for it.
    let mut stalled = f.raw();
    stalled
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nx")
        .unwrap();
    thread::sleep(Duration::from_millis(100));
    assert_health_answered_at_once(&f, "the stalled body");
    let text = read_to_close(&mut stalled);
    assert_eq!(status_of(&text), 400, "{text}");
    assert!(text.contains("a control call takes no body"), "{text}");
    // The same for /pre-stop, whose hook then has not run.
    let text = send_raw(
        &f,
        b"GET /pre-stop HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(status_of(&text), 400, "{text}");
    assert_eq!(f.counters()[2], 0, "the pre-stop hook ran");
    // Content-Length: 0 is no body.
    let text = send_raw(
        &f,
        b"GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status_of(&text), 200, "{text}");
}

/// A connection to `addr` whose receive buffer is 4 KiB (set before connecting, so the window
/// the server sees stays small).
fn connect_with_a_small_receive_buffer(addr: &str) -> std::net::TcpStream {
    use std::os::fd::FromRawFd;
    let addr: std::net::SocketAddrV4 = addr.parse().unwrap();
    let size: libc::c_int = 4096;
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: a socket this function owns, plain-data arguments that live across each call.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let len = std::mem::size_of_val(&size) as libc::socklen_t;
        let size = std::ptr::from_ref(&size).cast();
        assert_eq!(
            libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, size, len),
            0
        );
        let sa_len = std::mem::size_of_val(&sa) as libc::socklen_t;
        let sa_ptr = std::ptr::from_ref(&sa).cast();
        assert_eq!(libc::connect(fd, sa_ptr, sa_len), 0);
        std::net::TcpStream::from_raw_fd(fd)
    }
}

#[test]
fn a_client_that_sends_health_checks_and_reads_no_answer_holds_up_no_other_check() {
    let f = Function::start("probe", &[("TINYFC_HEALTH_PATH", "/healthz")]);
    // Pipelined checks whose answers are never read: the answers fill the socket's buffers
    // (a small receive buffer, so they fill within a few hundred answers).
    let mut flood = connect_with_a_small_receive_buffer(&f.addr());
    let writer = thread::spawn(move || {
        let checks = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n".repeat(1000);
        for _ in 0..1000 {
            if flood.write_all(checks.as_bytes()).is_err() {
                break; // closed by the server: what the fix does
            }
        }
        flood
    });
    // The server's send buffer fills within a few seconds; every check meanwhile is answered.
    for _ in 0..6 {
        thread::sleep(Duration::from_secs(1));
        assert_health_answered_at_once(&f, "the client that reads nothing");
    }
    drop(writer.join().unwrap());
}

#[test]
fn the_health_path_says_503_after_a_fatal_initializer_failure() {
    let f = Function::start(
        "probe",
        &[("TINYFC_HEALTH_PATH", "/up"), ("PROBE_INIT_FAIL", "fatal")],
    );
    assert_eq!(health(&f, "GET", "/up").status, 200);
    assert_eq!(f.initialize("init-1").status, 500);
    let r = health(&f, "GET", "/up");
    assert_eq!(r.status, 503);
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains("probe fatal"), "{body}");
}

#[test]
fn the_health_path_says_503_while_a_stop_runs_then_200_for_the_next_life() {
    let f = Function::start(
        "probe",
        &[
            ("TINYFC_HEALTH_PATH", "/healthz"),
            ("PROBE_PRESTOP_MS", "2000"),
        ],
    );
    assert_eq!(f.initialize("init-1").status, 200);
    let stop = {
        let addr = f.addr();
        thread::spawn(move || {
            let mut c = Connection::connect(addr, HANG).unwrap();
            let h = [("x-fc-control-path", "/pre-stop")];
            c.request("GET", "/pre-stop", &h, b"").unwrap().status
        })
    };
    assert!(f.wait_stdout("FC PreStop Start"));
    let r = health(&f, "GET", "/healthz");
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(stop.join().unwrap(), 200);
    let r = health(&f, "GET", "/healthz");
    assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
    assert_eq!(count(&f.stdout(), "FC Invoke Start"), 0, "{}", f.stdout());
}

#[test]
fn a_failing_user_health_check_says_503_with_its_message() {
    let f = Function::start("probe", &[("PROBE_HEALTH_FAIL", "database unreachable")]);
    // Uninitialized: no state to check yet, the instance can serve.
    assert_eq!(health(&f, "GET", "/healthz").status, 200);
    assert_eq!(f.initialize("init-1").status, 200);
    let r = health(&f, "GET", "/healthz");
    assert_eq!(r.status, 503);
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains("database unreachable"), "{body}");
    assert_eq!(f.state().1, 0, "no invocation ran");
}

/// A call FC runs with `x-fc-function-timeout: 10`, against body and answer deadlines of 1 s: a
/// body that takes 2.5 s to arrive and an answer read slowly for seconds are both whole.
#[test]
fn a_call_with_a_function_timeout_gets_body_and_answer_deadlines_of_at_least_that() {
    use std::io::{Read, Write};
    let f = Function::start(
        "probe",
        &[
            ("TINYFC_BODY_TIMEOUT_MS", "1000"),
            ("TINYFC_WRITE_TIMEOUT_MS", "1000"),
        ],
    );
    // The body: five pieces 500 ms apart.
    let mut s = f.raw();
    let head =
        "POST /echo HTTP/1.1\r\nhost: t\r\nx-fc-function-timeout: 10\r\nconnection: close\r\n\
                content-length: 5\r\n\r\n";
    s.write_all(head.as_bytes()).unwrap();
    for b in b"hello" {
        thread::sleep(Duration::from_millis(500));
        s.write_all(&[*b]).unwrap();
    }
    let text = read_to_close(&mut s);
    assert_eq!(status_of(&text), 200, "{text}");
    assert!(text.ends_with("hello"), "{text}");

    // The answer: 12 MiB, read at 256 KiB per 100 ms (seconds past the first wait).
    let body = vec![b'z'; 12 << 20];
    let mut s = f.raw();
    let head = format!(
        "POST /echo HTTP/1.1\r\nhost: t\r\nx-fc-function-timeout: 10\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let mut got = 0;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
        thread::sleep(Duration::from_millis(100));
    }
    assert!(got > body.len(), "the answer was cut after {got} bytes");
}

/// 12 callers send 24 MiB bodies at once to a 128 MB function with 16 workers: 288 MiB of bodies
/// if all were held at once. Each is answered 200, and the process peaks under 160 MiB.
#[test]
fn bodies_in_flight_are_bounded_by_the_functions_memory() {
    use std::io::Write;
    let f = Function::start(
        "probe",
        &[("FC_FUNCTION_MEMORY_SIZE", "128"), ("TINYFC_WORKERS", "16")],
    );
    let body = vec![b'b'; 24 << 20];
    let statuses: Vec<u16> = thread::scope(|sc| {
        let callers: Vec<_> = (0..12)
            .map(|_| {
                sc.spawn(|| {
                    let mut s = f.raw();
                    let head = format!(
                        "POST /sink HTTP/1.1\r\nhost: t\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    );
                    s.write_all(head.as_bytes()).unwrap();
                    s.write_all(&body).unwrap();
                    status_of(&read_to_close(&mut s))
                })
            })
            .collect();
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(statuses, [200; 12], "{}", f.stdout());
    let peak_kib = f.proc_status("VmHWM");
    assert!(peak_kib < 160 * 1024, "peak RSS {} MiB", peak_kib / 1024);
}

#[test]
fn a_body_over_the_whole_budget_is_413_declared_or_chunked() {
    let f = Function::start("probe", &[("TINYFC_BODY_BUDGET_BYTES", "1000")]);
    let declared = send_raw(
        &f,
        b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 1001\r\n\r\n",
    );
    assert_eq!(status_of(&declared), 413, "{declared}");
    let chunk = "a".repeat(600);
    let chunked = format!(
        "POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
    );
    let text = send_raw(&f, chunked.as_bytes());
    assert_eq!(status_of(&text), 413, "{text}");
    // Within the budget, and again after those were refused: nothing leaked.
    for _ in 0..3 {
        let ok = f.request("POST", "/echo", &[], &[b'x'; 1000]);
        assert_eq!((ok.status, ok.body.len()), (200, 1000));
    }
    assert_eq!(f.state().1, 3, "only the three that fit ran");
}

/// `TINYFC_BODY_BUDGET_BYTES=0` turns the budget off (README, docs/hardening.md): a call's
/// `x-fc-function-memory` (FC sends it with every call) must not set one after all.
#[test]
fn a_body_budget_of_0_stays_off_when_a_call_says_the_functions_memory() {
    let f = Function::start("probe", &[("TINYFC_BODY_BUDGET_BYTES", "0")]);
    // Over half of 1 MB: 413 if the header had set a budget.
    let body = vec![b'x'; 600_000];
    for _ in 0..2 {
        let r = f
            .connect()
            .request("POST", "/echo", &[("x-fc-function-memory", "1")], &body)
            .unwrap_or_else(|e| panic!("{e} (refused before its body was read?) {}", f.stdout()));
        assert_eq!(
            (r.status, r.body.len()),
            (200, body.len()),
            "{}",
            f.stdout()
        );
    }
}
