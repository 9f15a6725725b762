//! Configuration from the environment, read once at start-up.

use std::io;
use std::time::Duration;

use crate::context::Environment;

/// Runtime settings. Every field has an environment variable and a default; see README.md.
///
/// `#[non_exhaustive]`: settings come. Start from [`Config::default`] (or [`Config::from_env`])
/// and set fields; [`Config::validate`] checks the result, and `run_with` and
/// `TestServer::start_with` call it.
///
/// ```
/// let mut config = tinyfc::Config::default();
/// config.workers = 0;
/// assert!(config.validate().is_err());
/// ```
///
/// ```compile_fail
/// let config = tinyfc::Config { workers: 4, ..Default::default() }; // #[non_exhaustive]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Port to listen on (on 0.0.0.0): `FC_SERVER_PORT`, else `FC_CUSTOM_LISTEN_PORT`, else `PORT`,
    /// else 9000. 0 picks a free port.
    pub port: u16,
    /// `TINYFC_WORKERS` (default 64): most invocations running at once; worker threads start on demand.
    pub workers: usize,
    /// `TINYFC_MAX_HEADER_BYTES` (default 32 KiB): request line + headers; larger heads get 431.
    pub max_header_bytes: usize,
    /// `TINYFC_MAX_BODY_BYTES` (default 32 MiB, FC's synchronous limit): larger bodies get 413.
    pub max_body_bytes: usize,
    /// `TINYFC_HEADER_TIMEOUT_MS` (default 10 s): a started request head must be complete in time
    /// (else 408), and a body read may stall no longer than this.
    pub header_timeout: Duration,
    /// `TINYFC_BODY_TIMEOUT_MS` (default 30 s): a request body must be complete this long after its
    /// head began to arrive (else 408 and close), however steadily it trickles in.
    pub body_timeout: Duration,
    /// `TINYFC_WRITE_TIMEOUT_MS` (default 30 s): an answer must be written within this, counted
    /// from the first time its write has to wait, however slowly the client reads (else the
    /// connection is reset). A streamed answer (`Response::stream`) gets it per chunk.
    pub write_timeout: Duration,
    /// `TINYFC_IDLE_TIMEOUT_MS` (default none: never): idle keep-alive connections are closed after
    /// this. FC keeps its connections to the function open and reuses them, and a POST on one the
    /// server closed while idle is a 502 for its caller (FC's "Process exited unexpectedly before
    /// completing request"), so by default none is closed for idleness; unset, empty or 0 is none.
    pub idle_timeout: Option<Duration>,
    /// `TINYFC_DRAIN_MS` (default 10 s): how long pre-stop and SIGTERM wait for in-flight invocations.
    pub drain: Duration,
    /// `TINYFC_WORKER_IDLE_MS` (default 30 s): a worker idle this long exits (one always stays).
    pub worker_idle: Duration,
    /// `TINYFC_MAX_CONNECTIONS` (default 4096): open connections at most; past it the longest-idle
    /// connection is closed to admit a new one. Lowered at start to the descriptor limit minus a
    /// reserve for the process's other files.
    pub max_connections: usize,
    /// `TINYFC_HEALTH_PATH` (default none): GET and HEAD on this path (without the query) are
    /// answered by the runtime, never by the handler: FC 3.0's `healthCheckConfig.httpGetUrl`.
    /// Must start with `/`. `Function::health_check` sets it when the variable is not set.
    pub health_path: Option<String>,
    /// `TINYFC_BODY_BUDGET_BYTES`, else half of `FC_FUNCTION_MEMORY_SIZE` (MB; set by the
    /// platform), else none until a call's `x-fc-function-memory` says the memory: request body
    /// bytes held at once. A call whose body does not fit waits with it unread (408 past its body
    /// deadline); a body over the whole budget is 413. `Some(0)` turns it off (no call sets one).
    pub body_budget: Option<usize>,
    /// What FC's environment variables (`FC_FUNCTION_NAME`, `FC_INSTANCE_ID`, the
    /// `ALIBABA_CLOUD_*` credentials, ...) give every `Context` whose call lacks the matching
    /// header. Empty in [`Config::default`]; its `Debug` shows no credential.
    pub(crate) environment: Environment,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 9000,
            workers: 64,
            max_header_bytes: 32 * 1024,
            max_body_bytes: 32 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            idle_timeout: None,
            drain: Duration::from_secs(10),
            worker_idle: Duration::from_secs(30),
            max_connections: 4096,
            health_path: None,
            body_budget: None,
            environment: Environment::default(),
        }
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> io::Result<Config> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get` (an environment lookup), for tests and embedding.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> io::Result<Config> {
        let d = Config::default();
        let port = ["FC_SERVER_PORT", "FC_CUSTOM_LISTEN_PORT", "PORT"]
            .iter()
            .find_map(|k| get(k).filter(|v| !v.trim().is_empty()).map(|v| (*k, v)));
        let port = match port {
            Some((k, v)) => parse(k, &v)?,
            None => d.port,
        };
        let num = |key: &str, default: usize| -> io::Result<usize> {
            match get(key).filter(|v| !v.trim().is_empty()) {
                Some(v) => parse(key, &v),
                None => Ok(default),
            }
        };
        let ms = |key: &str, default: Duration| -> io::Result<Duration> {
            num(key, default.as_millis() as usize).map(|n| Duration::from_millis(n as u64))
        };
        let text = |key: &str| get(key).filter(|v| !v.trim().is_empty());
        let c = Config {
            port,
            workers: num("TINYFC_WORKERS", d.workers)?,
            max_header_bytes: num("TINYFC_MAX_HEADER_BYTES", d.max_header_bytes)?,
            max_body_bytes: num("TINYFC_MAX_BODY_BYTES", d.max_body_bytes)?,
            header_timeout: ms("TINYFC_HEADER_TIMEOUT_MS", d.header_timeout)?,
            body_timeout: ms("TINYFC_BODY_TIMEOUT_MS", d.body_timeout)?,
            write_timeout: ms("TINYFC_WRITE_TIMEOUT_MS", d.write_timeout)?,
            idle_timeout: Some(ms("TINYFC_IDLE_TIMEOUT_MS", Duration::ZERO)?)
                .filter(|t| !t.is_zero()),
            drain: ms("TINYFC_DRAIN_MS", d.drain)?,
            worker_idle: ms("TINYFC_WORKER_IDLE_MS", d.worker_idle)?,
            max_connections: num("TINYFC_MAX_CONNECTIONS", d.max_connections)?,
            health_path: text("TINYFC_HEALTH_PATH").map(|p| p.trim().to_string()),
            body_budget: match text("TINYFC_BODY_BUDGET_BYTES") {
                // 0 stays Some(0): off, and a call's x-fc-function-memory must not set one.
                Some(v) => Some(parse("TINYFC_BODY_BUDGET_BYTES", &v)?),
                // The platform's variable: a value we cannot read means no budget, not no start.
                None => text("FC_FUNCTION_MEMORY_SIZE")
                    .and_then(|v| v.trim().parse().ok())
                    .map(crate::budget::BodyBudget::for_memory),
            },
            environment: Environment::from_lookup(&get),
        };
        c.validate()?;
        Ok(c)
    }

    /// Checks the limits a server needs: at least one worker and one connection, and room for a
    /// request line. The one place these are checked: [`Config::from_lookup`] calls it, and so do
    /// `tinyfc::run_with` and `TestServer::start_with` for a configuration made in code.
    pub fn validate(&self) -> io::Result<()> {
        if self.workers == 0 || self.max_connections == 0 || self.max_header_bytes < 64 {
            return Err(bad(
                "TINYFC_WORKERS and TINYFC_MAX_CONNECTIONS must be > 0, TINYFC_MAX_HEADER_BYTES >= 64",
            ));
        }
        if self
            .health_path
            .as_ref()
            .is_some_and(|p| !p.starts_with('/'))
        {
            return Err(bad("TINYFC_HEALTH_PATH must start with /"));
        }
        Ok(())
    }
}

fn parse<T: std::str::FromStr>(key: &str, value: &str) -> io::Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| bad(&format!("{key}={value:?} is not a valid number")))
}

#[cold]
fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(vars: &[(&str, &str)]) -> io::Result<Config> {
        Config::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn port_precedence_is_fc_server_port_then_custom_then_port() {
        assert_eq!(cfg(&[]).unwrap().port, 9000);
        assert_eq!(cfg(&[("PORT", "1")]).unwrap().port, 1);
        assert_eq!(
            cfg(&[("PORT", "1"), ("FC_CUSTOM_LISTEN_PORT", "2")])
                .unwrap()
                .port,
            2
        );
        let all = [
            ("PORT", "1"),
            ("FC_CUSTOM_LISTEN_PORT", "2"),
            ("FC_SERVER_PORT", "3"),
        ];
        assert_eq!(cfg(&all).unwrap().port, 3);
    }

    #[test]
    fn bad_numbers_and_zero_workers_are_rejected() {
        assert!(cfg(&[("FC_SERVER_PORT", "http")]).is_err());
        assert!(cfg(&[("TINYFC_WORKERS", "0")]).is_err());
        assert!(cfg(&[("TINYFC_DRAIN_MS", "-1")]).is_err());
    }

    #[test]
    fn the_environment_is_read_once_and_its_debug_shows_no_credential() {
        let c = cfg(&[
            ("FC_INSTANCE_ID", "c-1"),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", "TOKEN9"),
        ])
        .unwrap();
        assert_ne!(c.environment, Config::default().environment);
        let shown = format!("{c:?}");
        assert!(
            shown.contains("c-1") && !shown.contains("TOKEN9"),
            "{shown}"
        );
    }

    #[test]
    fn limits_and_timeouts_come_from_env() {
        let c = cfg(&[
            ("TINYFC_MAX_BODY_BYTES", "10"),
            ("TINYFC_DRAIN_MS", "250"),
            ("TINYFC_BODY_TIMEOUT_MS", "1500"),
            ("TINYFC_WRITE_TIMEOUT_MS", "2500"),
        ])
        .unwrap();
        assert_eq!(c.max_body_bytes, 10);
        assert_eq!(c.drain, Duration::from_millis(250));
        assert_eq!(c.body_timeout, Duration::from_millis(1500));
        assert_eq!(c.write_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn health_path_is_a_path_or_none() {
        assert_eq!(cfg(&[]).unwrap().health_path, None);
        let c = cfg(&[("TINYFC_HEALTH_PATH", "/healthz")]).unwrap();
        assert_eq!(c.health_path.as_deref(), Some("/healthz"));
        assert!(cfg(&[("TINYFC_HEALTH_PATH", "healthz")]).is_err());
    }

    #[test]
    fn body_budget_is_the_override_else_half_the_functions_memory() {
        assert_eq!(cfg(&[]).unwrap().body_budget, None);
        let half = cfg(&[("FC_FUNCTION_MEMORY_SIZE", "128")]).unwrap();
        assert_eq!(half.body_budget, Some(64 << 20));
        let both = [
            ("FC_FUNCTION_MEMORY_SIZE", "128"),
            ("TINYFC_BODY_BUDGET_BYTES", "1000"),
        ];
        assert_eq!(cfg(&both).unwrap().body_budget, Some(1000));
        let off = [("TINYFC_BODY_BUDGET_BYTES", "0")];
        assert_eq!(cfg(&off).unwrap().body_budget, Some(0), "off, not unknown");
    }

    #[test]
    fn idle_connections_are_kept_unless_an_idle_timeout_is_set() {
        assert_eq!(cfg(&[]).unwrap().idle_timeout, None);
        assert_eq!(
            cfg(&[("TINYFC_IDLE_TIMEOUT_MS", "0")])
                .unwrap()
                .idle_timeout,
            None
        );
        assert_eq!(
            cfg(&[("TINYFC_IDLE_TIMEOUT_MS", "500")])
                .unwrap()
                .idle_timeout,
            Some(Duration::from_millis(500))
        );
    }
}
