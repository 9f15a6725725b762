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
    pub(crate) fn of_request(headers: &Headers, path: &str) -> Call {
        Call::of(headers.get("x-fc-control-path"), path)
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
    pub headers: Headers,
    /// The whole request body.
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (any case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
}

/// Request headers in arrival order: names lower-cased, values trimmed of surrounding blanks
/// (invalid UTF-8 replaced). They are slices of one copy of the request head: a request with the
/// platform's twenty `x-fc-*` headers costs two allocations here, not forty. `Debug` hides the
/// credential values.
#[derive(Clone, Default)]
pub struct Headers {
    /// UTF-8 text, always (see `at`).
    text: Vec<u8>,
    /// Per header: where its name starts and ends, and its value starts and ends, in `text`.
    spans: Vec<[usize; 4]>,
}

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// The headers of a request head `head`, as `httparse` found them in it.
    pub(crate) fn from_head(head: &[u8], parsed: &[httparse::Header<'_>]) -> Headers {
        if std::str::from_utf8(head).is_err() {
            // Rare: build it header by header, replacing invalid UTF-8.
            let mut h = Headers::new();
            for p in parsed {
                h.push_bytes(p.name.as_bytes(), p.value);
            }
            return h;
        }
        let mut h = Headers {
            text: head.to_vec(),
            spans: Vec::with_capacity(parsed.len()),
        };
        let offset = |s: &[u8]| s.as_ptr() as usize - head.as_ptr() as usize;
        for p in parsed {
            let (name, value) = (p.name.as_bytes(), trim_blanks(p.value));
            let n = offset(name);
            // An empty value's slice may not point into `head`.
            let v = if value.is_empty() {
                n + name.len()
            } else {
                offset(value)
            };
            h.spans.push([n, n + name.len(), v, v + value.len()]);
            lower_ascii(&mut h.text[n..][..name.len()]);
        }
        h
    }

    /// Appends a header; the name is stored lower-cased and the value trimmed.
    pub fn push(&mut self, name: &str, value: &str) {
        self.push_bytes(name.as_bytes(), value.as_bytes());
    }

    /// [`Headers::push`] for bytes (a name must be UTF-8; a value's invalid UTF-8 is replaced).
    fn push_bytes(&mut self, name: &[u8], value: &[u8]) {
        let name_start = self.text.len();
        self.text.extend_from_slice(name);
        lower_ascii(&mut self.text[name_start..]);
        let value_start = self.text.len();
        let value = trim_blanks(value);
        match std::str::from_utf8(value) {
            Ok(_) => self.text.extend_from_slice(value),
            Err(_) => {
                let text = String::from_utf8_lossy(value);
                self.text.extend_from_slice(text.as_bytes());
            }
        }
        self.spans
            .push([name_start, value_start, value_start, self.text.len()]);
    }

    /// The value of the first header named `name` (any case), if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        // Names are stored lower-case, as tinyfc asks for them: an exact compare first, which is
        // several times cheaper than a case-blind one.
        self.iter()
            .find(|(k, _)| *k == name || k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// `(name, value)` pairs in arrival order.
    pub fn iter(&self) -> HeaderIter<'_> {
        HeaderIter {
            headers: self,
            front: 0,
            back: self.spans.len(),
        }
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The `i`th header (`i < len()`).
    fn at(&self, i: usize) -> (&str, &str) {
        let [ns, ne, vs, ve] = self.spans[i];
        // Checked slicing cost more than the rest of a header's parse (each end is checked for a
        // char boundary, on every lookup).
        // SAFETY: `text` is UTF-8 (a head that passed `from_utf8`, or whole `str`s appended and
        // only ASCII letters changed since). Every span is within it (httparse's name and value
        // slices lie within the head it parsed, of which `text` is a copy; pushed ones are what
        // was appended) and ends next to an ASCII byte (`:`, CR, a blank) or the end of what was
        // appended: on char boundaries.
        unsafe {
            let text =
                |a: usize, b: usize| std::str::from_utf8_unchecked(self.text.get_unchecked(a..b));
            (text(ns, ne), text(vs, ve))
        }
    }
}

/// `s` without the optional whitespace around a header value (RFC 9110: spaces and tabs).
fn trim_blanks(s: &[u8]) -> &[u8] {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !blank(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !blank(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// Lower-cases the ASCII letters in `b`, eight bytes at a time: at opt-level "z" the byte loop
/// is not vectorised (about ten instructions a byte, on every header name of every request).
fn lower_ascii(b: &mut [u8]) {
    if b.len() < 8 {
        return b.make_ascii_lowercase();
    }
    let last = b.len() - 8;
    let mut i = 0;
    loop {
        let w: &mut [u8; 8] = (&mut b[i..i + 8]).try_into().expect("8 bytes");
        lower_word(w);
        if i == last {
            return;
        }
        // The last word may overlap the one before it: lower-casing twice changes nothing.
        i = (i + 8).min(last);
    }
}

fn lower_word(w: &mut [u8; 8]) {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = u64::from_le_bytes(*w);
    if x & HIGH != 0 {
        return w.make_ascii_lowercase(); // not all ASCII: the trick below needs bytes under 0x80
    }
    // Per byte (no carries, all < 0x80): the high bit of x + 0x3f is set from 'A' up, that of
    // x + 0x25 from 'Z' + 1 up; they differ exactly for 'A'..='Z', which gain 0x20.
    let upper = ((x + 0x3f3f_3f3f_3f3f_3f3f) ^ (x + 0x2525_2525_2525_2525)) & HIGH;
    *w = (x | upper >> 2).to_le_bytes();
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Headers {
        let mut h = Headers::new();
        for (name, value) in iter {
            h.push(name.as_ref(), value.as_ref());
        }
        h
    }
}

/// Equal when the same headers come in the same order (not the rest of the head they came with).
impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter = HeaderIter<'a>;

    fn into_iter(self) -> HeaderIter<'a> {
        self.iter()
    }
}

/// Manual so that credentials never reach a log through `{:?}` of a request.
impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| {
                let secret = SECRET_HEADERS.contains(&k);
                (k, if secret { "<redacted>" } else { v })
            }))
            .finish()
    }
}

/// The headers of a [`Headers`], in order (and in reverse).
#[derive(Clone)]
pub struct HeaderIter<'a> {
    headers: &'a Headers,
    front: usize,
    back: usize,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        if self.front == self.back {
            return None;
        }
        self.front += 1;
        Some(self.headers.at(self.front - 1))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for HeaderIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        Some(self.headers.at(self.back))
    }
}

impl ExactSizeIterator for HeaderIter<'_> {}

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
    #[cold]
    pub(crate) fn error(status: u16, e: &Error) -> Response {
        Response::new(status)
            .header("content-type", "application/json")
            .body(error_json(e))
    }
}

/// What tinyfc answers the platform: a response and its `x-fc-status` (200: the call succeeded;
/// 404: it failed and the body is the error), which the writer adds (no header strings to
/// allocate on every answer).
pub(crate) struct Answer {
    pub(crate) resp: Response,
    pub(crate) fc_status: u16,
}

impl Default for Response {
    fn default() -> Self {
        Response::new(200)
    }
}

/// The per-request context, from the platform's request headers.
#[derive(Clone, Default, PartialEq, Eq)]
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
    /// Builds the context from request headers, received at `arrived`.
    pub fn from_headers(headers: &Headers, arrived: Instant) -> Context {
        let mut c = Context::default();
        c.refill(headers, arrived);
        c
    }

    /// [`Context::from_headers`] into this context, reusing its strings' memory: each thread that
    /// serves calls keeps one, so a call allocates nothing for its context.
    pub(crate) fn refill(&mut self, headers: &Headers, arrived: Instant) {
        // Every field by name (no `..`): a new field must be reset here too, or a call would see
        // the one before it's.
        let Context {
            request_id,
            credentials:
                Credentials {
                    access_key_id,
                    access_key_secret,
                    security_token,
                },
            function_name,
            function_handler,
            memory_mb,
            timeout_s,
            initializer,
            initialization_timeout_s,
            pre_stop_handler,
            pre_freeze_handler,
            region,
            account_id,
            qualifier,
            version_id,
            service_name,
            log_project,
            log_store,
            control_path,
            log_type,
            retry_count,
            deadline: _, // set below
        } = self;
        for s in [
            &mut *request_id,
            access_key_id,
            access_key_secret,
            security_token,
            function_name,
            function_handler,
            initializer,
            pre_stop_handler,
            pre_freeze_handler,
            region,
            account_id,
            qualifier,
            version_id,
            service_name,
            log_project,
            log_store,
            control_path,
            log_type,
        ] {
            s.clear();
        }
        for n in [memory_mb, timeout_s, initialization_timeout_s, retry_count] {
            *n = None;
        }
        // In reverse, so that of a repeated header the first one wins (assigned last). Names in
        // `Headers` are lower-case.
        for (name, value) in headers.iter().rev() {
            let Some(name) = name.strip_prefix("x-fc-") else {
                continue;
            };
            let text = |s: &mut String| {
                s.clear();
                s.push_str(value);
            };
            let number = |n: &mut Option<u32>| *n = value.parse().ok();
            // On the length first: a `match` on strings alone compares with every arm in turn,
            // for each of the platform's twenty headers (the test below checks every length).
            match (name.len(), name) {
                (10, "request-id") => text(&mut self.request_id),
                (13, "access-key-id") => text(&mut self.credentials.access_key_id),
                (17, "access-key-secret") => text(&mut self.credentials.access_key_secret),
                (14, "security-token") => text(&mut self.credentials.security_token),
                (13, "function-name") => text(&mut self.function_name),
                (16, "function-handler") => text(&mut self.function_handler),
                (15, "function-memory") => number(&mut self.memory_mb),
                (16, "function-timeout") => number(&mut self.timeout_s),
                (20, "function-initializer") => text(&mut self.initializer),
                (22, "initialization-timeout") => number(&mut self.initialization_timeout_s),
                (35, "instance-lifecycle-pre-stop-handler") => text(&mut self.pre_stop_handler),
                (37, "instance-lifecycle-pre-freeze-handler") => text(&mut self.pre_freeze_handler),
                (6, "region") => text(&mut self.region),
                (10, "account-id") => text(&mut self.account_id),
                (9, "qualifier") => text(&mut self.qualifier),
                (10, "version-id") => text(&mut self.version_id),
                (12, "service-name") => text(&mut self.service_name),
                (18, "service-logproject") => text(&mut self.log_project),
                (16, "service-logstore") => text(&mut self.log_store),
                (12, "control-path") => text(&mut self.control_path),
                (8, "log-type") => text(&mut self.log_type),
                (11, "retry-count") => number(&mut self.retry_count),
                _ => {}
            }
        }
        self.deadline = self
            .timeout_s
            .map(|t| arrived + Duration::from_secs(t.into()));
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
        let h: Headers = [
            ("X-FC-Region", "first"),
            ("x-fc-region", "second"),
            ("x-fc-function-memory", " 512 "),
            ("x-fc-function-memory", "1024"),
            ("content-type", "text/plain"),
        ]
        .into_iter()
        .collect();
        let ctx = Context::from_headers(&h, Instant::now());
        assert_eq!((ctx.region.as_str(), ctx.memory_mb), ("first", Some(512)));
        assert_eq!(ctx.deadline, None);
    }

    #[test]
    fn every_context_field_comes_from_its_header() {
        let names = [
            "request-id",
            "access-key-id",
            "access-key-secret",
            "security-token",
            "function-name",
            "function-handler",
            "function-initializer",
            "instance-lifecycle-pre-stop-handler",
            "instance-lifecycle-pre-freeze-handler",
            "region",
            "account-id",
            "qualifier",
            "version-id",
            "service-name",
            "service-logproject",
            "service-logstore",
            "control-path",
            "log-type",
        ];
        let mut h: Headers = names.iter().map(|n| (format!("X-Fc-{n}"), *n)).collect();
        for (i, n) in [
            "function-memory",
            "function-timeout",
            "initialization-timeout",
            "retry-count",
        ]
        .iter()
        .enumerate()
        {
            h.push(&format!("x-fc-{n}"), &(i + 1).to_string());
        }
        let c = Context::from_headers(&h, Instant::now());
        let got = [
            &c.request_id,
            &c.credentials.access_key_id,
            &c.credentials.access_key_secret,
            &c.credentials.security_token,
            &c.function_name,
            &c.function_handler,
            &c.initializer,
            &c.pre_stop_handler,
            &c.pre_freeze_handler,
            &c.region,
            &c.account_id,
            &c.qualifier,
            &c.version_id,
            &c.service_name,
            &c.log_project,
            &c.log_store,
            &c.control_path,
            &c.log_type,
        ];
        assert_eq!(got.map(String::as_str), names);
        let numbers = [
            c.memory_mb,
            c.timeout_s,
            c.initialization_timeout_s,
            c.retry_count,
        ];
        assert_eq!(numbers, [Some(1), Some(2), Some(3), Some(4)]);
        // Refilled from no headers, nothing of the call before is left.
        let mut next = c.clone();
        next.refill(&Headers::new(), Instant::now());
        assert_eq!(next, Context::default());
    }

    #[test]
    fn headers_keep_order_lower_case_names_and_trimmed_values() {
        let mut h = Headers::new();
        h.push("Content-Type", " text/plain\t");
        h.push("X-Empty", "");
        h.push_bytes(b"x-bin", b"a\xffb");
        h.push("content-type", "second");
        let all: Vec<_> = h.iter().collect();
        assert_eq!(
            all,
            [
                ("content-type", "text/plain"),
                ("x-empty", ""),
                ("x-bin", "a\u{fffd}b"),
                ("content-type", "second"),
            ]
        );
        // Equal by content, whatever the text they were sliced from.
        let mut raw = [httparse::EMPTY_HEADER; 4];
        let mut req = httparse::Request::new(&mut raw);
        let head = b"PUT /other HTTP/1.1\r\nContent-Type:text/plain\r\nx-empty: \r\n\
                     X-Bin: a\xef\xbf\xbdb\r\ncontent-type:  second\r\n\r\n";
        assert!(req.parse(head).unwrap().is_complete());
        assert_eq!(Headers::from_head(head, req.headers), h);
        let reversed: Vec<_> = h.iter().rev().map(|(k, _)| k).collect();
        assert_eq!(
            reversed,
            ["content-type", "x-bin", "x-empty", "content-type"]
        );
        assert_eq!(
            (h.get("CONTENT-TYPE"), h.get("x-none")),
            (Some("text/plain"), None)
        );
        assert_eq!(
            (h.len(), h.iter().len(), Headers::new().is_empty()),
            (4, 4, true)
        );
    }

    #[test]
    fn lower_ascii_matches_std_for_every_byte_at_every_position() {
        for len in 0..20 {
            for b in 0..=255u8 {
                for at in 0..len {
                    let mut mine: Vec<u8> = (0..len as u8).map(|i| b'@' + i).collect();
                    mine[at] = b;
                    let mut std = mine.clone();
                    std.make_ascii_lowercase();
                    lower_ascii(&mut mine);
                    assert_eq!(mine, std, "byte {b:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn headers_from_a_head_are_sliced_lower_cased_and_trimmed() {
        let parse = |head: &[u8]| {
            let mut raw = [httparse::EMPTY_HEADER; 8];
            let mut req = httparse::Request::new(&mut raw);
            assert!(req.parse(head).unwrap().is_complete());
            Headers::from_head(head, req.headers)
        };
        let head = b"GET / HTTP/1.1\r\nX-FC-Request-Id:  r-1 \r\nEmpty:\r\nACCEPT: a/b\r\n\r\n";
        let h = parse(head);
        let all: Vec<_> = h.iter().collect();
        assert_eq!(
            all,
            [("x-fc-request-id", "r-1"), ("empty", ""), ("accept", "a/b")]
        );
        let bad = parse(b"GET / HTTP/1.1\r\nX-Bin: a\xffb\r\nHost: h\r\n\r\n");
        let all: Vec<_> = bad.iter().collect();
        assert_eq!(all, [("x-bin", "a\u{fffd}b"), ("host", "h")]);
    }

    #[test]
    fn headers_debug_hides_credentials() {
        let h: Headers = [("x-fc-security-token", "SECRET2"), ("x-fc-region", "r1")]
            .into_iter()
            .collect();
        let shown = format!("{h:?}");
        assert!(
            !shown.contains("SECRET2") && shown.contains("r1"),
            "{shown}"
        );
    }

    #[test]
    fn context_debug_hides_credentials() {
        let h: Headers = [
            ("x-fc-access-key-secret", "SECRET1"),
            ("x-fc-function-timeout", "3"),
        ]
        .into_iter()
        .collect();
        let ctx = Context::from_headers(&h, Instant::now());
        assert_eq!(ctx.credentials.access_key_secret, "SECRET1");
        assert!(!format!("{ctx:?}").contains("SECRET1"));
        assert!(ctx.remaining().unwrap() <= Duration::from_secs(3));
    }
}
