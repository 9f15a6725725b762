//! A function for black-box tests of the runtime and of tinyfc-local. Its contract:
//!
//! - env at start: `PROBE_INIT_MS=N` the initializer sleeps N ms; `PROBE_INIT_FAIL=retry:K` the first
//!   K initializer runs fail retryably, `=fatal` every run fails fatally, `=panic` every run panics;
//!   `PROBE_INIT_FROM=N` both apply only from the Nth initializer run on (default 1; runs are
//!   counted across lives, so `PROBE_INIT_FROM=2` aims at the second life);
//!   `PROBE_PRESTOP_MS=N` pre-stop sleeps N ms; `PROBE_PRESTOP_FAIL=1` pre-stop returns an error;
//!   `PROBE_HOLD_FDS=N` opens N descriptors (`/dev/null`) before the runtime starts and keeps them;
//!   `PROBE_HEALTH_FAIL=MSG` sets a health check (on `/healthz`, unless `TINYFC_HEALTH_PATH` says
//!   another path) that fails with MSG; without it the health path is `TINYFC_HEALTH_PATH`'s, if
//!   set, with no check.
//! - paths (routed on `Request::route_path`, so behind `x-fc-base-path` too): `/state` -> JSON
//!   `{"init_runs","invocations","prestop_runs","drops"}` (not itself counted; counted across
//!   lives; `drops`: states the runtime has dropped, one per ended life; like any invocation, it
//!   begins a new life after pre-stop);
//!   `/sleep/N` sleeps N ms; `/spin/N` keeps a CPU busy for N ms; `/panic` panics with "probe
//!   panic"; `/error` returns the error "probe error"; `/echo` echoes the body with `x-probe-method` and `x-probe-path` headers;
//!   `/header/NAME` -> the value of the request's first header NAME (empty if none);
//!   `/headers` -> the request's headers as the handler sees them, one `name: value\n` line each;
//!   `/with-header` -> "hello" with one header built from the body `name\0value` (UTF-8, lossy;
//!   for invalid names and values); `/status/N` -> an empty answer with status N (any u16);
//!   `/context` -> the context as JSON (with `route_path`; absent optional fields are null);
//!   `/stream/N` -> `text/event-stream`, N events `data: i\n\n` (i from 0) 100 ms apart, each
//!   flushed as one chunk; `/stream-fail/N` the same, then the producer fails with "probe stream
//!   error"; a producer whose write fails prints `probe: stream stopped at event i: <error>`, one
//!   that sent all N prints `probe: stream sent N events` (before the stream's last chunk);
//!   `/stream-big/N` streams N chunks of 1 MiB of `x` (a failed write prints `probe: stream
//!   stopped at chunk i: <error>`);
//!   anything else -> "hello".
//! - built with the feature `websocket`: `/ws` is a WebSocket that echoes every text and binary
//!   message (until the client closes; a request there without `Upgrade` gets "hello").
//! - pre-stop prints `probe: pre-stop after N invocations` to stdout.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use tinyfc::protocol::json_str;
use tinyfc::{Context, Error, Function, InitError, Request, Response};

static INIT_RUNS: AtomicUsize = AtomicUsize::new(0);
static INVOCATIONS: AtomicUsize = AtomicUsize::new(0);
static PRESTOP_RUNS: AtomicUsize = AtomicUsize::new(0);
static DROPS: AtomicUsize = AtomicUsize::new(0);

/// The state of one life.
struct Probe;

impl Drop for Probe {
    fn drop(&mut self) {
        DROPS.fetch_add(1, SeqCst);
    }
}

fn env_ms(key: &str) -> Option<Duration> {
    std::env::var(key)
        .ok()?
        .parse()
        .ok()
        .map(Duration::from_millis)
}

fn init(_ctx: &Context) -> Result<Probe, InitError> {
    let from: usize = std::env::var("PROBE_INIT_FROM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let total = INIT_RUNS.fetch_add(1, SeqCst) + 1;
    if total < from {
        return Ok(Probe);
    }
    let run = total + 1 - from; // 1 for the first run PROBE_INIT_* apply to
    if let Some(d) = env_ms("PROBE_INIT_MS") {
        std::thread::sleep(d);
    }
    match std::env::var("PROBE_INIT_FAIL")
        .unwrap_or_default()
        .as_str()
    {
        "fatal" => Err(InitError::fatal(Error::typed("ProbeFatal", "probe fatal"))),
        "panic" => panic!("probe init panic"),
        f if f.starts_with("retry:") => {
            let k: usize = f[6..].parse().unwrap_or(0);
            if run <= k {
                Err(InitError::retry(Error::typed(
                    "ProbeRetry",
                    format!("probe retry {run}/{k}"),
                )))
            } else {
                Ok(Probe)
            }
        }
        _ => Ok(Probe),
    }
}

fn pre_stop(_p: &Probe, ctx: &Context) -> Result<(), Error> {
    PRESTOP_RUNS.fetch_add(1, SeqCst);
    if let Some(d) = env_ms("PROBE_PRESTOP_MS") {
        std::thread::sleep(d);
    }
    println!(
        "probe: pre-stop after {} invocations, function {:?}",
        INVOCATIONS.load(SeqCst),
        ctx.function_name
    );
    if std::env::var("PROBE_PRESTOP_FAIL").as_deref() == Ok("1") {
        return Err(Error::typed("ProbePreStop", "probe pre-stop error"));
    }
    Ok(())
}

/// `/stream/N` and `/stream-fail/N`: N server-sent events 100 ms apart, then the end of the
/// stream or (`fail`) the error "probe stream error".
fn stream(n: &str, fail: bool) -> Result<Response, Error> {
    let n: u64 = n.parse().map_err(|_| Error::msg("bad stream"))?;
    let resp = Response::stream(move |w| {
        for i in 0..n {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(100));
            }
            let sent = write!(w, "data: {i}\n\n").and_then(|()| w.flush());
            if let Err(e) = sent {
                println!("probe: stream stopped at event {i}: {e}");
                return Err(e);
            }
        }
        if fail {
            return Err(std::io::Error::other("probe stream error"));
        }
        println!("probe: stream sent {n} events");
        Ok(())
    });
    Ok(resp.header("content-type", "text/event-stream"))
}

fn handle(_p: &Probe, ctx: &Context, req: Request) -> Result<Response, Error> {
    let path = req.route_path();
    if path == "/state" {
        let body = format!(
            r#"{{"init_runs":{},"invocations":{},"prestop_runs":{},"drops":{}}}"#,
            INIT_RUNS.load(SeqCst),
            INVOCATIONS.load(SeqCst),
            PRESTOP_RUNS.load(SeqCst),
            DROPS.load(SeqCst)
        );
        return Ok(json(body));
    }
    INVOCATIONS.fetch_add(1, SeqCst);
    if let Some(ms) = path.strip_prefix("/spin/") {
        let ms: u64 = ms.parse().map_err(|_| Error::msg("bad spin"))?;
        let until = std::time::Instant::now() + Duration::from_millis(ms);
        let mut n = 0u64;
        while std::time::Instant::now() < until {
            n = std::hint::black_box(n.wrapping_add(1));
        }
        return Ok(Response::text(format!("spun {ms}")));
    }
    if let Some(name) = path.strip_prefix("/header/") {
        return Ok(Response::text(req.header(name).unwrap_or("")));
    }
    if let Some(ms) = path.strip_prefix("/sleep/") {
        let ms: u64 = ms.parse().map_err(|_| Error::msg("bad sleep"))?;
        std::thread::sleep(Duration::from_millis(ms));
        return Ok(Response::text(format!("slept {ms}")));
    }
    if let Some(n) = path.strip_prefix("/stream/") {
        return stream(n, false);
    }
    if let Some(n) = path.strip_prefix("/stream-fail/") {
        return stream(n, true);
    }
    if let Some(n) = path.strip_prefix("/stream-big/") {
        let n: usize = n.parse().map_err(|_| Error::msg("bad stream"))?;
        return Ok(Response::stream(move |w| {
            let mib = vec![b'x'; 1 << 20];
            for i in 0..n {
                if let Err(e) = w.write_all(&mib).and_then(|()| w.flush()) {
                    println!("probe: stream stopped at chunk {i}: {e}");
                    return Err(e);
                }
            }
            Ok(())
        }));
    }
    if let Some(n) = path.strip_prefix("/status/") {
        let n: u16 = n.parse().map_err(|_| Error::msg("bad status"))?;
        return Ok(Response::new(n));
    }
    match path {
        "/panic" => panic!("probe panic"),
        "/error" => Err(Error::typed("ProbeError", "probe error")),
        "/echo" => Ok(Response::new(200)
            .header("x-probe-method", req.method.as_str())
            .header("x-probe-path", req.path.as_str())
            .body(req.body)),
        "/context" => Ok(json(context_json(ctx, path))),
        "/with-header" => {
            let body = String::from_utf8_lossy(&req.body);
            let (name, value) = body.split_once('\0').unwrap_or((&body, ""));
            Ok(Response::text("hello").header(name, value))
        }
        "/headers" => {
            let mut lines = String::new();
            for (name, value) in &req.headers {
                lines.push_str(&format!("{name}: {value}\n"));
            }
            Ok(Response::text(lines))
        }
        _ => Ok(Response::text("hello")),
    }
}

fn json(body: String) -> Response {
    Response::new(200)
        .header("content-type", "application/json")
        .body(body)
}

fn context_json(ctx: &Context, route_path: &str) -> String {
    let strings = [
        ("request_id", ctx.request_id.as_str()),
        ("function_name", ctx.function_name.as_str()),
        ("function_handler", ctx.function_handler.as_str()),
        ("region", ctx.region.as_str()),
        ("account_id", ctx.account_id.as_str()),
        ("access_key_id", ctx.credentials.access_key_id.as_str()),
        ("qualifier", ctx.qualifier.as_str()),
        ("version_id", ctx.version_id.as_str()),
        ("service_name", ctx.service_name.as_str()),
        ("log_project", ctx.log_project.as_str()),
        ("log_store", ctx.log_store.as_str()),
        ("control_path", ctx.control_path.as_str()),
        ("log_type", ctx.log_type.as_str()),
        ("route_path", route_path),
    ];
    let optional = [
        ("base_path", ctx.base_path.as_deref()),
        ("client_ip", ctx.client_ip.as_deref()),
        ("span_context", ctx.span_context.as_deref()),
        ("instance_id", ctx.instance_id.as_deref()),
    ];
    let numbers = [
        ("memory_mb", ctx.memory_mb.map(u64::from)),
        ("timeout_s", ctx.timeout_s.map(u64::from)),
        ("retry_count", ctx.retry_count.map(u64::from)),
        (
            "remaining_ms",
            ctx.remaining().map(|d| d.as_millis() as u64),
        ),
    ];
    let mut s = String::from("{");
    for (k, v) in strings {
        s.push_str(&format!("\"{k}\":"));
        json_str(&mut s, v);
        s.push(',');
    }
    for (k, v) in optional {
        s.push_str(&format!("\"{k}\":"));
        match v {
            Some(v) => json_str(&mut s, v),
            None => s.push_str("null"),
        }
        s.push(',');
    }
    for (k, v) in numbers {
        match v {
            Some(n) => s.push_str(&format!("\"{k}\":{n},")),
            None => s.push_str(&format!("\"{k}\":null,")),
        }
    }
    s.pop();
    s.push('}');
    s
}

fn main() -> std::io::Result<()> {
    let hold: usize = std::env::var("PROBE_HOLD_FDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let _held: Vec<std::fs::File> = (0..hold)
        .map(|_| std::fs::File::open("/dev/null"))
        .collect::<Result<_, _>>()?;
    let function = Function::with_initializer(init, handle).pre_stop(pre_stop);
    let function = match std::env::var("PROBE_HEALTH_FAIL") {
        Ok(msg) => function.health_check("/healthz", move |_| Err(Error::msg(msg.clone()))),
        Err(_) => function,
    };
    #[cfg(feature = "websocket")]
    let function = function.websocket("/ws", echo);
    tinyfc::run(function)
}

/// `/ws`: echoes text and binary messages until the client closes.
#[cfg(feature = "websocket")]
fn echo(
    _p: &Probe,
    _ctx: &Context,
    _req: &Request,
    socket: &mut tinyfc::websocket::Socket<'_>,
) -> Result<(), Error> {
    use tinyfc::websocket::{tungstenite, Message};
    loop {
        match socket.read() {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                socket.send(m).map_err(|e| Error::msg(e.to_string()))?
            }
            Ok(_) => {} // pings are answered by tungstenite
            Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(Error::msg(e.to_string())),
        }
    }
}
