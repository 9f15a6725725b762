//! The instance's log, as FC keeps it: the function's stdout and stderr pass through to ours line
//! by line and the recent lines are kept, so `x-fc-log-type: Tail` can answer an invocation's own
//! lines (from `FC Invoke Start RequestId: ID` to `FC Invoke End RequestId: ID`), as FC's
//! `x-fc-log-result` does: the last 4 KB, base64.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;

/// The most log kept, in bytes: enough for any invocation's last 4 KB.
const KEEP: usize = 1024 * 1024;
/// FC's `x-fc-log-result` holds the invocation's last 4 KB.
pub const TAIL: usize = 4 * 1024;

/// The recent lines of the instances' output.
#[derive(Default)]
pub struct Logs {
    /// (lines, their bytes in all).
    lines: Mutex<(VecDeque<String>, usize)>,
    /// Signalled on every new line.
    grew: Condvar,
}

impl Logs {
    /// Passes `pipe` (an instance's stdout, or its stderr) through to ours, keeping its lines: on
    /// a thread of its own as output arrives, and at every line of the platform's ([`catch_up`]).
    pub fn forward<P>(self: &Arc<Self>, pipe: P, stderr: bool)
    where
        P: Read + AsRawFd + Send + 'static,
    {
        let fd = pipe.as_raw_fd();
        // SAFETY: fcntl(2) on a descriptor `pipe` owns, which the relay keeps open.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        let relay = Arc::new(Mutex::new(Relay {
            pipe: Box::new(pipe),
            stderr,
            logs: self.clone(),
            partial: Vec::new(),
            closed: false,
        }));
        locked(&RELAYS).push(relay.clone());
        std::thread::spawn(move || {
            // Waits for output without the lock, then passes it through under the lock.
            while wait_readable(fd) && !locked(&relay).drain() {}
            locked(&RELAYS).retain(|r| !Arc::ptr_eq(r, &relay));
        });
    }

    fn push(&self, line: String) {
        let mut st = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        st.1 += line.len();
        st.0.push_back(line);
        while st.1 > KEEP {
            let Some(old) = st.0.pop_front() else { break };
            st.1 -= old.len();
        }
        drop(st);
        self.grew.notify_all();
    }

    /// Invocation `rid`'s log lines (its `FC Invoke Start` to its `FC Invoke End`), their last
    /// 4 KB in base64, waiting up to `wait` for its end line; None if its lines are not there.
    pub fn tail(&self, rid: &str, wait: Duration) -> Option<String> {
        let (start, end) = (
            format!("FC Invoke Start RequestId: {rid}"),
            format!("FC Invoke End RequestId: {rid}"),
        );
        let until = Instant::now() + wait;
        let mut st = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(last) = st.0.iter().rposition(|l| l.contains(&end)) {
                let first = st.0.iter().take(last).rposition(|l| l.contains(&start))?;
                let text: String = st.0.range(first..=last).map(String::as_str).collect();
                let from = text.len().saturating_sub(TAIL);
                let tail = &text.as_bytes()[from..];
                return Some(base64::engine::general_purpose::STANDARD.encode(tail));
            }
            let left = until.checked_duration_since(Instant::now())?;
            st = self
                .grew
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The instances' pipes not yet at their end.
static RELAYS: Mutex<Vec<Arc<Mutex<Relay>>>> = Mutex::new(Vec::new());

/// Passes through what the instances wrote so far. The platform calls it before each line of
/// its own (`say!`), so its lines come after the function's output that led to them (a relay
/// thread alone may lag behind: the pre-stop lines after "sending SIGTERM", the last lines lost
/// when the platform exits).
pub fn catch_up() {
    let relays = locked(&RELAYS).clone();
    for relay in relays {
        locked(&relay).drain();
    }
}

/// One pipe of an instance, passed through line by line; read only under its lock.
struct Relay {
    pipe: Box<dyn Read + Send>,
    stderr: bool,
    logs: Arc<Logs>,
    /// Bytes of a line still missing its end.
    partial: Vec<u8>,
    closed: bool,
}

impl Relay {
    /// Passes through what the pipe holds. True once it has ended.
    fn drain(&mut self) -> bool {
        let mut buf = [0u8; 8192];
        while !self.closed {
            match self.pipe.read(&mut buf) {
                Ok(0) => {
                    self.closed = true;
                    self.pass(self.partial.len()); // a last line without its end, as it is
                }
                Ok(n) => {
                    self.partial.extend_from_slice(&buf[..n]);
                    if let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') {
                        self.pass(end + 1);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => self.closed = true,
            }
        }
        self.closed
    }

    /// Writes the first `len` bytes of `partial` (whole lines) to our output and keeps the lines.
    fn pass(&mut self, len: usize) {
        if len == 0 {
            return;
        }
        let text: Vec<u8> = self.partial.drain(..len).collect();
        let _ = if self.stderr {
            io::stderr().lock().write_all(&text)
        } else {
            io::stdout().lock().write_all(&text)
        };
        for line in text.split_inclusive(|&b| b == b'\n') {
            self.logs.push(String::from_utf8_lossy(line).into_owned());
        }
    }
}

/// `m` locked (a panicked holder does not poison it for the others).
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Blocks until `fd` has input or has ended. False if it cannot be waited on.
fn wait_readable(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: poll(2) on one pollfd that lives across the call.
        let r = unsafe { libc::poll(&mut pfd, 1, -1) };
        if r > 0 {
            return true;
        }
        if r < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return false;
        }
    }
}
