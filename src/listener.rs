//! The listening socket. It sits in the poller's epoll set like a connection, so a waiting worker
//! accepts a new connection itself and serves its first request without a hand-off from another
//! thread; while every worker is busy at the bound, the main thread, which then watches the
//! set, accepts instead.

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::answer::reject_and_close;
use crate::config::Config;
use crate::conn::Conn;
use crate::head::Reject;
use crate::lock;
use crate::poller::Poller;

/// How long accepting pauses after running out of descriptors or memory.
const PAUSE: Duration = Duration::from_millis(100);
/// Descriptors kept for everything but connections: the runtime's own (about ten) and the
/// function's files.
const FD_RESERVE: usize = 32;
/// At most one "accept failed" warning this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The listening socket, shared by the threads that may accept.
#[derive(Default)]
pub(crate) struct Listener {
    /// None before [`Listener::open`] and once a signal arrived: no new connections.
    socket: Mutex<Option<std::net::TcpListener>>,
    /// Set when accept failed for want of resources: the listener is re-armed then (by the
    /// main thread), instead of spinning on a readable socket.
    paused_until: Mutex<Option<Instant>>,
    /// When accept failing was last logged, and the failures since.
    warned: Mutex<(Option<Instant>, u64)>,
    /// When closing an idle connection to make room was last logged, and the closings since.
    evicted: Mutex<(Option<Instant>, u64)>,
}

/// The listen backlog: connections the kernel queues before we accept them.
const BACKLOG: i32 = 4096;

impl Listener {
    /// Takes the bound listener: non-blocking, with a deeper backlog, in `poller`'s set.
    pub(crate) fn open(&self, socket: std::net::TcpListener, poller: &Poller) -> io::Result<()> {
        socket.set_nonblocking(true)?;
        // std listens with a backlog of 128; a burst of connects past it waits for SYN retries
        // (a second or more). Listening again only raises the backlog (the kernel caps it).
        // SAFETY: listen(2) on our own listening socket.
        unsafe { libc::listen(socket.as_raw_fd(), BACKLOG) };
        poller.add_listener(socket.as_raw_fd())?;
        *lock(&self.socket) = Some(socket);
        Ok(())
    }

    /// Accepts every pending connection into `poller` (its edge was reported to this thread).
    /// Past `max_connections` the longest-idle parked connection is closed to make room, or, if
    /// none, the new one is answered 503 and closed. True if the main thread must be woken: a
    /// deadline before its planned wake-up, or a pause to end.
    #[must_use]
    pub(crate) fn accept_all(&self, poller: &Poller, c: &Config) -> bool {
        let socket = lock(&self.socket);
        let Some(fd) = socket.as_ref().map(|s| s.as_raw_fd()) else {
            return false;
        };
        let mut poke = false;
        loop {
            let stream = match accept(fd) {
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
                    *lock(&self.paused_until) = Some(Instant::now() + PAUSE);
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
        let mut paused = lock(&self.paused_until);
        if paused.is_some_and(|t| t <= now) {
            *paused = None;
            if let Some(s) = lock(&self.socket).as_ref() {
                poller.rearm_listener(s.as_raw_fd());
            }
        }
        *paused
    }

    /// Logs a failed accept, at most once per [`WARN_EVERY`] (a pause retries ten times a second).
    #[cold]
    fn warn(&self, e: &io::Error) {
        let mut warned = lock(&self.warned);
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
        let mut evicted = lock(&self.evicted);
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
        if let Some(s) = lock(&self.socket).take() {
            poller.remove_listener(s.as_raw_fd());
        }
    }
}

/// One accept4(2), non-blocking and close-on-exec from the start (std's accept needs a second
/// call for non-blocking), with Nagle off: answers go out in one write each.
fn accept(listener: RawFd) -> io::Result<TcpStream> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: accept4 with no address buffer; the new descriptor is owned by the stream.
    let fd = unsafe { libc::accept4(listener, std::ptr::null_mut(), std::ptr::null_mut(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor that nothing else owns.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Raises the descriptor limit to its hard limit, and returns `max_connections` lowered to fit
/// it with [`FD_RESERVE`] to spare: past the limit an idle connection is evicted for a new one,
/// rather than accept failing with every descriptor held by connections.
pub(crate) fn fit_descriptor_limit(max_connections: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return max_connections;
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
            }
        }
    }
    if lim.rlim_cur == libc::RLIM_INFINITY {
        return max_connections;
    }
    let fit = (lim.rlim_cur as usize).saturating_sub(FD_RESERVE).max(1);
    if fit < max_connections {
        log::info!(
            "at most {fit} connections: {} descriptors, {FD_RESERVE} kept for files",
            lim.rlim_cur
        );
        return fit;
    }
    max_connections
}
