//! The image's architecture, read from the binary's ELF header rather than assumed.

use std::io;

/// ELF identification bytes and the header fields read here.
const MAGIC: &[u8; 4] = b"\x7fELF";
const CLASS_64: u8 = 2;
const DATA_LE: u8 = 1;
const DATA_BE: u8 = 2;
/// `e_machine` sits after the 16-byte `e_ident` and the 2-byte `e_type`.
const MACHINE_AT: usize = 18;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// The OCI architecture of a Linux ELF executable: `amd64` for x86-64, `arm64` for AArch64.
///
/// Anything else is refused with an `InvalidInput` error that says what the file is: not an ELF
/// file, a 32-bit or big-endian one, or a machine no Function Compute instance runs.
pub fn elf_arch(elf: &[u8]) -> io::Result<&'static str> {
    let refuse = |why: String| {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{why}; only x86-64 (amd64) and AArch64 (arm64) Linux executables can be packaged"
            ),
        ))
    };
    if elf.len() < MACHINE_AT + 2 || &elf[..4] != MAGIC {
        return refuse("not an ELF executable (no \\x7fELF header)".into());
    }
    let field = [elf[MACHINE_AT], elf[MACHINE_AT + 1]];
    let machine = match elf[5] {
        DATA_LE => u16::from_le_bytes(field),
        DATA_BE => u16::from_be_bytes(field),
        other => return refuse(format!("ELF byte order {other} is unknown")),
    };
    match (elf[4], elf[5], machine) {
        (CLASS_64, DATA_LE, EM_X86_64) => Ok("amd64"),
        (CLASS_64, DATA_LE, EM_AARCH64) => Ok("arm64"),
        (class, data, machine) => refuse(format!(
            "ELF machine {machine} ({}), {}-bit, {}-endian is not supported",
            machine_name(machine),
            if class == CLASS_64 { 64 } else { 32 },
            if data == DATA_LE { "little" } else { "big" },
        )),
    }
}

/// Names for the machines someone might plausibly try, to make the refusal readable.
fn machine_name(machine: u16) -> &'static str {
    match machine {
        3 => "i386",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        22 => "s390",
        40 => "ARM",
        EM_X86_64 => "x86-64",
        EM_AARCH64 => "AArch64",
        243 => "RISC-V",
        258 => "LoongArch",
        _ => "unknown",
    }
}
