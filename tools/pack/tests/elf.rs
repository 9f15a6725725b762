//! The architecture comes from the ELF header: x86-64 and AArch64 only.

mod common;

use common::{this_arch, this_binary};
use tinyfc_pack::elf_arch;

fn header(class: u8, data: u8, machine: u16) -> Vec<u8> {
    let mut elf = std::fs::read(this_binary()).unwrap()[..64].to_vec();
    elf[4] = class;
    elf[5] = data;
    let bytes = if data == 2 {
        machine.to_be_bytes()
    } else {
        machine.to_le_bytes()
    };
    elf[18..20].copy_from_slice(&bytes);
    elf
}

#[test]
fn this_machines_binary_gives_its_architecture() {
    assert_eq!(
        elf_arch(&std::fs::read(this_binary()).unwrap()).unwrap(),
        this_arch()
    );
}

#[test]
fn x86_64_is_amd64_and_aarch64_is_arm64() {
    assert_eq!(elf_arch(&header(2, 1, 62)).unwrap(), "amd64");
    assert_eq!(elf_arch(&header(2, 1, 183)).unwrap(), "arm64");
}

#[test]
fn other_machines_widths_and_byte_orders_are_refused_by_name() {
    for (elf, says) in [
        (header(2, 1, 40), "ARM"),
        (header(1, 1, 3), "i386"),
        (header(2, 1, 243), "RISC-V"),
        (header(1, 1, 62), "32-bit"),
        (header(2, 2, 183), "big-endian"),
        (header(2, 1, 9999), "unknown"),
    ] {
        let e = elf_arch(&elf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains(says), "{says}: {e}");
        assert!(
            e.to_string().contains("amd64") && e.to_string().contains("arm64"),
            "says what works: {e}"
        );
    }
}

#[test]
fn non_elf_and_truncated_files_are_refused() {
    for bytes in [
        &b""[..],
        b"#!/bin/sh\necho hi\n",
        b"\x7fELF\x02\x01",
        b"MZ\x90\x00 a PE file, not ELF",
    ] {
        let e = elf_arch(bytes).unwrap_err();
        assert!(e.to_string().contains("not an ELF"), "{e}");
    }
}
