//! WebSocket for HTTP functions (feature `websocket`), through real sockets against the probe's
//! `/ws` echo. Run with `cargo test --features websocket --test websocket`.
#![cfg(feature = "websocket")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tinyfc_harness::*;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{client::IntoClientRequest, Message, WebSocket};

/// Opens the probe's `/ws` as the platform would pass it on (an HTTP invocation).
fn open(f: &Function) -> WebSocket<TcpStream> {
    open_with(f, &[])
}

/// [`open`] with more request headers.
fn open_with(f: &Function, headers: &[(&'static str, &str)]) -> WebSocket<TcpStream> {
    open_path(f, "/ws", headers)
}

/// Opens `path` with `headers` (answered 101).
fn open_path(f: &Function, path: &str, headers: &[(&'static str, &str)]) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect(f.addr()).unwrap();
    stream.set_read_timeout(Some(HANG)).unwrap();
    let mut req = format!("ws://{}{path}", f.addr())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("x-fc-request-id", "ws-1".parse().unwrap());
    for (k, v) in headers {
        req.headers_mut().insert(*k, v.parse().unwrap());
    }
    let (socket, resp) = tungstenite::client::client(req, stream).unwrap();
    assert_eq!(resp.status(), 101);
    socket
}

/// Reads until a close frame arrives; its code (None: the connection ended without one).
fn close_code(socket: &mut WebSocket<TcpStream>) -> Option<CloseCode> {
    loop {
        match socket.read() {
            Ok(Message::Close(frame)) => return frame.map(|f| f.code),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

fn echo_once(socket: &mut WebSocket<TcpStream>, text: &str) {
    socket.send(Message::text(text)).unwrap();
    assert_eq!(socket.read().unwrap(), Message::text(text));
}

#[test]
fn ws_echoes_text_and_binary_messages_and_closes_with_1000() {
    let f = Function::start("probe", &[]);
    let mut socket = open(&f);
    echo_once(&mut socket, "hello, socket");
    let big = vec![7u8; 100_000];
    socket.send(Message::binary(big.clone())).unwrap();
    assert_eq!(socket.read().unwrap(), Message::binary(big));
    socket.send(Message::binary(Vec::new())).unwrap();
    assert_eq!(socket.read().unwrap(), Message::binary(Vec::new()));
    socket.close(None).unwrap();
    // Our close is answered and the connection ends.
    assert!(matches!(socket.read(), Ok(Message::Close(_))));
    assert!(matches!(
        socket.read(),
        Err(tungstenite::Error::ConnectionClosed)
    ));
    assert_still_serving(&f);
}

#[test]
fn under_an_fc_base_path_the_socket_path_is_matched_on_the_route_path() {
    let f = Function::start("probe", &[]);
    let base = [("x-fc-base-path", "/2016-08-15/proxy/svc/fn")];
    let mut socket = open_path(&f, "/2016-08-15/proxy/svc/fn/ws?token=1", &base);
    echo_once(&mut socket, "under a base path");
    socket.close(None).unwrap();
    // A base path that is not a prefix of the path leaves the path whole, which is not `/ws`:
    // the upgrade goes to the invocation handler, not to a socket.
    let upgrade = [
        ("x-fc-base-path", "/2016-08-15/proxy/svc/other"),
        ("upgrade", "websocket"),
        ("connection", "upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let r = f.request("GET", "/2016-08-15/proxy/svc/fn/ws", &upgrade, b"");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
}

#[test]
fn bad_upgrades_http_1_0_included_are_answered_400_and_plain_gets_go_to_the_handler() {
    let f = Function::start("probe", &[]);
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let bad = [
        format!("GET /ws HTTP/1.1\r\nhost: t\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-version: 12\r\nsec-websocket-key: {key}\r\n\r\n"),
        "GET /ws HTTP/1.1\r\nhost: t\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-version: 13\r\n\r\n".to_string(),
        format!("GET /ws HTTP/1.1\r\nhost: t\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: {key}\r\n\r\n"),
        format!("GET /ws HTTP/1.1\r\nhost: t\r\nupgrade: h2c\r\nconnection: upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: {key}\r\n\r\n"),
        format!("POST /ws HTTP/1.1\r\nhost: t\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: {key}\r\ncontent-length: 0\r\n\r\n"),
        "GET /ws HTTP/1.1\r\nhost: t\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: short==\r\n\r\n".to_string(),
        // A valid handshake but for the version: HTTP/1.0 has no upgrade (RFC 6455 4.2.1).
        format!("GET /ws HTTP/1.0\r\nhost: t\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: {key}\r\n\r\n"),
    ];
    for req in &bad {
        let answer = send_raw(&f, req.as_bytes());
        assert_eq!(status_of(&answer), 400, "{req:?} got {answer:?}");
        assert!(answer
            .to_ascii_lowercase()
            .contains("sec-websocket-version: 13"));
    }
    // No Upgrade header: an ordinary invocation of the handler.
    let r = f.http("GET", "/ws");
    assert_eq!((r.status, &r.body[..]), (200, &b"hello"[..]));
    // The valid handshake, by hand: the RFC 6455 example key and its accept value.
    let mut s = f.raw();
    let req = format!("GET /ws HTTP/1.1\r\nhost: t\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: {key}\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut head = [0u8; 512];
    let n = s.read(&mut head).unwrap();
    let head = String::from_utf8_lossy(&head[..n]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101 "), "{head}");
    assert!(head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="));
}

#[test]
fn pre_stop_closes_an_open_socket_with_1001_after_the_drain_limit_logging_no_error() {
    let f = Function::start("probe", &[("TINYFC_DRAIN_MS", "300")]);
    let mut socket = open(&f);
    echo_once(&mut socket, "before");
    let stop = f.pre_stop("stop");
    assert_eq!(stop.status, 200);
    assert_eq!(close_code(&mut socket), Some(CloseCode::Away));
    assert!(f.wait_stdout("probe: pre-stop after"));
    // The handler's error from the closed socket is the stop's, not a failure of the function.
    assert!(f.wait_stdout("WebSocket handler ended by the stop"));
    assert!(!f.stdout().contains("ERROR"), "{}", f.stdout());
    // A new life serves sockets again.
    let mut again = open(&f);
    echo_once(&mut again, "after");
}

#[test]
fn sigterm_closes_an_open_socket_with_1001_and_exits_0() {
    let mut f = Function::start("probe", &[("TINYFC_DRAIN_MS", "300")]);
    let mut socket = open(&f);
    echo_once(&mut socket, "before");
    f.signal(libc::SIGTERM);
    assert_eq!(close_code(&mut socket), Some(CloseCode::Away));
    let status = f.wait_exit(HANG).expect("exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn an_open_socket_holds_its_worker_so_with_one_worker_the_next_request_waits_for_it() {
    let f = Function::start("probe", &[("TINYFC_WORKERS", "1")]);
    let mut socket = open(&f);
    echo_once(&mut socket, "busy");
    let mut waiting = calls_in_flight(&f, 1, "/").pop().unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 64];
    let early = waiting.read(&mut buf);
    assert!(
        early.is_err(),
        "answered while the only worker holds a socket: {:?}",
        String::from_utf8_lossy(&buf),
    );
    socket.close(None).unwrap();
    assert!(matches!(socket.read(), Ok(Message::Close(_))));
    waiting.set_read_timeout(Some(HANG)).unwrap();
    let answer = read_to_close(&mut waiting);
    assert_eq!(status_of(&answer), 200, "{answer}");
}

#[test]
fn at_the_function_timeout_the_connection_closes_without_a_close_frame_as_on_fc() {
    let f = Function::start("probe", &[]);
    let mut socket = open_with(&f, &[("x-fc-function-timeout", "1")]);
    echo_once(&mut socket, "in time");
    // No close frame: the client sees the abnormal closure FC reports as 1006.
    assert_eq!(close_code(&mut socket), None);
    assert_still_serving(&f);
}

/// A frame written raw, for what a well-behaved client never sends: `first` is the FIN, RSV and
/// opcode byte; the payload (under 126 bytes) masked with a fixed key if `masked`.
fn raw_frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut frame = vec![first];
    let len = payload.len() as u8;
    if !masked {
        frame.push(len);
        frame.extend_from_slice(payload);
        return frame;
    }
    let key = [1u8, 2, 3, 4];
    frame.push(0x80 | len);
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

#[test]
fn a_clients_protocol_violation_is_closed_with_rfc_6455_codes_and_logged_as_the_clients() {
    let f = Function::start("probe", &[("TINYFC_MAX_BODY_BYTES", "1000")]);
    let cases: [(&str, Vec<u8>, CloseCode); 6] = [
        (
            "invalid UTF-8 in a text message",
            raw_frame(0x81, &[0xff, 0xfe], true),
            CloseCode::Invalid,
        ),
        (
            "an unmasked frame",
            raw_frame(0x82, b"hi", false),
            CloseCode::Protocol,
        ),
        (
            "a reserved bit",
            raw_frame(0xc2, b"hi", true),
            CloseCode::Protocol,
        ),
        (
            "a reserved data opcode",
            raw_frame(0x83, b"hi", true),
            CloseCode::Protocol,
        ),
        (
            "a one-byte close payload",
            raw_frame(0x88, &[3], true),
            CloseCode::Protocol,
        ),
        ("a message over the limit", Vec::new(), CloseCode::Size),
    ];
    for (what, frame, code) in cases {
        let mut socket = open(&f);
        echo_once(&mut socket, "before");
        if frame.is_empty() {
            socket.send(Message::binary(vec![0u8; 2000])).unwrap();
        } else {
            socket.get_mut().write_all(&frame).unwrap();
        }
        assert_eq!(close_code(&mut socket), Some(code), "{what}");
    }
    assert!(f.wait_stdout("the WebSocket client broke the protocol (1009)"));
    let out = f.stdout();
    assert!(!out.contains("WebSocket handler failed"), "{out}");
    assert_eq!(
        count(&out, "the WebSocket client broke the protocol"),
        6,
        "{out}"
    );
    assert_still_serving(&f);
}

/// A function whose `/ws` echoes text until the client closes.
fn echo_function() -> tinyfc::Function {
    use tinyfc::websocket::{tungstenite, Message, Socket};
    tinyfc::Function::new(|_, _, _| Ok(tinyfc::Response::text("hello"))).websocket(
        "/ws",
        |_, _, _, socket: &mut Socket<'_>| loop {
            match socket.read() {
                Ok(m @ Message::Text(_)) => socket
                    .send(m)
                    .map_err(|e| tinyfc::Error::msg(e.to_string()))?,
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
                Err(e) => return Err(tinyfc::Error::msg(e.to_string())),
            }
        },
    )
}

/// Opens `/ws` on a test server.
fn open_on(addr: std::net::SocketAddr) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(HANG)).unwrap();
    let req = format!("ws://{addr}/ws").into_client_request().unwrap();
    let (socket, resp) = tungstenite::client::client(req, stream).unwrap();
    assert_eq!(resp.status(), 101);
    socket
}

#[test]
fn a_message_well_over_a_large_limit_is_closed_with_1009_and_nothing_reads_on() {
    // After a message over the limit the socket is failed (RFC 6455 7.1.7): nothing more is read
    // from it (reading on tripped an assertion inside tungstenite in debug builds).
    let f = Function::start("probe", &[("TINYFC_MAX_BODY_BYTES", "100000")]);
    let mut socket = open(&f);
    echo_once(&mut socket, "before");
    // The server fails the socket from the frame's header, with most of it still coming.
    let _ = socket.send(Message::binary(vec![7u8; 300_000]));
    std::thread::sleep(Duration::from_millis(1500));
    let out = f.stdout();
    assert!(!out.contains("panic"), "{out}");
    assert!(
        f.wait_stdout("the WebSocket client broke the protocol (1009)"),
        "{out}"
    );
    assert_still_serving(&f);
}

#[test]
fn one_test_servers_drain_leaves_another_servers_sockets_open() {
    let mut config = tinyfc::Config::default();
    config.drain = Duration::from_millis(300);
    let a = tinyfc::testing::TestServer::start_with(config.clone(), echo_function()).unwrap();
    let b = tinyfc::testing::TestServer::start_with(config, echo_function()).unwrap();
    let mut on_a = open_on(a.addr());
    let mut on_b = open_on(b.addr());
    echo_once(&mut on_a, "before");
    echo_once(&mut on_b, "before");
    // B's drain limit passes with its socket open: B's sockets go away, A's stay.
    assert_eq!(b.pre_stop().unwrap().status, 200);
    assert_eq!(close_code(&mut on_b), Some(CloseCode::Away));
    echo_once(&mut on_a, "after B's drain");
}
