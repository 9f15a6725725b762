//! The listening socket. It sits in the poller's epoll set like a connection, so a waiting worker
//! accepts a new connection itself and serves its first request without a hand-off from another
//! thread; while every worker is busy at the bound, the main thread, which then watches the
//! set, accepts instead.

use std::io;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::answer::reject_and_close;
use crate::config::Config;
use crate::conn::Conn;
use crate::head::Reject;
use crate::poller::Poller;
use crate::ranked::{Rank, Ranked};

/// How long accepting pauses after running out of descriptors or memory.
const PAUSE: Duration = Duration::from_millis(100);
/// Descriptors kept for everything but connections: the runtime's own (about ten) and the
/// function's files.
const FD_RESERVE: usize = 32;
/// At most one "accept failed" warning this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The listening socket, shared by the threads that may accept. Its locks are taken in the order
/// of their fields (see `ranked.rs`).
pub(crate) struct Listener {
    /// None before [`Listener::open`] and once a signal arrived: no new connections.
    socket: Ranked<Option<std::net::TcpListener>>,
    /// Set when accept failed for want of resources: the listener is re-armed then (by the
    /// main thread), instead of spinning on a readable socket.
    paused_until: Ranked<Option<Instant>>,
    /// When accept failing was last logged, and the failures since.
    warned: Ranked<(Option<Instant>, u64)>,
    /// When closing an idle connection to make room was last logged, and the closings since.
    evicted: Ranked<(Option<Instant>, u64)>,
}

impl Default for Listener {
    fn default() -> Listener {
        Listener {
            socket: Ranked::new(Rank::ListenerSocket, None),
            paused_until: Ranked::new(Rank::ListenerPause, None),
            warned: Ranked::new(Rank::ListenerWarned, (None, 0)),
            evicted: Ranked::new(Rank::ListenerEvicted, (None, 0)),
        }
    }
}

/// The listen backlog: connections the kernel queues before we accept them.
const BACKLOG: i32 = 4096;

impl Listener {
    /// Takes the bound listener: non-blocking, with a deeper backlog, in `poller`'s set.
    pub(crate) fn open(&self, socket: std::net::TcpListener, poller: &Poller) -> io::Result<()> {
        socket.set_nonblocking(true)?;
        // std listens with a backlog of 128; a burst of connects past it waits for SYN retries
        // (a second or more). Listening again only raises the backlog (the kernel caps it).
        crate::sys::listen(&socket, BACKLOG);
        poller.add_listener(socket.as_fd())?;
        *self.socket.lock() = Some(socket);
        Ok(())
    }

    /// Accepts every pending connection into `poller` (its edge was reported to this thread).
    /// Past `max_connections` the longest-idle parked connection is closed to make room, or, if
    /// none, the new one is answered 503 and closed. True if the main thread must be woken: a
    /// deadline before its planned wake-up, or a pause to end.
    #[must_use]
    pub(crate) fn accept_all(&self, poller: &Arc<Poller>, c: &Config) -> bool {
        let socket = self.socket.lock();
        let Some(listener) = socket.as_ref() else {
            return false;
        };
        let mut poke = false;
        loop {
            let stream = match accept(listener) {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return poke,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNABORTED)) => continue,
                Err(e) => {
                    // Out of descriptors: closing an idle connection makes room, as at the
                    // connection limit.
                    let fds = matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
                    if fds {
                        if let Some(idle) = poller.evict_idle() {
                            self.evicted(idle, "out of descriptors");
                            continue;
                        }
                    }
                    // None idle, or out of memory: the pending connections stay queued.
                    self.warn(&e);
                    *self.paused_until.lock() = Some(Instant::now() + PAUSE);
                    return true;
                }
            };
            let mut conn = Conn::new(stream);
            if poller.open() >= c.max_connections {
                match poller.evict_idle() {
                    Some(idle) => self.evicted(idle, "at TINYFC_MAX_CONNECTIONS"),
                    None => {
                        let busy = Reject {
                            status: 503,
                            message: "too many connections",
                        };
                        reject_and_close(&mut conn, &busy);
                        continue; // no room to linger: close now
                    }
                }
            }
            // Its request, arriving now or later, wakes a waiting worker directly.
            poke |= poller.add(conn, c);
        }
    }

    /// Ends a pause that is due (the poller reports the queued connections again); when a pause
    /// still running ends (the main thread wakes up then).
    pub(crate) fn resume(&self, now: Instant, poller: &Poller) -> Option<Instant> {
        let mut paused = self.paused_until.lock();
        if !paused.is_some_and(|t| t <= now) {
            return *paused;
        }
        *paused = None;
        // Released before the socket's lock: accepting takes the socket's first.
        drop(paused);
        if let Some(s) = self.socket.lock().as_ref() {
            poller.rearm_listener(s.as_fd());
        }
        None
    }

    /// Logs a failed accept, at most once per [`WARN_EVERY`] (a pause retries ten times a second).
    #[cold]
    fn warn(&self, e: &io::Error) {
        let mut warned = self.warned.lock();
        let now = Instant::now();
        warned.1 += 1;
        if warned.0.is_none_or(|t| now >= t + WARN_EVERY) {
            let n = std::mem::take(&mut warned.1);
            log::warn!("accept failed: {e} ({n} time(s) since the last warning); pausing");
            warned.0 = Some(now);
        }
    }

    /// Logs closing an idle connection to make room, at most once per [`WARN_EVERY`]: FC reuses
    /// its idle connections, and its next POST on a closed one is a 502 for its caller.
    #[cold]
    fn evicted(&self, idle: Duration, why: &str) {
        let mut evicted = self.evicted.lock();
        let now = Instant::now();
        evicted.1 += 1;
        if evicted.0.is_none_or(|t| now >= t + WARN_EVERY) {
            let n = std::mem::take(&mut evicted.1);
            log::warn!(
                "{why}: closed the longest-idle connection (idle {} s) to admit a new one, {n} \
                 time(s) since the last warning; on FC a POST on a closed connection is a 502",
                idle.as_secs()
            );
            evicted.0 = Some(now);
        }
    }

    /// Stops accepting: closes the listening socket.
    pub(crate) fn close(&self, poller: &Poller) {
        if let Some(s) = self.socket.lock().take() {
            poller.remove_listener(s.as_fd());
        }
    }
}

/// One connection, close-on-exec (std's accept4), non-blocking, with Nagle off: answers go out
/// in one write each.
fn accept(listener: &std::net::TcpListener) -> io::Result<TcpStream> {
    let (stream, _) = listener.accept()?;
    stream.set_nonblocking(true)?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Raises the descriptor limit to its hard limit, and returns `max_connections` lowered to fit
/// it with [`FD_RESERVE`] to spare: past the limit an idle connection is evicted for a new one,
/// rather than accept failing with every descriptor held by connections.
pub(crate) fn fit_descriptor_limit(max_connections: usize) -> usize {
    let Some(limit) = crate::sys::raise_descriptor_limit() else {
        return max_connections;
    };
    let fit = (limit as usize).saturating_sub(FD_RESERVE).max(1);
    if fit < max_connections {
        log::info!("at most {fit} connections: {limit} descriptors, {FD_RESERVE} kept for files");
        return fit;
    }
    max_connections
}
