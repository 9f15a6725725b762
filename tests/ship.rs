//! Shipping: the static binary and its run in an empty root. (The code package and the image are
//! tested with the tools, in tools/cargo-tinyfc/tests/package.rs.)

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tinyfc_harness::*;

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

#[test]
fn static_release_build_still_unwinds_a_handler_panic_into_one_failed_invocation() {
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
    // std's hook printed the message and walked the stack (RUST_BACKTRACE=1).
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
