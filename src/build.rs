//! Passes src/cold.ld to the linker for release builds of this package's binaries and examples on
//! Linux: code a start-up does not run (panic-only code, tinyfc's #[cold] paths) goes after the
//! rest of the text, so a start-up maps less of the binary (see the script). Set
//! TINYFC_NO_COLD_LAYOUT=1 to leave it out (for a linker without GNU ld scripts, such as mold).
fn main() {
    println!("cargo:rerun-if-changed=src/cold.ld");
    println!("cargo:rerun-if-env-changed=TINYFC_NO_COLD_LAYOUT");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let opted_out = std::env::var_os("TINYFC_NO_COLD_LAYOUT").is_some_and(|v| v != "0");
    if linux && release && !opted_out {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        let script = format!("{dir}/src/cold.ld");
        for kind in ["bins", "examples"] {
            println!("cargo:rustc-link-arg-{kind}=-Wl,-T,{script}");
        }
    }
}
