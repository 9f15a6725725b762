//! `cargo tinyfc build`, `zip` and `image` through the real binary, and the usage of every
//! command.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Runs `cargo-tinyfc ARGS` from the workspace root.
fn tool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"))
        .args(args)
        .current_dir(workspace())
        .output()
        .unwrap()
}

/// The workspace root (tinyfc's package).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// The static hello, as `cargo tinyfc build -p tinyfc --example hello` builds it (once per run),
/// with what that printed on stderr.
fn static_hello_built() -> &'static (PathBuf, String) {
    static BUILT: OnceLock<(PathBuf, String)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = tool(&["build", "-p", "tinyfc", "--example", "hello"]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "one binary, one line: {stdout}");
        (PathBuf::from(lines[0]), stderr)
    })
}

fn static_hello() -> PathBuf {
    static_hello_built().0.clone()
}

#[test]
fn build_makes_a_static_release_binary_and_prints_its_path() {
    let (path, stderr) = static_hello_built();
    let musl = path.ends_with("x86_64-unknown-linux-musl/release/examples/hello");
    let glibc = path.ends_with("x86_64-unknown-linux-gnu/release/examples/hello");
    assert!(musl || glibc, "{}", path.display());
    // The fallback is said aloud; the musl build names its target.
    if glibc {
        assert!(stderr.contains("with +crt-static instead"), "{stderr}");
    } else {
        assert!(
            stderr.contains("static build for x86_64-unknown-linux-musl"),
            "{stderr}"
        );
    }
    let elf = std::fs::read(path).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF");
    // No program header is PT_INTERP (3): nothing loads it but the kernel.
    let (phoff, phentsize, phnum) = (
        u32_at(&elf, 0x20) as usize,
        u16_at(&elf, 0x36) as usize,
        u16_at(&elf, 0x38) as usize,
    );
    let types: Vec<u32> = (0..phnum)
        .map(|i| u32_at(&elf, phoff + i * phentsize))
        .collect();
    assert!(!types.is_empty() && !types.contains(&3), "{types:?}");
}

#[test]
fn every_command_has_help_with_an_example_and_wrong_options_exit_2_without_a_panic() {
    // Per command: an option it does not know, and a value it cannot take.
    let bad_values: [(&str, &[&str]); 5] = [
        ("local", &["--grace", "1e30", "--", "x"]),
        ("build", &["--bin"]),
        ("zip", &["only-one-path"]),
        ("image", &["a", "b", "--port", "99999"]),
        ("bench", &["--runs", "many"]),
    ];
    for (command, bad_value) in bad_values {
        let help = tool(&[command, "--help"]);
        let text = String::from_utf8_lossy(&help.stdout);
        assert_eq!(help.status.code(), Some(0), "{command}: {text}");
        assert!(text.contains("usage: cargo tinyfc"), "{command}: {text}");
        assert!(
            text.contains("example"),
            "{command} --help has no example:\n{text}"
        );
        assert_eq!(
            String::from_utf8_lossy(&tool(&["help", command]).stdout),
            text
        );
        let bad_value: Vec<&str> = [command].iter().chain(bad_value).copied().collect();
        for wrong in [vec![command, "--no-such-option"], bad_value] {
            let out = tool(&wrong);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{wrong:?}: {err}");
            assert!(!err.contains("panicked"), "{wrong:?}: {err}");
            assert!(
                err.contains(&format!("usage: cargo tinyfc {command}")),
                "{err}"
            );
        }
    }
    let top = tool(&[]);
    assert_eq!(top.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&top.stderr).contains("commands:"));
    assert_eq!(tool(&["no-such-command"]).status.code(), Some(2));
    // As a cargo subcommand, cargo passes the subcommand's name first.
    let as_cargo = tool(&["tinyfc", "--help"]);
    assert_eq!(as_cargo.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&as_cargo.stdout).contains("commands:"));
}

/// `cargo-tinyfc ARGS`, which must succeed.
fn pack(args: &[&str]) {
    let out = tool(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn code_package_zip_holds_only_an_executable_bootstrap() {
    let binary = static_hello();
    let out = std::env::temp_dir().join(format!("tinyfc-{}.zip", std::process::id()));
    pack(&["zip", binary.to_str().unwrap(), out.to_str().unwrap()]);
    let zip = std::fs::read(&out).unwrap();
    let eocd = zip.len() - 22;
    assert_eq!(u32_at(&zip, eocd), 0x0605_4b50);
    assert_eq!(u16_at(&zip, eocd + 10), 1, "one entry");
    let central = u32_at(&zip, eocd + 16) as usize;
    assert_eq!(u32_at(&zip, central), 0x0201_4b50);
    let name_len = u16_at(&zip, central + 28) as usize;
    assert_eq!(&zip[central + 46..central + 46 + name_len], b"bootstrap");
    assert_eq!(
        u32_at(&zip, central + 38) >> 16,
        0o100755,
        "regular file, mode 0755"
    );
    let local = u32_at(&zip, central + 42) as usize;
    let data_at =
        local + 30 + u16_at(&zip, local + 26) as usize + u16_at(&zip, local + 28) as usize;
    let size = u32_at(&zip, local + 18) as usize;
    assert_eq!(
        &zip[data_at..data_at + size],
        std::fs::read(binary).unwrap().as_slice()
    );
    if let Ok(o) = Command::new("unzip").arg("-t").arg(&out).output() {
        assert!(
            o.status.success(),
            "unzip -t: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    let _ = std::fs::remove_file(out);
}

/// (name, mode, data) of each member of a ustar archive.
fn untar(t: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 512 <= t.len() && t[at] != 0 {
        let h = &t[at..at + 512];
        let field = |r: std::ops::Range<usize>| {
            String::from_utf8_lossy(&h[r])
                .trim_matches(|c| c == '\0' || c == ' ')
                .to_string()
        };
        let name = field(0..100);
        let mode = u32::from_str_radix(&field(100..108), 8).unwrap();
        let size = usize::from_str_radix(&field(124..136), 8).unwrap();
        out.push((name, mode, t[at + 512..at + 512 + size].to_vec()));
        at += 512 + size.next_multiple_of(512);
    }
    out
}

fn sha256(data: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("tinyfc-blob-{}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let out = Command::new("sha256sum").arg(&path).output().unwrap();
    let _ = std::fs::remove_file(path);
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

#[test]
fn oci_image_has_one_layer_with_only_bootstrap_and_consistent_digests() {
    let binary = static_hello();
    let out = std::env::temp_dir().join(format!("tinyfc-{}-image.tar", std::process::id()));
    pack(&[
        "image",
        binary.to_str().unwrap(),
        out.to_str().unwrap(),
        "--name",
        "t:1",
    ]);
    let members = untar(&std::fs::read(&out).unwrap());
    let get = |name: &str| {
        members
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .2
            .clone()
    };
    assert!(String::from_utf8(get("oci-layout"))
        .unwrap()
        .contains(r#""imageLayoutVersion":"1.0.0""#));
    // Every blob is named by its content's digest.
    let blobs: Vec<_> = members
        .iter()
        .filter(|(n, _, d)| n.starts_with("blobs/sha256/") && !d.is_empty())
        .collect();
    assert_eq!(blobs.len(), 3, "config, manifest, one layer");
    for (name, _, data) in &blobs {
        assert_eq!(&name["blobs/sha256/".len()..], sha256(data));
    }
    let digest_after = |json: &str, key: &str| -> String {
        let at = json.find(key).unwrap_or_else(|| panic!("{key} in {json}"));
        let d = json[at..].find("sha256:").unwrap() + at + 7;
        json[d..d + 64].to_string()
    };
    let index = String::from_utf8(get("index.json")).unwrap();
    let manifest = String::from_utf8(get(&format!(
        "blobs/sha256/{}",
        digest_after(&index, "manifests")
    )))
    .unwrap();
    let config = String::from_utf8(get(&format!(
        "blobs/sha256/{}",
        digest_after(&manifest, "config")
    )))
    .unwrap();
    assert_eq!(
        manifest.matches("vnd.oci.image.layer").count(),
        1,
        "{manifest}"
    );
    let layer = get(&format!(
        "blobs/sha256/{}",
        digest_after(&manifest, "layers")
    ));
    assert!(
        config.contains(r#""Entrypoint":["/bootstrap"]"#),
        "{config}"
    );
    assert!(
        config.contains(r#""ExposedPorts":{"9000/tcp":{}}"#),
        "{config}"
    );
    assert!(
        !config.contains("parent") && !config.contains("base"),
        "no base image: {config}"
    );
    let files = untar(&layer);
    assert_eq!(files.len(), 1);
    assert_eq!((files[0].0.as_str(), files[0].1), ("bootstrap", 0o755));
    assert_eq!(files[0].2, std::fs::read(&binary).unwrap());
    // Docker's loader reads manifest.json.
    assert!(String::from_utf8(get("manifest.json"))
        .unwrap()
        .contains(r#""RepoTags":["t:1"]"#));
    // A real OCI tool, where one is installed, reads it too.
    if let Ok(o) = Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci-archive:{}", out.display()))
        .output()
    {
        assert!(
            o.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stdout).contains("\"Architecture\": \"amd64\""));
    }
    let _ = std::fs::remove_file(out);
}
