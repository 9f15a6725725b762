//! `cargo tinyfc zip` and `cargo tinyfc image`: the command lines of the `tinyfc-pack` library
//! (tools/pack, docs/packaging.md), which writes the packages.
//!
//! - `zip BINARY OUT.zip`: the code package for a custom runtime: the binary as `bootstrap` (mode
//!   0755) at the zip's root, what FC starts when `customRuntimeConfig` has no command.
//! - `image BINARY OUT.tar [--name NAME[:TAG]] [--port PORT]`: an OCI image layout tarball with one
//!   layer holding only `/bootstrap`, entrypoint `/bootstrap`, the port exposed and no base image,
//!   which `skopeo`, `umoci`, `docker load` and `podman load` all take.

use std::path::Path;

use crate::cli::{Args, Stop};

/// `cargo tinyfc zip --help`.
pub const ZIP_USAGE: &str = "\
cargo tinyfc zip: the code package for an FC custom runtime: BINARY as `bootstrap` (mode 0755),
deflated, at the zip's root (the output is the same for the same binary).

usage: cargo tinyfc zip BINARY OUT.zip

example:
  cargo tinyfc build --example hello
  cargo tinyfc zip target/x86_64-unknown-linux-musl/release/examples/hello dist/function.zip
";

/// `cargo tinyfc image --help`.
pub const IMAGE_USAGE: &str = "\
cargo tinyfc image: an OCI image layout tarball holding only /bootstrap (entrypoint, no base
image, architecture from the binary); also loadable by `docker load`, `podman load`, skopeo
(oci-archive:OUT.tar) and umoci.

usage: cargo tinyfc image BINARY OUT.tar [--name NAME[:TAG]] [--port PORT]

  --name NAME[:TAG]  the image's name (default tinyfc-function:latest; no tag: latest)
  --port PORT        the port exposed and set as FC_SERVER_PORT (default 9000, FC's)

example:
  cargo tinyfc image target/x86_64-unknown-linux-musl/release/examples/hello dist/image.tar --name hello:1
";

/// `cargo tinyfc zip ARGS`: the exit code.
pub fn zip_main(args: &[String]) -> i32 {
    let (binary, out) = match positionals(args, |_, _| Err(Stop::Usage(String::new()))) {
        Ok(paths) => paths,
        Err(stop) => return crate::cli::stopped("zip", stop, ZIP_USAGE),
    };
    match tinyfc_pack::zip(Path::new(&binary), Path::new(&out)) {
        Ok(()) => {
            let size = std::fs::metadata(&out).map_or(0, |m| m.len());
            println!("{out}: {size} bytes");
            0
        }
        Err(e) => failed(e),
    }
}

/// `cargo tinyfc image ARGS`: the exit code.
pub fn image_main(args: &[String]) -> i32 {
    let mut name = "tinyfc-function:latest".to_string();
    let mut port = tinyfc_pack::DEFAULT_PORT;
    let parsed = positionals(args, |option, it| {
        match option {
            "--name" => {
                let v = it.value(option)?;
                tinyfc_pack::image_name(v).map_err(|e| Stop::Usage(format!("--name: {e}")))?;
                name = v.to_string();
            }
            "--port" => {
                port = it.parsed(option)?;
                if port == 0 {
                    return Err(Stop::Usage(
                        "--port: FC needs a fixed port (1-65535)".into(),
                    ));
                }
            }
            _ => return Err(Stop::Usage(String::new())),
        }
        Ok(())
    });
    let (binary, out) = match parsed {
        Ok(paths) => paths,
        Err(stop) => return crate::cli::stopped("image", stop, IMAGE_USAGE),
    };
    match tinyfc_pack::image_on_port(Path::new(&binary), Path::new(&out), &name, port) {
        Ok(info) => {
            println!(
                "{out}: {} bytes, {} ({}), manifest {}",
                info.size, info.reference, info.architecture, info.manifest_digest
            );
            0
        }
        Err(e) => failed(e),
    }
}

/// Parses `BINARY OUT` and options (each handled by `option`, which answers an empty usage error
/// for an option it does not know).
fn positionals<'a>(
    args: &'a [String],
    mut option: impl FnMut(&str, &mut Args<'a>) -> Result<(), Stop>,
) -> Result<(String, String), Stop> {
    let mut it = Args::new(args);
    let mut paths = Vec::new();
    while let Some(arg) = it.next()? {
        if arg.starts_with('-') {
            match option(arg, &mut it) {
                Err(Stop::Usage(m)) if m.is_empty() => {
                    return Err(Stop::Usage(format!("unknown option {arg}")))
                }
                other => other?,
            }
        } else {
            paths.push(arg.to_string());
        }
    }
    match <[String; 2]>::try_from(paths) {
        Ok([binary, out]) => Ok((binary, out)),
        Err(p) => Err(Stop::Usage(format!(
            "expected BINARY and OUT, got {} paths",
            p.len()
        ))),
    }
}

/// Says why packaging failed: exit code 1.
fn failed(e: std::io::Error) -> i32 {
    eprintln!("cargo tinyfc: {e}");
    1
}
