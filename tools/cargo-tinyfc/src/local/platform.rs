//! The platform's side of the lifecycle: start the instance, initialize it (retrying on 400/404,
//! restarting on 500, a crash or a timeout), forward invocations, pre-stop and stop it.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tinyfc::client::{BodyReader, Connection, Response};

use super::calls::{call, common_headers, is_timeout};
use super::gate::Gate;
use super::instance::{describe, Instance};
use super::logs::Logs;
use super::options::Options;
use crate::say;

mod forward;
mod stop;

pub use forward::Failure;

pub use super::calls::{error_message, request_id};

/// A function's answer to an invocation.
pub enum Reply {
    /// Read whole.
    Whole(Response),
    /// A chunked answer: its head (`body` empty), and its body as it arrives.
    Streamed(Response, BodyReader),
}

/// Where the instance stands, as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Starting or initializing: requests wait.
    Booting,
    /// Initialized: requests are forwarded.
    Ready,
    /// Initialization failed for good: requests get an InitializationError with this message.
    Failed(String),
    /// The platform is stopping the instance: requests are refused.
    Stopping,
}

/// Why a request cannot be forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// Initialization failed for good (the message for the InitializationError).
    InitFailed(String),
    /// The platform is stopping.
    Stopping,
}

/// Which platform call an invocation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// POST /invoke, control path /invoke.
    Event,
    /// The client's own method and path, control path /http-invoke.
    Http,
}

/// What the platform knows, under one lock.
struct State {
    /// Where the instance stands.
    phase: Phase,
    /// The current instance, from its start until it is stopped.
    instance: Option<Arc<Instance>>,
    /// Keep-alive connections to the instance, with when they were last used and the address
    /// they go to (a restarted instance listens elsewhere).
    idle: Vec<(Connection, Instant, SocketAddr)>,
    /// Set by `stop`: no instance is started after it.
    stopping: bool,
    /// Why the platform gave up on its instances (health checks failing past --max-restarts):
    /// the run then ends with exit 1.
    gave_up: Option<String>,
}

/// The local platform.
pub struct Platform {
    /// What the user asked for.
    pub opts: Options,
    /// The shared state.
    state: Mutex<State>,
    /// Signalled when the phase changes.
    changed: Condvar,
    /// `--concurrency`: invocations in the instance at once.
    pub gate: Arc<Gate>,
    /// The instances' output, for `x-fc-log-type: Tail`.
    pub logs: Arc<Logs>,
    /// Held while `--watch` replaces the instance: `stop` waits for it, so it never misses the
    /// new instance nor stops the old one twice.
    replacing: Mutex<()>,
}

impl Platform {
    /// A platform with no instance yet.
    pub fn new(opts: Options) -> Platform {
        Platform {
            state: Mutex::new(State {
                phase: Phase::Booting,
                instance: None,
                idle: Vec::new(),
                stopping: false,
                gave_up: None,
            }),
            changed: Condvar::new(),
            gate: Arc::new(Gate::new(opts.concurrency, opts.queue_limit)),
            logs: Arc::new(Logs::default()),
            replacing: Mutex::new(()),
            opts,
        }
    }

    /// The state, locked (a panicked holder does not poison it for the others).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves to `phase` and wakes waiting callers, unless stopping began.
    fn set_phase(&self, phase: Phase) {
        {
            let mut st = self.lock();
            if st.stopping {
                return;
            }
            st.phase = phase;
        }
        self.changed.notify_all();
    }

    /// True once `stop` began.
    pub fn stopping(&self) -> bool {
        self.lock().stopping
    }

    /// Why the platform gave up on its instances, if it did ([`Platform::give_up`]).
    pub fn gave_up(&self) -> Option<String> {
        self.lock().gave_up.clone()
    }

    /// Starts and initializes an instance, restarting it up to --max-restarts times. Ok once ready.
    pub fn boot(&self) -> Result<(), String> {
        self.set_phase(Phase::Booting);
        let mut restarts = 0;
        loop {
            let failure = match self.start_and_initialize() {
                Ok(()) => {
                    self.set_phase(Phase::Ready);
                    return Ok(());
                }
                Err(_) if self.stopping() => return Err("the platform is stopping".into()),
                Err(Boot::GiveUp(msg)) => msg,
                Err(Boot::Restart(msg)) if restarts < self.opts.max_restarts => {
                    restarts += 1;
                    say!(
                        "restarting the instance ({restarts}/{}): {msg}",
                        self.opts.max_restarts
                    );
                    let old = self.lock().instance.take();
                    if let Some(old) = old {
                        old.reap();
                    }
                    continue;
                }
                Err(Boot::Restart(msg)) => format!("{msg} (after {restarts} restarts)"),
            };
            say!("initialization failed: {failure}");
            self.set_phase(Phase::Failed(failure.clone()));
            return Err(failure);
        }
    }

    /// One attempt: start an instance, wait for it to listen, initialize it (retrying 400/404).
    fn start_and_initialize(&self) -> Result<(), Boot> {
        let instance = {
            let mut st = self.lock();
            if st.stopping {
                return Err(Boot::GiveUp("the platform is stopping".into()));
            }
            let started = Instance::start(&self.opts, &self.logs).map_err(|e| {
                Boot::GiveUp(format!("cannot start {:?}: {e}", self.opts.command[0]))
            })?;
            let instance = Arc::new(started);
            // A previous, exited instance is dropped (and reaped) here.
            st.instance = Some(instance.clone());
            st.idle.clear();
            instance
        };
        let took = instance
            .wait_listening(self.opts.start_timeout, || self.stopping())
            .map_err(Boot::Restart)?;
        say!("instance listening after {} ms", super::ms(took));
        self.initialize(instance.addr)
    }

    /// POST /initialize (unless --no-initializer), retrying on 400/404 with a back-off.
    fn initialize(&self, addr: SocketAddr) -> Result<(), Boot> {
        if !self.opts.initializer {
            return Ok(());
        }
        let mut backoff = Duration::from_millis(100);
        for attempt in 0..=self.opts.init_retries {
            if self.stopping() {
                return Err(Boot::GiveUp("the platform is stopping".into()));
            }
            let (rid, answer, ms) =
                self.lifecycle_call(addr, "POST", "/initialize", self.opts.init_timeout);
            match answer {
                Ok(r) if r.status / 100 == 2 => {
                    say!("initialized: RequestId {rid}, Init Duration: {ms} ms");
                    return Ok(());
                }
                Ok(r) if r.status == 400 || r.status == 404 => {
                    let msg = error_message(&r);
                    if attempt == self.opts.init_retries {
                        return Err(Boot::GiveUp(format!(
                            "{msg} (initializer answered {} {} times)",
                            r.status,
                            attempt + 1
                        )));
                    }
                    say!(
                        "initializer answered {} in {ms} ms ({msg}): retrying in {} ms",
                        r.status,
                        backoff.as_millis()
                    );
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                Ok(r) => {
                    return Err(Boot::Restart(format!(
                        "initializer answered {}: {}",
                        r.status,
                        error_message(&r)
                    )))
                }
                Err(e) if is_timeout(&e) => {
                    return Err(Boot::Restart(format!(
                        "initializer timed out after {} s",
                        self.opts.init_timeout.as_secs_f64()
                    )))
                }
                Err(e) => {
                    return Err(Boot::Restart(format!(
                        "instance failed during /initialize: {e}"
                    )))
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// Waits until the instance is ready (its address) or cannot serve (why).
    pub fn wait_ready(&self) -> Result<SocketAddr, Unavailable> {
        let mut st = self.lock();
        loop {
            match &st.phase {
                Phase::Ready => {
                    return st
                        .instance
                        .as_ref()
                        .map(|i| i.addr)
                        .ok_or(Unavailable::Stopping)
                }
                Phase::Failed(msg) => return Err(Unavailable::InitFailed(msg.clone())),
                Phase::Stopping => return Err(Unavailable::Stopping),
                Phase::Booting => {
                    st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }

    /// If the instance was ready and its process has exited since: its exit status, reaped, and
    /// the phase goes back to booting, so requests wait for the restart.
    pub fn crashed(&self) -> Option<String> {
        let instance = {
            let mut st = self.lock();
            if st.phase != Phase::Ready || st.stopping {
                return None;
            }
            let instance = st.instance.clone()?;
            if !instance.exited() {
                return None;
            }
            st.phase = Phase::Booting;
            st.idle.clear();
            instance
        };
        Some(describe(instance.reap()))
    }

    /// The ready instance's address.
    fn ready_instance(&self) -> Option<SocketAddr> {
        let st = self.lock();
        let instance = st.instance.as_ref()?;
        (st.phase == Phase::Ready && !instance.exited()).then_some(instance.addr)
    }

    /// The ready instance: its id and address (None while booting, failed or stopping).
    pub fn ready(&self) -> Option<(String, SocketAddr)> {
        let st = self.lock();
        let instance = st.instance.as_ref()?;
        (st.phase == Phase::Ready && !instance.exited() && !st.stopping)
            .then(|| (instance.id.clone(), instance.addr))
    }

    /// The current instance's process id.
    fn instance_pid(&self) -> Option<u32> {
        self.lock().instance.as_ref().map(|i| i.pid())
    }

    /// One lifecycle call (/initialize, /pre-stop) with a fresh request id and FC's headers, on a
    /// fresh connection: the request id, the answer and how long it took (ms).
    fn lifecycle_call(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        timeout: Duration,
    ) -> (String, std::io::Result<Response>, String) {
        let rid = request_id();
        let started = Instant::now();
        let headers = common_headers(&self.opts, &rid, path);
        let answer = call(addr, method, path, &headers, b"", timeout);
        (rid, answer, super::ms(started.elapsed()))
    }
}

/// Why a boot attempt ended.
enum Boot {
    /// Kill the instance and start another.
    Restart(String),
    /// Stop trying: the initializer keeps failing retryably, or the command cannot start.
    GiveUp(String),
}
