//! The report line FC's log shows after each invocation:
//! `Duration: 2.37 ms, Billed Duration: 3 ms, Memory Size: 512 MB, Max Memory Used: 9.41 MB`.
//!
//! Duration is the platform's view of the call (request written to answer read). FC 3.0 bills
//! execution time per millisecond, so Billed Duration is Duration rounded up to a whole ms (at
//! least 1). Max Memory Used is the instance process's peak resident set (`VmHWM` in
//! /proc/PID/status), the whole process's peak so far, as FC measures an instance rather than one
//! request; a wrapper script's children are not counted.

use std::time::Duration;

use super::options::Options;
use crate::say;

/// Prints the report line of invocation `rid` that took `took` on the instance `pid`.
pub fn say(rid: &str, took: Duration, opts: &Options, pid: Option<u32>) {
    let used = match pid.and_then(peak_rss_kb) {
        Some(kb) => format!("{:.2} MB", kb as f64 / 1024.0),
        None => "unknown".into(),
    };
    say!(
        "report RequestId: {rid} Duration: {} ms, Billed Duration: {} ms, Memory Size: {} MB, \
         Max Memory Used: {used}",
        super::ms(took),
        billed_ms(took),
        opts.memory_mb
    );
}

/// Whole milliseconds, rounded up, at least 1.
fn billed_ms(took: Duration) -> u128 {
    took.as_nanos().div_ceil(1_000_000).max(1)
}

/// `VmHWM` of process `pid`, in kB.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billed_duration_rounds_up_to_whole_milliseconds() {
        assert_eq!(billed_ms(Duration::from_micros(2370)), 3);
        assert_eq!(billed_ms(Duration::from_millis(3)), 3);
        assert_eq!(billed_ms(Duration::from_nanos(1)), 1);
        assert_eq!(billed_ms(Duration::ZERO), 1);
    }

    #[test]
    fn our_own_peak_resident_set_is_read_from_proc() {
        assert!(peak_rss_kb(std::process::id()).is_some_and(|kb| kb > 0));
    }
}
