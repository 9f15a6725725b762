//! `cargo tinyfc`: the tools for tinyfc functions, as a cargo subcommand (`cargo install --path
//! tools/cargo-tinyfc`, then `cargo tinyfc COMMAND`; or `cargo run -p cargo-tinyfc -- COMMAND`).
//!
//! - `new`: a function crate to start from (src/new.rs, templates/); `vendor` refreshes the copy
//!   of tinyfc in it (src/new/vendor.rs).
//! - `local`: the local Function Compute platform (src/local).
//! - `invoke`: one call to a `local` that is serving (src/invoke.rs).
//! - `build`: the static release build a function is deployed as (src/static_build.rs).
//! - `zip`, `image`: the code package and the OCI image (src/package).
//! - `bench`: cold start and throughput of function binaries (src/bench).
//! - `check`: s.yaml validated before `s deploy` (src/check, src/syaml).
//!
//! The command line is clap's derive: each command's options are a struct beside the command
//! (`new::NewArgs`, ...), and [`Command`] below lists the commands.
//!
//! Exit codes: 0 success, 1 the command failed, 2 usage (a wrong option never panics).

use std::ffi::OsString;

use clap::{CommandFactory, Parser, Subcommand};

mod bench;
mod check;
mod cli;
mod invoke;
mod local;
mod new;
mod package;
mod static_build;
mod syaml;

/// The top-level `cargo tinyfc --help` text after the commands.
const EXAMPLES: &str = "\
example:
  cargo tinyfc build --example hello && cargo tinyfc local --once -- target/x86_64-unknown-linux-musl/release/examples/hello

`cargo tinyfc help COMMAND` or `cargo tinyfc COMMAND --help` for one command.
exit codes: 0 success, 1 the command failed, 2 usage error.";

/// `cargo tinyfc`'s command line.
#[derive(Parser, Debug)]
#[command(
    name = "cargo tinyfc",
    bin_name = "cargo tinyfc",
    about = "cargo tinyfc: run, build, package and benchmark Function Compute functions written with tinyfc.",
    override_usage = "cargo tinyfc COMMAND [OPTIONS]     (or: cargo run -p cargo-tinyfc -- COMMAND [OPTIONS])",
    after_help = EXAMPLES,
    disable_help_subcommand = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The commands; each one's `about` is its line in the list, its own `--help` says more.
#[derive(Subcommand, Debug)]
enum Command {
    #[command(
        about = "A function crate in ./NAME (event, HTTP or a trigger's), with tests, s.yaml and Dockerfile."
    )]
    New(new::NewArgs),
    #[command(about = "Refresh the copy of tinyfc in a crate `new` made (vendor/tinyfc).")]
    Vendor(new::vendor::VendorArgs),
    #[command(about = "Run a function under a local FC platform (front door, lifecycle, limits).")]
    Local(Box<local::LocalArgs>),
    #[command(
        about = "Call a `cargo tinyfc local` that is serving: an event, or an HTTP request."
    )]
    Invoke(invoke::InvokeArgs),
    #[command(
        about = "Static release build of a bin or example (musl; glibc +crt-static fallback)."
    )]
    Build(static_build::BuildArgs),
    #[command(about = "The code package: the binary as `bootstrap` in a zip.")]
    Zip(package::ZipArgs),
    #[command(
        about = "An OCI image (tarball) holding /bootstrap (--ca-certs: and CA certificates, /tmp)."
    )]
    Image(package::ImageArgs),
    #[command(about = "Cold start and throughput of function binaries.")]
    Bench(bench::BenchArgs),
    #[command(about = "Validate s.yaml (fc3 schema, FC's and tinyfc's rules) before `s deploy`.")]
    Check(check::CheckArgs),
    /// This text, or one command's.
    Help {
        /// The command whose help to print.
        command: Option<String>,
    },
}

fn main() {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    // Run as `cargo tinyfc ...`, cargo passes the subcommand's name first.
    if args.get(1).is_some_and(|a| a == "tinyfc") {
        args.remove(1);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let (name, result) = match cli.command {
        Command::Local(a) => ("local", local::main(*a)),
        Command::Invoke(a) => ("invoke", invoke::main(a)),
        Command::New(a) => ("new", new::main(a)),
        Command::Vendor(a) => ("vendor", new::vendor::main(a)),
        Command::Build(a) => ("build", static_build::main(a)),
        Command::Zip(a) => ("zip", package::zip_main(a)),
        Command::Image(a) => ("image", package::image_main(a)),
        Command::Bench(a) => ("bench", bench::main(a)),
        Command::Check(a) => ("check", check::main(a)),
        Command::Help { command } => ("help", help(command.as_deref())),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(usage) => usage_error(name, &usage.0),
    }
}

/// Says a usage error found after parsing as clap says its own, with the command's usage: exit 2.
fn usage_error(command: &str, message: &str) -> ! {
    let mut top = Cli::command();
    top.build();
    let mut cmd = match top.find_subcommand_mut(command) {
        Some(sub) => sub.clone(),
        None => top,
    };
    cmd.error(clap::error::ErrorKind::ValueValidation, message)
        .exit()
}

/// `help [COMMAND]`: the text of one command, or of all.
fn help(command: Option<&str>) -> cli::Exit {
    let mut top = Cli::command();
    top.build();
    match command {
        None => print!("{}", top.render_long_help()),
        // Exactly what `COMMAND --help` prints (clap prints it and exits 0).
        Some(name) if top.find_subcommand(name).is_some() => {
            if let Err(e) = Cli::try_parse_from(["cargo tinyfc", name, "--help"]) {
                e.exit()
            }
        }
        Some(name) => return Err(cli::UsageError(format!("unknown command {name:?}"))),
    }
    Ok(0)
}
