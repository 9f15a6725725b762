//! `--client wrk`: one wrk thread (an epoll loop that takes little CPU, like our own client), a
//! cross-check of `epoll.rs` by a tool others know. Its latency percentiles are not the answers'
//! own: wrk corrects them for coordinated omission, adding for each answer slower than twice the
//! mean time between a connection's requests the answers a constant-rate client would have waited
//! for, so a stall of the machine weighs by its length (docs/benchmarks.md, "Why our own client").

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use super::round::{Call, Round};

/// Writes the Lua script that makes wrk send `call` with a `{}` body; its path.
fn script(call: Call) -> io::Result<PathBuf> {
    let path = std::env::temp_dir().join(format!(
        "tinyfc-bench-{}-{}.lua",
        std::process::id(),
        call.control.trim_start_matches('/')
    ));
    let text = format!(
        "wrk.method = \"{}\"\nwrk.body = \"{{}}\"\nwrk.headers[\"x-fc-control-path\"] = \"{}\"\nwrk.headers[\"x-fc-request-id\"] = \"load\"\n",
        call.method, call.control
    );
    std::fs::write(&path, text)?;
    Ok(path)
}

/// One round: wrk with one thread and `connections` keep-alive connections for `secs` (whole
/// seconds, at least one: wrk's unit), on CPU `cpu` when given (`taskset`).
pub fn round(
    addr: SocketAddr,
    connections: usize,
    secs: f64,
    call: Call,
    cpu: Option<usize>,
) -> io::Result<Round> {
    let script = script(call)?;
    let secs = secs.round().max(1.0) as u64;
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu.to_string()).arg("wrk");
            c
        }
        None => Command::new("wrk"),
    };
    let out = cmd
        .args(["-t1", "--latency"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{addr}{}", call.path))
        .output()?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "wrk failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    parse(&text, secs as f64)
        .ok_or_else(|| io::Error::other(format!("unreadable wrk output:\n{text}")))
}

/// Reads wrk's report: requests, errors (socket errors and non-2xx answers), the 50th and 99th
/// latency percentiles.
fn parse(text: &str, secs: f64) -> Option<Round> {
    let mut requests = None;
    let mut errors = 0u64;
    let (mut p50, mut p99) = (None, None);
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [n, "requests", "in", took, ..] => {
                requests = n.parse::<u64>().ok();
                let _ = took;
            }
            ["50%", v] => p50 = micros(v),
            ["99%", v] => p99 = micros(v),
            ["Non-2xx", "or", "3xx", "responses:", n] => errors += n.parse::<u64>().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    Some(Round {
        requests: requests?,
        errors,
        secs,
        p50_us: p50?,
        p99_us: p99?,
    })
}

/// wrk's `1.23ms`, `456.00us`, `1.01s` in microseconds.
fn micros(v: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e6)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60e6)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_requests_errors_and_percentiles_from_wrk() {
        let text = "Running 3s test @ http://127.0.0.1:9101/invoke
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   389.29us  508.01us  20.01ms   97.08%
  Latency Distribution
     50%  232.00us
     75%  401.00us
     90%  632.00us
     99%    1.64ms
  121409 requests in 3.00s, 14.94MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  40462.57
";
        let r = parse(text, 3.0).unwrap();
        assert_eq!((r.requests, r.errors), (121409, 7));
        assert_eq!((r.p50_us, r.p99_us), (232.0, 1640.0));
        assert_eq!(micros("1.01s"), Some(1_010_000.0));
    }
}
