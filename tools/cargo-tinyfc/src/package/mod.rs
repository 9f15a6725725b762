//! `cargo tinyfc zip` and `cargo tinyfc image`: package a static function binary for Function
//! Compute without Docker.
//!
//! - `zip BINARY OUT.zip`: a code package for the custom runtime: the binary as `bootstrap` (mode
//!   0755) at the zip's root, what FC starts when `customRuntimeConfig` has no command.
//! - `image BINARY OUT.tar [--name NAME:TAG] [--port PORT]`: an OCI image layout tarball with one
//!   layer holding only `/bootstrap`, entrypoint `/bootstrap`, the port exposed and no base image.
//!   It also carries a Docker-archive `manifest.json`, so `docker load`, `podman load` and `skopeo`
//!   (`oci-archive:OUT.tar`) all accept it.
//!
//! The commands only parse their arguments and call [`zip`] and [`image`]; the archive formats
//! behind them (archive.rs and the image layout below) are to be replaced by the `tinyfc-pack`
//! library crate (tools/pack), whose functions have the same shape.

mod archive;

use std::path::Path;

use crate::cli::{Args, Stop};
use archive::{sha256_hex, tar, Entry};

/// `cargo tinyfc zip --help`.
pub const ZIP_USAGE: &str = "\
cargo tinyfc zip: the code package for an FC custom runtime: BINARY as `bootstrap` (mode 0755).

usage: cargo tinyfc zip BINARY OUT.zip

example:
  cargo tinyfc build --example hello
  cargo tinyfc zip target/x86_64-unknown-linux-musl/release/examples/hello dist/function.zip
";

/// `cargo tinyfc image --help`.
pub const IMAGE_USAGE: &str = "\
cargo tinyfc image: an OCI image layout tarball holding only /bootstrap (entrypoint, no base
image); also loadable by `docker load`, `podman load` and skopeo (oci-archive:OUT.tar).

usage: cargo tinyfc image BINARY OUT.tar [--name NAME:TAG] [--port PORT]

  --name NAME:TAG   the image's name (default tinyfc-function:latest)
  --port PORT       the port exposed and set as FC_SERVER_PORT (default 9000)

example:
  cargo tinyfc image target/x86_64-unknown-linux-musl/release/examples/hello dist/image.tar --name hello:1
";

/// `cargo tinyfc zip ARGS`: the exit code.
pub fn zip_main(args: &[String]) -> i32 {
    let (binary, out) = match positionals(args, |_, _| Err(Stop::Usage(String::new()))) {
        Ok(paths) => paths,
        Err(stop) => return crate::cli::stopped("zip", stop, ZIP_USAGE),
    };
    report(&out, zip(Path::new(&binary), Path::new(&out)))
}

/// `cargo tinyfc image ARGS`: the exit code.
pub fn image_main(args: &[String]) -> i32 {
    let mut name = "tinyfc-function:latest".to_string();
    let mut port = 9000u16;
    let parsed = positionals(args, |option, it| {
        match option {
            "--name" => name = it.value(option)?.to_string(),
            "--port" => port = it.parsed(option)?,
            _ => return Err(Stop::Usage(String::new())),
        }
        Ok(())
    });
    let (binary, out) = match parsed {
        Ok(paths) => paths,
        Err(stop) => return crate::cli::stopped("image", stop, IMAGE_USAGE),
    };
    report(
        &out,
        image(Path::new(&binary), Path::new(&out), &name, port),
    )
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

/// Prints what was written, or why not: the exit code.
fn report(out: &str, written: std::io::Result<u64>) -> i32 {
    match written {
        Ok(bytes) => {
            println!("{out}: {bytes} bytes");
            0
        }
        Err(e) => {
            eprintln!("cargo tinyfc: {e}");
            1
        }
    }
}

/// Writes the code package for `binary` to `out`; its size.
pub fn zip(binary: &Path, out: &Path) -> std::io::Result<u64> {
    let bytes = read(binary)?;
    write(out, archive::zip(&[Entry::file("bootstrap", bytes, 0o755)]))
}

/// Writes the OCI image of `binary`, named `name` and exposing `port`, to `out`; its size.
pub fn image(binary: &Path, out: &Path, name: &str, port: u16) -> std::io::Result<u64> {
    let bytes = read(binary)?;
    write(out, image_layout(bytes, name, port))
}

/// The file's bytes; an error names the file.
fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Writes `bytes` to `path` (an error names the file); their count.
fn write(path: &Path, bytes: Vec<u8>) -> std::io::Result<u64> {
    std::fs::write(path, &bytes)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(bytes.len() as u64)
}

/// A blob for the layout: its digest, size and bytes.
struct Blob {
    digest: String,
    bytes: Vec<u8>,
}

impl Blob {
    fn new(bytes: Vec<u8>) -> Blob {
        Blob {
            digest: format!("sha256:{}", sha256_hex(&bytes)),
            bytes,
        }
    }

    fn path(&self) -> String {
        format!("blobs/sha256/{}", &self.digest[7..])
    }

    /// An OCI descriptor for this blob.
    fn descriptor(&self, media_type: &str) -> String {
        format!(
            r#"{{"mediaType":"{media_type}","digest":"{}","size":{}}}"#,
            self.digest,
            self.bytes.len()
        )
    }
}

/// The OCI image layout (plus Docker's manifest.json) as one tar.
fn image_layout(binary: Vec<u8>, name: &str, port: u16) -> Vec<u8> {
    let layer = Blob::new(tar(&[Entry::file("bootstrap", binary, 0o755)]));
    let config = Blob::new(
        format!(
            concat!(
                r#"{{"architecture":"amd64","os":"linux","#,
                r#""config":{{"Entrypoint":["/bootstrap"],"ExposedPorts":{{"{port}/tcp":{{}}}},"#,
                r#""Env":["FC_SERVER_PORT={port}"]}},"#,
                r#""rootfs":{{"type":"layers","diff_ids":["{diff}"]}},"#,
                r#""history":[{{"created_by":"cargo tinyfc image"}}]}}"#
            ),
            port = port,
            diff = layer.digest
        )
        .into_bytes(),
    );
    let manifest = Blob::new(
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[{}]}}"#,
            config.descriptor("application/vnd.oci.image.config.v1+json"),
            layer.descriptor("application/vnd.oci.image.layer.v1.tar")
        )
        .into_bytes(),
    );
    let tag = name
        .rsplit(':')
        .next()
        .filter(|t| !t.contains('/'))
        .unwrap_or("latest");
    let full_name = if name.contains('/') {
        name.to_string()
    } else {
        format!("docker.io/library/{name}")
    };
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        manifest
            .descriptor("application/vnd.oci.image.manifest.v1+json")
            .replace(
                '}',
                &format!(
                    r#","annotations":{{"org.opencontainers.image.ref.name":"{tag}","io.containerd.image.name":"{full_name}"}}}}"#
                )
            )
    );
    let docker_manifest = format!(
        r#"[{{"Config":"{}","RepoTags":["{name}"],"Layers":["{}"]}}]"#,
        config.path(),
        layer.path()
    );
    tar(&[
        Entry::file(
            "oci-layout",
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
            0o644,
        ),
        Entry::file("index.json", index.into_bytes(), 0o644),
        Entry::file("manifest.json", docker_manifest.into_bytes(), 0o644),
        Entry::dir("blobs/"),
        Entry::dir("blobs/sha256/"),
        Entry::file(&config.path(), config.bytes.clone(), 0o644),
        Entry::file(&manifest.path(), manifest.bytes.clone(), 0o644),
        Entry::file(&layer.path(), layer.bytes.clone(), 0o644),
    ])
}
