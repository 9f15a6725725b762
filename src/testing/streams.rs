//! Streamed answers in tests: run in-process ([`chunks`], [`body`]) or read as they arrive
//! through a `TestServer` ([`Streamed`], [`Chunk`]).

use std::io::{self, Write};
use std::time::Duration;

use crate::response::{Body, Response};
use crate::stream::MAX_CHUNK;

/// An answer read as it arrived ([`TestServer::stream`](super::TestServer::stream)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Streamed {
    /// The HTTP status.
    pub status: u16,
    /// The response headers, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body's chunks in order: all of them, or those that arrived whole before the cut when
    /// the answer was cut short (see [`complete`](Streamed::complete)).
    pub chunks: Vec<Chunk>,
    /// Whether the body ended as its framing says (a chunked body's last chunk, all of its
    /// `content-length`, or the close that ends an unframed one). `false` when the connection
    /// was closed or reset before that: what a client sees when a streamed answer's producer
    /// fails after the head (the server cuts the stream, as a test can check). Check it, or
    /// the whole body, when a test needs the answer to be whole.
    pub complete: bool,
}

impl Streamed {
    /// The first header named `name` (any case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }

    /// The whole body: the chunks joined (what arrived before the cut of an answer that is not
    /// [`complete`](Streamed::complete)).
    pub fn body(&self) -> Vec<u8> {
        self.chunks
            .iter()
            .flat_map(|c| c.data.iter().copied())
            .collect()
    }
}

/// One chunk of a [`Streamed`] answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Chunk {
    /// Its bytes.
    pub data: Vec<u8>,
    /// When it arrived, counted from when the request was sent.
    pub arrived: Duration,
}

/// The chunks of `resp`'s body in order, produced in this thread: a streamed body's producer
/// ([`Response::stream`](crate::Response::stream)) runs here, and each flush ends a chunk (so
/// do 64 KiB written without one), as the server would send them; a body of bytes is one chunk,
/// or none if empty. The producer's error is the error.
///
/// ```
/// use std::io::Write;
/// let sse = tinyfc::Response::stream(|w| {
///     for i in 0..3 {
///         write!(w, "data: {i}\n\n")?;
///         w.flush()?;
///     }
///     Ok(())
/// });
/// let chunks = tinyfc::testing::chunks(sse)?;
/// assert_eq!(chunks, [&b"data: 0\n\n"[..], b"data: 1\n\n", b"data: 2\n\n"]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn chunks(resp: Response) -> io::Result<Vec<Vec<u8>>> {
    let stream = match resp.body {
        Body::Bytes(b) if b.is_empty() => return Ok(Vec::new()),
        Body::Bytes(b) => return Ok(vec![b]),
        Body::Stream(stream) => stream,
    };
    let mut w = InProcess::default();
    stream.produce(&mut w)?;
    w.flush()?;
    Ok(w.chunks)
}

/// `resp`'s whole body: its bytes, or its stream's chunks ([`chunks`]) joined.
pub fn body(resp: Response) -> io::Result<Vec<u8>> {
    Ok(chunks(resp)?.concat())
}

/// The writer [`chunks`] gives a producer: a chunk per flush, as `stream.rs` sends them.
#[derive(Default)]
struct InProcess {
    chunks: Vec<Vec<u8>>,
    buf: Vec<u8>,
}

impl Write for InProcess {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= MAX_CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.chunks.push(std::mem::take(&mut self.buf));
        }
        Ok(())
    }
}
