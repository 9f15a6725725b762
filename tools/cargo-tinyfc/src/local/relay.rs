//! A function's streamed (chunked) answer relayed to the caller as it arrives, chunk by chunk.

use std::io::{Read, Write};

use tiny_http::Request;
use tinyfc::client::BodyReader;

use crate::say;

/// Relays a function's streamed answer to the caller as it arrives: each piece read from the
/// function is written and flushed as one chunk (to an HTTP/1.0 caller: as plain bytes, then
/// the connection closes). tiny_http's own response writer buffers chunks of 8 KiB, so the head
/// and chunks are written here on its raw writer. A caller that goes away ends the relay, which
/// drops the connection to the function, whose next write then fails. A stream the function cut
/// short is cut for the caller too: tiny_http keeps the caller's socket, so the cut is a chunk
/// size line no decoder accepts rather than a close.
pub fn relay(req: Request, status: u16, headers: &[(String, String)], mut body: BodyReader) {
    let http10 = req.http_version() == &tiny_http::HTTPVersion(1, 0);
    let (method, url) = (req.method().to_string(), req.url().to_string());
    let mut out = req.into_writer();
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(if http10 {
        "Connection: close\r\n\r\n"
    } else {
        "Transfer-Encoding: chunked\r\n\r\n"
    });
    let mut sent = out.write_all(head.as_bytes()).and_then(|()| out.flush());
    let mut buf = vec![0u8; 16 * 1024];
    while sent.is_ok() {
        let n = match body.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                say!("{method} {url}: the function's stream was cut: {e}");
                if !http10 {
                    let _ = out.write_all(b"stream cut\r\n").and_then(|()| out.flush());
                }
                return;
            }
        };
        sent = if http10 {
            out.write_all(&buf[..n])
        } else if n == 0 {
            out.write_all(b"0\r\n\r\n")
        } else {
            out.write_all(format!("{n:x}\r\n").as_bytes())
                .and_then(|()| out.write_all(&buf[..n]))
                .and_then(|()| out.write_all(b"\r\n"))
        }
        .and_then(|()| out.flush());
        if n == 0 {
            return;
        }
    }
    say!("{method} {url}: the caller went away during the stream");
}

/// The reason phrase of the statuses a function commonly streams with.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        206 => "Partial Content",
        _ => "Status",
    }
}
