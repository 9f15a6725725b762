//! A function written by hand for the `local` tests: a listener on 127.0.0.1 that answers each
//! request as the test says, so a test can make the function misbehave in ways a real runtime
//! does not (close a pooled connection, send bytes after its answer, never answer).
#![allow(dead_code)] // each test file uses a different part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tinyfc_harness::Function;

/// What the hand-written function does with its n-th request (counted from 1, over all
/// connections).
#[derive(Clone, Copy)]
pub enum Answer {
    /// Writes these bytes and keeps the connection.
    Send(&'static [u8]),
    /// Writes these bytes, then closes the connection (as a server whose keep-alive timeout ends
    /// an idle connection).
    SendClose(&'static [u8]),
    /// Closes the connection without answering.
    Close,
    /// Never answers, keeps the connection open.
    Hold,
}

/// The function: its port, the requests it got, and their heads (lower-cased).
pub struct Fake {
    pub port: u16,
    pub requests: Arc<AtomicUsize>,
    pub heads: Arc<Mutex<Vec<String>>>,
    /// Connections held open (Answer::Hold), so they are not closed before the test ends.
    _held: Arc<Mutex<Vec<TcpStream>>>,
}

/// A plain 200 answer with body `ok`.
pub const OK: &[u8] = b"HTTP/1.1 200 OK\r\nx-fc-status: 200\r\ncontent-length: 2\r\n\r\nok";

/// A function that answers request `n` (with head `head`, lower-cased) as `answer(n, head)` says.
pub fn fake(answer: fn(usize, &str) -> Answer) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let held = Arc::new(Mutex::new(Vec::new()));
    let (count, seen, hold) = (requests.clone(), heads.clone(), held.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (count, seen, hold) = (count.clone(), seen.clone(), hold.clone());
            std::thread::spawn(move || serve(conn, &count, &seen, &hold, answer));
        }
    });
    Fake {
        port,
        requests,
        heads,
        _held: held,
    }
}

/// Reads requests (head and Content-Length body) from one connection and answers them.
fn serve(
    mut conn: TcpStream,
    count: &AtomicUsize,
    heads: &Mutex<Vec<String>>,
    held: &Mutex<Vec<TcpStream>>,
    answer: fn(usize, &str) -> Answer,
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
        heads.lock().unwrap().push(head.clone());
        match answer(n, &head) {
            Answer::Send(bytes) => {
                if conn.write_all(bytes).is_err() {
                    return;
                }
            }
            Answer::SendClose(bytes) => {
                let _ = conn.write_all(bytes);
                return;
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
/// initializer; the instance process is a `sleep` that only keeps the instance alive, and the
/// function, started outside `local`, listens on 127.0.0.1 alone: `--external-function`).
pub fn serving(f: &Fake, args: &[&str]) -> Function {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"));
    cmd.args(["local", "--listen", "127.0.0.1:0", "--no-initializer"])
        .args(["--port", &f.port.to_string(), "--external-function"])
        .args(args)
        .args(["--", "sleep", "600"]);
    Function::spawn(cmd, "front door on http://127.0.0.1:")
}
