//! Request bodies: Content-Length or chunked, decoded from a connection's buffer and then its
//! socket. The same decoder reads the client's response bodies (`client.rs`).

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use crate::budget::Reservation;
use crate::conn::{Conn, Timed};
use crate::grammar::chunk_size;
use crate::head::{check_trailers, reject, BodyKind, Head, Reject};

/// Bodies up to this size are copied out of the connection's buffer; larger ones take it over.
const SMALL_BODY: usize = 4096;
/// The smallest read into a buffer.
const MIN_READ: usize = 16 * 1024;
/// The longest chunk-size line (with extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;

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
/// most `stall`, and none past `deadline`: 408 then). Consumes the head and body from the buffer.
/// With `held`, the body's bytes are reserved in the body budget before they are read (a declared
/// length at once, before `100 Continue`; a chunked body chunk by chunk).
pub(crate) fn read_body(
    conn: &mut Conn,
    head: &Head,
    max: usize,
    stall: Duration,
    deadline: Instant,
    mut held: Option<&mut Reservation<'_>>,
) -> Result<Vec<u8>, BodyError> {
    conn.buf.drain(..head.len);
    if let BodyKind::Length(n) = head.body {
        if n > max as u64 {
            return Err(reject(413, "request body too large").into());
        }
        if let Some(held) = held.as_deref_mut() {
            held.grow(n as usize, deadline)?; // waits with the body unread
        }
    }
    let expects_body = head.body != BodyKind::Length(0);
    let mut socket = Timed::until(&conn.stream, stall, deadline);
    if head.expect_continue && expects_body && conn.buf.is_empty() {
        socket
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .map_err(|_| BodyError::Gone)?;
    }
    let mut input = Input {
        buf: &mut conn.buf,
        src: socket,
    };
    let body = match (head.body, held) {
        (BodyKind::Chunked, Some(held)) => {
            input.body_within(head.body, max, &mut |n| held.grow(n, deadline))
        }
        _ => input.body(head.body, max),
    };
    if input.src.used {
        conn.caught_up = false; // it may have read only part of what is there
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
        self.body_within(kind, max, &mut |_| Ok(()))
    }

    /// [`Input::body`], calling `grow` with each chunk's size before its data is read.
    fn body_within(
        &mut self,
        kind: BodyKind,
        max: usize,
        grow: &mut dyn FnMut(usize) -> Result<(), Reject>,
    ) -> Result<Vec<u8>, BodyError> {
        match kind {
            BodyKind::Length(n) if n > max as u64 => {
                Err(reject(413, "request body too large").into())
            }
            BodyKind::Length(n) => {
                let n = n as usize;
                // Room for the whole body (and a last read's step) at once: doubling as it
                // arrives would touch up to twice its size.
                let missing = n.saturating_sub(self.buf.len());
                if missing > 0 {
                    self.buf.reserve_exact(missing + MIN_READ);
                }
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
            BodyKind::Chunked => self.chunked(max, grow),
        }
    }

    /// Decodes a chunked body: `size[;ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF` (the grammar
    /// of `grammar::chunk_size`; trailers by the head's field rules, then dropped).
    fn chunked(
        &mut self,
        max: usize,
        grow: &mut dyn FnMut(usize) -> Result<(), Reject>,
    ) -> Result<Vec<u8>, BodyError> {
        let mut body = Vec::new();
        loop {
            let line = self.line(MAX_CHUNK_LINE)?;
            let size = chunk_size(&line).ok_or(reject(400, "invalid chunk size"))?;
            if size == 0 {
                return self.trailers().map(|()| body);
            }
            // `max - body.len()` cannot underflow: the body never grows past `max`.
            let room = max - body.len();
            let Some(with_crlf) = usize::try_from(size)
                .ok()
                .filter(|&n| n <= room)
                .and_then(|n| n.checked_add(2))
            else {
                return Err(reject(413, "request body too large").into());
            };
            let size = with_crlf - 2;
            grow(size)?;
            while self.buf.len() < with_crlf {
                self.fill(with_crlf - self.buf.len())?;
            }
            if &self.buf[size..with_crlf] != b"\r\n" {
                return Err(reject(400, "chunk not followed by CRLF").into());
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..with_crlf);
        }
    }

    /// Reads the trailer section up to its blank line and checks it by the head's field rules;
    /// bounded like a head.
    fn trailers(&mut self) -> Result<(), BodyError> {
        let mut section = Vec::new();
        loop {
            let line = self.line(MAX_CHUNK_LINE)?;
            section.extend_from_slice(&line);
            section.extend_from_slice(b"\r\n");
            if line.is_empty() {
                return Ok(check_trailers(&section)?);
            }
            if section.len() > MAX_CHUNK_LINE * 4 {
                return Err(reject(431, "trailers too large").into());
            }
        }
    }

    /// Takes one CRLF-terminated line of at most `max` bytes (without the CRLF) off the buffer.
    fn line(&mut self, max: usize) -> Result<Vec<u8>, BodyError> {
        // The LF of a line of `max` bytes is at `max + 1`: a limit on where it is found, not on
        // what one read brought, so a long line is 400 however the client split it.
        let too_long = max + 2;
        let mut scanned = 0;
        loop {
            let found = self.buf[scanned..].iter().position(|&b| b == b'\n');
            match found.map(|i| scanned + i) {
                Some(end) if end >= too_long => break,
                Some(end) if end == 0 || self.buf[end - 1] != b'\r' => {
                    return Err(reject(400, "bare LF in chunked body").into());
                }
                Some(end) => {
                    let line = self.buf[..end - 1].to_vec();
                    self.buf.drain(..=end);
                    return Ok(line);
                }
                None if self.buf.len() >= too_long => break,
                None => scanned = self.buf.len(),
            }
            self.fill(1)?;
        }
        Err(reject(400, "chunk line too long").into())
    }

    /// Reads at least one more byte into the buffer (up to `want`, 16 KiB to 1 MiB at a time).
    fn fill(&mut self, want: usize) -> Result<(), BodyError> {
        let old = self.buf.len();
        let step = want.clamp(MIN_READ, 1024 * 1024);
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
