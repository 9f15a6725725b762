//! Where connections wait between requests: one edge-triggered epoll set holds every connection,
//! and a table owns the ones that wait. A worker blocked in [`Poller::wait`] is handed a ready
//! connection by the kernel and owns it until it parks it again, so a request costs no thread
//! hand-off, and a worker that finishes one request takes the next ready connection without
//! sleeping. Parking is a table entry, not a system call: a connection is parked only caught up
//! (`Conn::caught_up`), so its next input is a new edge; an edge that comes while its owner still
//! holds it is noted in the table and handed back to the owner. While calls are quick one worker
//! at a time waits on the set and the other idle ones park (`followers.rs`) until promoted. A
//! connection whose next step is a worker's but which has no edge to come (the main or control
//! thread put it back with input waiting, or requests buffered) is deferred: queued for the next
//! free worker, and a waiting one is woken (a parked one, else through an eventfd in the set the
//! one on it). A worker's wait may return several events: it serves the first and queues the
//! rest the same way. The main thread expires and evicts parked connections.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::conn::{Conn, Lease, Slots};
use crate::followers::Followers;
use crate::ranked::{Rank, Ranked, RankedGuard};
use crate::sys::{self, EpollEvent, NO_EVENT};

use table::Table;

/// How long a rejected connection may linger, reading and dropping input, before it is closed.
const LINGER: Duration = Duration::from_secs(2);
/// Without an idle timeout, how long the main thread may sleep with nothing due.
const LOOK_AGAIN: Duration = Duration::from_secs(60);

/// What [`Poller::park`] did.
pub(crate) enum Parked {
    /// Parked; `poke`: its deadline is before the main thread's planned wake-up, wake it.
    Done { poke: bool },
    /// Input arrived while it was being parked: still the caller's.
    Ready(Conn),
}

/// What a worker got from [`Poller::wait`].
pub(crate) enum Ready {
    /// A connection with input (or a hang-up); the caller owns it now.
    Conn(Conn),
    /// New connections wait on the listener: the caller accepts them.
    Accept,
    /// Nothing within the timeout.
    TimedOut,
    /// A stale event, a signal: look again.
    Nothing,
}

/// The most events a worker takes from one wait.
const MOST_EVENTS: usize = 8;

/// The listener's token: no connection's (a connection's index stays far below `u32::MAX`).
const LISTENER: u64 = u64::MAX;
/// The wake-up eventfd's token.
const WAKE: u64 = u64::MAX - 1;
/// The events of a queued entry that is a deferred connection, not readiness from the set
/// (which always has a flag).
const DEFERRED: u32 = 0;

/// The epoll set and the table of parked connections, shared by the main thread and the workers.
pub(crate) struct Poller {
    epoll: OwnedFd,
    table: Ranked<Table>,
    /// Threads in (or about to enter) [`Poller::wait`].
    waiting: AtomicUsize,
    /// Workers in (or about to enter) `epoll_wait` on the set. One whose last call was quick
    /// parks in `followers` instead while another is there.
    on_set: AtomicUsize,
    followers: Followers,
    /// Connections handed to workers so far: the main thread's measure of progress.
    taken: AtomicUsize,
    /// Work for the next worker that waits, oldest first: connections deferred to it (see
    /// [`Poller::defer`]) and the events a worker's wait returned beyond the one it serves (see
    /// [`Poller::wait`]). Any worker takes them before it waits.
    queued: Ranked<VecDeque<EpollEvent>>,
    has_queued: AtomicBool,
    /// An eventfd in the set, edge-triggered: each write wakes one worker waiting on the set (for
    /// queued work, or to see that the server closed) when none is parked.
    wake: File,
    /// Connections owned by the table (parked) or by a thread (busy).
    open: AtomicUsize,
}

impl Poller {
    /// A new, empty set.
    pub(crate) fn new() -> io::Result<Poller> {
        let (epoll, wake) = sys::epoll_and_eventfd()?;
        sys::epoll_ctl(epoll.as_fd(), libc::EPOLL_CTL_ADD, wake.as_fd(), WAKE)?;
        Ok(Poller {
            epoll,
            table: Ranked::new(Rank::PollerTable, Table::default()),
            waiting: AtomicUsize::new(0),
            on_set: AtomicUsize::new(0),
            followers: Followers::new(),
            taken: AtomicUsize::new(0),
            queued: Ranked::new(Rank::PollerQueued, VecDeque::new()),
            has_queued: AtomicBool::new(false),
            wake,
            open: AtomicUsize::new(0),
        })
    }

    /// The epoll descriptor, which polls readable while a connection is ready.
    pub(crate) fn fd(&self) -> RawFd {
        self.epoll.as_raw_fd()
    }

    /// Open connections, parked or busy.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Adds the listening socket: its new connections are reported like a connection's input.
    pub(crate) fn add_listener(&self, fd: BorrowedFd) -> io::Result<()> {
        sys::epoll_ctl(self.epoll.as_fd(), libc::EPOLL_CTL_ADD, fd, LISTENER)
    }

    /// Reports the listener's queued connections again (after a pause in accepting).
    pub(crate) fn rearm_listener(&self, fd: BorrowedFd) {
        let _ = sys::epoll_ctl(self.epoll.as_fd(), libc::EPOLL_CTL_MOD, fd, LISTENER);
    }

    /// Takes the listening socket out of the set, before it is closed.
    pub(crate) fn remove_listener(&self, fd: BorrowedFd) {
        let _ = sys::epoll_ctl(self.epoll.as_fd(), libc::EPOLL_CTL_DEL, fd, LISTENER);
    }

    /// Takes a newly accepted connection into the set; true if its deadline is before the main
    /// thread's planned wake-up (which then needs a poke).
    #[must_use]
    pub(crate) fn add(self: &Arc<Self>, mut conn: Conn, c: &Config) -> bool {
        let d = deadline(&conn, c);
        let mut t = self.lock();
        let tok = t.reserve();
        // Added to the set while the table lock is held, just before the table owns it: an event
        // that comes at once waits for the lock and then finds it parked.
        let added = sys::epoll_ctl(
            self.epoll.as_fd(),
            libc::EPOLL_CTL_ADD,
            conn.stream.as_fd(),
            tok,
        );
        if added.is_err() {
            // No memory for the set: it closes (it holds no lease yet).
            t.release(tok);
            return false;
        }
        let slots: std::sync::Weak<dyn Slots> = Arc::downgrade(self) as _;
        conn.lease = Some(Lease::new(slots, tok));
        t.held(tok).conn = Some(conn);
        let poke = t.due_by(d);
        drop(t);
        self.open.fetch_add(1, Ordering::Relaxed);
        poke
    }

    /// Parks a connection its owner is done with, to wait for its next input or its deadline.
    /// Returns it if input arrived meanwhile: the caller serves it again.
    #[must_use]
    pub(crate) fn park(&self, mut conn: Conn, c: &Config) -> Parked {
        debug_assert!(conn.caught_up, "parked with input not yet read");
        let d = deadline(&conn, c);
        let mut t = self.lock();
        let slot = t.held(conn.token());
        debug_assert!(slot.conn.is_none());
        if std::mem::take(&mut slot.missed) {
            conn.caught_up = false;
            conn.input_closed |= std::mem::take(&mut slot.missed_hang_up);
            return Parked::Ready(conn);
        }
        slot.conn = Some(conn);
        Parked::Done { poke: t.due_by(d) }
    }

    /// Closes a connection its owner is done with (its lease frees its slot).
    pub(crate) fn close(&self, conn: Conn) {
        drop(conn);
    }

    /// Threads waiting for a ready connection.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// True if no worker waits on the set: every thread in [`Poller::wait`] is parked, or none
    /// waits.
    pub(crate) fn none_on_set(&self) -> bool {
        self.waiting() <= self.followers.parked()
    }

    /// Connections handed to workers so far.
    pub(crate) fn taken(&self) -> usize {
        self.taken.load(Ordering::Relaxed)
    }

    /// Counts a worker being started as waiting, until [`Poller::worker_started`].
    pub(crate) fn starting_worker(&self) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
    }

    /// The started worker (or the failed start) no longer counts as waiting.
    pub(crate) fn worker_started(&self) {
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }

    /// Waits up to `timeout` for a ready connection (a worker): queued work first, else events
    /// from `epoll_wait`. After a `quick` call the caller waits on the set only if no other worker
    /// does, else it parks until promoted (`Ready::Nothing`: it waits again) or the timeout; it
    /// takes up to [`MOST_EVENTS`] events, serves the first and queues the rest, which it serves
    /// next unless another worker comes to wait first, and a full batch (more may be ready)
    /// promotes a parked worker. After a slow call the caller waits on the set like every worker
    /// whose calls may block, takes one event, and promotes a parked worker to the set.
    #[inline(never)]
    pub(crate) fn wait(&self, timeout: Duration, quick: bool) -> Ready {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let ready = self.wait_counted(timeout, quick);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        ready
    }

    fn wait_counted(&self, timeout: Duration, quick: bool) -> Ready {
        // After counting ourselves as waiting: work queued from here on wakes us.
        while let Some(ev) = self.pop_queued() {
            match self.ready(ev) {
                Ready::Nothing => {} // stale: taken or closed meanwhile
                ready => return ready,
            }
        }
        if self.on_set.fetch_add(1, Ordering::SeqCst) > 0 && quick {
            self.on_set.fetch_sub(1, Ordering::SeqCst);
            return match self.followers.follow(timeout) {
                true => Ready::Nothing,
                false => Ready::TimedOut,
            };
        }
        let mut evs = [NO_EVENT; MOST_EVENTS];
        let most = if quick { MOST_EVENTS } else { 1 };
        let n = sys::epoll_wait(self.epoll.as_fd(), &mut evs[..most], timeout);
        self.on_set.fetch_sub(1, Ordering::SeqCst);
        let Some((first, rest)) = evs.get(..n).and_then(|e| e.split_first()) else {
            return Ready::TimedOut;
        };
        if !rest.is_empty() {
            self.queue(rest, false);
        }
        if !quick || n == MOST_EVENTS {
            self.followers.promote();
        }
        self.ready(*first)
    }

    /// Hands the set to a parked worker, if one is parked: the main thread's, when nobody is on
    /// the set and the busy workers make no progress.
    pub(crate) fn promote(&self) {
        self.followers.promote();
    }

    /// Queues work for the next worker; with `wake`, wakes one if any waits. One that does not
    /// wait yet looks at the queue before it waits (`Poller::wait`), so no wake-up is stored for
    /// it: a stored one would also wake the main thread, which watches the set while every worker
    /// is busy.
    fn queue(&self, evs: &[EpollEvent], wake: bool) {
        let mut queued = self.queued.lock();
        queued.extend(evs);
        self.has_queued.store(true, Ordering::SeqCst);
        drop(queued);
        if wake && self.waiting() > 0 {
            self.wake_one();
        }
    }

    /// The oldest queued work, if any.
    fn pop_queued(&self) -> Option<EpollEvent> {
        if !self.has_queued.load(Ordering::SeqCst) {
            return None;
        }
        let mut queued = self.queued.lock();
        let ev = queued.pop_front();
        self.has_queued.store(!queued.is_empty(), Ordering::SeqCst);
        ev
    }

    /// What an event (from the set, or queued) means for the worker that got it. A queued
    /// connection is taken like one with an event: a deferred one may have input waiting.
    fn ready(&self, ev: EpollEvent) -> Ready {
        let conn = match ev.u64 {
            LISTENER => return Ready::Accept,
            WAKE => {
                // Resets the counter (edge-triggered: each later write is a new event anyway);
                // the caller looks at the queue next.
                let _ = (&self.wake).read(&mut [0u8; 8]);
                return Ready::Nothing;
            }
            tok => self.take(tok, ev.events),
        };
        match conn {
            Some(conn) => {
                self.taken.fetch_add(1, Ordering::Relaxed);
                Ready::Conn(conn)
            }
            None => Ready::Nothing,
        }
    }

    /// Takes the ready connections without waiting (the main thread, while every worker is
    /// busy), and whether the listener has new connections.
    pub(crate) fn take_ready(&self) -> (Vec<Conn>, bool) {
        let mut evs: [EpollEvent; 32] = [NO_EVENT; 32];
        let n = sys::epoll_wait(self.epoll.as_fd(), &mut evs, Duration::ZERO);
        let mut evs = evs.get(..n).unwrap_or_default().to_vec();
        // And the queued readiness a worker's wait left (a control call's connection may be
        // among it), but not the connections deferred to the workers: this thread looked at
        // them already, or the control thread handed them back. Taking those again had this
        // thread peek the same connections over and over while the workers were behind.
        if self.has_queued.load(Ordering::SeqCst) {
            let mut queued = self.queued.lock();
            queued.retain(|ev| {
                let deferred = ev.events == DEFERRED;
                if !deferred {
                    evs.push(*ev);
                }
                deferred
            });
            self.has_queued.store(!queued.is_empty(), Ordering::SeqCst);
        }
        if evs.iter().any(|e| e.u64 == WAKE) && self.waiting() > 0 {
            self.wake_one(); // its wake-up was meant for a worker
        }
        let conns = evs
            .iter()
            .filter_map(|e| self.take(e.u64, e.events))
            .collect();
        (conns, evs.iter().any(|e| e.u64 == LISTENER))
    }

    /// Hands a connection to the next worker to come free, without serving it: the main
    /// thread's way to leave an invocation alone while every worker is busy, and the control
    /// thread's way to give a connection back after its call. It waits in the table meanwhile, so
    /// its deadline still applies.
    pub(crate) fn defer(&self, conn: Conn, c: &Config) {
        let tok = conn.token();
        let d = deadline(&conn, c);
        let mut t = self.lock();
        t.held(tok).conn = Some(conn);
        t.due_by(d);
        drop(t);
        self.queue(
            &[EpollEvent {
                events: DEFERRED,
                u64: tok,
            }],
            true,
        );
    }

    /// Wakes one waiting worker (if any): for queued work, or to see that the server closed
    /// (each worker that exits wakes the next). A parked one if any, else the one on the set.
    pub(crate) fn wake_one(&self) {
        if !self.followers.promote() {
            // A full counter already means "wake".
            let _ = (&self.wake).write(&1u64.to_ne_bytes());
        }
    }

    /// Takes the connection behind an event out of the table, unless the event is stale. An
    /// event means input (or a hang-up, which `events` tells) waits unread.
    fn take(&self, tok: u64, events: u32) -> Option<Conn> {
        if tok == LISTENER || tok == WAKE {
            return None;
        }
        let hang_up = events & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
        let mut t = self.lock();
        let slot = t.slot(tok)?;
        let Some(mut conn) = slot.conn.take() else {
            // Not parked: its owner is parking it (or the main thread has it); tell the owner.
            slot.missed = true;
            slot.missed_hang_up |= hang_up;
            return None;
        };
        conn.caught_up = false;
        conn.input_closed |= hang_up;
        Some(conn)
    }

    /// Takes out every parked connection whose deadline has passed, and returns them with the
    /// main thread's next wake-up (the earliest deadline of those left).
    pub(crate) fn expired(&self, now: Instant, c: &Config) -> (Vec<Conn>, Option<Instant>) {
        let mut t = self.lock();
        let mut out = Vec::new();
        if t.main_wakes_at.is_some_and(|w| w > now) {
            return (out, t.main_wakes_at); // an early bound: nothing can be due yet
        }
        let mut next: Option<Instant> = None;
        for slot in t.slots.iter_mut() {
            let Some(conn) = &slot.conn else { continue };
            let Some(d) = deadline(conn, c) else { continue };
            if d <= now {
                out.extend(slot.conn.take());
            } else {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
        }
        // With nothing due the main thread still looks once an idle timeout (or a minute): a
        // connection accepted meanwhile is due later, so accepting it needs no wake-up.
        t.main_wakes_at = Some(next.unwrap_or(now + c.idle_timeout.unwrap_or(LOOK_AGAIN)));
        (out, t.main_wakes_at)
    }

    /// Closes the longest-idle parked connection (one with no request arriving); how long it was
    /// idle, or None if no connection is idle.
    pub(crate) fn evict_idle(&self) -> Option<Duration> {
        let mut t = self.lock();
        let oldest = t
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.conn.as_ref()?)))
            .filter(|(_, c)| c.buf.is_empty() && c.closing.is_none())
            // Not one whose request waits unread (a new connection's, or an edge not yet taken).
            .filter(|(_, c)| c.caught_up || !has_input(c))
            .min_by_key(|(_, c)| c.idle_since)
            .map(|(i, c)| (i, c.idle_since.elapsed()));
        let (i, idle) = oldest?;
        let conn = t.slots[i].conn.take();
        drop(t);
        drop(conn); // its lease frees the slot, outside the table's lock
        Some(idle)
    }

    fn lock(&self) -> RankedGuard<'_, Table> {
        self.table.lock()
    }
}

/// The instant a parked connection expires: the linger's end for a rejected one, the head
/// deadline while a request is arriving, the idle deadline otherwise (none without an idle
/// timeout: FC reuses idle connections).
fn deadline(conn: &Conn, c: &Config) -> Option<Instant> {
    if let Some(t) = conn.closing {
        return Some(t + LINGER);
    }
    match conn.head_started {
        Some(t) => Some(t + c.header_timeout),
        None => c.idle_timeout.map(|idle| conn.idle_since + idle),
    }
}

/// True if input (or the end of it) waits in `conn`'s socket.
fn has_input(conn: &Conn) -> bool {
    // The socket is non-blocking: an empty one is WouldBlock.
    !matches!(conn.stream.peek(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

impl Slots for Poller {
    fn release(&self, token: u64) {
        self.lock().release(token);
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

mod table;
#[cfg(test)]
mod tests;
