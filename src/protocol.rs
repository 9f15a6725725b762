//! The FC custom-runtime protocol: which platform call a request is, what tinyfc answers it
//! (the `x-fc-status` and the JSON error body), and the headers the platform treats specially.
//!
//! Not part of tinyfc's API (hidden from its docs, may change in any release): public only for
//! the workspace's own tools and examples (`cargo tinyfc local` drops the same reserved response
//! headers; the probe example writes JSON without serde).

use std::time::Duration;

use crate::error::Error;
use crate::headers::Headers;
use crate::request::Kind;
use crate::response::Response;

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
    /// Classifies a request by its headers (names lower-case) and path, as [`Call::of`].
    pub(crate) fn of_request(headers: &Headers, path: &str) -> Call {
        Call::of(headers.get("x-fc-control-path").unwrap_or(""), path)
    }

    /// Classifies a request by its control path header (empty when absent or empty:
    /// [`Context::control_path`](crate::Context::control_path)) and its path.
    pub(crate) fn of(control_path: &str, path: &str) -> Call {
        let p = match control_path {
            "" => crate::grammar::without_query(path),
            p => p,
        };
        match p {
            "/initialize" => Call::Initialize,
            "/pre-stop" => Call::PreStop,
            "/pre-freeze" => Call::PreFreeze,
            "/invoke" => Call::Invoke(Kind::Event),
            _ => Call::Invoke(Kind::Http),
        }
    }
}

/// FC's longest function timeout (24 hours): a larger `x-fc-function-timeout` is taken as this.
const MAX_FUNCTION_TIMEOUT: Duration = Duration::from_secs(86_400);

/// A call's body or answer deadline: `floor` (the configured one), or the call's function
/// timeout if longer (`x-fc-function-timeout`, seconds: [`Context::timeout_s`](crate::Context)):
/// FC still runs the call until then, so no deadline of ours may cut it sooner.
pub(crate) fn call_deadline(timeout_s: Option<u32>, floor: Duration) -> Duration {
    let timeout = timeout_s.map_or(Duration::ZERO, |s| {
        Duration::from_secs(s.into()).min(MAX_FUNCTION_TIMEOUT)
    });
    floor.max(timeout)
}

/// What tinyfc answers the platform: a response and its `x-fc-status` (200: the call succeeded;
/// 404: it failed and the body is the error), which the writer adds (no header strings to
/// allocate on every answer).
pub(crate) struct Answer {
    pub(crate) resp: Response,
    pub(crate) fc_status: u16,
}

/// The JSON error response the platform expects: `{"errorMessage","errorType","stackTrace"}`.
#[cold]
pub(crate) fn error_response(status: u16, e: &Error) -> Response {
    Response::new(status)
        .header("content-type", "application/json")
        .body(error_json(e))
}

/// True for a response header the platform drops or rejects (`x-fc-*`, connection,
/// content-length, date, keep-alive, server, transfer-encoding): tinyfc removes these from handler
/// responses, and tinyfc-local from what reaches its caller.
pub fn reserved_response_header(name: &str) -> bool {
    // By length first: this runs for every header of every answer, and most names are none of
    // these lengths.
    let name = name.as_bytes();
    let is = |reserved: &[u8]| name.eq_ignore_ascii_case(reserved);
    let fixed = match name.len() {
        4 => is(b"date"),
        6 => is(b"server"),
        10 => is(b"connection") || is(b"keep-alive"),
        14 => is(b"content-length"),
        17 => is(b"transfer-encoding"),
        _ => false,
    };
    fixed
        || name
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"x-fc-"))
}

/// `{"errorMessage": .., "errorType": .., "stackTrace": [..]}`.
pub(crate) fn error_json(e: &Error) -> String {
    let mut s = String::from("{\"errorMessage\":");
    json_str(&mut s, &e.error_message);
    s.push_str(",\"errorType\":");
    json_str(&mut s, &e.error_type);
    s.push_str(",\"stackTrace\":[");
    for (i, line) in e.stack_trace.iter().enumerate() {
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
            "servers",
            "keep-alivE2",
            "transfer-encodings",
            "",
        ] {
            assert!(!reserved_response_header(name), "{name}");
        }
    }

    #[test]
    fn control_path_header_wins_over_path() {
        assert_eq!(Call::of("", "/invoke"), Call::Invoke(Kind::Event));
        assert_eq!(
            Call::of("/http-invoke", "/invoke"),
            Call::Invoke(Kind::Http)
        );
        assert_eq!(Call::of("", "/initialize?x=1"), Call::Initialize);
        assert_eq!(Call::of("/pre-stop", "/"), Call::PreStop);
        assert_eq!(Call::of("", "/anything"), Call::Invoke(Kind::Http));
        // An empty header counts as absent, as in the context the workers classify from.
        let empty: Headers = [("x-fc-control-path", "")].into_iter().collect();
        assert_eq!(
            Call::of_request(&empty, "/invoke"),
            Call::Invoke(Kind::Event)
        );
    }

    #[test]
    fn error_json_escapes_and_lists_stack() {
        let e = Error::typed("T", "a \"b\"\n").with_trace("c");
        assert_eq!(
            error_json(&e),
            r#"{"errorMessage":"a \"b\"\n","errorType":"T","stackTrace":["c"]}"#
        );
    }
}
