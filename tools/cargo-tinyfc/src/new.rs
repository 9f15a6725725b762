//! `cargo tinyfc new NAME [--event | --http | --trigger KIND] [--container]`: a standalone
//! function crate in `./NAME`, as `cargo lambda new` makes one for Lambda, that builds from its
//! own directory alone (tinyfc is vendored into it: src/new/vendor.rs). The files are the
//! templates under `templates/`, built into the tool (src/new/files.rs); what the user gets is
//! what `tests/new.rs` compiles and tests.

mod files;
mod name;
pub mod trigger;
pub mod vendor;

use std::path::{Path, PathBuf};

use crate::cli::Exit;
/// The code package's runtime block of s.yaml (the s.yaml tests fill the template with it).
#[cfg(test)]
pub use files::CODE_RUNTIME;
use trigger::Trigger;

/// `cargo tinyfc new --help`: after the options.
const EXAMPLES: &str = "\
NAME is the package, binary, function and image name: lower-case letters, digits, - and _,
starting with a letter, at most 64 characters, not a Rust keyword; ./NAME must not exist or be
an empty directory.

example:
  cargo tinyfc new thumbnails --trigger oss && cd thumbnails && cargo test";

/// `cargo tinyfc new`'s command line.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "A function crate in ./NAME that builds from its own directory: Cargo.toml and Cargo.lock,
src/main.rs (handler + tests that run it in-process and over a socket), tinyfc's source in
vendor/tinyfc, s.yaml (FC 3.0), Dockerfile and .dockerignore, README.md with the commands.",
    after_help = EXAMPLES
)]
pub struct NewArgs {
    /// The package, binary, function and image name.
    #[arg(value_parser = function_name)]
    name: String,
    /// An event function: the event is the body of POST /invoke (the default).
    #[arg(long, conflicts_with_all = ["http", "trigger"])]
    event: bool,
    /// An HTTP function with a small router and an HTTP trigger.
    #[arg(long, conflicts_with = "trigger")]
    http: bool,
    /// An event function typed for that trigger's event, with the trigger in s.yaml and FC's
    /// sample event as event.json: oss, timer, mns-topic, mns-queue, sls, cdn, eventbridge,
    /// tablestore, http (= --http).
    #[arg(long, value_name = "KIND", value_parser = trigger_kind)]
    trigger: Option<Kind>,
    /// s.yaml deploys the image (custom container) instead of the code package.
    #[arg(long)]
    container: bool,
    /// Vendor tinyfc from the checkout in DIR (default: the one this tool was built from).
    #[arg(long, value_name = "DIR", conflicts_with = "tinyfc_git")]
    tinyfc_path: Option<PathBuf>,
    /// Depend on tinyfc from git instead of vendoring it, at --rev REV if given.
    #[arg(long, value_name = "URL")]
    tinyfc_git: Option<String>,
    /// The git revision of --tinyfc-git.
    #[arg(long, value_name = "REV", requires = "tinyfc_git")]
    rev: Option<String>,
}

/// clap value parser: a name cargo, FC and Docker all take ([`name::check`]).
fn function_name(name: &str) -> Result<String, String> {
    name::check(name).map(|()| name.to_string())
}

/// clap value parser: `--trigger KIND`.
fn trigger_kind(value: &str) -> Result<Kind, String> {
    Ok(trigger::parse(value)?.map_or(Kind::Http, Kind::Typed))
}

/// The kind of function to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An event function reading the raw body.
    Event,
    /// An HTTP function with a router.
    Http,
    /// An event function typed for one trigger.
    Typed(Trigger),
}

/// Where the generated crate gets tinyfc.
#[derive(Debug, PartialEq, Eq)]
enum Tinyfc {
    /// Vendored into `vendor/tinyfc` from this checkout (absolute).
    Vendored(PathBuf),
    /// A git repository, at a revision if given.
    Git { url: String, rev: Option<String> },
}

/// What `new` was asked for.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    name: String,
    kind: Kind,
    /// s.yaml deploys the image (`custom-container`) rather than the code package.
    container: bool,
    tinyfc: Tinyfc,
}

/// `cargo tinyfc new ARGS`: the exit code.
pub fn main(args: NewArgs) -> Exit {
    let options = parse(args)?;
    let dir = PathBuf::from(&options.name);
    check_destination(&dir)?;
    let existed = dir.exists();
    Ok(match files::create(&dir, &options) {
        Ok(()) => {
            let kind = match options.kind {
                Kind::Event => "an event function".to_string(),
                Kind::Http => "an HTTP function".to_string(),
                Kind::Typed(t) => format!("a function for {} events", t.example()),
            };
            let from = match &options.tinyfc {
                Tinyfc::Vendored(p) => format!("tinyfc vendored from {}", p.display()),
                Tinyfc::Git { url, .. } => format!("tinyfc from {url}"),
            };
            let event = match options.kind {
                Kind::Http => "",
                _ => " --event event.json",
            };
            println!(
                "created {kind} in ./{name} ({from})\n\nnext:\n  cd {name}\n  \
                 cargo test\n  cargo tinyfc local --once{event} -- cargo run -q\n  \
                 (README.md has the rest)",
                name = options.name
            );
            0
        }
        Err(e) => {
            eprintln!("cargo tinyfc new: {e}");
            // Nothing half-made is left behind: the directory was missing or empty before.
            let _ = std::fs::remove_dir_all(&dir);
            if existed {
                let _ = std::fs::create_dir(&dir);
            }
            1
        }
    })
}

/// What clap parsed, checked further; the default tinyfc is this tool's own checkout, vendored.
fn parse(args: NewArgs) -> Result<Options, String> {
    let tinyfc = match (args.tinyfc_path, args.tinyfc_git) {
        (_, Some(url)) => Tinyfc::Git { url, rev: args.rev },
        (Some(dir), None) => Tinyfc::Vendored(vendor::checkout(&dir)?),
        (None, None) => {
            Tinyfc::Vendored(vendor::checkout(&vendor::own_checkout()).map_err(|e| {
                format!(
                    "{e} (this tool's checkout moved?): use --tinyfc-path DIR or --tinyfc-git URL"
                )
            })?)
        }
    };
    let kind = match (args.http, args.trigger) {
        (true, _) => Kind::Http,
        (false, Some(kind)) => kind,
        (false, None) => Kind::Event,
    };
    Ok(Options {
        name: args.name,
        kind,
        container: args.container,
        tinyfc,
    })
}

/// The destination may be missing or an empty directory.
fn check_destination(dir: &Path) -> Result<(), String> {
    match std::fs::read_dir(dir).map(|mut entries| entries.next().is_none()) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("./{} exists and is not empty", dir.display())),
        Err(_) if dir.exists() => Err(format!("./{} exists and is not a directory", dir.display())),
        Err(e) => Err(format!("./{}: {e}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: NewArgs,
    }

    /// `new ARGS` through clap, then [`parse`]: the options or the error's text.
    fn parse_args(a: &[&str]) -> Result<Options, String> {
        let cli =
            <Cli as clap::Parser>::try_parse_from(std::iter::once("new").chain(a.iter().copied()))
                .map_err(|e| e.to_string())?;
        parse(cli.args)
    }

    #[test]
    fn options_pick_the_kind_and_the_dependency() {
        let o = parse_args(&["f"]).unwrap();
        assert_eq!(o.kind, Kind::Event);
        assert!(matches!(o.tinyfc, Tinyfc::Vendored(ref p) if p.join("src/lib.rs").exists()));
        let o = parse_args(&["f", "--trigger", "mns-queue", "--container"]).unwrap();
        assert_eq!(
            (o.kind, o.container),
            (Kind::Typed(Trigger::MnsQueue), true)
        );
        assert_eq!(
            parse_args(&["f", "--trigger", "http"]).unwrap().kind,
            Kind::Http
        );
        let o = parse_args(&[
            "--http",
            "f",
            "--tinyfc-git",
            "https://x/t.git",
            "--rev",
            "ab",
        ]);
        assert_eq!(
            o.unwrap(),
            Options {
                name: "f".into(),
                kind: Kind::Http,
                container: false,
                tinyfc: Tinyfc::Git {
                    url: "https://x/t.git".into(),
                    rev: Some("ab".into())
                },
            }
        );
        for wrong in [
            &["f", "--event", "--http"][..],
            &["f", "--trigger", "oss", "--http"],
            &["f", "--trigger", "oss", "--event"],
            &["f", "--trigger", "s3"],
            &["f", "--trigger"],
            &["Foo-Bar"],
            &["f", "--rev", "ab"],
            &["f", "g"],
            &[],
            &["f", "--tinyfc-path", "/nonexistent"],
            &["f", "--tinyfc-path", ".", "--tinyfc-git", "u"],
        ] {
            assert!(parse_args(wrong).is_err(), "{wrong:?}");
        }
    }
}
