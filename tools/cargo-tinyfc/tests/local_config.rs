//! `cargo tinyfc local` configured by the s.yaml the function is deployed with (flags override),
//! and calling an HTTP function the way it is called (`--http METHOD PATH`, `--base-path`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tinyfc_harness::*;

/// A fresh directory holding `s.yaml` with `text`.
fn dir_with(name: &str, text: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("tinyfc-local-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("s.yaml"), text).unwrap();
    dir
}

const S_YAML: &str = "\
edition: 3.0.0
name: app
vars:
  region: cn-shanghai
  memory: 128
resources:
  probe:
    component: fc3
    props:
      region: ${vars.region}
      functionName: my-probe
      runtime: custom.debian12
      code: ./code
      memorySize: ${vars.memory}
      timeout: 30
      instanceConcurrency: 10
      environmentVariables:
        GREETING: from-s-yaml
      instanceLifecycleConfig:
        initializer:
          handler: index.initializer
          timeout: 7
      triggers:
        - triggerName: http
          triggerType: http
          triggerConfig:
            authType: anonymous
            methods: [GET]
";

/// `cargo tinyfc local ARGS -- probe` run in `dir`.
fn local_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"))
        .current_dir(dir)
        .arg("local")
        .args(args)
        .arg("--")
        .arg(example("probe"))
        .output()
        .unwrap()
}

#[test]
fn the_function_runs_with_its_s_yaml_props() {
    let dir = dir_with("props", S_YAML);
    let out = local_in(&dir, &["--once", "--http", "GET", "/context"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for seen in [
        "configuration: s.yaml, resource probe",
        r#""function_name":"my-probe""#,
        r#""region":"cn-shanghai""#,
        r#""memory_mb":128"#,
        r#""timeout_s":30"#,
        "Memory Size: 128 MB",
        "initialized: RequestId",
        r#""route_path":"/context""#,
    ] {
        assert!(text.contains(seen), "missing {seen:?} in\n{text}");
    }
    // No preStop hook in s.yaml: FC calls no /pre-stop.
    assert!(!text.contains("FC PreStop Start"), "{text}");
}

#[test]
fn flags_override_s_yaml() {
    let dir = dir_with("flags", S_YAML);
    let out = local_in(
        &dir,
        &[
            "--once",
            "--memory",
            "256",
            "--function-name",
            "other",
            "--http",
            "GET",
            "/context",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(r#""memory_mb":256"#), "{text}");
    assert!(text.contains(r#""function_name":"other""#), "{text}");
}

#[test]
fn base_path_calls_the_function_as_fc_does_without_a_custom_domain() {
    let dir = dir_with("base", S_YAML);
    let out = local_in(
        &dir,
        &["--once", "--http", "GET", "/context", "--base-path"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(r#""base_path":"/2016-08-15/proxy/local-service/my-probe/""#),
        "{text}"
    );
    assert!(text.contains(r#""route_path":"/context""#), "{text}");
}

#[test]
fn a_method_the_http_trigger_does_not_allow_is_refused_at_the_front_door() {
    let dir = dir_with("methods", S_YAML);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"));
    cmd.current_dir(&dir)
        .args(["local", "--listen", "127.0.0.1:0", "--port", "0", "--"])
        .arg(example("probe"));
    let local = Function::spawn(cmd, "front door on http://127.0.0.1:");
    let r = local.request("POST", "/echo", &[], b"x");
    assert_eq!(r.status, 405, "{}", r.text());
    assert!(r.text().contains("MethodNotAllowed"), "{}", r.text());
    assert_eq!(local.request("GET", "/state", &[], b"").status, 200);
}

#[test]
fn once_http_with_a_method_the_http_trigger_does_not_allow_fails_the_step_as_the_front_door_does() {
    let dir = dir_with("once-methods", S_YAML);
    let out = local_in(&dir, &["--once", "--http", "POST", "/echo"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("POST /echo -> 405: the HTTP trigger does not allow POST (its methods: GET)"),
        "{text}"
    );
    assert!(text.contains("a step failed"), "{text}");
    // The method the trigger lists still goes through.
    let out = local_in(&dir, &["--once", "--http", "get", "/state"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_zero_hook_timeout_is_a_usage_error_naming_its_prop_or_option() {
    let with_pre_stop = S_YAML.replace(
        "          timeout: 7\n",
        "          timeout: 7\n        preStop:\n          handler: index.preStop\n          timeout: 0\n",
    );
    for (name, yaml, args, says) in [
        (
            "init-yaml",
            S_YAML.replace("timeout: 7", "timeout: 0"),
            &["--once"][..],
            "instanceLifecycleConfig.initializer.timeout",
        ),
        (
            "prestop-yaml",
            with_pre_stop,
            &["--once"][..],
            "instanceLifecycleConfig.preStop.timeout",
        ),
        (
            "init-flag",
            S_YAML.to_string(),
            &["--once", "--init-timeout", "0"][..],
            "--init-timeout",
        ),
        (
            "prestop-flag",
            S_YAML.to_string(),
            &["--once", "--prestop-timeout", "0"][..],
            "--prestop-timeout",
        ),
    ] {
        let out = local_in(&dir_with(name, &yaml), args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(says), "{name}: {err}");
        assert!(!err.contains("0 duration"), "{name}: {err}");
        // Refused before anything started.
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("instance"),
            "{name}"
        );
    }
}

#[test]
fn a_broken_s_yaml_is_a_usage_error_naming_the_field() {
    let dir = dir_with(
        "broken",
        &S_YAML.replace("memorySize: ${vars.memory}", "memorySize: lots"),
    );
    let out = local_in(&dir, &["--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("memorySize"), "{err}");
}

#[test]
fn props_fc_would_refuse_are_a_usage_error_listing_them_before_anything_starts() {
    let with_fc_port = S_YAML.replace(
        "GREETING: from-s-yaml\n",
        "GREETING: from-s-yaml\n        FC_SERVER_PORT: \"9000\"\n",
    );
    for (name, yaml, says) in [
        (
            "memory-64",
            S_YAML.replace("memory: 128", "memory: 64"),
            &["memorySize: 64 is not a multiple of 64 from 128 to 32768 (MB) [fc3 schema]"][..],
        ),
        (
            "memory-100",
            S_YAML.replace("memory: 128", "memory: 100"),
            &["memorySize: 100 is not a multiple of 64"][..],
        ),
        (
            "runtime",
            S_YAML.replace("custom.debian12", "custom.debian99"),
            &[r#"runtime: "custom.debian99" is not one of"#][..],
        ),
        (
            "fc-env",
            with_fc_port,
            &["environmentVariables.FC_SERVER_PORT: FC_* names are reserved for the platform [FC]"][..],
        ),
        (
            // Every error at once, as `cargo tinyfc check` lists them.
            "all",
            S_YAML
                .replace("memory: 128", "memory: 100")
                .replace("custom.debian12", "custom.debian99"),
            &["props.memorySize: 100", "props.runtime: "][..],
        ),
    ] {
        let out = local_in(&dir_with(name, &yaml), &["--once"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains("s.yaml: `s deploy` would refuse this function"), "{name}: {err}");
        for said in says {
            assert!(err.contains(said), "{name}: missing {said:?} in {err}");
        }
        // Refused before anything started.
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("instance"), "{name}: {text}");
    }
}

#[test]
fn a_flag_is_held_to_the_rule_of_the_prop_it_overrides() {
    let with_yaml = dir_with("flag-memory", S_YAML);
    let without_yaml = dir_with("flag-memory-no-yaml", "");
    std::fs::remove_file(without_yaml.join("s.yaml")).unwrap();
    for (dir, memory, says) in [
        (&with_yaml, "0", "resources.probe.props.memorySize: 0 is not a multiple of 64"),
        (&with_yaml, "100", "memorySize: 100 is not a multiple of 64 from 128 to 32768 (MB) [fc3 schema] (from --memory 100)"),
        (&without_yaml, "0", "--memory 0: memorySize: 0 is not a multiple of 64"),
    ] {
        let out = local_in(dir, &["--once", "--memory", memory]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--memory {memory}: {err}");
        assert!(err.contains(says), "--memory {memory}: {err}");
    }
    // A flag FC would take still overrides s.yaml's prop, and without an s.yaml as well.
    for dir in [&with_yaml, &without_yaml] {
        let out = local_in(
            dir,
            &["--once", "--memory", "256", "--http", "GET", "/context"],
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(text.contains(r#""memory_mb":256"#), "{text}");
    }
}

#[test]
fn what_check_warns_of_is_said_and_the_function_still_runs() {
    let yaml = S_YAML.replace(
        "      timeout: 30\n",
        "      timeout: 30\n      memroySize: 256\n",
    );
    let out = local_in(&dir_with("warned", &yaml), &["--once"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("warning: resources.probe.props.memroySize: not an fc3 prop"),
        "{text}"
    );
    // A tinyfc rule (10 bodies of 32 MiB in 128 MB) fails `check` but not `s deploy`: said, and on.
    assert!(
        text.contains("TINYFC_MAX_BODY_BYTES") && text.contains("local goes on"),
        "{text}"
    );
    assert!(text.contains("all steps succeeded"), "{text}");
}

/// `cargo tinyfc invoke ARGS` against the front door at `addr`.
fn invoke(addr: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"))
        .args(["invoke", "--address", addr])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn invoke_calls_a_local_that_is_serving() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"));
    cmd.args(["local", "--listen", "127.0.0.1:0", "--"])
        .arg(example("probe"));
    let local = Function::spawn(cmd, "front door on http://127.0.0.1:");
    let addr = local.addr();

    let out = invoke(&addr, &["--http", "GET", "/state"]);
    let body = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{body}");
    assert!(body.contains("\"init_runs\""), "{body}");

    let out = invoke(&addr, &["--event-example", "oss"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("/2023-03-30/functions/local-function/invocations -> 200"),
        "{err}"
    );
    assert!(local.wait_stdout("POST /2023-03-30/functions/local-function/invocations -> 200"));

    let out = invoke(&addr, &["--http", "GET", "/error"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("x-fc-error-type: UnhandledInvocationError"),
        "{err}"
    );

    let out = invoke(&addr, &["--event-example", "oss", "--async"]);
    assert_eq!(out.status.code(), Some(0));

    let out = invoke("127.0.0.1:1", &["--http", "GET", "/"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("is `cargo tinyfc local --listen 127.0.0.1:1` serving?"),
        "{err}"
    );
}

/// `cargo tinyfc local ARGS -- probe`, serving on a free port.
fn serving_probe(args: &[&str]) -> Function {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"));
    cmd.args(["local", "--listen", "127.0.0.1:0"])
        .args(args)
        .arg("--")
        .arg(example("probe"));
    Function::spawn(cmd, "front door on http://127.0.0.1:")
}

#[test]
fn log_tail_answers_the_invocations_own_log() {
    use base64::Engine;
    let local = serving_probe(&[]);
    let tail = [("x-fc-log-type", "Tail")];
    let path = "/2023-03-30/functions/local-function/invocations";
    for (method, path) in [("POST", path), ("GET", "/context")] {
        let r = local.request(method, path, &tail, b"{}");
        assert_eq!(r.status, 200, "{}", r.text());
        let rid = r.header("x-fc-request-id").unwrap().to_string();
        let log = r.header("x-fc-log-result").expect("a log result");
        let log = base64::engine::general_purpose::STANDARD
            .decode(log)
            .unwrap();
        let log = String::from_utf8_lossy(&log);
        assert!(
            log.starts_with(&format!("FC Invoke Start RequestId: {rid}")),
            "{log}"
        );
        assert!(
            log.trim_end()
                .ends_with(&format!("FC Invoke End RequestId: {rid}")),
            "{log}"
        );
        assert!(log.len() <= 4096);
    }
    // The function is told the caller asked for the log.
    let r = local.request("GET", "/context", &tail, b"");
    assert!(r.text().contains(r#""log_type":"Tail""#), "{}", r.text());
    assert!(local
        .request("GET", "/", &[], b"")
        .header("x-fc-log-result")
        .is_none());
}

#[test]
fn log_tail_is_not_returned_with_instance_concurrency_above_1_as_on_fc() {
    let local = serving_probe(&["--concurrency", "2"]);
    let r = local.request("GET", "/", &[("x-fc-log-type", "Tail")], b"");
    assert_eq!(r.status, 200);
    assert!(r.header("x-fc-log-result").is_none());
    assert!(local.wait_stdout("no log result, as FC returns none with instanceConcurrency above 1"));
}
