//! The instance's log, as FC keeps it: the function's stdout and stderr pass through to ours line
//! by line and the recent lines are kept, so `x-fc-log-type: Tail` can answer an invocation's own
//! lines (from `FC Invoke Start RequestId: ID` to `FC Invoke End RequestId: ID`), as FC's
//! `x-fc-log-result` does: the last 4 KB, base64.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;

/// The most log kept, in bytes: enough for any invocation's last 4 KB.
const KEEP: usize = 1024 * 1024;
/// FC's `x-fc-log-result` holds the invocation's last 4 KB.
pub const TAIL: usize = 4 * 1024;

/// The recent lines of the instances' output.
#[derive(Default)]
pub struct Logs {
    /// (lines, their bytes in all).
    lines: Mutex<(VecDeque<String>, usize)>,
    /// Signalled on every new line.
    grew: Condvar,
}

impl Logs {
    /// Passes `pipe` (an instance's stdout, or its stderr) through to ours, keeping its lines, on
    /// a thread that ends with the pipe.
    pub fn forward(
        self: &Arc<Self>,
        pipe: impl Read + Send + 'static,
        stderr: bool,
    ) -> JoinHandle<()> {
        let logs = self.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let _ = if stderr {
                    std::io::stderr().lock().write_all(&line)
                } else {
                    std::io::stdout().lock().write_all(&line)
                };
                logs.push(String::from_utf8_lossy(&line).into_owned());
                line.clear();
            }
        })
    }

    fn push(&self, line: String) {
        let mut st = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        st.1 += line.len();
        st.0.push_back(line);
        while st.1 > KEEP {
            let Some(old) = st.0.pop_front() else { break };
            st.1 -= old.len();
        }
        drop(st);
        self.grew.notify_all();
    }

    /// Invocation `rid`'s log lines (its `FC Invoke Start` to its `FC Invoke End`), their last
    /// 4 KB in base64, waiting up to `wait` for its end line; None if its lines are not there.
    pub fn tail(&self, rid: &str, wait: Duration) -> Option<String> {
        let (start, end) = (
            format!("FC Invoke Start RequestId: {rid}"),
            format!("FC Invoke End RequestId: {rid}"),
        );
        let until = Instant::now() + wait;
        let mut st = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(last) = st.0.iter().rposition(|l| l.contains(&end)) {
                let first = st.0.iter().take(last).rposition(|l| l.contains(&start))?;
                let text: String = st.0.range(first..=last).map(String::as_str).collect();
                let from = text.len().saturating_sub(TAIL);
                let tail = &text.as_bytes()[from..];
                return Some(base64::engine::general_purpose::STANDARD.encode(tail));
            }
            let left = until.checked_duration_since(Instant::now())?;
            st = self
                .grew
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
