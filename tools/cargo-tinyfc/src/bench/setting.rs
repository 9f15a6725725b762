//! Where a throughput case runs: shared (the server and the client on every CPU), pinned (the
//! server on CPU 0, the client on CPU 1), or under a CPU quota (the server in a cgroup allowed half
//! a CPU, as FC gives an instance a fraction of one). The client is pinned away from the server
//! whenever the server is pinned.

use std::io;
use std::path::{Path, PathBuf};

/// One way to run the server during a throughput case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// Server and client share every CPU.
    Shared,
    /// The server on CPU 0, the client on CPU 1 (`taskset`).
    Pinned,
    /// The server in a cgroup with half a CPU's quota.
    Quota,
}

/// The quota's period and what the server may use of it: half a CPU.
const PERIOD_US: u64 = 100_000;
const QUOTA_US: u64 = 50_000;

impl Setting {
    /// Its name in the table and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Shared => "shared",
            Setting::Pinned => "pinned",
            Setting::Quota => "quota",
        }
    }

    /// Parses a name.
    pub fn of(name: &str) -> Option<Setting> {
        [Setting::Shared, Setting::Pinned, Setting::Quota]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// A CPU-quota cgroup made for this run, removed when dropped (after its processes ended).
pub struct Quota {
    dir: PathBuf,
}

impl Quota {
    /// Creates `tinyfc-bench-<pid>` with half a CPU: under cgroup v2 (`cpu.max`, when the cpu
    /// controller is enabled for children of /sys/fs/cgroup) or v1 (`cpu.cfs_quota_us`). The error
    /// says why not (no cgroup, not writable).
    pub fn create() -> io::Result<Quota> {
        let name = format!("tinyfc-bench-{}", std::process::id());
        let root = Path::new("/sys/fs/cgroup");
        let v2 = std::fs::read_to_string(root.join("cgroup.subtree_control"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "cpu"));
        if v2 {
            let q = Quota {
                dir: root.join(&name),
            };
            std::fs::create_dir(&q.dir)?;
            std::fs::write(q.dir.join("cpu.max"), format!("{QUOTA_US} {PERIOD_US}"))?;
            return Ok(q);
        }
        for v1 in ["cpu", "cpu,cpuacct"] {
            let parent = root.join(v1);
            if !parent.join("cpu.cfs_quota_us").is_file() {
                continue;
            }
            let q = Quota {
                dir: parent.join(&name),
            };
            std::fs::create_dir(&q.dir)?;
            std::fs::write(q.dir.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
            std::fs::write(q.dir.join("cpu.cfs_quota_us"), QUOTA_US.to_string())?;
            return Ok(q);
        }
        Err(io::Error::other(
            "no cgroup cpu controller found under /sys/fs/cgroup",
        ))
    }
}

impl Drop for Quota {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The words that start a server in `setting` before its own command: `taskset -c 0`, or a
/// shell that moves itself into the quota's cgroup and then becomes the server (so the server
/// starts inside it, and reads its CPU count there).
pub fn server_prefix(setting: Setting, quota: Option<&Quota>) -> Vec<String> {
    let words: Vec<String> = match (setting, quota) {
        (Setting::Pinned, _) => vec!["taskset".into(), "-c".into(), "0".into()],
        (Setting::Quota, Some(q)) => vec![
            "sh".into(),
            "-c".into(),
            r#"echo $$ > "$0" && exec "$@""#.into(),
            q.dir.join("cgroup.procs").display().to_string(),
        ],
        _ => Vec::new(),
    };
    words
}

/// The CPU the client runs on in `setting`: CPU 1 when the server is pinned to CPU 0.
pub fn client_cpu(setting: Setting) -> Option<usize> {
    (setting == Setting::Pinned).then_some(1)
}

/// Pins the calling thread (only it: threads it starts later inherit the set) to CPU `cpu`.
pub fn pin_this_thread(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is a plain bit array; all zeros is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET sets one bit of the set we own (an index past it panics).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t of the size passed.
    match unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// True if `program` is on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPUs the calling thread may run on, as the kernel lists them (`0-1`, `1`).
    fn allowed() -> String {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Cpus_allowed_list:"));
        line.unwrap().split_whitespace().nth(1).unwrap().to_string()
    }

    #[test]
    fn pin_this_thread_pins_only_the_calling_thread() {
        let before = allowed();
        let first: usize = before
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let pinned = std::thread::spawn(move || {
            pin_this_thread(first).unwrap();
            allowed()
        })
        .join()
        .unwrap();
        assert_eq!(pinned, first.to_string());
        assert_eq!(allowed(), before, "the caller's CPUs changed");
    }
}
