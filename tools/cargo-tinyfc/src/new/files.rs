//! The files of a new crate: the templates under `templates/` filled in for the options, then
//! written, with tinyfc vendored into the crate and `Cargo.lock` resolved by cargo.

use std::path::Path;

use super::{trigger, vendor, Kind, Options, Tinyfc};

/// Writes the crate into `dir` (missing or empty): the files, `vendor/tinyfc`, `Cargo.lock`.
pub fn create(dir: &Path, o: &Options) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let (version, seed) = match &o.tinyfc {
        Tinyfc::Vendored(checkout) => (
            Some(vendor::vendor(checkout, dir)?),
            Some(checkout.join("Cargo.lock")),
        ),
        Tinyfc::Git { .. } => (None, None),
    };
    for (path, text) in files(o, version.as_deref()) {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    match (vendor::lock(dir, seed.as_deref()), &o.tinyfc) {
        // A git repository may be out of reach now (private, offline): the crate is still right,
        // and its first build writes the lock file.
        (Err(e), Tinyfc::Git { url, .. }) => {
            eprintln!(
                "cargo tinyfc new: no Cargo.lock written ({url} could not be read now):\n{e}"
            );
            Ok(())
        }
        (result, _) => result,
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

/// The `[dependencies]` lines: tinyfc (vendored at `version`, or from git), and for a typed
/// function the `events` feature, serde and serde_json (for event and answer types of the
/// user's own) and what the trigger needs beyond them.
fn dependencies(o: &Options, version: Option<&str>) -> String {
    let mut tinyfc = match (&o.tinyfc, version) {
        (Tinyfc::Git { url, rev }, _) => {
            let rev = rev.as_ref().map(|r| format!(", rev = {}", toml_string(r)));
            format!("tinyfc = {{ git = {}{}", toml_string(url), rev.unwrap_or_default())
        }
        (Tinyfc::Vendored(_), v) => format!(
            "# tinyfc's source, vendored (README.md). Once tinyfc is on crates.io, dropping `path`\n\
             # takes it from there.\n\
             tinyfc = {{ version = {}, path = {}",
            toml_string(v.unwrap_or("0.1.0")),
            toml_string(vendor::DIR)
        ),
    };
    let Kind::Typed(t) = o.kind else {
        return tinyfc + " }\n";
    };
    tinyfc.push_str(", features = [\"events\"] }\n");
    tinyfc.push_str(
        "# Your own event and answer types: #[derive(serde::Deserialize, serde::Serialize)].\n\
         serde = { version = \"1\", features = [\"derive\"] }\n\
         serde_json = \"1\"\n",
    );
    tinyfc + t.dependencies()
}

/// The HTTP trigger of an HTTP function.
const HTTP_TRIGGER: &str =
    "      # An HTTP trigger: every request to the function's URL is passed through. OPTIONS is
      # listed so that browsers' CORS preflight requests reach the handler.
      triggers:
        - triggerName: http
          triggerType: http
          triggerConfig:
            authType: anonymous
            methods: [GET, POST, PUT, DELETE, HEAD, PATCH, OPTIONS]";

/// A plain event function's trigger, to fill in: `new --trigger KIND` writes one out.
const EVENT_TRIGGER: &str =
    "      # Events come from triggers (OSS, timers, queues...): `cargo tinyfc new NAME --trigger KIND`
      # writes a function typed for one, with its trigger here. InvokeFunction (`s invoke -e`)
      # calls the function without one.";

/// s.yaml's runtime for the code package (not `--container`).
pub const CODE_RUNTIME: &str =
    "      # custom.debian12: a runtime that is not end of life (custom.debian10 is); the static
      # binary needs nothing from it.
      runtime: custom.debian12
      code: ./dist/function.zip
      customRuntimeConfig:
        port: 9000                # no command: FC starts /code/bootstrap";

/// Every file of the crate but `vendor/` and `Cargo.lock`: its path under `./NAME` and its text.
pub fn files(o: &Options, version: Option<&str>) -> Vec<(&'static str, String)> {
    let (main, summary, call, triggers) = match o.kind {
        Kind::Event => (
            include_str!("../../templates/event_main.rs").to_string(),
            "An event function".to_string(),
            "event",
            EVENT_TRIGGER.to_string(),
        ),
        Kind::Http => (
            include_str!("../../templates/http_main.rs").to_string(),
            "An HTTP function".to_string(),
            "request",
            HTTP_TRIGGER.to_string(),
        ),
        Kind::Typed(t) => (
            include_str!("../../templates/trigger_main.rs")
                .replace("{{about}}", t.about())
                .replace("{{event_type}}", t.event_type())
                .replace("{{example}}", t.example())
                .replace("{{trigger}}", t.code()),
            format!("A function for {} events", t.example()),
            "event",
            trigger::yaml_with_roles(t),
        ),
    };
    let try_it = match o.kind {
        Kind::Http => format!("{:45}# while it serves", "curl localhost:8000/hello/you"),
        _ => format!(
            "curl localhost:8000/2023-03-30/functions/{}/invocations -d @event.json\n\
             {:45}# while it serves: an event invocation",
            o.name, ""
        ),
    };
    let once_event = match o.kind {
        Kind::Http => "",
        _ => " --event event.json",
    };
    let image = format!(
        "cargo tinyfc image \"$BIN\" dist/image.tar --name {}:latest --ca-certs",
        o.name
    );
    let (runtime, deploy, package) = if o.container {
        (
            format!(
                "      runtime: custom-container
      customContainerConfig:
        # Push dist/image.tar here first (README.md); an image FC pulls from Container Registry
        # (ACR) in the function's region.
        image: registry.${{vars.region}}.aliyuncs.com/my-namespace/{}:latest
        port: 9000",
                o.name
            ),
            "`s deploy` deploys the image dist/image.tar, pushed\n# to the registry named below \
             (README.md: how to make and push it).",
            format!(
                "{image}\n{:45}# the image s.yaml deploys (or: docker build .)\n\
                 skopeo copy oci-archive:dist/image.tar docker://registry.cn-hangzhou.aliyuncs.com/my-namespace/{}:latest\n\
                 s deploy",
                "", o.name
            ),
        )
    } else {
        (
            CODE_RUNTIME.to_string(),
            "`s deploy` uploads dist/function.zip (README.md: how\n# to make it).",
            format!(
                "cargo tinyfc zip \"$BIN\" dist/function.zip    # the code package s.yaml deploys: s deploy\n\
                 {image}\n{:45}# an OCI image (custom container), or: docker build .",
                ""
            ),
        )
    };
    let dependencies = dependencies(o, version);
    let where_from = match &o.tinyfc {
        Tinyfc::Vendored(_) => {
            "The crate builds from this directory alone: tinyfc's source is in `vendor/tinyfc` (as
`cargo package` makes it), and `Cargo.lock` pins every dependency, so `docker build .`, a CI
job on a fresh clone and `cargo build --offline` all work. `cargo tinyfc vendor` refreshes
`vendor/tinyfc` from a newer tinyfc checkout."
        }
        Tinyfc::Git { .. } => {
            "tinyfc comes from git (Cargo.toml): every build, `docker build .` included, needs that
repository in reach. `cargo tinyfc new --help` shows how to vendor it instead."
        }
    };
    let fill = |template: &str| {
        template
            .replace("{{dependencies}}", &dependencies)
            .replace("{{summary}}", &summary)
            .replace("{{description}}", &format!("{summary} on tinyfc"))
            .replace("{{call}}", call)
            .replace("{{resource}}", &o.name.replace('-', "_"))
            .replace("{{deploy}}", deploy)
            .replace("{{runtime}}", &runtime)
            .replace("{{triggers}}", &triggers)
            .replace("{{once_event}}", once_event)
            .replace("{{try}}", &try_it)
            .replace("{{package}}", &package)
            .replace("{{where}}", where_from)
            // Last: a name holds no braces, so nothing it brings in is taken for a placeholder.
            .replace("{{name}}", &o.name)
    };
    let mut files = vec![
        (
            "Cargo.toml",
            fill(include_str!("../../templates/Cargo.toml.in")),
        ),
        ("src/main.rs", main),
        ("s.yaml", fill(include_str!("../../templates/s.yaml.in"))),
        (
            "Dockerfile",
            fill(include_str!("../../templates/Dockerfile.in")),
        ),
        (
            ".dockerignore",
            include_str!("../../templates/dockerignore.in").to_string(),
        ),
        (
            "README.md",
            fill(include_str!("../../templates/README.md.in")),
        ),
        (
            ".gitignore",
            include_str!("../../templates/gitignore.in").to_string(),
        ),
    ];
    match o.kind {
        Kind::Event => files.push(("event.json", "{\"bucket\": \"photos\"}\n".to_string())),
        Kind::Typed(t) => {
            let sample = tinyfc::events::fixtures::example(t.example()).unwrap_or("{}\n");
            files.push(("event.json", sample.to_string()));
        }
        Kind::Http => {}
    }
    files
}

#[cfg(test)]
mod tests {
    use super::super::Trigger;
    use super::*;

    fn options(kind: Kind, container: bool, tinyfc: Tinyfc) -> Options {
        Options {
            name: "f".into(),
            kind,
            container,
            tinyfc,
        }
    }

    fn file<'a>(files: &'a [(&str, String)], name: &str) -> &'a str {
        &files.iter().find(|(p, _)| *p == name).unwrap().1
    }

    #[test]
    fn the_dependency_is_valid_toml_for_any_url() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
        let git = Tinyfc::Git {
            url: "https://x/t.git".into(),
            rev: None,
        };
        let files = files(&options(Kind::Http, false, git), None);
        let manifest = file(&files, "Cargo.toml");
        assert!(
            manifest.contains("tinyfc = { git = \"https://x/t.git\" }"),
            "{manifest}"
        );
    }

    #[test]
    fn every_variant_fills_every_placeholder_and_writes_its_trigger() {
        let vendored = || Tinyfc::Vendored("/nowhere".into());
        let typed = [
            (Trigger::Oss, "triggerType: oss"),
            (Trigger::Timer, "triggerType: timer"),
            (Trigger::MnsTopic, "triggerType: mns_topic"),
            (Trigger::MnsQueue, "eventSourceType: MNS"),
            (Trigger::Sls, "triggerType: log"),
            (Trigger::Cdn, "triggerType: cdn_events"),
            (Trigger::EventBridge, "eventSourceType: Default"),
            (Trigger::Tablestore, "triggerType: tablestore"),
        ];
        let mut kinds: Vec<(Kind, &str)> =
            vec![(Kind::Event, "--trigger KIND"), (Kind::Http, "OPTIONS]")];
        kinds.extend(typed.iter().map(|&(t, y)| (Kind::Typed(t), y)));
        for (kind, trigger) in kinds {
            for container in [false, true] {
                let files = files(&options(kind, container, vendored()), Some("0.1.0"));
                for (path, text) in &files {
                    assert!(!text.contains("{{"), "{kind:?} {path}: {text}");
                }
                let yaml = file(&files, "s.yaml");
                assert!(yaml.contains(trigger), "{kind:?}:\n{yaml}");
                let runtime = if container {
                    "runtime: custom-container"
                } else {
                    "runtime: custom.debian12"
                };
                assert!(yaml.contains(runtime), "{yaml}");
                let manifest = file(&files, "Cargo.toml");
                assert!(
                    manifest.contains(r#"tinyfc = { version = "0.1.0", path = "vendor/tinyfc""#),
                    "{manifest}"
                );
                if let Kind::Typed(t) = kind {
                    assert!(manifest.contains("features = [\"events\"]"), "{manifest}");
                    assert!(manifest.contains("serde_json = \"1\""), "{manifest}");
                    let sample = tinyfc::events::fixtures::example(t.example()).unwrap();
                    assert_eq!(file(&files, "event.json"), sample);
                }
            }
        }
    }
}
