//! The code package: a deflated zip whose only entry is an executable `bootstrap`.

mod common;

use std::io::Read;

use common::{run, this_binary, Scratch};

#[test]
fn code_package_is_one_deflated_executable_bootstrap_with_the_binary() {
    let dir = Scratch::new("zip-read");
    let out = dir.path("dist/code.zip");
    tinyfc_pack::zip(&this_binary(), &out).unwrap();
    let binary = std::fs::read(this_binary()).unwrap();

    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    assert_eq!(archive.len(), 1, "only bootstrap");
    let mut entry = archive.by_index(0).unwrap();
    assert_eq!(entry.name().unwrap(), "bootstrap");
    assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
    assert_eq!(
        entry.unix_mode(),
        Some(0o100755),
        "a regular file, rwxr-xr-x"
    );
    assert_eq!(entry.size(), binary.len() as u64);
    assert!(
        entry.compressed_size() < entry.size() * 3 / 4,
        "deflate shrinks an ELF binary: {} of {} bytes",
        entry.compressed_size(),
        entry.size()
    );
    let mut content = Vec::new();
    entry.read_to_end(&mut content).unwrap();
    assert!(content == binary, "bootstrap is the binary, byte for byte");
}

#[test]
fn unzip_lists_a_deflated_rwxr_xr_x_bootstrap_and_tests_it_intact() {
    let dir = Scratch::new("zip-unzip");
    let out = dir.path("code.zip");
    tinyfc_pack::zip(&this_binary(), &out).unwrap();
    let out = out.to_str().unwrap();

    let listing = String::from_utf8(run("unzip", &["-Z", out]).stdout).unwrap();
    let line = listing
        .lines()
        .find(|l| l.ends_with(" bootstrap"))
        .unwrap_or_else(|| panic!("no bootstrap in:\n{listing}"));
    assert!(line.starts_with("-rwxr-xr-x"), "{line}");
    assert!(
        line.contains(" unx "),
        "made on Unix, so the mode counts: {line}"
    );
    assert!(line.contains(" def"), "deflated: {line}");
    assert!(line.contains(" 80-Jan-01 00:00 "), "fixed date: {line}");
    assert!(listing.contains("1 file"), "{listing}");
    run("unzip", &["-t", out]);
}

#[test]
fn the_same_binary_gives_a_byte_identical_zip() {
    let dir = Scratch::new("zip-same");
    let (a, b) = (dir.path("a.zip"), dir.path("b.zip"));
    tinyfc_pack::zip(&this_binary(), &a).unwrap();
    tinyfc_pack::zip(&this_binary(), &b).unwrap();
    assert!(std::fs::read(a).unwrap() == std::fs::read(b).unwrap());
}

#[test]
fn a_missing_binary_is_an_error_naming_it_and_writes_nothing() {
    let dir = Scratch::new("zip-missing");
    let out = dir.path("code.zip");
    let e = tinyfc_pack::zip(&dir.path("nope"), &out).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert!(e.to_string().contains("nope"), "{e}");
    assert!(!out.exists());
}
