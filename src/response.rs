//! What a handler answers: a [`Response`], whose [`Body`] is either bytes or a stream, by type.

use std::fmt;
use std::io::{self, Write};

use crate::headers::Headers;

/// What [`Response::stream`] takes: writes the body piece by piece; each `flush` sends what was
/// written since the last as one chunk.
pub(crate) type ProduceFn = dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send;

/// What a handler answers. For HTTP invocations status, headers and body reach the client; the
/// platform drops headers starting with `x-fc-` and hop-by-hop ones, so tinyfc drops them too.
///
/// ```
/// use tinyfc::Response;
/// let created = Response::text("made").status(201).header("location", "/items/7");
/// assert_eq!((created.status, created.body.as_bytes()), (201, Some(&b"made"[..])));
/// ```
#[derive(Debug)]
pub struct Response {
    /// The HTTP status, 200 by default: 200 to 999, else the invocation fails (`InvalidResponse`).
    pub status: u16,
    /// Response headers in order, names lower-cased and values as given ([`Headers::push`]):
    /// names are tokens and values have no control character and no space or tab at either end,
    /// else the invocation fails (`InvalidResponse`).
    pub headers: Headers,
    /// The body: bytes, or a stream written while it is sent.
    pub body: Body,
}

/// A response's body: the bytes themselves, or a producer that writes them while they are sent
/// ([`Response::stream`]). One or the other, so setting one replaces the other.
///
/// Compares equal to bytes and text (`assert_eq!(resp.body, b"hi")`); a stream equals none.
#[derive(Debug)]
pub enum Body {
    /// The whole body.
    Bytes(Vec<u8>),
    /// A body written while it is sent.
    Stream(Stream),
}

/// A streamed body's producer ([`Response::stream`]), run once when the answer is written (or by
/// [`Stream::produce`], e.g. in a test).
pub struct Stream(Box<ProduceFn>);

impl Stream {
    /// Runs the producer into `w`: what a server does with it, chunk by chunk.
    pub fn produce(self, w: &mut dyn Write) -> io::Result<()> {
        (self.0)(w)
    }
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Stream")
    }
}

impl Body {
    /// The bytes, unless the body is a stream.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Body::Bytes(b) => Some(b),
            Body::Stream(_) => None,
        }
    }

    /// The bytes, unless the body is a stream.
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Body::Bytes(b) => Some(b),
            Body::Stream(_) => None,
        }
    }

    /// True for [`Body::Stream`].
    pub fn is_stream(&self) -> bool {
        matches!(self, Body::Stream(_))
    }
}

impl Default for Body {
    /// No bytes.
    fn default() -> Body {
        Body::Bytes(Vec::new())
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Body {
        Body::Bytes(b)
    }
}

impl From<&[u8]> for Body {
    fn from(b: &[u8]) -> Body {
        Body::Bytes(b.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Body {
    fn from(b: &[u8; N]) -> Body {
        Body::Bytes(b.to_vec())
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::Bytes(s.into_bytes())
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Body {
        Body::Bytes(s.as_bytes().to_vec())
    }
}

impl PartialEq<[u8]> for Body {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == Some(other)
    }
}

impl PartialEq<&[u8]> for Body {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_bytes() == Some(*other)
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Body {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_bytes() == Some(&other[..])
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Body {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_bytes() == Some(&other[..])
    }
}

impl PartialEq<Vec<u8>> for Body {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.as_bytes() == Some(&other[..])
    }
}

impl PartialEq<str> for Body {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == Some(other.as_bytes())
    }
}

impl PartialEq<&str> for Body {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == Some(other.as_bytes())
    }
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Headers::new(),
            body: Body::default(),
        }
    }

    /// A 200 response whose body `produce` writes while it is sent, for server-sent events and
    /// long downloads: the body is never held whole. Each `flush` sends what was written since
    /// the last one as a chunk (so does every 64 KiB written without one); HTTP/1.1 callers get
    /// chunked transfer encoding, HTTP/1.0 ones the bytes until the connection closes. A write
    /// fails once the client has gone or has not taken a chunk within the write deadline
    /// (`TINYFC_WRITE_TIMEOUT_MS`, per chunk): return that error to stop. An error returned after
    /// the head was sent is logged and cuts the stream short (no terminating chunk, the
    /// connection closes), which is how the client learns the body is incomplete. An event
    /// invocation's stream is collected first and answered whole, so an error still fails it.
    /// `tinyfc::testing::chunks` runs one in a test.
    ///
    /// ```no_run
    /// use std::io::Write;
    /// let sse = tinyfc::Response::stream(|w| {
    ///     for i in 0..3 {
    ///         write!(w, "data: {i}\n\n")?;
    ///         w.flush()?;
    ///     }
    ///     Ok(())
    /// })
    /// .header("content-type", "text/event-stream");
    /// ```
    pub fn stream<F>(produce: F) -> Response
    where
        F: FnOnce(&mut dyn Write) -> io::Result<()> + Send + 'static,
    {
        Response::new(200).body(Body::Stream(Stream(Box::new(produce))))
    }

    /// True if the body is streamed ([`Response::stream`]).
    pub fn is_stream(&self) -> bool {
        self.body.is_stream()
    }

    /// A 200 `text/plain; charset=utf-8` response.
    pub fn text(body: impl Into<String>) -> Response {
        Response::new(200)
            .header("content-type", "text/plain; charset=utf-8")
            .body(body.into())
    }

    /// Sets the status, e.g. `Response::json(&item)?.status(201)`.
    pub fn status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    /// Adds a header (stored as [`Headers::push`] does).
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Response {
        self.headers.push(name.as_ref(), value.as_ref());
        self
    }

    /// Sets the body (bytes, text, or a [`Body`]), replacing a stream if there was one.
    pub fn body(mut self, body: impl Into<Body>) -> Response {
        self.body = body.into();
        self
    }
}

impl Default for Response {
    fn default() -> Self {
        Response::new(200)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_set_after_a_stream_replaces_it_and_a_stream_equals_no_bytes() {
        let resp = Response::stream(|w| w.write_all(b"streamed")).body("x");
        assert!(!resp.is_stream());
        assert_eq!(resp.body, "x");
        let resp = Response::text("x").status(201);
        assert_eq!((resp.status, resp.body.as_bytes()), (201, Some(&b"x"[..])));
        let streamed = Response::stream(|w| w.write_all(b""));
        assert!(streamed.body != b"");
        assert!(streamed.body != "");
    }
}
