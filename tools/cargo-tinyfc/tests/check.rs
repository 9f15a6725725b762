//! `cargo tinyfc check` through the real binary: a clean s.yaml passes (exit 0), each broken rule
//! is named with its prop (exit 1), and the code package must hold an executable `bootstrap`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinyfc-check-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    dir
}

/// `cargo-tinyfc check ARGS` in `dir`: exit code and stdout + stderr.
fn check(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"))
        .arg("check")
        .args(args)
        .current_dir(dir)
        .env_remove("FN_ROLE")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("panicked"), "{text}");
    (out.status.code(), text)
}

/// A function every rule accepts; `extra` lines are added to its props.
fn s_yaml(extra: &str) -> String {
    format!(
        "edition: 3.0.0
name: app
vars:
  region: cn-hangzhou
  memory: 512
resources:
  api:
    component: fc3
    props:
      region: ${{vars.region}}
      functionName: api
      runtime: custom.debian12
      code: ./dist/function.zip
      memorySize: ${{vars.memory}}
      cpu: 0.5
      timeout: 30
      instanceConcurrency: 4
      environmentVariables:
        TINYFC_WORKERS: \"16\"
        TINYFC_MAX_BODY_BYTES: \"8388608\"
      instanceLifecycleConfig:
        preStop: {{ handler: index.preStop, timeout: 20 }}
      triggers:
        - triggerName: http
          triggerType: http
          triggerConfig: {{ authType: anonymous, methods: [GET, POST, OPTIONS] }}
{extra}"
    )
}

/// A zip holding `name` (mode `mode`) with `bytes`.
fn zip_with(path: &Path, name: &str, mode: u32, bytes: &[u8]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default().unix_permissions(mode);
    zip.start_file(name, options).unwrap();
    zip.write_all(bytes).unwrap();
    zip.finish().unwrap();
}

#[test]
fn a_clean_s_yaml_with_a_bootstrap_zip_passes_with_exit_0() {
    let dir = scratch("clean");
    std::fs::write(dir.join("s.yaml"), s_yaml("")).unwrap();
    zip_with(
        &dir.join("dist/function.zip"),
        "bootstrap",
        0o755,
        b"\x7fELF....",
    );
    let (code, text) = check(&dir, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("0 error(s), 0 warning(s)"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn each_broken_rule_is_named_with_its_prop_and_fails_with_exit_1() {
    let dir = scratch("broken");
    let text = s_yaml("")
        .replace("memorySize: ${vars.memory}", "memorySize: 100")
        .replace("cpu: 0.5", "cpu: 0.33")
        .replace("timeout: 30", "timeout: 90000")
        .replace("instanceConcurrency: 4", "instanceConcurrency: 300")
        .replace("runtime: custom.debian12", "runtime: custom.debian9")
        .replace("functionName: api", "functionName: 1api")
        .replace("timeout: 20 }", "timeout: 10 }")
        .replace(
            "TINYFC_WORKERS: \"16\"",
            "TINYFC_WORKERS: \"2\"\n        FC_SERVER_PORT: \"8080\"\n        TINYFC_HEALTH_PATH: /health",
        )
        .replace("methods: [GET, POST, OPTIONS]", "methods: [GET, FETCH]")
        .replace("region: ${vars.region}", "memroySize: 1024")
        + "      diskSize: 1024\n      asyncInvokeConfig: { maxAsyncRetryAttempts: 9 }\n      \
           customRuntimeConfig:\n        healthCheckConfig: { timeoutSeconds: 5, httpGetUrl: /ready }\n      \
           logConfig: { project: p }\n";
    std::fs::write(dir.join("s.yaml"), text).unwrap();
    let (code, out) = check(&dir, &[]);
    assert_eq!(code, Some(1), "{out}");
    for (prop, says) in [
        ("region", "required"),
        ("memorySize", "a multiple of 64 from 128 to 32768"),
        ("cpu", "a multiple of 0.05"),
        ("timeout", "90000 is not from 1 to 86400"),
        ("instanceConcurrency", "300 is not from 1 to 200"),
        ("runtime", "\"custom.debian9\" is not one of"),
        ("functionName", "starting with a letter"),
        ("diskSize", "neither 512 nor 10240"),
        (
            "asyncInvokeConfig.maxAsyncRetryAttempts",
            "9 is not from 0 to 8",
        ),
        (
            "customRuntimeConfig.healthCheckConfig.timeoutSeconds",
            "5 is not from 1 to 3",
        ),
        ("logConfig", "project and logstore"),
        (
            "triggers[0].triggerConfig.methods",
            "\"FETCH\" is not one of",
        ),
        ("environmentVariables.FC_SERVER_PORT", "reserved"),
        ("environmentVariables", "would listen on 8080"),
        (
            "environmentVariables.TINYFC_WORKERS",
            "less than instanceConcurrency",
        ),
        ("instanceLifecycleConfig.preStop.timeout", "at least 15 s"),
        ("memroySize", "not an fc3 prop"),
        (
            "environmentVariables.TINYFC_HEALTH_PATH",
            "is not healthCheckConfig.httpGetUrl",
        ),
    ] {
        let line = format!("resources.api.props.{prop}: ");
        assert!(
            out.lines().any(|l| l.contains(&line) && l.contains(says)),
            "{prop}: {says}\n{out}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_key_in_a_nested_object_is_a_warning_naming_its_path() {
    let dir = scratch("nested-keys");
    let text = s_yaml("")
        .replace(
            "preStop: { handler: index.preStop, timeout: 20 }",
            "preStop: { handler: index.preStop, timeout: 20, timout: 20 }\n        \
             initializer: { handler: index.initializer, command: [init] }",
        )
        .replace(
            "methods: [GET, POST, OPTIONS] }",
            "methods: [GET, POST, OPTIONS], method: [PUT] }\n          qualifer: LATEST",
        )
        + "      customRuntimeConfig:\n        prot: 9000\n        port: 9000\n        \
           healthCheckConfig: { httpGetUrl: /ready, bogusKey: 1 }\n      \
           asyncInvokeConfig:\n        destinationConfig:\n          \
           onSucess: { destination: acs:mns:::/queues/ok/messages }\n          \
           onFailure: { destination: acs:mns:::/queues/no/messages, destnation: x }\n      \
           logConfig: { project: p, logstore: l, logBeginRul: None }\n";
    std::fs::write(dir.join("s.yaml"), text).unwrap();
    let (code, out) = check(&dir, &[]);
    // Warnings only: the check passes, as with a misspelt top-level prop.
    assert_eq!(code, Some(0), "{out}");
    let unknown = [
        "instanceLifecycleConfig.preStop.timout",
        "customRuntimeConfig.prot",
        "customRuntimeConfig.healthCheckConfig.bogusKey",
        "asyncInvokeConfig.destinationConfig.onSucess",
        "asyncInvokeConfig.destinationConfig.onFailure.destnation",
        "logConfig.logBeginRul",
        "triggers[0].qualifer",
        "triggers[0].triggerConfig.method",
    ];
    for prop in unknown {
        let line = format!("warning: resources.api.props.{prop}: not a key the fc3 schema knows");
        assert!(out.contains(&line), "{prop}\n{out}");
    }
    // Keys the schema lists are not warned of (a hook's `command`, `port`, `httpGetUrl`, ...).
    let warnings = out.lines().filter(|l| l.contains("warning:")).count();
    assert_eq!(warnings, unknown.len(), "{out}");
    assert!(
        out.contains(&format!("0 error(s), {} warning(s)", unknown.len())),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn trigger_configs_are_typed_as_the_schema_says() {
    let dir = scratch("triggers");
    let triggers = "      triggers:
        - triggerName: tick
          triggerType: timer
          triggerConfig: { cronExpression: '0 */5 * * *', enable: 'yes', payload: { a: 1 } }
        - triggerName: hourly
          triggerType: timer
          triggerConfig: { cronExpression: 'CRON_TZ=Asia/Shanghai 0 0 * * * *', enable: true }
        - triggerName: often
          triggerType: timer
          triggerConfig: { cronExpression: '@every 1h30m', enable: true }
        - triggerName: topic
          triggerType: mns_topic
          triggerConfig: { notifyContentFormat: XML, notifyStrategy: BACKOFF_RETRY }
        - triggerName: thing
          triggerType: kafka
          triggerConfig: {}
";
    let text = s_yaml("");
    let text = text[..text.find("      triggers:").unwrap()].to_string() + triggers;
    std::fs::write(dir.join("s.yaml"), text).unwrap();
    let (code, out) = check(&dir, &[]);
    assert_eq!(code, Some(1), "{out}");
    for (prop, says) in [
        (
            "triggers[0].triggerConfig.cronExpression",
            "six cron fields",
        ),
        ("triggers[0].triggerConfig.enable", "true or false"),
        ("triggers[0].triggerConfig.payload", "a string"),
        (
            "triggers[3].triggerConfig.notifyContentFormat",
            "one of JSON, STREAM",
        ),
        ("triggers[4].triggerType", "\"kafka\" is not one of"),
    ] {
        let line = format!("resources.api.props.{prop}: ");
        assert!(
            out.lines().any(|l| l.contains(&line) && l.contains(says)),
            "{prop}: {says}\n{out}"
        );
    }
    assert!(
        !out.contains("triggers[1]") && !out.contains("triggers[2]"),
        "{out}"
    );
    assert!(out.contains("warning: resources.api.props.triggers[0].triggerConfig.cronExpression"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_body_budget_counts_concurrency_against_memory() {
    let dir = scratch("budget");
    let text = s_yaml("").replace(
        "TINYFC_MAX_BODY_BYTES: \"8388608\"",
        "TINYFC_MAX_BODY_BYTES: \"134217728\"",
    );
    std::fs::write(dir.join("s.yaml"), text).unwrap();
    let (code, out) = check(&dir, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("TINYFC_MAX_BODY_BYTES: instanceConcurrency 4 x"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_code_package_without_an_executable_bootstrap_at_its_root_fails() {
    let dir = scratch("bootstrap");
    std::fs::write(dir.join("s.yaml"), s_yaml("")).unwrap();
    let zip = dir.join("dist/function.zip");
    for (name, mode, bytes, says) in [
        (
            "app/bootstrap",
            0o755,
            &b"\x7fELF...."[..],
            "no bootstrap at the zip's root",
        ),
        ("bootstrap", 0o644, b"\x7fELF....", "not executable"),
        // What `cargo tinyfc zip` refuses to package, too (one test for both).
        (
            "bootstrap",
            0o755,
            b"edition: 3.0.0\n",
            "neither an ELF binary nor a script",
        ),
        (
            "bootstrap",
            0o755,
            b"",
            "neither an ELF binary nor a script",
        ),
    ] {
        zip_with(&zip, name, mode, bytes);
        let (code, out) = check(&dir, &[]);
        assert_eq!(code, Some(1), "{name}: {out}");
        assert!(
            out.contains("props.code: ./dist/function.zip") && out.contains(says),
            "{out}"
        );
    }
    // A directory as the code: its bootstrap, executable.
    std::fs::create_dir_all(dir.join("code")).unwrap();
    std::fs::write(dir.join("code/bootstrap"), "#!/bin/sh\n").unwrap();
    let as_dir = s_yaml("").replace("code: ./dist/function.zip", "code: ./code");
    std::fs::write(dir.join("s.yaml"), as_dir).unwrap();
    let (code, out) = check(&dir, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("props.code: ./code: bootstrap is not executable"),
        "{out}"
    );
    use std::os::unix::fs::PermissionsExt;
    let exec = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(dir.join("code/bootstrap"), exec).unwrap();
    assert_eq!(check(&dir, &[]).0, Some(0));
    // A command of its own: FC does not look for bootstrap.
    let own = s_yaml("      customRuntimeConfig: { command: [/code/app/bootstrap] }\n");
    std::fs::write(dir.join("s.yaml"), own).unwrap();
    assert_eq!(check(&dir, &[]).0, Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_and_resource_choose_the_file_and_function_and_say_what_is_wrong() {
    let dir = scratch("select");
    let (code, out) = check(&dir, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("--config"), "{out}");
    let two = s_yaml("") + "  worker:\n    component: fc3\n    props: { functionName: w }\n";
    std::fs::write(dir.join("two.yaml"), two).unwrap();
    let (code, out) = check(&dir, &["--config", "two.yaml"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("resources.worker.props.region: required"),
        "{out}"
    );
    assert!(!out.contains("resources.api.props"), "api is clean: {out}");
    let (code, out) = check(&dir, &["--config", "two.yaml", "--resource", "api"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = check(&dir, &["--config", "two.yaml", "--resource", "nope"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("\"nope\"") && out.contains("api, worker"),
        "{out}"
    );
    std::fs::write(
        dir.join("bad.yaml"),
        s_yaml("").replace("memorySize: ${vars.memory}", "memorySize: ${vars.memroy}"),
    )
    .unwrap();
    let (code, out) = check(&dir, &["--config", "bad.yaml"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("resources.api.props.memorySize: ${vars.memroy}"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_repositorys_own_s_yaml_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (code, out) = check(&root, &[]);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn every_s_yaml_new_generates_passes() {
    let dir = scratch("generated");
    for (name, kind) in [
        ("ev", &[][..]),
        ("web", &["--http"]),
        ("boxed", &["--container"]),
        ("tick", &["--trigger", "timer"]),
    ] {
        let new = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"))
            .args(["new", name])
            .args(kind)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            new.status.success(),
            "{}",
            String::from_utf8_lossy(&new.stderr)
        );
        let (code, out) = check(&dir.join(name), &[]);
        assert_eq!(code, Some(0), "new {name} {kind:?}:\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
