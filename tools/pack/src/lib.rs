//! Packages a tinyfc function binary for Alibaba Cloud Function Compute, without Docker.
//!
//! - [`zip()`]: the code package for a custom runtime: the binary as `bootstrap` (mode 0755,
//!   deflated) at the zip's root, what FC starts when `customRuntimeConfig` has no command.
//! - [`image()`]: a custom-container image: an OCI image layout in one tar, with one
//!   gzip-compressed layer holding only `/bootstrap`, no base image, entrypoint `/bootstrap`,
//!   port 9000 exposed and `FC_SERVER_PORT=9000`. Docker's `manifest.json` rides along, so
//!   `skopeo` and `umoci` (OCI layout) and `docker load` / `podman load` (Docker archive) all
//!   take the same file. The architecture comes from the binary's ELF header ([`elf_arch`]).
//!
//! Both are reproducible: the output is a function of the binary (and the image name and port)
//! alone. Timestamps are fixed (the tar epoch, 0, in the image; 1980-01-01 00:00, the earliest
//! DOS date, in the zip), `SOURCE_DATE_EPOCH` is deliberately not read, owners are 0:0 with no
//! names, entries are sorted, gzip carries no file name or time, and JSON keys are sorted.
//!
//! ```no_run
//! use std::path::Path;
//! let binary = Path::new("target/x86_64-unknown-linux-musl/release/myfn");
//! tinyfc_pack::zip(binary, Path::new("dist/code.zip"))?;
//! let info = tinyfc_pack::image(binary, Path::new("dist/image.tar"), "myfn")?;
//! println!("{} ({}) {}", info.reference, info.architecture, info.manifest_digest);
//! # Ok::<(), std::io::Error>(())
//! ```

mod code_package;
mod elf;
mod image;
mod reference;

use std::fs;
use std::io;
use std::path::Path;

pub use elf::elf_arch;
use reference::Reference;

/// The port the image exposes and sets as `FC_SERVER_PORT` unless told otherwise: FC's default
/// for custom containers.
pub const DEFAULT_PORT: u16 = 9000;

/// How every certificate in a PEM bundle starts.
const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----";

/// The name FC runs, in the zip's root and the image's `/`.
const BOOTSTRAP: &str = "bootstrap";

/// What [`image()`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The name with its tag, as written into RepoTags: `myfn:latest`.
    pub reference: String,
    /// `amd64` or `arm64`, read from the binary's ELF header.
    pub architecture: &'static str,
    /// `sha256:<hex>` of the manifest: the digest a registry shows after a push.
    pub manifest_digest: String,
    /// `sha256:<hex>` of the config: the image ID `docker images` shows after a load.
    pub config_digest: String,
    /// The archive's size in bytes.
    pub size: u64,
}

/// Writes the FC code package for `binary` to `out` (creating its directory): a zip with the
/// binary deflated as `bootstrap`, mode 0755, at its root.
pub fn zip(binary: &Path, out: &Path) -> io::Result<()> {
    let bytes = read(binary)?;
    write(out, &code_package::build(&bytes)?)
}

/// Writes a custom-container image of `binary` to `out` (creating its directory), named `name`
/// (`:latest` is added when it has no tag), listening on [`DEFAULT_PORT`].
///
/// Fails with `InvalidInput` when the name is not a valid image reference or the binary is not
/// an x86-64 or AArch64 ELF executable; nothing is written then.
pub fn image(binary: &Path, out: &Path, name: &str) -> io::Result<ImageInfo> {
    image_on_port(binary, out, name, DEFAULT_PORT)
}

/// [`image()`], with `port` exposed and set as `FC_SERVER_PORT` instead of [`DEFAULT_PORT`].
pub fn image_on_port(binary: &Path, out: &Path, name: &str, port: u16) -> io::Result<ImageInfo> {
    image_with(binary, out, name, port, None)
}

/// Where a CA bundle is on common Linux hosts, in the order [`host_ca_bundle`] looks: Debian,
/// Ubuntu and Alpine; Fedora, RHEL and CentOS; openSUSE; Alpine's and macOS's other name.
pub const HOST_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Where the image holds the CA bundle: the path Debian uses, which the Rust TLS stacks' lookups
/// (openssl-probe, rustls-native-certs) try, and which `SSL_CERT_FILE` names in the image.
pub const IMAGE_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The first of [`HOST_CA_BUNDLES`] that exists on this machine.
pub fn host_ca_bundle() -> io::Result<&'static Path> {
    HOST_CA_BUNDLES
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no CA bundle on this machine (looked for {}): name one as FILE",
                    HOST_CA_BUNDLES.join(", ")
                ),
            )
        })
}

/// [`image_on_port`], and with `ca_bundle` (a PEM file of CA certificates) the image also holds
/// it at [`IMAGE_CA_BUNDLE`], names it in `SSL_CERT_FILE`, and has a `/tmp` of mode 1777: what
/// a FROM-scratch function needs to call HTTPS services and write temporary files.
///
/// A bundle that holds no PEM certificate is refused (`InvalidInput`) before anything is written.
pub fn image_with(
    binary: &Path,
    out: &Path,
    name: &str,
    port: u16,
    ca_bundle: Option<&Path>,
) -> io::Result<ImageInfo> {
    let reference = Reference::parse(name)?;
    if port == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "port 0 cannot be exposed: FC needs a fixed port (1-65535)",
        ));
    }
    let bytes = read(binary)?;
    let architecture = elf_arch(&bytes).map_err(|e| in_file(binary, e))?;
    let bundle = match ca_bundle {
        Some(path) => {
            let pem = read(path)?;
            if !pem
                .windows(CERTIFICATE.len())
                .any(|w| w == CERTIFICATE.as_bytes())
            {
                return Err(in_file(
                    path,
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "not a CA bundle: it holds no PEM certificate",
                    ),
                ));
            }
            Some(pem)
        }
        None => None,
    };
    let (archive, info) = image::build(&bytes, &reference, architecture, port, bundle.as_deref())?;
    write(out, &archive)?;
    Ok(info)
}

/// Normalises an image name the way [`image()`] does: `myfn` -> `myfn:latest`, a tagged name is
/// kept as it is. Names that are not valid image references (a quote, a space, upper case in the
/// path, a digest, ...) are refused with an `InvalidInput` error that says why.
pub fn image_name(name: &str) -> io::Result<String> {
    Reference::parse(name).map(|r| r.tagged())
}

fn read(path: &Path) -> io::Result<Vec<u8>> {
    fs::read(path).map_err(|e| in_file(path, e))
}

/// Writes through a temporary sibling and a rename, so `out` is never left half-written.
fn write(out: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| in_file(dir, e))?;
    }
    let file_name = out.file_name().ok_or_else(|| {
        in_file(
            out,
            io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
        )
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = out.with_file_name(tmp_name);
    let written = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, out));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(|e| in_file(out, e))
}

/// The error, prefixed with the path it concerns.
fn in_file(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
