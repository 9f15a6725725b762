//! The HTTP/1.1 connection layer: keep-alive, pipelining, HTTP/1.0, chunked bodies, 100-continue.

use std::io::{Read, Write};
use std::thread;
use std::time::Duration;

use tinyfc_harness::*;

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let f = Function::start("probe", &[]);
    let mut conn = f.connect();
    for i in 0..50 {
        let body = format!("request {i}");
        let r = conn.request("POST", "/echo", &[], body.as_bytes()).unwrap();
        assert_eq!((r.status, r.body), (200, body.into_bytes()));
    }
    assert_eq!(f.state().1, 50);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let f = Function::start("probe", &[]);
    let mut s = f.raw();
    s.write_all(
        b"GET /sleep/200 HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirst\
          POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nsecond\
          GET /state HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let text = read_to_close(&mut s);
    let a = text.find("slept 200").expect(&text);
    let b = text.find("first").expect(&text);
    let c = text.find("second").expect(&text);
    let d = text.find(r#""invocations":3"#).expect(&text);
    assert!(a < b && b < c && c < d, "{text}");
    assert_eq!(count(&text, "HTTP/1.1 200 OK"), 4);
}

#[test]
fn http_1_0_request_is_answered_and_the_connection_closed() {
    let f = Function::start("probe", &[]);
    let text = send_raw(&f, b"GET /hi HTTP/1.0\r\n\r\n");
    assert_eq!(status_of(&text), 200);
    assert!(text.contains("connection: close"));
    assert!(text.ends_with("hello"));
}

#[test]
fn http_1_0_keep_alive_is_honoured() {
    let f = Function::start("probe", &[]);
    let mut s = f.raw();
    s.write_all(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(status_of(&String::from_utf8_lossy(&buf[..n])), 200);
    s.write_all(b"GET /b HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(status_of(&read_to_close(&mut s)), 200);
}

#[test]
fn chunked_request_body_with_extensions_and_trailers_is_decoded() {
    let f = Function::start("probe", &[]);
    let text = send_raw(
        &f,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    assert_eq!(status_of(&text), 200, "{text}");
    assert!(text.ends_with("\r\n\r\nhello world"), "{text}");
}

#[test]
fn chunked_body_split_across_writes_is_reassembled() {
    let f = Function::start("probe", &[]);
    let mut s = f.raw();
    s.set_nodelay(true).unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab")
        .unwrap();
    thread::sleep(Duration::from_millis(100));
    s.write_all(b"c\r\n0\r\n").unwrap();
    thread::sleep(Duration::from_millis(100));
    s.write_all(b"\r\nGET /state HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let text = read_to_close(&mut s);
    assert!(text.contains("\r\n\r\nabcHTTP/1.1 200"), "{text}");
}

#[test]
fn expect_100_continue_gets_an_interim_response_before_the_body() {
    let f = Function::start("probe", &[]);
    let mut s = f.raw();
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    )
    .unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"data").unwrap();
    let mut conn_text = String::new();
    while !conn_text.ends_with("data") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {conn_text}");
        conn_text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert_eq!(status_of(&conn_text), 200);
}

#[test]
fn head_request_gets_headers_without_a_body() {
    let f = Function::start("probe", &[]);
    let mut s = f.raw();
    s.write_all(b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\nGET /state HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let text = read_to_close(&mut s);
    // "content-length: 5" for the HEAD, then immediately the next response.
    assert!(
        text.contains("content-length: 5\r\n\r\nHTTP/1.1 200 OK"),
        "{text}"
    );
}

#[test]
fn event_invocation_body_reaches_the_handler_byte_for_byte() {
    let f = Function::start("probe", &[]);
    let event: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let h = [
        ("x-fc-control-path", "/invoke"),
        ("content-type", "application/octet-stream"),
    ];
    let r = f.request("POST", "/echo", &h, &event);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, event);
}

#[test]
fn connections_their_clients_close_are_closed_by_the_server_too() {
    // A worker closes such a connection only once nothing else is ready: none may be left open.
    let f = Function::start("probe", &[]);
    let sockets = || {
        std::fs::read_dir(format!("/proc/{}/fd", f.pid()))
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|l| l.to_string_lossy().starts_with("socket:"))
            .count()
    };
    let before = sockets();
    for i in 0..20 {
        let mut s = f.raw();
        if i % 2 == 0 {
            // Some answered first, as the platform's calls are; the rest only connect, as its
            // readiness probe does.
            s.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 512];
            assert!(s.read(&mut buf).unwrap() > 0);
        }
    }
    let limit = std::time::Instant::now() + Duration::from_secs(5);
    while sockets() > before && std::time::Instant::now() < limit {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        sockets(),
        before,
        "sockets left open after their clients closed"
    );
    assert_still_serving(&f);
}

#[test]
fn a_client_that_disconnects_mid_invocation_does_not_stop_the_handler() {
    let f = Function::start("probe", &[]);
    {
        let mut s = f.raw();
        s.write_all(b"GET /sleep/300 HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        thread::sleep(Duration::from_millis(50));
    } // closed while the handler sleeps
    thread::sleep(Duration::from_millis(500));
    assert_eq!(f.state().1, 1, "the handler ran to completion");
    assert!(!f.stderr().contains("panicked"));
    assert_still_serving(&f);
}
