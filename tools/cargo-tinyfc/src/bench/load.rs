//! Throughput: keep-alive load from N client threads against initialized functions, in short
//! rounds that alternate between the targets (A B A B ...), so that drift on a shared machine hits
//! every target alike; each target's req/s is its median round.

use std::net::SocketAddr;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tinyfc::client::Connection;

/// The request every client sends, over and over.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The path.
    pub path: &'a str,
    /// `x-fc-control-path`: `/invoke` (an event invocation) or `/http-invoke`.
    pub control: &'a str,
}

/// An event invocation with `{}`, as hello answers it.
pub const HELLO: Call<'static> = Call {
    method: "POST",
    path: "/invoke",
    control: "/invoke",
};

impl<'a> Call<'a> {
    /// An HTTP invocation of `method path`.
    pub fn http(method: &'a str, path: &'a str) -> Call<'a> {
        Call {
            method,
            path,
            control: "/http-invoke",
        }
    }
}

/// One target's result at one connection count.
#[derive(Debug, Clone)]
pub struct Load {
    /// Client connections at once.
    pub connections: usize,
    /// Requests per second of each round, in the order run.
    pub rounds: Vec<f64>,
    /// Requests that failed or were not answered 200, over all rounds.
    pub errors: u64,
    /// Median latency over every request of every round, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency over every request of every round, microseconds.
    pub p99_us: f64,
}

impl Load {
    /// The rounds' requests per second: min, median (what the table reports), max.
    pub fn stats(&self) -> super::stats::Stats {
        super::stats::Stats::of(&self.rounds)
    }

    /// The median round's requests per second.
    pub fn rps(&self) -> f64 {
        self.stats().median
    }
}

/// One round's raw numbers.
struct Round {
    requests: u64,
    errors: u64,
    secs: f64,
    latencies: Vec<f64>,
}

/// Starts every command, initializes it, then loads each from `connections` threads for `secs`
/// in total, split into `rounds` rounds that alternate between the targets, after one warm-up
/// round each. One result per command, in order.
pub fn run(
    cmds: &[&[String]],
    connections: usize,
    secs: f64,
    rounds: usize,
    call: Call,
) -> Vec<std::io::Result<Load>> {
    // Each target: its process, address and rounds so far, or why it dropped out.
    let mut targets: Vec<std::io::Result<(Child, SocketAddr, Vec<Round>)>> =
        cmds.iter().map(|cmd| start(cmd)).collect();
    let per_round = secs / rounds.max(1) as f64;
    // Round 0 is not recorded: a runtime that grows its workers under load (tinyfc does) would
    // otherwise pay its ramp-up in the first recorded round, and a fixed pool (tokio's) would not.
    for n in 0..=rounds.max(1) {
        for t in targets.iter_mut() {
            let Ok((child, addr, done)) = t else { continue };
            match round(*addr, connections, per_round, call) {
                Ok(r) if n > 0 => done.push(r),
                Ok(_) => {}
                Err(e) => {
                    stop(child);
                    *t = Err(e);
                }
            }
        }
    }
    targets
        .into_iter()
        .map(|t| {
            t.map(|(mut child, _, done)| {
                stop(&mut child);
                summarize(connections, done)
            })
        })
        .collect()
}

/// Spawns `cmd` and initializes it (killing it if that fails).
fn start(cmd: &[String]) -> std::io::Result<(Child, SocketAddr, Vec<Round>)> {
    let (mut child, addr) = super::cold::spawn(cmd)?;
    if let Err(e) = initialize(addr) {
        stop(&mut child);
        return Err(e);
    }
    Ok((child, addr, Vec::new()))
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn summarize(connections: usize, rounds: Vec<Round>) -> Load {
    let mut all: Vec<f64> = rounds
        .iter()
        .flat_map(|r| r.latencies.iter().copied())
        .collect();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Load {
        connections,
        rounds: rounds.iter().map(|r| r.requests as f64 / r.secs).collect(),
        errors: rounds.iter().map(|r| r.errors).sum(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    }
}

/// Connects (the function may still be starting) and calls /initialize.
fn initialize(addr: SocketAddr) -> std::io::Result<()> {
    let until = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        match Connection::connect(addr, Duration::from_secs(10)) {
            Ok(c) => break c,
            Err(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(e),
        }
    };
    conn.request(
        "POST",
        "/initialize",
        &[("x-fc-control-path", "/initialize")],
        b"",
    )?;
    Ok(())
}

/// One round: `connections` keep-alive clients sending `call` for `secs`.
fn round(addr: SocketAddr, connections: usize, secs: f64, call: Call) -> std::io::Result<Round> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let stop = stop.clone();
            let (method, path, control) = (
                call.method.to_string(),
                call.path.to_string(),
                call.control.to_string(),
            );
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(1 << 16);
                let mut errors = 0u64;
                let h = [("x-fc-request-id", "load"), ("x-fc-control-path", &control)];
                let mut conn = Connection::connect(addr, Duration::from_secs(10)).ok();
                while !stop.load(Ordering::Relaxed) {
                    let Some(c) = conn.as_mut() else {
                        errors += 1;
                        conn = Connection::connect(addr, Duration::from_secs(10)).ok();
                        continue;
                    };
                    let t = Instant::now();
                    match c.request(&method, &path, &h, b"{}") {
                        Ok(r) if r.status == 200 => latencies.push(t.elapsed().as_secs_f64() * 1e6),
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            conn = None;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in threads {
        let (l, e) = t.join().unwrap_or_default();
        latencies.extend(l);
        errors += e;
    }
    Ok(Round {
        requests: latencies.len() as u64,
        errors,
        secs: started.elapsed().as_secs_f64(),
        latencies,
    })
}
