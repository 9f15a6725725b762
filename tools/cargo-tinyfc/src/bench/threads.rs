//! The throughput client of `--client threads`: a thread per connection, each sending and waiting
//! with tinyfc's blocking client. It takes CPU from the server on the same cores (hundreds of
//! threads waking per answer), which favours a server with more threads: kept to show that
//! difference; the light client without wrk is `epoll.rs`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tinyfc::client::Connection;

use super::round::{Call, Round};

/// One round: `connections` keep-alive clients, a thread each, sending `call` for `secs`, each
/// thread on CPU `cpu` when given.
pub fn round(
    addr: SocketAddr,
    connections: usize,
    secs: f64,
    call: Call,
    cpu: Option<usize>,
) -> std::io::Result<Round> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let stop = stop.clone();
            let (method, path, control) = (
                call.method.to_string(),
                call.path.to_string(),
                call.control.to_string(),
            );
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(1 << 16);
                let mut errors = 0u64;
                if let Some(cpu) = cpu {
                    if super::setting::pin_this_thread(cpu).is_err() {
                        errors += 1;
                    }
                }
                let h = [("x-fc-request-id", "load"), ("x-fc-control-path", &control)];
                let mut conn = Connection::connect(addr, Duration::from_secs(10)).ok();
                while !stop.load(Ordering::Relaxed) {
                    let Some(c) = conn.as_mut() else {
                        errors += 1;
                        conn = Connection::connect(addr, Duration::from_secs(10)).ok();
                        continue;
                    };
                    let t = Instant::now();
                    match c.request(&method, &path, &h, b"{}") {
                        Ok(r) if r.status == 200 => latencies.push(t.elapsed().as_secs_f64() * 1e6),
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            conn = None;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in threads {
        let (l, e) = t.join().unwrap_or_default();
        latencies.extend(l);
        errors += e;
    }
    Ok(Round::of(
        latencies,
        errors,
        started.elapsed().as_secs_f64(),
    ))
}
