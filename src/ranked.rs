//! Locks taken in one order. Each connection-path lock has a [`Rank`], and a thread takes them
//! only in increasing rank (docs/architecture.md, "Locks"); in debug builds, which every test
//! runs, taking one out of order (or one already held) panics before it blocks, so a test catches
//! a lock order that could deadlock. Release builds keep no record.

use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard};

/// The locks, in the one order a thread may take them (a lower rank before a higher one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rank {
    /// `Workers::listed`: taken alone (a worker starting or ending, the main thread looking).
    Workers,
    /// `Listener::socket`: held while accepting, around adding connections to the poller.
    ListenerSocket,
    /// `Listener::paused_until`.
    ListenerPause,
    /// `Listener::warned`.
    ListenerWarned,
    /// `Listener::evicted`.
    ListenerEvicted,
    /// `Poller::queued`: taken alone.
    PollerQueued,
    /// `Poller::table`: the innermost; nothing is locked, and no connection dropped, under it.
    PollerTable,
}

#[cfg(debug_assertions)]
thread_local! {
    /// The ranks this thread holds, in the order taken.
    static HELD: std::cell::RefCell<Vec<Rank>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A mutex with a rank.
pub(crate) struct Ranked<T> {
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    rank: Rank,
    mutex: Mutex<T>,
}

/// A held [`Ranked`] lock.
pub(crate) struct RankedGuard<'a, T> {
    guard: MutexGuard<'a, T>,
    #[cfg(debug_assertions)]
    rank: Rank,
}

impl<T> Ranked<T> {
    /// `value` behind a lock of rank `rank`.
    pub(crate) const fn new(rank: Rank, value: T) -> Ranked<T> {
        Ranked {
            rank,
            mutex: Mutex::new(value),
        }
    }

    /// Takes the lock (a poisoned one too: its holder panicked, the data is still consistent at
    /// each unlock). Debug builds panic if this thread holds one of the same or a higher rank.
    pub(crate) fn lock(&self) -> RankedGuard<'_, T> {
        // A thread-local's destructor may take a lock after HELD is gone (a connection kept in a
        // worker's thread-local, closed as the thread exits): no check then.
        #[cfg(debug_assertions)]
        let _ = HELD.try_with(|held| {
            let mut held = held.borrow_mut();
            if let Some(&last) = held.iter().max() {
                assert!(
                    self.rank > last,
                    "lock order: {:?} taken while holding {last:?}",
                    self.rank
                );
            }
            held.push(self.rank);
        });
        RankedGuard {
            guard: crate::lock(&self.mutex),
            #[cfg(debug_assertions)]
            rank: self.rank,
        }
    }
}

impl<T> Deref for RankedGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for RankedGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

#[cfg(debug_assertions)]
impl<T> Drop for RankedGuard<'_, T> {
    fn drop(&mut self) {
        let _ = HELD.try_with(|held| {
            let mut held = held.borrow_mut();
            if let Some(i) = held.iter().rposition(|&r| r == self.rank) {
                held.remove(i);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_taken_in_rank_order_are_fine_and_released_ones_are_forgotten() {
        let (socket, table) = (
            Ranked::new(Rank::ListenerSocket, ()),
            Ranked::new(Rank::PollerTable, ()),
        );
        {
            let _s = socket.lock();
            let _t = table.lock();
        }
        let _t = table.lock();
        drop(_t);
        let _s = socket.lock();
    }

    #[test]
    #[should_panic(expected = "lock order: ListenerSocket taken while holding PollerTable")]
    fn a_lock_taken_after_a_higher_ranked_one_panics_in_debug_builds() {
        let (socket, table) = (
            Ranked::new(Rank::ListenerSocket, ()),
            Ranked::new(Rank::PollerTable, ()),
        );
        let _t = table.lock();
        let _s = socket.lock();
    }

    #[test]
    #[should_panic(expected = "lock order: ListenerPause taken while holding ListenerPause")]
    fn a_lock_taken_twice_by_one_thread_panics_instead_of_deadlocking() {
        let pause = Ranked::new(Rank::ListenerPause, ());
        let _a = pause.lock();
        let _b = pause.lock();
    }
}
