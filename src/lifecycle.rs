//! The instance lifecycle as one state machine.
//!
//! ```text
//!                 /initialize or first invocation
//!   Uninitialized ───────────────────────────────▶ Initializing
//!        ▲                                             │
//!        │  retryable error (404)                      │ Ok            fatal error or panic (500)
//!        └─────────────────────────────────────────────┤──────────────────────────┐
//!                                                      ▼                          ▼
//!                                                    Ready                      Failed
//!                                                      │                  (every invocation gets
//!             /pre-stop, SIGTERM or SIGINT: stop        │                   the error; the platform
//!             admitting, drain in-flight, run the       ▼                   restarts the instance)
//!             pre-stop hook once (if Ready)          Stopping ──▶ Stopped
//! ```
//!
//! Rules, in the order they are enforced below:
//! - The initializer runs at most once at a time; callers that arrive while it runs wait for that run
//!   and share its result. After success it never runs again.
//! - Invocations and /initialize calls are admitted (counted in flight) before they wait for
//!   initialization, so a drain waits for them and for the initializer they run. Once stopping,
//!   nothing new is admitted.
//! - Stopping waits for in-flight calls, up to the drain limit, then
//!   runs the pre-stop hook exactly once, and only if initialization had succeeded. Later stop requests
//!   wait for that run and get its result.
//!
//! Every invocation is admitted, finds the state Ready and ends; those three steps take no lock
//! (an atomic counter with the stopping flag, and the Ready state published once), so workers do
//! not queue on the lifecycle. Everything else happens under the state's lock.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::error::{Error, InitError};
use crate::logging;

/// The user's initializer.
pub(crate) type InitFn<S> = Box<dyn Fn(&Context) -> Result<S, InitError> + Send + Sync>;
/// A user's lifecycle hook (pre-stop, pre-freeze).
pub(crate) type HookFn<S> = Box<dyn Fn(&S, &Context) -> Result<(), Error> + Send + Sync>;

/// Where initialization stands.
enum Init<S> {
    Uninitialized,
    Initializing,
    Ready(Arc<S>),
    Failed(Error),
}

/// Where the pre-stop hook stands.
enum PreStop {
    NotRun,
    Running,
    Done(Result<(), Error>),
}

struct State<S> {
    init: Init<S>,
    /// Finished initializer runs, so a waiter can tell that the run it waited for has ended.
    init_runs: u64,
    /// The error of the last retryable failure, shared with the callers that waited for that run.
    last_retry: Option<Error>,
    pre_stop: PreStop,
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
    /// The state once initialization succeeded (also in `Init::Ready`), read without the lock.
    ready: OnceLock<Arc<S>>,
    initializer: InitFn<S>,
    pre_stop: Option<HookFn<S>>,
    pre_freeze: Option<HookFn<S>>,
}

/// The stopping flag in `Lifecycle::admitted`; one invocation counts 2.
const STOPPING: usize = 1;

/// Why an invocation was not admitted.
#[derive(Debug)]
pub(crate) struct Stopping;

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
                init_runs: 0,
                last_retry: None,
                pre_stop: PreStop::NotRun,
                waiters: 0,
            }),
            changed: Condvar::new(),
            admitted: AtomicUsize::new(0),
            ready: OnceLock::new(),
            initializer,
            pre_stop,
            pre_freeze,
        }
    }

    /// Admits an invocation unless the instance is stopping.
    pub(crate) fn admit(&self) -> Result<InFlight<'_, S>, Stopping> {
        let in_flight = InFlight { lifecycle: self };
        if self.admitted.fetch_add(2, Ordering::SeqCst) & STOPPING != 0 {
            return Err(Stopping); // dropping `in_flight` takes the count back
        }
        Ok(in_flight)
    }

    /// Invocations in flight.
    fn in_flight(&self) -> usize {
        self.admitted.load(Ordering::SeqCst) / 2
    }

    /// Returns the user's state, running the initializer first if no run has succeeded yet
    /// (or waiting for the run in progress and sharing its result).
    pub(crate) fn ready(&self, ctx: &Context) -> Result<Arc<S>, InitError> {
        if let Some(s) = self.ready.get() {
            return Ok(s.clone());
        }
        let mut st = self.lock();
        loop {
            match &st.init {
                Init::Ready(s) => return Ok(s.clone()),
                Init::Failed(e) => return Err(InitError::Fatal(e.clone())),
                Init::Initializing => {
                    let run = st.init_runs;
                    st = self.wait(st, |st| st.init_runs == run);
                    if let (Init::Uninitialized, Some(e)) = (&st.init, &st.last_retry) {
                        return Err(InitError::Retry(e.clone()));
                    }
                }
                Init::Uninitialized => {
                    st.init = Init::Initializing;
                    drop(st);
                    return self.run_initializer(ctx);
                }
            }
        }
    }

    /// Runs the initializer (this caller set `Initializing`), records the outcome, wakes waiters.
    fn run_initializer(&self, ctx: &Context) -> Result<Arc<S>, InitError> {
        logging::fc_line("Initialize Start", &ctx.request_id);
        let outcome = match catch_unwind(AssertUnwindSafe(|| (self.initializer)(ctx))) {
            Ok(Ok(s)) => Ok(Arc::new(s)),
            Ok(Err(e)) => Err(e),
            Err(panic) => Err(InitError::Fatal(Error::from_panic(panic))),
        };
        logging::fc_line("Initialize End", &ctx.request_id);
        let mut st = self.lock();
        st.init_runs += 1;
        match &outcome {
            Ok(s) => {
                let _ = self.ready.set(s.clone());
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
        outcome
    }

    /// Pre-stop (also what SIGTERM runs): stop admitting, drain up to `drain`, run the hook once.
    #[cold]
    pub(crate) fn stop(&self, ctx: &Context, drain: Duration) -> Result<(), Error> {
        let mut st = self.lock();
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
        // Checked under the lock: the last invocation to end takes it before it wakes us.
        while self.in_flight() > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                log::warn!(
                    "drain limit reached with {} invocation(s) in flight",
                    self.in_flight()
                );
                break;
            }
            st.waiters += 1;
            st = self
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            st.waiters -= 1;
        }
        let app = match &st.init {
            Init::Ready(s) => Some(s.clone()),
            _ => None,
        };
        drop(st);
        let result = match (app, &self.pre_stop) {
            (Some(app), Some(hook)) => run_hook(hook, &app, ctx),
            _ => Ok(()), // No state (never initialized) or no hook: nothing to run.
        };
        let mut st = self.lock();
        st.pre_stop = PreStop::Done(result.clone());
        self.changed_for(&st);
        result
    }

    /// Pre-freeze: runs the optional hook if initialization has succeeded.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn ctx() -> Context {
        Context::default()
    }

    #[test]
    fn concurrent_callers_share_one_initializer_run() {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let lc = Arc::new(Lifecycle::new(
            Box::new(move |_| {
                r.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
                Ok(7u32)
            }),
            None,
            None,
        ));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let lc = lc.clone();
                std::thread::spawn(move || *lc.ready(&ctx()).unwrap())
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 7);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn retryable_failure_leaves_instance_uninitialized_then_succeeds() {
        let runs = AtomicUsize::new(0);
        let lc = Lifecycle::new(
            Box::new(move |_| match runs.fetch_add(1, Ordering::SeqCst) {
                0 => Err(InitError::retry(Error::msg("not yet"))),
                _ => Ok(1u8),
            }),
            None,
            None,
        );
        assert!(matches!(lc.ready(&ctx()), Err(InitError::Retry(_))));
        assert_eq!(*lc.ready(&ctx()).unwrap(), 1);
    }

    #[test]
    fn panic_in_initializer_is_fatal_and_sticky() {
        let lc: Lifecycle<()> = Lifecycle::new(Box::new(|_| panic!("boom")), None, None);
        let e = lc.ready(&ctx()).unwrap_err();
        assert!(e.is_fatal());
        assert_eq!(e.error().kind, "Panic");
        assert!(lc.ready(&ctx()).unwrap_err().is_fatal());
    }

    #[test]
    fn stop_runs_hook_once_and_rejects_new_invocations() {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let lc = Lifecycle::new(
            Box::new(|_| Ok(())),
            Some(Box::new(move |_, _| {
                r.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })),
            None,
        );
        lc.ready(&ctx()).unwrap();
        lc.stop(&ctx(), Duration::from_secs(1)).unwrap();
        lc.stop(&ctx(), Duration::from_secs(1)).unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(lc.admit().is_err());
    }

    #[test]
    fn stop_before_initialization_skips_the_hook() {
        let lc: Lifecycle<()> = Lifecycle::new(
            Box::new(|_| Ok(())),
            Some(Box::new(|_, _| panic!("must not run"))),
            None,
        );
        assert!(lc.stop(&ctx(), Duration::from_millis(10)).is_ok());
    }
}
