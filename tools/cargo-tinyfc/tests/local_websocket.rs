//! `cargo tinyfc local` passing a WebSocket upgrade through its front door to the probe's `/ws`
//! echo. Run with `cargo test -p cargo-tinyfc --features websocket --test local_websocket`.
#![cfg(feature = "websocket")]

use std::net::TcpStream;
use std::process::Command;

use tinyfc_harness::*;
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

/// The local platform serving its front door on a free port, with the probe behind it.
fn serving(env: &[(&str, &str)]) -> Function {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"));
    cmd.args(["local", "--listen", "127.0.0.1:0", "--"])
        .arg(example("probe"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    Function::spawn(cmd, "front door on http://127.0.0.1:")
}

/// Opens the probe's `/ws` through the front door.
fn open(f: &Function) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect(f.addr()).unwrap();
    stream.set_read_timeout(Some(HANG)).unwrap();
    let req = format!("ws://{}/ws", f.addr())
        .into_client_request()
        .unwrap();
    let (socket, resp) = tungstenite::client::client(req, stream).unwrap();
    assert_eq!(resp.status(), 101);
    assert!(resp.headers().contains_key("x-fc-request-id"));
    socket
}

#[test]
fn the_front_door_passes_a_websocket_through_and_the_echo_works() {
    let f = serving(&[]);
    let mut socket = open(&f);
    for text in ["one", "two"] {
        socket.send(Message::text(text)).unwrap();
        assert_eq!(socket.read().unwrap(), Message::text(text));
    }
    let bytes = vec![1u8; 70_000];
    socket.send(Message::binary(bytes.clone())).unwrap();
    assert_eq!(socket.read().unwrap(), Message::binary(bytes));
    socket.close(None).unwrap();
    // The function answers our close (an empty close echoes as one) and the tunnel ends.
    assert!(matches!(socket.read(), Ok(Message::Close(_))));
    assert!(matches!(
        socket.read(),
        Err(tungstenite::Error::ConnectionClosed)
    ));
    // The front door still serves ordinary calls, and refuses a bad upgrade with the
    // function's 400.
    let r = f.http("GET", "/ws");
    assert_eq!((r.status, &r.body[..]), (200, &b"hello"[..]));
    let bad = send_raw(
        &f,
        b"GET /ws HTTP/1.1\r\nhost: t\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-version: 12\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert_eq!(status_of(&bad), 400, "{bad}");
}

#[test]
fn stopping_the_local_platform_closes_an_open_socket_with_1001_through_the_front_door() {
    let mut f = serving(&[("TINYFC_DRAIN_MS", "300")]);
    let mut socket = open(&f);
    socket.send(Message::text("before")).unwrap();
    assert_eq!(socket.read().unwrap(), Message::text("before"));
    f.signal(libc::SIGTERM);
    let code = loop {
        match socket.read() {
            Ok(Message::Close(frame)) => break frame.map(|f| f.code),
            Ok(_) => {}
            Err(e) => panic!("the socket ended without a close frame: {e}"),
        }
    };
    assert_eq!(code, Some(CloseCode::Away));
    let status = f.wait_exit(HANG).expect("the platform did not stop");
    assert_eq!(status.code(), Some(0));
}
