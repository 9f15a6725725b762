//! Start-up ([`serve`]) and the main thread (`tinyfc-main`; the process's first thread becomes
//! the first worker): turns signals into a drain with a deadline, expires parked connections
//! (head and idle timeouts, lingering rejects), starts a worker when none is left waiting (see
//! `Watch`), and, while every worker is busy at the bound, takes ready connections (and accepts
//! new ones) itself so /pre-stop and /pre-freeze still reach the control thread. It never serves a request: what is not a
//! control call it defers, unread, to the next free worker.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
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
use crate::pool::Look;
use crate::protocol::Call;
use crate::server::Shared;
use crate::service::Service;
use crate::signals::{self, Signals};

/// How long past the drain limit a signal's drain (its wait for in-flight calls, then pre-stop)
/// may run before the process exits anyway.
const EXIT_MARGIN: Duration = Duration::from_secs(1);

/// How [`serve_on`] runs.
pub(crate) enum Mode {
    /// The function's process: prints the listening line, turns SIGTERM/SIGINT into a drain, and
    /// the calling thread becomes the first worker (it never returns).
    Process,
    /// Inside a test process (`tinyfc::testing`): every server thread is a new one, no signal
    /// action is installed (the test runner's SIGINT stays the runner's), nothing is printed;
    /// returns once serving.
    Background,
}

/// Binds, prints `tinyfc listening on 0.0.0.0:<port>`, and serves until a signal ends the process.
/// `service` answers invocations on the workers, `hooks` the control calls and the drain.
pub(crate) fn serve(
    config: Config,
    service: Arc<dyn Service>,
    hooks: Arc<dyn Hooks>,
) -> io::Result<()> {
    // A SocketAddr, not ("0.0.0.0", port): the string form links std's host lookup and musl's DNS
    // resolver into every function (26 KB of code it never runs).
    let socket = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], config.port)))?;
    crate::budget::return_large_blocks(); // the process's allocator: ours to set
    serve_on(socket, config, service, hooks, Mode::Process).map(drop)
}

/// Serves on `socket`, bound already, as `mode` says. Returns the shared state (Background: once
/// serving; Process: never, unless start-up fails).
pub(crate) fn serve_on(
    socket: TcpListener,
    mut config: Config,
    service: Arc<dyn Service>,
    hooks: Arc<dyn Hooks>,
    mode: Mode,
) -> io::Result<Arc<Shared>> {
    config.max_connections = crate::listener::fit_descriptor_limit(config.max_connections);
    let (wake_rx, waker) = socket_pair()?;
    let waker = Arc::new(waker);
    let signals = match mode {
        Mode::Process => Signals::new(waker.clone()),
        Mode::Background => Signals::never(),
    };
    let shared = Arc::new(Shared::new(config, service, hooks, waker)?);
    if let Mode::Background = mode {
        shared.listener.open(socket, &shared.poller)?;
        let s = shared.clone();
        // MainLoop::new holds SIGTERM and SIGINT on its thread: a new one, not the test's.
        thread::Builder::new()
            .name("tinyfc-main".into())
            .spawn(move || {
                let mut main = MainLoop::new(wake_rx, signals, s.clone());
                s.start_worker();
                if let Err(e) = main.run() {
                    log::error!("main loop failed: {e}");
                }
            })?;
        return Ok(shared);
    }
    let mut main = MainLoop::new(wake_rx, signals, shared.clone());
    let port = socket.local_addr()?.port();
    shared.listener.open(socket, &shared.poller)?;
    crate::logging::listening_line(port);
    // This thread, already running and warm, becomes the first worker and serves the platform's
    // first calls; the main loop moves to a new thread, whose start-up (tens of microseconds)
    // then overlaps those calls instead of delaying them. Counted before that thread starts, or
    // the main loop may start a worker over the bound (TINYFC_WORKERS=1 ran two).
    shared.workers.adopt();
    thread::Builder::new()
        .name("tinyfc-main".into())
        .spawn(move || {
            if let Err(e) = main.run() {
                log::error!("main loop failed: {e}");
                std::process::exit(1);
            }
        })?;
    shared.worker(false);
    Ok(shared)
}

/// In Background mode: stops accepting (the port is free again), keeps no connection alive, and
/// ends the server's threads: the main loop at its wake-up, the workers one after another (each
/// wakes the next), the control thread once its queue is empty.
pub(crate) fn stop_background(shared: &Shared) {
    shared.stopping.store(true, Ordering::SeqCst);
    shared.listener.close(&shared.poller);
    shared.closed.store(true, Ordering::SeqCst);
    shared.poke_main(); // or it sees `closed` at its next tick, if it is watching
    shared.poller.wake_one();
    shared.control.close();
}

/// A connected pair of Unix sockets, both non-blocking (std opens them close-on-exec).
fn socket_pair() -> io::Result<(UnixStream, UnixStream)> {
    let (a, b) = UnixStream::pair()?;
    a.set_nonblocking(true)?;
    b.set_nonblocking(true)?;
    Ok((a, b))
}

/// How often the main thread looks at the workers while it watches them.
const TICK: Duration = Duration::from_millis(1);
/// How long a tick grows to while every worker computes (see `Watch`).
const MAX_TICK: Duration = Duration::from_millis(16);
/// Ticks in a row with a worker waiting before the main thread stops watching.
const QUIET_TICKS: u32 = 10;

/// The worker-scaling policy. A worker about to run a call while no other worker waits pokes the
/// main thread, which then looks once a tick: a tick with no worker waiting starts one more (up to
/// the bound), so N calls that block get N threads within N ticks, while a fast handler's workers
/// keep coming back to wait. Past one worker per CPU, only if a worker is blocked in a call
/// (asleep in /proc at two looks, on I/O, a timer, a lock): more threads help workers that wait
/// on something else, never ones that run or wait for a CPU. At the bound, a tick in which no
/// worker took a connection makes the main thread take ready connections itself (control calls
/// must get through). Ten ticks in a row with a worker waiting end the watch. It starts out on,
/// so the platform's first calls wake no other thread. While every worker computes (one per CPU,
/// none asleep in a call) the tick doubles, up to 16 ms: each look reads the busy workers'
/// /proc stat and takes a CPU from one of them (1 ms ticks cost hello 7% of its throughput on
/// one CPU). A worker seen asleep in a call brings it back to 1 ms, so a blocked one is
/// confirmed a tick later.
struct Watch {
    on: bool,
    last_tick: Instant,
    /// The time from one tick to the next: `TICK`, or up to `MAX_TICK` while workers compute.
    tick: Duration,
    /// `Poller::taken` at the last tick.
    last_taken: usize,
    /// The process's CPU time at the last tick (None if it could not be read).
    last_cpu: Option<Duration>,
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
            tick: TICK,
            last_taken: taken,
            last_cpu: crate::sys::process_cpu_time(),
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
    /// SIGTERM and SIGINT, whose actions `run` installs on this loop's thread.
    actions: Signals,
    signals: usize,
    watch: Watch,
    /// Once a signal started the drain: when the process exits even if it has not ended.
    exit_at: Option<Instant>,
    /// The CPUs the process may use (affinity and cgroup quota), read when first needed.
    cpus: Option<usize>,
}

impl MainLoop {
    /// Takes the read side of the wake socket and the signals whose actions [`MainLoop::run`]
    /// installs. Holds SIGTERM and SIGINT on the calling thread, and so on every thread started
    /// from it, until then (see [`Signals`]).
    pub(crate) fn new(wake_rx: UnixStream, actions: Signals, shared: Arc<Shared>) -> MainLoop {
        // Plans the first wake-up before a worker accepts, so accepting needs no poke.
        let _ = shared.poller.expired(Instant::now(), &shared.config);
        signals::hold();
        MainLoop {
            shared,
            wake_rx,
            actions,
            signals: 0,
            // On from the start (see `serve`).
            watch: Watch::new(Instant::now(), 0),
            exit_at: None,
            cpus: None,
        }
    }

    /// Serves until a signal ends the process.
    pub(crate) fn run(&mut self) -> io::Result<()> {
        // On its own thread: the first calls, on the first thread, do not wait for it.
        self.actions.install();
        loop {
            if self.shared.closed.load(Ordering::SeqCst) {
                return Ok(()); // a test server was dropped
            }
            let now = Instant::now();
            if self.exit_at.is_some_and(|t| now >= t) {
                self.exit_late();
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
            let tick = self
                .watch
                .on
                .then(|| self.watch.last_tick + self.watch.tick);
            let wake_at = [next_deadline, paused_until, tick, self.exit_at]
                .into_iter()
                .flatten()
                .min();
            let timeout = wake_at.map(|t| t.saturating_duration_since(now));
            match crate::sys::poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
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
        if now < w.last_tick + w.tick {
            return w.full;
        }
        let since = now - w.last_tick;
        let late = since > 3 * w.tick;
        w.last_tick = now;
        let cpu = crate::sys::process_cpu_time();
        // The workers had the CPU for at least half of the time since the last tick (unknown:
        // taken as yes). Under a CPU quota a worker can be throttled for a whole tick while this
        // thread is not.
        let ran = match (cpu, w.last_cpu) {
            (Some(cpu), Some(last)) => (cpu.saturating_sub(last)) * 2 >= since,
            _ => true,
        };
        w.last_cpu = cpu;
        let taken = s.poller.taken();
        let progressed = taken != w.last_taken;
        w.last_taken = taken;
        w.full = false;
        let waiting = s.poller.waiting();
        if waiting > 0 && s.poller.none_on_set() {
            // Idle workers, but none on the set: the busy ones come back to it while their calls
            // progress; a tick without progress hands it to a parked one.
            w.tick = TICK;
            w.quiet = 0;
            if !progressed {
                s.poller.promote();
            }
            return false;
        }
        if waiting > 0 {
            w.tick = TICK;
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
        // Past 1 worker per CPU, grow only while a worker is blocked in a call (a tick that came
        // late, after the process was throttled or starved, says nothing).
        let count = s.workers.count();
        let cpus = *self.cpus.get_or_insert_with(crate::pool::usable_cpus);
        let look = if count >= cpus {
            s.workers.look()
        } else {
            Look::Running
        };
        let cpu_bound = count >= cpus && (late || look != Look::Blocked);
        w.tick = match look {
            Look::Running if cpu_bound => (w.tick * 2).min(MAX_TICK),
            _ => TICK,
        };
        if s.workers.at_max() || cpu_bound {
            // Stalled: no connection taken over a tick. Not if the workers could run but had the
            // CPU for less than half of it: throttled by a CPU quota (this thread may still run
            // then), not stalled. Taking their connections meanwhile, to look for control calls,
            // cost them a tenth of their throughput.
            w.full = !progressed && (ran || !s.workers.any_runnable());
        } else {
            s.start_worker();
        }
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
                None => peek_call(&conn, &s.config),
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
            signals += buf[..n].iter().filter(|&&b| b != 0).count();
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
            let code = 128 + self.actions.last();
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
    /// A complete /pre-stop, /pre-freeze or health-path head.
    Control(ControlCall),
    /// An invocation, a partial or bad head: a worker's job.
    Other,
}

/// Bytes a first look at a connection sees (buffered and peeked): FC's control calls fit; a longer
/// head gets a second look up to the head limit. One look up to the limit took a fresh 32 KiB
/// buffer each time: page faults, then an `munmap` that interrupts the other CPUs.
const FIRST_PEEK: usize = 4096;

/// Looks at what `conn` has buffered plus what waits in its socket, without reading it.
fn peek_call(conn: &Conn, c: &Config) -> Peek {
    let full = c.max_header_bytes + 1;
    peek_within(conn, c, FIRST_PEEK.min(full))
        .or_else(|| peek_within(conn, c, full))
        .unwrap_or(Peek::Other)
}

/// [`peek_call`] over at most `limit` bytes (or what is buffered, if more): None if the head may
/// go on past them.
fn peek_within(conn: &Conn, c: &Config, limit: usize) -> Option<Peek> {
    let mut bytes = conn.buf.clone();
    let old = bytes.len();
    bytes.resize(limit.max(old), 0);
    // Non-blocking: an empty socket is WouldBlock, the end of input Ok(0).
    let n = match conn.stream.peek(&mut bytes[old..]) {
        // The end of input with requests still buffered (behind a control call) is a worker's.
        Ok(0) if old == 0 => return Some(Peek::Closed),
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
        Err(_) => return Some(Peek::Closed),
    };
    bytes.truncate(old + n);
    match parse_head(&bytes, c.max_header_bytes) {
        Ok(Some(h)) => Some(
            match ControlCall::of(Call::of_request(&h.headers, &h.path), &h, c) {
                Some(call) => Peek::Control(call),
                None => Peek::Other,
            },
        ),
        Ok(None) if bytes.len() >= limit => None,
        _ => Some(Peek::Other),
    }
}

fn pollfd(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}
