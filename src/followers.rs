//! Idle workers other than the one waiting on the epoll set. One worker at a time waits there
//! (see `Poller::wait`); the others park here until promoted: when a wait returns a full batch
//! (more may be ready), when work is queued for the workers, or when the main thread's tick finds
//! nobody on the set while the busy workers make no progress. A worker in `epoll_wait` is woken by
//! the kernel for each event; with two of them there, each served one or two requests per wake-up
//! while the other was busy.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::lock;

/// The parked workers. Its lock is taken alone.
pub(crate) struct Followers {
    state: Mutex<State>,
    promoted: Condvar,
    /// `State::parked`, readable without the lock (by the main thread's tick and a worker about to
    /// run a call).
    parked: AtomicUsize,
}

#[derive(Default)]
struct State {
    parked: usize,
    /// Promotions not yet taken: at most `parked`, or one while none is parked.
    promotions: usize,
}

impl Followers {
    pub(crate) fn new() -> Followers {
        Followers {
            state: Mutex::new(State::default()),
            promoted: Condvar::new(),
            parked: AtomicUsize::new(0),
        }
    }

    /// Parks the caller until it is promoted (true) or `timeout` has passed (false).
    pub(crate) fn follow(&self, timeout: Duration) -> bool {
        if timeout.is_zero() {
            return false;
        }
        let mut st = lock(&self.state);
        if st.promotions > 0 && st.parked == 0 {
            st.promotions -= 1; // kept for the next to park: this one
            return true;
        }
        st.parked += 1;
        self.parked.store(st.parked, Ordering::SeqCst);
        let (mut st, _) = self
            .promoted
            .wait_timeout_while(st, timeout, |st| st.promotions == 0)
            .unwrap_or_else(|e| e.into_inner());
        let promoted = st.promotions > 0;
        if promoted {
            st.promotions -= 1;
        }
        st.parked -= 1;
        self.parked.store(st.parked, Ordering::SeqCst);
        promoted
    }

    /// Promotes one parked worker not promoted yet; false if there is none. Then one promotion
    /// is kept for the next worker to park, which takes it at once and looks again: a worker
    /// about to park would otherwise sleep through a promotion meant for it (such as the wake-up
    /// that passes a server's close from worker to worker).
    pub(crate) fn promote(&self) -> bool {
        let mut st = lock(&self.state);
        if st.promotions >= st.parked.max(1) {
            return st.parked > 0;
        }
        st.promotions += 1;
        if st.parked == 0 {
            return false;
        }
        self.promoted.notify_one();
        true
    }

    /// Workers parked here now.
    pub(crate) fn parked(&self) -> usize {
        self.parked.load(Ordering::SeqCst)
    }
}
