//! The server: one main thread accepts connections and parks idle ones in poll(2) until a complete
//! request head has arrived; then a worker (or, for /pre-stop and /pre-freeze, the dedicated control
//! thread) reads the body, calls the function, writes the answer and hands the connection back.
//! So an idle or slow connection holds no thread, and threads stay bounded: main + control + workers.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::http::{self, BodyError, Conn, Head, Reject};
use crate::pool::Pool;
use crate::protocol::{Call, Context, Kind, Request, Response};

/// How long a rejected connection may linger, reading and dropping input, before it is closed.
const LINGER: Duration = Duration::from_secs(2);

/// What the server calls: the function with its lifecycle (see `runtime.rs`).
pub(crate) trait Service: Send + Sync + 'static {
    /// Answers one call. `reply` must be called exactly once, while the call still counts as in
    /// flight, so a drain waits until the answer is written.
    fn call(&self, call: Call, ctx: &Context, req: Request, reply: &mut dyn FnMut(Response));
    /// The signal path: stop admitting, drain, run pre-stop once if it has not run.
    fn shutdown(&self);
}

/// How long a worker waits on a keep-alive connection for the next request before handing the
/// connection back to the main thread. Back-to-back requests then cost no thread hand-off; an idle
/// connection holds a worker no longer than this, and not at all while other connections wait.
const KEEP_ALIVE_WAIT: Duration = Duration::from_millis(1);

/// How a request ended for its connection.
enum Outcome {
    /// Answered; the connection stays open.
    KeepAlive,
    /// Closed (answered with `Connection: close`, failed, or the client went away).
    Close,
    /// Rejected: the main thread lingers on it, then closes it.
    Linger,
}

/// Work for a worker or the control thread.
enum Job {
    /// A connection whose buffer starts with a complete request head.
    Request(Conn, Head),
    /// A signal arrived: drain, pre-stop, exit 0.
    Shutdown,
}

/// What the threads share.
struct Shared {
    config: Config,
    service: Arc<dyn Service>,
    /// Connections that workers hand back to the main thread for parking.
    returned: Mutex<Vec<Conn>>,
    /// Written to wake the main thread's poll.
    waker: UnixStream,
    /// Set on the first signal: answer in-flight requests, keep no connection alive.
    stopping: AtomicBool,
    /// The worker pool, to know whether connections wait for a worker.
    workers: OnceLock<Arc<Pool<Job>>>,
}

/// Binds, prints `tinyfc listening on 0.0.0.0:<port>`, and serves until a signal ends the process.
pub(crate) fn serve(config: Config, service: Arc<dyn Service>) -> io::Result<()> {
    raise_fd_limit();
    let listener = TcpListener::bind(("0.0.0.0", config.port))?;
    listener.set_nonblocking(true)?;

    // Signals arrive as bytes on a socket the poll loop watches; `signo` says which.
    let (signal_rx, signal_tx) = UnixStream::pair()?;
    signal_rx.set_nonblocking(true)?;
    signal_tx.set_nonblocking(true)?;
    let signo = Arc::new(AtomicUsize::new(0));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register_usize(sig, signo.clone(), sig as usize)?;
        signal_hook::low_level::pipe::register(sig, signal_tx.try_clone()?)?;
    }
    let (wake_rx, waker) = UnixStream::pair()?;
    wake_rx.set_nonblocking(true)?;
    waker.set_nonblocking(true)?;

    let shared = Arc::new(Shared {
        config,
        service,
        returned: Mutex::new(Vec::new()),
        waker,
        stopping: AtomicBool::new(false),
        workers: OnceLock::new(),
    });
    let s = shared.clone();
    let workers = Pool::new("tinyfc-worker", shared.config.workers, move |j| s.run(j));
    let _ = shared.workers.set(workers.clone());
    let s = shared.clone();
    let control = Pool::new("tinyfc-control", 1, move |j| s.run(j));

    let port = listener.local_addr()?.port();
    println!("tinyfc listening on 0.0.0.0:{port}");
    let mut main = MainLoop {
        shared,
        workers,
        control,
        listener: Some(listener),
        accept_paused_until: None,
        signal_rx,
        signo,
        signals: 0,
        wake_rx,
        parked: Vec::new(),
    };
    main.run()
}

/// The main thread's state.
struct MainLoop {
    shared: Arc<Shared>,
    workers: Arc<Pool<Job>>,
    control: Arc<Pool<Job>>,
    /// None once a signal arrived: no new connections.
    listener: Option<TcpListener>,
    /// Set when accept ran out of file descriptors, to avoid spinning on a readable listener.
    accept_paused_until: Option<Instant>,
    signal_rx: UnixStream,
    signo: Arc<AtomicUsize>,
    signals: usize,
    wake_rx: UnixStream,
    /// Connections waiting for (the rest of) a request head.
    parked: Vec<Conn>,
}

impl MainLoop {
    fn run(&mut self) -> io::Result<()> {
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
            if conn.stream.set_nonblocking(true).is_ok() {
                self.advance(conn, now);
            }
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
        let control_path = crate::protocol::find(&head.headers, "x-fc-control-path");
        match Call::of(control_path, &head.path) {
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
                    if prepare(&stream, &self.shared.config).is_err() {
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
        if self.signals > 1 {
            // A second signal: stop now.
            let code = 128 + self.signo.load(Ordering::SeqCst) as i32;
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

impl Shared {
    fn run(&self, job: Job) {
        match job {
            Job::Request(conn, head) => self.serve(conn, head),
            Job::Shutdown => {
                self.service.shutdown();
                log::info!("stopped");
                let _ = io::stdout().flush();
                std::process::exit(0);
            }
        }
    }

    /// Serves requests on a worker: this one, then the next ones on the same connection while they
    /// follow quickly (see [`KEEP_ALIVE_WAIT`]); then hands the connection back to the main thread.
    fn serve(&self, mut conn: Conn, mut head: Head) {
        if conn.stream.set_nonblocking(false).is_err() {
            return;
        }
        loop {
            match self.serve_one(&mut conn, head) {
                Outcome::Close => return,
                Outcome::Linger => return self.hand_back(conn),
                Outcome::KeepAlive => {}
            }
            let now = Instant::now();
            conn.idle_since = now;
            conn.head_started = (!conn.buf.is_empty()).then_some(now);
            match self.next_request(&mut conn) {
                Some(next) => head = next,
                None => return self.hand_back(conn),
            }
        }
    }

    /// Body, call, answer.
    fn serve_one(&self, conn: &mut Conn, head: Head) -> Outcome {
        let arrived = conn.head_started.unwrap_or_else(Instant::now);
        let body = match http::read_body(conn, &head, self.config.max_body_bytes) {
            Ok(body) => body,
            Err(BodyError::Reject(r)) => {
                http::reject_and_close(conn, &r);
                return Outcome::Linger;
            }
            Err(BodyError::Gone) => return Outcome::Close, // never run a truncated invocation
        };
        let call = Call::of(
            crate::protocol::find(&head.headers, "x-fc-control-path"),
            &head.path,
        );
        let ctx = Context::from_headers(&head.headers, arrived);
        let head_only = head.method == "HEAD";
        let req = Request {
            kind: match call {
                Call::Invoke(kind) => kind,
                _ => Kind::Event,
            },
            method: head.method,
            path: head.path,
            headers: head.headers,
            body,
        };
        let keep_alive = head.keep_alive && !self.stopping.load(Ordering::SeqCst);
        let mut written = false;
        let _log = crate::logging::scope(&ctx.request_id);
        log::debug!(
            "{} {} ({} body bytes)",
            req.method,
            req.path,
            req.body.len()
        );
        if log::log_enabled!(log::Level::Trace) {
            for (k, v) in &req.headers {
                let secret = crate::protocol::SECRET_HEADERS.contains(&k.as_str());
                log::trace!("header {k}: {}", if secret { "<redacted>" } else { v });
            }
        }
        self.service.call(call, &ctx, req, &mut |resp| {
            written = http::write_response(&mut conn.stream, &resp, keep_alive, head_only).is_ok();
        });
        if written && keep_alive && !self.stopping.load(Ordering::SeqCst) {
            Outcome::KeepAlive
        } else {
            Outcome::Close
        }
    }

    /// The next invocation on this connection if its head is already buffered or arrives within
    /// [`KEEP_ALIVE_WAIT`], and no other connection is waiting for a worker. Anything else (a
    /// control call, a bad or partial head, a closed connection) is left to the main thread.
    fn next_request(&self, conn: &mut Conn) -> Option<Head> {
        let deadline = Instant::now() + KEEP_ALIVE_WAIT;
        loop {
            match http::parse_head(&conn.buf, self.config.max_header_bytes) {
                Ok(Some(head)) => {
                    let control = crate::protocol::find(&head.headers, "x-fc-control-path");
                    return matches!(Call::of(control, &head.path), Call::Invoke(_))
                        .then_some(head);
                }
                Ok(None) => {}
                Err(_) => return None,
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let busy = self.workers.get().is_some_and(|w| w.has_queued_jobs());
            if left.is_zero() || busy || !wait_readable(&conn.stream, left) {
                return None;
            }
            let mut chunk = [0u8; 8192];
            match conn.stream.read(&mut chunk) {
                Ok(n) if n > 0 => {
                    conn.buf.extend_from_slice(&chunk[..n]);
                    conn.head_started.get_or_insert_with(Instant::now);
                }
                _ => return None, // closed or failed: the main thread sees it too and drops it
            }
        }
    }

    /// Returns a connection to the main thread, to park or linger.
    fn hand_back(&self, conn: Conn) {
        lock(&self.returned).push(conn);
        let _ = (&self.waker).write(&[1]); // a full wake socket already means "wake up"
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
    let mut chunk = [0u8; 8192];
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
    let mut chunk = [0u8; 8192];
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

/// Per-connection socket settings, once at accept: the timeouts apply to workers' blocking I/O
/// (a stalled body read answers 408; a client that stops reading its answer is cut off).
fn prepare(stream: &TcpStream, c: &Config) -> io::Result<()> {
    stream.set_nonblocking(true)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(c.header_timeout))?;
    stream.set_write_timeout(Some(c.header_timeout))
}

/// Waits up to `timeout` for `stream` to become readable (or closed).
fn wait_readable(stream: &TcpStream, timeout: Duration) -> bool {
    let mut fd = pollfd(stream.as_raw_fd());
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut fd, 1, ms) > 0 }
}

fn pollfd(fd: i32) -> libc::pollfd {
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Lets the process hold as many connections as its hard descriptor limit allows.
fn raise_fd_limit() {
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
