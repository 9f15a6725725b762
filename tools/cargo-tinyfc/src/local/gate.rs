//! `--concurrency N`: at most N invocations inside the instance at once, as FC's instance
//! concurrency; the others wait in the front door, at most `--queue-limit` of them, and one more
//! is answered 429 ResourceThrottled, as FC throttles when no instance can take a request.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The counter of invocations in the instance and of those waiting.
pub struct Gate {
    /// (in flight, synchronous invocations waiting).
    state: Mutex<(usize, usize)>,
    /// Signalled when an invocation leaves.
    freed: Condvar,
    /// Invocations in the instance at once.
    limit: usize,
    /// Invocations that may wait.
    queue_limit: usize,
}

/// One invocation's (or one WebSocket's) place in the instance; freed when dropped. It owns its
/// gate, so a socket's tunnel threads can hold it for as long as the socket lives.
pub struct Permit(Arc<Gate>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.lock().0 -= 1;
        self.0.freed.notify_one();
    }
}

impl Gate {
    /// A gate letting `limit` invocations in at once, with `queue_limit` waiting.
    pub fn new(limit: usize, queue_limit: usize) -> Gate {
        Gate {
            state: Mutex::new((0, 0)),
            freed: Condvar::new(),
            limit,
            queue_limit,
        }
    }

    /// The counters, locked.
    fn lock(&self) -> MutexGuard<'_, (usize, usize)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a place; Err (why) at once when the queue is full.
    pub fn enter(self: &Arc<Self>) -> Result<Permit, String> {
        self.wait(true)
    }

    /// Waits for a place however many wait (asynchronous invocations: bounded by their own queue).
    pub fn enter_queued(self: &Arc<Self>) -> Permit {
        match self.wait(false) {
            Ok(p) => p,
            Err(_) => unreachable!("an unbounded wait is never refused"),
        }
    }

    fn wait(self: &Arc<Self>, bounded: bool) -> Result<Permit, String> {
        let mut st = self.lock();
        if st.0 >= self.limit {
            if bounded && st.1 >= self.queue_limit {
                return Err(format!(
                    "{} invocations in the instance (--concurrency) and {} waiting (--queue-limit)",
                    self.limit, self.queue_limit
                ));
            }
            // Asynchronous invocations wait in their own bounded queue, not in this one.
            st.1 += usize::from(bounded);
            while st.0 >= self.limit {
                st = self.freed.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            st.1 -= usize::from(bounded);
        }
        st.0 += 1;
        Ok(Permit(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_and_the_queue_a_caller_is_refused_until_a_place_frees() {
        let gate = std::sync::Arc::new(Gate::new(1, 0));
        let first = gate.enter().unwrap();
        assert!(gate.enter().is_err());
        drop(first);
        assert!(gate.enter().is_ok());
    }
}
