//! Throughput: keep-alive load against initialized functions, in short rounds that alternate
//! between the targets (A B A B ...), so that drift on a shared machine hits every target alike;
//! each target's req/s is its median round. The client ([`Client`]) is wrk with one thread when
//! installed (`wrk.rs`), else our own epoll loop on one thread (`epoll.rs`), both taking little
//! CPU from the server, or on request a thread per connection (`threads.rs`); the server runs in
//! one of the settings of `setting.rs`, and the client on a CPU of its own when the server is
//! pinned.

use std::net::SocketAddr;
use std::process::Child;
use std::time::{Duration, Instant};

use tinyfc::client::Connection;

use super::round::{Call, Round};
use super::setting::{self, Quota, Setting};

/// One target's result at one connection count.
#[derive(Debug, Clone)]
pub struct Load {
    /// Where the server ran.
    pub setting: Setting,
    /// Client connections at once.
    pub connections: usize,
    /// Requests per second of each round, in the order run.
    pub rounds: Vec<f64>,
    /// Requests that failed or were not answered 200, over all rounds.
    pub errors: u64,
    /// Median latency, microseconds: the median over the rounds of each round's.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds: the median over the rounds of each round's.
    pub p99_us: f64,
    /// The most threads the server had after a round.
    pub threads: usize,
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

/// How a case is run: where the server runs, and with which client.
#[derive(Clone, Copy)]
pub struct Case<'a> {
    /// The setting.
    pub setting: Setting,
    /// Its cgroup, for [`Setting::Quota`].
    pub quota: Option<&'a Quota>,
    /// The client.
    pub client: Client,
}

/// The program that sends the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// wrk with one thread (`wrk.rs`): a cross-check; its percentiles are corrected.
    Wrk,
    /// Our own epoll loop on one thread (`epoll.rs`), exact latencies: the default.
    Epoll,
    /// A thread per connection (`threads.rs`): takes CPU from the server on the same cores.
    Threads,
}

impl Client {
    /// One round against `addr`, on the client's CPU in `setting`.
    fn round(
        self,
        addr: SocketAddr,
        connections: usize,
        secs: f64,
        call: Call,
        setting: Setting,
    ) -> std::io::Result<Round> {
        let cpu = setting::client_cpu(setting);
        match self {
            Client::Wrk => super::wrk::round(addr, connections, secs, call, cpu),
            Client::Epoll => super::epoll::round(addr, connections, secs, call, cpu),
            Client::Threads => super::threads::round(addr, connections, secs, call, cpu),
        }
    }
}

/// Starts every command, initializes it, then loads each on `connections` connections for `secs`
/// in total, split into `rounds` rounds that alternate between the targets, after one warm-up
/// round each. One result per command, in order.
pub fn run(
    cmds: &[&[String]],
    connections: usize,
    secs: f64,
    rounds: usize,
    call: Call,
    case: Case,
) -> Vec<std::io::Result<Load>> {
    let prefix = setting::server_prefix(case.setting, case.quota);
    // Each target: its process, address, rounds so far and most threads, or why it dropped out.
    let mut targets: Vec<std::io::Result<Running>> =
        cmds.iter().map(|cmd| start(&prefix, cmd)).collect();
    let per_round = secs / rounds.max(1) as f64;
    // Round 0 is not recorded: a runtime that grows its workers under load (tinyfc does) would
    // otherwise pay its ramp-up in the first recorded round, and a fixed pool (tokio's) would not.
    for n in 0..=rounds.max(1) {
        for t in targets.iter_mut() {
            let Ok((child, addr, done, threads)) = t else {
                continue;
            };
            let r = case
                .client
                .round(*addr, connections, per_round, call, case.setting);
            match r {
                Ok(r) if n > 0 => {
                    done.push(r);
                    *threads = (*threads).max(thread_count(child.id()));
                }
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
            t.map(|(mut child, _, done, threads)| {
                stop(&mut child);
                summarize(case.setting, connections, done, threads)
            })
        })
        .collect()
}

/// A target under load: its process, address, rounds so far and the most threads seen.
type Running = (Child, SocketAddr, Vec<Round>, usize);

/// Spawns `cmd` after `prefix` and initializes it (killing it if that fails).
fn start(prefix: &[String], cmd: &[String]) -> std::io::Result<Running> {
    let (mut child, addr) = super::cold::spawn_with(prefix, cmd)?;
    if let Err(e) = initialize(addr) {
        stop(&mut child);
        return Err(e);
    }
    Ok((child, addr, Vec::new(), 0))
}

/// The threads of process `pid` now (0 if unknown).
fn thread_count(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn summarize(setting: Setting, connections: usize, rounds: Vec<Round>, threads: usize) -> Load {
    let median = |f: fn(&Round) -> f64| {
        super::stats::Stats::of(&rounds.iter().map(f).collect::<Vec<_>>()).median
    };
    Load {
        setting,
        connections,
        rounds: rounds.iter().map(|r| r.requests as f64 / r.secs).collect(),
        errors: rounds.iter().map(|r| r.errors).sum(),
        p50_us: median(|r| r.p50_us),
        p99_us: median(|r| r.p99_us),
        threads,
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
