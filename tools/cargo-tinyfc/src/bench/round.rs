//! What a throughput client sends, and what one round of it measured: shared by the three clients
//! (`wrk.rs`, `epoll.rs`, `threads.rs`).

/// The request every client sends, over and over.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The path.
    pub path: &'a str,
    /// `x-fc-control-path`: `/invoke` (an event invocation) or `/http-invoke`.
    pub control: &'a str,
}

/// An event invocation with `{}`, as hello answers it.
pub const HELLO: Call<'static> = Call {
    method: "POST",
    path: "/invoke",
    control: "/invoke",
};

impl<'a> Call<'a> {
    /// An HTTP invocation of `method path`.
    pub fn http(method: &'a str, path: &'a str) -> Call<'a> {
        Call {
            method,
            path,
            control: "/http-invoke",
        }
    }
}

/// One round's numbers.
pub struct Round {
    /// Requests answered 200.
    pub requests: u64,
    /// Requests that failed or were answered otherwise.
    pub errors: u64,
    /// How long it ran.
    pub secs: f64,
    /// Latency percentiles, microseconds.
    pub p50_us: f64,
    /// See `p50_us`.
    pub p99_us: f64,
}

impl Round {
    /// The round of the answered requests' latencies (microseconds, any order), `errors` and
    /// `secs`: p50 and p99 by nearest rank over the exact samples.
    pub fn of(mut latencies_us: Vec<f64>, errors: u64, secs: f64) -> Round {
        latencies_us.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            let i = ((latencies_us.len() as f64 * p) as usize)
                .min(latencies_us.len().saturating_sub(1));
            latencies_us.get(i).copied().unwrap_or(0.0)
        };
        Round {
            requests: latencies_us.len() as u64,
            errors,
            secs,
            p50_us: pct(0.50),
            p99_us: pct(0.99),
        }
    }
}
