//! tinyfc-pack: packages a static function binary for Function Compute without Docker.
//!
//! - `tinyfc-pack zip BINARY OUT.zip`: a code package for the custom runtime: the binary as
//!   `bootstrap` (mode 0755) at the zip's root, what FC starts when `customRuntimeConfig` has no
//!   command.
//! - `tinyfc-pack image BINARY OUT.tar [--name NAME:TAG] [--port PORT]`: an OCI image layout
//!   tarball with one layer holding only `/bootstrap`, entrypoint `/bootstrap`, the port exposed and
//!   no base image. It also carries a Docker-archive `manifest.json`, so `docker load`, `podman
//!   load` and `skopeo` (`oci-archive:OUT.tar`) all accept it.

mod archive;

use archive::{sha256_hex, tar, zip, Entry};

const USAGE: &str = "usage: tinyfc-pack zip BINARY OUT.zip
       tinyfc-pack image BINARY OUT.tar [--name NAME:TAG] [--port PORT]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("tinyfc-pack: {e}\n{USAGE}");
        std::process::exit(2);
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let (cmd, binary, out) = match args {
        [cmd, binary, out, ..] => (cmd.as_str(), binary, out),
        _ => return Err("missing arguments".into()),
    };
    let bytes = std::fs::read(binary).map_err(|e| format!("{binary}: {e}"))?;
    let written = match cmd {
        "zip" => zip(&[Entry::file("bootstrap", bytes, 0o755)]),
        "image" => {
            let mut name = "tinyfc-function:latest".to_string();
            let mut port = 9000u16;
            let mut rest = args[3..].iter();
            while let Some(flag) = rest.next() {
                let value = rest.next().ok_or(format!("{flag} needs a value"))?;
                match flag.as_str() {
                    "--name" => name = value.clone(),
                    "--port" => port = value.parse().map_err(|_| format!("bad port {value}"))?,
                    _ => return Err(format!("unknown option {flag}")),
                }
            }
            image(bytes, &name, port)
        }
        _ => return Err(format!("unknown command {cmd}")),
    };
    std::fs::write(out, &written).map_err(|e| format!("{out}: {e}"))?;
    println!("{out}: {} bytes", written.len());
    Ok(())
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
fn image(binary: Vec<u8>, name: &str, port: u16) -> Vec<u8> {
    let layer = Blob::new(tar(&[Entry::file("bootstrap", binary, 0o755)]));
    let config = Blob::new(
        format!(
            concat!(
                r#"{{"architecture":"amd64","os":"linux","#,
                r#""config":{{"Entrypoint":["/bootstrap"],"ExposedPorts":{{"{port}/tcp":{{}}}},"#,
                r#""Env":["FC_SERVER_PORT={port}"]}},"#,
                r#""rootfs":{{"type":"layers","diff_ids":["{diff}"]}},"#,
                r#""history":[{{"created_by":"tinyfc-pack"}}]}}"#
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
