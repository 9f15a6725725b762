//! The server: the main thread (`poller.rs`) parks connections until a complete request head has
//! arrived; then a worker (or, for /pre-stop and /pre-freeze, the dedicated control thread) reads
//! the body, calls the function, writes the answer and hands the connection back (this file).
//! So an idle or slow connection holds no thread, and threads stay bounded: main + control + workers.

use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::http::{self, BodyError, Conn, Head, Timed, READ_CHUNK};
use crate::poller::{self, MainLoop};
use crate::pool::Pool;
use crate::protocol::{Call, Context, Kind, Request, Response};

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

/// The most buffer capacity an idle connection keeps.
const IDLE_BUFFER: usize = 16 * 1024;

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
pub(crate) enum Job {
    /// A connection whose buffer starts with a complete request head.
    Request(Conn, Head),
    /// A signal arrived: drain, pre-stop, exit 0.
    Shutdown,
}

/// What the threads share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    service: Arc<dyn Service>,
    /// Connections that workers hand back to the main thread for parking.
    pub(crate) returned: Mutex<Vec<Conn>>,
    /// Written to wake the main thread's poll.
    waker: UnixStream,
    /// Set on the first signal: answer in-flight requests, keep no connection alive.
    pub(crate) stopping: AtomicBool,
    /// The worker pool, to know whether connections wait for a worker.
    workers: OnceLock<Arc<Pool<Job>>>,
}

/// Binds, prints `tinyfc listening on 0.0.0.0:<port>`, and serves until a signal ends the process.
pub(crate) fn serve(config: Config, service: Arc<dyn Service>) -> io::Result<()> {
    poller::raise_fd_limit();
    let (wake_rx, waker) = UnixStream::pair()?;
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
    let idle = shared.config.worker_idle;
    let workers = Pool::new("tinyfc-worker", shared.config.workers, idle, move |j| {
        s.run(j, true)
    });
    let _ = shared.workers.set(workers.clone());
    let s = shared.clone();
    // The control thread never waits on a connection: a SIGTERM right after /pre-stop must not
    // queue behind a keep-alive wait.
    let control = Pool::new("tinyfc-control", 1, idle, move |j| s.run(j, false));

    let listener = TcpListener::bind(("0.0.0.0", shared.config.port))?;
    let port = listener.local_addr()?.port();
    let mut main = MainLoop::new(listener, wake_rx, shared, workers.clone(), control)?;
    println!("tinyfc listening on 0.0.0.0:{port}");
    // One worker starts now, after listening: starting a thread costs tens of microseconds, which
    // then overlap the platform's first connect instead of delaying the listening socket.
    workers.prestart();
    main.run()
}

impl Shared {
    /// Runs a job; `keep_alive_wait`: may wait for the connection's next request (workers only).
    pub(crate) fn run(&self, job: Job, keep_alive_wait: bool) {
        match job {
            Job::Request(conn, head) => self.serve(conn, head, keep_alive_wait),
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
    fn serve(&self, mut conn: Conn, mut head: Head, keep_alive_wait: bool) {
        loop {
            match self.serve_one(&mut conn, head) {
                Outcome::Close => return,
                Outcome::Linger => return self.hand_back(conn),
                Outcome::KeepAlive => {}
            }
            let now = Instant::now();
            conn.idle_since = now;
            conn.head_started = (!conn.buf.is_empty()).then_some(now);
            if conn.buf.is_empty() && conn.buf.capacity() > IDLE_BUFFER {
                conn.buf = Vec::new(); // a large body's buffer is not kept while idle
            }
            match self.next_request(&mut conn, keep_alive_wait) {
                Some(next) => head = next,
                None => return self.hand_back(conn),
            }
        }
    }

    /// Body, call, answer.
    fn serve_one(&self, conn: &mut Conn, head: Head) -> Outcome {
        let arrived = conn.head_started.unwrap_or_else(Instant::now);
        let stall = self.config.header_timeout;
        let body = match http::read_body(conn, &head, self.config.max_body_bytes, stall) {
            Ok(body) => body,
            Err(BodyError::Reject(r)) => {
                http::reject_and_close(conn, &r);
                return Outcome::Linger;
            }
            Err(BodyError::Gone) => return Outcome::Close, // never run a truncated invocation
        };
        let call = Call::of_request(&head.headers, &head.path);
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
            let mut socket = Timed::new(&conn.stream, stall);
            written = http::write_response(&mut socket, &resp, keep_alive, head_only).is_ok();
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
    fn next_request(&self, conn: &mut Conn, wait: bool) -> Option<Head> {
        let deadline = Instant::now()
            + if wait {
                KEEP_ALIVE_WAIT
            } else {
                Duration::ZERO
            };
        loop {
            match http::parse_head(&conn.buf, self.config.max_header_bytes) {
                Ok(Some(head)) => {
                    let call = Call::of_request(&head.headers, &head.path);
                    return matches!(call, Call::Invoke(_)).then_some(head);
                }
                Ok(None) => {}
                Err(_) => return None,
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let busy = self.workers.get().is_some_and(|w| w.has_queued_jobs());
            if left.is_zero() || busy || !http::wait_ready(&conn.stream, libc::POLLIN, left) {
                return None;
            }
            let mut chunk = [0u8; READ_CHUNK];
            match conn.stream.read(&mut chunk) {
                Ok(n) if n > 0 => {
                    conn.buf.extend_from_slice(&chunk[..n]);
                    conn.head_started.get_or_insert_with(Instant::now);
                }
                _ => return None, // closed, failed or not ready after all: the main thread takes over
            }
        }
    }

    /// Returns a connection to the main thread, to park or linger.
    fn hand_back(&self, conn: Conn) {
        lock(&self.returned).push(conn);
        let _ = (&self.waker).write(&[1]); // a full wake socket already means "wake up"
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
