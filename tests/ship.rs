//! Shipping: the static binary, its run in an empty root, the code package and the OCI image.

mod common;

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The static release build of an example, as `make static` builds it (built here if missing).
fn static_example(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let libdir = Command::new("rustc")
        .args([
            "--print",
            "target-libdir",
            "--target",
            "x86_64-unknown-linux-musl",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let musl = std::fs::read_dir(&libdir)
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
        })
        .unwrap_or(false);
    let (target, flags) = if musl {
        ("x86_64-unknown-linux-musl", "")
    } else {
        ("x86_64-unknown-linux-gnu", "-C target-feature=+crt-static")
    };
    let path = root.join(format!("target/{target}/release/examples/{name}"));
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--target", target, "--example", name])
            .env("RUSTFLAGS", flags)
            .current_dir(root)
            .status()
            .unwrap();
        assert!(status.success(), "static build of {name} failed");
    }
    path
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// (has PT_INTERP, DT_NEEDED count) of a 64-bit little-endian ELF file.
fn elf_dynamic_needs(elf: &[u8]) -> (bool, usize) {
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!((elf[4], elf[5]), (2, 1), "64-bit little-endian");
    let (phoff, phentsize, phnum) = (
        u64_at(elf, 0x20) as usize,
        u16_at(elf, 0x36) as usize,
        u16_at(elf, 0x38),
    );
    let mut interp = false;
    let mut needed = 0;
    for i in 0..phnum as usize {
        let ph = phoff + i * phentsize;
        match u32_at(elf, ph) {
            3 => interp = true, // PT_INTERP
            2 => {
                // PT_DYNAMIC: count DT_NEEDED (1) entries up to DT_NULL (0).
                let (off, size) = (u64_at(elf, ph + 8) as usize, u64_at(elf, ph + 32) as usize);
                for entry in elf[off..off + size].chunks(16) {
                    match u64_at(entry, 0) {
                        0 => break,
                        1 => needed += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    (interp, needed)
}

#[test]
fn static_hello_has_no_interpreter_and_needs_no_shared_library() {
    let elf = std::fs::read(static_example("hello")).unwrap();
    assert_eq!(elf_dynamic_needs(&elf), (false, 0));
    // The check itself: a normal dynamically linked binary fails it.
    let dynamic = std::fs::read(example("hello")).unwrap();
    assert_ne!(
        elf_dynamic_needs(&dynamic),
        (false, 0),
        "the debug build is dynamic"
    );
}

/// (name, address, size) of each section of a 64-bit little-endian ELF file.
fn elf_sections(elf: &[u8]) -> Vec<(String, u64, u64)> {
    let (shoff, shentsize, shnum, shstrndx) = (
        u64_at(elf, 0x28) as usize,
        u16_at(elf, 0x3a) as usize,
        u16_at(elf, 0x3c) as usize,
        u16_at(elf, 0x3e) as usize,
    );
    let header = |i: usize| &elf[shoff + i * shentsize..shoff + (i + 1) * shentsize];
    let names = u64_at(header(shstrndx), 0x18) as usize;
    (0..shnum)
        .map(|i| {
            let h = header(i);
            let name = &elf[names + u32_at(h, 0) as usize..];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap()];
            let name = String::from_utf8_lossy(name).into_owned();
            (name, u64_at(h, 0x10), u64_at(h, 0x20))
        })
        .collect()
}

#[test]
fn static_release_build_puts_start_up_code_first_and_rare_and_panic_only_code_last() {
    let section = |elf: &[u8], name: &str| {
        elf_sections(elf)
            .into_iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, addr, size)| (addr, size))
    };
    let elf = std::fs::read(static_example("hello")).unwrap();
    let (text, text_size) = section(&elf, ".text").expect(".text");
    let (cold, cold_size) = section(&elf, ".text.cold").expect("src/cold.ld was not applied");
    assert!(cold >= text + text_size, "the cold code follows .text");
    // std's symbolizer alone is over 100 KiB: the patterns in src/cold.ld still match it.
    assert!(
        cold_size > 64 << 10,
        ".text.cold holds only {cold_size} bytes"
    );
    // tinyfc's #[cold] paths (errors, signals, shutdown, starting workers: over 8 KiB) sit between.
    let (rare, rare_size) = section(&elf, ".text.rare").expect(".text.rare");
    assert!(rare >= text + text_size && rare + rare_size <= cold);
    assert!(
        rare_size > 8 << 10,
        ".text.rare holds only {rare_size} bytes"
    );
    // The floor has no tinyfc code, so nothing rare.
    let floor = std::fs::read(static_example("floor")).unwrap();
    assert_eq!(section(&floor, ".text.rare"), None);
    // src/start.ld: the code a cold start runs comes first (musl's start-up and its system call
    // wrappers alone match whatever the toolchain; hello's list is ~90 KiB).
    for elf in [&elf, &floor] {
        let (start, start_size) =
            section(elf, ".text.start").expect("src/start.ld was not applied");
        let (text, _) = section(elf, ".text").unwrap();
        assert!(start < text, ".text.start comes before .text");
        assert!(
            start_size > 8 << 10,
            ".text.start holds only {start_size} bytes"
        );
    }
    // The check itself: the section comes from the script (release builds only), not the toolchain.
    let debug = std::fs::read(example("hello")).unwrap();
    assert_eq!(section(&debug, ".text.cold"), None);
}

#[test]
fn static_release_build_still_unwinds_a_handler_panic_into_one_failed_invocation() {
    // The unwinder (libunwind) and the panic message code sit in the cold part of the text.
    let mut cmd = Command::new(static_example("probe"));
    cmd.env("FC_SERVER_PORT", "0").env("RUST_BACKTRACE", "1");
    let f = Function::spawn(cmd, "tinyfc listening on 0.0.0.0:");
    assert_eq!(f.initialize("cold-init").status, 200);
    let r = f.http("POST", "/panic");
    assert_eq!(r.status, 500);
    assert!(r.text().contains("probe panic"), "{}", r.text());
    assert_eq!(
        f.http("POST", "/echo").status,
        200,
        "the next call is served"
    );
    assert!(f.wait_stdout("invocation failed: Panic: probe panic"));
    // std's hook printed the message and walked the stack (RUST_BACKTRACE=1) with cold code.
    let until = std::time::Instant::now() + HANG;
    while !f.stderr().contains("stack backtrace:") && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let err = f.stderr();
    assert!(
        err.contains("probe panic") && err.contains("stack backtrace:"),
        "{err}"
    );
}

/// Runs `binary` as /bootstrap in an empty directory made the root: chroot as root, else inside a
/// new user namespace.
fn in_empty_root(binary: &Path) -> (Command, PathBuf) {
    let root = std::env::temp_dir().join(format!("tinyfc-empty-root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(binary, root.join("bootstrap")).unwrap();
    let mut cmd = Command::new("/bootstrap");
    cmd.env_clear()
        .env("FC_SERVER_PORT", "0")
        .env("RUST_LOG", "info");
    let dir = CString::new(root.to_str().unwrap()).unwrap();
    // SAFETY: the closure calls only async-signal-safe libc functions on prepared data.
    let uid_map = CString::new(format!("0 {} 1", unsafe { libc::getuid() })).unwrap();
    let gid_map = CString::new(format!("0 {} 1", unsafe { libc::getgid() })).unwrap();
    unsafe {
        cmd.pre_exec(move || {
            if libc::geteuid() != 0 {
                if libc::unshare(libc::CLONE_NEWUSER) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                write_file(c"/proc/self/setgroups", c"deny");
                write_file(c"/proc/self/uid_map", &uid_map);
                write_file(c"/proc/self/gid_map", &gid_map);
            }
            if libc::chroot(dir.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    (cmd, root)
}

/// # Safety
/// Only async-signal-safe calls, for use between fork and exec.
unsafe fn write_file(path: &std::ffi::CStr, data: &std::ffi::CStr) {
    let fd = libc::open(path.as_ptr(), libc::O_WRONLY);
    if fd >= 0 {
        libc::write(fd, data.as_ptr().cast(), data.count_bytes());
        libc::close(fd);
    }
}

#[test]
fn static_hello_serves_the_whole_lifecycle_from_an_empty_root() {
    let (cmd, root) = in_empty_root(&static_example("hello"));
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        1,
        "only /bootstrap in the root"
    );
    let mut f = Function::spawn(cmd, "tinyfc listening on 0.0.0.0:");
    assert_eq!(f.initialize("scratch-init").status, 200);
    let r = f.invoke("scratch-invoke", b"");
    assert_eq!((r.status, r.text().as_str()), (200, "Hello, World!"));
    assert_eq!(f.pre_stop("scratch-stop").status, 200);
    f.signal(libc::SIGTERM);
    let status = f.wait_exit(HANG).expect("no exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", f.stderr());
    assert!(f
        .stdout()
        .contains("FC Invoke End RequestId: scratch-invoke"));
    let _ = std::fs::remove_dir_all(root);
}

fn pack(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_tinyfc-pack"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn code_package_zip_holds_only_an_executable_bootstrap() {
    let binary = static_example("hello");
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
    let binary = static_example("hello");
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
