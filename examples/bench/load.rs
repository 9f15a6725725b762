//! Throughput: keep-alive load from N client threads for S seconds against an initialized function.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tinyfc::client::Connection;

/// One load run's result.
#[derive(Debug, Clone)]
pub struct Load {
    pub connections: usize,
    pub requests: u64,
    pub errors: u64,
    pub secs: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl Load {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }
}

/// Starts `cmd`, initializes it, loads it from `connections` threads for `secs`, stops it.
pub fn run(cmd: &[String], connections: usize, secs: f64) -> std::io::Result<Load> {
    let (mut child, addr) = crate::cold::spawn(cmd)?;
    let result = load(addr, connections, secs);
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn load(addr: SocketAddr, connections: usize, secs: f64) -> std::io::Result<Load> {
    let until = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        match Connection::connect(addr, Duration::from_secs(10)) {
            Ok(c) => break c,
            Err(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(e),
        }
    };
    conn.request(
        "POST",
        "/initialize",
        &[("x-fc-control-path", "/initialize")],
        b"",
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(1 << 16);
                let mut errors = 0u64;
                let h = [
                    ("x-fc-request-id", "load"),
                    ("x-fc-control-path", "/invoke"),
                ];
                let mut conn = Connection::connect(addr, Duration::from_secs(10)).ok();
                while !stop.load(Ordering::Relaxed) {
                    let Some(c) = conn.as_mut() else {
                        errors += 1;
                        conn = Connection::connect(addr, Duration::from_secs(10)).ok();
                        continue;
                    };
                    let t = Instant::now();
                    match c.request("POST", "/invoke", &h, b"{}") {
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
    let mut all = Vec::new();
    let mut errors = 0;
    for t in threads {
        let (l, e) = t.join().unwrap_or_default();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Ok(Load {
        connections,
        requests: all.len() as u64,
        errors,
        secs: elapsed,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    })
}
