//! A child's output pipe, captured line by line. Every read of the pipe happens under the capture's
//! lock, and [`Capture::text`] reads what the pipe holds before it answers: a line the child wrote
//! before a test got an answer from it is in the text the test reads next. (A reader thread that
//! read first and appended after left a window in which the answer came before the line.)

use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};

/// A captured pipe, shared by its reader thread and the test.
#[derive(Clone)]
pub(crate) struct Capture(Arc<Mutex<State>>);

struct State {
    pipe: Box<dyn Read + Send>,
    /// Complete lines so far.
    text: String,
    /// The bytes of a line still missing its end.
    partial: Vec<u8>,
    /// The pipe reached its end.
    closed: bool,
    /// Reports the port from the first line holding `marker`.
    port: Option<(&'static str, Sender<u16>)>,
}

impl Capture {
    /// Captures `pipe` (made non-blocking), reading it on a thread of its own as output arrives;
    /// with `port`, the number after the first line's `marker` is sent once it is in the text.
    pub(crate) fn start<P>(pipe: P, port: Option<(&'static str, Sender<u16>)>) -> Capture
    where
        P: Read + AsRawFd + Send + 'static,
    {
        let fd = pipe.as_raw_fd();
        // SAFETY: fcntl(2) on a descriptor `pipe` owns, which the capture keeps open.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        let capture = Capture(Arc::new(Mutex::new(State {
            pipe: Box::new(pipe),
            text: String::new(),
            partial: Vec::new(),
            closed: false,
            port,
        })));
        let reader = capture.clone();
        std::thread::spawn(move || {
            // Waits for output without the lock, then reads it under the lock.
            while wait_readable(fd) && !reader.lock().drain() {}
        });
        capture
    }

    /// Every complete line the child wrote so far, what the pipe holds now included.
    pub(crate) fn text(&self) -> String {
        let mut state = self.lock();
        state.drain();
        state.text.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Reads what the pipe holds into the text. True once the pipe has ended.
    fn drain(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        while !self.closed {
            match self.pipe.read(&mut buf) {
                Ok(0) => {
                    self.closed = true;
                    if !self.partial.is_empty() {
                        self.partial.push(b'\n'); // the last line, unended
                        self.take_lines();
                    }
                }
                Ok(n) => {
                    self.partial.extend_from_slice(&buf[..n]);
                    self.take_lines();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => self.closed = true,
            }
        }
        self.closed
    }

    /// Moves the complete lines of `partial` to the text.
    fn take_lines(&mut self) {
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let lines: Vec<u8> = self.partial.drain(..=end).collect();
        let lines = String::from_utf8_lossy(&lines);
        self.text.push_str(&lines);
        if let Some((marker, tx)) = &self.port {
            if let Some(port) = lines.lines().find_map(|l| port_after(l, marker)) {
                let _ = tx.send(port);
                self.port = None;
            }
        }
    }
}

/// The port number after `marker` in `line`, if it holds one.
fn port_after(line: &str, marker: &str) -> Option<u16> {
    let at = line.find(marker)?;
    line[at + marker.len()..].trim().parse().ok()
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
