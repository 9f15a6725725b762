//! Start-up ([`serve`]) and the main thread (`tinyfc-main`; the process's first thread becomes
//! the first worker): turns signals into a drain with a deadline, expires parked connections
//! (head and idle timeouts, lingering rejects), starts a worker when none is left waiting, and,
//! while every worker is busy, takes ready connections (and accepts new ones) itself so /pre-stop
//! and /pre-freeze still reach the control thread. It never serves a request: what is not a
//! control call it defers, unread, to the next free worker.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::answer::reject_and_close;
use crate::config::Config;
use crate::conn::{read_available, Conn};
use crate::control::{ControlCall, Hooks};
use crate::head::{parse_head, Reject};
use crate::poller::Parked;
use crate::protocol::Call;
use crate::server::{Service, Shared};
use crate::signals::{mask_stop_signals, Signals};

/// How long past the drain limit a signal's drain (its wait for in-flight calls, then pre-stop)
/// may run before the process exits anyway.
const EXIT_MARGIN: Duration = Duration::from_secs(1);

/// Binds, prints `tinyfc listening on 0.0.0.0:<port>`, and serves until a signal ends the process.
/// `service` answers invocations on the workers, `hooks` the control calls and the drain.
pub(crate) fn serve(
    mut config: Config,
    service: Arc<dyn Service>,
    hooks: Arc<dyn Hooks>,
) -> io::Result<()> {
    config.max_connections = crate::listener::fit_descriptor_limit(config.max_connections);
    let (wake_rx, waker) = socket_pair()?;
    let signals = Signals::new(waker.as_raw_fd());
    let shared = Arc::new(Shared::new(config, service, hooks, waker, signals)?);
    let mut main = MainLoop::new(wake_rx, shared.clone());
    // A SocketAddr, not ("0.0.0.0", port): the string form links std's host lookup and musl's DNS
    // resolver into every function (26 KB of code it never runs).
    let socket = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], shared.config.port)))?;
    let port = socket.local_addr()?.port();
    shared.listener.open(socket, &shared.poller)?;
    crate::logging::listening_line(port);
    // This thread, already running and warm, becomes the first worker and serves the platform's
    // first calls; the main loop moves to a new thread, whose start-up (tens of microseconds)
    // then overlaps those calls instead of delaying them.
    thread::Builder::new()
        .name("tinyfc-main".into())
        .spawn(move || {
            if let Err(e) = main.run() {
                log::error!("main loop failed: {e}");
                std::process::exit(1);
            }
        })?;
    shared.workers.adopt();
    shared.worker(false);
    Ok(())
}

/// A connected pair of Unix sockets, both non-blocking and close-on-exec from the start.
fn socket_pair() -> io::Result<(UnixStream, UnixStream)> {
    let mut fds = [0; 2];
    let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: fills `fds` with two new descriptors, owned by the streams from here on.
    unsafe {
        if libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr()) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((
            UnixStream::from_raw_fd(fds[0]),
            UnixStream::from_raw_fd(fds[1]),
        ))
    }
}

/// How often the main thread looks at the workers while it watches them.
const TICK: Duration = Duration::from_millis(1);
/// Ticks in a row with a worker waiting before the main thread stops watching.
const QUIET_TICKS: u32 = 10;
/// Ticks in a row with every worker busy (but progressing) before another worker starts, while
/// there are fewer workers than cores.
const BUSY_TICKS: u32 = 2;
/// Every worker busy while the process used less than 1/4 of their share of the CPU over a tick:
/// they are blocked, not computing.
const BLOCKED_SHARE: u32 = 4;
/// The main thread waited for a CPU more than 1/20 of a tick: the CPU is contended, and workers
/// that make no progress are kept off it, not blocked.
const CONTENDED_SHARE: u32 = 20;
/// Stalled ticks in a row after which a worker starts even while the CPU is contended.
const LONG_STALL_TICKS: u32 = 10;

/// What the main thread knows of the workers between ticks. A worker pokes it when a call is about
/// to run and no other worker is waiting (and it starts out watching, for the platform's first
/// calls); from then on it looks every tick. Every worker busy and none taking a new connection for
/// a whole tick is a stall, and every worker busy while the process hardly used the CPU means they
/// are blocked: either starts a worker, unless the CPU was contended over the tick (then the
/// workers were kept off it, not stuck) and the stall is younger than 10 ticks; a stall at the
/// bound makes the main thread watch the poller itself. Busy, progressing and on the CPU, workers
/// grow only to the number of cores. So a fast handler runs on as many threads as there are
/// cores, and a blocking one gets the threads it needs, up to the bound.
struct Watch {
    on: bool,
    last_tick: Instant,
    last_taken: usize,
    /// The CPU use at the last tick; None until the first tick of the watch that starts with the
    /// process (the first calls then run beside no system calls of this thread).
    last_usage: Option<Usage>,
    busy: u32,
    quiet: u32,
    /// Stalled ticks in a row.
    stalls: u32,
    /// Learned on first need: asking std reads cgroup files, a dozen system calls that the
    /// start-up path should not pay.
    cores: Option<usize>,
    /// Stalled at the bound at the last tick.
    full: bool,
}

impl Watch {
    /// A watch (on or off) whose first tick counts from `now`.
    fn new(
        on: bool,
        now: Instant,
        taken: usize,
        usage: Option<Usage>,
        cores: Option<usize>,
    ) -> Watch {
        Watch {
            on,
            last_tick: now,
            last_taken: taken,
            last_usage: usage,
            busy: 0,
            quiet: 0,
            stalls: 0,
            cores,
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
    /// Where this thread's wait for a CPU is read, for [`Usage`].
    schedstat: Schedstat,
    /// Once a signal started the drain: when the process exits even if it has not ended.
    exit_at: Option<Instant>,
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
            // On from the start (see `serve`), with its baseline taken at the first tick.
            watch: Watch::new(true, Instant::now(), 0, None, None),
            schedstat: Schedstat(None),
            exit_at: None,
        }
    }

    /// Serves until a signal ends the process.
    pub(crate) fn run(&mut self) -> io::Result<()> {
        // If no worker has found a moment to install the signals' actions by then, this thread
        // does, one tick in.
        let mut install_at = Some(Instant::now() + TICK);
        loop {
            let now = Instant::now();
            if self.exit_at.is_some_and(|t| now >= t) {
                self.exit_late();
            }
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
            let wake_at = [next_deadline, paused_until, tick, install_at, self.exit_at]
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
                // It lingers; input that came meanwhile is a worker's to read and drop.
                if !conn.caught_up {
                    s.poller.defer(conn, &s.config);
                } else {
                    match s.poller.park(conn, &s.config) {
                        Parked::Done { poke: true } => s.poke_main(),
                        Parked::Done { poke: false } => {}
                        Parked::Ready(c) => s.poller.defer(c, &s.config),
                    }
                }
            } else {
                s.poller.close(conn); // idle past the idle timeout, or done lingering
            }
        }
        next
    }

    /// Once a tick while watching: starts a worker on a stall, or while busy with fewer workers
    /// than cores. True if stalled at the bound (then this thread watches the poller).
    fn check_workers(&mut self, now: Instant) -> bool {
        let s = &self.shared;
        let w = &mut self.watch;
        if !w.on {
            if !s.poked() {
                return false;
            }
            let usage = Usage::now(&mut self.schedstat);
            *w = Watch::new(true, now, s.poller.taken(), Some(usage), w.cores);
        }
        if now < w.last_tick + TICK {
            return w.full;
        }
        let elapsed = now - w.last_tick;
        w.last_tick = now;
        let usage = Usage::now(&mut self.schedstat);
        let taken = s.poller.taken();
        let Some(last) = w.last_usage.replace(usage) else {
            w.last_taken = taken; // the first tick since start-up: a baseline only
            return w.full;
        };
        let used = usage.cpu.saturating_sub(last.cpu);
        // Others keep the CPU busy (a load generator beside us, say): a thread preempted, or this
        // one slow to get a CPU. Workers kept waiting for it would look stalled or blocked.
        let contended = usage.preempted != last.preempted
            || usage.waited.saturating_sub(last.waited) > elapsed / CONTENDED_SHARE;
        let progressed = taken != w.last_taken;
        w.last_taken = taken;
        if s.poller.waiting() > 0 {
            w.busy = 0;
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
            w.full = false;
            return false;
        }
        w.quiet = 0;
        w.busy += 1;
        let stalled = !progressed;
        w.stalls = if stalled { w.stalls + 1 } else { 0 };
        let started = s.workers.started();
        // Asked only once busy for a while: the first calls' ticks need no cgroup files.
        let mut cores = || *w.cores.get_or_insert_with(count_cores);
        let wants_core = w.busy >= BUSY_TICKS && started < cores();
        // Busy but hardly on the CPU: the handlers wait (on I/O, a lock, a sleep), so another
        // worker would get work done instead of queueing behind them. With one worker the bound
        // on cores does not matter.
        let on_cpu = if started > 1 {
            started.min(cores())
        } else {
            started
        };
        let blocked = used < elapsed * on_cpu as u32 / BLOCKED_SHARE;
        // Stalled or blocked while the CPU is contended: the workers are kept off it rather than
        // stuck, and one more would only queue with them, unless the stall goes on (handlers that
        // spin would hold up everything else).
        let stuck = (stalled || blocked) && (!contended || w.stalls >= LONG_STALL_TICKS);
        let at_max = s.workers.at_max();
        if !at_max && (stuck || wants_core) {
            w.busy = 0;
            w.stalls = 0;
            s.start_worker();
        }
        w.full = at_max && stalled;
        w.full
    }

    /// Every worker is busy: accepts, takes the ready connections, sends control calls to the
    /// control thread, and defers everything else, unread, to the first worker to come free.
    fn take_ready(&mut self) {
        let s = &self.shared;
        let (ready, accept) = s.poller.take_ready();
        if accept {
            let _ = s.listener.accept_all(&s.poller, &s.config); // this loop replans anyway
        }
        for mut conn in ready {
            let control = match conn.closing {
                Some(_) => Peek::Other,
                None => peek_call(&conn, s.config.max_header_bytes),
            };
            match control {
                Peek::Closed => s.poller.close(conn),
                Peek::Control(call) => {
                    // Read for real now; the head is complete, so this parses.
                    if !read_available(&mut conn, s.config.max_header_bytes) {
                        s.poller.close(conn);
                        continue;
                    }
                    conn.head_started.get_or_insert_with(Instant::now);
                    match parse_head(&conn.buf, s.config.max_header_bytes) {
                        Ok(Some(head)) => s.control.submit(conn, head, call),
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
        // Its own thread, not the control thread's queue, where it could wait behind a hook.
        self.shared.control.start_drain();
        self.exit_at = Some(Instant::now() + self.shared.config.drain + EXIT_MARGIN);
    }

    /// The drain outlived its limit (a pre-stop hook that does not return): exits anyway.
    #[cold]
    fn exit_late(&self) -> ! {
        log::warn!("drain still running past its limit: exiting");
        let _ = io::stdout().flush();
        std::process::exit(0);
    }
}

/// What a ready connection's pending input is, seen without consuming it.
enum Peek {
    /// The client closed with nothing buffered, or the socket failed.
    Closed,
    /// A complete /pre-stop or /pre-freeze head.
    Control(ControlCall),
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
    let failed = n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock;
    // The end of input with requests still buffered (behind a control call) is a worker's.
    if failed || (n == 0 && old == 0) {
        return Peek::Closed;
    }
    bytes.truncate(old + n.max(0) as usize);
    match parse_head(&bytes, max_head) {
        Ok(Some(h)) => match ControlCall::of(Call::of_request(&h.headers, &h.path)) {
            Some(call) => Peek::Control(call),
            None => Peek::Other,
        },
        _ => Peek::Other,
    }
}

/// The calling thread's `/proc/thread-self/schedstat`, opened on first use and kept.
struct Schedstat(Option<std::fs::File>);

impl Schedstat {
    /// The thread's time waiting for a CPU so far (zero where the kernel does not keep it).
    fn waited(&mut self) -> Duration {
        use std::os::unix::fs::FileExt;
        let file = match &self.0 {
            Some(f) => f,
            None => {
                // libc, not std::fs: std's path handling is code the first calls would otherwise
                // fault in for this one file (a 64 KB window of RSS).
                let path = c"/proc/thread-self/schedstat";
                // SAFETY: a NUL-terminated path; a new descriptor is owned by the File.
                match unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) } {
                    fd if fd >= 0 => self.0.insert(unsafe { std::fs::File::from_raw_fd(fd) }),
                    _ => return Duration::ZERO,
                }
            }
        };
        // "<on-cpu ns> <waiting ns> <slices>"
        let mut buf = [0u8; 64];
        let n = file.read_at(&mut buf, 0).unwrap_or(0);
        let waited = std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse().ok());
        Duration::from_nanos(waited.unwrap_or(0))
    }
}

/// The process's use of the CPU so far.
#[derive(Clone, Copy)]
struct Usage {
    /// CPU time, user and system, of every thread.
    cpu: Duration,
    /// Times a thread was switched out while it could still run.
    preempted: i64,
    /// The main thread's time waiting for a CPU.
    waited: Duration,
}

impl Usage {
    fn now(schedstat: &mut Schedstat) -> Usage {
        // SAFETY: getrusage only fills the struct we pass.
        let mut r: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
        let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        Usage {
            cpu: time(r.ru_utime) + time(r.ru_stime),
            preempted: r.ru_nivcsw,
            waited: schedstat.waited(),
        }
    }
}

fn pollfd(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// The cores this process may use (std reads the cgroup's CPU quota: a dozen system calls). Asked
/// once, and only once the workers have been busy for a while; kept out of line with the rare code.
#[cold]
#[inline(never)]
fn count_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
