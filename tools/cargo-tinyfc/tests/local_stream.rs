//! Streamed answers through `cargo tinyfc local`'s front door: relayed chunk by chunk as the
//! function produces them.

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use tinyfc_harness::*;

/// The local platform with the probe, its front door on a free port.
fn serving() -> Function {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"));
    cmd.args(["local", "--listen", "127.0.0.1:0", "--"])
        .arg(example("probe"));
    Function::spawn(cmd, "front door on http://127.0.0.1:")
}

/// `GET <path>` to the front door on a raw socket.
fn get(f: &Function, path: &str, version: &str) -> TcpStream {
    let mut s = f.raw();
    let req = format!("GET {path} HTTP/{version}\r\nhost: t\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s
}

#[test]
fn events_arrive_through_the_front_door_as_they_are_produced() {
    let f = serving();
    let mut s = get(&f, "/stream/5", "1.1");
    let r = read_chunked(&mut s, usize::MAX);
    let head = r.head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 "), "{head}");
    assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
    assert!(
        head.contains("content-type: text/event-stream\r\n"),
        "{head}"
    );
    assert!(head.contains("x-fc-request-id: "), "{head}");
    let body: String = r
        .chunks
        .iter()
        .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
        .collect();
    assert_eq!(
        body,
        (0..5).map(|i| format!("data: {i}\n\n")).collect::<String>()
    );
    assert!(r.terminated, "no terminating chunk");
    // 400 ms of the function's sleeps separate the first event from the last: the front door
    // must not have held the first back.
    let spread = r.chunks.last().unwrap().0 - r.chunks[0].0;
    assert!(spread >= Duration::from_millis(200), "{spread:?}");
    // The caller's connection carries another request.
    s.write_all(b"GET /x HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        .unwrap();
    let next = read_to_close(&mut s);
    assert!(next.starts_with("HTTP/1.1 200 "), "{next}");
    assert!(next.ends_with("hello"), "{next}");
}

#[test]
fn a_caller_gone_mid_stream_stops_the_functions_producer() {
    let f = serving();
    let mut s = get(&f, "/stream/100", "1.1");
    let r = read_chunked(&mut s, 2);
    assert_eq!(r.chunks.len(), 2);
    drop(s);
    assert!(
        f.wait_stdout("probe: stream stopped at event"),
        "{}",
        f.stdout()
    );
    let r = f.request("GET", "/after", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
}

#[test]
fn a_stream_the_function_cuts_is_cut_for_the_caller() {
    let f = serving();
    let mut s = get(&f, "/stream-fail/2", "1.1");
    s.set_read_timeout(Some(HANG)).unwrap();
    let mut c = tinyfc::client::Connection::connect(f.addr(), HANG).unwrap();
    let e = c.request("GET", "/stream-fail/2", &[], b"").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    let r = read_until(&mut s, b"stream cut\r\n"); // the chunk line that is not a size
    assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
    assert!(r.contains("data: 1\n\n"), "{r}");
    assert!(
        !r.contains("\r\n0\r\n\r\n"),
        "a cut stream must not look complete: {r:?}"
    );
}

#[test]
fn an_http10_caller_gets_the_stream_unchunked() {
    let f = serving();
    let mut s = get(&f, "/stream/3", "1.0");
    let text = read_to_close(&mut s);
    let lower = text.to_ascii_lowercase();
    assert!(!lower.contains("transfer-encoding"), "{text}");
    assert!(
        text.ends_with("\r\n\r\ndata: 0\n\ndata: 1\n\ndata: 2\n\n"),
        "{text}"
    );
}
