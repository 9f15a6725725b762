//! tinyfc-local: a local Function Compute platform that starts a function instance and drives it
//! as FC does (initializer with retries and restarts, invocations, pre-stop, SIGTERM), with a
//! front door for callers. See `tinyfc-local --help` and README.md.

mod front;
mod instance;
mod options;
mod platform;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use options::Options;
use platform::{Kind, Platform};

/// When tinyfc-local started; `say!` lines carry the time since.
pub fn epoch() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Prints one line of the platform's view: `[tinyfc-local +1.234s] ...`.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let line = format!($($arg)*);
        let t = $crate::epoch().elapsed().as_secs_f64();
        let _ = writeln!(std::io::stdout().lock(), "[tinyfc-local +{t:.3}s] {line}");
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

fn main() {
    epoch();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match Options::parse(&args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            print!("{}", options::USAGE);
            return;
        }
        Err(e) => {
            eprintln!("tinyfc-local: {e}\n\n{}", options::USAGE);
            std::process::exit(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            eprintln!("tinyfc-local: cannot handle signals: {e}");
        }
    }
    let code = match opts.invocations {
        Some(n) => one_shot(Platform::new(opts), n),
        None => serve(Arc::new(Platform::new(opts)), stop),
    };
    std::process::exit(code);
}

/// `--once` / `--invoke N`: boot, N event invocations, stop. 0 only if every step succeeded.
fn one_shot(platform: Platform, n: u32) -> i32 {
    let event = match read_event(platform.opts.event.as_deref()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("tinyfc-local: cannot read the event: {e}");
            return 2;
        }
    };
    let mut ok = platform.boot().is_ok();
    if ok {
        for _ in 0..n {
            let started = Instant::now();
            match platform.invoke(Kind::Event, "POST", "/invoke", &[], &event) {
                Ok((rid, r)) => {
                    let failed = r.header("x-fc-status") != Some("200");
                    say!(
                        "invoke RequestId {rid}: status {} (x-fc-status {}) in {} ms",
                        r.status,
                        r.header("x-fc-status").unwrap_or("missing"),
                        crate::ms(started.elapsed())
                    );
                    say!("response body: {}", r.text());
                    ok &= r.status == 200 && !failed;
                }
                Err(e) => {
                    say!("invoke failed: {e}");
                    ok = false;
                }
            }
        }
    }
    let (pre_stop_ok, exit_ok) = platform.stop();
    let all = ok && pre_stop_ok && exit_ok;
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

/// Serving: the front door until Ctrl-C / SIGTERM or --idle-stop; then pre-stop and stop.
fn serve(platform: Arc<Platform>, stop: Arc<AtomicBool>) -> i32 {
    let server = match tiny_http::Server::http(&platform.opts.listen) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!(
                "tinyfc-local: cannot listen on {}: {e}",
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
    let last_request = Arc::new(Mutex::new(Instant::now()));
    let front_done = Arc::new(AtomicBool::new(false));
    let threads = front::serve(
        server.clone(),
        platform.clone(),
        front_done.clone(),
        last_request.clone(),
        16,
    );
    let idle_stop = platform.opts.idle_stop;
    loop {
        std::thread::sleep(Duration::from_millis(20));
        if stop.load(Ordering::SeqCst) {
            say!("signal received: stopping");
            break;
        }
        let idle = last_request
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed();
        if idle_stop.is_some_and(|limit| idle >= limit) {
            say!("idle for {} s: stopping", idle.as_secs());
            break;
        }
        if platform.crashed() {
            say!("the instance exited unexpectedly: restarting");
            let booting = platform.clone();
            std::thread::spawn(move || {
                let _ = booting.boot();
            });
        }
    }
    front_done.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    let (pre_stop_ok, exit_ok) = platform.stop();
    if pre_stop_ok && exit_ok {
        0
    } else {
        1
    }
}

fn read_event(path: Option<&str>) -> std::io::Result<Vec<u8>> {
    match path {
        None => Ok(Vec::new()),
        Some("-") => {
            let mut v = Vec::new();
            std::io::stdin().read_to_end(&mut v)?;
            Ok(v)
        }
        Some(p) => std::fs::read(p),
    }
}
