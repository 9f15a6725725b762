//! The platform's side of the lifecycle: start the instance, initialize it (retrying on 400/404,
//! restarting on 500, a crash or a timeout), forward invocations, pre-stop and stop it.

use std::net::SocketAddr;
use std::process::ExitStatus;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tinyfc::client::{self, Connection, Response};

use crate::instance::Instance;
use crate::options::Options;
use crate::say;

/// Where the instance stands, as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Starting or initializing: requests wait.
    Booting,
    /// Initialized: requests are forwarded.
    Ready,
    /// Initialization failed for good: requests get an InitializationError with this message.
    Failed(String),
}

/// Which platform call an invocation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// POST /invoke, control path /invoke.
    Event,
    /// The client's own method and path, control path /http-invoke.
    Http,
}

struct State {
    phase: Phase,
    instance: Option<Instance>,
    /// Keep-alive connections to the instance, with when they were last used.
    idle: Vec<(Connection, Instant)>,
}

/// The local platform.
pub struct Platform {
    pub opts: Options,
    state: Mutex<State>,
    changed: Condvar,
}

/// A pooled connection older than this is dropped rather than reused (the runtime's idle timeout
/// may have closed it).
const MAX_IDLE: Duration = Duration::from_secs(20);

impl Platform {
    pub fn new(opts: Options) -> Platform {
        Platform {
            opts,
            state: Mutex::new(State {
                phase: Phase::Booting,
                instance: None,
                idle: Vec::new(),
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_phase(&self, phase: Phase) {
        self.lock().phase = phase;
        self.changed.notify_all();
    }

    /// Starts and initializes an instance, restarting it up to --max-restarts times. Ok once ready.
    pub fn boot(&self) -> Result<(), String> {
        self.set_phase(Phase::Booting);
        let mut restarts = 0;
        loop {
            let failure = match self.start_and_initialize() {
                Ok(()) => {
                    self.set_phase(Phase::Ready);
                    return Ok(());
                }
                Err(Boot::GiveUp(msg)) => msg,
                Err(Boot::Restart(msg)) if restarts < self.opts.max_restarts => {
                    restarts += 1;
                    say!(
                        "restarting the instance ({restarts}/{}): {msg}",
                        self.opts.max_restarts
                    );
                    if let Some(old) = self.lock().instance.take() {
                        old.kill();
                    }
                    continue;
                }
                Err(Boot::Restart(msg)) => format!("{msg} (after {restarts} restarts)"),
            };
            say!("initialization failed: {failure}");
            self.set_phase(Phase::Failed(failure.clone()));
            return Err(failure);
        }
    }

    fn start_and_initialize(&self) -> Result<(), Boot> {
        let mut instance = Instance::start(&self.opts)
            .map_err(|e| Boot::GiveUp(format!("cannot start {:?}: {e}", self.opts.command[0])))?;
        let listened = instance.wait_listening(self.opts.start_timeout);
        let addr = instance.addr;
        self.lock().instance = Some(instance);
        let took = listened.map_err(Boot::Restart)?;
        say!("instance listening after {} ms", crate::ms(took));
        if !self.opts.initializer {
            return Ok(());
        }
        let mut backoff = Duration::from_millis(100);
        for attempt in 0..=self.opts.init_retries {
            let rid = request_id();
            let started = Instant::now();
            let headers = self.common_headers(&rid, "/initialize");
            let answer = call(
                addr,
                "POST",
                "/initialize",
                &headers,
                b"",
                self.opts.init_timeout,
            );
            let ms = crate::ms(started.elapsed());
            match answer {
                Ok(r) if r.status / 100 == 2 => {
                    say!("initialized: RequestId {rid}, Init Duration: {ms} ms");
                    return Ok(());
                }
                Ok(r) if r.status == 400 || r.status == 404 => {
                    let msg = error_message(&r);
                    if attempt == self.opts.init_retries {
                        return Err(Boot::GiveUp(msg));
                    }
                    say!(
                        "initializer answered {} in {ms} ms ({msg}): retrying in {} ms",
                        r.status,
                        backoff.as_millis()
                    );
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                Ok(r) => {
                    return Err(Boot::Restart(format!(
                        "initializer answered {}: {}",
                        r.status,
                        error_message(&r)
                    )))
                }
                Err(e) if is_timeout(&e) => {
                    return Err(Boot::Restart(format!(
                        "initializer timed out after {} s",
                        self.opts.init_timeout.as_secs_f64()
                    )))
                }
                Err(e) => {
                    return Err(Boot::Restart(format!(
                        "instance failed during /initialize: {e}"
                    )))
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// Waits until the instance is ready (its address) or has failed (the message).
    pub fn wait_ready(&self) -> Result<SocketAddr, String> {
        let mut st = self.lock();
        loop {
            match &st.phase {
                Phase::Ready => {
                    return st
                        .instance
                        .as_ref()
                        .map(|i| i.addr)
                        .ok_or_else(|| "no instance".to_string())
                }
                Phase::Failed(msg) => return Err(msg.clone()),
                Phase::Booting => {
                    st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }

    /// True (once) if the instance was ready and its process has exited since: the phase goes
    /// back to booting, so requests wait for the restart.
    pub fn crashed(&self) -> bool {
        let mut st = self.lock();
        let crashed = st.phase == Phase::Ready && st.instance.as_mut().is_some_and(|i| i.exited());
        if crashed {
            st.phase = Phase::Booting;
            st.idle.clear();
        }
        crashed
    }

    /// Sends one invocation with the platform's headers; `headers` are the caller's.
    pub fn invoke(
        &self,
        kind: Kind,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(String, Response), String> {
        let addr = self.wait_ready()?;
        let rid = request_id();
        let control = match kind {
            Kind::Event => "/invoke",
            Kind::Http => "/http-invoke",
        };
        let mut all = self.common_headers(&rid, control);
        all.extend(headers.iter().cloned());
        let h: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let timeout = Duration::from_secs(u64::from(self.opts.timeout_s) + 5);
        let mut conn = match self.take_idle() {
            Some(c) => c,
            None => Connection::connect(addr, timeout).map_err(|e| e.to_string())?,
        };
        match conn.request(method, path, &h, body) {
            Ok(r) => {
                if r.header("connection") != Some("close") {
                    self.lock().idle.push((conn, Instant::now()));
                }
                Ok((rid, r))
            }
            Err(e) => Err(format!("invocation {rid} failed: {e}")),
        }
    }

    fn take_idle(&self) -> Option<Connection> {
        let mut st = self.lock();
        st.idle.retain(|(_, used)| used.elapsed() < MAX_IDLE);
        st.idle.pop().map(|(c, _)| c)
    }

    /// Pre-stop, then SIGTERM (SIGKILL past the grace period). Returns whether pre-stop answered
    /// 2xx and whether the instance exited 0.
    pub fn stop(&self) -> (bool, bool) {
        let instance = {
            let mut st = self.lock();
            st.idle.clear();
            st.instance.take()
        };
        let Some(instance) = instance else {
            return (true, true);
        };
        let rid = request_id();
        let started = Instant::now();
        let headers = self.common_headers(&rid, "/pre-stop");
        let pre_stop = call(
            instance.addr,
            "GET",
            "/pre-stop",
            &headers,
            b"",
            self.opts.prestop_timeout,
        );
        let ms = crate::ms(started.elapsed());
        let pre_stop_ok = match pre_stop {
            Ok(r) => {
                say!(
                    "pre-stop: RequestId {rid}, answered {} in {ms} ms",
                    r.status
                );
                r.status / 100 == 2
            }
            Err(e) => {
                say!("pre-stop: RequestId {rid}, failed after {ms} ms: {e}");
                false
            }
        };
        say!("sending SIGTERM to pid {}", instance.pid());
        let started = Instant::now();
        let status: Option<ExitStatus> = instance.stop(self.opts.grace);
        let ms = crate::ms(started.elapsed());
        match status {
            Some(s) => say!("instance exited in {ms} ms: {s}"),
            None => say!("instance exit status unknown"),
        }
        (pre_stop_ok, status.is_some_and(|s| s.success()))
    }

    /// The headers FC sends with every call.
    fn common_headers(&self, request_id: &str, control_path: &str) -> Vec<(String, String)> {
        let o = &self.opts;
        let initializer = if o.initializer {
            "index.initializer"
        } else {
            ""
        };
        [
            ("x-fc-request-id", request_id),
            ("x-fc-access-key-id", &o.credentials.0),
            ("x-fc-access-key-secret", &o.credentials.1),
            ("x-fc-security-token", &o.credentials.2),
            ("x-fc-function-name", &o.function_name),
            ("x-fc-function-handler", "index.handler"),
            ("x-fc-function-memory", &o.memory_mb.to_string()),
            ("x-fc-function-timeout", &o.timeout_s.to_string()),
            ("x-fc-function-initializer", initializer),
            (
                "x-fc-initialization-timeout",
                &o.init_timeout.as_secs().to_string(),
            ),
            ("x-fc-instance-lifecycle-pre-stop-handler", "index.preStop"),
            ("x-fc-region", &o.region),
            ("x-fc-account-id", &o.account_id),
            ("x-fc-qualifier", &o.qualifier),
            ("x-fc-version-id", "1"),
            ("x-fc-service-name", &o.service_name),
            ("x-fc-service-logproject", "local-logproject"),
            ("x-fc-service-logstore", "local-logstore"),
            ("x-fc-control-path", control_path),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

/// Why a boot attempt ended.
enum Boot {
    /// Kill the instance and start another.
    Restart(String),
    /// Stop trying: the initializer keeps failing retryably, or the command cannot start.
    GiveUp(String),
}

fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<Response> {
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    client::request(addr, method, path, &h, body, timeout)
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// The `errorMessage` of an FC error body, else the body itself.
pub fn error_message(r: &Response) -> String {
    let text = r.text();
    let Some(at) = text.find(r#""errorMessage":""#) else {
        return text;
    };
    let mut out = String::new();
    let mut chars = text[at + 16..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// A fresh request id in FC's shape: `1-<8 hex>-<8 hex>-<12 hex>`.
pub fn request_id() -> String {
    let h = crate::random_hex(28);
    format!("1-{}-{}-{}", &h[..8], &h[8..16], &h[16..28])
}
