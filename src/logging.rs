//! Logging: `log` + `simple_logger` on stdout (level from `RUST_LOG`, default `info`), each line
//! written during a call carrying that call's request id, and the platform's `FC ... RequestId:` lines.
//!
//! tinyfc never logs request header values, so the credential headers cannot reach a log.

use std::cell::RefCell;
use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};
use simple_logger::SimpleLogger;

thread_local! {
    /// The request id of the call this thread is serving, if any.
    static REQUEST_ID: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Wraps simple_logger to put a UTC timestamp in front of each line and the current request id in
/// front of each message.
struct FcLogger {
    inner: SimpleLogger,
}

impl Log for FcLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if !self.inner.enabled(record.metadata()) || STDOUT_GONE.load(Ordering::Relaxed) {
            return;
        }
        // simple_logger prints with `println!`, which panics once stdout is gone (a pipe whose
        // reader exited): a log line must not take its thread down (the drain thread's would
        // keep the process from exiting), so the panic is caught and logging stops.
        if catch_unwind(AssertUnwindSafe(|| self.log_line(record))).is_err() {
            STDOUT_GONE.store(true, Ordering::Relaxed);
        }
    }

    fn flush(&self) {
        let _ = std::io::stdout().flush();
    }
}

/// Set once a log line could not be written: stdout is gone.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

impl FcLogger {
    fn log_line(&self, record: &Record) {
        // The timestamp goes first, in the same locked stdout buffer as simple_logger's line (the
        // lock is reentrant), so the line is still written whole by one write(2).
        let mut out = std::io::stdout().lock();
        let _ = write_utc_timestamp(&mut out, SystemTime::now());
        REQUEST_ID.with(|id| {
            let id = id.borrow();
            if id.is_empty() {
                self.inner.log(record);
            } else {
                let args = format_args!("{} {}", id, record.args());
                let record = Record::builder()
                    .args(args)
                    .metadata(record.metadata().clone())
                    .module_path(record.module_path())
                    .file(record.file())
                    .line(record.line())
                    .build();
                self.inner.log(&record);
            }
        });
    }
}

/// Installs the logger once; later calls (or a logger the user installed first) are left alone.
pub(crate) fn init() {
    let inner = SimpleLogger::new().with_level(LevelFilter::Info).env();
    let level = inner.max_level();
    if log::set_boxed_logger(Box::new(FcLogger { inner })).is_ok() {
        log::set_max_level(level);
    }
}

/// Marks this thread as serving `request_id` until the guard drops.
pub(crate) fn scope(request_id: &str) -> Scope {
    REQUEST_ID.with(|id| {
        let mut id = id.borrow_mut();
        id.clear();
        id.push_str(request_id);
    });
    Scope
}

/// Clears the thread's request id on drop.
pub(crate) struct Scope;

impl Drop for Scope {
    fn drop(&mut self) {
        REQUEST_ID.with(|id| id.borrow_mut().clear());
    }
}

/// Where one server's platform lines go: stdout, or nowhere for a `tinyfc::testing::TestServer`
/// (they would go around the test runner's output capture, into every test's output). A value
/// each server holds, not a process-wide switch: a test server does not silence a served
/// function in the same process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlatformLines {
    quiet: bool,
}

impl PlatformLines {
    /// A served function's: on stdout.
    pub(crate) const PRINTED: PlatformLines = PlatformLines { quiet: false };
    /// A test server's: none.
    pub(crate) const QUIET: PlatformLines = PlatformLines { quiet: true };

    /// Writes one platform line, e.g. `FC Invoke Start RequestId: 1-abc`, whatever the log
    /// level. A closed stdout is ignored rather than panicking.
    #[inline] // at a call site the event is known: its text is copied inline, not by memcpy
    pub(crate) fn write(self, event: FcEvent, request_id: &str) {
        if !self.quiet {
            write_fc_line(&mut RawStdout, event, request_id);
        }
    }
}

/// The events FC's platform lines mark, each with its line's text up to the request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FcEvent {
    InitializeStart,
    InitializeEnd,
    InvokeStart,
    InvokeEnd,
    PreStopStart,
    PreStopEnd,
    PreFreezeStart,
    PreFreezeEnd,
}

impl FcEvent {
    /// The line's text before the request id, whole: one copy per line on the invocation path.
    #[inline]
    fn prefix(self) -> &'static str {
        match self {
            FcEvent::InitializeStart => "FC Initialize Start RequestId: ",
            FcEvent::InitializeEnd => "FC Initialize End RequestId: ",
            FcEvent::InvokeStart => "FC Invoke Start RequestId: ",
            FcEvent::InvokeEnd => "FC Invoke End RequestId: ",
            FcEvent::PreStopStart => "FC PreStop Start RequestId: ",
            FcEvent::PreStopEnd => "FC PreStop End RequestId: ",
            FcEvent::PreFreezeStart => "FC PreFreeze Start RequestId: ",
            FcEvent::PreFreezeEnd => "FC PreFreeze End RequestId: ",
        }
    }
}

/// Descriptor 1 without std's stdout lock. A whole line goes out in one write(2), which the
/// kernel does not interleave with other writes; taking std's lock around it made every worker
/// queue behind another's system call, twice per invocation (measured: about 2 futex calls per
/// request at 16 connections). Log lines still go through std's line-buffered, locked stdout and
/// are flushed line by line, so lines stay whole and in order.
///
/// It writes to descriptor 1 itself (`sys::write_stdout`), not through a handle from std's
/// `io::stdout()`: that call allocates std's 1 KiB line buffer, and musl's allocator a page for
/// it, in every instance whose function logs nothing (RssAnon +4 kB at the first answer).
struct RawStdout;

/// Prints `tinyfc listening on 0.0.0.0:<port>` in one write(2), like the FC lines: std's stdout
/// buffer, lock and formatting code stay off the start-up path.
pub(crate) fn listening_line(port: u16) {
    write_listening_line(&mut RawStdout, port);
}

fn write_listening_line(out: &mut impl Write, port: u16) {
    let mut line = b"tinyfc listening on 0.0.0.0:".to_vec();
    crate::answer::push_decimal(&mut line, port.into());
    line.push(b'\n');
    let _ = out.write_all(&line);
}

impl Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        crate::sys::write_stdout(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[inline]
fn write_fc_line(out: &mut impl Write, event: FcEvent, request_id: &str) {
    // Assembled here and written whole: one write(2) per line, without the formatting machinery
    // or an allocation (these lines are on every invocation's path).
    let (prefix, id) = (event.prefix().as_bytes(), request_id.as_bytes());
    let mut line = [0u8; 160];
    let len = prefix.len() + id.len() + 1;
    let Some(room) = line.get_mut(..len) else {
        // An unusually long request id: the slow path.
        let _ = writeln!(out, "{}{request_id}", event.prefix());
        return;
    };
    let (p, rest) = room.split_at_mut(prefix.len());
    p.copy_from_slice(prefix);
    rest[..id.len()].copy_from_slice(id);
    rest[id.len()] = b'\n';
    let _ = out.write_all(room);
}

/// Writes `t` as `2026-11-25T02:12:36.637Z ` (UTC, milliseconds), the format simple_logger's
/// `timestamps` feature prints; done here because that feature pulls in the `time` crate, which
/// cost about 36 kB of resident memory at start-up (measured, README "Benchmarks").
fn write_utc_timestamp(out: &mut impl Write, t: SystemTime) -> io::Result<()> {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z ",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stamp(secs: u64, millis: u64) -> String {
        let mut out = Vec::new();
        let t = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis);
        write_utc_timestamp(&mut out, t).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fc_lines_are_whole_lines_for_short_and_long_request_ids() {
        let mut out = Vec::new();
        write_fc_line(&mut out, FcEvent::InvokeStart, "1-abc");
        let long = "r".repeat(300);
        write_fc_line(&mut out, FcEvent::InvokeEnd, &long);
        write_fc_line(&mut out, FcEvent::PreStopEnd, "");
        let expected = format!(
            "FC Invoke Start RequestId: 1-abc\nFC Invoke End RequestId: {long}\nFC PreStop End RequestId: \n"
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn the_listening_line_prints_every_port_in_full() {
        for port in [0, 7, 10, 99, 100, 9000, 10000, 65535] {
            let mut out = Vec::new();
            write_listening_line(&mut out, port);
            let expected = format!("tinyfc listening on 0.0.0.0:{port}\n");
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn timestamps_match_simple_loggers_utc_format() {
        assert_eq!(stamp(0, 0), "1970-01-01T00:00:00.000Z ");
        // 2000-02-29 (a leap day in a century leap year), 2100-03-01 (after a non-leap Feb 28).
        assert_eq!(stamp(951_782_400 + 3_723, 45), "2000-02-29T01:02:03.045Z ");
        assert_eq!(stamp(4_107_542_400, 999), "2100-03-01T00:00:00.999Z ");
        assert_eq!(stamp(1_795_579_796, 552), "2026-11-25T04:09:56.552Z ");
    }
}
