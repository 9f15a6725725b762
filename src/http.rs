//! The HTTP/1.1 connection layer on `httparse`: request heads, bodies (Content-Length or chunked),
//! and responses. It decides what is malformed; the poller and workers decide when to read.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::protocol::{Headers, Response};

/// The most headers a request may have; more is answered 431.
const MAX_HEADERS: usize = 128;
/// Bytes read at a time while a head arrives, on the stack: heads are small, and a smaller buffer
/// touches fewer fresh stack pages on a new thread.
const READ_CHUNK: usize = 2048;
/// Bodies up to this size are copied out of the connection's buffer; larger ones take it over.
const SMALL_BODY: usize = 4096;
/// The longest chunk-size line (with extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;

/// A client connection with its read buffer (which may hold pipelined requests).
pub(crate) struct Conn {
    /// Its place in the poller's table (see `poller.rs`).
    pub(crate) token: u64,
    /// True when the last read from the socket found it empty: the poller is edge-triggered, so
    /// a connection goes back to it only drained (or it would not hear of input already there).
    pub(crate) drained: bool,
    pub(crate) stream: TcpStream,
    /// Bytes read but not yet consumed.
    pub(crate) buf: Vec<u8>,
    /// When the current request's first byte arrived (None while idle).
    pub(crate) head_started: Option<Instant>,
    /// When the connection last finished a request or was accepted.
    pub(crate) idle_since: Instant,
    /// Set once an error answer was sent: the write side is shut and what the client still sends
    /// is read and dropped until it closes (or a short linger ends), so the answer is not lost to
    /// a TCP reset.
    pub(crate) closing: Option<Instant>,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream) -> Conn {
        Conn {
            token: 0,
            drained: false,
            stream,
            buf: Vec::new(),
            head_started: None,
            idle_since: Instant::now(),
            closing: None,
        }
    }
}

/// A request head, parsed and checked.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    /// Header names lower-cased, values as text (invalid UTF-8 replaced).
    pub(crate) headers: Headers,
    /// Bytes of the head, including the final blank line.
    pub(crate) len: usize,
    pub(crate) body: BodyKind,
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
}

/// How the request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Length(u64),
    Chunked,
}

/// A request the server refuses: answered with `status` and the connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reject {
    pub(crate) status: u16,
    pub(crate) message: &'static str,
}

const fn reject(status: u16, message: &'static str) -> Reject {
    Reject { status, message }
}

/// Headers parsed into a stack array first; a head with more is parsed again on the heap.
const FEW_HEADERS: usize = 32;
const TOO_MANY_HEADERS: Reject = reject(431, "too many headers");

/// Parses the head at the start of `buf`: `Ok(None)` while incomplete.
pub(crate) fn parse_head(buf: &[u8], max_bytes: usize) -> Result<Option<Head>, Reject> {
    // Most heads fit a small array; the rare larger one costs a second parse, and every thread's
    // stack stays a page shallower. Left uninitialised: httparse writes what it returns, and
    // zeroing 1 KiB of headers cost more than parsing a short head.
    let mut few = [const { MaybeUninit::uninit() }; FEW_HEADERS];
    match parse_with(buf, max_bytes, &mut few) {
        Err(r) if r == TOO_MANY_HEADERS => {
            let mut many: Vec<_> = std::iter::repeat_with(MaybeUninit::uninit)
                .take(MAX_HEADERS)
                .collect();
            parse_with(buf, max_bytes, &mut many)
        }
        other => other,
    }
}

fn parse_with<'b>(
    buf: &'b [u8],
    max_bytes: usize,
    headers: &mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Option<Head>, Reject> {
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, headers) {
        Ok(httparse::Status::Complete(n)) if n > max_bytes => {
            return Err(reject(431, "request head too large"))
        }
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > max_bytes => {
            return Err(reject(431, "request head too large"))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(TOO_MANY_HEADERS),
        Err(_) => return Err(reject(400, "malformed request")),
    };
    let version = req.version.unwrap_or(1);
    let method = req.method.unwrap_or("").to_string();
    let path = req.path.unwrap_or("").to_string();
    let absolute = path.starts_with("http://") || path.starts_with("https://");
    if !path.starts_with('/') && path != "*" && !absolute {
        return Err(reject(400, "bad request target"));
    }
    let headers = Headers::from_head(&buf[..len], req.headers);

    let mut length: Option<u64> = None;
    let mut has_te = false;
    let mut codings: Vec<String> = Vec::new();
    let mut connection = String::new();
    let mut expect_continue = false;
    for (name, value) in &headers {
        // On the length first: a `match` on strings alone compares with every arm in turn.
        match (name.len(), name) {
            (14, "content-length") => {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(reject(400, "invalid content-length"));
                }
                let n: u64 = value
                    .parse()
                    .map_err(|_| reject(400, "invalid content-length"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(reject(400, "conflicting content-length"));
                }
                length = Some(n);
            }
            (17, "transfer-encoding") => {
                has_te = true;
                codings.extend(
                    value
                        .split(',')
                        .map(|c| c.trim().to_ascii_lowercase())
                        .filter(|c| !c.is_empty()),
                );
            }
            (10, "connection") => {
                connection.push_str(&value.to_ascii_lowercase());
                connection.push(',');
            }
            (6, "expect") => expect_continue = value.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
    }
    let body = match (has_te, length) {
        (true, Some(_)) => return Err(reject(400, "both content-length and transfer-encoding")),
        (true, None) if version == 0 => {
            return Err(reject(400, "transfer-encoding in an HTTP/1.0 request"))
        }
        (true, None) if codings == ["chunked"] => BodyKind::Chunked,
        (true, None) if codings.last().is_some_and(|c| c == "chunked") => {
            return Err(reject(501, "unsupported transfer-encoding"))
        }
        (true, None) => return Err(reject(400, "invalid transfer-encoding")),
        (false, n) => BodyKind::Length(n.unwrap_or(0)),
    };
    let has = |token: &str| connection.split(',').any(|t| t.trim() == token);
    let keep_alive = if version == 0 {
        has("keep-alive")
    } else {
        !has("close")
    };
    Ok(Some(Head {
        method,
        path,
        headers,
        len,
        body,
        keep_alive,
        expect_continue,
    }))
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Answer this and close.
    Reject(Reject),
    /// The client went away or the socket failed: close without answering.
    Gone,
}

impl From<Reject> for BodyError {
    fn from(r: Reject) -> Self {
        BodyError::Reject(r)
    }
}

/// Reads the body of `head` from `conn` (its buffer first, then the socket, each read waiting at
/// most `stall`). Consumes the head and body from the buffer.
pub(crate) fn read_body(
    conn: &mut Conn,
    head: &Head,
    max: usize,
    stall: Duration,
) -> Result<Vec<u8>, BodyError> {
    conn.buf.drain(..head.len);
    if let BodyKind::Length(n) = head.body {
        if n > max as u64 {
            return Err(reject(413, "request body too large").into());
        }
    }
    let expects_body = head.body != BodyKind::Length(0);
    let mut socket = Timed::new(&conn.stream, stall);
    if head.expect_continue && expects_body && conn.buf.is_empty() {
        socket
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .map_err(|_| BodyError::Gone)?;
    }
    let mut input = Input {
        buf: &mut conn.buf,
        src: socket,
    };
    let body = input.body(head.body, max);
    if input.src.used {
        conn.drained = false; // it may have read only part of what is there
    }
    body
}

/// Buffered bytes plus the source they came from; the body decoder reads through it.
pub(crate) struct Input<'a, R: Read> {
    pub(crate) buf: &'a mut Vec<u8>,
    pub(crate) src: R,
}

impl<R: Read> Input<'_, R> {
    /// Decodes one body of `kind`, at most `max` bytes, leaving what follows it in the buffer.
    pub(crate) fn body(&mut self, kind: BodyKind, max: usize) -> Result<Vec<u8>, BodyError> {
        match kind {
            BodyKind::Length(n) if n > max as u64 => {
                Err(reject(413, "request body too large").into())
            }
            BodyKind::Length(n) => {
                let n = n as usize;
                while self.buf.len() < n {
                    self.fill(n - self.buf.len())?;
                }
                if n <= SMALL_BODY {
                    // Copied out, so the connection keeps its buffer for the next request.
                    let body = self.buf[..n].to_vec();
                    self.buf.drain(..n);
                    return Ok(body);
                }
                let rest = self.buf.split_off(n);
                Ok(std::mem::replace(self.buf, rest))
            }
            BodyKind::Chunked => self.chunked(max),
        }
    }

    /// Decodes a chunked body: `size[;ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF`.
    fn chunked(&mut self, max: usize) -> Result<Vec<u8>, BodyError> {
        let mut body = Vec::new();
        loop {
            let line = self.line(MAX_CHUNK_LINE)?;
            let size = line.split(|&b| b == b';').next().unwrap_or(&[]);
            let size = std::str::from_utf8(size)
                .ok()
                .map(|s| s.trim_matches(|c| c == ' ' || c == '\t'))
                .filter(|s| !s.is_empty() && s.len() <= 16)
                .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|s| u64::from_str_radix(s, 16).ok())
                .ok_or(reject(400, "invalid chunk size"))?;
            if size == 0 {
                // Trailers are read and dropped, bounded like a head.
                let mut trailer_bytes = 0;
                loop {
                    let t = self.line(MAX_CHUNK_LINE)?;
                    trailer_bytes += t.len() + 2;
                    if t.is_empty() {
                        return Ok(body);
                    }
                    if trailer_bytes > MAX_CHUNK_LINE * 4 {
                        return Err(reject(431, "trailers too large").into());
                    }
                }
            }
            if size > (max - body.len()) as u64 {
                return Err(reject(413, "request body too large").into());
            }
            let size = size as usize;
            while self.buf.len() < size + 2 {
                self.fill(size + 2 - self.buf.len())?;
            }
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(reject(400, "chunk not followed by CRLF").into());
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }

    /// Takes one CRLF-terminated line (without the CRLF) off the buffer.
    fn line(&mut self, max: usize) -> Result<Vec<u8>, BodyError> {
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + i;
                if end == 0 || self.buf[end - 1] != b'\r' {
                    return Err(reject(400, "bare LF in chunked body").into());
                }
                let line = self.buf[..end - 1].to_vec();
                self.buf.drain(..=end);
                return Ok(line);
            }
            scanned = self.buf.len();
            if scanned > max {
                return Err(reject(400, "chunk line too long").into());
            }
            self.fill(1)?;
        }
    }

    /// Reads at least one more byte into the buffer (up to `want`, 16 KiB to 1 MiB at a time).
    fn fill(&mut self, want: usize) -> Result<(), BodyError> {
        let old = self.buf.len();
        let step = want.clamp(16 * 1024, 1024 * 1024);
        self.buf.resize(old + step, 0);
        let r = self.src.read(&mut self.buf[old..]);
        self.buf.truncate(old + *r.as_ref().unwrap_or(&0));
        match r {
            Ok(0) => Err(BodyError::Gone),
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(reject(408, "request body timed out").into())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(_) => Err(BodyError::Gone),
        }
    }
}

/// Writes `resp` with `x-fc-status: <fc_status>`. Adds Content-Length and, when the connection
/// will close, `Connection: close`. `head_only` (a HEAD request) sends no body.
pub(crate) fn write_response(
    stream: &mut impl Write,
    resp: &Response,
    fc_status: u16,
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    // Built with plain appends into this thread's reused buffer: this runs for every answer.
    OUT.with(|out| {
        let mut out = out.borrow_mut();
        out.clear();
        let result = encode_and_write(&mut out, stream, resp, fc_status, keep_alive, head_only);
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

fn encode_and_write(
    out: &mut Vec<u8>,
    stream: &mut impl Write,
    resp: &Response,
    fc_status: u16,
    keep_alive: bool,
    head_only: bool,
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
    for (k, v) in &resp.headers {
        // A header value with CR or LF would split the response: drop it.
        let breaks = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n');
        if breaks(k) || breaks(v) {
            continue;
        }
        for part in [k.as_bytes(), b": ", v.as_bytes(), b"\r\n"] {
            out.extend_from_slice(part);
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
    if has_length {
        out.extend_from_slice(b"content-length: ");
        push_decimal(out, resp.body.len() as u64);
    }
    // The rest of the head in one append.
    out.extend_from_slice(match (has_length, keep_alive) {
        (true, true) => b"\r\n\r\n",
        (true, false) => b"\r\nconnection: close\r\n\r\n",
        (false, true) => b"\r\n",
        (false, false) => b"connection: close\r\n\r\n",
    });
    if bodyless {
        return stream.write_all(out);
    }
    if resp.body.len() <= INLINE_BODY {
        out.extend_from_slice(&resp.body);
        stream.write_all(out)
    } else {
        stream.write_all(out)?;
        stream.write_all(&resp.body)
    }
}

/// Appends `n` in decimal.
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Answers a rejected request (JSON error body), shuts the write side and marks the connection
/// closing. The answer is written without waiting (it fits the socket buffer unless the client
/// stopped reading), and errors are ignored: the connection is going away either way.
#[cold]
pub(crate) fn reject_and_close(conn: &mut Conn, r: &Reject) {
    log::debug!("rejected with {}: {}", r.status, r.message);
    let e = crate::error::Error::typed("BadRequest", r.message);
    let resp = Response::error(r.status, &e);
    let _ = write_response(&mut conn.stream, &resp, 404, false, false);
    let _ = conn.stream.shutdown(std::net::Shutdown::Write);
    conn.buf = Vec::new();
    conn.closing = Some(Instant::now());
}

/// Reads what is available without blocking, keeping at most `max_head + 1` bytes buffered (one
/// more than a head may have, enough to know it is too large). False: closed or failed.
pub(crate) fn read_available(conn: &mut Conn, max_head: usize) -> bool {
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        let room = (max_head + 1).saturating_sub(conn.buf.len());
        if room == 0 {
            conn.drained = false;
            return true;
        }
        let want = room.min(chunk.len());
        match conn.stream.read(&mut chunk[..want]) {
            Ok(0) => return false,
            Ok(n) => {
                conn.buf.extend_from_slice(&chunk[..n]);
                if n < want {
                    // Drained: what arrives after this read is a new edge for the poller. No
                    // second read just to see it fail.
                    conn.drained = true;
                    return true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                conn.drained = true;
                return true;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Reads and drops what a closing connection sends. False once the client has closed.
#[cold]
pub(crate) fn discard_available(conn: &mut Conn) -> bool {
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        match conn.stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                conn.drained = true;
                return true;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// A non-blocking socket used as a blocking one: each read or write waits at most `stall` for the
/// socket to become ready, then fails with `TimedOut`. Sockets stay non-blocking for their whole
/// life, so handing a connection between threads changes no socket mode (no fcntl per hand-off).
pub(crate) struct Timed<'a> {
    stream: &'a TcpStream,
    stall: Duration,
    /// Set once it has read from the socket.
    used: bool,
}

impl<'a> Timed<'a> {
    pub(crate) fn new(stream: &'a TcpStream, stall: Duration) -> Timed<'a> {
        Timed {
            stream,
            stall,
            used: false,
        }
    }

    fn wait(&self, events: i16) -> io::Result<()> {
        if wait_ready(self.stream, events, self.stall) {
            Ok(())
        } else {
            Err(io::ErrorKind::TimedOut.into())
        }
    }
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.used = true;
        loop {
            match (&*self.stream).read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(libc::POLLIN)?,
                r => return r,
            }
        }
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match (&*self.stream).write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(libc::POLLOUT)?,
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Waits up to `timeout` for `events` (POLLIN, POLLOUT) on `stream`; true if ready (or closed, or
/// interrupted: the caller's next read or write tells which).
pub(crate) fn wait_ready(stream: &TcpStream, events: i16, timeout: Duration) -> bool {
    let mut fd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events,
        revents: 0,
    };
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut fd, 1, ms) };
    n > 0 || (n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted)
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

    fn parse(s: &str) -> Result<Option<Head>, Reject> {
        parse_head(s.as_bytes(), 1024)
    }

    #[test]
    fn incomplete_head_waits_and_oversized_head_is_431() {
        assert!(parse("GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(2000));
        assert_eq!(parse(&long).unwrap_err().status, 431);
    }

    #[test]
    fn smuggling_shapes_are_rejected() {
        let both = "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(both).unwrap_err().status, 400);
        let two = "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n";
        assert_eq!(parse(two).unwrap_err().status, 400);
        let gz = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        assert_eq!(parse(gz).unwrap_err().status, 501);
        let signed = "POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n";
        assert_eq!(parse(signed).unwrap_err().status, 400);
        assert_eq!(parse("GET httpx HTTP/1.1\r\n\r\n").unwrap_err().status, 400);
        assert!(parse("GET http://h/p HTTP/1.1\r\n\r\n").unwrap().is_some());
    }

    #[test]
    fn answers_are_encoded_whole_for_every_status_and_connection_shape() {
        let encode = |resp: &Response, fc: u16, keep_alive: bool, head_only: bool| {
            let mut out = Vec::new();
            write_response(&mut out, resp, fc, keep_alive, head_only).unwrap();
            String::from_utf8(out).unwrap()
        };
        let ok = Response::text("hi")
            .header("x-a", "b")
            .header("x-bad", "c\r\nd");
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

    #[test]
    fn heads_with_many_headers_parse_up_to_the_limit() {
        let head = |n: usize| {
            let mut h = String::from("GET / HTTP/1.1\r\n");
            for i in 0..n {
                h.push_str(&format!("x-h{i}: v\r\n"));
            }
            h + "\r\n"
        };
        for n in [FEW_HEADERS, FEW_HEADERS + 1, MAX_HEADERS] {
            let parsed = parse_head(head(n).as_bytes(), 1 << 20).unwrap().unwrap();
            assert_eq!(parsed.headers.len(), n);
        }
        let r = parse_head(head(MAX_HEADERS + 1).as_bytes(), 1 << 20).unwrap_err();
        assert_eq!(r, TOO_MANY_HEADERS);
    }

    #[test]
    fn keep_alive_follows_version_and_connection_header() {
        assert!(parse("GET / HTTP/1.1\r\n\r\n").unwrap().unwrap().keep_alive);
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap().keep_alive);
        let ka = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
        assert!(parse(ka).unwrap().unwrap().keep_alive);
        let close = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        assert!(!parse(close).unwrap().unwrap().keep_alive);
    }
}
