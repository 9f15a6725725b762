//! The OCI image: one gzip-compressed layer holding `/bootstrap`, its config and manifest, laid
//! out as an OCI image layout in one tar, plus Docker's `manifest.json` beside `index.json`.
//!
//! Layout of the archive (entries sorted by path):
//!
//! ```text
//! blobs/sha256/<config>     application/vnd.oci.image.config.v1+json
//! blobs/sha256/<layer>      application/vnd.oci.image.layer.v1.tar+gzip (bootstrap, 0755)
//! blobs/sha256/<manifest>   application/vnd.oci.image.manifest.v1+json
//! index.json                the manifest, its platform, ref.name = the tag
//! manifest.json             Docker's: Config, RepoTags, Layers (what `docker load` reads)
//! oci-layout                {"imageLayoutVersion":"1.0.0"}
//! ```
//!
//! With a CA bundle the layer also holds `etc/ssl/certs/ca-certificates.crt` (0644, with its
//! directories) and `tmp/` (1777), and the config sets `SSL_CERT_FILE`.
//!
//! Every byte is a function of the binary, the name, the port and the bundle: fixed timestamps (0), uid/gid 0,
//! no user names, gzip without name or time, JSON with sorted keys.

use std::io::{self, Write};

use flate2::{Compression, GzBuilder};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::reference::Reference;
use crate::{ImageInfo, BOOTSTRAP, IMAGE_CA_BUNDLE};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The image's creation time: the tar epoch, as reproducible image builders (ko, rules_oci,
/// nix) write it, so that the config's digest depends on nothing but the inputs.
const CREATED: &str = "1970-01-01T00:00:00Z";

/// A content-addressed blob of the layout.
struct Blob {
    /// `sha256:<hex>`.
    digest: String,
    bytes: Vec<u8>,
}

impl Blob {
    fn new(bytes: Vec<u8>) -> Blob {
        Blob {
            digest: sha256_digest(&bytes),
            bytes,
        }
    }

    fn json(value: &Value) -> Blob {
        Blob::new(json_bytes(value))
    }

    /// Where the layout keeps it: `blobs/sha256/<hex>`.
    fn path(&self) -> String {
        format!("blobs/sha256/{}", &self.digest["sha256:".len()..])
    }

    /// The OCI descriptor that points at it.
    fn descriptor(&self, media_type: &str) -> Value {
        json!({"mediaType": media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

/// The image archive's bytes and what it holds.
pub(crate) fn build(
    binary: &[u8],
    reference: &Reference,
    architecture: &'static str,
    port: u16,
    ca_bundle: Option<&[u8]>,
) -> io::Result<(Vec<u8>, ImageInfo)> {
    let mut files: Vec<(&str, &[u8], u32)> = vec![(BOOTSTRAP, binary, 0o755)];
    let mut env = vec![format!("FC_SERVER_PORT={port}")];
    if let Some(pem) = ca_bundle {
        let bundle = &IMAGE_CA_BUNDLE[1..];
        files.extend([
            ("etc/", &[][..], 0o755),
            ("etc/ssl/", &[], 0o755),
            ("etc/ssl/certs/", &[], 0o755),
            (bundle, pem, 0o644),
            // Sticky and writable by all, as /tmp is everywhere.
            ("tmp/", &[], 0o1777),
        ]);
        files.sort_by_key(|e| e.0);
        env.push(format!("SSL_CERT_FILE={IMAGE_CA_BUNDLE}"));
    }
    let layer_tar = tar(&files)?;
    // The config names the layer by its uncompressed digest; the manifest by the compressed one.
    let diff_id = sha256_digest(&layer_tar);
    let layer = Blob::new(gzip(&layer_tar)?);
    let config = Blob::json(&json!({
        "architecture": architecture,
        "os": "linux",
        "created": CREATED,
        "config": {
            "Entrypoint": [format!("/{BOOTSTRAP}")],
            "ExposedPorts": {format!("{port}/tcp"): {}},
            "Env": env,
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": CREATED, "created_by": "tinyfc-pack"}],
    }));
    let manifest = Blob::json(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(OCI_CONFIG),
        "layers": [layer.descriptor(OCI_LAYER_GZIP)],
    }));
    let mut manifest_descriptor = manifest.descriptor(OCI_MANIFEST);
    manifest_descriptor["platform"] = json!({"architecture": architecture, "os": "linux"});
    manifest_descriptor["annotations"] = json!({
        // What `skopeo oci-archive:PATH:TAG` and `umoci --image DIR:TAG` look up.
        "org.opencontainers.image.ref.name": reference.tag(),
        // What containerd (and so `docker load` with the containerd store) names the image.
        "io.containerd.image.name": reference.canonical(),
    });
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [manifest_descriptor],
    });
    // Docker's classic loader and podman's docker-archive reader take this instead of index.json.
    let docker_manifest = json!([{
        "Config": config.path(),
        "RepoTags": [reference.tagged()],
        "Layers": [layer.path()],
    }]);
    let (index, docker_manifest) = (json_bytes(&index), json_bytes(&docker_manifest));
    let (config_path, manifest_path, layer_path) = (config.path(), manifest.path(), layer.path());
    let mut entries: Vec<(&str, &[u8], u32)> = vec![
        ("blobs/", &[], 0o755),
        ("blobs/sha256/", &[], 0o755),
        (&config_path, &config.bytes, 0o644),
        (&manifest_path, &manifest.bytes, 0o644),
        (&layer_path, &layer.bytes, 0o644),
        ("index.json", &index, 0o644),
        ("manifest.json", &docker_manifest, 0o644),
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, 0o644),
    ];
    entries.sort_by_key(|e| e.0);
    let archive = tar(&entries)?;
    let info = ImageInfo {
        reference: reference.tagged(),
        architecture,
        manifest_digest: manifest.digest,
        config_digest: config.digest,
        size: archive.len() as u64,
    };
    Ok((archive, info))
}

/// A ustar archive of `(path, bytes, mode)`; a path ending in `/` is a directory.
fn tar(entries: &[(&str, &[u8], u32)]) -> io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for &(path, data, mode) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(if path.ends_with('/') {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, path, data)?;
    }
    builder.into_inner()
}

/// Gzip with no file name, modification time 0 and the best compression: the same bytes in give
/// the same bytes out.
fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    encoder.write_all(data)?;
    encoder.finish()
}

/// Compact JSON, keys sorted (serde_json's map is ordered unless `preserve_order` is on).
fn json_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a Value has string keys only, so it always serialises")
}

/// `sha256:<hex>`, as OCI descriptors name content.
fn sha256_digest(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}
