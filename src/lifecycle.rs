//! The instance lifecycle as one state machine, over the lives of an instance.
//!
//! ```text
//!                 /initialize or invocation
//!   Uninitialized ─────────────────────────▶ Initializing
//!        ▲                                        │
//!        │  retryable error (404)                 │ Ok            fatal error or panic (500)
//!        └────────────────────────────────────────┤──────────────────────────┐
//!                                                 ▼                          ▼
//!                                               Ready                      Failed
//!                                                 │                  (every invocation gets
//!   /pre-stop (in any state above): stop          │                   the error; the platform
//!   admitting, drain in-flight, run the           ▼                   restarts the instance)
//!   pre-stop hook once (if Ready)             Stopping ──▶ Stopped: the life's state is dropped
//!                                                              │
//!   /initialize or invocation: a new life ─────────────────────┘──▶ Initializing (as above)
//!
//!   SIGTERM or SIGINT (in any state): Stopping as above, then the process exits 0; no new life.
//! ```
//!
//! Rules, in the order they are enforced below:
//! - A life ends with `GET /pre-stop`: the platform calls it before it freezes or destroys an
//!   instance, and the Initializer when it creates or thaws one, so a thawed instance starts over.
//! - The initializer runs at most once at a time, across lives too: a new life's first call waits
//!   for a run that outlived the last life to end (its result is dropped) before running its own.
//!   Callers that arrive while a run of their life is going wait for that run and share its result. After success it never runs again in that life; a fatal failure is
//!   sticky for that life (the platform restarts the instance on it).
//! - Invocations and /initialize calls are admitted (counted in flight) before they wait for
//!   initialization, so a drain waits for them and for the initializer they run. Once stopping,
//!   nothing new is admitted (503) until the life has ended; then the next admitted call begins a
//!   new life, unless a signal stopped the instance (signals are terminal).
//! - Stopping waits for in-flight calls, up to the drain limit, then runs the pre-stop hook exactly
//!   once, and only if initialization had succeeded. Later stop requests in the same stopped life
//!   wait for that run and get its result. Then the life's state is dropped (its `Drop` runs once
//!   the last invocation still holding it ends: one that outlived the drain limit keeps it).
//! - A call admitted before its life ended that reaches the state only while the instance is
//!   stopped (it outlived the drain limit) is answered as stopping: it belongs to no life. So does
//!   the result of an initializer run that outlived its life; that state is dropped at once.
//! - Pre-freeze runs its hook only on a Ready state; in any other state, Stopped included, it
//!   answers success without running anything (there is no state to freeze, and a freeze must not
//!   start a life).
//!
//! Every invocation is admitted, finds the state Ready and ends; those three steps take no mutex
//! (an atomic counter with the stopping flag, and the Ready state published behind a read lock
//! that only a life's start and end write), so workers do not queue on the lifecycle. Everything
//! else happens under the state's mutex.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::error::{Error, InitError};
use crate::logging::{FcEvent, PlatformLines};

/// The user's initializer.
pub(crate) type InitFn<S> = Box<dyn Fn(&Context) -> Result<S, InitError> + Send + Sync>;
/// A user's lifecycle hook (pre-stop, pre-freeze).
pub(crate) type HookFn<S> = Box<dyn Fn(&S, &Context) -> Result<(), Error> + Send + Sync>;

/// Where initialization stands in the current life.
enum Init<S> {
    Uninitialized,
    Initializing,
    Ready(Arc<S>),
    Failed(Error),
}

/// Where the current life's end stands.
enum PreStop {
    /// The life goes on.
    NotRun,
    /// Stopping: draining, then the hook.
    Running,
    /// Stopped: the life has ended with this pre-stop result.
    Done(Result<(), Error>),
}

struct State<S> {
    init: Init<S>,
    /// Lives ended so far: a call or initializer run remembers the life it began in, and finds on
    /// its return whether that life has ended.
    ended: u64,
    /// Finished initializer runs, so a waiter can tell that the run it waited for has ended.
    init_runs: u64,
    /// An initializer run is going, of this life or one that has ended.
    init_running: bool,
    /// The error of the last retryable failure, shared with the callers that waited for that run.
    last_retry: Option<Error>,
    pre_stop: PreStop,
    /// A signal stopped the instance: no new life begins.
    terminal: bool,
    /// Threads waiting on `changed`: a state change wakes them only if there are any (a wake-up
    /// is a syscall even with nobody waiting, and an invocation's end is a state change).
    waiters: usize,
}

/// The lifecycle of one instance: state, the user's hooks, and a condition variable that every
/// state change signals.
pub(crate) struct Lifecycle<S> {
    state: Mutex<State<S>>,
    changed: Condvar,
    /// Invocations in flight times two, plus [`STOPPING`]: admission and its end are one atomic
    /// step each, and nothing is admitted once the flag is set.
    admitted: AtomicUsize,
    /// The state while the life is Ready (also in `Init::Ready`), read without the mutex. A read
    /// lock, not a `OnceLock`: a life's end takes it back.
    ready: RwLock<Option<Arc<S>>>,
    initializer: InitFn<S>,
    pre_stop: Option<HookFn<S>>,
    pre_freeze: Option<HookFn<S>>,
    /// Where this server's `FC Initialize` lines go.
    lines: PlatformLines,
    /// This server's open WebSockets, which a drain closes.
    #[cfg(feature = "websocket")]
    sockets: crate::websocket::Registry,
}

/// The stopping flag in `Lifecycle::admitted`; one invocation counts 2.
const STOPPING: usize = 1;

/// Why an invocation was not admitted.
#[derive(Debug)]
pub(crate) struct Stopping;

/// Why an admitted call has no state to run with.
#[derive(Debug)]
pub(crate) enum NotReady {
    /// The initializer failed (in this call's run, or the one it waited for, or sticky).
    Init(InitError),
    /// The life the call was admitted in ended first (it outlived the drain limit).
    Stopped,
}

/// What the health path says of the instance.
pub(crate) enum Health<S> {
    /// It can serve: uninitialized or initializing (a call runs or waits for the initializer), or
    /// Ready with this state. A life ended by pre-stop can serve too: the next call begins one.
    Serving(Option<Arc<S>>),
    /// It cannot, for this reason: a fatal initializer failure, a stop running, a signal.
    Down(String),
}

/// An admitted invocation; dropping it (after the response is written) ends it.
pub(crate) struct InFlight<'a, S> {
    lifecycle: &'a Lifecycle<S>,
}

impl<S> Lifecycle<S> {
    pub(crate) fn new(
        initializer: InitFn<S>,
        pre_stop: Option<HookFn<S>>,
        pre_freeze: Option<HookFn<S>>,
    ) -> Lifecycle<S> {
        Lifecycle {
            state: Mutex::new(State {
                init: Init::Uninitialized,
                ended: 0,
                init_runs: 0,
                init_running: false,
                last_retry: None,
                pre_stop: PreStop::NotRun,
                terminal: false,
                waiters: 0,
            }),
            changed: Condvar::new(),
            admitted: AtomicUsize::new(0),
            ready: RwLock::new(None),
            initializer,
            pre_stop,
            pre_freeze,
            lines: PlatformLines::PRINTED,
            #[cfg(feature = "websocket")]
            sockets: crate::websocket::Registry::default(),
        }
    }

    /// This lifecycle with its platform lines going to `lines`.
    pub(crate) fn with_lines(mut self, lines: PlatformLines) -> Lifecycle<S> {
        self.lines = lines;
        self
    }

    /// This server's open WebSockets.
    #[cfg(feature = "websocket")]
    pub(crate) fn sockets(&self) -> &crate::websocket::Registry {
        &self.sockets
    }

    /// Where this server's platform lines go.
    pub(crate) fn lines(&self) -> PlatformLines {
        self.lines
    }

    /// Admits an invocation unless the instance is stopping; after a life has ended, the first
    /// call admitted begins the next one.
    pub(crate) fn admit(&self) -> Result<InFlight<'_, S>, Stopping> {
        let in_flight = InFlight { lifecycle: self };
        if self.admitted.fetch_add(2, Ordering::SeqCst) & STOPPING != 0 {
            return self.begin_life(in_flight);
        }
        Ok(in_flight)
    }

    /// [`Lifecycle::admit`] once it found the stopping flag: begins a new life if the last one
    /// has ended (not by a signal), or joins the one another call began meanwhile; else refuses
    /// (dropping `in_flight` takes the count back).
    #[cold]
    fn begin_life<'a>(&'a self, in_flight: InFlight<'a, S>) -> Result<InFlight<'a, S>, Stopping> {
        // Under the mutex the flag is set exactly when `pre_stop` is not `NotRun`.
        let mut st = self.lock();
        match st.pre_stop {
            PreStop::NotRun => return Ok(in_flight), // begun by another call since the flag was read
            PreStop::Done(_) if !st.terminal => {}
            _ => {
                drop(st); // before `in_flight`, whose drop may take the mutex
                return Err(Stopping);
            }
        }
        // The last life's end left `init` Uninitialized and nothing published.
        st.pre_stop = PreStop::NotRun;
        self.admitted.fetch_and(!STOPPING, Ordering::SeqCst);
        log::info!("a new life begins after pre-stop");
        Ok(in_flight)
    }

    /// Invocations in flight.
    fn in_flight(&self) -> usize {
        self.admitted.load(Ordering::SeqCst) / 2
    }

    /// Returns the user's state, running the initializer first if no run has succeeded in this
    /// life yet (or waiting for the run in progress and sharing its result).
    pub(crate) fn ready(&self, ctx: &Context) -> Result<Arc<S>, NotReady> {
        if let Some(s) = &*self.ready.read().unwrap_or_else(|e| e.into_inner()) {
            return Ok(s.clone());
        }
        self.ready_slow(ctx)
    }

    /// [`Lifecycle::ready`] when the state is not published: under the mutex.
    fn ready_slow(&self, ctx: &Context) -> Result<Arc<S>, NotReady> {
        let mut st = self.lock();
        let life = st.ended;
        loop {
            if st.ended != life || matches!(st.pre_stop, PreStop::Done(_)) {
                return Err(NotReady::Stopped);
            }
            match &st.init {
                Init::Ready(s) => return Ok(s.clone()),
                Init::Failed(e) => return Err(NotReady::Init(InitError::Fatal(e.clone()))),
                Init::Initializing => {
                    let run = st.init_runs;
                    st = self.wait(st, |st| st.init_runs == run && st.ended == life);
                    if let (true, Init::Uninitialized, Some(e)) =
                        (st.ended == life, &st.init, &st.last_retry)
                    {
                        return Err(NotReady::Init(InitError::Retry(e.clone())));
                    }
                }
                Init::Uninitialized if st.init_running => {
                    log::info!("waiting for the last life's initializer run to end");
                    st = self.wait(st, |st| st.init_running);
                }
                Init::Uninitialized => {
                    st.init = Init::Initializing;
                    st.init_running = true;
                    drop(st);
                    return self.run_initializer(ctx, life);
                }
            }
        }
    }

    /// Runs the initializer (this caller set `Initializing` in `life`), records the outcome if
    /// that life is still on, wakes waiters.
    fn run_initializer(&self, ctx: &Context, life: u64) -> Result<Arc<S>, NotReady> {
        self.lines.write(FcEvent::InitializeStart, &ctx.request_id);
        let outcome = match catch_unwind(AssertUnwindSafe(|| (self.initializer)(ctx))) {
            Ok(Ok(s)) => Ok(Arc::new(s)),
            Ok(Err(e)) => Err(e),
            Err(panic) => Err(InitError::Fatal(Error::from_panic(panic))),
        };
        self.lines.write(FcEvent::InitializeEnd, &ctx.request_id);
        let mut st = self.lock();
        st.init_running = false;
        if st.ended != life {
            self.changed_for(&st); // a new life's first call may wait for this run
            drop(st);
            log::warn!("an initializer run outlived its life; its result is dropped");
            drop_quietly(outcome);
            return Err(NotReady::Stopped);
        }
        st.init_runs += 1;
        match &outcome {
            Ok(s) => {
                *self.ready.write().unwrap_or_else(|e| e.into_inner()) = Some(s.clone());
                st.init = Init::Ready(s.clone());
            }
            Err(InitError::Retry(e)) => {
                log::warn!("initializer failed, retryable: {e}");
                st.init = Init::Uninitialized;
                st.last_retry = Some(e.clone());
            }
            Err(InitError::Fatal(e)) => {
                log::error!("initializer failed, fatal: {e}");
                st.init = Init::Failed(e.clone());
            }
        }
        self.changed_for(&st);
        outcome.map_err(NotReady::Init)
    }

    /// Pre-stop: stop admitting, drain up to `drain`, run the hook once, end the life (a later
    /// call begins a new one).
    #[cold]
    pub(crate) fn stop(&self, ctx: &Context, drain: Duration) -> Result<(), Error> {
        self.end_life(ctx, drain, false)
    }

    /// The signal path: [`Lifecycle::stop`], and no life begins after it.
    #[cold]
    pub(crate) fn shut_down(&self, ctx: &Context, drain: Duration) -> Result<(), Error> {
        self.end_life(ctx, drain, true)
    }

    #[cold]
    fn end_life(&self, ctx: &Context, drain: Duration, terminal: bool) -> Result<(), Error> {
        let mut st = self.lock();
        st.terminal |= terminal;
        self.admitted.fetch_or(STOPPING, Ordering::SeqCst);
        loop {
            match &st.pre_stop {
                PreStop::Done(result) => return result.clone(),
                PreStop::Running => {
                    st = self.wait(st, |st| matches!(st.pre_stop, PreStop::Running))
                }
                PreStop::NotRun => break,
            }
        }
        st.pre_stop = PreStop::Running;
        let deadline = Instant::now() + drain;
        let (st, drained) = self.wait_drained(st, deadline);
        if !drained {
            log::warn!(
                "drain limit reached with {} invocation(s) in flight",
                self.in_flight()
            );
        }
        #[cfg(feature = "websocket")]
        let st = if drained { st } else { self.close_sockets(st) };
        let app = match &st.init {
            Init::Ready(s) => Some(s.clone()),
            _ => None,
        };
        drop(st);
        let result = match (&app, &self.pre_stop) {
            (Some(app), Some(hook)) => run_hook(hook, app, ctx),
            _ => Ok(()), // No state (never initialized) or no hook: nothing to run.
        };
        let mut st = self.lock();
        st.pre_stop = PreStop::Done(result.clone());
        st.ended += 1;
        st.last_retry = None;
        let init = std::mem::replace(&mut st.init, Init::Uninitialized);
        let published = self.ready.write().unwrap_or_else(|e| e.into_inner()).take();
        self.changed_for(&st);
        drop(st);
        // The user's `Drop` runs outside the lock, after the hook, unless a straggler holds it.
        drop_quietly((published, init, app));
        result
    }

    /// After the drain limit: open WebSockets go away (1001), and the drain waits a moment more
    /// for their workers to write the close frame (a signal's drain exits the process next).
    #[cfg(feature = "websocket")]
    #[cold]
    fn close_sockets<'a>(&self, st: MutexGuard<'a, State<S>>) -> MutexGuard<'a, State<S>> {
        if self.sockets.going_away() == 0 {
            return st;
        }
        self.wait_drained(st, Instant::now() + crate::websocket::GOING_AWAY)
            .0
    }

    /// Where the instance stands, for the health path.
    pub(crate) fn health(&self) -> Health<S> {
        let st = self.lock();
        if st.terminal || matches!(st.pre_stop, PreStop::Running) {
            return Health::Down("the instance is stopping".into());
        }
        match &st.init {
            Init::Failed(e) => Health::Down(format!("the initializer failed: {e}")),
            Init::Ready(s) => Health::Serving(Some(s.clone())),
            Init::Uninitialized | Init::Initializing => Health::Serving(None),
        }
    }

    /// Pre-freeze: runs the optional hook if the current life is Ready.
    pub(crate) fn pre_freeze(&self, ctx: &Context) -> Result<(), Error> {
        let app = match &self.lock().init {
            Init::Ready(s) => s.clone(),
            _ => return Ok(()),
        };
        match &self.pre_freeze {
            Some(hook) => run_hook(hook, &app, ctx),
            None => Ok(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<S>> {
        // A panic never happens while the lock is held (user code runs unlocked), but don't cascade.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits (counted in `waiters`) until `cond` is false.
    fn wait<'a>(
        &self,
        mut guard: MutexGuard<'a, State<S>>,
        mut cond: impl FnMut(&mut State<S>) -> bool,
    ) -> MutexGuard<'a, State<S>> {
        while cond(&mut guard) {
            guard.waiters += 1;
            guard = self.changed.wait(guard).unwrap_or_else(|e| e.into_inner());
            guard.waiters -= 1;
        }
        guard
    }

    /// Waits (counted in `waiters`) until nothing is in flight or `deadline` passes; true if
    /// drained. Checked under the lock: the last invocation to end takes it before it wakes us.
    fn wait_drained<'a>(
        &self,
        mut guard: MutexGuard<'a, State<S>>,
        deadline: Instant,
    ) -> (MutexGuard<'a, State<S>>, bool) {
        guard.waiters += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        let (mut guard, timeout) = self
            .changed
            .wait_timeout_while(guard, left, |_| self.in_flight() > 0)
            .unwrap_or_else(|e| e.into_inner());
        guard.waiters -= 1;
        (guard, !timeout.timed_out())
    }

    /// Wakes the waiters after a state change; `st` is the held state.
    fn changed_for(&self, st: &State<S>) {
        if st.waiters > 0 {
            self.changed.notify_all();
        }
    }
}

impl<S> Drop for InFlight<'_, S> {
    fn drop(&mut self) {
        let lc = self.lifecycle;
        let before = lc.admitted.fetch_sub(2, Ordering::SeqCst);
        // Only a drain waits for the count to reach zero, and only once stopping.
        if before == 2 | STOPPING {
            lc.changed_for(&lc.lock());
        }
    }
}

fn run_hook<S>(hook: &HookFn<S>, app: &S, ctx: &Context) -> Result<(), Error> {
    catch_unwind(AssertUnwindSafe(|| hook(app, ctx))).unwrap_or_else(|p| Err(Error::from_panic(p)))
}

/// Drops the lifecycle's hold on a life's state: the user's `Drop` runs here if no invocation
/// still holds it; a panic in it is logged, not spread.
fn drop_quietly<T>(state: T) {
    if catch_unwind(AssertUnwindSafe(|| drop(state))).is_err() {
        log::error!("dropping the state of a life panicked");
    }
}

#[cfg(test)]
mod tests;
