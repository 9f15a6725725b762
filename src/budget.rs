//! The body budget: request body bytes held at once, bounded by the function's memory. FC gives a
//! function a fixed memory (`FC_FUNCTION_MEMORY_SIZE`, else the calls' `x-fc-function-memory`);
//! the workers times the body limit can be far more (16 x 32 MiB against 128 MB), so a burst of
//! large bodies would kill the instance. A call reserves its body's bytes before reading them: a
//! declared length up front, a chunked body chunk by chunk. One that does not fit waits with its
//! body unread (the client's TCP window fills), until bytes are released or its body deadline
//! passes (408); one larger than the whole budget is 413.
//!
//! A [`Reservation`] holds the bytes and gives them back when dropped, so no path (an error, a
//! panic, a closed connection) can keep budget it no longer uses.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use crate::head::{reject, Reject};
use crate::lock;

/// The share of the function's memory request bodies may hold: half, leaving the rest to the
/// handlers, their answers and the runtime.
const SHARE: usize = 2;

/// Bytes in one MB of `FC_FUNCTION_MEMORY_SIZE` and `x-fc-function-memory` (FC's MB are MiB).
const MB: usize = 1 << 20;

/// The budget for request bodies, shared by the workers.
pub(crate) struct BodyBudget {
    state: Mutex<State>,
    /// Signalled when bytes are released.
    released: Condvar,
    /// The total is known (configured, or learned from a call): no more learning.
    known: AtomicBool,
}

struct State {
    /// None: unknown (no memory size configured or seen yet): bodies are not counted.
    total: Option<usize>,
    /// Bytes reserved now.
    used: usize,
    /// Calls waiting for room: a release wakes them only if there are any (a wake-up is a
    /// system call even with nobody waiting, and most calls release a body).
    waiters: usize,
}

/// Bytes of the budget held by one call's body; released on drop.
pub(crate) struct Reservation<'a> {
    budget: &'a BodyBudget,
    bytes: usize,
}

impl BodyBudget {
    /// A budget of `total` bytes (`TINYFC_BODY_BUDGET_BYTES`, or half of
    /// `FC_FUNCTION_MEMORY_SIZE`), none at all for `Some(0)`, or none yet: then the first call
    /// that carries `x-fc-function-memory` sets it ([`BodyBudget::learn`]).
    pub(crate) fn new(total: Option<usize>) -> BodyBudget {
        BodyBudget {
            state: Mutex::new(State {
                total: total.filter(|&n| n > 0),
                used: 0,
                waiters: 0,
            }),
            released: Condvar::new(),
            known: AtomicBool::new(total.is_some()),
        }
    }

    /// The budget for a function of `mb` MB: half of it.
    pub(crate) fn for_memory(mb: usize) -> usize {
        mb.saturating_mul(MB) / SHARE
    }

    /// Sets an unknown budget from a call's function memory in MB (`x-fc-function-memory`, else
    /// `FC_FUNCTION_MEMORY_SIZE`: [`Context::memory_mb`](crate::Context)), once.
    pub(crate) fn learn(&self, memory_mb: Option<u32>) {
        if self.known.load(Ordering::Relaxed) {
            return;
        }
        let Some(mb) = memory_mb.map(|mb| mb as usize).filter(|&mb| mb > 0) else {
            return;
        };
        let mut st = lock(&self.state);
        if st.total.is_none() {
            let total = BodyBudget::for_memory(mb);
            log::info!("request bodies held at once: at most {total} bytes (half of {mb} MB)");
            st.total = Some(total);
        }
        self.known.store(true, Ordering::Relaxed);
    }

    /// An empty reservation, to grow as a body arrives.
    pub(crate) fn empty(&self) -> Reservation<'_> {
        Reservation {
            budget: self,
            bytes: 0,
        }
    }
}

impl Reservation<'_> {
    /// Holds `n` more bytes, waiting until they fit or `deadline` passes (408); 413 if the body
    /// would need more than the whole budget.
    pub(crate) fn grow(&mut self, n: usize, deadline: Instant) -> Result<(), Reject> {
        if n == 0 {
            return Ok(());
        }
        let b = self.budget;
        let mut st = lock(&b.state);
        let Some(total) = st.total else {
            return Ok(()); // no budget known: not counted
        };
        let want = self.bytes.saturating_add(n);
        if want > total {
            return Err(reject(413, "request body larger than the body budget"));
        }
        if st.used + n > total {
            let left = deadline.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                log::debug!("a body of {n} bytes waits for the body budget ({total} bytes)");
            }
            st.waiters += 1;
            let (waited, timeout) = b
                .released
                .wait_timeout_while(st, left, |st| st.used + n > total)
                .unwrap_or_else(|e| e.into_inner());
            st = waited;
            st.waiters -= 1;
            if timeout.timed_out() {
                return Err(reject(408, "request body timed out waiting for memory"));
            }
        }
        st.used += n;
        self.bytes = want;
        Ok(())
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.bytes == 0 {
            return;
        }
        let mut st = lock(&self.budget.state);
        st.used -= self.bytes;
        let waiting = st.waiters > 0;
        drop(st);
        if waiting {
            self.budget.released.notify_all();
        }
    }
}

/// Blocks from this size on are mapped on their own (glibc), so freeing one returns it: glibc's
/// own starting threshold, kept from rising.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const OWN_MAPPING: libc::c_int = 128 * 1024;

/// Makes a freed large body give its memory back to the system at once (glibc's allocator; musl's
/// always does). glibc raises its mmap threshold to the size of each mapped block freed (up to
/// 32 MiB), so bodies of a few MiB come from per-thread arenas afterwards and stay there once
/// freed: 12 bodies of 24 MiB through 16 workers left 243 MiB resident against a budget of 64.
/// A fixed threshold keeps blocks of 128 KiB and more in mappings of their own (a buffer grown
/// by a large head too: the adversarial RSS test saw one stay resident at 1 MiB).
pub(crate) fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    crate::sys::set_mmap_threshold(OWN_MAPPING);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn a_body_over_the_whole_budget_is_413_and_one_that_cannot_fit_in_time_is_408() {
        let b = BodyBudget::new(Some(100));
        let mut r = b.empty();
        assert_eq!(r.grow(101, soon()).unwrap_err().status, 413);
        r.grow(100, soon()).unwrap();
        let mut late = b.empty();
        assert_eq!(late.grow(1, Instant::now()).unwrap_err().status, 408);
        assert_eq!(
            r.grow(1, soon()).unwrap_err().status,
            413,
            "grown past the whole"
        );
    }

    #[test]
    fn a_reservation_that_does_not_fit_waits_for_one_to_be_dropped() {
        let b = BodyBudget::new(Some(100));
        let mut first = b.empty();
        first.grow(60, soon()).unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let mut r = b.empty();
                r.grow(60, soon()).map(|()| r.bytes)
            });
            std::thread::sleep(Duration::from_millis(50));
            assert!(!waiter.is_finished(), "did not wait for room");
            drop(first);
            assert_eq!(waiter.join().unwrap().unwrap(), 60);
        });
        assert_eq!(lock(&b.state).used, 0, "every reservation was released");
    }

    #[test]
    fn without_a_known_memory_size_nothing_is_counted_until_a_call_says_it() {
        let b = BodyBudget::new(None);
        let mut r = b.empty();
        r.grow(usize::MAX / 2, soon()).unwrap();
        drop(r);
        b.learn(Some(128));
        assert_eq!(lock(&b.state).total, Some(64 << 20));
        // Turned off (`TINYFC_BODY_BUDGET_BYTES=0`): a call's memory sets nothing.
        let off = BodyBudget::new(Some(0));
        off.learn(Some(128));
        assert_eq!(lock(&off.state).total, None);
    }
}
