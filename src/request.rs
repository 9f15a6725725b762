//! What a handler sees and returns: the [`Request`] of an invocation, its [`Kind`], and the
//! [`Response`] it answers.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use crate::headers::Headers;

/// What kind of invocation a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An event invocation (`POST /invoke`, control path `/invoke`): the body is the event.
    Event,
    /// An HTTP invocation (control path `/http-invoke`): the client's own method, path and body.
    Http,
}

/// An invocation as the handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Event or HTTP invocation.
    pub kind: Kind,
    /// The request method, e.g. `POST`.
    pub method: String,
    /// The path with its query string, e.g. `/users?id=1`.
    pub path: String,
    /// All request headers in order, names lower-cased (credential headers included: they are the
    /// user's to use, never logged by tinyfc).
    pub headers: Headers,
    /// The whole request body.
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (any case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The path to route on: [`Request::path`] without its query and without the base path the
    /// platform puts in front of it when an HTTP function is reached without a custom domain
    /// (`x-fc-base-path`, also [`Context::base_path`](crate::Context::base_path)). So
    /// `/2016-08-15/proxy/svc/fn/users?id=1` with that base path `/2016-08-15/proxy/svc/fn/` and
    /// `/users?id=1` through a custom domain both route as `/users`. The base path is removed only
    /// where it ends at a segment boundary; a path that does not start with it is returned whole
    /// (without its query). Never empty: the base path itself routes as `/`.
    pub fn route_path(&self) -> &str {
        let path = self.path.split('?').next().unwrap_or("");
        let base = self.header("x-fc-base-path").unwrap_or("");
        route_path(path, base.trim_end_matches('/'))
    }
}

/// `path` (without a query) relative to `base` (without a trailing `/`).
fn route_path<'a>(path: &'a str, base: &str) -> &'a str {
    match path.strip_prefix(base) {
        Some("") => "/",
        Some(rest) if !base.is_empty() && rest.starts_with('/') => rest,
        _ if path.is_empty() => "/",
        _ => path,
    }
}

/// What a handler answers. For HTTP invocations status, headers and body reach the client; the
/// platform drops headers starting with `x-fc-` and hop-by-hop ones, so tinyfc drops them too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status, 200 by default: 200 to 999, else the invocation fails (`InvalidResponse`).
    pub status: u16,
    /// Response headers: names are tokens, values have no control character and no space or tab
    /// at either end, else the invocation fails (`InvalidResponse`).
    pub headers: Vec<(String, String)>,
    /// The body (unused when the response streams, see [`Response::stream`]).
    pub body: Vec<u8>,
    /// The producer of a streamed body, if any.
    pub(crate) producer: Option<Producer>,
}

/// What [`Response::stream`] takes: writes the body piece by piece; each `flush` sends what was
/// written since the last as one chunk.
pub(crate) type ProduceFn = dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send;

/// A streamed body's producer, run once when the answer is written. Shared by clones (one of
/// them runs it); equal only to its own clones.
#[derive(Clone)]
pub(crate) struct Producer(Arc<Mutex<Option<Box<ProduceFn>>>>);

impl Producer {
    /// The producer, unless a clone already took it.
    pub(crate) fn take(&self) -> Option<Box<ProduceFn>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Producer")
    }
}

impl PartialEq for Producer {
    fn eq(&self, other: &Producer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Producer {}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            producer: None,
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
        let mut resp = Response::new(200);
        resp.producer = Some(Producer(Arc::new(Mutex::new(Some(Box::new(produce))))));
        resp
    }

    /// True if the body is streamed ([`Response::stream`]).
    pub fn is_stream(&self) -> bool {
        self.producer.is_some()
    }

    /// A 200 `text/plain; charset=utf-8` response.
    pub fn text(body: impl Into<String>) -> Response {
        Response::new(200)
            .header("content-type", "text/plain; charset=utf-8")
            .body(body.into())
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
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

    fn request(path: &str, base: Option<&str>) -> Request {
        let mut headers = Headers::new();
        if let Some(b) = base {
            headers.push("X-Fc-Base-Path", b);
        }
        Request {
            kind: Kind::Http,
            method: "GET".into(),
            path: path.into(),
            headers,
            body: Vec::new(),
        }
    }

    #[test]
    fn route_path_drops_the_base_path_and_the_query() {
        let base = Some("/2016-08-15/proxy/svc/fn/");
        for (path, base, route) in [
            ("/2016-08-15/proxy/svc/fn/users?id=1", base, "/users"),
            ("/2016-08-15/proxy/svc/fn/", base, "/"),
            ("/2016-08-15/proxy/svc/fn", base, "/"),
            ("/2016-08-15/proxy/svc/fn?x=1", base, "/"),
            (
                "/2016-08-15/proxy/svc/fn/a/b",
                Some("/2016-08-15/proxy/svc/fn"),
                "/a/b",
            ),
            // Not at a segment boundary, or not a prefix: the path whole.
            (
                "/2016-08-15/proxy/svc/fnord",
                base,
                "/2016-08-15/proxy/svc/fnord",
            ),
            ("/users?id=1", base, "/users"),
            ("/users?id=1", None, "/users"),
            ("/users", Some(""), "/users"),
            ("/users", Some("/"), "/users"),
            ("", None, "/"),
        ] {
            assert_eq!(
                request(path, base).route_path(),
                route,
                "{path} with {base:?}"
            );
        }
    }
}
