//! The main thread: accepts connections and parks every idle or still-arriving one in one
//! poll(2), with the signal and wake sockets; a connection goes to a worker only once its request
//! head is complete. It also answers malformed heads, expires slow and idle connections, and
//! lingers on rejected ones so their error answer is not lost to a reset.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::http::{self, Conn, Head, Reject, READ_CHUNK};
use crate::pool::Pool;
use crate::protocol::Call;
use crate::server::{lock, Job, Shared};

/// The listen backlog: connections the kernel queues before we accept them.
const BACKLOG: i32 = 4096;

/// How long a rejected connection may linger, reading and dropping input, before it is closed.
const LINGER: Duration = Duration::from_secs(2);

/// The main thread's state.
pub(crate) struct MainLoop {
    shared: Arc<Shared>,
    workers: Arc<Pool<Job>>,
    control: Arc<Pool<Job>>,
    /// None once a signal arrived: no new connections.
    listener: Option<TcpListener>,
    /// Set when accept ran out of file descriptors, to avoid spinning on a readable listener.
    accept_paused_until: Option<Instant>,
    signal_rx: UnixStream,
    /// The number of the last signal received.
    last_signal: u8,
    signals: usize,
    wake_rx: UnixStream,
    /// Connections waiting for (the rest of) a request head.
    parked: Vec<Conn>,
}

impl MainLoop {
    /// Takes the bound listener and the read side of the workers' wake socket; registers SIGTERM
    /// and SIGINT, which then arrive as bytes on a socket the poll loop watches.
    pub(crate) fn new(
        listener: TcpListener,
        wake_rx: UnixStream,
        shared: Arc<Shared>,
        workers: Arc<Pool<Job>>,
        control: Arc<Pool<Job>>,
    ) -> io::Result<MainLoop> {
        listener.set_nonblocking(true)?;
        // std listens with a backlog of 128; a burst of connects past it waits for SYN retries
        // (a second or more). Listening again only raises the backlog (the kernel caps it).
        // SAFETY: listen(2) on our own listening socket.
        unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) };
        wake_rx.set_nonblocking(true)?;
        let (signal_rx, signal_tx) = UnixStream::pair()?;
        signal_rx.set_nonblocking(true)?;
        let tx = signal_tx.into_raw_fd(); // kept open for the life of the process
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            // One action per signal, writing the signal's number: the poll loop learns which signal
            // came (for the exit code of a second one) without a second registration.
            let action = move || {
                let byte = sig as u8;
                // SAFETY: send(2) is async-signal-safe; a full socket already means "wake up".
                unsafe { libc::send(tx, (&byte as *const u8).cast(), 1, libc::MSG_DONTWAIT) };
            };
            // SAFETY: the action only calls send(2), which is async-signal-safe.
            unsafe { signal_hook::low_level::register(sig, action) }?;
        }
        Ok(MainLoop {
            shared,
            workers,
            control,
            listener: Some(listener),
            accept_paused_until: None,
            signal_rx,
            last_signal: 0,
            signals: 0,
            wake_rx,
            parked: Vec::new(),
        })
    }

    /// Serves until a signal ends the process.
    pub(crate) fn run(&mut self) -> io::Result<()> {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        loop {
            let now = Instant::now();
            let accepting =
                self.listener.is_some() && self.accept_paused_until.is_none_or(|t| t <= now);
            fds.clear();
            let listen_fd = match (&self.listener, accepting) {
                (Some(l), true) => l.as_raw_fd(),
                _ => -1, // poll ignores negative descriptors
            };
            for fd in [
                listen_fd,
                self.signal_rx.as_raw_fd(),
                self.wake_rx.as_raw_fd(),
            ] {
                fds.push(pollfd(fd));
            }
            fds.extend(self.parked.iter().map(|c| pollfd(c.stream.as_raw_fd())));

            let timeout = self.poll_timeout(now);
            // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfd structs.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if fds[1].revents != 0 {
                self.on_signal();
            }
            if fds[2].revents != 0 {
                drain(&self.wake_rx);
            }
            self.serve_parked(&fds[3..]);
            self.take_returned();
            if fds[0].revents != 0 {
                self.accept();
            }
        }
    }

    /// Milliseconds until the earliest head or idle deadline (-1: none).
    fn poll_timeout(&self, now: Instant) -> i32 {
        let c = &self.shared.config;
        let mut next = self.accept_paused_until;
        for conn in &self.parked {
            let d = deadline(conn, c);
            next = Some(next.map_or(d, |n| n.min(d)));
        }
        match next {
            None => -1,
            Some(t) => {
                let ms = t.saturating_duration_since(now).as_micros().div_ceil(1000);
                ms.min(i32::MAX as u128) as i32
            }
        }
    }

    /// Reads what parked connections sent; dispatches complete heads, answers bad ones, expires
    /// the ones past their deadline.
    fn serve_parked(&mut self, fds: &[libc::pollfd]) {
        let now = Instant::now();
        let parked = std::mem::take(&mut self.parked);
        for (mut conn, fd) in parked.into_iter().zip(fds) {
            if conn.closing.is_some() {
                if (fd.revents == 0 || discard_available(&mut conn))
                    && deadline(&conn, &self.shared.config) > now
                {
                    self.parked.push(conn);
                }
                continue;
            }
            if fd.revents != 0 && !read_available(&mut conn, self.shared.config.max_header_bytes) {
                continue; // closed or failed: drop it
            }
            if !conn.buf.is_empty() {
                conn.head_started.get_or_insert(now);
            }
            self.advance(conn, now);
        }
    }

    /// Takes back connections the workers finished with (their buffers may hold the next request).
    fn take_returned(&mut self) {
        let returned = std::mem::take(&mut *lock(&self.shared.returned));
        let now = Instant::now();
        for conn in returned {
            self.advance(conn, now);
        }
    }

    /// Dispatches the connection if its head is complete, else parks or expires it.
    fn advance(&mut self, conn: Conn, now: Instant) {
        let c = &self.shared.config;
        if conn.closing.is_some() {
            return self.parked.push(conn); // a worker rejected the request: linger here
        }
        match http::parse_head(&conn.buf, c.max_header_bytes) {
            Ok(Some(head)) => self.dispatch(conn, head),
            Err(r) => self.reject(conn, &r),
            Ok(None) if deadline(&conn, c) > now => self.parked.push(conn),
            Ok(None) if conn.head_started.is_some() => {
                let timed_out = Reject {
                    status: 408,
                    message: "request head timed out",
                };
                self.reject(conn, &timed_out);
            }
            Ok(None) => {} // idle past the idle timeout: close quietly
        }
    }

    /// Answers `r`, then parks the connection to linger until the client closes.
    fn reject(&mut self, mut conn: Conn, r: &Reject) {
        http::reject_and_close(&mut conn, r);
        self.parked.push(conn);
    }

    fn dispatch(&mut self, conn: Conn, head: Head) {
        match Call::of_request(&head.headers, &head.path) {
            Call::PreStop | Call::PreFreeze => self.control.submit(Job::Request(conn, head)),
            _ => self.workers.submit(Job::Request(conn, head)),
        }
    }

    fn accept(&mut self) {
        self.accept_paused_until = None;
        loop {
            let accepted = match &self.listener {
                Some(listener) => listener.accept(),
                None => return,
            };
            match accepted {
                Ok((stream, _)) => {
                    if prepare(&stream).is_err() {
                        continue;
                    }
                    let mut conn = Conn::new(stream);
                    if http::open_connections() > self.shared.config.max_connections
                        && !self.evict_idle()
                    {
                        let busy = Reject {
                            status: 503,
                            message: "too many connections",
                        };
                        http::reject_and_close(&mut conn, &busy);
                        continue; // no room to linger: close now
                    }
                    // The request often arrives with the connection: read it now, saving a poll.
                    let now = Instant::now();
                    if read_available(&mut conn, self.shared.config.max_header_bytes) {
                        if !conn.buf.is_empty() {
                            conn.head_started = Some(now);
                        }
                        self.advance(conn, now);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNABORTED)) => {}
                Err(e) => {
                    // Out of descriptors or memory: back off rather than spin on the listener.
                    log::warn!("accept failed: {e}");
                    self.accept_paused_until = Some(Instant::now() + Duration::from_millis(100));
                    return;
                }
            }
        }
    }

    /// Closes the longest-idle parked connection; false if none is idle.
    fn evict_idle(&mut self) -> bool {
        let oldest = self
            .parked
            .iter()
            .enumerate()
            .filter(|(_, c)| c.buf.is_empty())
            .min_by_key(|(_, c)| c.idle_since)
            .map(|(i, _)| i);
        match oldest {
            Some(i) => {
                self.parked.swap_remove(i);
                true
            }
            None => false,
        }
    }

    fn on_signal(&mut self) {
        let mut buf = [0u8; 64];
        let n = (&self.signal_rx).read(&mut buf).unwrap_or(0);
        if n == 0 {
            return;
        }
        self.signals += n;
        self.last_signal = buf[n - 1];
        if self.signals > 1 {
            // A second signal: stop now.
            let code = 128 + i32::from(self.last_signal);
            log::warn!("second signal: exiting at once");
            let _ = io::stdout().flush();
            std::process::exit(code);
        }
        log::info!("signal received: draining");
        self.listener = None;
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.control.submit(Job::Shutdown);
    }
}

/// The instant a parked connection expires: head deadline while a request is arriving, idle
/// deadline otherwise.
fn deadline(conn: &Conn, c: &Config) -> Instant {
    if let Some(t) = conn.closing {
        return t + LINGER;
    }
    match conn.head_started {
        Some(t) => t + c.header_timeout,
        None => conn.idle_since + c.idle_timeout,
    }
}

/// Reads what is available without blocking, keeping at most `max_head + 1` bytes buffered (one
/// more than a head may have, enough to know it is too large). False: closed or failed.
fn read_available(conn: &mut Conn, max_head: usize) -> bool {
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        let room = (max_head + 1).saturating_sub(conn.buf.len());
        if room == 0 {
            return true;
        }
        let want = room.min(chunk.len());
        match conn.stream.read(&mut chunk[..want]) {
            Ok(0) => return false,
            Ok(n) => conn.buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Reads and drops what a closing connection sends. False once the client has closed.
fn discard_available(conn: &mut Conn) -> bool {
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        match conn.stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Per-connection socket settings, once at accept. Sockets stay non-blocking; workers wait for
/// them with a time limit (`http::Timed`).
fn prepare(stream: &TcpStream) -> io::Result<()> {
    stream.set_nonblocking(true)?;
    stream.set_nodelay(true)
}

pub(crate) fn pollfd(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

fn drain(s: &UnixStream) {
    let mut buf = [0u8; 256];
    while matches!((&*s).read(&mut buf), Ok(n) if n > 0) {}
}

/// Lets the process hold as many connections as its hard descriptor limit allows.
pub(crate) fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
