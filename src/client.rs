//! A small blocking HTTP/1.1 client on `std::net` + `httparse`.
//!
//! It is what `tinyfc::testing::TestServer` answers with (its [`Response`]) and
//! what a function's tests use to talk to it over a socket, so it is part of the API; `cargo
//! tinyfc local`, the benchmark and tinyfc's own tests use it too. One keep-alive connection at a
//! time, Content-Length or chunked response bodies, nothing else.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::body::{BodyError, Input};
use crate::head::BodyKind;

mod streamed;

pub use streamed::BodyReader;
use streamed::{framing_of, Framing};

/// The most response-head bytes the client accepts before it gives up.
const MAX_HEAD: usize = 64 * 1024;
/// The largest response body a connection accepts unless told otherwise
/// ([`Connection::set_max_body`]): 8 times FC's 32 MiB limit on a synchronous call.
pub const DEFAULT_MAX_BODY: usize = 256 * 1024 * 1024;

/// A complete HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// The headers in the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// The whole body (chunked bodies already decoded).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive TCP connection to a server.
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    max_body: usize,
}

impl Connection {
    /// Connects with `timeout` as the connect, read and write timeout.
    pub fn connect(addr: impl ToSocketAddrs, timeout: Duration) -> io::Result<Connection> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address");
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(timeout))?;
                    stream.set_write_timeout(Some(timeout))?;
                    stream.set_nodelay(true)?;
                    return Ok(Connection {
                        stream,
                        buf: Vec::new(),
                        max_body: DEFAULT_MAX_BODY,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Sets the largest response body accepted ([`DEFAULT_MAX_BODY`] unless set); a larger one is
    /// an error of kind `InvalidData`.
    pub fn set_max_body(&mut self, bytes: usize) {
        self.max_body = bytes;
    }

    /// The underlying stream, e.g. to change its timeouts or shut it down.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Sends one request without reading its answer. `Content-Length` is added, and `Host:
    /// localhost` unless `headers` has a Host.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<()> {
        let mut req = format!("{method} {path} HTTP/1.1\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str("Host: localhost\r\n");
        }
        for (k, v) in headers {
            req.push_str(k);
            req.push_str(": ");
            req.push_str(v);
            req.push_str("\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut out = req.into_bytes();
        out.extend_from_slice(body);
        self.stream.write_all(&out)?;
        Ok(())
    }

    /// Sends one request and reads its response (see [`Connection::send`] for what is added).
    /// A read timeout shows as an error of kind `WouldBlock` or `TimedOut`; a peer that closed
    /// early as `UnexpectedEof`.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        self.send(method, path, headers, body)?;
        self.read_response(method.eq_ignore_ascii_case("HEAD"))
    }

    /// Reads a response's head (its `body` left empty) and hands back the connection as a
    /// reader of the body as it arrives, for answers streamed in chunks. `head_only`: the answer
    /// to a HEAD request, which has no body.
    pub fn read_streaming(mut self, head_only: bool) -> io::Result<(Response, BodyReader)> {
        let resp = self.read_head()?;
        let framing = if head_only || resp.status == 204 || resp.status == 304 {
            Framing::Length(0)
        } else {
            framing_of(&resp)?
        };
        if matches!(framing, Framing::Length(n) if n > self.max_body as u64) {
            return Err(invalid("response body too large"));
        }
        let remaining = self.max_body;
        let reader = BodyReader {
            conn: self,
            framing,
            remaining,
        };
        Ok((resp, reader))
    }

    /// Reads one response from the connection (after a request was written by other means).
    pub fn read_response(&mut self, head_only: bool) -> io::Result<Response> {
        let mut resp = self.read_head()?;
        if !head_only && resp.status != 204 && resp.status != 304 {
            resp.body = self.read_body(&resp)?;
        }
        Ok(resp)
    }

    /// Reads a final response's head (1xx answers are skipped); the body is left unread.
    fn read_head(&mut self) -> io::Result<Response> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 128];
            let mut parsed = httparse::Response::new(&mut headers);
            match parsed.parse(&self.buf).map_err(invalid)? {
                httparse::Status::Complete(n) => {
                    let status = parsed.code.unwrap_or(0);
                    let headers: Vec<(String, String)> = parsed
                        .headers
                        .iter()
                        .map(|h| {
                            let v = String::from_utf8_lossy(h.value).into_owned();
                            (h.name.to_string(), v)
                        })
                        .collect();
                    self.buf.drain(..n);
                    if status / 100 == 1 {
                        continue; // 100 Continue and friends: the real answer follows.
                    }
                    return Ok(Response {
                        status,
                        headers,
                        body: Vec::new(),
                    });
                }
                httparse::Status::Partial if self.buf.len() > MAX_HEAD => {
                    return Err(invalid("response head too large"));
                }
                httparse::Status::Partial => self.fill()?,
            }
        }
    }

    /// The body, decoded by the same code as the server's request bodies (`body::Input`), at most
    /// `max_body` bytes.
    fn read_body(&mut self, resp: &Response) -> io::Result<Vec<u8>> {
        let kind = match framing_of(resp)? {
            Framing::Chunked(_) => BodyKind::Chunked,
            Framing::Length(n) => BodyKind::Length(n),
            Framing::UntilClose => {
                // No length: the body runs until the server closes.
                while self.fill_or_eof()? {
                    if self.buf.len() > self.max_body {
                        return Err(invalid("response body too large"));
                    }
                }
                return Ok(std::mem::take(&mut self.buf));
            }
        };
        let mut input = Input {
            buf: &mut self.buf,
            src: &mut self.stream,
        };
        input.body(kind, self.max_body).map_err(|e| match e {
            // A read that hit the socket's timeout.
            BodyError::Reject(r) if r.status == 408 => {
                io::Error::new(io::ErrorKind::TimedOut, r.message)
            }
            BodyError::Reject(r) if r.status == 413 => invalid("response body too large"),
            BodyError::Reject(r) => invalid(r.message),
            BodyError::Gone => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed or failed before the response was complete",
            ),
        })
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.fill_or_eof()? {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the response was complete",
            ))
        }
    }

    /// Reads more bytes into the buffer; false at end of stream.
    fn fill_or_eof(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n > 0);
                }
                // A stopped and resumed process sees EINTR here even with no signal handler.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Sends one request on a fresh connection and returns the response.
pub fn request(
    addr: impl ToSocketAddrs,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<Response> {
    Connection::connect(addr, timeout)?.request(method, path, headers, body)
}

fn invalid(e: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-connection server that answers each request (up to its blank line) with the next of
    /// `answers`, written in small pieces so the client must read across them.
    fn serve(answers: &'static [&'static str]) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = Vec::new();
            for answer in answers {
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut chunk = [0u8; 1024];
                    let n = s.read(&mut chunk).unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                buf.clear();
                for piece in answer.as_bytes().chunks(7) {
                    s.write_all(piece).unwrap();
                    s.flush().unwrap();
                }
            }
        });
        addr
    }

    #[test]
    fn decodes_length_and_chunked_bodies_on_one_connection() {
        let addr = serve(&[
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        ]);
        let mut c = Connection::connect(addr, Duration::from_secs(10)).unwrap();
        let r = c.request("GET", "/a", &[], b"").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        let r = c.request("GET", "/b", &[], b"").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abcde"[..]));
        let r = c.request("GET", "/c", &[], b"").unwrap();
        assert_eq!((r.status, r.body.len()), (204, 0));
    }

    #[test]
    fn a_streamed_body_is_read_piece_by_piece_then_the_connection_is_reused() {
        let addr = serve(&[
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        ]);
        let mut c = Connection::connect(addr, Duration::from_secs(10)).unwrap();
        c.send("GET", "/a", &[], b"").unwrap();
        let (r, mut body) = c.read_streaming(false).unwrap();
        assert_eq!((r.status, r.body.len()), (200, 0));
        let mut pieces = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            let n = body.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            pieces.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        assert!(pieces.len() >= 2, "{pieces:?}"); // read as it arrives, not whole
        assert_eq!(pieces.concat(), "abcde");
        let mut c = body.into_connection().expect("read to its end");
        let r = c.request("GET", "/b", &[], b"").unwrap();
        assert_eq!(r.body, b"hello");
    }

    #[test]
    fn a_streamed_body_cut_short_is_unexpected_eof() {
        let addr = serve(&["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"]);
        let mut c = Connection::connect(addr, Duration::from_secs(10)).unwrap();
        c.send("GET", "/", &[], b"").unwrap();
        let (_, mut body) = c.read_streaming(false).unwrap();
        let mut out = Vec::new();
        let e = body.read_to_end(&mut out).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        assert_eq!(out, b"abc");
    }

    #[test]
    fn a_bad_chunk_is_invalid_data_and_a_cut_body_is_unexpected_eof() {
        let addr = serve(&["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]);
        let mut c = Connection::connect(addr, Duration::from_secs(10)).unwrap();
        let e = c.request("GET", "/", &[], b"").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");

        let addr = serve(&["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"]);
        let mut c = Connection::connect(addr, Duration::from_secs(10)).unwrap();
        let e = c.request("GET", "/", &[], b"").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
    }

    #[test]
    fn a_chunk_size_past_the_limit_is_invalid_data_not_a_panic() {
        for size in ["ffffffffffffffff", "fffffffffffffffe", "10000001"] {
            let answer =
                format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nabc");
            let addr = serve(Box::leak(vec![&*answer.leak()].into_boxed_slice()));
            let mut c = Connection::connect(addr, Duration::from_secs(10)).unwrap();
            c.set_max_body(1 << 28);
            let e = c.request("GET", "/", &[], b"").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{size}: {e}");
        }
    }

    #[test]
    fn a_body_longer_than_the_limit_is_invalid_data() {
        let addr = serve(&[
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\nabc",
            "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
        ]);
        let mut c = Connection::connect(addr, Duration::from_secs(10)).unwrap();
        let e = c.request("GET", "/", &[], b"").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");

        let addr = serve(&["HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world"]);
        let mut c = Connection::connect(addr, Duration::from_secs(10)).unwrap();
        c.set_max_body(10);
        let e = c.request("GET", "/", &[], b"").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    }

    #[test]
    fn a_stalled_body_is_a_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut chunk = [0u8; 1024];
            let _ = s.read(&mut chunk).unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
                .unwrap();
            std::thread::sleep(Duration::from_secs(3)); // holds the connection open, silent
        });
        let mut c = Connection::connect(addr, Duration::from_millis(300)).unwrap();
        let e = c.request("GET", "/", &[], b"").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    }
}
