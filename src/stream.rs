//! Streamed answers (`Response::stream`): the head goes out first, then the producer runs on the
//! worker and each of its flushes is sent as one chunk, so a body is never held whole.
//!
//! Each chunk has its own write deadline (`TINYFC_WRITE_TIMEOUT_MS`, with the stall limit): a
//! stream may last as long as its producer likes, but a client that stops taking it is dropped
//! within one deadline. A failed write (the client went away, or the deadline passed) is
//! returned to the producer, and every later write fails too, so the producer stops and the
//! worker is freed. An error the producer returns after the head cannot change the status any
//! more: it is logged and the stream is cut (no terminating chunk, the connection closes), which
//! is what tells a client the body is incomplete.

use std::io::{self, Write};
use std::net::TcpStream;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::answer::{write_response, Framing};
use crate::config::Config;
use crate::conn::{reset_on_close, Timed};
use crate::error::Error;
use crate::response::{Body, Response};

/// What the producer may write without a flush before it is sent as a chunk anyway.
pub(crate) const MAX_CHUNK: usize = 64 * 1024;

/// Writes `resp`'s head, then runs its producer, sending each flush as a chunk (to an HTTP/1.0
/// client: as plain bytes, ended by closing the connection). True if the stream was written
/// whole and the connection can carry another request.
pub(crate) fn send_streamed(
    stream: &TcpStream,
    resp: Response,
    fc_status: u16,
    framing: Framing,
    c: &Config,
) -> bool {
    // Only chunked framing says where the body ends: an HTTP/1.0 client reads to the close.
    let keep_alive = framing.keep_alive && !framing.http10;
    let mut socket = Timed::within(stream, c.header_timeout, framing.write_timeout);
    let head = write_response(
        &mut socket,
        &resp,
        fc_status,
        keep_alive,
        framing.http10,
        framing.head_only,
    );
    if let Err(e) = head {
        stopped_by_client(stream, &e, 0);
        return false;
    }
    let bodyless = framing.head_only || resp.status == 204 || resp.status == 304;
    if bodyless {
        return keep_alive; // the producer is dropped unrun
    }
    let Body::Stream(produce) = resp.body else {
        log::error!("a response without a stream was sent as one: the stream is cut");
        return false;
    };
    let mut w = Chunks {
        stream,
        c,
        write_timeout: framing.write_timeout,
        chunked: !framing.http10,
        buf: Vec::new(),
        out: Vec::new(),
        failed: None,
        sent: 0,
    };
    let result = catch_unwind(AssertUnwindSafe(|| produce.produce(&mut w)))
        .unwrap_or_else(|panic| Err(io::Error::other(Error::from_panic(panic).to_string())))
        .and_then(|()| w.finish());
    match (result, &w.failed) {
        (Ok(()), _) => keep_alive,
        (Err(_), Some(e)) => {
            stopped_by_client(stream, e, w.sent);
            false
        }
        (Err(e), None) => {
            log::error!(
                "the stream failed after {} chunks and was cut short: {e}",
                w.sent
            );
            if framing.http10 {
                // Read to the close, an HTTP/1.0 body has no end of its own to leave out: a
                // reset is what tells its client the body is incomplete.
                reset_on_close(stream);
            }
            false
        }
    }
}

/// Logs a stream the client stopped taking; a timed-out one is reset when it closes.
fn stopped_by_client(stream: &TcpStream, e: &io::Error, sent: usize) {
    if e.kind() == io::ErrorKind::TimedOut {
        reset_on_close(stream);
    }
    log::warn!("the client stopped taking the stream after {sent} chunks: {e}");
}

/// The writer a producer gets: buffers what it writes, sends it as a chunk on each flush.
struct Chunks<'a> {
    stream: &'a TcpStream,
    c: &'a Config,
    /// Each chunk must be written within this (see [`Framing::write_timeout`]).
    write_timeout: std::time::Duration,
    /// Chunked framing (HTTP/1.1); else plain bytes.
    chunked: bool,
    /// Written since the last chunk.
    buf: Vec<u8>,
    /// A chunk with its framing, reused.
    out: Vec<u8>,
    /// The socket error that ended the stream: every later write fails with it.
    failed: Option<io::Error>,
    /// Chunks sent.
    sent: usize,
}

impl Chunks<'_> {
    /// The error a write gets once the socket failed.
    fn check(&self) -> io::Result<()> {
        match &self.failed {
            Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
            None => Ok(()),
        }
    }

    /// Sends what was written as one chunk, within its own write deadline.
    fn send_chunk(&mut self) -> io::Result<()> {
        self.check()?;
        if self.buf.is_empty() {
            return Ok(()); // an empty chunk would end the body
        }
        self.out.clear();
        if self.chunked {
            self.out
                .extend_from_slice(format!("{:x}\r\n", self.buf.len()).as_bytes());
        }
        self.out.extend_from_slice(&self.buf);
        if self.chunked {
            self.out.extend_from_slice(b"\r\n");
        }
        self.buf.clear();
        self.write_out()?;
        self.sent += 1;
        Ok(())
    }

    /// Writes `out` within a fresh deadline; a failure is kept for every later write.
    fn write_out(&mut self) -> io::Result<()> {
        let mut socket = Timed::within(self.stream, self.c.header_timeout, self.write_timeout);
        match socket.write_all(&self.out) {
            Ok(()) => Ok(()),
            Err(e) => {
                let returned = io::Error::new(e.kind(), e.to_string());
                self.failed = Some(e);
                Err(returned)
            }
        }
    }

    /// The producer is done: sends what is left and the terminating chunk.
    fn finish(&mut self) -> io::Result<()> {
        self.send_chunk()?;
        if self.chunked {
            self.out.clear();
            self.out.extend_from_slice(b"0\r\n\r\n");
            self.write_out()?;
        }
        Ok(())
    }
}

impl Write for Chunks<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check()?;
        // At most the rest of a chunk (`buf` is always shorter than one here): `write_all` comes
        // back for the rest, so a large write goes out as chunks, each within its own deadline,
        // and is never held whole.
        let taken = data.len().min(MAX_CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..taken]);
        if self.buf.len() >= MAX_CHUNK {
            self.send_chunk()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_chunk()
    }
}
