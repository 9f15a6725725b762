//! The workers: connections wait in the poller (`poller.rs`) between requests; a worker that the
//! poller hands a ready connection reads the request, calls the function (`service.rs`), writes
//! the answer and parks the connection again (this file); handed the listener, it accepts
//! (`listener.rs`).
//! /pre-stop and /pre-freeze go to the control thread (`control.rs`), so they are answered even
//! when every worker is busy; the main thread (`main_loop.rs`) expires parked connections and
//! starts workers. An idle or slow connection holds no thread, and threads stay bounded: main +
//! control + workers.

use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::answer::{reject_and_close, send, Framing};
use crate::body::{read_body, BodyError};
use crate::budget::BodyBudget;
use crate::config::Config;
use crate::conn::{discard_available, read_available, Conn};
use crate::context::{CallContext, Context};
use crate::control::{Control, ControlCall, Hooks};
use crate::head::{parse_head, Head};
use crate::listener::Listener;
use crate::poller::{Parked, Poller, Ready};
use crate::pool::{WorkerEntry, Workers};
use crate::protocol::{call_deadline, Call};
use crate::request::{Kind, Request};
use crate::service::{Reply, Service};
use crate::stream::send_streamed;

thread_local! {
    /// On a worker: its entry in `Workers`' list.
    static WORKER: Cell<Option<Arc<WorkerEntry>>> = const { Cell::new(None) };
    /// On a worker: a connection its client closed, to close when nothing else is ready.
    static GONE: RefCell<Option<Conn>> = const { RefCell::new(None) };
    /// The context of the call this thread serves, refilled for each.
    static CONTEXT: RefCell<CallContext> = RefCell::new(CallContext::default());
}

/// What became of a request once its context was read.
enum Routed {
    /// A worker served it.
    Served(Outcome),
    /// A control call: the control thread's (the caller hands it the connection and the head).
    Control(ControlCall),
}

/// Runs `f` with the calling thread's worker entry (None off the workers). `Cell::take` and
/// `set` rather than a `RefCell`: no borrow check that could panic.
fn with_worker<R>(f: impl FnOnce(Option<&WorkerEntry>) -> R) -> R {
    let worker = WORKER.take();
    let r = f(worker.as_deref());
    WORKER.set(worker);
    r
}

/// Marks the calling worker as in a call until dropped: the main thread then reads whether it is
/// asleep (see `main_loop::Watch`).
struct InCall;

impl InCall {
    fn enter() -> InCall {
        InCall::mark();
        InCall
    }

    /// Counts a call's start or end (see `WorkerEntry::calls`).
    fn mark() {
        with_worker(|w| {
            if let Some(w) = w {
                w.calls.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}

impl Drop for InCall {
    fn drop(&mut self) {
        InCall::mark();
    }
}

/// A worker whose last call took less than this takes a batch of events from its next wait (see
/// [`Shared::worker`]).
const QUICK_CALL: Duration = Duration::from_millis(1);

/// The most buffer capacity an idle connection keeps.
const IDLE_BUFFER: usize = 16 * 1024;

/// How a request ended for its connection.
enum Outcome {
    /// Answered; the connection stays open.
    KeepAlive,
    /// Closed (answered with `Connection: close`, failed, or the client went away).
    Close,
    /// Rejected: it lingers in the poller, then closes.
    Linger,
}

/// What the threads share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    service: Arc<dyn Service>,
    pub(crate) poller: Arc<Poller>,
    pub(crate) listener: Listener,
    pub(crate) workers: Workers,
    pub(crate) control: Control,
    /// Request body bytes held at once (`budget.rs`).
    budget: BodyBudget,
    /// Written to wake the main thread's poll (signals write to it too).
    waker: Arc<UnixStream>,
    /// Set while the main thread watches the workers (and by a poke that starts that), so
    /// workers poke it only when it is not already looking.
    poked: AtomicBool,
    /// Set on the first signal: answer in-flight requests, keep no connection alive.
    pub(crate) stopping: Arc<AtomicBool>,
    /// Set when a test server is dropped: every thread of this server ends.
    pub(crate) closed: AtomicBool,
}

impl Shared {
    /// The server's shared state: `service` for the workers, `hooks` for the control thread,
    /// `waker` to wake the main thread.
    pub(crate) fn new(
        config: Config,
        service: Arc<dyn Service>,
        hooks: Arc<dyn Hooks>,
        waker: Arc<UnixStream>,
    ) -> io::Result<Shared> {
        let poller = Arc::new(Poller::new()?);
        let stopping = Arc::new(AtomicBool::new(false));
        let control = Control::new(hooks, poller.clone(), config.clone(), stopping.clone());
        Ok(Shared {
            workers: Workers::new(config.workers, config.worker_idle),
            budget: BodyBudget::new(config.body_budget),
            config,
            service,
            poller,
            listener: Listener::default(),
            control,
            waker,
            // The platform's first calls come right after listening: the main thread watches
            // from the start (see `main_loop.rs`), so they run without waking it.
            poked: AtomicBool::new(true),
            stopping,
            closed: AtomicBool::new(false),
        })
    }
}

impl Shared {
    /// Starts one more worker, if the bound allows.
    #[cold]
    #[inline(never)]
    pub(crate) fn start_worker(self: &Arc<Self>) {
        // Counted as waiting from now: a connection arriving while it starts waits for it,
        // rather than making the main thread start yet another.
        self.poller.starting_worker();
        let s = self.clone();
        let started = self.workers.start(move || {
            s.poller.worker_started(); // Poller::wait counts it from here
            s.worker(true)
        });
        if !started {
            self.poller.worker_started(); // it never will
        }
    }

    /// A worker: takes ready connections from the poller and serves them, until it has been idle
    /// long enough to retire (if `may_retire`: the first worker, the process's main thread, never
    /// does).
    pub(crate) fn worker(&self, may_retire: bool) {
        // Listed so the main thread can see it blocked. The first worker (the only one that may
        // not retire) is the process's first thread.
        let _enlisted = self.enlist(!may_retire);
        // After a quick call this worker takes several events from one wait and serves the rest
        // itself (one system call for several requests; see `Poller::wait`); after a slow call it
        // takes one and promotes a parked worker, so that ready connections do not queue behind
        // this worker's calls.
        let mut quick = false;
        loop {
            if self.closed.load(Ordering::SeqCst) {
                self.poller.wake_one(); // the next waiting worker ends too
                return;
            }
            // A connection its client closed waits until nothing else is ready (see `close_soon`).
            let gone = GONE.with_borrow(Option::is_some);
            let timeout = if gone {
                Duration::ZERO
            } else {
                self.workers.idle_exit
            };
            match self.poller.wait(timeout, quick) {
                Ready::Conn(conn) => {
                    let started = Instant::now();
                    // The function's panics are caught around its call; this keeps a bug of ours
                    // from killing the worker.
                    let ended = catch_unwind(AssertUnwindSafe(|| self.on_ready(conn, started)))
                        .unwrap_or_else(|_| {
                            log::error!("a worker recovered from a panic");
                            Instant::now()
                        });
                    quick = ended.saturating_duration_since(started) < QUICK_CALL;
                }
                Ready::Accept => {
                    if self.listener.accept_all(&self.poller, &self.config) {
                        self.poke_main(); // a deadline before its planned wake-up
                    }
                }
                Ready::TimedOut | Ready::Nothing if gone => {
                    if let Some(conn) = GONE.take() {
                        self.poller.close(conn);
                    }
                }
                Ready::TimedOut if may_retire && self.workers.retire() => return,
                Ready::TimedOut | Ready::Nothing => {}
            }
        }
    }

    /// Lists the calling worker in `Workers` for as long as the result lives.
    #[cold]
    fn enlist(&self, first: bool) -> crate::pool::Enlisted<'_> {
        let enlisted = self.workers.enlist(first);
        WORKER.set(Some(enlisted.entry.clone()));
        enlisted
    }

    /// Wakes the main thread, unless it is watching already.
    pub(crate) fn poke_main(&self) {
        if !self.poked.swap(true, Ordering::SeqCst) {
            let _ = (&*self.waker).write(&[0]); // a full wake socket already means "wake up"
        }
    }

    /// True if the main thread was poked (or is watching).
    pub(crate) fn poked(&self) -> bool {
        self.poked.load(Ordering::SeqCst)
    }

    /// The main thread stops watching: pokes wake it again.
    pub(crate) fn clear_poke(&self) {
        self.poked.store(false, Ordering::SeqCst);
    }

    /// A ready connection, taken at `now`: reads what arrived, serves the complete requests,
    /// parks it again. Returns when its last call ended (before `now` if it served none): for a
    /// kept connection, the time it went idle, which saves a read of the clock per request.
    fn on_ready(&self, conn: Conn, now: Instant) -> Instant {
        match self.serve_ready(conn, now) {
            Some(conn) => {
                let ended = conn.idle_since;
                self.park(conn);
                ended
            }
            None => Instant::now(), // closed, or handed to the control thread
        }
    }

    /// [`Shared::on_ready`] up to parking: the connection to park, if it stays open. A request
    /// whose first bytes this reads arrived at `now`.
    fn serve_ready(&self, mut conn: Conn, now: Instant) -> Option<Conn> {
        if conn.closing.is_some() {
            if discard_available(&mut conn) {
                return Some(conn);
            }
            self.poller.close(conn);
            return None;
        }
        if !read_available(&mut conn, self.config.max_header_bytes) {
            self.poller.close(conn); // the socket failed
            return None;
        }
        if !conn.buf.is_empty() {
            conn.head_started.get_or_insert(now);
        }
        self.advance(conn)
    }

    /// Serves each complete request head in the buffer (control calls go to the control thread)
    /// and answers a bad one; the connection to park, if it stays open. Once the client has shut
    /// its side, the connection closes as soon as the requests it sent are answered.
    fn advance(&self, mut conn: Conn) -> Option<Conn> {
        loop {
            if conn.buf.is_empty() && conn.caught_up && !conn.input_closed {
                return Some(conn); // the usual end: nothing to parse
            }
            let mut head = match parse_head(&conn.buf, self.config.max_header_bytes) {
                Ok(Some(head)) => head,
                // Nothing complete to serve, and no input waiting.
                Ok(None) if conn.caught_up => {
                    if conn.input_closed {
                        self.close_soon(conn); // a partial request can never complete
                        return None;
                    }
                    return Some(conn);
                }
                Ok(None) => {
                    if !read_available(&mut conn, self.config.max_header_bytes) {
                        self.poller.close(conn);
                        return None;
                    }
                    continue;
                }
                Err(r) => {
                    reject_and_close(&mut conn, &r);
                    return Some(conn);
                }
            };
            let arrived = conn.head_started.unwrap_or_else(Instant::now);
            // The context is read from the head once, and classifies the call. The head is lent,
            // not moved, down to the call: each move of it is a memcpy call.
            let served = CONTEXT.with_borrow_mut(|cc| {
                let ctx = cc.refill(&head.headers, arrived, &self.config.environment);
                let call = Call::of(&ctx.control_path, &head.path);
                if let Some(control) = ControlCall::of(call, &head, &self.config) {
                    return Routed::Control(control);
                }
                if self.poller.none_on_set() {
                    // Nobody on the set while this call runs: the main thread promotes a parked
                    // worker, or starts one, if still nobody is there a tick from now and the
                    // calls made no progress (see `main_loop::Watch`).
                    self.poke_main();
                }
                Routed::Served(self.serve_call(&mut conn, &mut head, call, arrived, ctx))
            });
            let outcome = match served {
                Routed::Served(outcome) => outcome,
                Routed::Control(control) => {
                    self.control.submit(conn, head, control);
                    return None;
                }
            };
            match outcome {
                Outcome::Close => {
                    self.poller.close(conn);
                    return None;
                }
                Outcome::Linger => return Some(conn),
                Outcome::KeepAlive => {}
            }
            let now = Instant::now();
            conn.idle_since = now;
            conn.head_started = (!conn.buf.is_empty()).then_some(now);
            if conn.buf.is_empty() && conn.buf.capacity() > IDLE_BUFFER {
                conn.buf = Vec::new(); // a large body's buffer is not kept while idle
            }
        }
    }

    /// Closes a connection that failed or whose client left. On a worker, one the client closed
    /// cleanly is closed once nothing else is ready: closing a TCP socket runs the rest of the
    /// teardown (on loopback, the client's side too: ~20 us here), which should not delay a
    /// request already waiting, such as the platform's first call right after its probe connect.
    fn close_soon(&self, conn: Conn) {
        if with_worker(|w| w.is_some()) {
            if let Some(old) = GONE.replace(Some(conn)) {
                self.poller.close(old);
            }
        } else {
            self.poller.close(conn);
        }
    }

    /// Parks a connection in the poller, waking the main thread if its deadline comes first;
    /// serves it again if input arrived while it was being parked.
    fn park(&self, mut conn: Conn) {
        loop {
            if !conn.caught_up {
                // Input may wait in the socket with its edge already reported: read it first.
                conn = match self.serve_ready(conn, Instant::now()) {
                    Some(c) => c,
                    None => return,
                };
                continue;
            }
            match self.poller.park(conn, &self.config) {
                Parked::Done { poke } => {
                    if poke {
                        self.poke_main();
                    }
                    return;
                }
                Parked::Ready(c) => conn = c,
            }
        }
    }

    /// Body, call, answer, for a request classified as `call` (an invocation or /initialize),
    /// which arrived at `arrived`, with its context `ctx`.
    fn serve_call(
        &self,
        conn: &mut Conn,
        head: &mut Head,
        call: Call,
        arrived: Instant,
        ctx: &Context,
    ) -> Outcome {
        let c = &self.config;
        let deadline = arrived + call_deadline(ctx.timeout_s, c.body_timeout);
        self.budget.learn(ctx.memory_mb);
        // Held until the call has ended (the handler owns the body until then).
        let mut held = self.budget.empty();
        let stall = c.header_timeout;
        let body = match read_body(
            conn,
            head,
            c.max_body_bytes,
            stall,
            deadline,
            Some(&mut held),
        ) {
            Ok(body) => body,
            Err(BodyError::Reject(r)) => {
                reject_and_close(conn, &r);
                return Outcome::Linger;
            }
            Err(BodyError::Gone) => return Outcome::Close, // never run a truncated invocation
        };
        self.call_service(conn, head, call, body, ctx)
    }

    /// [`Shared::serve_call`] once the body is in: the call and its answer. The request takes
    /// the head's method, path and headers.
    fn call_service(
        &self,
        conn: &mut Conn,
        head: &mut Head,
        call: Call,
        body: Vec<u8>,
        ctx: &Context,
    ) -> Outcome {
        let stopping = self.stopping.load(Ordering::SeqCst);
        let framing = Framing::of(head, ctx.timeout_s, stopping, &self.config);
        let req = Request {
            kind: match call {
                Call::Invoke(kind) => kind,
                _ => Kind::Event,
            },
            method: std::mem::take(&mut head.method),
            path: std::mem::take(&mut head.path),
            headers: std::mem::take(&mut head.headers),
            body,
        };
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
                let secret = crate::headers::SECRET_HEADERS.contains(&k);
                log::trace!("header {k}: {}", if secret { "<redacted>" } else { v });
            }
        }
        #[cfg(feature = "websocket")]
        if call == Call::Invoke(Kind::Http) && crate::websocket::asks_upgrade(&req.headers) {
            let upgrade = &mut crate::websocket::Upgrade::new(conn, &self.config, framing.http10);
            if self.service.websocket(ctx, &req, upgrade) {
                return Outcome::Close; // the socket's life has ended
            }
        }
        let _in_call = InCall::enter();
        let _sent = self.service.call(
            call,
            ctx,
            req,
            Reply::new(&mut |a| {
                let (stream, c) = (&conn.stream, &self.config);
                written = if a.resp.is_stream() {
                    send_streamed(stream, a.resp, a.fc_status, framing, c)
                } else {
                    send(stream, &a.resp, a.fc_status, framing, c)
                };
            }),
        );
        if written && framing.keep_alive && !self.stopping.load(Ordering::SeqCst) {
            Outcome::KeepAlive
        } else {
            Outcome::Close
        }
    }
}
