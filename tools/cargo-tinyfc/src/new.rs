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

use crate::cli::{Args, Stop};
use trigger::Trigger;

/// `cargo tinyfc new --help`.
pub const USAGE: &str = "\
cargo tinyfc new: a function crate in ./NAME that builds from its own directory: Cargo.toml and
Cargo.lock, src/main.rs (handler + tests that run it in-process and over a socket), tinyfc's
source in vendor/tinyfc, s.yaml (FC 3.0), Dockerfile and .dockerignore, README.md.

usage: cargo tinyfc new NAME [--event | --http | --trigger KIND] [--container]
                             [--tinyfc-path DIR | --tinyfc-git URL [--rev REV]]

  --event            an event function: the event is the body of POST /invoke (the default)
  --http             an HTTP function with a small router and an HTTP trigger
  --trigger KIND     an event function typed for that trigger's event, with the trigger in
                     s.yaml and FC's sample event as event.json; KIND is one of
                     oss, timer, mns-topic, mns-queue, sls, cdn, eventbridge, tablestore, http
  --container        s.yaml deploys the image (custom container) instead of the code package
  --tinyfc-path DIR  vendor tinyfc from the checkout in DIR (default: the one this tool was
                     built from)
  --tinyfc-git URL   depend on tinyfc from git instead of vendoring it, at --rev REV if given

NAME is the package, binary, function and image name: lower-case letters, digits, - and _,
starting with a letter, at most 64 characters, not a Rust keyword; ./NAME must not exist or be
an empty directory.

example:
  cargo tinyfc new thumbnails --trigger oss && cd thumbnails && cargo test
";

/// The kind of function to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
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
pub fn main(args: &[String]) -> i32 {
    let options = match parse(args) {
        Ok(o) => o,
        Err(stop) => return crate::cli::stopped("new", stop, USAGE),
    };
    let dir = PathBuf::from(&options.name);
    if let Err(message) = check_destination(&dir) {
        return crate::cli::usage_error("new", &message, USAGE);
    }
    let existed = dir.exists();
    match files::create(&dir, &options) {
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
    }
}

/// Parses the arguments; the default tinyfc is this tool's own checkout, vendored.
fn parse(args: &[String]) -> Result<Options, Stop> {
    let mut it = Args::new(args);
    let (mut name, mut kind, mut container) = (None, None, false);
    let (mut path, mut git, mut rev) = (None, None, None);
    while let Some(arg) = it.next()? {
        let k = match arg {
            "--event" => Kind::Event,
            "--http" => Kind::Http,
            "--trigger" => trigger::parse(it.value(arg)?)?.map_or(Kind::Http, Kind::Typed),
            "--container" => {
                container = true;
                continue;
            }
            "--tinyfc-path" => {
                path = Some(it.value(arg)?);
                continue;
            }
            "--tinyfc-git" => {
                git = Some(it.value(arg)?.to_string());
                continue;
            }
            "--rev" => {
                rev = Some(it.value(arg)?.to_string());
                continue;
            }
            option if option.starts_with('-') => {
                return Err(Stop::Usage(format!("unknown option {option}")))
            }
            positional if name.is_none() => {
                name = Some(positional.to_string());
                continue;
            }
            extra => return Err(Stop::Usage(format!("one NAME only, {extra:?} is extra"))),
        };
        if kind.is_some_and(|old| old != k) {
            return Err(Stop::Usage(
                "--event, --http and --trigger exclude each other".into(),
            ));
        }
        kind = Some(k);
    }
    let name = name.ok_or_else(|| Stop::Usage("no NAME given".into()))?;
    name::check(&name)?;
    let tinyfc = match (path, git, rev) {
        (Some(_), Some(_), _) => {
            return Err(Stop::Usage(
                "--tinyfc-path and --tinyfc-git exclude each other".into(),
            ))
        }
        (_, None, Some(_)) => return Err(Stop::Usage("--rev needs --tinyfc-git".into())),
        (None, Some(url), rev) => Tinyfc::Git { url, rev },
        (Some(dir), None, None) => Tinyfc::Vendored(vendor::checkout(Path::new(dir))?),
        (None, None, None) => {
            Tinyfc::Vendored(vendor::checkout(&vendor::own_checkout()).map_err(|e| {
                format!(
                    "{e} (this tool's checkout moved?): use --tinyfc-path DIR or --tinyfc-git URL"
                )
            })?)
        }
    };
    Ok(Options {
        name,
        kind: kind.unwrap_or(Kind::Event),
        container,
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

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_pick_the_kind_and_the_dependency() {
        let o = parse(&args(&["f"])).unwrap();
        assert_eq!(o.kind, Kind::Event);
        assert!(matches!(o.tinyfc, Tinyfc::Vendored(ref p) if p.join("src/lib.rs").exists()));
        let o = parse(&args(&["f", "--trigger", "mns-queue", "--container"])).unwrap();
        assert_eq!(
            (o.kind, o.container),
            (Kind::Typed(Trigger::MnsQueue), true)
        );
        assert_eq!(
            parse(&args(&["f", "--trigger", "http"])).unwrap().kind,
            Kind::Http
        );
        let o = parse(&args(&[
            "--http",
            "f",
            "--tinyfc-git",
            "https://x/t.git",
            "--rev",
            "ab",
        ]));
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
            &["f", "--trigger", "s3"],
            &["f", "--trigger"],
            &["Foo-Bar"],
            &["f", "--rev", "ab"],
            &["f", "g"],
            &[],
            &["f", "--tinyfc-path", "/nonexistent"],
            &["f", "--tinyfc-path", ".", "--tinyfc-git", "u"],
        ] {
            assert!(
                matches!(parse(&args(wrong)), Err(Stop::Usage(_))),
                "{wrong:?}"
            );
        }
    }
}
