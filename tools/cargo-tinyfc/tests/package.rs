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
    let bad_values: [(&str, &[&str]); 6] = [
        ("local", &["--grace", "1e30", "--", "x"]),
        ("check", &["--config"]),
        ("build", &["--bin"]),
        ("zip", &["only-one-path"]),
        ("image", &["a", "b", "--port", "99999"]),
        ("bench", &["--runs", "many"]),
    ];
    for (command, bad_value) in bad_values {
        let help = tool(&[command, "--help"]);
        let text = String::from_utf8_lossy(&help.stdout);
        assert_eq!(help.status.code(), Some(0), "{command}: {text}");
        assert!(
            text.to_lowercase().contains("usage: cargo tinyfc"),
            "{command}: {text}"
        );
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
            // clap's "error: ... try '--help'"; local's own parser prints its usage.
            assert!(
                err.contains("--help") || err.contains(&format!("usage: cargo tinyfc {command}")),
                "{err}"
            );
        }
    }
    let top = tool(&[]);
    assert_eq!(top.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&top.stderr).contains("Commands:"));
    assert_eq!(tool(&["no-such-command"]).status.code(), Some(2));
    assert_eq!(tool(&["help", "no-such-command"]).status.code(), Some(2));
    // As a cargo subcommand, cargo passes the subcommand's name first.
    let as_cargo = tool(&["tinyfc", "--help"]);
    assert_eq!(as_cargo.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&as_cargo.stdout).contains("Commands:"));
}

#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error_not_a_panic() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let not_utf8 = OsStr::from_bytes(b"caf\xe9");
    for args in [
        vec![OsStr::new("new"), not_utf8],
        vec![OsStr::new("bench"), OsStr::new("--dir"), not_utf8],
        vec![
            OsStr::new("local"),
            OsStr::new("--once"),
            OsStr::new("--"),
            not_utf8,
        ],
        vec![not_utf8],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"))
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `cargo-tinyfc ARGS`, which must succeed: its stdout.
fn pack(args: &[&str]) -> String {
    let out = tool(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn zip_and_image_write_what_the_packaging_library_writes() {
    // The formats themselves are tinyfc-pack's tests (tools/pack/tests); here: the commands pass
    // the binary, the output, the name and the port through, and say what they wrote.
    let binary = static_hello();
    let dir = std::env::temp_dir().join(format!("tinyfc-cli-pack-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (zip, zip_lib) = (dir.join("cli.zip"), dir.join("lib.zip"));
    let said = pack(&["zip", binary.to_str().unwrap(), zip.to_str().unwrap()]);
    tinyfc_pack::zip(&binary, &zip_lib).unwrap();
    let bytes = std::fs::read(&zip).unwrap();
    assert_eq!(bytes, std::fs::read(&zip_lib).unwrap());
    assert_eq!(
        said.trim(),
        format!("{}: {} bytes", zip.display(), bytes.len())
    );

    let (image, image_lib) = (dir.join("cli.tar"), dir.join("lib.tar"));
    let said = pack(&[
        "image",
        binary.to_str().unwrap(),
        image.to_str().unwrap(),
        "--name",
        "t:1",
        "--port",
        "9001",
    ]);
    let info = tinyfc_pack::image_on_port(&binary, &image_lib, "t:1", 9001).unwrap();
    assert_eq!(
        std::fs::read(&image).unwrap(),
        std::fs::read(&image_lib).unwrap()
    );
    assert!(
        said.contains(&format!("t:1 (amd64), manifest {}", info.manifest_digest)),
        "{said}"
    );
    // --ca-certs: the host's bundle; --ca-certs=FILE: that file.
    for (option, bundle) in [
        (
            "--ca-certs".to_string(),
            tinyfc_pack::host_ca_bundle().unwrap().to_path_buf(),
        ),
        (
            format!("--ca-certs={}", dir.join("roots.pem").display()),
            dir.join("roots.pem"),
        ),
    ] {
        std::fs::write(dir.join("roots.pem"), "-----BEGIN CERTIFICATE-----\nx\n").unwrap();
        let (cli, lib) = (dir.join("ca-cli.tar"), dir.join("ca-lib.tar"));
        let args = [
            "image",
            binary.to_str().unwrap(),
            cli.to_str().unwrap(),
            &option,
        ];
        let said = pack(&args);
        tinyfc_pack::image_with(&binary, &lib, "tinyfc-function", 9000, Some(&bundle)).unwrap();
        assert_eq!(
            std::fs::read(&cli).unwrap(),
            std::fs::read(&lib).unwrap(),
            "{option}"
        );
        assert!(said.contains("as the CA bundle, and /tmp"), "{said}");
    }
    // A name the library refuses is a usage error before anything is written.
    let bad = tool(&[
        "image",
        binary.to_str().unwrap(),
        "x.tar",
        "--name",
        "Bad Name",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn ca_certs_with_a_space_before_its_file_is_a_usage_error_that_says_to_write_equals() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("package-ca-space");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out.tar");
    let out = out.to_str().unwrap();
    for args in [
        ["image", "bin", out, "--ca-certs", "roots.pem"],
        ["image", "bin", "--ca-certs", "roots.pem", out],
    ] {
        let said = tool(&args);
        let err = String::from_utf8_lossy(&said.stderr);
        assert_eq!(said.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("--ca-certs=FILE"), "{args:?}: {err}");
        assert!(!dir.join("out.tar").exists(), "nothing written");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn zip_refuses_what_check_calls_no_bootstrap_a_file_neither_elf_nor_script() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("package-zip-not-runnable");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    std::fs::write(dir.join("s.yaml"), "edition: 3.0.0\nname: app\n").unwrap();
    std::fs::write(dir.join("empty"), "").unwrap();
    for input in ["s.yaml", "empty"] {
        let out = tool(&["zip", &path(input), &path("bad.zip")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{input}: {err}");
        assert!(
            err.contains(&format!(
                "{}: bootstrap is neither an ELF binary nor a script",
                path(input)
            )),
            "{input}: {err}"
        );
        assert!(!dir.join("bad.zip").exists(), "{input}: nothing written");
    }
    // A script is what FC can start, as `check` says: packaged.
    std::fs::write(dir.join("start.sh"), "#!/bin/sh\nexec ./app\n").unwrap();
    pack(&["zip", &path("start.sh"), &path("ok.zip")]);
    assert!(dir.join("ok.zip").is_file());
    let _ = std::fs::remove_dir_all(dir);
}
