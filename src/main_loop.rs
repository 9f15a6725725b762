//! The main thread (`tinyfc-main`; the process's first thread becomes the first worker, see
//! `server.rs`): turns signals into a drain, expires parked connections (head and idle
//! timeouts, lingering rejects), starts a worker when none is left waiting (see `Watch`), and,
//! while every worker is busy at the bound, takes ready connections (and accepts new ones) itself
//! so /pre-stop and /pre-freeze still reach the control thread.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::answer::reject_and_close;
use crate::conn::{discard_available, read_available, Conn};
use crate::head::{parse_head, Reject};
use crate::protocol::Call;
use crate::server::{Job, Shared};

/// How often the main thread looks at the workers while it watches them.
const TICK: Duration = Duration::from_millis(1);
/// Ticks in a row with a worker waiting before the main thread stops watching.
const QUIET_TICKS: u32 = 10;

/// The worker-scaling policy. A worker about to run a call while no other worker waits pokes the
/// main thread, which then looks once a tick: a tick with no worker waiting starts one more (up to
/// the bound), so N calls that block get N threads within N ticks, and a fast handler, whose
/// workers keep coming back to wait, grows only a few. At the bound, a tick in which no worker took
/// a connection makes the main thread take ready connections itself (control calls must get
/// through). Ten ticks in a row with a worker waiting end the watch. It starts out on, so the
/// platform's first calls wake no other thread.
struct Watch {
    on: bool,
    last_tick: Instant,
    /// `Poller::taken` at the last tick.
    last_taken: usize,
    quiet: u32,
    /// Stalled at the bound at the last tick.
    full: bool,
}

impl Watch {
    /// A watch whose first tick comes one tick after `now`.
    fn new(now: Instant, taken: usize) -> Watch {
        Watch {
            on: true,
            last_tick: now,
            last_taken: taken,
            quiet: 0,
            full: false,
        }
    }
}

/// The main thread's state.
pub(crate) struct MainLoop {
    shared: Arc<Shared>,
    /// Where pokes (byte 0) and signals (their number) arrive.
    wake_rx: UnixStream,
    /// The number of the last signal received.
    last_signal: u8,
    signals: usize,
    watch: Watch,
}

impl MainLoop {
    /// Takes the read side of the wake socket. Holds SIGTERM and SIGINT on the calling thread,
    /// and so on every thread started from it, until their actions are installed (see
    /// [`Signals`]).
    pub(crate) fn new(wake_rx: UnixStream, shared: Arc<Shared>) -> MainLoop {
        // Plans the first wake-up before a worker accepts, so accepting needs no poke.
        let _ = shared.poller.expired(Instant::now(), &shared.config);
        mask_stop_signals(libc::SIG_BLOCK);
        MainLoop {
            shared,
            wake_rx,
            last_signal: 0,
            signals: 0,
            // On from the start (see `serve`).
            watch: Watch::new(Instant::now(), 0),
        }
    }

    /// Serves until a signal ends the process.
    pub(crate) fn run(&mut self) -> io::Result<()> {
        // If no worker has found a moment to install the signals' actions by then, this thread
        // does, one tick in.
        let mut install_at = Some(Instant::now() + TICK);
        loop {
            let now = Instant::now();
            if install_at.is_some_and(|t| now >= t) {
                install_at = None;
                self.shared.signals.let_through();
            }
            let next_deadline = self.expire(now);
            let saturated = self.check_workers(now);
            let paused_until = self.shared.listener.resume(now, &self.shared.poller);

            let poller_fd = if saturated {
                self.shared.poller.fd()
            } else {
                -1 // poll ignores negative descriptors
            };
            let mut fds = [pollfd(self.wake_rx.as_raw_fd()), pollfd(poller_fd)];
            let tick = self.watch.on.then(|| self.watch.last_tick + TICK);
            let wake_at = [next_deadline, paused_until, tick, install_at]
                .into_iter()
                .flatten()
                .min();
            let timeout = wake_at.map_or(-1, |t| {
                let ms = t.saturating_duration_since(now).as_micros().div_ceil(1000);
                ms.min(i32::MAX as u128) as i32
            });
            // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd structs.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if fds[0].revents != 0 {
                self.on_wake();
            }
            if fds[1].revents != 0 {
                self.take_ready();
            }
        }
    }

    /// Closes or answers the parked connections past their deadline; the next deadline.
    fn expire(&mut self, now: Instant) -> Option<Instant> {
        let s = &self.shared;
        let (expired, next) = s.poller.expired(now, &s.config);
        for mut conn in expired {
            if conn.closing.is_none() && conn.head_started.is_some() {
                let timed_out = Reject {
                    status: 408,
                    message: "request head timed out",
                };
                reject_and_close(&mut conn, &timed_out);
                s.park(conn); // lingers
            } else {
                s.poller.close(conn); // idle past the idle timeout, or done lingering
            }
        }
        next
    }

    /// Once a tick while watching: starts a worker if none is waiting. True if stalled at the
    /// bound (then this thread watches the poller).
    fn check_workers(&mut self, now: Instant) -> bool {
        let s = &self.shared;
        let w = &mut self.watch;
        if !w.on {
            if !s.poked() {
                return false;
            }
            *w = Watch::new(now, s.poller.taken());
        }
        if now < w.last_tick + TICK {
            return w.full;
        }
        w.last_tick = now;
        let taken = s.poller.taken();
        let progressed = taken != w.last_taken;
        w.last_taken = taken;
        w.full = false;
        if s.poller.waiting() > 0 {
            w.quiet += 1;
            if w.quiet >= QUIET_TICKS {
                s.clear_poke();
                // A worker that found the flag still set did not poke: look once more.
                if s.poller.waiting() == 0 {
                    s.poke_main();
                } else {
                    w.on = false;
                }
            }
            return false;
        }
        w.quiet = 0;
        if s.workers.at_max() {
            w.full = !progressed;
        } else {
            s.start_worker();
        }
        w.full
    }

    /// Every worker is busy: accepts, takes the ready connections, sends control calls to the
    /// control thread, and leaves everything else, unread, for the first worker to come free.
    fn take_ready(&mut self) {
        let s = &self.shared;
        let (ready, accept) = s.poller.take_ready();
        if accept {
            let _ = s.listener.accept_all(&s.poller, &s.config); // this loop replans anyway
        }
        for mut conn in ready {
            if conn.closing.is_some() {
                match discard_available(&mut conn) {
                    true => s.park(conn),
                    false => s.poller.close(conn),
                }
                continue;
            }
            match peek_call(&conn, s.config.max_header_bytes) {
                Peek::Closed => s.poller.close(conn),
                Peek::Control => {
                    // Read for real now; the head is complete, so this parses.
                    if !read_available(&mut conn, s.config.max_header_bytes) {
                        s.poller.close(conn);
                        continue;
                    }
                    conn.head_started.get_or_insert_with(Instant::now);
                    match parse_head(&conn.buf, s.config.max_header_bytes) {
                        Ok(Some(head)) => s.submit_control(Job::Request(conn, head)),
                        _ => s.poller.defer(conn, &s.config),
                    }
                }
                Peek::Other => s.poller.defer(conn, &s.config),
            }
        }
    }

    /// Reads the wake socket: pokes only wake this loop; a signal starts the drain.
    fn on_wake(&mut self) {
        let mut buf = [0u8; 256];
        let mut signals = 0;
        while let Ok(n @ 1..) = (&self.wake_rx).read(&mut buf) {
            for &b in buf[..n].iter().filter(|&&b| b != 0) {
                signals += 1;
                self.last_signal = b;
            }
        }
        if signals > 0 {
            self.on_signals(signals);
        }
    }

    /// SIGTERM or SIGINT: the first drains, a second exits at once.
    #[cold]
    #[inline(never)]
    fn on_signals(&mut self, signals: usize) {
        self.signals += signals;
        if self.signals > 1 {
            // A second signal: stop now.
            let code = 128 + i32::from(self.last_signal);
            log::warn!("second signal: exiting at once");
            let _ = io::stdout().flush();
            std::process::exit(code);
        }
        log::info!("signal received: draining");
        self.shared.listener.close(&self.shared.poller);
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.submit_control(Job::Shutdown);
    }
}

/// What a ready connection's pending input is, seen without consuming it.
enum Peek {
    /// The client closed (or the socket failed) with no request pending.
    Closed,
    /// A complete /pre-stop or /pre-freeze head.
    Control,
    /// An invocation, a partial or bad head: a worker's job.
    Other,
}

/// Looks at what `conn` has buffered plus what waits in its socket, without reading it.
fn peek_call(conn: &Conn, max_head: usize) -> Peek {
    let mut bytes = conn.buf.clone();
    let old = bytes.len();
    bytes.resize(max_head + 1, 0);
    let room = bytes.len().saturating_sub(old);
    // SAFETY: receives at most `room` bytes into the tail of `bytes`.
    let n = unsafe {
        libc::recv(
            conn.stream.as_raw_fd(),
            bytes[old..].as_mut_ptr().cast(),
            room,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n == 0 || (n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock) {
        return Peek::Closed;
    }
    bytes.truncate(old + n.max(0) as usize);
    match parse_head(&bytes, max_head) {
        Ok(Some(h)) => match Call::of_request(&h.headers, &h.path) {
            Call::PreStop | Call::PreFreeze => Peek::Control,
            _ => Peek::Other,
        },
        _ => Peek::Other,
    }
}

/// SIGTERM and SIGINT, which the main loop turns into a drain. Their actions are installed once,
/// by the first tinyfc thread with nothing to do (a worker about to wait, or the main loop one tick
/// in): registering them is work, and code, that the platform's first calls right after listening
/// need not wait for. Until then every tinyfc thread holds them, so one that comes early waits
/// and is not lost (two of a kind that come while held count as one, as the kernel keeps one
/// pending); each thread lets them through once they are installed. (A thread the function
/// started before `run` does not hold them: one delivered there first takes its default action,
/// as it would before `run`.)
pub(crate) struct Signals {
    /// The wake socket's write side, where each action writes its signal's number.
    tx: RawFd,
    /// Set by the thread that installs the actions (once).
    claimed: AtomicBool,
    /// Set once they are installed.
    installed: AtomicBool,
}

impl Signals {
    /// Signals not yet installed, whose actions will write to `tx` (open for the life of the
    /// process: `Shared` owns it).
    pub(crate) fn new(tx: RawFd) -> Signals {
        Signals {
            tx,
            claimed: AtomicBool::new(false),
            installed: AtomicBool::new(false),
        }
    }

    /// True once the actions are installed.
    pub(crate) fn installed(&self) -> bool {
        self.installed.load(Ordering::SeqCst)
    }

    /// Installs the actions if no thread has yet, then lets the signals through on this thread.
    /// Each action writes its signal's number to the wake socket: the main loop learns which
    /// signal came (for the exit code of a second one) without a second registration.
    pub(crate) fn let_through(&self) {
        if !self.claimed.swap(true, Ordering::SeqCst) {
            let tx = self.tx;
            for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
                let action = move || {
                    let byte = sig as u8;
                    // SAFETY: send(2) is async-signal-safe; a full socket already means "wake up".
                    unsafe { libc::send(tx, (&byte as *const u8).cast(), 1, libc::MSG_DONTWAIT) };
                };
                // SAFETY: the action only calls send(2), which is async-signal-safe; `tx` stays
                // open for the life of the process (`Shared` owns it).
                if let Err(e) = unsafe { signal_hook::low_level::register(sig, action) } {
                    log::error!("cannot handle signal {sig}: {e}"); // it keeps its default action
                }
            }
            self.installed.store(true, Ordering::SeqCst);
        }
        if self.installed() {
            mask_stop_signals(libc::SIG_UNBLOCK);
        }
    }
}

/// Blocks (`SIG_BLOCK`) or unblocks (`SIG_UNBLOCK`) SIGTERM and SIGINT on the calling thread.
fn mask_stop_signals(how: i32) {
    // SAFETY: an empty set, filled with two signals, passed by pointer to pthread_sigmask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

fn pollfd(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Lets the process hold as many connections as its hard descriptor limit allows.
pub(crate) fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
