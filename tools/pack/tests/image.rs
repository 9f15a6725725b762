//! The OCI image archive, checked by the tools that consume it (skopeo, umoci) and by reading
//! its documents: one gzip layer with `/bootstrap`, Docker's manifest.json, reproducible bytes.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{path, run, this_arch, this_binary, with_machine, Scratch, HELLO};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The archive's regular files by path.
fn members(archive: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut tar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    let mut files = BTreeMap::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let name = entry.path().unwrap().to_str().unwrap().to_string();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            files.insert(name, data);
        }
    }
    files
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

fn sha256(data: &[u8]) -> String {
    let hex: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The blob a descriptor points at, checked against its digest and size.
fn blob<'a>(files: &'a BTreeMap<String, Vec<u8>>, descriptor: &Value) -> &'a [u8] {
    let digest = descriptor["digest"].as_str().unwrap();
    let data = &files[&format!("blobs/sha256/{}", &digest["sha256:".len()..])];
    assert_eq!(
        sha256(data),
        digest,
        "a blob is named by its content's digest"
    );
    assert_eq!(descriptor["size"], data.len(), "{descriptor}");
    data
}

#[test]
fn skopeo_inspects_the_archive_as_one_gzip_layer_image_of_this_architecture() {
    let dir = Scratch::new("image-skopeo");
    let out = dir.path("dist/image.tar");
    let info = tinyfc_pack::image(&this_binary(), &out, "myfn:1.0").unwrap();
    assert_eq!(info.reference, "myfn:1.0");
    assert_eq!(info.architecture, this_arch());
    assert_eq!(info.size, std::fs::metadata(&out).unwrap().len());

    // By tag, as org.opencontainers.image.ref.name names it, and without one (the only image).
    for source in [
        format!("oci-archive:{}:1.0", path(&out)),
        format!("oci-archive:{}", path(&out)),
    ] {
        let inspect = json(&run("skopeo", &["inspect", &source]).stdout);
        assert_eq!(inspect["Architecture"], this_arch(), "{inspect}");
        assert_eq!(inspect["Os"], "linux");
        assert_eq!(inspect["Digest"], info.manifest_digest.as_str());
        assert_eq!(inspect["Env"], serde_json::json!(["FC_SERVER_PORT=9000"]));
        assert_eq!(
            inspect["Created"], "1970-01-01T00:00:00Z",
            "fixed: {inspect}"
        );
        assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1, "{inspect}");
    }
    let source = format!("oci-archive:{}", path(&out));
    let manifest = json(&run("skopeo", &["inspect", "--raw", &source]).stdout);
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let raw_config = run("skopeo", &["inspect", "--config", "--raw", &source]).stdout;
    assert_eq!(sha256(&raw_config), info.config_digest);
    let config = json(&raw_config);
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/bootstrap"])
    );
    assert_eq!(
        config["config"]["ExposedPorts"],
        serde_json::json!({"9000/tcp": {}})
    );
}

#[test]
fn umoci_unpacks_a_rootfs_whose_bootstrap_runs_and_a_config_that_starts_it() {
    let dir = Scratch::new("image-umoci");
    let out = dir.path("image.tar");
    tinyfc_pack::image(&this_binary(), &out, "myfn").unwrap();
    // umoci reads an OCI layout directory, so unpack the archive first.
    let layout = dir.path("layout");
    tar::Archive::new(std::fs::File::open(&out).unwrap())
        .unpack(&layout)
        .unwrap();
    let bundle = dir.path("bundle");
    run(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:latest", path(&layout)),
            path(&bundle),
        ],
    );

    let bootstrap = bundle.join("rootfs/bootstrap");
    let mode = std::fs::metadata(&bootstrap).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755, "{mode:o}");
    assert!(std::fs::read(&bootstrap).unwrap() == std::fs::read(this_binary()).unwrap());
    let ran = run(path(&bootstrap), &[]);
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), HELLO);
    let rootfs: Vec<_> = std::fs::read_dir(bundle.join("rootfs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        rootfs,
        ["bootstrap"],
        "no base image: the layer holds only bootstrap"
    );

    let runtime = json(&std::fs::read(bundle.join("config.json")).unwrap());
    assert_eq!(
        runtime["process"]["args"],
        serde_json::json!(["/bootstrap"])
    );
    let env = runtime["process"]["env"].as_array().unwrap();
    assert!(env.iter().any(|e| e == "FC_SERVER_PORT=9000"), "{env:?}");
}

#[test]
fn documents_chain_by_digest_and_docker_manifest_json_has_repo_tags() {
    let dir = Scratch::new("image-documents");
    let out = dir.path("image.tar");
    let info = tinyfc_pack::image(&this_binary(), &out, "myfn").unwrap();
    assert_eq!(info.reference, "myfn:latest");
    let files = members(&out);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names.len(),
        6,
        "3 blobs, index.json, manifest.json, oci-layout: {names:?}"
    );
    assert_eq!(
        json(&files["oci-layout"]),
        serde_json::json!({"imageLayoutVersion": "1.0.0"})
    );

    let index = json(&files["index.json"]);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let descriptors = index["manifests"].as_array().unwrap();
    assert_eq!(descriptors.len(), 1);
    let descriptor = &descriptors[0];
    assert_eq!(
        descriptor["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(descriptor["digest"], info.manifest_digest.as_str());
    assert_eq!(
        descriptor["platform"],
        serde_json::json!({"architecture": this_arch(), "os": "linux"})
    );
    let annotations = &descriptor["annotations"];
    assert_eq!(annotations["org.opencontainers.image.ref.name"], "latest");
    assert_eq!(
        annotations["io.containerd.image.name"],
        "docker.io/library/myfn:latest"
    );

    let manifest = json(blob(&files, descriptor));
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(manifest["config"]["digest"], info.config_digest.as_str());
    let config = json(blob(&files, &manifest["config"]));
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    blob(&files, &layers[0]);

    let docker = json(&files["manifest.json"]);
    let digest_path =
        |d: &Value| format!("blobs/sha256/{}", &d.as_str().unwrap()["sha256:".len()..]);
    assert_eq!(
        docker,
        serde_json::json!([{
            "Config": digest_path(&manifest["config"]["digest"]),
            "RepoTags": ["myfn:latest"],
            "Layers": [digest_path(&layers[0]["digest"])],
        }])
    );
    assert_eq!(config["architecture"], this_arch());
    assert_eq!(config["os"], "linux");
    assert_eq!(config["created"], "1970-01-01T00:00:00Z");
    assert!(config.get("parent").is_none(), "no base image: {config}");
}

#[test]
fn layer_is_gzip_without_name_or_time_and_the_config_holds_its_diff_id() {
    let dir = Scratch::new("image-layer");
    let out = dir.path("image.tar");
    tinyfc_pack::image(&this_binary(), &out, "myfn").unwrap();
    let files = members(&out);
    let index = json(&files["index.json"]);
    let manifest = json(blob(&files, &index["manifests"][0]));
    let layer_descriptor = &manifest["layers"][0];
    assert_eq!(
        layer_descriptor["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let layer = blob(&files, layer_descriptor);

    // RFC 1952: magic, deflate, FLG (no FNAME/FCOMMENT/FEXTRA), MTIME = 0.
    assert_eq!(&layer[..3], [0x1f, 0x8b, 8]);
    assert_eq!(layer[3], 0, "no file name, comment or extra field");
    assert_eq!(&layer[4..8], [0, 0, 0, 0], "no modification time");
    let mut uncompressed = Vec::new();
    flate2::read::GzDecoder::new(layer)
        .read_to_end(&mut uncompressed)
        .unwrap();
    let config = json(blob(&files, &manifest["config"]));
    assert_eq!(config["rootfs"]["type"], "layers");
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!([sha256(&uncompressed)])
    );

    let mut tar = tar::Archive::new(&uncompressed[..]);
    let entries: Vec<_> = tar
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            let h = e.header().clone();
            (
                e.path().unwrap().to_str().unwrap().to_string(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mtime().unwrap(),
            )
        })
        .collect();
    assert_eq!(entries, [("bootstrap".to_string(), 0o755, 0, 0, 0)]);
}

#[test]
fn the_same_binary_and_name_give_a_byte_identical_archive() {
    let dir = Scratch::new("image-same");
    let (a, b) = (dir.path("a/image.tar"), dir.path("b/image.tar"));
    let first = tinyfc_pack::image(&this_binary(), &a, "myfn").unwrap();
    let second = tinyfc_pack::image(&this_binary(), &b, "myfn").unwrap();
    assert_eq!(first, second);
    assert!(std::fs::read(a).unwrap() == std::fs::read(b).unwrap());
}

#[test]
fn the_port_option_sets_exposed_port_and_fc_server_port() {
    let dir = Scratch::new("image-port");
    let out = dir.path("image.tar");
    tinyfc_pack::image_on_port(&this_binary(), &out, "myfn", 8080).unwrap();
    let config = json(
        &run(
            "skopeo",
            &[
                "inspect",
                "--config",
                &format!("oci-archive:{}", path(&out)),
            ],
        )
        .stdout,
    );
    assert_eq!(
        config["config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}})
    );
    assert_eq!(
        config["config"]["Env"],
        serde_json::json!(["FC_SERVER_PORT=8080"])
    );
    let e =
        tinyfc_pack::image_on_port(&this_binary(), &dir.path("zero.tar"), "myfn", 0).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
}

#[test]
fn a_quote_in_the_name_is_refused_before_anything_is_written() {
    let dir = Scratch::new("image-quote");
    let out = dir.path("image.tar");
    for name in ["my\"fn", "myfn:1\"", "my fn", "MyFn"] {
        let e = tinyfc_pack::image(&this_binary(), &out, name).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("invalid image name"), "{e}");
        assert!(!out.exists(), "{name}: nothing written");
        assert!(tinyfc_pack::image_name(name).is_err(), "{name}");
    }
    assert_eq!(tinyfc_pack::image_name("myfn").unwrap(), "myfn:latest");
    assert_eq!(
        tinyfc_pack::image_name("reg.example.com:5000/team/fn:v2").unwrap(),
        "reg.example.com:5000/team/fn:v2"
    );
}

#[test]
fn an_aarch64_binary_gives_an_arm64_image_that_skopeo_reads() {
    let dir = Scratch::new("image-arm64");
    let out = dir.path("image.tar");
    let info = tinyfc_pack::image(&with_machine(&dir.0, 183), &out, "myfn").unwrap();
    assert_eq!(info.architecture, "arm64");
    let inspect = json(
        &run(
            "skopeo",
            &["inspect", &format!("oci-archive:{}", path(&out))],
        )
        .stdout,
    );
    assert_eq!(inspect["Architecture"], "arm64", "{inspect}");
}

#[test]
fn a_binary_that_is_not_amd64_or_arm64_elf_is_refused_and_nothing_is_written() {
    let dir = Scratch::new("image-refused");
    let out = dir.path("image.tar");
    let script = dir.path("bootstrap.sh");
    std::fs::write(&script, "#!/bin/sh\nexec echo hi\n").unwrap();
    for (binary, says) in [(script, "not an ELF"), (with_machine(&dir.0, 40), "ARM")] {
        let e = tinyfc_pack::image(&binary, &out, "myfn").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(says), "{e}");
        assert!(e.to_string().contains(path(&binary)), "names the file: {e}");
        assert!(!out.exists());
    }
}

#[test]
fn docker_archive_readers_find_the_image_by_its_repo_tag_and_verify_the_layer() {
    // skopeo's docker-archive transport is the reader `podman load` uses for Docker archives;
    // like `docker load`, it goes by manifest.json, not index.json.
    let dir = Scratch::new("image-docker-archive");
    let out = dir.path("image.tar");
    tinyfc_pack::image(&this_binary(), &out, "myfn").unwrap();
    let copied = dir.path("copied");
    let tagged = format!("docker-archive:{}:myfn:latest", path(&out));
    run(
        "skopeo",
        &["copy", &tagged, &format!("dir:{}", path(&copied))],
    );
    // It stores the layer uncompressed, named by its digest: the config's diff_id.
    let files = members(&out);
    let index = json(&files["index.json"]);
    let manifest = json(blob(&files, &index["manifests"][0]));
    let config = json(blob(&files, &manifest["config"]));
    let diff_id = config["rootfs"]["diff_ids"][0].as_str().unwrap();
    let layer = std::fs::read(copied.join(&diff_id["sha256:".len()..])).unwrap();
    assert_eq!(sha256(&layer), diff_id);

    let other = format!("docker-archive:{}:other:latest", path(&out));
    let refused = std::process::Command::new("skopeo")
        .args(["inspect", &other])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "only RepoTags name the image");
}

#[test]
fn a_ca_bundle_adds_the_bundle_a_sticky_tmp_and_ssl_cert_file_and_a_non_bundle_is_refused() {
    let dir = Scratch::new("image-ca");
    let pem = dir.path("bundle.pem");
    let text = "# test roots\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    std::fs::write(&pem, text).unwrap();
    let out = dir.path("image.tar");
    tinyfc_pack::image_with(&this_binary(), &out, "myfn", 9000, Some(&pem)).unwrap();
    let layout = dir.path("layout");
    tar::Archive::new(std::fs::File::open(&out).unwrap())
        .unpack(&layout)
        .unwrap();
    let bundle = dir.path("bundle");
    run(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:latest", path(&layout)),
            path(&bundle),
        ],
    );
    let rootfs = bundle.join("rootfs");
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/ssl/certs/ca-certificates.crt")).unwrap(),
        text
    );
    let tmp = std::fs::metadata(rootfs.join("tmp")).unwrap();
    assert!(tmp.is_dir());
    assert_eq!(
        tmp.permissions().mode() & 0o7777,
        0o1777,
        "sticky, writable by all"
    );
    let runtime = json(&std::fs::read(bundle.join("config.json")).unwrap());
    let env = runtime["process"]["env"].as_array().unwrap();
    assert!(
        env.iter()
            .any(|e| e == "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"),
        "{env:?}"
    );
    // The same inputs give the same bytes, with a bundle too.
    let again = dir.path("again.tar");
    tinyfc_pack::image_with(&this_binary(), &again, "myfn", 9000, Some(&pem)).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());

    std::fs::write(&pem, "not a certificate\n").unwrap();
    let refused = dir.path("refused.tar");
    let e =
        tinyfc_pack::image_with(&this_binary(), &refused, "myfn", 9000, Some(&pem)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("no PEM certificate"), "{e}");
    assert!(!refused.exists(), "nothing is written");
}
