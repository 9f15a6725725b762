//! `cargo tinyfc bench`: cold-start and throughput benchmark of FC function binaries, with the
//! floor beside them (`make bench`).
//!
//! Cold start (N runs after warm-ups, targets interleaved A B C, B C A, ...): exec -> listening, exec ->
//! /initialize answered, exec -> first invocation answered, /pre-stop answered, SIGTERM -> exit, RSS
//! after the first answer, binary size. The first target (the floor, examples/floor.rs, when it is
//! in --dir) is the baseline every ratio is over. Throughput: keep-alive load on --clients
//! connections (default 16), and on 256, from wrk with one thread (else a thread per connection),
//! in each --settings setting (shared CPUs, the server pinned to CPU 0 and the client to CPU 1, the
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
mod load;
mod report;
mod setting;
mod wrk;

use std::path::{Path, PathBuf};

use crate::cli::{Args, Stop};
use load::{Case, Load};
use report::Target;
use setting::{Quota, Setting};

/// `cargo tinyfc bench --help`.
pub const USAGE: &str = "\
cargo tinyfc bench: cold start and keep-alive throughput of FC function binaries, interleaved,
with ratios to a baseline (the floor), and a blocking-handler case (ratio to the ideal req/s).

usage: cargo tinyfc bench [options]

  --dir DIR              where the built-in targets are: DIR/examples/{floor,hello,tokio_hello,probe}
                         (default target/x86_64-unknown-linux-musl/release, or $BENCH_DIR); the ones
                         missing are skipped
  --target NAME=CMD      one more target, any function binary (repeatable); CMD may start with
                         NAME=VALUE words, set in its environment
  --runs N               cold-start runs per target (default 50), after --warmup N (default 5)
  --load-secs S          throughput seconds per target and connection count (default 6)
  --rounds N             rounds those seconds are split into (default 6)
  --clients N            connections of the first throughput case (default 16; the second is 256)
  --settings LIST        where the server runs under load, comma-separated (default
                         shared,pinned,quota): shared (server and client on every CPU), pinned
                         (server on CPU 0, client on CPU 1; needs 2 CPUs and taskset), quota (the
                         server in a cgroup with half a CPU; needs a writable cgroup cpu controller)
  --client C             wrk (one thread), threads (a thread per connection) or auto (default: wrk
                         when it is on PATH)
  --blocking-ms MS       the blocking handler's sleep (default 10)
  --blocking-conns N     connections of the blocking case (default 64)
  --no-cold, --no-load, --no-blocking   skip a part
  --out DIR              where runs.csv, summary.json and cold-start.svg go (default bench-out)

examples:
  cargo tinyfc bench
  cargo tinyfc bench --runs 10 --target mine=target/x86_64-unknown-linux-musl/release/my-function
";

/// What the user asked for.
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
    wrk: bool,
    cold: bool,
    load: bool,
    blocking: bool,
}

fn parse(args: &[String]) -> Result<Options, Stop> {
    let mut o = Options {
        runs: 50,
        warmup: 5,
        out: PathBuf::from("bench-out"),
        dir: std::env::var("BENCH_DIR")
            .unwrap_or_else(|_| "target/x86_64-unknown-linux-musl/release".into()),
        extra: Vec::new(),
        load_secs: 6.0,
        rounds: 6,
        clients: 16,
        blocking_ms: 10,
        blocking_conns: 64,
        settings: vec![Setting::Shared, Setting::Pinned, Setting::Quota],
        wrk: setting::on_path("wrk"),
        cold: true,
        load: true,
        blocking: true,
    };
    let mut it = Args::new(args);
    while let Some(arg) = it.next()? {
        match arg {
            "--runs" => o.runs = it.parsed(arg)?,
            "--warmup" => o.warmup = it.parsed(arg)?,
            "--out" => o.out = PathBuf::from(it.value(arg)?),
            "--dir" => o.dir = it.value(arg)?.to_string(),
            "--target" => {
                let v = it.value(arg)?;
                let (name, cmd) = v
                    .split_once('=')
                    .filter(|(n, c)| !n.is_empty() && !c.trim().is_empty())
                    .ok_or_else(|| Stop::Usage("--target takes NAME=CMD".into()))?;
                let cmd = cmd.split_whitespace().map(String::from).collect();
                o.extra.push((name.to_string(), cmd));
            }
            "--load-secs" => o.load_secs = it.secs(arg)?.as_secs_f64(),
            "--rounds" => o.rounds = it.parsed(arg)?,
            "--clients" => o.clients = it.parsed(arg)?,
            "--blocking-ms" => o.blocking_ms = it.parsed(arg)?,
            "--blocking-conns" => o.blocking_conns = it.parsed(arg)?,
            "--settings" => {
                let v = it.value(arg)?;
                o.settings = v
                    .split(',')
                    .map(|n| {
                        Setting::of(n).ok_or_else(|| Stop::Usage(format!("unknown setting {n}")))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--client" => {
                o.wrk = match it.value(arg)? {
                    "wrk" => true,
                    "threads" => false,
                    "auto" => setting::on_path("wrk"),
                    other => return Err(Stop::Usage(format!("unknown client {other}"))),
                }
            }
            "--no-cold" => o.cold = false,
            "--no-load" => o.load = false,
            "--no-blocking" => o.blocking = false,
            other => return Err(Stop::Usage(format!("unknown option {other}"))),
        }
    }
    if o.clients == 0 || o.blocking_conns == 0 || o.blocking_ms == 0 {
        return Err(Stop::Usage(
            "--clients, --blocking-conns and --blocking-ms must be at least 1".into(),
        ));
    }
    Ok(o)
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
pub fn main(args: &[String]) -> i32 {
    let args = match parse(args) {
        Ok(a) => a,
        Err(stop) => return crate::cli::stopped("bench", stop, USAGE),
    };
    let listed = targets(&args);
    if listed.is_empty() {
        return crate::cli::usage_error(
            "bench",
            &format!(
                "no target: nothing in {}/examples and no --target",
                args.dir
            ),
            USAGE,
        );
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
        if !args.wrk {
            eprintln!(
                "throughput: wrk not found, the client is a thread per connection (it takes CPU \
                 from the server, which favours servers with more threads)"
            );
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
                    wrk: args.wrk,
                };
                let results =
                    load::run(&cmds, conns, args.load_secs, args.rounds, load::HELLO, case);
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
    let summary = report::json(&targets, &machine, args.blocking_ms, &blocking);
    if let Err(e) = write_out(&args.out, &targets, &summary) {
        eprintln!(
            "cargo tinyfc bench: cannot write {}: {e}",
            args.out.display()
        );
        return 1;
    }
    println!("raw runs, summary and plot in {}/", args.out.display());
    0
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
    let call = load::Call::http("POST", &path);
    let case = Case {
        setting: Setting::Shared,
        quota: None,
        wrk: args.wrk,
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
