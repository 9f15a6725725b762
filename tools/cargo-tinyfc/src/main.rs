//! `cargo tinyfc`: the tools for tinyfc functions, as a cargo subcommand (`cargo install --path
//! tools/cargo-tinyfc`, then `cargo tinyfc COMMAND`; or `cargo run -p cargo-tinyfc -- COMMAND`).
//!
//! - `local`: the local Function Compute platform (src/local).
//! - `build`: the static release build a function is deployed as (src/static_build.rs).
//! - `zip`, `image`: the code package and the OCI image (src/package).
//! - `bench`: cold start and throughput of function binaries (src/bench).
//!
//! Exit codes: 0 success, 1 the command failed, 2 usage (a wrong option never panics).

mod bench;
mod cli;
mod local;
mod package;
mod static_build;

/// `cargo tinyfc --help`.
const USAGE: &str = "\
cargo tinyfc: run, build, package and benchmark Function Compute functions written with tinyfc.

usage: cargo tinyfc COMMAND [OPTIONS]     (or: cargo run -p cargo-tinyfc -- COMMAND [OPTIONS])

commands:
  local   run a function under a local FC platform (front door, lifecycle, limits)
  build   static release build of a bin or example (musl; glibc +crt-static fallback)
  zip     the code package: the binary as `bootstrap` in a zip
  image   an OCI image (tarball) holding only /bootstrap
  bench   cold start and throughput of function binaries
  help    this text; `cargo tinyfc help COMMAND` or `cargo tinyfc COMMAND --help` for one command

example:
  cargo tinyfc build --example hello && cargo tinyfc local --once -- target/x86_64-unknown-linux-musl/release/examples/hello

exit codes: 0 success, 1 the command failed, 2 usage error.
";

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // Run as `cargo tinyfc ...`, cargo passes the subcommand's name first.
    if args.first().is_some_and(|a| a == "tinyfc") {
        args.remove(0);
    }
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => ("", &args[..]),
    };
    let code = match command {
        "local" => local::main(rest),
        "build" => static_build::main(rest),
        "zip" => package::zip_main(rest),
        "image" => package::image_main(rest),
        "bench" => bench::main(rest),
        "help" | "-h" | "--help" => help(rest.first().map(String::as_str)),
        "" => cli::usage_error("", "no command given", USAGE),
        other => cli::usage_error("", &format!("unknown command {other:?}"), USAGE),
    };
    std::process::exit(code);
}

/// `help [COMMAND]`: the text of one command, or of all.
fn help(command: Option<&str>) -> i32 {
    let text = match command {
        None => USAGE,
        Some("local") => local::USAGE,
        Some("build") => static_build::USAGE,
        Some("zip") => package::ZIP_USAGE,
        Some("image") => package::IMAGE_USAGE,
        Some("bench") => bench::USAGE,
        Some(other) => return cli::usage_error("", &format!("unknown command {other:?}"), USAGE),
    };
    print!("{text}");
    0
}
