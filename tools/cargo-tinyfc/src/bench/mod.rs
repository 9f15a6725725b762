//! `cargo tinyfc bench`: cold-start and throughput benchmark of FC function binaries, with the
//! floor beside them (`make bench`).
//!
//! Cold start (N runs after warm-ups, targets interleaved A B C, B C A, ...): exec -> listening, exec ->
//! /initialize answered, exec -> first invocation answered, /pre-stop answered, SIGTERM -> exit, RSS
//! after the first answer, binary size. The first target (the floor, examples/floor.rs, when it is
//! in --dir) is the baseline every ratio is over. Throughput: keep-alive load on --clients
//! connections (default 16), and on 256, from one client thread: wrk -t1 when installed, else our
//! own epoll loop (`epoll.rs`; --client picks either, or a thread per connection), in each
//! --settings setting (shared CPUs, the server pinned to CPU 0 and the client to CPU 1, the
//! server in a half-CPU cgroup quota; `setting.rs`), for --load-secs per target (default 6) in
//! --rounds rounds (default 6)
//! that alternate between the targets that are FC runtimes (hello, tokio_hello, tokio_fc and any
//! --target), after one unrecorded warm-up round each; req/s is the median round. tokio_fc is
//! tokio_hello with FC_LINES=1: it prints the two FC lines per invocation that tinyfc must, so it
//! does the same work. The last column, `hello / it`, is hello's req/s over the row's, taken round by
//! round (the targets of a round run back to back) and then the median: the machine's drift between
//! rounds cancels out of it, unlike a ratio of the two medians.
//!
//! Blocking handler: every request sleeps --blocking-ms (default 10, a database call) on
//! --blocking-conns connections (default 64), so the ideal is conns * 1000 / ms req/s (6,400); the
//! table reports each runtime's ratio to it: examples/probe's `/sleep/N` (tinyfc, handlers on its
//! worker threads) and examples/tokio_hello's `/sleep/N` (tokio, in `spawn_blocking`).
//!
//! Writes runs.csv, summary.json and cold-start.svg into --out (default bench-out).

mod cold;
mod epoll;
mod load;
mod report;
mod round;
mod setting;
mod stats;
mod summary;
mod threads;
mod wrk;

use std::path::{Path, PathBuf};

use crate::cli::Exit;
use load::{Case, Client, Load};
use report::Target;
use setting::{Quota, Setting};

/// `cargo tinyfc bench`'s command line.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Cold start and keep-alive throughput of FC function binaries, interleaved, with ratios to a
baseline (the floor), and a blocking-handler case (ratio to the ideal req/s).",
    after_help = "examples:
  cargo tinyfc bench
  cargo tinyfc bench --runs 10 --target mine=target/x86_64-unknown-linux-musl/release/my-function"
)]
pub struct BenchArgs {
    /// Where the built-in targets are: DIR/examples/{floor,hello,tokio_hello,probe}; the ones
    /// missing are skipped.
    #[arg(
        long,
        value_name = "DIR",
        env = "BENCH_DIR",
        default_value = "target/x86_64-unknown-linux-musl/release"
    )]
    dir: String,
    /// One more target, any function binary (repeatable); CMD may start with NAME=VALUE words,
    /// set in its environment.
    #[arg(long = "target", value_name = "NAME=CMD", value_parser = target)]
    extra: Vec<(String, Vec<String>)>,
    /// Cold-start runs per target.
    #[arg(long, value_name = "N", default_value_t = 50)]
    runs: usize,
    /// Cold-start warm-up runs per target, not recorded.
    #[arg(long, value_name = "N", default_value_t = 5)]
    warmup: usize,
    /// Throughput seconds per target and connection count.
    #[arg(long, value_name = "S", default_value = "6", value_parser = crate::cli::seconds)]
    load_secs: std::time::Duration,
    /// Rounds those seconds are split into.
    #[arg(long, value_name = "N", default_value_t = 6)]
    rounds: usize,
    /// Connections of the first throughput case (the second is 256).
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    clients: u64,
    /// The blocking handler's sleep, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    blocking_ms: u64,
    /// Connections of the blocking case.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    blocking_conns: u64,
    /// Where the server runs under load, comma-separated: shared (server and client on every
    /// CPU), pinned (server on CPU 0, client on CPU 1; needs 2 CPUs and taskset), quota (the
    /// server in a cgroup with half a CPU; needs a writable cgroup cpu controller).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "shared,pinned,quota",
        value_parser = setting_of
    )]
    settings: Vec<Setting>,
    /// The throughput client: epoll (our own event loop on one thread, like wrk -t1, with exact
    /// latencies), wrk (wrk -t1; its percentiles are corrected for coordinated omission), or
    /// threads (a thread per connection, which takes CPU from the server).
    #[arg(long, value_name = "C", default_value = "epoll", value_parser = ["epoll", "wrk", "threads"])]
    client: String,
    /// Skip the cold-start part.
    #[arg(long)]
    no_cold: bool,
    /// Skip the throughput part.
    #[arg(long)]
    no_load: bool,
    /// Skip the blocking-handler part.
    #[arg(long)]
    no_blocking: bool,
    /// Where runs.csv, summary.json and cold-start.svg go.
    #[arg(long, value_name = "DIR", default_value = "bench-out")]
    out: PathBuf,
}

/// What the user asked for, in the units the parts take.
struct Options {
    runs: usize,
    warmup: usize,
    out: PathBuf,
    dir: String,
    extra: Vec<(String, Vec<String>)>,
    load_secs: f64,
    rounds: usize,
    clients: usize,
    blocking_ms: u64,
    blocking_conns: usize,
    settings: Vec<Setting>,
    client: Client,
    cold: bool,
    load: bool,
    blocking: bool,
}

impl From<BenchArgs> for Options {
    fn from(a: BenchArgs) -> Options {
        Options {
            runs: a.runs,
            warmup: a.warmup,
            out: a.out,
            dir: a.dir,
            extra: a.extra,
            load_secs: a.load_secs.as_secs_f64(),
            rounds: a.rounds,
            clients: a.clients as usize,
            blocking_ms: a.blocking_ms,
            blocking_conns: a.blocking_conns as usize,
            settings: a.settings,
            client: match a.client.as_str() {
                "wrk" => Client::Wrk,
                "threads" => Client::Threads,
                _ => Client::Epoll,
            },
            cold: !a.no_cold,
            load: !a.no_load,
            blocking: !a.no_blocking,
        }
    }
}

/// clap value parser of one `--settings` name.
fn setting_of(v: &str) -> Result<Setting, String> {
    Setting::of(v).ok_or_else(|| format!("unknown setting {v}: shared, pinned or quota"))
}

/// clap value parser of `--target NAME=CMD`.
fn target(v: &str) -> Result<(String, Vec<String>), String> {
    let (name, cmd) = v
        .split_once('=')
        .filter(|(n, c)| !n.is_empty() && !c.trim().is_empty())
        .ok_or("--target takes NAME=CMD")?;
    Ok((
        name.to_string(),
        cmd.split_whitespace().map(String::from).collect(),
    ))
}

/// The built-in targets found in `dir`, then the user's: (name, command, under load).
fn targets(o: &Options) -> Vec<(String, Vec<String>, bool)> {
    let example = |name: &str| format!("{}/examples/{name}", o.dir);
    let mut all = Vec::new();
    for (name, env, binary, loaded) in [
        ("floor", None, "floor", false),
        ("hello", None, "hello", true),
        ("tokio_hello", None, "tokio_hello", true),
        // The same async server doing the FC lines every invocation must print: the like-for-like bar.
        ("tokio_fc", Some("FC_LINES=1"), "tokio_hello", true),
    ] {
        let path = example(binary);
        if Path::new(&path).is_file() {
            let cmd = env.map(String::from).into_iter().chain([path]).collect();
            all.push((name.to_string(), cmd, loaded));
        }
    }
    all.extend(o.extra.iter().map(|(n, c)| (n.clone(), c.clone(), true)));
    all
}

/// `cargo tinyfc bench ARGS`: the exit code.
pub fn main(args: BenchArgs) -> Exit {
    let args = Options::from(args);
    if (args.load || args.blocking) && args.client == Client::Wrk && !setting::on_path("wrk") {
        return Err(String::from("--client wrk: wrk is not on PATH").into());
    }
    let listed = targets(&args);
    if listed.is_empty() {
        return Err(format!(
            "no target: nothing in {}/examples and no --target",
            args.dir
        )
        .into());
    }
    let mut targets: Vec<Target> = listed
        .iter()
        .map(|(name, cmd, _)| Target {
            name: name.clone(),
            cmd: cmd.clone(),
            size: cold::split_env(cmd)
                .1
                .first()
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len()),
            runs: Vec::new(),
            failures: 0,
            loads: Vec::new(),
        })
        .collect();
    let machine = machine();
    println!("bench: {machine}");
    if args.cold {
        cold_starts(&mut targets, args.warmup, args.runs);
    }
    if args.load {
        let mut loaded: Vec<&mut Target> = targets
            .iter_mut()
            .zip(&listed)
            .filter(|(_, (_, _, loaded))| *loaded)
            .map(|(t, _)| t)
            .collect();
        let cmds: Vec<Vec<String>> = loaded.iter().map(|t| t.cmd.clone()).collect();
        let cmds: Vec<&[String]> = cmds.iter().map(Vec::as_slice).collect();
        match args.client {
            Client::Wrk => eprintln!(
                "throughput: the client is wrk -t1 (its percentiles are corrected for \
                 coordinated omission)"
            ),
            Client::Epoll => eprintln!(
                "throughput: the client is our epoll loop on one thread (exact latencies)"
            ),
            Client::Threads => eprintln!(
                "throughput: the client is a thread per connection (it takes CPU from the \
                 server, which favours servers with more threads)"
            ),
        }
        for (setting, quota) in settings(&args) {
            for conns in [args.clients, 256] {
                eprintln!(
                    "throughput, {}: {} connections, {} rounds of {:.1} s per target, interleaved",
                    setting.name(),
                    conns,
                    args.rounds,
                    args.load_secs / args.rounds.max(1) as f64
                );
                let case = Case {
                    setting,
                    quota: quota.as_ref(),
                    client: args.client,
                };
                let results = load::run(
                    &cmds,
                    conns,
                    args.load_secs,
                    args.rounds,
                    round::HELLO,
                    case,
                );
                for (t, r) in loaded.iter_mut().zip(results) {
                    match r {
                        Ok(l) => t.loads.push(l),
                        Err(e) => eprintln!("{}: {e}", t.name),
                    }
                }
            }
        }
    }
    let blocking = if args.blocking {
        blocking(&args)
    } else {
        Vec::new()
    };
    print!("{}", report::table(&targets));
    print!(
        "{}",
        report::blocking_table(args.blocking_ms, args.blocking_conns, &blocking)
    );
    let summary = summary::json(&targets, &machine, args.blocking_ms, &blocking);
    if let Err(e) = write_out(&args.out, &targets, &summary) {
        eprintln!(
            "cargo tinyfc bench: cannot write {}: {e}",
            args.out.display()
        );
        return Ok(1);
    }
    println!("raw runs, summary and plot in {}/", args.out.display());
    Ok(0)
}

/// Cold starts, interleaved: `warmup` unrecorded runs then `runs` recorded ones per target.
fn cold_starts(targets: &mut [Target], warmup: usize, runs: usize) {
    // Every binary starts from the same page-cache state: read back by its first warm-up.
    for t in targets.iter() {
        if let Some(program) = cold::split_env(&t.cmd).1.first() {
            if std::fs::metadata(program).is_ok_and(|m| m.is_file()) {
                if let Err(e) = cold::evict(program) {
                    eprintln!(
                        "{}: could not drop {program} from the page cache: {e}",
                        t.name
                    );
                }
            }
        }
    }
    eprint!("cold start: {warmup} warm-up + {runs} runs per target, interleaved ");
    let n = targets.len();
    for i in 0..warmup + runs {
        // Each round starts one target later, so every target runs after each of the others
        // equally often: a start right after a given target's exit (its teardown still running)
        // shifts the times by tens of microseconds here.
        for k in 0..n {
            let t = &mut targets[(i + k) % n];
            match cold::run(&t.cmd) {
                Ok(r) if i >= warmup => t.runs.push(r),
                Ok(_) => {}
                Err(e) => {
                    t.failures += 1;
                    eprintln!("\n{}: {e}", t.name);
                }
            }
        }
        if i % 10 == 0 {
            eprint!(".");
        }
    }
    eprintln!();
}

/// The blocking-handler case: tinyfc (examples/probe) and tokio (`spawn_blocking` in
/// examples/tokio_hello) each answering `/sleep/MS`, interleaved. (name, result) for the ones in
/// --dir.
fn blocking(args: &Options) -> Vec<(String, std::io::Result<Load>)> {
    let named: Vec<(String, Vec<String>)> = [("probe", "probe"), ("tokio_blocking", "tokio_hello")]
        .iter()
        .map(|(name, binary)| {
            (
                name.to_string(),
                vec![format!("{}/examples/{binary}", args.dir)],
            )
        })
        .filter(|(_, cmd)| Path::new(&cmd[0]).is_file())
        .collect();
    if named.is_empty() {
        return Vec::new();
    }
    eprintln!(
        "blocking handler: sleeps {} ms, {} connections, {} rounds of {:.1} s per target",
        args.blocking_ms,
        args.blocking_conns,
        args.rounds,
        args.load_secs / args.rounds.max(1) as f64
    );
    let path = format!("/sleep/{}", args.blocking_ms);
    let cmds: Vec<&[String]> = named.iter().map(|(_, c)| c.as_slice()).collect();
    let call = round::Call::http("POST", &path);
    let case = Case {
        setting: Setting::Shared,
        quota: None,
        client: args.client,
    };
    let results = load::run(
        &cmds,
        args.blocking_conns,
        args.load_secs,
        args.rounds,
        call,
        case,
    );
    named.into_iter().map(|(n, _)| n).zip(results).collect()
}

/// The settings asked for that this machine allows, each with its cgroup for a quota; a note for
/// each one skipped.
fn settings(args: &Options) -> Vec<(Setting, Option<Quota>)> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = Vec::new();
    for &s in &args.settings {
        match s {
            Setting::Pinned if cpus < 2 || !setting::on_path("taskset") => {
                eprintln!("throughput, pinned: skipped (needs 2 CPUs and taskset)");
            }
            Setting::Quota => match Quota::create() {
                Ok(q) => out.push((s, Some(q))),
                Err(e) => eprintln!("throughput, quota: skipped (no CPU quota cgroup: {e})"),
            },
            _ => out.push((s, None)),
        }
    }
    out
}

/// Writes runs.csv, summary.json and cold-start.svg into `dir`.
fn write_out(dir: &Path, targets: &[Target], summary: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("runs.csv"), report::csv(targets))?;
    std::fs::write(dir.join("summary.json"), summary)?;
    std::fs::write(dir.join("cold-start.svg"), report::svg(targets))
}

/// What the numbers came from: CPU model and count, kernel.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l[l.find(':').map_or(0, |i| i + 2)..].to_string())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, Linux {}", kernel.trim())
}
