//! Streamed answers (`Response::stream`) through real sockets: chunked framing, chunks sent as
//! they are produced, a client that goes away, a producer that fails, and where the invocation's
//! `FC Invoke End` line comes.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tinyfc_harness::*;

/// Sends `GET <path>` as an HTTP invocation with request id `rid` on a raw socket.
fn get(f: &Function, path: &str, rid: &str, extra: &str) -> TcpStream {
    let mut s = f.raw();
    let req = format!(
        "GET {path} HTTP/1.1\r\nhost: t\r\nx-fc-control-path: /http-invoke\r\n\
         x-fc-request-id: {rid}\r\n{extra}\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    s
}

#[test]
fn five_events_arrive_as_chunks_spread_in_time_then_the_terminating_chunk() {
    let f = Function::start("probe", &[]);
    let mut s = get(&f, "/stream/5", "s-1", "");
    let started = Instant::now();
    let r = read_chunked(&mut s, usize::MAX);
    let head = r.head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 "), "{head}");
    assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
    assert!(
        head.contains("content-type: text/event-stream\r\n"),
        "{head}"
    );
    assert!(!head.contains("content-length"), "{head}");
    let events: Vec<String> = r
        .chunks
        .iter()
        .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
        .collect();
    assert_eq!(
        events,
        (0..5).map(|i| format!("data: {i}\n\n")).collect::<Vec<_>>()
    );
    assert!(r.terminated, "no terminating chunk");
    // 400 ms of sleeps separate the first event from the last: the first must not have waited
    // for the whole stream.
    let first = r.chunks[0].0;
    let last = r.chunks[4].0;
    assert!(
        last - first >= Duration::from_millis(200),
        "{:?}",
        last - first
    );
    assert!(started.elapsed() < HANG);
    // The connection stays open for the next request.
    s.write_all(b"GET /x HTTP/1.1\r\nhost: t\r\nx-fc-control-path: /http-invoke\r\nconnection: close\r\n\r\n")
        .unwrap();
    let next = read_to_close(&mut s);
    assert_eq!(status_of(&next), 200, "{next}");
    assert!(next.ends_with("hello"), "{next}");
}

#[test]
fn invoke_end_is_logged_after_the_last_chunk() {
    let f = Function::start("probe", &[]);
    let mut s = get(&f, "/stream/5", "s-end", "");
    let r = read_chunked(&mut s, 3);
    assert_eq!(r.chunks.len(), 3);
    // Two events (200 ms) are still to come: the invocation has not ended.
    assert!(
        !f.stdout().contains("FC Invoke End RequestId: s-end"),
        "{}",
        f.stdout()
    );
    let rest = read_until(&mut s, b"0\r\n\r\n"); // the terminating chunk
    assert!(rest.ends_with("data: 4\n\n\r\n0\r\n\r\n"), "{rest:?}");
    assert!(f.wait_stdout("FC Invoke End RequestId: s-end"));
    let out = f.stdout();
    let sent = out.find("probe: stream sent 5 events").unwrap();
    let end = out.find("FC Invoke End RequestId: s-end").unwrap();
    assert!(sent < end, "{out}");
}

#[test]
fn a_client_gone_mid_stream_stops_the_producer_and_frees_the_worker() {
    let f = Function::start("probe", &[("TINYFC_WORKERS", "1")]);
    let mut s = get(&f, "/stream/100", "s-gone", "");
    let r = read_chunked(&mut s, 2);
    assert_eq!(r.chunks.len(), 2);
    drop(s);
    // The producer's next writes fail: it stops (and says so) well before its 10 s of events.
    assert!(
        f.wait_stdout("probe: stream stopped at event"),
        "{}",
        f.stdout()
    );
    let asked = Instant::now();
    let r = f.http("GET", "/after");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert!(f.wait_stdout("FC Invoke End RequestId: s-gone"));
    let logs = f.stdout() + &f.stderr();
    assert!(
        logs.contains("the client stopped taking the stream"),
        "{logs}"
    );
}

#[test]
fn a_write_larger_than_a_chunk_goes_out_as_64_kib_chunks() {
    let f = Function::start("probe", &[]);
    // Two `write_all`s of 1 MiB, each then flushed.
    let mut s = get(&f, "/stream-big/2", "s-big", "");
    let r = read_chunked(&mut s, usize::MAX);
    assert!(r.terminated, "no terminating chunk: {}", r.head);
    let sizes: Vec<usize> = r.chunks.iter().map(|(_, c)| c.len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 2 << 20);
    assert_eq!(sizes, vec![64 * 1024; 32], "one chunk per 64 KiB written");
}

#[test]
fn a_producer_error_is_logged_and_cuts_the_stream_without_its_terminating_chunk() {
    let f = Function::start("probe", &[]);
    let mut s = get(&f, "/stream-fail/2", "s-fail", "");
    let r = read_chunked(&mut s, usize::MAX);
    assert!(r.head.starts_with("HTTP/1.1 200 "), "{}", r.head);
    assert_eq!(r.chunks.len(), 2);
    assert!(!r.terminated, "a failed stream must not look complete");
    assert!(f.wait_stdout("FC Invoke End RequestId: s-fail"));
    let logs = f.stdout() + &f.stderr();
    assert!(
        logs.contains("the stream failed after 2 chunks and was cut short: probe stream error"),
        "{logs}"
    );
    assert_still_serving(&f);
}

#[test]
fn an_http10_client_gets_the_stream_unchunked_until_the_close() {
    let f = Function::start("probe", &[]);
    let mut s = f.raw();
    s.write_all(
        b"GET /stream/3 HTTP/1.0\r\nx-fc-control-path: /http-invoke\r\nconnection: keep-alive\r\n\r\n",
    )
    .unwrap();
    let text = read_to_close(&mut s);
    let lower = text.to_ascii_lowercase();
    assert!(lower.contains("connection: close\r\n"), "{text}");
    assert!(!lower.contains("transfer-encoding"), "{text}");
    assert!(
        text.ends_with("\r\n\r\ndata: 0\n\ndata: 1\n\ndata: 2\n\n"),
        "{text}"
    );
}

#[test]
fn an_http10_client_of_a_failing_stream_sees_a_reset_not_a_clean_end() {
    use std::io::Read;
    let f = Function::start("probe", &[]);
    let mut s = f.raw();
    s.write_all(b"GET /stream-fail/2 HTTP/1.0\r\nx-fc-control-path: /http-invoke\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(HANG)).unwrap();
    let mut buf = [0u8; 4096];
    let end = loop {
        match s.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(_) => {}
            Err(e) => break Err(e.kind()),
        }
    };
    // Its body ends at the close: a clean close would read as the whole body.
    assert_eq!(end, Err(std::io::ErrorKind::ConnectionReset));
}

#[test]
fn a_head_request_gets_the_streamed_answers_head_only() {
    let f = Function::start("probe", &[]);
    let mut s = f.raw();
    s.write_all(
        b"HEAD /stream/3 HTTP/1.1\r\nhost: t\r\nx-fc-control-path: /http-invoke\r\nconnection: close\r\n\r\n",
    )
    .unwrap();
    let text = read_to_close(&mut s);
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "{text}");
    assert!(!text.contains("data:"), "{text}");
}

#[test]
fn an_event_invocation_gets_the_stream_collected_and_its_error_fails_it() {
    let f = Function::start("probe", &[]);
    let h = [("x-fc-control-path", "/invoke"), ("x-fc-request-id", "e-1")];
    let r = f.request("POST", "/stream/3", &h, b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-fc-status"), Some("200"));
    assert_eq!(r.text(), "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    assert!(r.header("content-length").is_some());

    let h = [("x-fc-control-path", "/invoke"), ("x-fc-request-id", "e-2")];
    let r = f.request("POST", "/stream-fail/2", &h, b"");
    assert_eq!(r.header("x-fc-status"), Some("404"), "{}", r.text());
    assert!(r.text().contains("probe stream error"), "{}", r.text());
}

#[test]
fn a_client_that_stops_reading_is_cut_off_within_a_chunks_write_deadline() {
    let f = Function::start(
        "probe",
        &[("TINYFC_WORKERS", "1"), ("TINYFC_WRITE_TIMEOUT_MS", "500")],
    );
    // 256 MiB that the client never reads: the socket buffers fill within the first chunks.
    let s = get(&f, "/stream-big/256", "s-stall", "");
    assert!(
        f.wait_stdout("probe: stream stopped at chunk"),
        "{}",
        f.stdout()
    );
    let out = f.stdout();
    assert!(out.contains("timed out"), "{out}");
    assert!(f.wait_stdout("FC Invoke End RequestId: s-stall"));
    // The worker is free again.
    let asked = Instant::now();
    let r = f.http("GET", "/after");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert!(asked.elapsed() < Duration::from_secs(5));
    drop(s);
}
