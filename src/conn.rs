//! A client connection and how bytes come off it: the read buffer (which may hold pipelined
//! requests), non-blocking reads of what is available, and the timed reads and writes a worker
//! uses while it holds the connection. The poller decides when to read; `head.rs` and `body.rs`
//! decide what the bytes mean.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::Weak;
use std::time::{Duration, Instant};

/// Bytes read at a time while a head arrives, on the stack: heads are small, and a smaller buffer
/// touches fewer fresh stack pages on a new thread.
const READ_CHUNK: usize = 2048;

/// What gives out and frees the table slots connections are leased (the poller).
pub(crate) trait Slots: Send + Sync {
    /// Frees the slot of `token`, and counts one connection less.
    fn release(&self, token: u64);
}

/// A connection's slot in the poller's table, held by the connection: dropping the connection
/// (closed, evicted, or unwound by a panic in the thread that held it) frees the slot and the
/// open count, so neither can leak.
pub(crate) struct Lease {
    slots: Weak<dyn Slots>,
    token: u64,
}

impl Lease {
    /// The slot `token` of `slots`, freed when dropped.
    pub(crate) fn new(slots: Weak<dyn Slots>, token: u64) -> Lease {
        Lease { slots, token }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // None once the poller itself is being dropped: its table goes with it.
        if let Some(slots) = self.slots.upgrade() {
            slots.release(self.token);
        }
    }
}

/// A client connection with its read buffer (which may hold pipelined requests).
pub(crate) struct Conn {
    /// Its place in the poller's table (see `poller.rs`), once added.
    pub(crate) lease: Option<Lease>,
    /// True when reads have caught up with the socket: the last read came up short or found it
    /// empty, so the next input raises a new edge. The poller is edge-triggered: a connection goes
    /// back to it only caught up (or it would not hear of input already there). A short read can
    /// leave a queued end of input unread; the poller's hang-up flag sets `input_closed` for that.
    pub(crate) caught_up: bool,
    /// The client shut its sending side (a read found the end, or the poller reported the
    /// hang-up): nothing more will arrive. The requests already buffered are still answered, then
    /// the connection closes.
    pub(crate) input_closed: bool,
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
            lease: None,
            caught_up: false,
            input_closed: false,
            stream,
            buf: Vec::new(),
            head_started: None,
            idle_since: Instant::now(),
            closing: None,
        }
    }

    /// Its token in the poller (0 before it is added).
    pub(crate) fn token(&self) -> u64 {
        self.lease.as_ref().map_or(0, |l| l.token)
    }
}

/// Reads what is available without blocking, keeping at most `max_head + 1` bytes buffered (one
/// more than a head may have, enough to know it is too large). The end of input sets
/// `input_closed` (what was read before it is still served). False: the socket failed.
pub(crate) fn read_available(conn: &mut Conn, max_head: usize) -> bool {
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        let room = (max_head + 1).saturating_sub(conn.buf.len());
        if room == 0 {
            conn.caught_up = false;
            return true;
        }
        let want = room.min(chunk.len());
        match conn.stream.read(&mut chunk[..want]) {
            Ok(0) => {
                conn.input_closed = true;
                conn.caught_up = true;
                return true;
            }
            Ok(n) => {
                conn.buf.extend_from_slice(&chunk[..n]);
                if n < want {
                    // Caught up: what arrives after this read is a new edge for the poller (an
                    // end of input already queued was reported with this edge). No second read
                    // just to see it fail.
                    conn.caught_up = true;
                    return true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                conn.caught_up = true;
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
                conn.caught_up = true;
                return true;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// A non-blocking socket used as a blocking one: each read or write waits at most `stall` for the
/// socket to become ready, and none waits past a deadline (a client that keeps trickling bytes
/// would otherwise hold a worker without bound); then it fails with `TimedOut`. Sockets stay
/// non-blocking for their whole life, so handing a connection between threads changes no socket
/// mode (no fcntl per hand-off).
pub(crate) struct Timed<'a> {
    stream: &'a TcpStream,
    stall: Duration,
    /// Set at the first wait from `budget` if not given: an answer written without waiting reads
    /// no clock.
    deadline: Option<Instant>,
    budget: Duration,
    /// Set once it has read from the socket.
    pub(crate) used: bool,
}

impl<'a> Timed<'a> {
    /// Waits end at `deadline` (a body's, from its head's arrival).
    pub(crate) fn until(stream: &'a TcpStream, stall: Duration, deadline: Instant) -> Timed<'a> {
        Timed {
            stream,
            stall,
            deadline: Some(deadline),
            budget: Duration::ZERO,
            used: false,
        }
    }

    /// Waits end `budget` after the first one begins (an answer's write).
    pub(crate) fn within(stream: &'a TcpStream, stall: Duration, budget: Duration) -> Timed<'a> {
        Timed {
            stream,
            stall,
            deadline: None,
            budget,
            used: false,
        }
    }

    fn wait(&mut self, events: i16) -> io::Result<()> {
        let now = Instant::now();
        let deadline = *self.deadline.get_or_insert(now + self.budget);
        let left = deadline.saturating_duration_since(now);
        if !left.is_zero() && wait_ready(self.stream, events, self.stall.min(left)) {
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
    let mut fd = [libc::pollfd {
        fd: stream.as_raw_fd(),
        events,
        revents: 0,
    }];
    match crate::sys::poll(&mut fd, Some(timeout)) {
        Ok(n) => n > 0,
        Err(e) => e.kind() == io::ErrorKind::Interrupted,
    }
}

/// Makes closing `stream` reset it, dropping what its client has not read yet: a client that
/// stopped reading gets no more of an answer it could not take in time, and the kernel frees its
/// buffers at once.
#[cold]
pub(crate) fn reset_on_close(stream: &TcpStream) {
    crate::sys::reset_on_close(stream);
}
