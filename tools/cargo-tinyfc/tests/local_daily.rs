//! `cargo tinyfc local` for daily work: --env-file, --concurrency, the report line, --lives and
//! --watch, through the real tool driving real functions.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tinyfc_harness::*;

fn local(args: &[&str], command: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"));
    cmd.arg("local").args(args).arg("--").args(command);
    cmd
}

fn probe() -> String {
    example("probe").to_str().unwrap().to_string()
}

/// A fresh temporary path for this test.
fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tinyfc-daily-{}-{name}", std::process::id()))
}

fn run(mut cmd: Command) -> (Option<i32>, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn env_file_variables_reach_the_instance_with_comments_and_quotes_understood() {
    let file = temp("vars.env");
    std::fs::write(
        &file,
        "# greeting\n\nGREETING=hello\nQUOTED=\"two words\"\nexport SINGLE='x=y'\n",
    )
    .unwrap();
    let script = format!(
        "echo \"env: $GREETING|$QUOTED|$SINGLE|$FC_REGION\"; exec {}",
        probe()
    );
    let (code, out, _) = run(local(
        &["--once", "--env-file", file.to_str().unwrap()],
        &["sh", "-c", &script],
    ));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("env: hello|two words|x=y|cn-hangzhou"),
        "{out}"
    );
}

#[test]
fn a_bad_env_file_line_is_a_usage_error_naming_the_line() {
    let file = temp("bad.env");
    std::fs::write(&file, "# ok\nA=1\nthis is not a pair\n").unwrap();
    let (code, _, err) = run(local(
        &["--once", "--env-file", file.to_str().unwrap()],
        &[&probe()],
    ));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn every_invocation_is_followed_by_fcs_report_line_with_the_instances_peak_memory() {
    let (code, out, _) = run(local(&["--invoke", "2", "--memory", "1024"], &[&probe()]));
    assert_eq!(code, Some(0), "{out}");
    let reports: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("report RequestId: 1-"))
        .collect();
    assert_eq!(reports.len(), 2, "{out}");
    for line in reports {
        let tail = line.split_once(" Duration: ").expect(line).1;
        assert!(tail.contains(" ms, Billed Duration: "), "{line}");
        assert!(
            tail.contains(" ms, Memory Size: 1024 MB, Max Memory Used: "),
            "{line}"
        );
        let used = line.rsplit("Max Memory Used: ").next().unwrap();
        let mb: f64 = used.trim_end_matches(" MB").parse().expect(line);
        assert!(mb > 0.0, "{line}");
        let billed = tail.split("Billed Duration: ").nth(1).unwrap();
        let billed: u64 = billed.split(' ').next().unwrap().parse().expect(line);
        assert!(billed >= 1, "{line}");
    }
}

/// The platform serving probe with `args`, once its instance is initialized.
fn serving(args: &[&str]) -> Function {
    let mut all = vec!["--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let cmd = local(&all, &[&probe()]);
    let f = Function::spawn(cmd, "front door on http://127.0.0.1:");
    assert!(f.wait_stdout("initialized: RequestId"), "{}", f.stdout());
    f
}

/// Sends `n` GET /sleep/MS at once; their statuses.
fn sleeps_at_once(f: &Function, n: usize, ms: u64) -> Vec<u16> {
    let mut calls = calls_in_flight(f, n, &format!("/sleep/{ms}"));
    calls
        .iter_mut()
        .map(|s| status_of(&read_to_close(s)))
        .collect()
}

/// How many invocations the function had in flight at most, from its Start/End log lines.
fn most_in_flight(out: &str) -> usize {
    let (mut now, mut most) = (0usize, 0usize);
    for line in out.lines() {
        if line.starts_with("FC Invoke Start") {
            now += 1;
            most = most.max(now);
        } else if line.starts_with("FC Invoke End") {
            now = now.saturating_sub(1);
        }
    }
    most
}

#[test]
fn concurrency_1_sends_one_invocation_at_a_time_and_throttles_past_the_queue_limit() {
    let mut f = serving(&["--concurrency", "1", "--queue-limit", "1"]);
    let mut statuses = sleeps_at_once(&f, 3, 1500);
    statuses.sort();
    assert_eq!(statuses, [200, 200, 429], "{}", f.stdout());
    f.signal(libc::SIGTERM);
    assert!(f.wait_exit(HANG).is_some());
    let out = f.stdout();
    assert_eq!(count(&out, "FC Invoke End"), 2, "{out}");
    assert_eq!(most_in_flight(&out), 1, "{out}");
    assert!(out.contains("-> 429:"), "{out}");
}

#[test]
fn concurrency_n_lets_n_invocations_into_the_instance_at_once() {
    let mut f = serving(&["--concurrency", "3"]);
    let statuses = sleeps_at_once(&f, 3, 1500);
    assert_eq!(statuses, [200, 200, 200], "{}", f.stdout());
    f.signal(libc::SIGTERM);
    assert!(f.wait_exit(HANG).is_some());
    assert_eq!(most_in_flight(&f.stdout()), 3, "{}", f.stdout());
}

#[test]
fn lives_2_initializes_invokes_and_pre_stops_twice_on_the_same_instance() {
    let (code, out, _) = run(local(&["--invoke", "2", "--lives", "2"], &[&probe()]));
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(count(&out, "started: pid"), 1, "{out}");
    assert_eq!(count(&out, "FC Initialize Start"), 2, "{out}");
    assert_eq!(count(&out, "FC PreStop Start"), 2, "{out}");
    for line in [
        "life 1: begins",
        "life 1: pre-stop succeeded",
        "life 2: begins",
        // Invocations are counted across lives: the second life's pre-stop sees all four.
        "probe: pre-stop after 2 invocations",
        "probe: pre-stop after 4 invocations",
        "all steps succeeded",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
}

#[test]
fn the_instances_last_output_is_passed_through_before_the_platform_says_it_exited() {
    // At SIGTERM the instance (a shell running the probe) prints 100,000 lines, more than a pipe
    // holds, and exits 0: all of them reach the platform's output, before its own last lines.
    let script = format!("trap 'seq 1 100000; exit 0' TERM; {} & wait", probe());
    let (code, out, _) = run(local(&["--once"], &["sh", "-c", &script]));
    let tail = || out.get(out.len().saturating_sub(2000)..).unwrap_or(&out);
    assert_eq!(code, Some(0), "{}", tail());
    let last = out.find("\n100000\n").expect("the instance's last line");
    let exited = out.find("instance exited").expect("the platform's line");
    assert!(last < exited, "{}", tail());
}

#[test]
fn lives_exit_1_when_a_later_lifes_initializer_fails() {
    let mut cmd = local(
        &["--once", "--lives", "2", "--init-retries", "0"],
        &[&probe()],
    );
    cmd.env("PROBE_INIT_FAIL", "fatal")
        .env("PROBE_INIT_FROM", "2");
    let (code, out, _) = run(cmd);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("life 1: pre-stop succeeded"), "{out}");
    assert!(out.contains("life 2: initialization failed"), "{out}");
    assert!(out.contains("a step failed"), "{out}");
}

#[test]
fn new_options_reject_bad_combinations_with_exit_2() {
    for args in [
        &["--concurrency", "0", "--", "x"][..],
        &["--concurrency", "201", "--", "x"],
        &["--lives", "2", "--", "x"],
        &["--lives", "0", "--once", "--", "x"],
        &["--watch"],
        &["--watch", "--once", "--bin", "f"],
        &["--bin", "f", "--example", "g"],
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"));
        cmd.arg("local").args(args);
        let (code, _, err) = run(cmd);
        assert_eq!(code, Some(2), "{args:?}: {err}");
    }
}

/// A crate depending on this repository's tinyfc that answers `text`.
fn write_function(dir: &Path, text: &str) {
    let main = format!(
        "fn main() -> std::io::Result<()> {{\n    \
         tinyfc::run(tinyfc::Function::new(|_: &(), _ctx: &tinyfc::Context, _req: tinyfc::Request| {{\n            \
         Ok(tinyfc::Response::text(\"{text}\"))\n        }}))\n}}\n"
    );
    let mut file = std::fs::File::create(dir.join("src/main.rs")).unwrap();
    file.write_all(main.as_bytes()).unwrap();
}

/// GET / through the front door, until it answers `text` or `limit` passes.
fn answers(f: &Function, text: &str, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Ok(r) = tinyfc::client::request(f.addr(), "GET", "/", &[], b"", HANG) {
            if r.text() == text {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

#[test]
fn watch_rebuilds_and_restarts_the_instance_on_a_change_and_keeps_it_when_the_build_fails() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = temp("watched");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"watched\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\ntinyfc = {{ path = {:?} }}\n\n[workspace]\n",
            repo.canonicalize().unwrap()
        ),
    )
    .unwrap();
    // The workspace's lock: the same versions, nothing to resolve, no network.
    std::fs::copy(repo.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    write_function(&dir, "version 1");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("watch-target");
    let manifest = dir.join("Cargo.toml");
    let cargo_env = |cmd: &mut Command| {
        cmd.env("CARGO", env!("CARGO"))
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_NET_OFFLINE", "true");
    };
    // The first build (tinyfc and its dependencies) outside the watch, without a time limit.
    let mut build = Command::new(env!("CARGO"));
    build
        .args(["build", "--quiet", "--manifest-path"])
        .arg(&manifest);
    cargo_env(&mut build);
    assert!(build.status().unwrap().success());

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"));
    cmd.args([
        "local",
        "--listen",
        "127.0.0.1:0",
        "--watch",
        "--bin",
        "watched",
    ])
    .arg("--manifest-path")
    .arg(&manifest);
    cargo_env(&mut cmd);
    let mut f = Function::spawn(cmd, "front door on http://127.0.0.1:");
    let generous = Duration::from_secs(240);
    assert!(answers(&f, "version 1", generous), "{}", f.stdout());

    write_function(&dir, "version 2");
    assert!(answers(&f, "version 2", generous), "{}", f.stdout());
    let out = f.stdout();
    assert!(out.contains("changed: rebuilding"), "{out}");
    assert_eq!(count(&out, "started: pid"), 2, "{out}");
    // The old instance was stopped in FC's order before the new one started.
    assert!(out.contains("pre-stop: RequestId"), "{out}");

    std::fs::write(
        dir.join("src/main.rs"),
        "fn main() { this does not compile }\n",
    )
    .unwrap();
    let until = Instant::now() + generous;
    while !f.stdout().contains("the running instance keeps serving") && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        f.stdout().contains("the running instance keeps serving"),
        "{}",
        f.stdout()
    );
    assert!(answers(&f, "version 2", HANG), "{}", f.stdout());
    assert_eq!(count(&f.stdout(), "started: pid"), 2, "{}", f.stdout());
    f.signal(libc::SIGTERM);
    assert_eq!(
        f.wait_exit(HANG).and_then(|s| s.code()),
        Some(0),
        "{}",
        f.stdout()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A function that answers every request with its body (pre-stop too); its port.
fn echo_function() -> u16 {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match conn.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while buf.len() < end + 4 + length {
                        match conn.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: Vec<u8> = buf.drain(..end + 4 + length).skip(end + 4).collect();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nx-fc-status: 200\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    );
                    if conn.write_all(head.as_bytes()).is_err() || conn.write_all(&body).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn event_example_sends_the_triggers_documented_sample_as_the_event() {
    let port = echo_function().to_string();
    let (code, out, _) = run(local(
        &[
            "--once",
            "--no-initializer",
            "--port",
            &port,
            "--external-function",
            "--event-example",
            "oss",
        ],
        &["sleep", "600"],
    ));
    assert_eq!(code, Some(0), "{out}");
    let sample = tinyfc::events::fixtures::example("oss").unwrap();
    assert!(sample.contains("ObjectCreated"), "{sample}");
    assert!(out.contains(&format!("response body: {sample}")), "{out}");
}

#[test]
fn an_unknown_event_example_is_a_usage_error_listing_the_names() {
    let (code, _, err) = run(local(&["--once", "--event-example", "nope"], &[&probe()]));
    assert_eq!(code, Some(2), "{err}");
    for name in tinyfc::events::fixtures::NAMES {
        assert!(err.contains(name), "{name} missing in {err}");
    }
}
