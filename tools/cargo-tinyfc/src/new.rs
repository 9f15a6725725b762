//! `cargo tinyfc new NAME [--event | --http]`: a standalone function crate in `./NAME`, as
//! `cargo lambda new` makes one for Lambda. The files are the templates under `templates/`, built
//! into the tool; `src/main.rs` is valid Rust as it stands (no placeholders), so what the user gets
//! is what `tests/new.rs` compiles and tests.

use std::path::{Path, PathBuf};

use crate::cli::Exit;

/// `cargo tinyfc new --help`: after the options.
const EXAMPLES: &str = "\
NAME is the package and binary name: letters, digits, - and _, not starting with a digit, not a
Rust keyword; ./NAME must not exist or be an empty directory.

example:
  cargo tinyfc new my-function --http && cd my-function && cargo test";

/// `cargo tinyfc new`'s command line.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "A function crate in ./NAME: Cargo.toml, src/main.rs (handler + tests that run it in-process and
over a socket), s.yaml (FC 3.0, initializer and pre-stop configured), Dockerfile, README.md with
the commands.",
    after_help = EXAMPLES
)]
pub struct NewArgs {
    /// The package and binary name.
    #[arg(value_parser = crate_name)]
    name: String,
    /// An event function: the event is the body of POST /invoke (the default).
    #[arg(long, conflicts_with = "http")]
    event: bool,
    /// An HTTP function with a small router and an HTTP trigger.
    #[arg(long)]
    http: bool,
    /// Depend on the tinyfc checkout in DIR (default: the one this tool was built from, by
    /// absolute path).
    #[arg(long, value_name = "DIR", conflicts_with = "tinyfc_git")]
    tinyfc_path: Option<PathBuf>,
    /// Depend on tinyfc from git instead, at --rev REV if given.
    #[arg(long, value_name = "URL")]
    tinyfc_git: Option<String>,
    /// The git revision of --tinyfc-git.
    #[arg(long, value_name = "REV", requires = "tinyfc_git")]
    rev: Option<String>,
}

/// clap value parser: a crate name cargo takes ([`check_name`]).
fn crate_name(name: &str) -> Result<String, String> {
    check_name(name).map(|()| name.to_string())
}

/// The kind of function to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Event,
    Http,
}

/// Where the generated crate finds tinyfc.
#[derive(Debug, PartialEq, Eq)]
enum Tinyfc {
    /// A checkout on this machine (absolute).
    Path(PathBuf),
    /// A git repository, at a revision if given.
    Git { url: String, rev: Option<String> },
}

/// What `new` was asked for.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    name: String,
    kind: Kind,
    tinyfc: Tinyfc,
}

/// `cargo tinyfc new ARGS`: the exit code.
pub fn main(args: NewArgs) -> Exit {
    let options = parse(args)?;
    let dir = PathBuf::from(&options.name);
    check_destination(&dir)?;
    Ok(match write(&dir, &files(&options)) {
        Ok(()) => {
            let kind = match options.kind {
                Kind::Event => "an event function",
                Kind::Http => "an HTTP function",
            };
            let from = match &options.tinyfc {
                Tinyfc::Path(p) => p.display().to_string(),
                Tinyfc::Git { url, .. } => url.clone(),
            };
            let event = match options.kind {
                Kind::Event => " --event event.json",
                Kind::Http => "",
            };
            println!(
                "created {kind} in ./{name} (tinyfc from {from})\n\nnext:\n  cd {name}\n  \
                 cargo test\n  cargo tinyfc local --once{event} -- cargo run -q\n  \
                 (README.md has the rest)",
                name = options.name
            );
            0
        }
        Err(e) => {
            eprintln!("cargo tinyfc new: writing {}: {e}", dir.display());
            1
        }
    })
}

/// What clap parsed, checked further; the default tinyfc is this tool's own checkout.
fn parse(args: NewArgs) -> Result<Options, String> {
    let tinyfc = match (args.tinyfc_path, args.tinyfc_git) {
        (_, Some(url)) => Tinyfc::Git { url, rev: args.rev },
        (Some(dir), None) => Tinyfc::Path(checkout(&dir)?),
        (None, None) => Tinyfc::Path(checkout(&own_checkout()).map_err(|e| {
            format!("{e} (this tool's checkout moved?): use --tinyfc-path DIR or --tinyfc-git URL")
        })?),
    };
    Ok(Options {
        name: args.name,
        kind: if args.http { Kind::Http } else { Kind::Event },
        tinyfc,
    })
}

/// The tinyfc checkout this tool was built from (tools/cargo-tinyfc is two levels down).
fn own_checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `dir` made absolute, if it holds tinyfc's Cargo.toml (so the dependency resolves from anywhere).
fn checkout(dir: &Path) -> Result<PathBuf, String> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    if !manifest.lines().any(|l| l.trim() == "name = \"tinyfc\"") {
        return Err(format!("{} is not a tinyfc checkout", dir.display()));
    }
    dir.canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// Rust keywords (strict, reserved and 2024's `gen`): a crate cannot be named one.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Names cargo refuses or that clash: the standard crates, cargo's own output directories, and
/// tinyfc itself (the crate would depend on itself).
const RESERVED: &[&str] = &[
    "alloc",
    "core",
    "proc_macro",
    "std",
    "test",
    "build",
    "deps",
    "examples",
    "incremental",
    "tinyfc",
];

/// Checks NAME as cargo checks a package name (ASCII only, which cargo recommends).
fn check_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{name:?} is not a valid crate name: {why}"));
    if name.is_empty() {
        return bad("it is empty");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return bad(&format!("{c:?} is not a letter, digit, - or _"));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return bad("it starts with a digit");
    }
    let ident = name.replace('-', "_");
    if KEYWORDS.contains(&ident.as_str()) {
        return bad("it is a Rust keyword");
    }
    if RESERVED.contains(&ident.as_str()) {
        return bad("the name is reserved (a standard crate, a cargo directory, or tinyfc)");
    }
    Ok(())
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

/// A TOML basic string holding `s`.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The HTTP trigger of an HTTP function.
const HTTP_TRIGGER: &str = "      triggers:
        - triggerName: http
          triggerType: http
          triggerConfig:
            authType: anonymous
            methods: [GET, POST, PUT, DELETE, HEAD, PATCH]";

/// An event function's trigger, to fill in: an OSS upload.
const EVENT_TRIGGER: &str =
    "      # Events come from triggers, e.g. every upload to an OSS bucket (OSS needs a role that
      # may invoke the function):
      # triggers:
      #   - triggerName: oss-upload
      #     triggerType: oss
      #     invocationRole: acs:ram::${config('AccountID')}:role/aliyunosseventnotificationrole
      #     sourceArn: acs:oss:${vars.region}:${config('AccountID')}:my-bucket
      #     triggerConfig:
      #       events: [oss:ObjectCreated:PutObject, oss:ObjectCreated:PostObject]
      #       filter: { key: { prefix: uploads/, suffix: '' } }";

/// Every file of the crate: its path under `./NAME` and its text.
fn files(o: &Options) -> Vec<(&'static str, String)> {
    let dependency = match &o.tinyfc {
        Tinyfc::Path(p) => format!("{{ path = {} }}", toml_string(&p.to_string_lossy())),
        Tinyfc::Git { url, rev: None } => format!("{{ git = {} }}", toml_string(url)),
        Tinyfc::Git { url, rev: Some(r) } => {
            format!("{{ git = {}, rev = {} }}", toml_string(url), toml_string(r))
        }
    };
    let (main, summary, call, triggers, once_event, try_it) = match o.kind {
        Kind::Event => (
            include_str!("../templates/event_main.rs"),
            "An event function",
            "event",
            EVENT_TRIGGER,
            " --event event.json",
            format!(
                "curl localhost:8000/2023-03-30/functions/{}/invocations -d @event.json\n\
                 {:45}# while it serves: an event invocation",
                o.name, ""
            ),
        ),
        Kind::Http => (
            include_str!("../templates/http_main.rs"),
            "An HTTP function",
            "request",
            HTTP_TRIGGER,
            "",
            format!("{:45}# while it serves", "curl localhost:8000/hello/you"),
        ),
    };
    let fill = |template: &str| {
        template
            .replace("{{name}}", &o.name)
            .replace("{{tinyfc}}", &dependency)
            .replace("{{summary}}", summary)
            .replace("{{description}}", &format!("{summary} on tinyfc"))
            .replace("{{call}}", call)
            .replace("{{resource}}", &o.name.replace('-', "_"))
            .replace("{{triggers}}", triggers)
            .replace("{{once_event}}", once_event)
            .replace("{{try}}", &try_it)
    };
    let mut files = vec![
        (
            "Cargo.toml",
            fill(include_str!("../templates/Cargo.toml.in")),
        ),
        ("src/main.rs", main.to_string()),
        ("s.yaml", fill(include_str!("../templates/s.yaml.in"))),
        (
            "Dockerfile",
            fill(include_str!("../templates/Dockerfile.in")),
        ),
        ("README.md", fill(include_str!("../templates/README.md.in"))),
        (
            ".gitignore",
            include_str!("../templates/gitignore.in").to_string(),
        ),
    ];
    if o.kind == Kind::Event {
        files.push(("event.json", "{\"bucket\": \"photos\"}\n".to_string()));
    }
    if let Tinyfc::Path(checkout) = &o.tinyfc {
        // The versions of tinyfc's dependencies its own tests ran with (cargo drops the rest).
        if let Ok(lock) = std::fs::read_to_string(checkout.join("Cargo.lock")) {
            files.push(("Cargo.lock", lock));
        }
    }
    files
}

/// Writes `files` under `dir`.
fn write(dir: &Path, files: &[(&str, String)]) -> std::io::Result<()> {
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(())
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
    fn names_cargo_would_refuse_are_refused_with_the_reason() {
        for good in ["my-function", "f", "a_b2", "Thumbnailer"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("1abc", "digit"),
            ("a b", "' ' is not"),
            ("café", "'é' is not"),
            ("self", "keyword"),
            ("async", "keyword"),
            ("std", "reserved"),
            ("tinyfc", "reserved"),
            ("proc-macro", "reserved"),
        ] {
            let e = check_name(bad).unwrap_err();
            assert!(
                e.contains(why) && e.contains("not a valid crate name"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn options_pick_the_kind_and_the_dependency() {
        let o = parse_args(&["f"]).unwrap();
        assert_eq!(o.kind, Kind::Event);
        assert!(matches!(o.tinyfc, Tinyfc::Path(ref p) if p.join("src/lib.rs").exists()));
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
                tinyfc: Tinyfc::Git {
                    url: "https://x/t.git".into(),
                    rev: Some("ab".into())
                },
            }
        );
        for wrong in [
            &["f", "--event", "--http"][..],
            &["f", "--rev", "ab"],
            &["f", "g"],
            &[],
            &["f", "--tinyfc-path", "/nonexistent"],
            &["f", "--tinyfc-path", ".", "--tinyfc-git", "u"],
        ] {
            assert!(parse_args(wrong).is_err(), "{wrong:?}");
        }
    }

    #[test]
    fn the_dependency_is_valid_toml_for_any_path() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
        let o = Options {
            name: "f".into(),
            kind: Kind::Http,
            tinyfc: Tinyfc::Git {
                url: "https://x/t.git".into(),
                rev: None,
            },
        };
        let files = files(&o);
        let manifest = &files.iter().find(|(p, _)| *p == "Cargo.toml").unwrap().1;
        assert!(
            manifest.contains("tinyfc = { git = \"https://x/t.git\" }"),
            "{manifest}"
        );
        assert!(files.iter().all(|(_, text)| !text.contains("{{")));
        let yaml = &files.iter().find(|(p, _)| *p == "s.yaml").unwrap().1;
        assert!(
            yaml.contains("triggerType: http") && yaml.contains("preStop:"),
            "{yaml}"
        );
    }
}
