//! WebSocket for HTTP functions (feature `websocket`, docs/websocket.md): the upgrade handshake,
//! the socket a handler gets (tungstenite's frame protocol over the connection, made blocking with
//! poll), and the registry of open sockets that a drain closes with 1001 after its limit.
//!
//! A socket runs on the worker that received the upgrade for the connection's life, counted in
//! flight like an invocation. Reads wait without an idle limit up to the function timeout
//! (`x-fc-function-timeout`), where the connection closes without a close frame, as FC closes it
//! (1006); a write waits at most `TINYFC_WRITE_TIMEOUT_MS` for the client to take bytes.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use tungstenite;
pub use tungstenite::{Message, WebSocket};

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

use crate::answer::{send, Framing};
use crate::config::Config;
use crate::conn::{wait_ready, Conn, Timed};
use crate::context::Context;
use crate::error::Error;
use crate::headers::Headers;
use crate::protocol::{error_response, Answer};
use crate::request::Request;

/// The socket a WebSocket handler gets: tungstenite's [`WebSocket`] over the connection.
/// `read` blocks until a message arrives; once the instance stops, reads fail and tinyfc closes
/// the socket with 1001 when the handler returns.
pub type Socket<'a> = WebSocket<Stream<'a>>;

/// A WebSocket handler: runs on the worker that received the upgrade until it returns; then
/// tinyfc closes the socket (1000 after `Ok`, 1011 after an error or a panic).
pub(crate) type SocketFn<S> =
    Box<dyn Fn(&S, &Context, &Request, &mut Socket<'_>) -> Result<(), Error> + Send + Sync>;

/// The connection under a [`Socket`]: the non-blocking TCP stream used as a blocking one.
pub struct Stream<'a> {
    stream: &'a TcpStream,
    /// The function timeout: reads fail past it (`None`: no limit).
    deadline: Option<Instant>,
    write_stall: Duration,
    away: &'a AtomicBool,
    /// A read failed at the deadline: close without a close frame.
    timed_out: bool,
}

impl Read for Stream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.away.load(Ordering::SeqCst) {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the instance is stopping",
                ));
            }
            match (&*self.stream).read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The drain's shutdown of the read side, not the client's end.
                Ok(0) if self.away.load(Ordering::SeqCst) => continue,
                r => return r,
            }
            let left = match self.deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                self.timed_out = true;
                return Err(io::ErrorKind::TimedOut.into());
            }
            wait_ready(self.stream, libc::POLLIN, left);
        }
    }
}

impl Write for Stream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match (&*self.stream).write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !wait_ready(self.stream, libc::POLLOUT, self.write_stall) {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                }
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An open socket, as the drain sees it.
struct Open {
    id: u64,
    /// The registry's own handle on the connection's socket (a duplicate descriptor): a drain
    /// shuts its read side through it, and it cannot name another socket while it is held.
    stream: TcpStream,
    away: Arc<AtomicBool>,
}

/// How long a drain waits, after closing the open sockets, for their workers to write 1001.
pub(crate) const GOING_AWAY: Duration = Duration::from_millis(500);

/// One server's open sockets (a field of its lifecycle, not a process-wide list: one
/// `TestServer`'s drain must not close another's sockets).
#[derive(Default)]
pub(crate) struct Registry {
    /// The open sockets. An entry leaves before its connection closes: while it holds its
    /// duplicate, closing the connection would not end the socket.
    open: Mutex<Vec<Open>>,
    next_id: AtomicU64,
    /// Drains that closed sockets so far: a socket admitted before one and registered after it
    /// (its initializer outlived the drain) goes away at once.
    drains: AtomicU64,
}

impl Registry {
    /// Drains so far: read before a socket's call is admitted, checked once it is registered.
    pub(crate) fn drains(&self) -> u64 {
        self.drains.load(Ordering::SeqCst)
    }

    /// After a drain's limit: every open socket goes away (its reads fail, and it closes with
    /// 1001 once its handler returns). Returns how many were open.
    #[cold]
    pub(crate) fn going_away(&self) -> usize {
        self.drains.fetch_add(1, Ordering::SeqCst);
        let open = crate::lock(&self.open);
        for s in open.iter() {
            s.away.store(true, Ordering::SeqCst);
            // Shutting the read side wakes the worker's poll; writes still work, for the close
            // frame. A failure (the peer already gone) changes nothing worth reporting.
            let _ = s.stream.shutdown(Shutdown::Read);
        }
        open.len()
    }
}

/// Removes its socket from its registry when dropped.
struct Registered<'a>(&'a Registry, u64);

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        crate::lock(&self.0.open).retain(|s| s.id != self.1);
    }
}

/// True if `headers` ask for a protocol upgrade (any `Upgrade` header): such a request on a
/// WebSocket path is a handshake, valid or not.
pub(crate) fn asks_upgrade(headers: &Headers) -> bool {
    headers.get("upgrade").is_some()
}

/// An upgrade request's connection, until the handshake is answered.
pub(crate) struct Upgrade<'a> {
    conn: &'a mut Conn,
    config: &'a Config,
    /// The request was HTTP/1.0, which has no upgrade (RFC 6455 4.2.1 asks for 1.1 or later).
    http10: bool,
}

impl<'a> Upgrade<'a> {
    /// `conn` holds what the client sent after the request (its first frames, perhaps).
    pub(crate) fn new(conn: &'a mut Conn, config: &'a Config, http10: bool) -> Upgrade<'a> {
        Upgrade {
            conn,
            config,
            http10,
        }
    }

    /// Answers instead of upgrading (the connection then closes).
    pub(crate) fn refuse(&mut self, a: &Answer) {
        let framing = Framing {
            keep_alive: false,
            http10: false,
            head_only: false,
            write_timeout: self.config.write_timeout,
        };
        send(
            &self.conn.stream,
            &a.resp,
            a.fc_status,
            framing,
            self.config,
        );
    }

    /// Validates the handshake, answers 101 and runs `handler` on the socket, listed in
    /// `registry` (whose drain count was `drains` before the call was admitted), then closes it;
    /// a bad handshake is answered 400.
    pub(crate) fn accept(
        &mut self,
        req: &Request,
        ctx: &Context,
        (registry, drains): (&Registry, u64),
        handler: impl FnOnce(&mut Socket<'_>) -> Result<(), Error>,
    ) {
        let key = match check_handshake(req, self.http10) {
            Ok(key) => key,
            Err(why) => {
                log::warn!("bad WebSocket upgrade: {why}");
                let resp = error_response(400, &Error::typed("BadRequest", why))
                    .header("sec-websocket-version", "13");
                return self.refuse(&Answer {
                    resp,
                    fc_status: 404,
                });
            }
        };
        // The registry's handle, taken before the 101: without a descriptor for it, refuse.
        let handle = match self.conn.stream.try_clone() {
            Ok(handle) => handle,
            Err(e) => {
                log::error!("cannot upgrade to a WebSocket: {e}");
                let resp = error_response(503, &Error::typed("ServiceUnavailable", e.to_string()));
                return self.refuse(&Answer {
                    resp,
                    fc_status: 503,
                });
            }
        };
        let c = self.config;
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
             sec-websocket-accept: {accept}\r\n\r\n"
        );
        let stream = &self.conn.stream;
        let mut out = Timed::within(stream, c.header_timeout, c.write_timeout);
        if out.write_all(head.as_bytes()).is_err() {
            return;
        }
        let away = Arc::new(AtomicBool::new(false));
        let id = registry.next_id.fetch_add(1, Ordering::SeqCst);
        crate::lock(&registry.open).push(Open {
            id,
            stream: handle,
            away: away.clone(),
        });
        let _registered = Registered(registry, id);
        if registry.drains() != drains {
            away.store(true, Ordering::SeqCst);
        }
        let io = Stream {
            stream,
            deadline: ctx.deadline,
            write_stall: c.write_timeout,
            away: &away,
            timed_out: false,
        };
        let limit = c.max_body_bytes;
        let config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .max_message_size(Some(limit))
            .max_frame_size(Some(limit));
        let early = std::mem::take(&mut self.conn.buf);
        let mut socket = WebSocket::from_partially_read(io, early, Role::Server, Some(config));
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&mut socket)))
                .unwrap_or_else(|panic| Err(Error::from_panic(panic)));
        let end = match &result {
            Ok(()) => End::Done,
            Err(e) => match client_fault(e) {
                Some(code) => {
                    let n = u16::from(code);
                    log::warn!(
                        "the WebSocket client broke the protocol ({n}): {}",
                        e.error_message
                    );
                    End::ClientFault(code)
                }
                // The drain closed the socket under the handler: its error is the stop's, not
                // the function's.
                None if away.load(Ordering::SeqCst) => {
                    log::info!("WebSocket handler ended by the stop: {e}");
                    End::Failed
                }
                None => {
                    log::error!("WebSocket handler failed: {e}");
                    End::Failed
                }
            },
        };
        close(&mut socket, end);
    }
}

/// How a socket's handler ended.
enum End {
    Done,
    Failed,
    /// On the client's protocol violation: close with this code.
    ClientFault(CloseCode),
}

/// The close code of RFC 6455 section 7.4.1 for a handler error that is the client's protocol
/// violation as tungstenite reports it (the handler propagated its read's error, with `?` or its
/// text): 1007 for invalid UTF-8 in a text message, 1009 for a message over the limit, 1002 for
/// any other protocol error (an unmasked frame, reserved bits or opcodes, a bad close payload).
/// Read from tungstenite's error texts, which `tinyfc::Error` keeps whichever way it was built;
/// the unit test below pins them to the tungstenite in use.
fn client_fault(e: &Error) -> Option<CloseCode> {
    let m = e.error_message.as_str();
    if m.contains("UTF-8 encoding error") {
        Some(CloseCode::Invalid)
    } else if m.contains("Space limit exceeded: Message too long") {
        Some(CloseCode::Size)
    } else if m.contains("WebSocket protocol error")
        && !m.contains("Connection reset without closing handshake")
    {
        Some(CloseCode::Protocol)
    } else {
        None
    }
}

/// Closes the socket once its handler returned: 1001 if the instance is stopping, 1000 after
/// success, 1002, 1007 or 1009 after the client's protocol violation, 1011 after a failure;
/// nothing at the function timeout (the client sees 1006).
fn close(socket: &mut Socket<'_>, end: End) {
    let io = socket.get_ref();
    if io.timed_out {
        return;
    }
    let away = io.away.load(Ordering::SeqCst);
    // After the client's violation the connection is failed (RFC 6455 7.1.7): nothing more is
    // read from it (tungstenite's reader is in no state to go on after a message over the limit).
    let failed = matches!(end, End::ClientFault(_));
    let (code, reason) = match (away, end) {
        (true, _) => (CloseCode::Away, "the instance is stopping"),
        (false, End::Done) => (CloseCode::Normal, ""),
        (false, End::ClientFault(code)) => (code, "protocol error"),
        (false, End::Failed) => (CloseCode::Error, "the function failed"),
    };
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.close(Some(frame)).is_err() || away || failed {
        let _ = socket.flush();
        return; // the read side is shut, or the client's input is no longer read
    }
    // Wait briefly for the client's close (so our frame is not lost to a reset), never long.
    socket.get_mut().deadline = Some(Instant::now() + Duration::from_secs(1));
    while socket.read().is_ok() {}
}

/// The key of a valid WebSocket handshake (RFC 6455 4.2.1; `http10`: the request was HTTP/1.0),
/// else why it is not one.
fn check_handshake(req: &Request, http10: bool) -> Result<&str, &'static str> {
    if http10 {
        return Err("a WebSocket upgrade needs HTTP/1.1");
    }
    let h = &req.headers;
    let has = |name: &str, token: &str| {
        h.iter()
            .filter(|(k, _)| *k == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if req.method != "GET" {
        return Err("a WebSocket upgrade must be a GET");
    }
    if !has("upgrade", "websocket") {
        return Err("the upgrade is not to websocket");
    }
    if !has("connection", "upgrade") {
        return Err("connection: upgrade is missing");
    }
    if h.get("sec-websocket-version") != Some("13") {
        return Err("sec-websocket-version must be 13");
    }
    if !req.body.is_empty() {
        return Err("a WebSocket upgrade has no body");
    }
    let key = h.get("sec-websocket-key").unwrap_or("");
    // Base64 of 16 bytes: 22 characters and "==".
    let ok = key.len() == 24
        && key.ends_with("==")
        && key.as_bytes()[..22]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    if !ok {
        return Err("sec-websocket-key is not 16 bytes of base64");
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::error::{CapacityError, ProtocolError};

    #[test]
    fn the_clients_protocol_errors_map_to_rfc_6455_close_codes_however_propagated() {
        let bytes = vec![0xff];
        let utf8 = std::str::from_utf8(&bytes).unwrap_err();
        let cases = [
            (tungstenite::Error::from(utf8), Some(CloseCode::Invalid)),
            (
                CapacityError::MessageTooLong {
                    size: 2,
                    max_size: 1,
                }
                .into(),
                Some(CloseCode::Size),
            ),
            (
                ProtocolError::UnmaskedFrameFromClient.into(),
                Some(CloseCode::Protocol),
            ),
            (
                ProtocolError::NonZeroReservedBits.into(),
                Some(CloseCode::Protocol),
            ),
            (ProtocolError::ResetWithoutClosingHandshake.into(), None),
            (tungstenite::Error::ConnectionClosed, None),
        ];
        for (e, code) in cases {
            let text = e.to_string();
            assert_eq!(client_fault(&Error::from(e)), code, "{text} (by ?)");
            assert_eq!(
                client_fault(&Error::msg(text.clone())),
                code,
                "{text} (by text)"
            );
        }
    }
}
