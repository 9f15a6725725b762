//! Passes the link layout to the linker for release builds of this package's binaries and examples
//! on Linux: src/start.ld puts the code a cold start runs first in the text, src/cold.ld the code
//! it does not run (panic-only code, tinyfc's #[cold] paths) last, so a start-up maps less of the
//! binary (see the scripts). Set TINYFC_NO_COLD_LAYOUT=1 to leave both out (for a linker without
//! GNU ld scripts, such as mold).
fn main() {
    println!("cargo:rerun-if-changed=src/start.ld");
    println!("cargo:rerun-if-changed=src/cold.ld");
    println!("cargo:rerun-if-env-changed=TINYFC_NO_COLD_LAYOUT");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let opted_out = std::env::var_os("TINYFC_NO_COLD_LAYOUT").is_some_and(|v| v != "0");
    if linux && release && !opted_out {
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
