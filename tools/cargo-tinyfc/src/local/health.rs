//! FC's health checks (`customRuntimeConfig.healthCheckConfig`): once an instance is initialized,
//! after `initialDelaySeconds`, a GET of `httpGetUrl` every `periodSeconds`, each within
//! `timeoutSeconds`; an answer 200 to 399 passes. `successThreshold` passes in a row make the
//! instance healthy (said once); `failureThreshold` failures in a row take it out of service: it is
//! killed and a new one started, whose checks begin again. Defaults are FC's (0, 3, 1, 3, 1).
//! At most `--max-restarts` such restarts follow one another with no instance found healthy in
//! between, as for the initializer's restarts; past that the platform gives up: the instance is
//! killed, none started, and the run ends with exit 1.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::platform::Platform;
use crate::say;
use crate::syaml::HealthCheckConfig;

/// The checks' schedule and thresholds, with FC's defaults.
struct Schedule {
    path: String,
    initial_delay: Duration,
    period: Duration,
    timeout: Duration,
    failures: u32,
    successes: u32,
}

impl Schedule {
    /// None without an `httpGetUrl`: nothing to check.
    fn of(c: &HealthCheckConfig) -> Option<Schedule> {
        let secs = |v: Option<u32>, default: u32| Duration::from_secs(v.unwrap_or(default).into());
        Some(Schedule {
            path: c.http_get_url.clone().filter(|p| !p.is_empty())?,
            initial_delay: secs(c.initial_delay_seconds, 0),
            period: secs(c.period_seconds, 3).max(Duration::from_secs(1)),
            timeout: secs(c.timeout_seconds, 1).max(Duration::from_secs(1)),
            failures: c.failure_threshold.unwrap_or(3).max(1),
            successes: c.success_threshold.unwrap_or(1).max(1),
        })
    }
}

/// Starts checking `platform`'s instances, if s.yaml configures health checks.
pub fn start(platform: Arc<Platform>) {
    let Some(schedule) = platform.opts.health_check.as_ref().and_then(Schedule::of) else {
        return;
    };
    std::thread::spawn(move || {
        // Restarts for failed checks since an instance was last found healthy.
        let mut restarts = 0;
        while !platform.stopping() && platform.gave_up().is_none() {
            match platform.ready() {
                Some((id, addr)) => check_instance(&platform, &schedule, &id, addr, &mut restarts),
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    });
}

/// Checks the instance `id` at `addr` until it is replaced, fails its checks, or the platform
/// stops. `restarts`: those for failed checks since an instance was found healthy (reset when
/// this one is); past --max-restarts the platform gives up instead of restarting.
fn check_instance(
    platform: &Platform,
    s: &Schedule,
    id: &str,
    addr: SocketAddr,
    restarts: &mut u32,
) {
    let current = || platform.ready().is_some_and(|(now, _)| now == id);
    if !sleep_while(s.initial_delay, current) {
        return;
    }
    let (mut failed, mut passed, mut healthy) = (0, 0, false);
    loop {
        let started = Instant::now();
        match check(addr, &s.path, s.timeout) {
            Ok(status) => {
                failed = 0;
                passed += 1;
                if !healthy && passed >= s.successes {
                    healthy = true;
                    *restarts = 0;
                    say!(
                        "health check: instance {id} healthy (GET {} -> {status})",
                        s.path
                    );
                }
            }
            Err(why) => {
                if !current() {
                    return; // replaced or stopping meanwhile: not this check's failure
                }
                passed = 0;
                failed += 1;
                say!(
                    "health check: instance {id}: GET {} failed ({failed}/{}): {why}",
                    s.path,
                    s.failures
                );
                if failed >= s.failures {
                    let why = format!("{failed} health checks failed in a row (failureThreshold)");
                    let max = platform.opts.max_restarts;
                    if *restarts >= max {
                        let why = format!(
                            "{why}, after {restarts} restarts for failed health checks \
                             (--max-restarts {max})"
                        );
                        platform.give_up(addr, &why);
                    } else {
                        *restarts += 1;
                        let why = format!("{why}, restart {restarts}/{max} (--max-restarts)");
                        platform.replace_instance(addr, &why);
                    }
                    return;
                }
            }
        }
        if !sleep_while(s.period.saturating_sub(started.elapsed()), current) {
            return;
        }
    }
}

/// One check: the status when it passes, why not otherwise.
fn check(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16, String> {
    match tinyfc::client::request(addr, "GET", path, &[], b"", timeout) {
        Ok(r) if (200..400).contains(&r.status) => Ok(r.status),
        Ok(r) => Err(format!("answered {}", r.status)),
        Err(e) if super::calls::is_timeout(&e) => {
            Err(format!("no answer within {} s", timeout.as_secs()))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Sleeps `d` in short steps while `go_on` holds; false if it stopped holding.
fn sleep_while(d: Duration, go_on: impl Fn() -> bool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if !go_on() {
            return false;
        }
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
    }
    go_on()
}
