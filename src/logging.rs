//! Logging: `log` + `simple_logger` on stdout (level from `RUST_LOG`, default `info`), each line
//! written during a call carrying that call's request id, and the platform's `FC ... RequestId:` lines.
//!
//! tinyfc never logs request header values, so the credential headers cannot reach a log.

use std::cell::RefCell;
use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record};
use simple_logger::SimpleLogger;

thread_local! {
    /// The request id of the call this thread is serving, if any.
    static REQUEST_ID: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Wraps simple_logger to put the current request id in front of each message.
struct FcLogger {
    inner: SimpleLogger,
}

impl Log for FcLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if !self.inner.enabled(record.metadata()) {
            return;
        }
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

    fn flush(&self) {
        let _ = std::io::stdout().flush();
    }
}

/// Installs the logger once; later calls (or a logger the user installed first) are left alone.
pub(crate) fn init() {
    let inner = SimpleLogger::new()
        .with_level(LevelFilter::Info)
        .env()
        .with_utc_timestamps();
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

/// Writes one platform line, e.g. `FC Invoke Start RequestId: 1-abc`, whatever the log level.
/// A closed stdout is ignored rather than panicking.
pub(crate) fn fc_line(event: &str, request_id: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "FC {event} RequestId: {request_id}");
}
