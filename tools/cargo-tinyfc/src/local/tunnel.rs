//! The front door's WebSocket pass-through: FC's HTTP triggers carry WebSocket, so a caller's
//! upgrade goes to the instance (with the platform's headers), the instance's 101 goes back to the
//! caller, and then bytes flow both ways, one thread each, until either side closes.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::FromRawFd;
use std::time::Duration;

use std::sync::Arc;

use tiny_http::Request;
use tinyfc::client::Response;

use super::activity::Activity;
use super::platform::{Failure, Platform};
use crate::say;

/// The most bytes of the instance's answer head read before giving up on it.
const MAX_HEAD: usize = 16 * 1024;

/// True for a caller's request that asks to upgrade to WebSocket.
pub fn is_upgrade(req: &Request) -> bool {
    req.headers()
        .iter()
        .any(|h| h.field.equiv("upgrade") && h.value.as_str().eq_ignore_ascii_case("websocket"))
}

/// Why there is no tunnel: the front door answers the caller this instead.
pub enum Refusal {
    /// The instance's place is taken (`--concurrency`, `--queue-limit`): why.
    Busy(String),
    /// The instance could not take it, be reached, or its answer was not HTTP.
    Failed(Failure),
    /// The instance's own answer (400, 503, or an ordinary answer from a path without a socket
    /// handler), read whole.
    Answer(Response),
}

/// Passes `req`'s upgrade to the instance (request id `rid`) and, once it answers 101, tunnels
/// the connection on two threads of its own until either side closes; the front door's thread
/// returns at once. A socket holds one of the instance's places (`--concurrency`) for its whole
/// life, as an invocation does. Without a tunnel (no place, the instance refused or is not
/// there), `refuse` answers the request.
pub fn pass(
    platform: &Arc<Platform>,
    activity: &Arc<Activity>,
    forwardable: fn(&str) -> bool,
    req: Request,
    rid: &str,
    refuse: impl FnOnce(Request, Refusal),
) {
    let forward: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.to_string(),
            )
        })
        .filter(|(k, _)| forwardable(k))
        .collect();
    let addr = match platform.wait_ready() {
        Ok(addr) => addr,
        Err(e) => return refuse(req, Refusal::Failed(Failure::Unavailable(e))),
    };
    let permit = match platform.gate.enter() {
        Ok(p) => p,
        Err(full) => {
            say!("websocket {} -> 429: {full}", req.url());
            return refuse(req, Refusal::Busy(full));
        }
    };
    let (head, mut instance, early) = match open(platform, addr, rid, &forward, &req) {
        Ok(opened) => opened,
        Err(e) => {
            let msg = format!("WebSocket to the function failed: {e}");
            say!("{} {} -> 502: {msg}", req.method(), req.url());
            return refuse(req, Refusal::Failed(Failure::Unreachable(msg)));
        }
    };
    if head.status != 101 {
        // The instance's refusal, or its ordinary answer: read by its framing, not to the close
        // (a keep-alive server would hold the caller until its idle timeout).
        let timeout = Duration::from_secs(u64::from(platform.opts.timeout_s.max(1)));
        let body = instance
            .set_read_timeout(Some(timeout))
            .and_then(|()| read_body(&head, early, &mut instance));
        say!(
            "websocket RequestId {rid}: {} -> {}",
            req.url(),
            head.status
        );
        let refusal = match body {
            Ok(body) => Refusal::Answer(Response {
                status: head.status,
                headers: head.headers,
                body,
            }),
            Err(e) => Refusal::Failed(Failure::Unreachable(format!(
                "the function's answer to the upgrade failed: {e}"
            ))),
        };
        return refuse(req, refusal);
    }
    say!("websocket RequestId {rid}: {} -> 101", req.url());
    let peer = req.remote_addr().copied();
    let mut answer = tiny_http::Response::empty(101);
    for (k, v) in head
        .headers
        .iter()
        .filter(|(k, _)| k.starts_with("sec-websocket-"))
    {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            answer.add_header(h);
        }
    }
    answer.add_header(tiny_http::Header::from_bytes("X-Fc-Request-Id", rid.as_bytes()).unwrap());
    let mut caller = req.upgrade("websocket", answer);
    // tiny_http hands the caller's connection back as one `Read + Write` box, which two copy
    // threads cannot share; the reply direction writes to a duplicate of its socket instead.
    let Some(caller_out) = peer.and_then(|p| socket_to(p, addr)) else {
        say!("websocket RequestId {rid}: the caller's socket was not found; closing");
        return;
    };
    let Ok(mut instance_in) = instance.try_clone() else {
        return;
    };
    let rid = rid.to_string();
    let busy = activity.busy(); // no idle stop while the socket is open
    std::thread::spawn(move || {
        let _place = (permit, busy); // the socket's place in the instance, until it closes
        let replies = std::thread::spawn(move || {
            let mut out = &caller_out;
            if out.write_all(&early).is_ok() {
                let _ = io::copy(&mut instance_in, &mut out);
            }
            // The instance closed: so does the caller's side (whatever its reader is doing).
            let _ = caller_out.shutdown(Shutdown::Both);
        });
        let _ = io::copy(&mut caller, &mut instance);
        let _ = instance.shutdown(Shutdown::Write); // the caller closed: pass the end on
        let _ = replies.join();
        say!("websocket RequestId {rid}: closed");
    });
}

/// The body of the instance's non-101 answer, by its framing: `early` holds the bytes read
/// past its head. At most 32 MB, FC's limit on a synchronous answer.
fn read_body(head: &Head, mut buf: Vec<u8>, s: &mut TcpStream) -> io::Result<Vec<u8>> {
    const MAX_BODY: usize = 32 * 1024 * 1024;
    let header = |name: &str| {
        head.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    let mut fill = |buf: &mut Vec<u8>| -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_BODY + MAX_HEAD {
            return Err(io::Error::other("answer over 32 MB"));
        }
        Ok(())
    };
    if matches!(head.status, 100..=199 | 204 | 304) {
        return Ok(Vec::new());
    }
    if header("transfer-encoding").as_deref() == Some("chunked") {
        let mut body = Vec::new();
        loop {
            match httparse::parse_chunk_size(&buf) {
                Ok(httparse::Status::Complete((at, 0))) => {
                    buf.drain(..at);
                    return Ok(body); // trailers, if any, are not read: the connection ends
                }
                Ok(httparse::Status::Complete((at, size))) => {
                    let size = usize::try_from(size).unwrap_or(usize::MAX);
                    if size > MAX_BODY - body.len() {
                        return Err(io::Error::other("answer over 32 MB"));
                    }
                    while buf.len() < at + size + 2 {
                        fill(&mut buf)?;
                    }
                    body.extend_from_slice(&buf[at..at + size]);
                    buf.drain(..at + size + 2);
                }
                Ok(httparse::Status::Partial) => fill(&mut buf)?,
                Err(_) => return Err(io::Error::other("invalid chunk size line")),
            }
        }
    }
    match header("content-length") {
        Some(n) => {
            let n: usize = n
                .parse()
                .map_err(|_| io::Error::other(format!("invalid content-length {n:?}")))?;
            if n > MAX_BODY {
                return Err(io::Error::other("answer over 32 MB"));
            }
            while buf.len() < n {
                fill(&mut buf)?;
            }
            buf.truncate(n);
            Ok(buf)
        }
        // No length: the body runs until the function closes.
        None => loop {
            match fill(&mut buf) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(buf),
                Err(e) => return Err(e),
            }
        },
    }
}

/// The instance's answer head.
struct Head {
    status: u16,
    /// Names lower-cased.
    headers: Vec<(String, String)>,
}

/// Connects to the instance, sends the upgrade with the platform's headers, reads its answer
/// head; returns it with the connection and the bytes read past the head.
fn open(
    platform: &Platform,
    addr: SocketAddr,
    rid: &str,
    forward: &[(String, String)],
    req: &Request,
) -> io::Result<(Head, TcpStream, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = format!("{} {} HTTP/1.1\r\n", req.method(), req.url());
    let mut headers = super::calls::common_headers(&platform.opts, rid, "/http-invoke");
    // The runtime answers an HTTP/1.1 request without Host 400 (RFC 9112 section 3.2): the
    // caller's is forwarded, else `localhost`, as tinyfc::client does for the other calls.
    if !forward.iter().any(|(k, _)| k == "host") {
        headers.push(("host".into(), "localhost".into()));
    }
    headers.extend(forward.iter().cloned());
    headers.push(("upgrade".into(), "websocket".into()));
    headers.push(("connection".into(), "Upgrade".into()));
    for (k, v) in &headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    s.write_all(out.as_bytes())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut parsed = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut parsed);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let head = Head {
                    status: resp.code.unwrap_or(502),
                    headers: resp
                        .headers
                        .iter()
                        .map(|h| {
                            let v = String::from_utf8_lossy(h.value).into_owned();
                            (h.name.to_ascii_lowercase(), v)
                        })
                        .collect(),
                };
                s.set_read_timeout(None)?; // a socket may stay quiet for its whole life
                return Ok((head, s, buf.split_off(len)));
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
            Ok(httparse::Status::Partial) => return Err(io::Error::other("answer head too large")),
            Err(e) => return Err(io::Error::other(e.to_string())),
        }
    }
}

/// A duplicate of this process's TCP socket whose peer is `peer` (the caller's connection),
/// not the instance's (`instance`).
fn socket_to(peer: SocketAddr, instance: SocketAddr) -> Option<TcpStream> {
    if peer == instance {
        return None;
    }
    for entry in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if peer_of(fd) == Some(peer) {
            // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor that only this TcpStream owns.
            let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
            if dup >= 0 {
                // SAFETY: `dup` is a fresh, open socket descriptor owned by nothing else.
                return Some(unsafe { TcpStream::from_raw_fd(dup) });
            }
        }
    }
    None
}

/// The peer address of socket `fd` (None for anything else).
fn peer_of(fd: i32) -> Option<SocketAddr> {
    // SAFETY: getpeername writes at most `len` bytes into the storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let r = unsafe {
        libc::getpeername(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return None;
    }
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says it is a sockaddr_in.
            let a: libc::sockaddr_in =
                unsafe { std::ptr::read((&storage as *const libc::sockaddr_storage).cast()) };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::from((ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says it is a sockaddr_in6.
            let a: libc::sockaddr_in6 =
                unsafe { std::ptr::read((&storage as *const libc::sockaddr_storage).cast()) };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::from((ip, u16::from_be(a.sin6_port))))
        }
        _ => None,
    }
}
