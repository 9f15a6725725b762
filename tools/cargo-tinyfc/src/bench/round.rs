//! What a throughput client sends, and what one round of it measured: shared by the two clients
//! (`wrk.rs` and the thread per connection in `load.rs`).

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
