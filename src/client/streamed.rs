//! Response bodies read as they arrive (a function's streamed answers), and the framing every
//! response body is read by.

use std::io::{self, Read};

use super::{invalid, Connection, Response, MAX_HEAD};

/// How a response body is framed.
pub(super) enum Framing {
    /// Chunked: what is left of the current chunk's data (None: a size line comes next).
    Chunked(Option<u64>),
    /// Content-Length: the bytes still to come.
    Length(u64),
    /// No length: the body runs until the server closes.
    UntilClose,
}

/// The framing `resp`'s headers say.
pub(super) fn framing_of(resp: &Response) -> io::Result<Framing> {
    let chunked = resp
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
    match resp.header("content-length") {
        _ if chunked => Ok(Framing::Chunked(None)),
        Some(cl) if !cl.is_empty() && cl.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Framing::Length(cl.parse().map_err(invalid)?))
        }
        Some(cl) => Err(invalid(format!("invalid content-length {cl:?}"))),
        None => Ok(Framing::UntilClose),
    }
}

/// A response body read as it arrives ([`Connection::read_streaming`]): each read returns what
/// has come so far (chunked bodies decoded), without waiting for the rest; 0 at its end. A
/// connection closed before the end is an error of kind `UnexpectedEof`.
pub struct BodyReader {
    pub(super) conn: Connection,
    pub(super) framing: Framing,
    /// Bytes the body may still have ([`Connection::set_max_body`]).
    pub(super) remaining: usize,
}

impl BodyReader {
    /// The connection, for the next request, once the body was read to its end (None before,
    /// for a body that ran until the server closed, or when the server sent bytes past its
    /// answer, such as a body on a HEAD answer: they would be read as the next answer).
    pub fn into_connection(self) -> Option<Connection> {
        (matches!(self.framing, Framing::Length(0)) && self.conn.buf.is_empty())
            .then_some(self.conn)
    }

    /// The next piece of the body as it arrived: for a chunked body one whole chunk (what the
    /// server sent between two flushes), else whatever the next read gives; None at the end.
    pub fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut chunk = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = self.read(&mut buf)?;
            if n == 0 {
                return Ok((!chunk.is_empty()).then_some(chunk));
            }
            chunk.extend_from_slice(&buf[..n]);
            if !matches!(self.framing, Framing::Chunked(Some(left)) if left > 0) {
                return Ok(Some(chunk));
            }
        }
    }

    /// Reads the next size line of a chunked body (and, after the last chunk, its trailers):
    /// the size, or None at the end of the body.
    fn chunk_size(&mut self) -> io::Result<Option<u64>> {
        loop {
            match httparse::parse_chunk_size(&self.conn.buf) {
                Ok(httparse::Status::Complete((n, 0))) => {
                    self.conn.buf.drain(..n);
                    self.trailers()?;
                    return Ok(None);
                }
                Ok(httparse::Status::Complete((n, size))) => {
                    if size > self.remaining as u64 {
                        return Err(invalid("response body too large"));
                    }
                    self.conn.buf.drain(..n);
                    return Ok(Some(size));
                }
                Ok(httparse::Status::Partial) if self.conn.buf.len() > MAX_HEAD => {
                    return Err(invalid("chunk size line too long"))
                }
                Ok(httparse::Status::Partial) => self.conn.fill()?,
                Err(_) => return Err(invalid("invalid chunk size line")),
            }
        }
    }

    /// Skips the trailer section up to its blank line.
    fn trailers(&mut self) -> io::Result<()> {
        loop {
            let buf = &self.conn.buf;
            if let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") {
                self.conn.buf.drain(..eol + 2);
                if eol == 0 {
                    return Ok(());
                }
            } else if buf.len() > MAX_HEAD {
                return Err(invalid("trailers too large"));
            } else {
                self.conn.fill()?;
            }
        }
    }

    /// Moves up to `out.len()` and at most `left` buffered (or newly read) bytes into `out`.
    fn take(&mut self, out: &mut [u8], left: u64) -> io::Result<usize> {
        if self.conn.buf.is_empty() {
            self.conn.fill()?;
        }
        if self.remaining == 0 {
            return Err(invalid("response body too large"));
        }
        let n = out
            .len()
            .min(self.conn.buf.len())
            .min(self.remaining)
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        self.remaining -= n;
        out[..n].copy_from_slice(&self.conn.buf[..n]);
        self.conn.buf.drain(..n);
        Ok(n)
    }
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.framing {
                Framing::Length(0) => return Ok(0),
                Framing::Length(left) => {
                    let n = self.take(out, left)?;
                    self.framing = Framing::Length(left - n as u64);
                    return Ok(n);
                }
                Framing::UntilClose => {
                    if self.conn.buf.is_empty() && !self.conn.fill_or_eof()? {
                        return Ok(0);
                    }
                    return self.take(out, u64::MAX);
                }
                Framing::Chunked(None) => {
                    self.framing = match self.chunk_size()? {
                        Some(size) => Framing::Chunked(Some(size)),
                        None => Framing::Length(0),
                    };
                }
                Framing::Chunked(Some(0)) => {
                    while self.conn.buf.len() < 2 {
                        self.conn.fill()?;
                    }
                    if &self.conn.buf[..2] != b"\r\n" {
                        return Err(invalid("a chunk does not end with CRLF"));
                    }
                    self.conn.buf.drain(..2);
                    self.framing = Framing::Chunked(None);
                }
                Framing::Chunked(Some(left)) => {
                    let n = self.take(out, left)?;
                    self.framing = Framing::Chunked(Some(left - n as u64));
                    return Ok(n);
                }
            }
        }
    }
}
