//! `cargo tinyfc build`: the static release build a function is deployed as. FC runs the binary
//! alone (as `bootstrap` in a zip, or as the only file of an image), so it must need no shared
//! library: x86_64-unknown-linux-musl when that target's std is installed, else glibc linked with
//! `+crt-static`, which this says aloud (glibc's static build warns about NSS functions such as
//! getaddrinfo, which a function resolving host names needs at run time).

use std::io::BufRead;
use std::process::{Command, Stdio};

use crate::cli::Exit;

/// `cargo tinyfc build --help`: after the options.
const EXAMPLES: &str = "\
examples:
  cargo tinyfc build --bin my-function
  cargo tinyfc build -p tinyfc --example hello

Install the musl target with `rustup target add x86_64-unknown-linux-musl`.";

/// `cargo tinyfc build`'s command line: cargo's selection options, passed on to `cargo build`.
#[derive(clap::Args, Debug, Default, PartialEq, Eq)]
#[command(
    long_about = "Static release build of function binaries (x86_64-unknown-linux-musl, or glibc with +crt-static
when the musl target is not installed: said on stderr). Prints the path of every binary built,
one a line.",
    after_help = EXAMPLES
)]
pub struct BuildArgs {
    /// Build this binary (repeatable; default: cargo's default).
    #[arg(long, value_name = "NAME")]
    bin: Vec<String>,
    /// Build this example (repeatable).
    #[arg(long, value_name = "NAME")]
    example: Vec<String>,
    /// Build every binary.
    #[arg(long)]
    bins: bool,
    /// Build every example.
    #[arg(long)]
    examples: bool,
    /// The package, in a workspace.
    #[arg(short, long, value_name = "PACKAGE")]
    package: Option<String>,
    /// Its Cargo.toml.
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<String>,
    /// Cargo features to enable.
    #[arg(long, value_name = "FEATURES")]
    features: Option<String>,
}

impl BuildArgs {
    /// The arguments passed on to `cargo build`.
    fn cargo_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        let flags = [("--bins", self.bins), ("--examples", self.examples)];
        out.extend(flags.iter().filter(|f| f.1).map(|f| f.0.to_string()));
        for (option, values) in [("--bin", &self.bin), ("--example", &self.example)] {
            for v in values {
                out.extend([option.to_string(), v.clone()]);
            }
        }
        for (option, value) in [
            ("--package", &self.package),
            ("--manifest-path", &self.manifest_path),
            ("--features", &self.features),
        ] {
            if let Some(v) = value {
                out.extend([option.to_string(), v.clone()]);
            }
        }
        out
    }
}

/// The target for deployment builds.
pub const MUSL: &str = "x86_64-unknown-linux-musl";
/// The fallback when musl's std is not installed (with `+crt-static`).
pub const GNU: &str = "x86_64-unknown-linux-gnu";

/// `cargo tinyfc build ARGS`: the exit code.
pub fn main(args: BuildArgs) -> Exit {
    let cargo_args = args.cargo_args();
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
    Ok(match build(target, rustflags.as_deref(), &cargo_args) {
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
    })
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

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: BuildArgs,
    }

    #[test]
    fn unknown_options_are_usage_errors_and_selections_pass_through() {
        let parse = |a: &[&str]| {
            <Cli as clap::Parser>::try_parse_from(std::iter::once("build").chain(a.iter().copied()))
                .map(|cli| cli.args.cargo_args())
        };
        assert_eq!(
            parse(&["-p", "tinyfc", "--example", "hello"]).unwrap(),
            ["--example", "hello", "--package", "tinyfc"]
        );
        assert!(parse(&["--release"]).is_err());
        assert!(parse(&["--bin"]).is_err());
    }
}
