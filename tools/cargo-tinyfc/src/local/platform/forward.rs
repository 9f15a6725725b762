//! Invocations as FC sends them: on connections it keeps pooled (idle for up to 15 minutes), with
//! its rule for a pooled connection the function has closed, its 8 KB limit on an answer's head,
//! and the function's timeout.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tinyfc::client::Connection;

use super::{Kind, Phase, Platform, Reply, Unavailable};
use crate::local::calls::{common_headers, idle_state, is_timeout, Idle};
use crate::say;

/// How long FC keeps a connection to the instance idle in its pool. FC's docs ask functions to
/// keep idle connections open longer than this (or forever); one idle longer is closed here.
pub const MAX_IDLE: Duration = Duration::from_secs(15 * 60);

/// FC's limit on the head of a function's answer (its headers, names and values).
pub const MAX_ANSWER_HEADERS: usize = 8 * 1024;

/// Why an invocation got no answer from the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The instance cannot take it: initialization failed for good, or the platform is stopping.
    Unavailable(Unavailable),
    /// The pooled connection it was to go on had been closed by the function while idle, and the
    /// method is not idempotent: FC answers 502 rather than risk running it twice.
    IdleClosed(String),
    /// No answer within the function's timeout, in seconds.
    TimedOut(u32),
    /// The function's answer breaks FC's rules (a head over 8 KB).
    BadResponse(String),
    /// The instance could not be reached, or the connection failed during the call.
    Unreachable(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unavailable(Unavailable::InitFailed(msg)) => f.write_str(msg),
            Failure::Unavailable(Unavailable::Stopping) => f.write_str("the platform is stopping"),
            Failure::IdleClosed(msg) | Failure::BadResponse(msg) | Failure::Unreachable(msg) => {
                f.write_str(msg)
            }
            Failure::TimedOut(secs) => write!(f, "Function timed out after {secs} seconds"),
        }
    }
}

/// What the pool holds for the next invocation.
enum Pooled {
    /// An open, quiet connection.
    Open(Connection),
    /// The connection the function closed while it was idle.
    Closed,
    /// Nothing pooled.
    Empty,
}

/// GET, HEAD, OPTIONS and TRACE: what FC sends again on a new connection when the pooled one
/// turned out closed.
fn idempotent(method: &str) -> bool {
    ["GET", "HEAD", "OPTIONS", "TRACE"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// The size of an answer's head as FC counts it: names, values and their separators.
fn head_bytes(headers: &[(String, String)]) -> usize {
    headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum()
}

impl Platform {
    /// Sends one invocation, request id `rid`, with the platform's headers; `headers` are the
    /// caller's (already filtered). The answer is read whole.
    pub fn invoke(
        self: &Arc<Self>,
        rid: &str,
        kind: Kind,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<tinyfc::client::Response, Failure> {
        match self.invoke_streaming(rid, kind, method, path, headers, body)? {
            Reply::Whole(r) => Ok(r),
            Reply::Streamed(mut r, mut reader) => {
                reader
                    .read_to_end(&mut r.body)
                    .map_err(|e| Failure::Unreachable(format!("invocation {rid} failed: {e}")))?;
                Ok(r)
            }
        }
    }

    /// [`Platform::invoke`], but a chunked answer (a function's streamed body) comes back with
    /// its head and a reader of the body as it arrives, so it can be relayed chunk by chunk. An
    /// invocation that times out has the instance replaced (in the background), as FC does.
    pub fn invoke_streaming(
        self: &Arc<Self>,
        rid: &str,
        kind: Kind,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Reply, Failure> {
        let addr = self.wait_ready().map_err(Failure::Unavailable)?;
        let outcome = self.forward(addr, rid, kind, method, path, headers, body);
        if let Err(Failure::TimedOut(secs)) = &outcome {
            say!("invoke RequestId {rid}: Function timed out after {secs} seconds");
            let platform = self.clone();
            std::thread::spawn(move || platform.replace_instance(addr, "an invocation timed out"));
        }
        outcome
    }

    /// Sends the invocation to the instance at `addr` and reads the answer's head (and, unless
    /// it is streamed, its body).
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        addr: SocketAddr,
        rid: &str,
        kind: Kind,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Reply, Failure> {
        let control = match kind {
            Kind::Event => "/invoke",
            Kind::Http => "/http-invoke",
        };
        let mut all = common_headers(&self.opts, rid, control);
        all.extend(headers.iter().cloned());
        let h: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let timeout = Duration::from_secs(u64::from(self.opts.timeout_s.max(1)));
        let unreachable = |e: std::io::Error| Failure::Unreachable(e.to_string());
        let mut conn = match self.take_idle(addr) {
            Pooled::Open(c) => c,
            Pooled::Empty => Connection::connect(addr, timeout).map_err(unreachable)?,
            Pooled::Closed if idempotent(method) => {
                say!(
                    "invoke RequestId {rid}: the function closed an idle keep-alive connection; \
                     {method} is idempotent, so it goes on a new one, as FC does"
                );
                Connection::connect(addr, timeout).map_err(unreachable)?
            }
            Pooled::Closed => {
                let msg = format!(
                    "the function closed an idle keep-alive connection, so FC answers this {method} \
                     502 (only GET, HEAD, OPTIONS and TRACE are sent again): FC's docs ask for \
                     keep-alive idle timeouts off or above 15 minutes"
                );
                say!("invoke RequestId {rid}: {msg}");
                return Err(Failure::IdleClosed(msg));
            }
        };
        // Once the request is written, an error is the caller's and never a second try: the
        // function may have run it (a non-idempotent handler must not run twice).
        let failed = |e: std::io::Error| {
            if is_timeout(&e) {
                Failure::TimedOut(self.opts.timeout_s)
            } else {
                Failure::Unreachable(format!("invocation {rid} failed: {e}"))
            }
        };
        let _ = conn.stream().set_read_timeout(Some(timeout));
        let started = Instant::now();
        conn.send(method, path, &h, body).map_err(failed)?;
        let head_only = method.eq_ignore_ascii_case("HEAD");
        let (mut r, mut reader) = conn.read_streaming(head_only).map_err(failed)?;
        let size = head_bytes(&r.headers);
        if size > MAX_ANSWER_HEADERS {
            let msg = format!("the function's answer has {size} bytes of headers, over FC's 8 KB");
            say!("invoke RequestId {rid}: BadResponse: {msg}");
            return Err(Failure::BadResponse(msg));
        }
        let chunked = r
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
        if chunked && !head_only {
            // Relayed as it comes; the connection is not pooled again (it ends with the relay).
            // Its report counts up to the head: the rest is the caller's relay.
            self.report(rid, started);
            return Ok(Reply::Streamed(r, reader));
        }
        reader.read_to_end(&mut r.body).map_err(failed)?;
        self.report(rid, started);
        // A connection with unread bytes (a body on a HEAD answer) is never pooled.
        if let Some(conn) = reader.into_connection() {
            if r.header("connection") != Some("close") {
                let mut st = self.lock();
                let current = st.instance.as_ref().map(|i| i.addr) == Some(addr);
                if !st.stopping && st.phase == Phase::Ready && current {
                    st.idle.push((conn, Instant::now(), addr));
                }
            }
        }
        Ok(Reply::Whole(r))
    }

    /// FC's report line for invocation `rid`, sent at `started`.
    fn report(&self, rid: &str, started: Instant) {
        crate::local::report::say(rid, started.elapsed(), &self.opts, self.instance_pid());
    }

    /// The most recently used pooled connection to `addr`, if it is not older than
    /// [`MAX_IDLE`]; one the function sent bytes on after its answer is dropped.
    fn take_idle(&self, addr: SocketAddr) -> Pooled {
        let mut st = self.lock();
        st.idle
            .retain(|(_, used, to)| used.elapsed() < MAX_IDLE && *to == addr);
        while let Some((c, _, _)) = st.idle.pop() {
            match idle_state(&c) {
                Idle::Open => return Pooled::Open(c),
                Idle::Closed => return Pooled::Closed,
                Idle::Unread => {
                    say!("dropped a pooled connection: the function sent bytes after its answer")
                }
            }
        }
        Pooled::Empty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_methods_fc_sends_again_are_idempotent() {
        for m in ["GET", "head", "OPTIONS", "TRACE"] {
            assert!(idempotent(m), "{m}");
        }
        for m in ["POST", "PUT", "PATCH", "DELETE"] {
            assert!(!idempotent(m), "{m}");
        }
    }
}
