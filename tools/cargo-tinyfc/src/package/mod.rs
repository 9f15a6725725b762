//! `cargo tinyfc zip` and `cargo tinyfc image`: the command lines of the `tinyfc-pack` library
//! (tools/pack, docs/packaging.md), which writes the packages.
//!
//! - `zip BINARY OUT.zip`: the code package for a custom runtime: the binary as `bootstrap` (mode
//!   0755) at the zip's root, what FC starts when `customRuntimeConfig` has no command.
//! - `image BINARY OUT.tar [--name NAME[:TAG]] [--port PORT] [--ca-certs[=FILE]]`: an OCI image
//!   layout tarball with one layer holding `/bootstrap` (and with `--ca-certs` a CA bundle and
//!   `/tmp`), entrypoint `/bootstrap`, the port exposed and no base image, which `skopeo`,
//!   `umoci`, `docker load` and `podman load` all take.

use std::path::PathBuf;

use crate::cli::Exit;

/// `cargo tinyfc zip`'s command line.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "The code package for an FC custom runtime: BINARY as `bootstrap` (mode 0755), deflated, at the
zip's root (the output is the same for the same binary).",
    after_help = "example:
  cargo tinyfc build --example hello
  cargo tinyfc zip target/x86_64-unknown-linux-musl/release/examples/hello dist/function.zip"
)]
pub struct ZipArgs {
    /// The function binary: an ELF executable, or a script starting with #! (else refused).
    binary: PathBuf,
    /// The zip to write.
    #[arg(value_name = "OUT.zip")]
    out: PathBuf,
}

/// `cargo tinyfc image`'s command line.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "An OCI image layout tarball holding only /bootstrap (entrypoint, no base image, architecture
from the binary), and with --ca-certs a CA bundle and /tmp; also loadable by `docker load`,
`podman load`, skopeo (oci-archive:OUT.tar) and umoci.",
    after_help = "example:
  cargo tinyfc image target/x86_64-unknown-linux-musl/release/examples/hello dist/image.tar --name hello:1 --ca-certs"
)]
pub struct ImageArgs {
    /// The function binary.
    binary: PathBuf,
    /// The tarball to write.
    #[arg(value_name = "OUT.tar")]
    out: PathBuf,
    /// The image's name (no tag: latest).
    #[arg(long, value_name = "NAME[:TAG]", default_value = "tinyfc-function:latest", value_parser = image_name)]
    name: String,
    /// The port exposed and set as FC_SERVER_PORT (FC's default; FC needs a fixed port).
    #[arg(long, default_value_t = tinyfc_pack::DEFAULT_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
    /// Add a CA bundle at /etc/ssl/certs/ca-certificates.crt (named by SSL_CERT_FILE) and a /tmp
    /// of mode 1777, what a function calling HTTPS services or writing temp files needs: this
    /// machine's bundle, or FILE (`--ca-certs=FILE`).
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    ca_certs: Option<Option<PathBuf>>,
    /// Paths past OUT.tar: caught to say what `--ca-certs FILE` (a space) needs. FILE only with
    /// `=`: after a space `image BIN --ca-certs OUT.tar` could mean either.
    #[arg(hide = true)]
    extra: Vec<PathBuf>,
}

/// clap value parser: an image name the packager takes.
fn image_name(v: &str) -> Result<String, String> {
    tinyfc_pack::image_name(v)
        .map(|_| v.to_string())
        .map_err(|e| e.to_string())
}

/// `cargo tinyfc zip ARGS`: the exit code.
pub fn zip_main(args: ZipArgs) -> Exit {
    // What `check` would call an error in the package is refused before anything is written.
    if let Ok(file) = std::fs::File::open(&args.binary) {
        if let Err(rule) = crate::check::elf_or_script(file) {
            eprintln!(
                "cargo tinyfc: {}: {rule}: FC could not start it as the package's bootstrap \
                 (zip the function binary that `cargo tinyfc build` prints)",
                args.binary.display()
            );
            return Ok(1);
        }
    }
    Ok(match tinyfc_pack::zip(&args.binary, &args.out) {
        Ok(()) => {
            let size = std::fs::metadata(&args.out).map_or(0, |m| m.len());
            println!("{}: {size} bytes", args.out.display());
            0
        }
        Err(e) => failed(e),
    })
}

/// `cargo tinyfc image ARGS`: the exit code.
pub fn image_main(args: ImageArgs) -> Exit {
    if let Some(extra) = args.extra.first() {
        return Err(crate::cli::UsageError(match args.ca_certs {
            Some(None) => "--ca-certs takes its FILE only after =: write --ca-certs=FILE (after \
                           a space, FILE is one more path)"
                .into(),
            _ => format!("unexpected argument {:?} after OUT.tar", extra.display()),
        }));
    }
    let bundle = match &args.ca_certs {
        None => None,
        Some(None) => match tinyfc_pack::host_ca_bundle() {
            Ok(host) => Some(host),
            Err(e) => return Ok(failed(e)),
        },
        Some(Some(file)) => Some(file.as_path()),
    };
    let built = tinyfc_pack::image_with(&args.binary, &args.out, &args.name, args.port, bundle);
    Ok(match built {
        Ok(info) => {
            println!(
                "{}: {} bytes, {} ({}), manifest {}",
                args.out.display(),
                info.size,
                info.reference,
                info.architecture,
                info.manifest_digest
            );
            if let Some(bundle) = bundle {
                println!("  with {} as the CA bundle, and /tmp", bundle.display());
            }
            0
        }
        Err(e) => failed(e),
    })
}

/// Says why packaging failed: exit code 1.
fn failed(e: std::io::Error) -> i32 {
    eprintln!("cargo tinyfc: {e}");
    1
}
