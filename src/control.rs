//! The control thread answers /pre-stop and /pre-freeze, and the health thread the health path
//! (`TINYFC_HEALTH_PATH`), so they are answered even while every worker is busy; the health path
//! has a thread of its own so that its answer never waits behind a pre-stop's drain. Both reach
//! the function only through [`Hooks`] (the lifecycle hooks and the health check, never the
//! handler), answer exactly the call they are given, and then hand the connection back to the
//! poller unserved: a request pipelined behind a control call waits for a worker like any other.
//! A signal's drain runs on a thread of its own (`tinyfc-drain`), never queued behind a control
//! call.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::answer::{reject_and_close, send, Framing};
use crate::config::Config;
use crate::conn::Conn;
use crate::context::Context;
use crate::head::{reject, BodyKind, Head, Reject};
use crate::headers::Headers;
use crate::poller::Poller;
use crate::pool::Pool;
use crate::protocol::{Answer, Call};
use crate::request::Kind;

/// The part of the function the control thread may run: its lifecycle hooks.
pub(crate) trait Hooks: Send + Sync + 'static {
    /// Answers a control call (drain and pre-stop, pre-freeze, or the health path).
    fn control(&self, call: ControlCall, ctx: &Context) -> Answer;
    /// The signal path: stop admitting, drain, run pre-stop once (with `ctx`) if it has not run.
    fn shutdown(&self, ctx: &Context);
}

/// A call the control thread answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ControlCall {
    /// GET /pre-stop.
    PreStop,
    /// GET /pre-freeze.
    PreFreeze,
    /// GET or HEAD on `TINYFC_HEALTH_PATH`: not an invocation.
    Health,
}

impl ControlCall {
    /// The control call a request with `head`, classified as `call`, is, if it is one:
    /// /pre-stop and /pre-freeze by `x-fc-control-path` or the path, the health path by method
    /// and path (without the query), unless the control path says another platform call.
    pub(crate) fn of(call: Call, head: &Head, c: &Config) -> Option<ControlCall> {
        match call {
            Call::PreStop => Some(ControlCall::PreStop),
            Call::PreFreeze => Some(ControlCall::PreFreeze),
            Call::Invoke(Kind::Http) if is_health(head, c) => Some(ControlCall::Health),
            Call::Initialize | Call::Invoke(_) => None,
        }
    }
}

/// True for GET or HEAD on the health path.
fn is_health(head: &Head, c: &Config) -> bool {
    let Some(health) = &c.health_path else {
        return false;
    };
    let path = crate::grammar::without_query(&head.path);
    (head.method == "GET" || head.method == "HEAD") && path == health
}

/// The answer to a control or health call with a body.
const NO_BODY: Reject = reject(400, "a control call takes no body");

/// A connection whose buffer starts with the complete head of a control call.
struct Job {
    conn: Conn,
    head: Head,
    call: ControlCall,
}

/// The control thread, the health thread, and what they answer with.
pub(crate) struct Control {
    queue: Arc<Pool<Job>>,
    /// The health path's: never behind a hook (a pre-stop drains for seconds).
    health: Arc<Pool<Job>>,
    answerer: Arc<Answerer>,
}

/// What the control thread needs: the hooks, the poller to hand connections back to, the limits.
struct Answerer {
    hooks: Arc<dyn Hooks>,
    poller: Arc<Poller>,
    config: Config,
    /// Set on the first signal: keep no connection alive.
    stopping: Arc<AtomicBool>,
}

impl Control {
    /// The control thread (started on the first call).
    pub(crate) fn new(
        hooks: Arc<dyn Hooks>,
        poller: Arc<Poller>,
        config: Config,
        stopping: Arc<AtomicBool>,
    ) -> Control {
        let answerer = Arc::new(Answerer {
            hooks,
            poller,
            config,
            stopping,
        });
        let (a, h) = (answerer.clone(), answerer.clone());
        // One thread each: control calls come a few per instance lifetime, health checks one
        // every few seconds.
        let idle = a.config.worker_idle;
        let queue = Pool::new("tinyfc-control", 1, idle, move |job| a.answer(job));
        let health = Pool::new("tinyfc-health", 1, idle, move |job| h.answer(job));
        Control {
            queue,
            health,
            answerer,
        }
    }

    /// Queues `conn`, whose buffer starts with `head`, a control call's.
    pub(crate) fn submit(&self, conn: Conn, head: Head, call: ControlCall) {
        let pool = match call {
            ControlCall::Health => &self.health,
            ControlCall::PreStop | ControlCall::PreFreeze => &self.queue,
        };
        pool.submit(Job { conn, head, call });
    }

    /// Ends the control thread once its queue is empty (a test server's, when it is dropped).
    pub(crate) fn close(&self) {
        self.queue.close();
    }

    /// Starts the signal path's drain on its own thread; the process exits 0 when it ends.
    pub(crate) fn start_drain(&self) {
        let answerer = self.answerer.clone();
        let queue = self.queue.clone();
        let limit = self.answerer.config.drain;
        let drain = move || {
            // No call brings headers: the hook sees what the environment says (the function's
            // name, region, credentials), as a /pre-stop without FC's headers would.
            let mut ctx = Context::default();
            ctx.refill(
                &Headers::new(),
                Instant::now(),
                &answerer.config.environment,
            );
            answerer.hooks.shutdown(&ctx);
            // A control call whose hook the drain waited for is still writing its answer: a
            // received request is answered before the process exits.
            queue.wait_settled(limit);
            log::info!("stopped");
            let _ = io::stdout().flush();
            std::process::exit(0);
        };
        if let Err(e) = crate::signals::spawn("tinyfc-drain", drain) {
            log::error!("cannot start the drain thread: {e}: exiting");
            let _ = io::stdout().flush();
            std::process::exit(0);
        }
    }
}

impl Answerer {
    /// Runs the call's hook, writes the answer, hands the connection back.
    fn answer(&self, job: Job) {
        let Job {
            mut conn,
            head,
            call,
        } = job;
        let c = &self.config;
        let arrived = conn.head_started.unwrap_or_else(Instant::now);
        // These threads never wait on a client: FC sends these calls without a body, and one
        // that has a body is refused unread (reading it would hold up every later call).
        if head.body != BodyKind::Length(0) {
            reject_and_close(&mut conn, &NO_BODY);
            return self.poller.defer(conn, c); // a worker lets it linger
        }
        conn.buf.drain(..head.len);
        let mut ctx = Context::default();
        ctx.refill(&head.headers, arrived, &c.environment);
        let answer = {
            let _log = crate::logging::scope(&ctx.request_id);
            self.hooks.control(call, &ctx)
        };
        let stopping = self.stopping.load(Ordering::SeqCst);
        // Nor for the client to read: an answer that does not fit the socket's buffer at once
        // (a client that sends calls and reads no answers) closes the connection.
        let framing = Framing {
            write_timeout: Duration::ZERO,
            ..Framing::of(&head, ctx.timeout_s, stopping, c)
        };
        let written = send(&conn.stream, &answer.resp, answer.fc_status, framing, c);
        if !(written && framing.keep_alive) {
            return self.poller.close(conn);
        }
        let now = Instant::now();
        conn.idle_since = now;
        conn.head_started = (!conn.buf.is_empty()).then_some(now);
        // What follows the call (pipelined requests, the end of input, nothing) is a worker's.
        self.poller.defer(conn, c);
    }
}
