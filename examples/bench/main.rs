//! `make bench`: cold-start and throughput benchmark of FC functions, with the floor beside them.
//!
//! usage: bench [--runs N] [--warmup N] [--out DIR] [--dir DIR] [--target NAME=CMD]...
//!              [--load-secs S] [--rounds N] [--clients N] [--no-cold] [--no-load]
//!        bench layout OUT BINARY MAP [BINARY MAP ...]   (`make layout`: see layout.rs)
//!
//! A --target command may start with NAME=VALUE words, set in its environment (as in a shell).
//!
//! Cold start (N runs after warm-ups, targets interleaved A B A B ...): exec -> listening, exec ->
//! /initialize answered, exec -> first invocation answered, /pre-stop answered, SIGTERM -> exit, RSS
//! after the first answer, binary size. The floor (examples/floor.rs) is always the first target and
//! every ratio is over it. Throughput: keep-alive load from --clients threads (default 16), and from
//! 256, for --load-secs per target (default 6) in --rounds rounds (default 6) that alternate between
//! the targets that are FC runtimes (hello, tokio_hello, tokio_fc and any --target), after one
//! unrecorded warm-up round each; req/s is the
//! median round. tokio_fc is tokio_hello with FC_LINES=1: it prints the two FC lines per invocation
//! that tinyfc must, so it does the same work. The last column, `hello / it`, is hello's req/s over
//! the row's, taken round by round (the targets of a round run back to back) and then the median:
//! the machine's drift between rounds cancels out of it, unlike a ratio of the two medians.
//! Writes runs.csv, summary.json and cold-start.svg into --out (default bench-out).

mod cold;
mod layout;
mod load;
mod report;

use std::path::PathBuf;

use report::Target;

struct Args {
    runs: usize,
    warmup: usize,
    out: PathBuf,
    targets: Vec<(String, Vec<String>)>,
    load_targets: Vec<String>,
    load_secs: f64,
    rounds: usize,
    clients: usize,
    cold: bool,
    load: bool,
}

fn parse() -> Result<Args, String> {
    let mut dir = std::env::var("BENCH_DIR")
        .unwrap_or_else(|_| "target/x86_64-unknown-linux-musl/release".into());
    let mut a = Args {
        runs: 50,
        warmup: 5,
        out: PathBuf::from("bench-out"),
        targets: Vec::new(),
        load_targets: vec!["hello".into(), "tokio_hello".into(), "tokio_fc".into()],
        load_secs: 6.0,
        rounds: 6,
        clients: 16,
        cold: true,
        load: true,
    };
    let mut extra = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--runs" => a.runs = value()?.parse().map_err(|_| "bad --runs")?,
            "--warmup" => a.warmup = value()?.parse().map_err(|_| "bad --warmup")?,
            "--out" => a.out = PathBuf::from(value()?),
            "--dir" => dir = value()?,
            "--target" => {
                let v = value()?;
                let (name, cmd) = v.split_once('=').ok_or("--target takes NAME=CMD")?;
                extra.push((
                    name.to_string(),
                    cmd.split_whitespace().map(String::from).collect(),
                ));
                a.load_targets.push(name.to_string());
            }
            "--load-secs" => a.load_secs = value()?.parse().map_err(|_| "bad --load-secs")?,
            "--rounds" => a.rounds = value()?.parse().map_err(|_| "bad --rounds")?,
            "--clients" => a.clients = value()?.parse().map_err(|_| "bad --clients")?,
            "--no-cold" => a.cold = false,
            "--no-load" => a.load = false,
            other => return Err(format!("unknown option {other}")),
        }
    }
    a.targets
        .push(("floor".into(), vec![format!("{dir}/examples/floor")]));
    a.targets
        .push(("hello".into(), vec![format!("{dir}/examples/hello")]));
    a.targets.push((
        "tokio_hello".into(),
        vec![format!("{dir}/examples/tokio_hello")],
    ));
    // The same async server doing the FC lines every invocation must print: the like-for-like bar.
    a.targets.push((
        "tokio_fc".into(),
        vec!["FC_LINES=1".into(), format!("{dir}/examples/tokio_hello")],
    ));
    a.targets.extend(extra);
    Ok(a)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().is_some_and(|a| a == "layout") {
        if let Err(e) = layout::run(&argv[1..]) {
            eprintln!("bench layout: {e}");
            std::process::exit(1);
        }
        return;
    }
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    let mut targets: Vec<Target> = args
        .targets
        .iter()
        .map(|(name, cmd)| Target {
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
        // Every binary starts from the same page-cache state: read back by its first warm-up.
        for t in &targets {
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
        eprint!(
            "cold start: {} warm-up + {} runs per target, interleaved ",
            args.warmup, args.runs
        );
        for i in 0..args.warmup + args.runs {
            for t in targets.iter_mut() {
                match cold::run(&t.cmd) {
                    Ok(r) if i >= args.warmup => t.runs.push(r),
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
    if args.load {
        let mut loaded: Vec<&mut Target> = targets
            .iter_mut()
            .filter(|t| args.load_targets.contains(&t.name))
            .collect();
        for conns in [args.clients, 256] {
            eprintln!(
                "throughput: {} connections, {} rounds of {:.1} s per target, interleaved",
                conns,
                args.rounds,
                args.load_secs / args.rounds.max(1) as f64
            );
            let cmds: Vec<&[String]> = loaded.iter().map(|t| t.cmd.as_slice()).collect();
            let results = load::run(&cmds, conns, args.load_secs, args.rounds);
            for (t, r) in loaded.iter_mut().zip(results) {
                match r {
                    Ok(l) => t.loads.push(l),
                    Err(e) => eprintln!("{}: {e}", t.name),
                }
            }
        }
    }
    print!("{}", report::table(&targets));
    if let Err(e) = write_out(&args.out, &targets, &machine) {
        eprintln!("bench: cannot write {}: {e}", args.out.display());
        std::process::exit(1);
    }
    println!("raw runs, summary and plot in {}/", args.out.display());
}

fn write_out(dir: &std::path::Path, targets: &[Target], machine: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("runs.csv"), report::csv(targets))?;
    std::fs::write(dir.join("summary.json"), report::json(targets, machine))?;
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
