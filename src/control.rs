//! The control thread answers /pre-stop and /pre-freeze, so they are answered even while every
//! worker is busy. It reaches the function only through [`Hooks`] (the lifecycle hooks, never the
//! handler), answers exactly the call it is given, and then hands the connection back to the
//! poller unserved: a request pipelined behind a control call waits for a worker like any other.
//! A signal's drain runs on a thread of its own (`tinyfc-drain`), never queued behind a control
//! call.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::answer::{reject_and_close, send, Framing};
use crate::body::{read_body, BodyError};
use crate::config::Config;
use crate::conn::Conn;
use crate::context::Context;
use crate::head::Head;
use crate::poller::Poller;
use crate::pool::Pool;
use crate::protocol::{Answer, Call};

/// The part of the function the control thread may run: its lifecycle hooks.
pub(crate) trait Hooks: Send + Sync + 'static {
    /// Answers a control call (drain and pre-stop, or pre-freeze).
    fn control(&self, call: ControlCall, ctx: &Context) -> Answer;
    /// The signal path: stop admitting, drain, run pre-stop once if it has not run.
    fn shutdown(&self);
}

/// A call the control thread answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ControlCall {
    /// GET /pre-stop.
    PreStop,
    /// GET /pre-freeze.
    PreFreeze,
}

impl ControlCall {
    /// The control call `call` is, if it is one.
    pub(crate) fn of(call: Call) -> Option<ControlCall> {
        match call {
            Call::PreStop => Some(ControlCall::PreStop),
            Call::PreFreeze => Some(ControlCall::PreFreeze),
            Call::Initialize | Call::Invoke(_) => None,
        }
    }
}

/// A connection whose buffer starts with the complete head of a control call.
struct Job {
    conn: Conn,
    head: Head,
    call: ControlCall,
}

/// The control thread and what it answers with.
pub(crate) struct Control {
    queue: Arc<Pool<Job>>,
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
        let a = answerer.clone();
        // One thread: control calls come a few per instance lifetime.
        let idle = a.config.worker_idle;
        let queue = Pool::new("tinyfc-control", 1, idle, move |job| a.answer(job));
        Control { queue, answerer }
    }

    /// Queues `conn`, whose buffer starts with `head`, a control call's.
    pub(crate) fn submit(&self, conn: Conn, head: Head, call: ControlCall) {
        self.queue.submit(Job { conn, head, call });
    }

    /// Ends the control thread once its queue is empty (a test server's, when it is dropped).
    pub(crate) fn close(&self) {
        self.queue.close();
    }

    /// Starts the signal path's drain on its own thread; the process exits 0 when it ends.
    pub(crate) fn start_drain(&self) {
        let hooks = self.answerer.hooks.clone();
        let queue = self.queue.clone();
        let limit = self.answerer.config.drain;
        let drain = move || {
            hooks.shutdown();
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
    /// Reads the call's body, runs the hook, writes the answer, hands the connection back.
    fn answer(&self, job: Job) {
        let Job {
            mut conn,
            head,
            call,
        } = job;
        let c = &self.config;
        let arrived = conn.head_started.unwrap_or_else(Instant::now);
        let deadline = arrived + c.body_timeout;
        match read_body(
            &mut conn,
            &head,
            c.max_body_bytes,
            c.header_timeout,
            deadline,
        ) {
            Ok(_) => {}
            Err(BodyError::Reject(r)) => {
                reject_and_close(&mut conn, &r);
                return self.poller.defer(conn, c); // a worker lets it linger
            }
            Err(BodyError::Gone) => return self.poller.close(conn),
        }
        let mut ctx = Context::default();
        ctx.refill(&head.headers, arrived, &c.environment);
        let answer = {
            let _log = crate::logging::scope(&ctx.request_id);
            self.hooks.control(call, &ctx)
        };
        let framing = Framing::of(&head, self.stopping.load(Ordering::SeqCst));
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
