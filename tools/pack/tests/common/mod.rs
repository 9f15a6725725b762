//! Helpers shared by the packaging tests: scratch directories, the binary to package, and the
//! external tools (which must be installed: a missing tool fails the test, it never skips it).

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The apt line that installs every tool these tests run.
pub const INSTALL: &str = "apt-get install -y skopeo umoci unzip";

/// A fresh directory for one test, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tinyfc-pack-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What [`this_binary`] prints when run.
pub const HELLO: &str = "hello from bootstrap";

/// A real ELF executable of this machine's architecture that prints [`HELLO`]: a small Rust
/// program compiled once per test process (this test's own 20 MB debug binary would make the
/// unoptimised deflate in a debug build take minutes).
pub fn this_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            let source = dir.join(format!("hello-{}.rs", std::process::id()));
            let binary = dir.join(format!("hello-{}", std::process::id()));
            std::fs::write(&source, format!("fn main() {{ println!(\"{HELLO}\"); }}")).unwrap();
            let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
            let opts = ["-Copt-level=z", "-Cstrip=symbols", "-Cpanic=abort", "-o"];
            run(
                &rustc,
                &[
                    &["--edition=2021"][..],
                    &opts,
                    &[path(&binary), path(&source)],
                ]
                .concat(),
            );
            binary
        })
        .clone()
}

/// A path as the `&str` a command line wants.
pub fn path(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// The OCI name of this machine's architecture, what an image of [`this_binary`] must say.
pub fn this_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("tests run on x86_64 or aarch64, not {other}"),
    }
}

/// A copy of [`this_binary`] in `dir` with its ELF `e_machine` field set to `machine`.
pub fn with_machine(dir: &Path, machine: u16) -> PathBuf {
    let mut elf = std::fs::read(this_binary()).unwrap();
    elf[18..20].copy_from_slice(&machine.to_le_bytes());
    let path = dir.join(format!("machine-{machine}"));
    std::fs::write(&path, elf).unwrap();
    path
}

/// Runs `tool` with `args`; fails the test if the tool is missing or exits non-zero.
pub fn run(tool: &str, args: &[&str]) -> Output {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {tool} ({e}): these tests need it installed: {INSTALL}")
    });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
