//! A small blocking HTTP/1.1 client on `std::net` + `httparse`.
//!
//! It is what `tinyfc-local`, the benchmark and the tests use to talk to a function: one keep-alive
//! connection at a time, Content-Length or chunked response bodies, nothing else.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The most response-head bytes the client accepts before it gives up.
const MAX_HEAD: usize = 64 * 1024;

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
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The underlying stream, e.g. to change its timeouts or shut it down.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Sends one request and reads its response. `Content-Length` is added, and `Host:
    /// localhost` unless `headers` has a Host. A read timeout shows as an error of kind
    /// `WouldBlock` or `TimedOut`; a peer that closed early as `UnexpectedEof`.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
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
        self.read_response(method.eq_ignore_ascii_case("HEAD"))
    }

    /// Reads one response from the connection (after a request was written by other means).
    pub fn read_response(&mut self, head_only: bool) -> io::Result<Response> {
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
                    let mut resp = Response {
                        status,
                        headers,
                        body: Vec::new(),
                    };
                    if !head_only && status != 204 && status != 304 {
                        resp.body = self.read_body(&resp)?;
                    }
                    return Ok(resp);
                }
                httparse::Status::Partial if self.buf.len() > MAX_HEAD => {
                    return Err(invalid("response head too large"));
                }
                httparse::Status::Partial => self.fill()?,
            }
        }
    }

    fn read_body(&mut self, resp: &Response) -> io::Result<Vec<u8>> {
        let chunked = resp
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
        if chunked {
            return self.read_chunked();
        }
        match resp.header("content-length") {
            Some(cl) => {
                let len: usize = cl.trim().parse().map_err(invalid)?;
                self.take(len)
            }
            None => {
                // No length: the body runs until the server closes.
                while self.fill_or_eof()? {}
                Ok(std::mem::take(&mut self.buf))
            }
        }
    }

    fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.line()?;
            let size_hex = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16).map_err(invalid)?;
            if size == 0 {
                // Trailers, then the empty line.
                while !self.line()?.is_empty() {}
                return Ok(body);
            }
            body.extend_from_slice(&self.take(size)?);
            if !self.line()?.is_empty() {
                return Err(invalid("chunk not followed by CRLF"));
            }
        }
    }

    fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            self.fill()?;
        }
    }

    fn take(&mut self, len: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < len {
            self.fill()?;
        }
        let rest = self.buf.split_off(len);
        Ok(std::mem::replace(&mut self.buf, rest))
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
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
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
