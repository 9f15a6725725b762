//! tinyfc inside the function crate: `vendor/tinyfc` holds tinyfc's package exactly as
//! `cargo package -p tinyfc` makes it (what crates.io would serve once it is published), so the
//! crate builds from its own directory alone: in `docker build .`, in CI from a fresh clone, with
//! the tinyfc checkout gone. `cargo tinyfc vendor` refreshes the copy from a newer checkout.
//!
//! Why vendoring (docs/writing-functions.md says it for users): tinyfc is on no registry yet; a
//! path outside the crate breaks every build that sees only the crate; a git source needs a
//! reachable repository and network in every build. The copy is about 400 KB of source.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where the copy lives in a function crate.
pub const DIR: &str = "vendor/tinyfc";

/// The tinyfc checkout this tool was built from (tools/cargo-tinyfc is two levels down).
pub fn own_checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `dir` made absolute, if it holds tinyfc's Cargo.toml.
pub fn checkout(dir: &Path) -> Result<PathBuf, String> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    if !manifest.lines().any(|l| l.trim() == "name = \"tinyfc\"") {
        return Err(format!("{} is not a tinyfc checkout", dir.display()));
    }
    dir.canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// The cargo that runs this tool (cargo sets CARGO for its subcommands), else `cargo`.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Packages tinyfc from `checkout` with `cargo package` and unpacks it into `crate_dir/DIR`
/// (replacing what was there). Returns tinyfc's version.
pub fn vendor(checkout: &Path, crate_dir: &Path) -> Result<String, String> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    // A target directory of its own: nothing is compiled (--no-verify), and the package never
    // waits for a build lock held on the checkout's target directory.
    let scratch = std::env::temp_dir().join(format!(
        "cargo-tinyfc-vendor-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = package_and_unpack(checkout, &scratch, &crate_dir.join(DIR));
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn package_and_unpack(checkout: &Path, scratch: &Path, into: &Path) -> Result<String, String> {
    let manifest = checkout.join("Cargo.toml");
    let package = |offline: bool| {
        let mut cmd = Command::new(cargo());
        cmd.args([
            "package",
            "-p",
            "tinyfc",
            "--no-verify",
            "--allow-dirty",
            "--quiet",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(scratch);
        if offline {
            cmd.arg("--offline");
        }
        cmd.output()
    };
    // Offline first: the package needs only what tinyfc's own lock file names, which a checkout
    // that has been built holds already; online when that is not so.
    let out = match package(true) {
        Ok(o) if o.status.success() => o,
        _ => package(false).map_err(|e| format!("running cargo package: {e}"))?,
    };
    if !out.status.success() {
        return Err(format!(
            "cargo package -p tinyfc in {} failed:\n{}",
            checkout.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let crate_file = std::fs::read_dir(scratch.join("package"))
        .map_err(|e| format!("cargo package wrote no package: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "crate"))
        .ok_or("cargo package wrote no .crate file")?;
    let version = crate_file
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.strip_prefix("tinyfc-"))
        .ok_or("the package's file name is not tinyfc-VERSION.crate")?
        .to_string();
    if into.exists() {
        std::fs::remove_dir_all(into).map_err(|e| format!("{}: {e}", into.display()))?;
    }
    unpack(&crate_file, into).map_err(|e| format!("unpacking {}: {e}", crate_file.display()))?;
    Ok(version)
}

/// Unpacks a `.crate` (a gzipped tar whose entries sit under `NAME-VERSION/`) into `into`.
fn unpack(crate_file: &Path, into: &Path) -> io::Result<()> {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(crate_file)?);
    let mut archive = tar::Archive::new(gz);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        // Below the top directory; `unpack_in` refuses `..` and absolute paths.
        let inner: PathBuf = path.components().skip(1).collect();
        // The original manifest and cargo's VCS note: not part of what builds.
        if inner.as_os_str().is_empty()
            || inner == Path::new("Cargo.toml.orig")
            || inner == Path::new(".cargo_vcs_info.json")
            // A library's lock file: cargo reads only the function crate's.
            || inner == Path::new("Cargo.lock")
        {
            continue;
        }
        let target = into.join(&inner);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        entry.unpack(&target)?;
    }
    Ok(())
}

/// Writes `crate_dir/Cargo.lock`: `seed` (the checkout's lock, the versions tinyfc's own tests
/// ran with) resolved for this crate by cargo, which keeps the seed's versions and drops what
/// the crate does not use.
pub fn lock(crate_dir: &Path, seed: Option<&Path>) -> Result<(), String> {
    if let Some(seed) = seed {
        if let Ok(text) = std::fs::read_to_string(seed) {
            std::fs::write(crate_dir.join("Cargo.lock"), text)
                .map_err(|e| format!("writing Cargo.lock: {e}"))?;
        }
    }
    let resolve = |offline: bool| {
        let mut cmd = Command::new(cargo());
        cmd.args(["metadata", "--format-version", "1", "--quiet"])
            .current_dir(crate_dir);
        if offline {
            cmd.arg("--offline");
        }
        cmd.output()
    };
    let out = match resolve(true) {
        Ok(o) if o.status.success() => o,
        _ => resolve(false).map_err(|e| format!("running cargo metadata: {e}"))?,
    };
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "resolving the dependencies (cargo metadata) failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `cargo tinyfc vendor`'s command line.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Refreshes vendor/tinyfc in a function crate `cargo tinyfc new` made: tinyfc's package from a tinyfc
checkout, as `cargo package` makes it, the version in Cargo.toml and tinyfc in Cargo.lock.",
    after_help = "example:
  cd my-function && cargo tinyfc vendor --tinyfc-path ~/src/tinyfc && cargo test"
)]
pub struct VendorArgs {
    /// The tinyfc checkout to take it from (default: the one this tool was built from).
    #[arg(long, value_name = "DIR")]
    tinyfc_path: Option<PathBuf>,
    /// The function crate.
    #[arg(long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,
}

/// The dependency line `new` writes for a vendored tinyfc.
const DEPENDENCY: &str = "tinyfc = { version = ";

/// `cargo tinyfc vendor ARGS`: the exit code.
pub fn main(args: VendorArgs) -> crate::cli::Exit {
    let checkout = checkout(&args.tinyfc_path.unwrap_or_else(own_checkout))?;
    let manifest_path = args.dir.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let vendored = format!("path = \"{DIR}\"");
    let Some(line) = manifest
        .lines()
        .find(|l| l.starts_with(DEPENDENCY) && l.contains(&vendored))
    else {
        return Err(format!(
            "{} has no `{DEPENDENCY}\"..\", {vendored} ..}}` line: not a crate with tinyfc vendored",
            manifest_path.display()
        )
        .into());
    };
    let version = match vendor(&checkout, &args.dir) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("cargo tinyfc vendor: {e}");
            return Ok(1);
        }
    };
    // Only the version inside the line `new` wrote changes; the rest of the file is the user's.
    let rest = &line[DEPENDENCY.len()..];
    let old = rest.split(',').next().unwrap_or_default();
    let updated = format!("{DEPENDENCY}\"{version}\"{}", &rest[old.len()..]);
    let manifest = manifest.replacen(line, &updated, 1);
    if let Err(e) = std::fs::write(&manifest_path, manifest) {
        eprintln!("cargo tinyfc vendor: {}: {e}", manifest_path.display());
        return Ok(1);
    }
    let update = |offline: bool| {
        let mut cmd = Command::new(cargo());
        cmd.args(["update", "-p", "tinyfc", "--quiet"])
            .current_dir(&args.dir);
        if offline {
            cmd.arg("--offline");
        }
        cmd.status()
    };
    let updated = matches!(update(true), Ok(s) if s.success())
        || matches!(update(false), Ok(s) if s.success());
    if !updated {
        eprintln!("cargo tinyfc vendor: `cargo update -p tinyfc` failed: Cargo.lock is unchanged");
        return Ok(1);
    }
    println!(
        "{}: tinyfc {version} from {}",
        args.dir.join(DIR).display(),
        checkout.display()
    );
    Ok(0)
}
