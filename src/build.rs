//! Passes the link layout to the linker for release builds of this package's binaries and examples
//! on Linux: src/start.ld puts the code a cold start runs first in the text, src/cold.ld the code
//! it does not run (panic-only code, tinyfc's #[cold] paths) last, so a start-up maps less of the
//! binary (see the scripts). They are left out when the flags or linker name gold or mold, which
//! do not take such scripts; TINYFC_NO_COLD_LAYOUT=1 leaves them out for any other such linker.
fn main() {
    println!("cargo:rerun-if-changed=src/start.ld");
    println!("cargo:rerun-if-changed=src/cold.ld");
    println!("cargo:rerun-if-env-changed=TINYFC_NO_COLD_LAYOUT");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let opted_out = std::env::var_os("TINYFC_NO_COLD_LAYOUT").is_some_and(|v| v != "0");
    // gold and mold do not take INSERT scripts: leave the layout out rather than fail the link.
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let linker = std::env::var("RUSTC_LINKER").unwrap_or_default();
    let no_scripts = ["gold", "mold"]
        .iter()
        .any(|l| flags.contains(&format!("fuse-ld={l}")) || linker.contains(l));
    if linux && release && !opted_out && !no_scripts {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        // start.ld first: a section both name (a start-up's code among the shared generics) is
        // placed by the first rule that matches it.
        for script in ["start.ld", "cold.ld"] {
            for kind in ["bins", "examples"] {
                println!("cargo:rustc-link-arg-{kind}=-Wl,-T,{dir}/src/{script}");
            }
        }
    }
}
