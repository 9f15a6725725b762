//! A client connection and how bytes come off it: the read buffer (which may hold pipelined
//! requests), non-blocking reads of what is available, and the timed reads and writes a worker
//! uses while it holds the connection. The poller decides when to read; `head.rs` and `body.rs`
//! decide what the bytes mean.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Bytes read at a time while a head arrives, on the stack: heads are small, and a smaller buffer
/// touches fewer fresh stack pages on a new thread.
const READ_CHUNK: usize = 2048;

/// A client connection with its read buffer (which may hold pipelined requests).
pub(crate) struct Conn {
    /// Its place in the poller's table (see `poller.rs`).
    pub(crate) token: u64,
    /// True when the last read from the socket found it empty: the poller is edge-triggered, so
    /// a connection goes back to it only drained (or it would not hear of input already there).
    pub(crate) drained: bool,
    pub(crate) stream: TcpStream,
    /// Bytes read but not yet consumed.
    pub(crate) buf: Vec<u8>,
    /// When the current request's first byte arrived (None while idle).
    pub(crate) head_started: Option<Instant>,
    /// When the connection last finished a request or was accepted.
    pub(crate) idle_since: Instant,
    /// Set once an error answer was sent: the write side is shut and what the client still sends
    /// is read and dropped until it closes (or a short linger ends), so the answer is not lost to
    /// a TCP reset.
    pub(crate) closing: Option<Instant>,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream) -> Conn {
        Conn {
            token: 0,
            drained: false,
            stream,
            buf: Vec::new(),
            head_started: None,
            idle_since: Instant::now(),
            closing: None,
        }
    }
}

/// Reads what is available without blocking, keeping at most `max_head + 1` bytes buffered (one
/// more than a head may have, enough to know it is too large). False: closed or failed.
pub(crate) fn read_available(conn: &mut Conn, max_head: usize) -> bool {
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        let room = (max_head + 1).saturating_sub(conn.buf.len());
        if room == 0 {
            conn.drained = false;
            return true;
        }
        let want = room.min(chunk.len());
        match conn.stream.read(&mut chunk[..want]) {
            Ok(0) => return false,
            Ok(n) => {
                conn.buf.extend_from_slice(&chunk[..n]);
                if n < want {
                    // Drained: what arrives after this read is a new edge for the poller. No
                    // second read just to see it fail.
                    conn.drained = true;
                    return true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                conn.drained = true;
                return true;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Reads and drops what a closing connection sends. False once the client has closed.
#[cold]
pub(crate) fn discard_available(conn: &mut Conn) -> bool {
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        match conn.stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                conn.drained = true;
                return true;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// A non-blocking socket used as a blocking one: each read or write waits at most `stall` for the
/// socket to become ready, then fails with `TimedOut`. Sockets stay non-blocking for their whole
/// life, so handing a connection between threads changes no socket mode (no fcntl per hand-off).
pub(crate) struct Timed<'a> {
    stream: &'a TcpStream,
    stall: Duration,
    /// Set once it has read from the socket.
    pub(crate) used: bool,
}

impl<'a> Timed<'a> {
    pub(crate) fn new(stream: &'a TcpStream, stall: Duration) -> Timed<'a> {
        Timed {
            stream,
            stall,
            used: false,
        }
    }

    fn wait(&self, events: i16) -> io::Result<()> {
        if wait_ready(self.stream, events, self.stall) {
            Ok(())
        } else {
            Err(io::ErrorKind::TimedOut.into())
        }
    }
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.used = true;
        loop {
            match (&*self.stream).read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(libc::POLLIN)?,
                r => return r,
            }
        }
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match (&*self.stream).write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(libc::POLLOUT)?,
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Waits up to `timeout` for `events` (POLLIN, POLLOUT) on `stream`; true if ready (or closed, or
/// interrupted: the caller's next read or write tells which).
pub(crate) fn wait_ready(stream: &TcpStream, events: i16, timeout: Duration) -> bool {
    let mut fd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events,
        revents: 0,
    };
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut fd, 1, ms) };
    n > 0 || (n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted)
}
