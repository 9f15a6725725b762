//! What a handler sees: the [`Request`] of an invocation and its [`Kind`] (what it answers is in
//! `response.rs`).

use crate::headers::Headers;

/// What kind of invocation a request is. `#[non_exhaustive]`: FC may add kinds of calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
    /// The path with its query string, e.g. `/users?id=1`: always origin form (an absolute-form
    /// target, `http://host/users?id=1`, arrives as its path and query).
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
        let path = crate::grammar::without_query(&self.path);
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
