//! The FC custom-runtime protocol: which call a request is, the per-request context built from the
//! `x-fc-*` headers, and the request/response types a handler sees.

use std::fmt;
use std::time::{Duration, Instant};

use crate::error::Error;

/// Which platform call a request is, from `x-fc-control-path`, else from the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// POST /initialize: run the user's initializer.
    Initialize,
    /// GET /pre-stop: drain, then run the pre-stop hook.
    PreStop,
    /// GET /pre-freeze: run the optional pre-freeze hook.
    PreFreeze,
    /// An invocation, event or HTTP.
    Invoke(Kind),
}

impl Call {
    /// Classifies a request by its headers (names lower-case) and path.
    pub(crate) fn of_request(headers: &[(String, String)], path: &str) -> Call {
        Call::of(find(headers, "x-fc-control-path"), path)
    }

    /// Classifies a request by its control path header (if any) and its path.
    pub(crate) fn of(control_path: Option<&str>, path: &str) -> Call {
        let p = control_path.unwrap_or_else(|| path.split('?').next().unwrap_or(path));
        match p {
            "/initialize" => Call::Initialize,
            "/pre-stop" => Call::PreStop,
            "/pre-freeze" => Call::PreFreeze,
            "/invoke" => Call::Invoke(Kind::Event),
            _ => Call::Invoke(Kind::Http),
        }
    }
}

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
    pub headers: Vec<(String, String)>,
    /// The whole request body.
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (give it lower-case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }
}

/// What a handler answers. For HTTP invocations status, headers and body reach the client; the
/// platform drops headers starting with `x-fc-` and hop-by-hop ones, so tinyfc drops them too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status, 200 by default.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
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

    /// The JSON error response the platform expects: `{"errorMessage","errorType","stackTrace"}`.
    pub(crate) fn error(status: u16, e: &Error) -> Response {
        Response::new(status)
            .header("content-type", "application/json")
            .body(error_json(e))
    }
}

impl Default for Response {
    fn default() -> Self {
        Response::new(200)
    }
}

/// The per-request context, from the platform's request headers.
#[derive(Clone, Default)]
pub struct Context {
    /// `x-fc-request-id`.
    pub request_id: String,
    /// `x-fc-access-key-id`, `x-fc-access-key-secret`, `x-fc-security-token`.
    pub credentials: Credentials,
    /// `x-fc-function-name`.
    pub function_name: String,
    /// `x-fc-function-handler`.
    pub function_handler: String,
    /// `x-fc-function-memory`, in MB.
    pub memory_mb: Option<u32>,
    /// `x-fc-function-timeout`, in seconds.
    pub timeout_s: Option<u32>,
    /// `x-fc-function-initializer`.
    pub initializer: String,
    /// `x-fc-initialization-timeout`, in seconds.
    pub initialization_timeout_s: Option<u32>,
    /// `x-fc-instance-lifecycle-pre-stop-handler`.
    pub pre_stop_handler: String,
    /// `x-fc-instance-lifecycle-pre-freeze-handler`.
    pub pre_freeze_handler: String,
    /// `x-fc-region`.
    pub region: String,
    /// `x-fc-account-id`.
    pub account_id: String,
    /// `x-fc-qualifier`.
    pub qualifier: String,
    /// `x-fc-version-id`.
    pub version_id: String,
    /// `x-fc-service-name`.
    pub service_name: String,
    /// `x-fc-service-logproject`.
    pub log_project: String,
    /// `x-fc-service-logstore`.
    pub log_store: String,
    /// `x-fc-control-path`.
    pub control_path: String,
    /// `x-fc-log-type` (`Tail` when the caller asked for the log tail).
    pub log_type: String,
    /// `x-fc-retry-count`, when the platform retries an asynchronous invocation.
    pub retry_count: Option<u32>,
    /// When the request arrived plus `x-fc-function-timeout`; `None` without that header.
    pub deadline: Option<Instant>,
}

impl Context {
    /// Builds the context from request headers (names lower-case), received at `arrived`.
    pub fn from_headers(headers: &[(String, String)], arrived: Instant) -> Context {
        let mut c = Context::default();
        // One pass, in reverse so that of a repeated header the first one wins (assigned last).
        for (name, value) in headers.iter().rev() {
            if name.len() <= 5 || !name.as_bytes()[..5].eq_ignore_ascii_case(b"x-fc-") {
                continue;
            }
            let lower;
            let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                lower = name.to_ascii_lowercase();
                &lower[5..]
            } else {
                &name[5..]
            };
            let text = || value.clone();
            let number = || value.trim().parse().ok();
            match name {
                "request-id" => c.request_id = text(),
                "access-key-id" => c.credentials.access_key_id = text(),
                "access-key-secret" => c.credentials.access_key_secret = text(),
                "security-token" => c.credentials.security_token = text(),
                "function-name" => c.function_name = text(),
                "function-handler" => c.function_handler = text(),
                "function-memory" => c.memory_mb = number(),
                "function-timeout" => c.timeout_s = number(),
                "function-initializer" => c.initializer = text(),
                "initialization-timeout" => c.initialization_timeout_s = number(),
                "instance-lifecycle-pre-stop-handler" => c.pre_stop_handler = text(),
                "instance-lifecycle-pre-freeze-handler" => c.pre_freeze_handler = text(),
                "region" => c.region = text(),
                "account-id" => c.account_id = text(),
                "qualifier" => c.qualifier = text(),
                "version-id" => c.version_id = text(),
                "service-name" => c.service_name = text(),
                "service-logproject" => c.log_project = text(),
                "service-logstore" => c.log_store = text(),
                "control-path" => c.control_path = text(),
                "log-type" => c.log_type = text(),
                "retry-count" => c.retry_count = number(),
                _ => {}
            }
        }
        c.deadline = c.timeout_s.map(|t| arrived + Duration::from_secs(t.into()));
        c
    }

    /// Time left before the function timeout (zero once past it); `None` without a timeout header.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

/// Manual so that credentials never reach a log through `{:?}`.
impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("request_id", &self.request_id)
            .field("credentials", &self.credentials)
            .field("function_name", &self.function_name)
            .field("region", &self.region)
            .field("qualifier", &self.qualifier)
            .field("control_path", &self.control_path)
            .finish_non_exhaustive()
    }
}

/// The temporary STS credentials the platform passes with every call. Its `Debug` shows none of
/// them, so printing a context cannot leak them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `x-fc-access-key-id`.
    pub access_key_id: String,
    /// `x-fc-access-key-secret` (secret).
    pub access_key_secret: String,
    /// `x-fc-security-token` (secret).
    pub security_token: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// Headers whose values are secrets: never logged.
pub(crate) const SECRET_HEADERS: [&str; 3] = [
    "x-fc-access-key-id",
    "x-fc-access-key-secret",
    "x-fc-security-token",
];

/// True for a response header the platform drops or rejects (`x-fc-*`, connection,
/// content-length, date, keep-alive, server, transfer-encoding): tinyfc removes these from handler
/// responses, and tinyfc-local from what reaches its caller.
pub fn reserved_response_header(name: &str) -> bool {
    // Lower-cased on the stack, not into a new String: this runs for every header of every answer.
    let name = name.as_bytes();
    if name
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"x-fc-"))
    {
        return true;
    }
    let mut buf = [0u8; 17]; // the longest reserved name, transfer-encoding
    let Some(lower) = buf.get_mut(..name.len()) else {
        return false;
    };
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    matches!(
        &*lower,
        b"connection"
            | b"content-length"
            | b"date"
            | b"keep-alive"
            | b"server"
            | b"transfer-encoding"
    )
}

pub(crate) fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `{"errorMessage": .., "errorType": .., "stackTrace": [..]}`.
pub(crate) fn error_json(e: &Error) -> String {
    let mut s = String::from("{\"errorMessage\":");
    json_str(&mut s, &e.message);
    s.push_str(",\"errorType\":");
    json_str(&mut s, &e.kind);
    s.push_str(",\"stackTrace\":[");
    for (i, line) in e.stack.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        json_str(&mut s, line);
    }
    s.push_str("]}");
    s
}

/// Appends `v` as a JSON string literal.
pub fn json_str(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_response_headers_are_matched_in_any_case() {
        for name in [
            "x-fc-status",
            "X-Fc-Request-Id",
            "x-fc-",
            "Connection",
            "CONTENT-LENGTH",
            "date",
            "Keep-Alive",
            "Server",
            "transfer-encoding",
        ] {
            assert!(reserved_response_header(name), "{name}");
        }
        for name in [
            "x-fc",
            "x-fcfoo",
            "Content-Type",
            "Function-Name",
            "dates",
            "",
        ] {
            assert!(!reserved_response_header(name), "{name}");
        }
    }

    #[test]
    fn control_path_header_wins_over_path() {
        assert_eq!(Call::of(None, "/invoke"), Call::Invoke(Kind::Event));
        assert_eq!(
            Call::of(Some("/http-invoke"), "/invoke"),
            Call::Invoke(Kind::Http)
        );
        assert_eq!(Call::of(None, "/initialize?x=1"), Call::Initialize);
        assert_eq!(Call::of(Some("/pre-stop"), "/"), Call::PreStop);
        assert_eq!(Call::of(None, "/anything"), Call::Invoke(Kind::Http));
    }

    #[test]
    fn error_json_escapes_and_lists_stack() {
        let mut e = Error::typed("T", "a \"b\"\n");
        e.stack.push("c".into());
        assert_eq!(
            error_json(&e),
            r#"{"errorMessage":"a \"b\"\n","errorType":"T","stackTrace":["c"]}"#
        );
    }

    #[test]
    fn context_takes_the_first_of_repeated_headers_in_any_case() {
        let h: Vec<(String, String)> = [
            ("X-FC-Region", "first"),
            ("x-fc-region", "second"),
            ("x-fc-function-memory", "512"),
            ("x-fc-function-memory", "1024"),
            ("content-type", "text/plain"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let ctx = Context::from_headers(&h, Instant::now());
        assert_eq!((ctx.region.as_str(), ctx.memory_mb), ("first", Some(512)));
        assert_eq!(ctx.deadline, None);
    }

    #[test]
    fn context_debug_hides_credentials() {
        let h = vec![
            ("x-fc-access-key-secret".to_string(), "SECRET1".to_string()),
            ("x-fc-function-timeout".to_string(), "3".to_string()),
        ];
        let ctx = Context::from_headers(&h, Instant::now());
        assert_eq!(ctx.credentials.access_key_secret, "SECRET1");
        assert!(!format!("{ctx:?}").contains("SECRET1"));
        assert!(ctx.remaining().unwrap() <= Duration::from_secs(3));
    }
}
