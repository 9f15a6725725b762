//! `--watch`: the edit-run loop. `cargo build` the crate's `--bin`/`--example`, run it as the
//! instance, and when the crate's `src/`, `examples/` or `Cargo.toml` change (300 ms of quiet
//! after the last change), build again: a failed build is printed and the running instance keeps
//! serving; a good one replaces the instance in FC's order (pre-stop, SIGTERM, a new instance
//! initialized before traffic reaches it).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use super::options::Target;
use super::platform::Platform;
use crate::say;

/// How long the sources must stay quiet before a rebuild (an editor's save is several events).
const DEBOUNCE: Duration = Duration::from_millis(300);

/// `cargo build` of the target (diagnostics on stderr); the executable's path, or why not.
pub fn build(target: &Target) -> Result<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--message-format=json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(target.manifest());
    if let Some(bin) = &target.bin {
        cmd.args(["--bin", bin]);
    }
    if let Some(example) = &target.example {
        cmd.args(["--example", example]);
    }
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let mut exe = None;
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            exe = crate::static_build::executable(&line).or(exe);
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("cargo build failed ({status})"));
    }
    let exe = exe.ok_or("cargo built no executable")?;
    say!("built {exe} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(exe)
}

/// Watches the target's sources for as long as the platform runs, rebuilding and restarting
/// the instance on a change. Err: the sources cannot be watched.
pub fn start(platform: Arc<Platform>, target: Target) -> Result<(), String> {
    let (tx, changes) = channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if !event.kind.is_access() {
                for path in event.paths {
                    let _ = tx.send(path);
                }
            }
        }
    })
    .map_err(|e| format!("cannot watch files: {e}"))?;
    let dir = target
        .dir()
        .canonicalize()
        .map_err(|e| format!("cannot watch {}: {e}", target.dir().display()))?;
    for sub in ["src", "examples"] {
        let path = dir.join(sub);
        if path.is_dir() {
            watcher
                .watch(&path, RecursiveMode::Recursive)
                .map_err(|e| format!("cannot watch {}: {e}", path.display()))?;
        }
    }
    // The directory itself, not Cargo.toml: an editor that saves by renaming would end a watch
    // on the file.
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    say!("watching {} (src/, examples/, Cargo.toml)", dir.display());
    std::thread::spawn(move || {
        let _watcher = watcher;
        while let Ok(first) = changes.recv() {
            if !relevant(&dir, &first) {
                continue;
            }
            // Debounce: wait until the sources are quiet for DEBOUNCE.
            loop {
                match changes.recv_timeout(DEBOUNCE) {
                    Ok(_) => continue,
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            if platform.stopping() {
                return;
            }
            say!("{} changed: rebuilding", first.display());
            match build(&target) {
                Err(e) => say!("{e}: the running instance keeps serving"),
                Ok(_) => {
                    say!("restarting the instance with the new build");
                    if let Err(e) = platform.restart() {
                        say!("the new instance failed: {e}");
                    }
                }
            }
        }
    });
    Ok(())
}

/// True for a change under src/ or examples/, or to Cargo.toml (not target/, Cargo.lock, ...).
fn relevant(dir: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(dir) else {
        return false;
    };
    rel == Path::new("Cargo.toml") || rel.starts_with("src") || rel.starts_with("examples")
}
