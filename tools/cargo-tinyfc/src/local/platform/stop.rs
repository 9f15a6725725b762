//! The end of an instance or of one of its lives: pre-stop, then SIGTERM (SIGKILL past the grace
//! period) when the platform stops or `--watch` replaces it, pre-stop alone between `--lives`, and
//! the second signal's kill.

use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Instant;

use super::{Boot, Phase, Platform, State};
use crate::local::calls::is_timeout;
use crate::local::instance::{describe, Instance};
use crate::say;

impl Platform {
    /// Stops for good: no new instance, callers refused; then [`Platform::retire`]s the
    /// instance. Returns whether pre-stop answered 2xx (or was not needed) and whether the
    /// instance exited 0 or of the SIGTERM (or there was none).
    pub fn stop(&self) -> (bool, bool) {
        {
            let mut st = self.lock();
            st.stopping = true;
            st.phase = Phase::Stopping;
            st.idle.clear();
        }
        self.changed.notify_all();
        // A replacement under way sees `stopping` and ends soon (no new start, no new attempt).
        let _replacing = self.replacing.lock().unwrap_or_else(|e| e.into_inner());
        let instance = self.lock().instance.clone();
        let Some(instance) = instance else {
            return (true, true);
        };
        let outcome = self.retire(&instance);
        self.lock().instance = None;
        outcome
    }

    /// `--watch`: stops the instance in FC's order and boots a new one from the (rebuilt)
    /// command; callers wait meanwhile. Err if the new one cannot be initialized (callers then
    /// get the InitializationError until the next rebuild).
    pub fn restart(&self) -> Result<(), String> {
        let _replacing = self.replacing.lock().unwrap_or_else(|e| e.into_inner());
        let old = {
            let mut st = self.lock();
            if st.stopping {
                return Err("the platform is stopping".into());
            }
            st.phase = Phase::Booting;
            st.idle.clear();
            st.instance.take()
        };
        if let Some(old) = old {
            self.retire(&old);
        }
        self.boot()
    }

    /// Replaces the instance at `addr`, `why` it must go (an invocation timed out, its health
    /// checks failed): it is killed (its whole process group, without pre-stop: a stuck handler
    /// would not answer one) and a new one booted, while callers wait; as FC takes such an
    /// instance out of service. Nothing happens if that instance is gone already or the platform
    /// is stopping.
    pub fn replace_instance(&self, addr: SocketAddr, why: &str) {
        let _replacing = self.replacing.lock().unwrap_or_else(|e| e.into_inner());
        let Some(old) = self.take_out(addr, |st| st.phase = Phase::Booting) else {
            return;
        };
        say!(
            "restarting the instance: {why}; killing {} (pid {})",
            old.id,
            old.pid()
        );
        old.reap();
        let _ = self.boot();
    }

    /// Takes the instance at `addr` out of service for good, `why`: it is killed as
    /// [`Platform::replace_instance`] kills it, but no new one is started; callers are refused as
    /// when stopping, and [`Platform::gave_up`] says why, so the run ends (exit 1). Nothing
    /// happens if that instance is gone already or the platform is stopping.
    pub fn give_up(&self, addr: SocketAddr, why: &str) {
        let _replacing = self.replacing.lock().unwrap_or_else(|e| e.into_inner());
        let taken = self.take_out(addr, |st| {
            st.phase = Phase::Stopping;
            st.gave_up = Some(why.to_string());
        });
        let Some(old) = taken else {
            return;
        };
        self.changed.notify_all();
        say!("giving up: {why}; killing {} (pid {})", old.id, old.pid());
        old.reap();
    }

    /// Takes the instance at `addr` out of the state, after `then` sets what follows, if it is
    /// the current one, ready, and the platform is not stopping (else None, nothing changed).
    /// The caller holds `replacing`.
    fn take_out(&self, addr: SocketAddr, then: impl FnOnce(&mut State)) -> Option<Arc<Instance>> {
        let mut st = self.lock();
        let current = st.instance.as_ref().is_some_and(|i| i.addr == addr);
        if st.stopping || !current || st.phase != Phase::Ready {
            return None;
        }
        then(&mut st);
        st.idle.clear();
        st.instance.take()
    }

    /// Pre-stop (if the instance ever listened), then SIGTERM (SIGKILL past the grace period).
    /// The runtime itself drains in-flight invocations before it runs its pre-stop hook.
    /// Returns whether pre-stop answered 2xx (or was not needed) and whether the instance exited
    /// 0 or of the SIGTERM.
    fn retire(&self, instance: &Instance) -> (bool, bool) {
        let pre_stop_ok = if instance.exited() {
            say!("the instance has exited already: no pre-stop");
            true
        } else if !instance.listened() {
            say!("the instance never listened: no pre-stop");
            true
        } else if !self.opts.pre_stop {
            say!("no preStop hook in s.yaml: no pre-stop, as FC");
            true
        } else {
            self.pre_stop(instance.addr)
        };
        let status = if instance.exited() {
            instance.reap()
        } else {
            say!("sending SIGTERM to pid {}", instance.pid());
            let started = Instant::now();
            let status = instance.stop(self.opts.grace);
            say!(
                "instance exited in {} ms: {}",
                crate::local::ms(started.elapsed()),
                describe(status)
            );
            status
        };
        // Dying of the SIGTERM we sent is how many runtimes (Python's, Node's) stop: a clean stop.
        let clean = status.is_some_and(|s| s.success() || s.signal() == Some(libc::SIGTERM));
        (pre_stop_ok, clean)
    }

    /// `--lives`: ends a life of the ready instance with GET /pre-stop, as before FC freezes it;
    /// true if it answered 2xx.
    pub fn end_life(&self) -> bool {
        if !self.opts.pre_stop {
            return true;
        }
        match self.ready_instance() {
            Some(addr) => self.pre_stop(addr),
            None => false,
        }
    }

    /// `--lives`: begins a new life of the same instance (thawed): /initialize again. Ok once
    /// ready.
    pub fn new_life(&self) -> Result<(), String> {
        let addr = self
            .ready_instance()
            .ok_or_else(|| "no instance is ready".to_string())?;
        self.initialize(addr).map_err(|e| match e {
            Boot::Restart(m) | Boot::GiveUp(m) => m,
        })
    }

    /// GET /pre-stop; true if it answered 2xx.
    fn pre_stop(&self, addr: SocketAddr) -> bool {
        let (rid, answer, ms) =
            self.lifecycle_call(addr, "GET", "/pre-stop", self.opts.prestop_timeout);
        match answer {
            Ok(r) => {
                say!(
                    "pre-stop: RequestId {rid}, answered {} in {ms} ms",
                    r.status
                );
                r.status / 100 == 2
            }
            Err(e) if is_timeout(&e) => {
                say!(
                    "pre-stop: RequestId {rid}, timed out after {} s",
                    self.opts.prestop_timeout.as_secs_f64()
                );
                false
            }
            Err(e) => {
                say!("pre-stop: RequestId {rid}, failed after {ms} ms: {e}");
                false
            }
        }
    }

    /// A second signal: kill the instance's whole group now, without pre-stop.
    pub fn kill_now(&self) {
        let instance = {
            let mut st = self.lock();
            st.stopping = true;
            st.phase = Phase::Stopping;
            st.instance.clone()
        };
        self.changed.notify_all();
        if let Some(instance) = instance {
            say!("killing instance {} (pid {})", instance.id, instance.pid());
            instance.reap();
        }
    }
}
