//! The calls the platform makes to the instance: FC's headers, one call on a fresh connection,
//! and what the answers mean.

use std::net::SocketAddr;
use std::time::Duration;

use tinyfc::client::{self, Connection, Response};

use super::options::Options;

/// The headers FC sends with every call.
pub fn common_headers(o: &Options, request_id: &str, control_path: &str) -> Vec<(String, String)> {
    let initializer = if o.initializer {
        "index.initializer"
    } else {
        ""
    };
    let pre_stop = if o.pre_stop { "index.preStop" } else { "" };
    [
        ("x-fc-request-id", request_id),
        ("x-fc-access-key-id", &o.credentials.key_id),
        ("x-fc-access-key-secret", &o.credentials.key_secret),
        ("x-fc-security-token", &o.credentials.security_token),
        ("x-fc-function-name", &o.function_name),
        ("x-fc-function-handler", "index.handler"),
        ("x-fc-function-memory", &o.memory_mb.to_string()),
        ("x-fc-function-timeout", &o.timeout_s.to_string()),
        ("x-fc-function-initializer", initializer),
        (
            "x-fc-initialization-timeout",
            &o.init_timeout.as_secs().to_string(),
        ),
        ("x-fc-instance-lifecycle-pre-stop-handler", pre_stop),
        ("x-fc-region", &o.region),
        ("x-fc-account-id", &o.account_id),
        ("x-fc-qualifier", &o.qualifier),
        ("x-fc-version-id", "1"),
        ("x-fc-service-name", &o.service_name),
        ("x-fc-service-logproject", "local-logproject"),
        ("x-fc-service-logstore", "local-logstore"),
        ("x-fc-control-path", control_path),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One call on a fresh connection.
pub fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<Response> {
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    client::request(addr, method, path, &h, body, timeout)
}

/// What an idle pooled connection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idle {
    /// Nothing to read: ready for the next request.
    Open,
    /// The peer closed it (end of stream, or a reset).
    Closed,
    /// Bytes nobody asked for (a stray answer): out of step, never to be reused.
    Unread,
}

/// Looks (a non-blocking peek) at an idle connection without taking anything from it.
pub fn idle_state(conn: &Connection) -> Idle {
    let stream = conn.stream();
    if stream.set_nonblocking(true).is_err() {
        return Idle::Closed;
    }
    let mut byte = [0u8; 1];
    let state = match stream.peek(&mut byte) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Idle::Open,
        Ok(0) | Err(_) => Idle::Closed,
        Ok(_) => Idle::Unread,
    };
    if stream.set_nonblocking(false).is_err() {
        return Idle::Closed;
    }
    state
}

/// True if the error is a read or connect timeout.
pub fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// The `errorMessage` of an FC error body, else the body itself.
pub fn error_message(r: &Response) -> String {
    let parsed = serde_json::from_slice::<serde_json::Value>(&r.body).ok();
    match parsed
        .as_ref()
        .and_then(|v| v.get("errorMessage")?.as_str())
    {
        Some(message) => message.to_string(),
        None => r.text(),
    }
}

/// A fresh request id in FC's shape: `1-<8 hex>-<8 hex>-<12 hex>`.
pub fn request_id() -> String {
    let h = super::random_hex(28);
    format!("1-{}-{}-{}", &h[..8], &h[8..16], &h[16..28])
}
