//! Answers: a handler's response (or a reject) encoded as an HTTP/1.1 response with the
//! platform's `x-fc-status`, written in as few writes as possible.

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::conn::{reset_on_close, Conn, Timed};
use crate::head::{Head, Reject};
use crate::protocol::call_deadline;
use crate::response::{Body, Response};

/// How a request's answer is framed: taken from its head before the head is handed to the call.
#[derive(Clone, Copy)]
pub(crate) struct Framing {
    /// The connection stays open after this answer.
    pub(crate) keep_alive: bool,
    /// An HTTP/1.0 client: a kept connection must be said `keep-alive`.
    pub(crate) http10: bool,
    /// A HEAD request: no body.
    pub(crate) head_only: bool,
    /// The whole answer (a streamed one: each chunk) must be written within this:
    /// `TINYFC_WRITE_TIMEOUT_MS`, or the call's `x-fc-function-timeout` if longer.
    pub(crate) write_timeout: Duration,
}

impl Framing {
    /// The framing `head` asks for, of a call with function timeout `timeout_s`
    /// ([`Context::timeout_s`](crate::Context)); `stopping` closes the connection after the answer.
    pub(crate) fn of(head: &Head, timeout_s: Option<u32>, stopping: bool, c: &Config) -> Framing {
        Framing {
            keep_alive: head.keep_alive && !stopping,
            http10: head.http10,
            head_only: head.method == "HEAD",
            write_timeout: call_deadline(timeout_s, c.write_timeout),
        }
    }
}

/// Writes a whole answer (not a streamed one: `stream.rs`) to a worker's or the control thread's
/// connection within the stall and the whole-answer deadlines (`TINYFC_HEADER_TIMEOUT_MS`,
/// `TINYFC_WRITE_TIMEOUT_MS`). A write that timed out resets the connection when it closes, so
/// the kernel stops feeding a reader that does not read. True if the whole answer was written and
/// the connection can carry another request.
pub(crate) fn send(
    stream: &TcpStream,
    resp: &Response,
    fc_status: u16,
    framing: Framing,
    c: &Config,
) -> bool {
    let mut socket = Timed::within(stream, c.header_timeout, framing.write_timeout);
    let Framing {
        keep_alive,
        http10,
        head_only,
        write_timeout: _,
    } = framing;
    let result = write_response(&mut socket, resp, fc_status, keep_alive, http10, head_only);
    if result
        .as_ref()
        .is_err_and(|e| e.kind() == io::ErrorKind::TimedOut)
    {
        reset_on_close(stream);
    }
    result.is_ok() && keep_alive
}

/// Writes `resp` with `x-fc-status: <fc_status>`. Adds Content-Length and, when the connection
/// will close, `Connection: close`; to an HTTP/1.0 client (`http10`) whose connection is kept,
/// `Connection: keep-alive` (1.0 closes by default). `head_only` (a HEAD request) sends no body.
/// A streamed response (`Response::stream`) gets only its head, with `Transfer-Encoding: chunked`
/// in place of the length (an HTTP/1.0 client's connection must then close: `stream.rs`).
/// The response's status and headers are valid (checked where a handler's response becomes an
/// answer, `runtime.rs`).
pub(crate) fn write_response(
    stream: &mut impl Write,
    resp: &Response,
    fc_status: u16,
    keep_alive: bool,
    http10: bool,
    head_only: bool,
) -> io::Result<()> {
    // Built with plain appends into this thread's reused buffer: this runs for every answer.
    OUT.with(|out| {
        let mut out = out.borrow_mut();
        out.clear();
        let keep = match (keep_alive, http10) {
            (false, _) => Keep::Close,
            (true, false) => Keep::Alive,
            (true, true) => Keep::Alive10,
        };
        let chunked = !http10; // a streamed body's framing
        let result = encode_and_write(&mut out, stream, resp, fc_status, keep, head_only, chunked);
        if out.capacity() > 2 * INLINE_BODY {
            *out = Vec::new(); // a large answer's buffer is not kept
        }
        result
    })
}

thread_local! {
    /// The buffer answers are assembled in, one per thread.
    static OUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Bodies up to this size go out in the same write as the head.
const INLINE_BODY: usize = 64 * 1024;

/// What the answer says of the connection.
#[derive(Clone, Copy)]
enum Keep {
    /// `connection: close`.
    Close,
    /// Nothing: HTTP/1.1 keeps connections by default.
    Alive,
    /// `connection: keep-alive`, to an HTTP/1.0 client.
    Alive10,
}

fn encode_and_write(
    out: &mut Vec<u8>,
    stream: &mut impl Write,
    resp: &Response,
    fc_status: u16,
    keep: Keep,
    head_only: bool,
    chunked: bool,
) -> io::Result<()> {
    // The usual status line and x-fc-status are written whole (each append is a call at
    // opt-level z).
    if resp.status == 200 {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, u64::from(resp.status));
        out.push(b' ');
        out.extend_from_slice(reason(resp.status).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match resp.headers.as_lines() {
        Some(lines) => out.extend_from_slice(lines.as_bytes()), // one copy: the usual case
        None => {
            for (k, v) in &resp.headers {
                for part in [k.as_bytes(), b": ", v.as_bytes(), b"\r\n"] {
                    out.extend_from_slice(part);
                }
            }
        }
    }
    match fc_status {
        200 => out.extend_from_slice(b"x-fc-status: 200\r\n"),
        404 => out.extend_from_slice(b"x-fc-status: 404\r\n"),
        other => {
            out.extend_from_slice(b"x-fc-status: ");
            push_decimal(out, u64::from(other));
            out.extend_from_slice(b"\r\n");
        }
    }
    let bodyless = head_only || resp.status == 204 || resp.status == 304 || resp.status < 200;
    let has_length = resp.status != 204 && resp.status >= 200;
    let body = match &resp.body {
        Body::Bytes(body) => body,
        Body::Stream(_) => {
            if chunked && has_length {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
            }
            out.extend_from_slice(match keep {
                Keep::Alive => b"\r\n",
                Keep::Close => b"connection: close\r\n\r\n",
                Keep::Alive10 => b"connection: keep-alive\r\n\r\n",
            });
            return stream.write_all(out);
        }
    };
    if has_length {
        out.extend_from_slice(b"content-length: ");
        push_decimal(out, body.len() as u64);
    }
    // The rest of the head in one append (one per arm: a constant length is copied inline).
    match (has_length, keep) {
        (true, Keep::Alive) => out.extend_from_slice(b"\r\n\r\n"),
        (true, Keep::Close) => out.extend_from_slice(b"\r\nconnection: close\r\n\r\n"),
        (true, Keep::Alive10) => out.extend_from_slice(b"\r\nconnection: keep-alive\r\n\r\n"),
        (false, Keep::Alive) => out.extend_from_slice(b"\r\n"),
        (false, Keep::Close) => out.extend_from_slice(b"connection: close\r\n\r\n"),
        (false, Keep::Alive10) => out.extend_from_slice(b"connection: keep-alive\r\n\r\n"),
    }
    if bodyless {
        return stream.write_all(out);
    }
    if body.len() <= INLINE_BODY {
        out.extend_from_slice(body);
        stream.write_all(out)
    } else {
        stream.write_all(out)?;
        stream.write_all(body)
    }
}

/// Appends `n` in decimal, digit by digit (a few bytes: cheaper than a call to memcpy).
pub(crate) fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut unit = 1;
    while n / unit >= 10 {
        unit *= 10;
    }
    while unit > 0 {
        out.push(b'0' + (n / unit % 10) as u8);
        unit /= 10;
    }
}

/// Answers a rejected request (JSON error body), shuts the write side and marks the connection
/// closing. The answer is written without waiting (it fits the socket buffer unless the client
/// stopped reading), and errors are ignored: the connection is going away either way.
#[cold]
pub(crate) fn reject_and_close(conn: &mut Conn, r: &Reject) {
    log::debug!("rejected with {}: {}", r.status, r.message);
    // The status's reason phrase as a type name: `BadRequest`, `RequestTimeout`, ...
    let error_type: String = reason(r.status).split(' ').collect();
    let e = crate::error::Error::typed(error_type, r.message);
    let resp = crate::protocol::error_response(r.status, &e);
    // Through `Timed` with no time to wait, as `send` writes (one copy of the encoder, not two).
    let mut socket = Timed::within(&conn.stream, Duration::ZERO, Duration::ZERO);
    let _ = write_response(&mut socket, &resp, 404, false, false, false);
    let _ = conn.stream.shutdown(std::net::Shutdown::Write);
    conn.buf = Vec::new();
    conn.closing = Some(Instant::now());
}

/// The standard reason phrase (clients ignore it, but humans read it).
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_encoded_whole_for_every_status_and_connection_shape() {
        let encode = |resp: &Response, fc: u16, keep_alive: bool, head_only: bool| {
            let mut out = Vec::new();
            write_response(&mut out, resp, fc, keep_alive, false, head_only).unwrap();
            String::from_utf8(out).unwrap()
        };
        let encode10 = |resp: &Response, keep_alive: bool| {
            let mut out = Vec::new();
            write_response(&mut out, resp, 200, keep_alive, true, false).unwrap();
            String::from_utf8(out).unwrap()
        };
        let ok = Response::text("hi").header("x-a", "b");
        assert_eq!(
            encode(&ok, 200, true, false),
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\nx-a: b\r\n\
             x-fc-status: 200\r\ncontent-length: 2\r\n\r\nhi"
        );
        assert_eq!(
            encode(&Response::new(404), 404, false, false),
            "HTTP/1.1 404 Not Found\r\nx-fc-status: 404\r\ncontent-length: 0\r\n\
             connection: close\r\n\r\n"
        );
        let empty = Response::new(204);
        assert_eq!(
            encode(&empty, 200, true, false),
            "HTTP/1.1 204 No Content\r\nx-fc-status: 200\r\n\r\n"
        );
        assert_eq!(
            encode(&empty, 200, false, false),
            "HTTP/1.1 204 No Content\r\nx-fc-status: 200\r\nconnection: close\r\n\r\n"
        );
        assert_eq!(
            encode(&Response::text("hi"), 200, true, true),
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\n\
             x-fc-status: 200\r\ncontent-length: 2\r\n\r\n"
        );
        assert_eq!(
            encode10(&Response::new(200), true),
            "HTTP/1.1 200 OK\r\nx-fc-status: 200\r\ncontent-length: 0\r\n\
             connection: keep-alive\r\n\r\n"
        );
        assert_eq!(
            encode10(&empty, true),
            "HTTP/1.1 204 No Content\r\nx-fc-status: 200\r\nconnection: keep-alive\r\n\r\n"
        );
        assert_eq!(
            encode10(&Response::new(200), false),
            "HTTP/1.1 200 OK\r\nx-fc-status: 200\r\ncontent-length: 0\r\n\
             connection: close\r\n\r\n"
        );
    }

    #[test]
    fn headers_pushed_filtered_or_taken_from_a_request_are_written_as_name_value_lines() {
        let encode = |resp: &Response| {
            let mut out = Vec::new();
            write_response(&mut out, resp, 200, true, false, false).unwrap();
            String::from_utf8(out).unwrap()
        };
        let expected = "HTTP/1.1 200 OK\r\nx-a: b\r\nx-c: d\r\n\
                        x-fc-status: 200\r\ncontent-length: 0\r\n\r\n";
        let pushed = Response::new(200).header("X-A", "b").header("x-c", "d");
        assert_eq!(encode(&pushed), expected);
        let mut filtered = Response::new(200)
            .header("x-a", "b")
            .header("x-drop", "1")
            .header("x-c", "d");
        filtered.headers.retain(|name, _| name != "x-drop");
        assert_eq!(encode(&filtered), expected);
        let head = b"GET / HTTP/1.1\r\nX-A:  b \r\nHost: h\r\nx-c:d\r\n\r\n";
        let parsed = crate::head::parse_head(head, 1024).unwrap().unwrap();
        let mut copied = Response::new(200);
        copied.headers = parsed.headers;
        copied.headers.retain(|name, _| name != "host");
        assert_eq!(encode(&copied), expected);
    }

    #[test]
    fn decimals_are_written_without_padding() {
        let mut out = Vec::new();
        for n in [0, 7, 10, 204, u64::MAX] {
            push_decimal(&mut out, n);
            out.push(b' ');
        }
        assert_eq!(out, b"0 7 10 204 18446744073709551615 ");
    }
}
