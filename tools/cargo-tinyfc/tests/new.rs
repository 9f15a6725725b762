//! `cargo tinyfc new`: what it generates builds from its own directory alone, passes its own
//! tests (every `--trigger` kind on FC's sample event), runs through the lifecycle under `cargo
//! tinyfc local --once`, and packages with `build`, `zip` and `image`; bad names are usage errors
//! that write nothing.
//!
//! The generated crates are built with this workspace's target directory as CARGO_TARGET_DIR, so
//! tinyfc's dependencies (and, for the static build, what `make static` built) are compiled once
//! for all of them. They are generated under that target directory, inside this workspace: their
//! own `[workspace]` table is what lets cargo build them there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// This workspace's target directory (the parent of the tests' scratch directory).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("new-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The cargo running this test (so the generated crates build with the same toolchain).
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs `program ARGS` in `dir` with the shared target directory.
fn run_in(dir: &Path, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap()
}

/// `cargo-tinyfc ARGS` in `dir`.
fn tool(dir: &Path, args: &[&str]) -> Output {
    run_in(dir, env!("CARGO_BIN_EXE_cargo-tinyfc"), args)
}

/// Asserts `out` succeeded; its stdout.
fn ok(what: &str, out: Output) -> String {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "{what}: {}\n{stdout}\n{stderr}",
        out.status
    );
    stdout.into_owned()
}

/// Generates `name` with `args` in `parent`; the crate's directory.
fn generate(parent: &Path, name: &str, args: &[&str]) -> PathBuf {
    let argv: Vec<&str> = ["new", name].iter().chain(args).copied().collect();
    let said = ok("cargo tinyfc new", tool(parent, &argv));
    assert!(said.contains(&format!("./{name}")), "{said}");
    parent.join(name)
}

/// `cargo test` in `dir` passes and ran `tests` tests; the code is formatted as rustfmt would.
fn cargo_test_passes(dir: &Path, tests: usize) {
    ok(
        "cargo fmt --check",
        run_in(dir, &cargo(), &["fmt", "--check"]),
    );
    let out = ok("cargo test", run_in(dir, &cargo(), &["test"]));
    assert!(
        out.contains(&format!("test result: ok. {tests} passed; 0 failed")),
        "{out}"
    );
}

#[test]
fn a_new_event_function_passes_its_tests_runs_its_lifecycle_and_packages() {
    let dir = generate(&scratch("event"), "my-event", &[]);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(r#"tinyfc = { version = "0.1.0", path = "vendor/tinyfc" }"#),
        "the default is tinyfc vendored into the crate:\n{manifest}"
    );
    assert!(dir.join("vendor/tinyfc/src/lib.rs").exists());
    let ignored = std::fs::read_to_string(dir.join(".dockerignore")).unwrap();
    assert!(
        ignored.contains("target/") && ignored.contains("dist/"),
        "{ignored}"
    );
    let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
    assert!(
        !main.lines().any(|l| l.starts_with("#[global_allocator]")),
        "the system allocator"
    );
    let yaml = std::fs::read_to_string(dir.join("s.yaml")).unwrap();
    for needle in [
        "functionName: my-event",
        "initializer:",
        "preStop:",
        "port: 9000",
    ] {
        assert!(yaml.contains(needle), "{needle}:\n{yaml}");
    }

    cargo_test_passes(&dir, 3);

    // The whole lifecycle, with the binary as `cargo run` builds it.
    let once = ok(
        "local --once",
        tool(
            &dir,
            &[
                "local",
                "--once",
                // s.yaml says port 9000; the two generated crates run at once.
                "--port",
                "0",
                "--event",
                "event.json",
                "--",
                &cargo(),
                "run",
                "-q",
            ],
        ),
    );
    assert!(once.contains("all steps succeeded"), "{once}");
    assert!(
        once.contains("processed an event of 21 bytes"),
        "the event reached the handler:\n{once}"
    );

    let built = ok("build", tool(&dir, &["build"]));
    let binary = built.trim();
    assert!(binary.ends_with("/release/my-event"), "{built}");
    ok("zip", tool(&dir, &["zip", binary, "dist/function.zip"]));
    let zip = std::fs::read(dir.join("dist/function.zip")).unwrap();
    assert_eq!(&zip[..4], b"PK\x03\x04");
    ok(
        "image",
        tool(
            &dir,
            &["image", binary, "dist/image.tar", "--name", "my-event:1"],
        ),
    );
    let inspect = ok(
        "skopeo inspect",
        run_in(&dir, "skopeo", &["inspect", "oci-archive:dist/image.tar"]),
    );
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Os"], "linux", "{inspect}");
    assert_eq!(
        inspect["Layers"].as_array().map(Vec::len),
        Some(1),
        "{inspect}"
    );
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[test]
fn a_new_http_function_passes_its_tests_and_runs_its_lifecycle() {
    let dir = generate(&scratch("http"), "my_http", &["--http"]);
    let yaml = std::fs::read_to_string(dir.join("s.yaml")).unwrap();
    assert!(yaml.contains("triggerType: http"), "{yaml}");
    assert!(
        yaml.contains("OPTIONS]"),
        "CORS preflight reaches the handler:\n{yaml}"
    );
    let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
    assert!(main.contains("req.route_path()"), "routes on route_path");
    cargo_test_passes(&dir, 3);
    // An event invocation (what --once sends) is answered too.
    let once = ok(
        "local --once",
        tool(
            &dir,
            &[
                "local",
                "--once",
                "--port",
                "0",
                "--",
                &cargo(),
                "run",
                "-q",
            ],
        ),
    );
    assert!(once.contains("all steps succeeded"), "{once}");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[test]
fn a_git_dependency_is_written_as_given() {
    let dir = generate(
        &scratch("git"),
        "from-git",
        &[
            "--tinyfc-git",
            "https://example.com/tinyfc.git",
            "--rev",
            "0123abc",
        ],
    );
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest
            .contains(r#"tinyfc = { git = "https://example.com/tinyfc.git", rev = "0123abc" }"#),
        "{manifest}"
    );
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[test]
fn bad_names_and_non_empty_directories_are_usage_errors_that_write_nothing() {
    let parent = scratch("bad");
    let help = tool(&parent, &["new", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert_eq!(help.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Usage: cargo tinyfc new") && text.contains("example"),
        "{text}"
    );
    assert_eq!(
        String::from_utf8_lossy(&tool(&parent, &["help", "new"]).stdout),
        text
    );
    std::fs::create_dir(parent.join("taken")).unwrap();
    std::fs::write(parent.join("taken/keep.txt"), "mine").unwrap();
    std::fs::write(parent.join("a-file"), "mine").unwrap();
    for (args, says) in [
        (&["new", "1abc"][..], "starts with a digit"),
        (&["new", "a b"], "is not a letter, digit"),
        (&["new", "self"], "Rust keyword"),
        (&["new", "std"], "reserved"),
        (&["new", "taken"], "exists and is not empty"),
        (&["new", "a-file"], "exists and is not a directory"),
        (&["new"], "<NAME>"),
        (&["new", "x", "--event", "--http"], "cannot be used with"),
        (
            &["new", "x", "--trigger", "oss", "--http"],
            "cannot be used with",
        ),
        (&["new", "Foo-Bar"], "image names are lower case"),
        (&["new", "x", "--trigger", "s3"], "the kinds are oss, timer"),
    ] {
        let out = tool(&parent, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(err.contains("--help"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let mut left: Vec<String> = std::fs::read_dir(&parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["a-file", "taken"], "nothing was written");
    assert_eq!(
        std::fs::read_dir(parent.join("taken")).unwrap().count(),
        1,
        "the existing directory is untouched"
    );
    // An empty directory is fine: the crate goes into it.
    std::fs::create_dir(parent.join("empty")).unwrap();
    ok("new into an empty dir", tool(&parent, &["new", "empty"]));
    assert!(parent.join("empty/src/main.rs").exists());
    let _ = std::fs::remove_dir_all(&parent);
}

/// Every file under `dir` that `docker build .` would send (what .dockerignore does not list),
/// relative to `dir`.
fn docker_context(dir: &Path) -> Vec<PathBuf> {
    let ignore = std::fs::read_to_string(dir.join(".dockerignore")).unwrap();
    let ignored: Vec<&str> = ignore.lines().map(|l| l.trim_end_matches('/')).collect();
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(dir.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let path = rel.join(entry.file_name());
            if ignored.iter().any(|i| path == Path::new(i)) {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn a_generated_crate_builds_from_its_own_directory_alone() {
    let made = generate(&scratch("alone"), "alone", &["--trigger", "timer"]);
    // Build output in the crate must not travel: a build there first, as a user's would.
    std::fs::create_dir_all(made.join("target/debug")).unwrap();
    std::fs::write(made.join("target/debug/stale"), "x").unwrap();
    // What Docker (or a fresh clone) sees, copied away from the checkout and the generator.
    let copy = scratch("alone-copy").join("context");
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    for rel in docker_context(&made) {
        let text = std::fs::read(made.join(&rel)).unwrap();
        let mentions = String::from_utf8_lossy(&text).contains(checkout.to_str().unwrap());
        assert!(!mentions, "{} names the tinyfc checkout", rel.display());
        std::fs::create_dir_all(copy.join(&rel).parent().unwrap()).unwrap();
        std::fs::write(copy.join(&rel), text).unwrap();
    }
    assert!(
        !copy.join("target").exists(),
        ".dockerignore leaves target/ out"
    );
    let _ = std::fs::remove_dir_all(&made);
    // Every package cargo resolves is in the copy or a registry: none is on a path outside it.
    let metadata = ok(
        "cargo metadata",
        run_in(
            &copy,
            &cargo(),
            &["metadata", "--format-version", "1", "--locked", "--offline"],
        ),
    );
    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    for package in metadata["packages"].as_array().unwrap() {
        let manifest = package["manifest_path"].as_str().unwrap();
        let registry = package["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("registry+"));
        assert!(
            registry || manifest.starts_with(copy.to_str().unwrap()),
            "{} comes from {manifest}",
            package["name"]
        );
    }
    // The Dockerfile's build: --locked, here --offline too (the registry cache is warm).
    ok(
        "cargo build --locked --offline",
        run_in(
            &copy,
            &cargo(),
            &["build", "--release", "--locked", "--offline"],
        ),
    );
    let dockerfile = std::fs::read_to_string(copy.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("cargo build --release --locked"),
        "{dockerfile}"
    );
    let _ = std::fs::remove_dir_all(copy.parent().unwrap());
}

#[test]
fn every_trigger_kind_makes_a_typed_function_that_passes_its_tests_on_the_sample() {
    let parent = scratch("triggers");
    for kind in [
        "oss",
        "timer",
        "mns-topic",
        "mns-queue",
        "sls",
        "cdn",
        "eventbridge",
        "tablestore",
    ] {
        let dir = generate(&parent, &format!("on-{kind}"), &["--trigger", kind]);
        let sample = std::fs::read_to_string(dir.join("event.json")).unwrap();
        assert_eq!(
            Some(sample.as_str()),
            tinyfc::events::fixtures::example(kind),
            "event.json is FC's sample"
        );
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        assert!(main.contains("include_bytes!(\"../event.json\")"), "{kind}");
        let tests = if kind == "tablestore" { 4 } else { 3 };
        cargo_test_passes(&dir, tests);
    }
    // `local --once --event-example oss`, with no command: local builds the crate's binary
    // and runs it, and the answer shows the sample's object. `--port 0`: s.yaml's 9000 may be
    // taken on a machine running other tests.
    let once = ok(
        "local --once --event-example oss",
        tool(
            &parent.join("on-oss"),
            &["local", "--once", "--event-example", "oss", "--port", "0"],
        ),
    );
    assert!(once.contains("building the function"), "{once}");
    assert!(
        once.contains("/debug/on-oss in "),
        "the debug binary:\n{once}"
    );
    assert!(
        once.contains("oss://testbucket/source/a.png (122539 bytes)"),
        "{once}"
    );
    let _ = std::fs::remove_dir_all(&parent);
}

#[test]
fn vendor_refreshes_the_copy_of_tinyfc_and_the_crate_still_builds() {
    let dir = generate(&scratch("vendor"), "refreshed", &[]);
    let lib = dir.join("vendor/tinyfc/src/lib.rs");
    let original = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(
        &lib,
        format!("{original}\ncompile_error!(\"stale copy\");\n"),
    )
    .unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("version = \"0.1.0\", path", "version = \"0.0.9\", path"),
    )
    .unwrap();
    let said = ok("vendor", tool(&dir, &["vendor"]));
    assert!(said.contains("vendor/tinyfc: tinyfc 0.1.0 from"), "{said}");
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), original);
    assert!(std::fs::read_to_string(&manifest)
        .unwrap()
        .contains(r#"tinyfc = { version = "0.1.0", path = "vendor/tinyfc" }"#));
    ok(
        "cargo build --locked",
        run_in(&dir, &cargo(), &["build", "--locked", "--offline"]),
    );
    // Anywhere else it is a usage error that changes nothing.
    let elsewhere = scratch("vendor-elsewhere");
    std::fs::write(elsewhere.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    let out = tool(&elsewhere, &["vendor"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!elsewhere.join("vendor").exists());
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    let _ = std::fs::remove_dir_all(&elsewhere);
}

#[test]
fn every_generated_s_yaml_passes_check() {
    let parent = scratch("check");
    let kinds: [&[&str]; 10] = [
        &[],
        &["--http"],
        &["--trigger", "oss"],
        &["--trigger", "timer"],
        &["--trigger", "mns-topic"],
        &["--trigger", "mns-queue"],
        &["--trigger", "sls"],
        &["--trigger", "cdn"],
        &["--trigger", "eventbridge"],
        &["--trigger", "tablestore"],
    ];
    for (i, kind) in kinds.iter().enumerate() {
        for container in [false, true] {
            let name = format!("checked-{i}{}", if container { "-c" } else { "" });
            let mut args = kind.to_vec();
            if container {
                args.push("--container");
            }
            let dir = generate(&parent, &name, &args);
            let said = ok("cargo tinyfc check", tool(&dir, &["check"]));
            assert!(
                said.contains("0 error(s), 0 warning(s)"),
                "{args:?}:\n{said}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&parent);
}
