//! One cold start: spawn, wait for listening, /initialize, first invocation, RSS, /pre-stop,
//! SIGTERM -> exit, each timed from exec with a monotonic clock.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tinyfc::client::Connection;

/// The phases measured, in order; each is microseconds.
pub const PHASES: [&str; 5] = [
    "listening",
    "initialized",
    "first_answer",
    "pre_stop",
    "sigterm_exit",
];

/// One run's numbers.
#[derive(Debug, Clone)]
pub struct Run {
    /// Microseconds: exec->listening, exec->/initialize answered, exec->first invocation answered,
    /// /pre-stop call->answer, SIGTERM->exit.
    pub phases: [f64; 5],
    /// VmRSS after the first answer, kB.
    pub rss_kb: u64,
    /// RssAnon after the first answer, kB: the process's private memory (heap, stacks, written
    /// data), without the binary's file pages that RSS also counts.
    pub anon_kb: u64,
}

const LIMIT: Duration = Duration::from_secs(10);

/// Starts `cmd` once and measures it. Errors if a step fails.
pub fn run(cmd: &[String]) -> io::Result<Run> {
    let started = Instant::now();
    let (mut child, addr) = spawn(cmd)?;
    let result = measure(&mut child, addr, started);
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Splits a command's leading `NAME=VALUE` words (environment, as in a shell) from the program
/// and its arguments.
pub fn split_env(cmd: &[String]) -> (Vec<(&str, &str)>, &[String]) {
    let n = cmd
        .iter()
        .take_while(|w| w.contains('=') && !w.starts_with('/') && !w.starts_with('.'))
        .count();
    let env = cmd[..n].iter().filter_map(|w| w.split_once('=')).collect();
    (env, &cmd[n..])
}

/// Starts `cmd` as a function on a free port, output discarded, logs at `warn`.
pub fn spawn(cmd: &[String]) -> io::Result<(Child, SocketAddr)> {
    spawn_with(&[], cmd)
}

/// [`spawn`], with `prefix` (a program and its arguments, such as `taskset -c 0`) starting the
/// command.
pub fn spawn_with(prefix: &[String], cmd: &[String]) -> io::Result<(Child, SocketAddr)> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let (env, cmd) = split_env(cmd);
    if cmd.is_empty() {
        return Err(io::Error::other("no program in the target command"));
    }
    let words: Vec<&String> = prefix.iter().chain(cmd).collect();
    let child = Command::new(words[0])
        .args(&words[1..])
        .envs(env)
        .env("FC_SERVER_PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok((child, SocketAddr::from(([127, 0, 0, 1], port))))
}

/// Waits until `addr` takes a connection (a refused connect returns at once, so this spins), at most
/// until `limit` after `started`; an error if the child exits first. The connection, for the caller
/// to close (after taking the time).
pub fn wait_listening(
    child: &mut Child,
    addr: SocketAddr,
    started: Instant,
    limit: Duration,
) -> io::Result<TcpStream> {
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => return Ok(s),
            Err(_) if started.elapsed() < limit => {
                if let Some(status) = child.try_wait()? {
                    return Err(io::Error::other(format!(
                        "exited before listening: {status}"
                    )));
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// One platform call (`x-fc-control-path` = `path`); an error unless it is answered 200.
pub fn call(
    conn: &mut Connection,
    method: &str,
    path: &str,
    request_id: &str,
    body: &[u8],
) -> io::Result<()> {
    let h = [("x-fc-request-id", request_id), ("x-fc-control-path", path)];
    match conn.request(method, path, &h, body)?.status {
        200 => Ok(()),
        status => Err(io::Error::other(format!("{path} answered {status}"))),
    }
}

fn measure(child: &mut Child, addr: SocketAddr, started: Instant) -> io::Result<Run> {
    let us = |t: Instant| t.duration_since(started).as_secs_f64() * 1e6;
    // Listening: the first connect that succeeds.
    let probe = wait_listening(child, addr, started, LIMIT)?;
    let listening = us(Instant::now());
    drop(probe);
    let mut conn = Connection::connect(addr, LIMIT)?;
    call(&mut conn, "POST", "/initialize", "bench-init", b"")?;
    let initialized = us(Instant::now());
    call(&mut conn, "POST", "/invoke", "bench-invoke", b"{}")?;
    let first_answer = us(Instant::now());
    let rss_kb = status_kb(child.id(), "VmRSS:");
    let anon_kb = status_kb(child.id(), "RssAnon:");
    let stop_sent = Instant::now();
    call(&mut conn, "GET", "/pre-stop", "bench-stop", b"")?;
    let pre_stop = stop_sent.elapsed().as_secs_f64() * 1e6;
    let sig_sent = Instant::now();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait()?;
    let sigterm_exit = sig_sent.elapsed().as_secs_f64() * 1e6;
    Ok(Run {
        phases: [listening, initialized, first_answer, pre_stop, sigterm_exit],
        rss_kb,
        anon_kb,
    })
}

/// Drops a file's pages from the page cache (written back first: dirty pages stay), so that every
/// target's binary is read back the same way by its first start. How a file came into the cache
/// (written by the linker, copied, read ahead) changes how many of its pages one fault maps, and
/// so its RSS: the same binary measured 516 kB linked in place and 580 kB as a copy.
pub fn evict(path: &str) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path)?;
    file.sync_all()?;
    // SAFETY: posix_fadvise only advises the kernel about an open descriptor of ours.
    match unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) } {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// A kB field (`VmRSS:`, `RssAnon:`) of a process's /proc status (0 if unreadable).
pub fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with(field))?.to_string();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// Pages of `path` in the page cache, by mincore(2) over a mapping of it.
    fn resident_pages(path: &std::path::Path) -> usize {
        let file = std::fs::File::open(path).unwrap();
        let len = file.metadata().unwrap().len() as usize;
        // SAFETY: a private read-only mapping of an open file, unmapped below; mincore fills
        // one byte per page of it.
        unsafe {
            let map = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(map, libc::MAP_FAILED);
            let mut pages = vec![0u8; len.div_ceil(4096)];
            assert_eq!(libc::mincore(map, len, pages.as_mut_ptr()), 0);
            libc::munmap(map, len);
            pages.iter().filter(|&&p| p & 1 == 1).count()
        }
    }

    #[test]
    fn evict_leaves_none_of_a_just_written_file_in_the_page_cache() {
        // Beside the test binary, under target/: a disk file system (temp_dir may be tmpfs, which has no backing store).
        let exe = std::env::current_exe().unwrap();
        let path = exe
            .parent()
            .unwrap()
            .join(format!("evict-test-{}", std::process::id()));
        std::fs::write(&path, vec![7u8; 256 * 1024]).unwrap();
        assert!(resident_pages(&path) > 0, "a file just written is cached");
        evict(path.to_str().unwrap()).unwrap();
        let left = resident_pages(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(left, 0, "pages still cached after evict");
    }
}
