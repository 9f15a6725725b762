//! `cargo tinyfc build`: the static release build a function is deployed as. FC runs the binary
//! alone (as `bootstrap` in a zip, or as the only file of an image), so it must need no shared
//! library: x86_64-unknown-linux-musl when that target's std is installed, else glibc linked with
//! `+crt-static`, which this says aloud (glibc's static build warns about NSS functions such as
//! getaddrinfo, which a function resolving host names needs at run time).

use std::io::BufRead;
use std::process::{Command, Stdio};

use crate::cli::{Args, Stop};

/// `cargo tinyfc build --help`.
pub const USAGE: &str = "\
cargo tinyfc build: static release build of function binaries (x86_64-unknown-linux-musl, or
glibc with +crt-static when the musl target is not installed: said on stderr). Prints the path
of every binary built, one a line.

usage: cargo tinyfc build [--bin NAME | --example NAME | --bins | --examples]...
                          [-p PACKAGE] [--manifest-path PATH] [--features FEATURES]

  --bin NAME, --example NAME, --bins, --examples   what to build (default: cargo's default)
  -p, --package PACKAGE                            the package, in a workspace
  --manifest-path PATH                             its Cargo.toml
  --features FEATURES                              cargo features to enable

examples:
  cargo tinyfc build --bin my-function
  cargo tinyfc build -p tinyfc --example hello

Install the musl target with `rustup target add x86_64-unknown-linux-musl`.
";

/// The target for deployment builds.
pub const MUSL: &str = "x86_64-unknown-linux-musl";
/// The fallback when musl's std is not installed (with `+crt-static`).
pub const GNU: &str = "x86_64-unknown-linux-gnu";

/// `cargo tinyfc build ARGS`: the exit code.
pub fn main(args: &[String]) -> i32 {
    let cargo_args = match parse(args) {
        Ok(a) => a,
        Err(stop) => return crate::cli::stopped("build", stop, USAGE),
    };
    let (target, rustflags) = if musl_installed() {
        eprintln!("cargo tinyfc build: static build for {MUSL}");
        (MUSL, None)
    } else {
        eprintln!(
            "cargo tinyfc build: the {MUSL} target is not installed (rustup target add {MUSL}): \
             building for {GNU} with +crt-static instead"
        );
        let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
        flags.push_str(" -C target-feature=+crt-static");
        (GNU, Some(flags))
    };
    match build(target, rustflags.as_deref(), &cargo_args) {
        Ok(binaries) if binaries.is_empty() => {
            eprintln!("cargo tinyfc build: cargo built no binary");
            1
        }
        Ok(binaries) => {
            for b in binaries {
                println!("{b}");
            }
            0
        }
        Err(e) => {
            eprintln!("cargo tinyfc build: {e}");
            1
        }
    }
}

/// The arguments passed on to `cargo build`.
fn parse(args: &[String]) -> Result<Vec<String>, Stop> {
    let mut it = Args::new(args);
    let mut out = Vec::new();
    while let Some(arg) = it.next()? {
        match arg {
            "--bins" | "--examples" => out.push(arg.to_string()),
            "--bin" | "--example" | "-p" | "--package" | "--manifest-path" | "--features" => {
                let value = it.value(arg)?;
                out.extend([arg.to_string(), value.to_string()]);
            }
            other => return Err(Stop::Usage(format!("unknown option {other}"))),
        }
    }
    Ok(out)
}

/// True when the musl target's std is installed (rustup's `target add`).
pub fn musl_installed() -> bool {
    let libdir = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", MUSL])
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    std::fs::read_dir(libdir).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
    })
}

/// Runs `cargo build --release --target TARGET ARGS` (diagnostics pass through to stderr) and
/// returns the executables it reports.
fn build(target: &str, rustflags: Option<&str>, args: &[String]) -> std::io::Result<Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", target])
        .arg("--message-format=json-render-diagnostics")
        .args(args)
        .stdout(Stdio::piped());
    if let Some(flags) = rustflags {
        cmd.env("RUSTFLAGS", flags);
    }
    let mut child = cmd.spawn()?;
    let mut binaries = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines() {
            if let Some(exe) = executable(&line?) {
                binaries.push(exe);
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(std::io::Error::other(format!(
            "cargo build failed ({status})"
        )));
    }
    Ok(binaries)
}

/// The executable of one cargo JSON message, if it reports one.
pub fn executable(line: &str) -> Option<String> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg["reason"] != "compiler-artifact" {
        return None;
    }
    msg["executable"].as_str().map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_artifacts_with_an_executable_are_reported() {
        let exe = r#"{"reason":"compiler-artifact","executable":"/t/release/examples/hello"}"#;
        assert_eq!(
            executable(exe).as_deref(),
            Some("/t/release/examples/hello")
        );
        let lib = r#"{"reason":"compiler-artifact","executable":null}"#;
        assert_eq!(executable(lib), None);
        assert_eq!(
            executable(r#"{"reason":"build-finished","success":true}"#),
            None
        );
        assert_eq!(executable("not json"), None);
    }

    #[test]
    fn unknown_options_are_usage_errors_and_selections_pass_through() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse(&args(&["-p", "tinyfc", "--example", "hello"])),
            Ok(args(&["-p", "tinyfc", "--example", "hello"]))
        );
        assert!(matches!(parse(&args(&["--release"])), Err(Stop::Usage(_))));
        assert!(matches!(parse(&args(&["--bin"])), Err(Stop::Usage(_))));
    }
}
