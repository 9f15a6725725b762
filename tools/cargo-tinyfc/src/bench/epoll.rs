//! The throughput client (the default): like `wrk -t1`, one thread whose event loop
//! (mio's `Poll`, epoll on Linux) drives every keep-alive connection, so the load takes little CPU
//! from the server, unlike a thread per connection.
//!
//! Each connection sends what wrk's script sends (`wrk.rs`: the method, a `{}` body,
//! `x-fc-control-path` and `x-fc-request-id`), reads the answer framed by its Content-Length, and
//! sends again once the events of that wait are handled, as wrk does (it asks for the next
//! writable event): sending at once let a server that reads a connection again right after
//! answering serve the same few connections over and over, which showed here as a p50 of 82 us
//! against wrk's 4.9 ms at 256 connections. Every answer's latency, request written -> answer
//! read, is kept, so p50 and p99 are exact. A non-200 answer is an error; so is a connection that
//! breaks (closed, reset, an answer that cannot be read), which is then opened again.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token};

use super::round::{Call, Round};

/// One round: `connections` keep-alive connections sending `call` for `secs`, from a thread of
/// its own on CPU `cpu` when given (pinning the caller would pin the servers it starts later).
pub fn round(
    addr: SocketAddr,
    connections: usize,
    secs: f64,
    call: Call,
    cpu: Option<usize>,
) -> io::Result<Round> {
    let request = request(addr, call);
    std::thread::spawn(move || {
        if let Some(cpu) = cpu {
            super::setting::pin_this_thread(cpu)?;
        }
        run(addr, connections, Duration::from_secs_f64(secs), &request)
    })
    .join()
    .map_err(|_| io::Error::other("the epoll client panicked"))?
}

/// The bytes of `call`, as wrk sends them.
fn request(addr: SocketAddr, call: Call) -> Vec<u8> {
    format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nx-fc-control-path: {}\r\nx-fc-request-id: load\r\n\
         Content-Length: 2\r\n\r\n{{}}",
        call.method, call.path, call.control
    )
    .into_bytes()
}

/// The event loop: opens every connection, then keeps a request in flight on each until `time`
/// has passed since the last one opened (requests still in flight then are not counted).
fn run(addr: SocketAddr, connections: usize, time: Duration, request: &[u8]) -> io::Result<Round> {
    let mut poll = Poll::new()?;
    // A connection that cannot be opened again is None for the rest of the round.
    let mut conns = (0..connections)
        .map(|i| Conn::open(poll.registry(), addr, Token(i)).map(Some))
        .collect::<io::Result<Vec<_>>>()?;
    let mut latencies_us = Vec::with_capacity(1 << 18);
    let mut errors = 0u64;
    let mut scratch = vec![0u8; 16 * 1024];
    let mut events = Events::with_capacity(1024);
    // The connections due to send: all at first, then those answered in the last wait.
    let mut answered: Vec<usize> = (0..connections).collect();
    let started = Instant::now();
    let end = started + time;
    loop {
        for i in answered.drain(..) {
            let sent = conns[i].as_mut().map(|c| c.send(request));
            if let Some(Err(_)) = sent {
                errors += 1;
                conns[i] = Conn::reopen(conns[i].take(), poll.registry(), addr, Token(i), request);
            }
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match poll.poll(&mut events, Some(left)) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            r => r?,
        }
        for event in events.iter() {
            let i = event.token().0;
            let Some(c) = conns[i].as_mut() else {
                continue;
            };
            match c.progress(request, &mut scratch, &mut latencies_us, &mut errors) {
                Ok(true) => answered.push(i),
                Ok(false) => {}
                Err(_) => {
                    errors += 1;
                    conns[i] =
                        Conn::reopen(conns[i].take(), poll.registry(), addr, Token(i), request);
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(Round::of(latencies_us, errors, secs))
}

/// One keep-alive connection with one request in flight.
struct Conn {
    stream: TcpStream,
    /// Bytes of the request written so far.
    written: usize,
    /// The answer's bytes read so far.
    answer: Vec<u8>,
    /// When the request in flight started.
    sent: Instant,
}

impl Conn {
    /// Connects (blocking: a loopback connect is immediate) and registers for both directions,
    /// edge-triggered.
    fn open(registry: &Registry, addr: SocketAddr, token: Token) -> io::Result<Conn> {
        let s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(s);
        registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        Ok(Conn {
            stream,
            written: 0,
            answer: Vec::with_capacity(1024),
            sent: Instant::now(),
        })
    }

    /// Closes `old` (a broken connection) and opens a new one that has sent `request`; None if
    /// that fails too.
    fn reopen(
        old: Option<Conn>,
        registry: &Registry,
        addr: SocketAddr,
        token: Token,
        request: &[u8],
    ) -> Option<Conn> {
        if let Some(mut old) = old {
            let _ = registry.deregister(&mut old.stream);
        }
        let mut c = Conn::open(registry, addr, token).ok()?;
        c.send(request).ok()?;
        Some(c)
    }

    /// Starts the next request: its clock, then as much of it as the socket takes now.
    fn send(&mut self, request: &[u8]) -> io::Result<()> {
        self.sent = Instant::now();
        self.written = 0;
        self.flush(request)
    }

    /// Writes the rest of the request until done or the socket is full (the next writable event
    /// goes on).
    fn flush(&mut self, request: &[u8]) -> io::Result<()> {
        while self.written < request.len() {
            match self.stream.write(&request[self.written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// After an event: writes what is left of the request, then reads until the socket is empty
    /// (readiness is edge-triggered), recording the answer once all of it is in. True if it came
    /// (the next request is the caller's to send); an error means the connection is broken.
    fn progress(
        &mut self,
        request: &[u8],
        scratch: &mut [u8],
        latencies_us: &mut Vec<f64>,
        errors: &mut u64,
    ) -> io::Result<bool> {
        self.flush(request)?;
        let mut answered = false;
        loop {
            match self.stream.read(scratch) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                // One request is in flight: bytes past its answer answer nothing we sent.
                Ok(_) if answered => return Err(ErrorKind::InvalidData.into()),
                Ok(n) => self.answer.extend_from_slice(&scratch[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(answered),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let Some((status, len)) = whole_answer(&self.answer)? else {
                continue;
            };
            if len < self.answer.len() {
                return Err(ErrorKind::InvalidData.into());
            }
            let took = self.sent.elapsed();
            self.answer.clear();
            if status == 200 {
                latencies_us.push(took.as_secs_f64() * 1e6);
            } else {
                *errors += 1;
            }
            answered = true;
        }
    }
}

/// The status and length (head and body) of the answer at the start of `bytes` once all of it is
/// there; None while it is not. An answer without Content-Length cannot be framed here: an error.
fn whole_answer(bytes: &[u8]) -> io::Result<Option<(u16, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut answer = httparse::Response::new(&mut headers);
    let head = match answer.parse(bytes) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(io::Error::new(ErrorKind::InvalidData, e)),
    };
    let body = answer
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| {
            std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        })
        .ok_or_else(|| {
            io::Error::new(ErrorKind::InvalidData, "an answer without Content-Length")
        })?;
    let status = answer.code.unwrap_or(0);
    Ok((bytes.len() >= head + body).then_some((status, head + body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_an_answer_by_content_length_once_all_of_it_is_there() {
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(whole_answer(&answer[..20]).unwrap(), None);
        assert_eq!(whole_answer(&answer[..answer.len() - 1]).unwrap(), None);
        assert_eq!(whole_answer(answer).unwrap(), Some((200, answer.len())));
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        assert!(whole_answer(chunked).is_err());
    }

    #[test]
    fn sends_what_wrks_script_sends() {
        let addr: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        let text = String::from_utf8(request(addr, super::super::round::HELLO)).unwrap();
        assert_eq!(
            text,
            "POST /invoke HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nx-fc-control-path: /invoke\r\n\
             x-fc-request-id: load\r\nContent-Length: 2\r\n\r\n{}"
        );
    }
}
