//! `cargo tinyfc local` driving the probe and hello examples as FC would.

use std::collections::HashSet;
use std::process::Command;

use tinyfc_harness::*;

/// `cargo-tinyfc local`, to be given its options.
fn local_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"));
    cmd.arg("local");
    cmd
}

fn local(args: &[&str], function: &str, env: &[(&str, &str)]) -> Command {
    let mut cmd = local_cmd();
    cmd.args(args).arg("--").arg(example(function));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// The local platform serving its front door on a free port.
fn serving(args: &[&str], env: &[(&str, &str)]) -> Function {
    let mut all = vec!["--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    Function::spawn(local(&all, "probe", env), "front door on http://127.0.0.1:")
}

fn pids(out: &str) -> HashSet<String> {
    out.lines()
        .filter_map(|l| l.split("started: pid ").nth(1))
        .map(|rest| rest.split(',').next().unwrap().to_string())
        .collect()
}

#[test]
fn once_runs_every_step_and_exits_0() {
    let out = local(&["--once"], "hello", &[]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for step in [
        "instance listening after",
        "initialized: RequestId 1-",
        "Init Duration:",
        "status 200 (x-fc-status 200)",
        "response body: Hello, World!",
        "answered 200",
        "exit status: 0",
        "all steps succeeded",
    ] {
        assert!(text.contains(step), "missing {step:?} in\n{text}");
    }
}

#[test]
fn once_exits_1_when_initialization_fails() {
    let out = local(
        &["--once", "--max-restarts", "0"],
        "probe",
        &[("PROBE_INIT_FAIL", "fatal")],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("initialization failed"), "{text}");
    assert!(text.contains("a step failed"), "{text}");
}

#[test]
fn invoke_n_sends_n_event_invocations_with_the_event_file() {
    let dir = std::env::temp_dir().join(format!("tinyfc-local-event-{}", std::process::id()));
    std::fs::write(&dir, b"{\"k\":1}").unwrap();
    let event = dir.to_str().unwrap();
    let out = local(&["--invoke", "3", "--event", event], "probe", &[])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(count(&text, "FC Invoke Start"), 3, "{text}");
    assert!(
        text.contains("probe: pre-stop after 3 invocations"),
        "{text}"
    );
    let _ = std::fs::remove_file(dir);
}

#[test]
fn retries_the_initializer_on_404_and_the_caller_never_sees_the_failures() {
    let f = serving(&[], &[("PROBE_INIT_FAIL", "retry:3")]);
    let r = f.request("GET", "/state", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(r#""init_runs":4"#), "{}", r.text());
    assert_eq!(r.header("X-Fc-Error-Type"), None);
    assert_eq!(count(&f.stdout(), "initializer answered 404"), 3);
    assert_eq!(
        pids(&f.stdout()).len(),
        1,
        "no restart for a retryable failure"
    );
}

#[test]
fn restarts_the_instance_on_500_with_a_new_process_then_reports_initialization_error() {
    let f = serving(&["--max-restarts", "2"], &[("PROBE_INIT_FAIL", "fatal")]);
    let r = f.request("GET", "/anything", &[], b"");
    assert_eq!(
        r.status, 200,
        "FC answers an initialization failure with 200"
    );
    assert_eq!(r.header("X-Fc-Error-Type"), Some("InitializationError"));
    assert!(r.text().contains(r#""errorMessage":""#), "{}", r.text());
    assert!(r.text().contains("probe fatal"), "{}", r.text());
    assert_eq!(
        pids(&f.stdout()).len(),
        3,
        "three processes:\n{}",
        f.stdout()
    );
    assert_eq!(count(&f.stdout(), "restarting the instance"), 2);
}

#[test]
fn restarts_the_instance_when_the_initializer_panics() {
    let f = serving(&["--max-restarts", "1"], &[("PROBE_INIT_FAIL", "panic")]);
    let r = f.request("GET", "/", &[], b"");
    assert_eq!(r.header("X-Fc-Error-Type"), Some("InitializationError"));
    assert!(r.text().contains("probe init panic"), "{}", r.text());
    assert_eq!(pids(&f.stdout()).len(), 2);
}

#[test]
fn handler_error_reaches_the_caller_as_unhandled_invocation_error() {
    let f = serving(&[], &[]);
    let r = f.request("GET", "/error", &[], b"");
    assert_eq!(r.status, 500);
    assert_eq!(
        r.header("X-Fc-Error-Type"),
        Some("UnhandledInvocationError")
    );
    assert!(r.text().contains(r#""errorMessage":"probe error""#));
    assert_eq!(
        r.header("x-fc-status"),
        None,
        "the platform's header stays inside"
    );
    let ok = f.request("GET", "/fine", &[], b"");
    assert_eq!((ok.status, ok.header("X-Fc-Error-Type")), (200, None));
}

#[test]
fn invoke_function_path_becomes_an_event_invocation() {
    let f = serving(&["--function-name", "fx"], &[]);
    let r = f.request("POST", "/2023-03-30/functions/fx/invocations", &[], b"evt");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert!(f.wait_stdout("POST /2023-03-30/functions/fx/invocations -> 200"));
}

#[test]
fn platform_headers_are_injected_and_caller_x_fc_headers_dropped() {
    let f = serving(
        &[
            "--function-name",
            "my-fn",
            "--region",
            "cn-shanghai",
            "--memory",
            "1024",
            "--timeout",
            "9",
        ],
        &[("ALIBABA_CLOUD_ACCESS_KEY_ID", "AKID-from-env")],
    );
    let r = f.request("GET", "/context", &[("x-fc-function-name", "spoofed")], b"");
    let body = r.text();
    for field in [
        r#""function_name":"my-fn""#,
        r#""region":"cn-shanghai""#,
        r#""memory_mb":1024"#,
        r#""timeout_s":9"#,
        r#""access_key_id":"AKID-from-env""#,
        r#""control_path":"/http-invoke""#,
        r#""request_id":"1-"#,
        r#""function_handler":"index.handler""#,
        r#""qualifier":"LATEST""#,
        r#""service_name":"local-service""#,
        r#""account_id":"1234567890""#,
        r#""version_id":"1""#,
    ] {
        assert!(body.contains(field), "missing {field} in {body}");
    }
    assert!(r
        .header("X-Fc-Request-Id")
        .is_some_and(|id| id.starts_with("1-")));
}

#[test]
fn fc_limits_apply_at_the_front_door() {
    let f = serving(&[], &[]);
    let long_path = format!("/{}", "p".repeat(5000));
    assert_eq!(f.request("GET", &long_path, &[], b"").status, 400);
    let big = "v".repeat(9000);
    assert_eq!(f.request("GET", "/", &[("x-big", &big)], b"").status, 400);
    assert_eq!(f.request("GET", "/", &[], b"").status, 200);
}

#[test]
fn sigterm_stops_with_pre_stop_then_sigterm_to_the_instance() {
    let mut f = serving(&[], &[]);
    assert_eq!(f.request("GET", "/", &[], b"").status, 200);
    f.signal(libc::SIGTERM);
    let status = f.wait_exit(HANG).expect("the platform did not stop");
    assert_eq!(status.code(), Some(0));
    let out = f.stdout();
    let order = [
        "signal received: stopping",
        "FC PreStop Start",
        "probe: pre-stop after 1 invocations",
        "sending SIGTERM to pid",
        "exit status: 0",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|s| {
            out.find(s)
                .unwrap_or_else(|| panic!("missing {s:?} in\n{out}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "out of order:\n{out}");
}

#[test]
fn idle_stop_stops_after_the_idle_period() {
    let mut f = serving(&["--idle-stop", "0.5"], &[]);
    let status = f.wait_exit(HANG).expect("idle-stop did not stop");
    assert_eq!(status.code(), Some(0));
    assert!(f.stdout().contains("idle for"));
}

/// The (pid, port) of every instance the platform started, from its `started: pid N, port P` lines.
fn instances(out: &str) -> Vec<(i32, u16)> {
    out.lines()
        .filter_map(|l| l.split("started: pid ").nth(1))
        .map(|rest| {
            let (pid, port) = rest.split_once(", port ").unwrap();
            (pid.parse().unwrap(), port.trim().parse().unwrap())
        })
        .collect()
}

/// True if something still accepts connections on 127.0.0.1:`port`.
fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// The local platform serving a shell wrapper around the probe that ignores SIGTERM and does not `exec`:
/// the probe is the shell's child, in the instance's process group.
fn serving_stubborn_wrapper(args: &[&str]) -> Function {
    let mut cmd = local_cmd();
    let script = format!("trap '' TERM; {}; exit 0", example("probe").display());
    cmd.args(["--listen", "127.0.0.1:0"])
        .args(args)
        .args(["--", "sh", "-c", &script]);
    Function::spawn(cmd, "front door on http://127.0.0.1:")
}

#[test]
fn restarts_an_instance_that_crashes_while_serving() {
    let f = serving(&[], &[]);
    assert_eq!(f.request("GET", "/", &[], b"").status, 200);
    let (first, _) = instances(&f.stdout())[0];
    // SAFETY: kill(2) on the instance the platform started for this test.
    unsafe { libc::kill(first, libc::SIGKILL) };
    assert!(f.wait_stdout("the instance exited unexpectedly (signal: 9"));
    let r = f.request("GET", "/state", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains(r#""invocations":0"#),
        "a fresh process: {}",
        r.text()
    );
    let all = instances(&f.stdout());
    assert_eq!(all.len(), 2, "{}", f.stdout());
    assert_ne!(all[0].0, all[1].0);
    assert_eq!(count(&f.stdout(), "initialized: RequestId"), 2);
}

#[test]
fn initializer_past_init_timeout_restarts_the_instance() {
    let f = serving(
        &["--init-timeout", "0.3", "--max-restarts", "1"],
        &[("PROBE_INIT_MS", "5000")],
    );
    let r = f.request("GET", "/", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Fc-Error-Type"), Some("InitializationError"));
    assert!(
        r.text().contains("initializer timed out after 0.3 s"),
        "{}",
        r.text()
    );
    assert_eq!(instances(&f.stdout()).len(), 2, "{}", f.stdout());
}

#[test]
fn stop_lets_the_runtime_drain_an_in_flight_invocation_before_pre_stop() {
    let mut f = serving(&[], &[]);
    let port = f.port;
    let caller = std::thread::spawn(move || {
        let mut c = Connection::connect(("127.0.0.1", port), HANG).unwrap();
        c.request("GET", "/sleep/2000", &[], b"").unwrap()
    });
    assert!(f.wait_stdout("FC Invoke Start"));
    f.signal(libc::SIGTERM);
    let r = caller.join().unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "slept 2000"));
    assert_eq!(f.wait_exit(HANG).and_then(|s| s.code()), Some(0));
    let out = f.stdout();
    let at = |s: &str| {
        out.find(s)
            .unwrap_or_else(|| panic!("missing {s:?} in\n{out}"))
    };
    assert!(at("signal received") < at("FC Invoke End"), "{out}");
    assert!(at("FC Invoke End") < at("FC PreStop End"), "{out}");
    // The hook runs inside the pre-stop call, and local sends SIGTERM only once that call is
    // answered. Both lines come through the function's stdout pipe, so their order is the
    // function's (local's own lines, such as "sending SIGTERM", reach stdout another way).
    assert!(
        at("probe: pre-stop after 1 invocations") < at("FC PreStop End"),
        "{out}"
    );
}

#[test]
fn requests_after_stop_began_are_refused_with_503() {
    // Pre-stop runs long, so the front door is still up while the platform stops.
    let mut f = serving(&[], &[("PROBE_PRESTOP_MS", "2500")]);
    assert_eq!(f.request("GET", "/", &[], b"").status, 200);
    let mut c = f.connect();
    assert_eq!(c.request("GET", "/", &[], b"").unwrap().status, 200);
    f.signal(libc::SIGTERM);
    assert!(f.wait_stdout("FC PreStop Start"));
    let r = c.request("GET", "/", &[], b"").unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        r.text().contains(r#""errorCode":"InstanceStopping""#),
        "{}",
        r.text()
    );
    assert_eq!(f.wait_exit(HANG).and_then(|s| s.code()), Some(0));
    assert_eq!(count(&f.stdout(), "FC Invoke Start"), 2, "{}", f.stdout());
}

#[test]
fn an_instance_lingering_past_the_grace_period_is_killed_with_its_whole_group() {
    let mut f = serving_stubborn_wrapper(&["--grace", "0.5"]);
    assert_eq!(f.request("GET", "/", &[], b"").status, 200);
    let (_, port) = instances(&f.stdout())[0];
    assert!(listening(port));
    f.signal(libc::SIGTERM);
    let status = f.wait_exit(HANG).expect("the platform did not stop");
    let out = f.stdout();
    assert!(out.contains("probe: pre-stop after 1 invocations"), "{out}");
    assert!(
        out.contains("lingered past 0.5 s after SIGTERM: killed"),
        "{out}"
    );
    assert!(out.contains("signal: 9"), "{out}");
    assert_eq!(status.code(), Some(1), "a killed instance is a failed stop");
    assert!(
        !listening(port),
        "the shell's child (the probe) was killed too"
    );
}

#[test]
fn a_second_signal_kills_the_instance_at_once() {
    let mut f = serving_stubborn_wrapper(&["--grace", "600"]);
    assert_eq!(f.request("GET", "/", &[], b"").status, 200);
    let (_, port) = instances(&f.stdout())[0];
    f.signal(libc::SIGTERM);
    assert!(f.wait_stdout("sending SIGTERM"));
    f.signal(libc::SIGTERM);
    let status = f
        .wait_exit(HANG)
        .expect("the second signal did not stop it");
    assert_eq!(status.code(), Some(130));
    assert!(f.stdout().contains("second signal: stopping at once"));
    assert!(!listening(port));
}

#[test]
fn a_signal_during_start_up_stops_the_instance_that_never_listened() {
    let mut cmd = local_cmd();
    cmd.args(["--listen", "127.0.0.1:0", "--", "sleep", "600"]);
    let mut f = Function::spawn(cmd, "front door on http://127.0.0.1:");
    assert!(f.wait_stdout("started: pid"));
    let (pid, _) = instances(&f.stdout())[0];
    f.signal(libc::SIGTERM);
    let status = f.wait_exit(HANG).expect("the platform did not stop");
    assert_eq!(status.code(), Some(0), "dying of SIGTERM is a clean stop");
    let out = f.stdout();
    assert!(
        out.contains("the instance never listened: no pre-stop"),
        "{out}"
    );
    assert!(out.contains("signal: 15"), "{out}");
    // SAFETY: signal 0 only checks whether the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    assert!(!alive, "the instance (pid {pid}) was left running");
}

#[test]
fn once_interrupted_by_a_signal_still_stops_the_instance_and_exits_1() {
    let mut cmd = local(
        &["--once", "--prestop-timeout", "1", "--grace", "1"],
        "probe",
        &[("PROBE_INIT_MS", "60000")],
    );
    cmd.stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut text = String::new();
        for line in std::io::BufReader::new(out).lines() {
            let line = line.unwrap();
            if line.contains("FC Initialize Start") {
                // SAFETY: kill(2) on the platform this test started.
                unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            }
            text.push_str(&line);
            text.push('\n');
        }
        (text, child.wait().unwrap())
    });
    let (text, status) = reader.join().unwrap();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("signal received: stopping"), "{text}");
    assert!(text.contains("a step failed"), "{text}");
    assert!(!text.contains("FC Initialize End"), "{text}");
    assert!(text.contains("pre-stop: RequestId 1-"), "{text}");
    assert!(text.contains("timed out after 1 s"), "{text}");
}

#[test]
fn async_invoke_function_answers_202_then_runs_the_event() {
    let f = serving(&[], &[]);
    let path = "/2023-03-30/functions/local-function/invocations";
    let asynchronous = [("x-fc-invocation-type", "Async")];
    let r = f.request("POST", path, &asynchronous, b"later");
    assert_eq!(r.status, 202, "{}", r.text());
    let rid = r
        .header("X-Fc-Request-Id")
        .expect("a request id")
        .to_string();
    assert!(f.wait_stdout(&format!("async invoke RequestId {rid}: attempt 1/4 -> 200")));
    assert!(f
        .stdout()
        .contains(&format!("FC Invoke End RequestId: {rid}")));
    let big = vec![b'e'; 128 * 1024 + 1];
    assert_eq!(f.request("POST", path, &asynchronous, &big).status, 413);
    assert_eq!(
        f.request("POST", path, &[], &big).status,
        200,
        "sync allows 32 MB"
    );
}

#[test]
fn once_exits_1_when_pre_stop_fails_even_if_the_invocation_succeeded() {
    let out = local(&["--once"], "probe", &[("PROBE_PRESTOP_FAIL", "1")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("status 200 (x-fc-status 200)"), "{text}");
    assert!(text.contains("answered 404"), "{text}");
    assert!(text.contains("a step failed"), "{text}");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let run = |args: &[&str]| local_cmd().args(args).output().unwrap();
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for option in [
        "--listen",
        "--once",
        "--invoke",
        "--idle-stop",
        "--grace",
        "--init-timeout",
    ] {
        assert!(text.contains(option), "{option} undocumented in --help");
    }
    // No command, and no s.yaml or Cargo.toml to find one in.
    let nothing = local_cmd()
        .arg("--once")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&nothing.stderr);
    assert_eq!(nothing.status.code(), Some(2), "no command: {err}");
    assert!(err.contains("no function command"), "{err}");
    assert_eq!(run(&["--bogus", "--", "x"]).status.code(), Some(2));
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    assert_eq!(
        run(&["--listen", &addr, "--", "true"]).status.code(),
        Some(2)
    );
}

#[test]
fn a_pooled_connection_the_function_closed_while_idle_is_replaced_transparently() {
    // The function closes idle keep-alive connections after 200 ms (Node.js does after 5 s).
    let f = serving(&[], &[("TINYFC_IDLE_TIMEOUT_MS", "200")]);
    assert_eq!(f.request("GET", "/", &[], b"").status, 200);
    std::thread::sleep(std::time::Duration::from_millis(600));
    let r = f.request("GET", "/", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert_eq!(count(&f.stdout(), "FC Invoke Start"), 2, "{}", f.stdout());
}

#[test]
fn idle_stop_does_not_count_a_request_in_progress_as_idle() {
    let mut f = serving(&["--idle-stop", "1"], &[]);
    let r = f.request("GET", "/sleep/2500", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "slept 2500"));
    assert_eq!(f.wait_exit(HANG).and_then(|s| s.code()), Some(0));
    let out = f.stdout();
    assert!(
        out.find("FC Invoke End").unwrap() < out.find("idle for").unwrap(),
        "{out}"
    );
}

#[test]
fn credentials_never_appear_in_the_output_even_at_trace_level() {
    let secret = "SECRET-never-printed-4711";
    let token = "TOKEN-never-printed-4712";
    let mut f = serving(
        &[],
        &[
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", token),
            ("RUST_LOG", "trace"),
        ],
    );
    assert_eq!(f.request("GET", "/context", &[], b"").status, 200);
    assert_eq!(f.request("GET", "/error", &[], b"").status, 500);
    f.signal(libc::SIGTERM);
    assert_eq!(f.wait_exit(HANG).and_then(|s| s.code()), Some(0));
    let all = f.stdout() + &f.stderr();
    assert!(all.contains("FC PreStop End"), "{all}");
    assert!(!all.contains(secret) && !all.contains(token), "{all}");
}

#[test]
fn a_body_over_32_mb_is_refused_with_413_before_it_is_sent() {
    use std::io::{Read, Write};
    let f = serving(&[], &[]);
    let mut s = f.raw();
    s.write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 33554433\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_eq!(count(&f.stdout(), "FC Invoke Start"), 0);
}

#[test]
fn killing_tinyfc_local_outright_takes_the_instance_with_it() {
    let mut f = serving(&[], &[]);
    assert_eq!(f.request("GET", "/", &[], b"").status, 200);
    let (pid, port) = instances(&f.stdout())[0];
    f.signal(libc::SIGKILL);
    assert!(f.wait_exit(HANG).is_some());
    let until = std::time::Instant::now() + HANG;
    while listening(port) && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        !listening(port),
        "the instance (pid {pid}) outlived the platform"
    );
}

#[test]
fn the_callers_host_header_reaches_the_function_once() {
    let f = serving(&[], &[("RUST_LOG", "trace")]);
    let r = f.request("GET", "/hosted", &[("Host", "caller.example")], b"");
    assert_eq!(r.status, 200);
    // The harness reads stdout on its own thread: wait for the call's last line, not its first.
    assert!(f.wait_stdout("FC Invoke End"), "{}", f.stdout());
    let out = f.stdout();
    let request_log = &out[out.find("GET /hosted").unwrap()..];
    let request_log = &request_log[..request_log
        .find("FC Invoke End")
        .unwrap_or(request_log.len())];
    assert_eq!(count(request_log, "header host: "), 1, "{request_log}");
    assert!(
        request_log.contains("header host: caller.example"),
        "{request_log}"
    );
}

#[test]
fn once_refuses_a_port_another_process_listens_on_and_calls_nothing_there() {
    // Another function (here: this test) already holds the port the function is given.
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = local(&["--once", "--port", &port], "hello", &[])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("port {port} is already in use")),
        "{text}"
    );
    taken.set_nonblocking(true).unwrap();
    assert!(
        taken.accept().is_err(),
        "the platform called the other process"
    );
}

/// Not a test of its own: the function of the test below, run as the instance by re-executing
/// this test binary. It listens on 127.0.0.1:$FC_SERVER_PORT alone.
#[test]
#[ignore]
fn loopback_only_function() {
    let Ok(port) = std::env::var("FC_SERVER_PORT") else {
        return;
    };
    let listener = std::net::TcpListener::bind(("127.0.0.1", port.parse().unwrap())).unwrap();
    for conn in listener.incoming() {
        drop(conn);
    }
}

#[test]
fn a_function_listening_on_loopback_only_fails_to_start_as_on_fc() {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = local_cmd();
    cmd.args(["--once", "--max-restarts", "0", "--no-initializer", "--"])
        .arg(exe)
        .args(["loopback_only_function", "--exact", "--ignored"]);
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("listens on 127.0.0.1:"), "{text}");
    assert!(text.contains("FunctionNotStarted"), "{text}");
}
