//! `cargo tinyfc local`: a local Function Compute platform that starts a function instance and
//! drives it as FC does (initializer with retries and restarts, invocations, pre-stop, SIGTERM),
//! with a front door for callers. See `cargo tinyfc local --help` and docs/local.md.

mod activity;
mod args;
mod async_queue;
mod calls;
mod deploy_rules;
mod env_file;
mod front;
mod gate;
mod health;
mod hooks;
mod instance;
mod logs;
mod options;
mod platform;
mod relay;
mod report;
mod tunnel;
mod watch;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use options::Options;
use platform::{Kind, Platform};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

pub use args::LocalArgs;

/// When the platform started; `say!` lines carry the time since.
pub fn epoch() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Prints one line of the platform's view: `[tinyfc local +1.234s] ...`.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let line = format!($($arg)*);
        // The instance's output so far first: the platform's line follows what led to it.
        $crate::local::logs::catch_up();
        let t = $crate::local::epoch().elapsed().as_secs_f64();
        let _ = writeln!(std::io::stdout().lock(), "[tinyfc local +{t:.3}s] {line}");
    }};
}

/// A duration in milliseconds with two decimals, for the platform's view.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// `n` random hex digits (ids, not secrets).
pub fn random_hex(n: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::new();
    while out.len() < n {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(epoch().elapsed().as_nanos());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(n);
    out
}

/// Signals (SIGINT, SIGTERM) received so far.
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

/// `cargo tinyfc local ARGS`: the exit code, or a usage error.
pub fn main(args: LocalArgs) -> crate::cli::Exit {
    epoch();
    let mut opts = Options::from_args(args).map_err(crate::cli::UsageError)?;
    if let Some(source) = &opts.source {
        say!("configuration: {source}");
    }
    for warning in &opts.warnings {
        say!("{warning}");
    }
    if let Some(build) = &opts.build {
        match watch::build(&build.target) {
            // The arguments after `--` go to the built executable.
            Ok(exe) => opts.command.insert(0, exe),
            Err(e) => {
                eprintln!("cargo tinyfc local: {e}");
                return Ok(1);
            }
        }
    }
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cargo tinyfc local: cannot handle signals: {e}");
            return Ok(1);
        }
    };
    let platform = Arc::new(Platform::new(opts));
    // The first signal starts the stop in FC's order (the loops below see it); a second one
    // kills the instance's whole group at once.
    let killer = platform.clone();
    std::thread::spawn(move || {
        for _ in signals.forever() {
            if SIGNALS.fetch_add(1, Ordering::SeqCst) >= 1 {
                say!("second signal: stopping at once");
                killer.kill_now();
                std::process::exit(130);
            }
        }
    });
    Ok(match platform.opts.invocations {
        Some(n) => one_shot(platform, n),
        None => serve(platform),
    })
}

/// True once a first signal arrived.
fn signalled() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

/// `--once` / `--invoke N`: boot, N invocations, stop. 0 only if every step succeeded; a
/// signal interrupts the steps (pre-stop and stop still happen) and the exit code is 1.
fn one_shot(platform: Arc<Platform>, n: u32) -> i32 {
    let event = match platform.opts.event_example {
        Some(sample) => Ok(sample.as_bytes().to_vec()),
        None => crate::cli::read_event(platform.opts.event.as_deref()),
    };
    let event = match event {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cargo tinyfc local: cannot read the event, {e}");
            return 2;
        }
    };
    health::start(platform.clone());
    let (done, steps) = std::sync::mpsc::channel();
    let worker = platform.clone();
    std::thread::spawn(move || {
        let _ = done.send(invocations(&worker, n, &event));
    });
    let ok = loop {
        match steps.recv_timeout(Duration::from_millis(20)) {
            Ok(ok) => break ok,
            Err(RecvTimeoutError::Disconnected) => break false,
            Err(RecvTimeoutError::Timeout) if signalled() => {
                say!("signal received: stopping");
                break false;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    };
    let (pre_stop_ok, exit_ok) = platform.stop();
    let all = ok && pre_stop_ok && exit_ok && platform.gave_up().is_none();
    say!(
        "{}",
        if all {
            "all steps succeeded"
        } else {
            "a step failed"
        }
    );
    if all {
        0
    } else {
        1
    }
}

/// Boots, then lives `--lives` lives: each sends `n` event invocations of `event` and ends with
/// a pre-stop (the last one's is the platform's stop); the next begins with /initialize on the
/// same instance, as FC thaws it. True if every step succeeded.
fn invocations(platform: &Arc<Platform>, n: u32, event: &[u8]) -> bool {
    let lives = platform.opts.lives;
    let mut ok = true;
    for life in 1..=lives {
        if lives > 1 {
            say!("life {life}: begins");
        }
        if life == 1 {
            if platform.boot().is_err() {
                return false;
            }
        } else if let Err(e) = platform.new_life() {
            say!("life {life}: initialization failed: {e}");
            return false;
        }
        ok &= invoke_n(platform, n, event);
        if platform.stopping() {
            return false;
        }
        if life < lives {
            let pre_stop = platform.end_life();
            say!(
                "life {life}: pre-stop {}",
                if pre_stop { "succeeded" } else { "failed" }
            );
            ok &= pre_stop;
        } else if lives > 1 {
            say!("life {life}: ends with the stop");
        }
    }
    ok
}

/// Sends `n` invocations: events of `event`, or with `--http METHOD PATH` HTTP invocations with
/// `event` as the body (under FC's base path with `--base-path`). True if all succeeded: an
/// event's answer 200 with `x-fc-status: 200`; an HTTP answer 2xx or 3xx without
/// `x-fc-status: 404`.
fn invoke_n(platform: &Arc<Platform>, n: u32, event: &[u8]) -> bool {
    let opts = &platform.opts;
    let (kind, method, path, mut headers) = match &opts.http {
        Some((method, path)) => {
            let (path, headers) = match &opts.base_path {
                Some(base) => (
                    format!("{base}{path}"),
                    vec![("x-fc-base-path".to_string(), format!("{base}/"))],
                ),
                None => (path.clone(), Vec::new()),
            };
            (Kind::Http, method.as_str(), path, headers)
        }
        None => (Kind::Event, "POST", "/invoke".to_string(), Vec::new()),
    };
    if kind == Kind::Event || !event.is_empty() {
        headers.push(("content-type".into(), "application/octet-stream".into()));
    }
    let mut ok = true;
    for _ in 0..n {
        // The HTTP trigger's `methods`: FC refuses another method before the function, as the
        // front door does.
        if let Some(msg) = front::refused_method(opts, method).filter(|_| kind == Kind::Http) {
            say!("invoke: {method} {path} -> 405: {msg}");
            ok = false;
            continue;
        }
        let started = Instant::now();
        let rid = platform::request_id();
        match platform.invoke(&rid, kind, method, &path, &headers, event) {
            Ok(r) => {
                let status = r.header("x-fc-status");
                let failed = match kind {
                    Kind::Event => r.status != 200 || status != Some("200"),
                    Kind::Http => !(200..400).contains(&r.status) || status == Some("404"),
                };
                let target = if kind == Kind::Http {
                    format!("{method} {path} -> ")
                } else {
                    String::new()
                };
                say!(
                    "invoke RequestId {rid}: {target}status {} (x-fc-status {}) in {} ms",
                    r.status,
                    status.unwrap_or("missing"),
                    ms(started.elapsed())
                );
                if kind == Kind::Http {
                    for (k, v) in r.headers.iter().filter(|(k, _)| !k.starts_with("x-fc-")) {
                        say!("response header: {k}: {v}");
                    }
                }
                say!("response body: {}", r.text());
                ok &= !failed;
            }
            Err(e) => {
                say!("invoke failed: {e}");
                ok = false;
            }
        }
        if platform.stopping() {
            return false;
        }
    }
    ok
}

/// Serving: the front door until Ctrl-C / SIGTERM or --idle-stop; then pre-stop and stop.
fn serve(platform: Arc<Platform>) -> i32 {
    let server = match tiny_http::Server::http(&platform.opts.listen) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!(
                "cargo tinyfc local: cannot listen on {}: {e}",
                platform.opts.listen
            );
            return 2;
        }
    };
    match server.server_addr().to_ip() {
        Some(addr) => say!("front door on http://{addr}"),
        None => say!("front door on {}", platform.opts.listen),
    }
    let booting = platform.clone();
    std::thread::spawn(move || {
        let _ = booting.boot();
    });
    health::start(platform.clone());
    let activity = Arc::new(activity::Activity::new());
    let front_done = Arc::new(AtomicBool::new(false));
    let queue = Arc::new(async_queue::AsyncQueue::start(platform.clone()));
    if let Some(build) = platform.opts.build.clone().filter(|b| b.watch) {
        if let Err(e) = watch::start(platform.clone(), build.target) {
            say!("{e}");
            platform.stop();
            return 1;
        }
    }
    // Enough threads for the invocations in the instance, those waiting, and a few more that
    // answer 429 when the queue is full.
    let threads = platform.opts.concurrency + platform.opts.queue_limit + SPARE_THREADS;
    let threads = front::serve(
        server.clone(),
        platform.clone(),
        front_done.clone(),
        activity.clone(),
        queue,
        threads,
    );
    let idle_stop = platform.opts.idle_stop;
    loop {
        std::thread::sleep(Duration::from_millis(20));
        if signalled() {
            say!("signal received: stopping");
            break;
        }
        if let Some(why) = platform.gave_up() {
            say!("the platform gave up ({why}): stopping");
            break;
        }
        let idle = activity.idle();
        if idle_stop.is_some_and(|limit| idle >= limit) {
            say!("idle for {} s: stopping", idle.as_secs_f64());
            break;
        }
        if let Some(status) = platform.crashed() {
            say!("the instance exited unexpectedly ({status}): restarting");
            let booting = platform.clone();
            std::thread::spawn(move || {
                let _ = booting.boot();
            });
        }
    }
    // The front door stays up while the platform stops: new requests are answered 503, the ones
    // in flight are not waited for here: pre-stop lets the runtime drain them (TINYFC_DRAIN_MS),
    // and what is still running when the instance dies fails with a 502.
    let (pre_stop_ok, exit_ok) = platform.stop();
    front_done.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    if pre_stop_ok && exit_ok && platform.gave_up().is_none() {
        0
    } else {
        1
    }
}

/// Front-door threads beyond those serving or waiting: they answer 429 once the queue is full.
const SPARE_THREADS: usize = 4;
