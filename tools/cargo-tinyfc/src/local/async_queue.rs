//! Asynchronous invocations (`x-fc-invocation-type: Async`): FC answers 202 at once and runs the
//! event later. Here a bounded queue feeds a fixed number of threads, so a burst of them never
//! starts a thread each; past the queue's capacity the caller gets 429, as FC throttles.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::activity::Busy;
use super::platform::{error_message, Kind, Platform};
use crate::say;

/// Asynchronous invocations that run at once (as many as the front door's synchronous ones).
pub const WORKERS: usize = 16;
/// Asynchronous invocations that may wait for a thread; each holds an event of at most 128 KB.
pub const CAPACITY: usize = 256;

/// One accepted asynchronous invocation.
pub struct Job {
    /// Its request id (already given to the caller).
    pub rid: String,
    /// The headers to send with the event.
    pub headers: Vec<(String, String)>,
    /// The event.
    pub body: Vec<u8>,
    /// When the caller got its 202 (the event's age counts from it).
    pub accepted: Instant,
    /// Counts as activity (for --idle-stop) until it has run: held, never read.
    #[allow(dead_code)]
    pub busy: Busy,
}

/// The queue and its threads.
pub struct AsyncQueue {
    /// Where the front door puts accepted invocations.
    jobs: SyncSender<Job>,
}

impl AsyncQueue {
    /// Starts the threads that run `platform`'s asynchronous invocations.
    pub fn start(platform: Arc<Platform>) -> AsyncQueue {
        let (jobs, queue) = sync_channel::<Job>(CAPACITY);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..WORKERS {
            let (platform, queue) = (platform.clone(), queue.clone());
            std::thread::spawn(move || {
                while let Some(job) = next(&queue) {
                    // A panic fails this invocation only; the thread keeps serving the queue.
                    let rid = job.rid.clone();
                    if std::panic::catch_unwind(AssertUnwindSafe(|| run(&platform, job))).is_err() {
                        say!("async invoke RequestId {rid}: failed: the local platform panicked");
                    }
                }
            });
        }
        AsyncQueue { jobs }
    }

    /// Queues `job`; Err (why) when the queue is full.
    pub fn push(&self, job: Job) -> Result<(), String> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => {
                format!("{CAPACITY} asynchronous invocations are waiting already")
            }
            TrySendError::Disconnected(_) => "no thread runs asynchronous invocations".into(),
        })
    }
}

/// The next job, or None once the queue is gone.
fn next(queue: &Mutex<Receiver<Job>>) -> Option<Job> {
    let queue = queue.lock().unwrap_or_else(|e| e.into_inner());
    queue.recv().ok()
}

/// How long before retry `attempt` (1, 2, ...): FC backs off exponentially over minutes; locally
/// 100 ms doubling to at most 2 s, so a retried event is seen within seconds.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64 << attempt.min(5)).min(Duration::from_secs(2))
}

/// Runs one asynchronous invocation as FC does (the caller has its 202 already): a failed attempt
/// (an error answer, a crash, a timeout) is retried up to `maxAsyncRetryAttempts` times while the
/// event is younger than `maxAsyncEventAgeInSeconds`, each attempt logged; then what FC would send
/// to the onSuccess or onFailure destination is logged.
fn run(platform: &Arc<Platform>, job: Job) {
    let config = &platform.opts.asynchronous;
    let rid = &job.rid;
    let attempts = config.max_retries + 1;
    let mut attempt = 0;
    loop {
        attempt += 1;
        if platform.stopping() {
            say!("async invoke RequestId {rid}: dropped, the platform is stopping");
            return;
        }
        let started = Instant::now();
        let mut headers = job.headers.clone();
        if attempt > 1 {
            headers.push(("x-fc-retry-count".into(), (attempt - 1).to_string()));
        }
        let answer = {
            let _permit = platform.gate.enter_queued();
            platform.invoke(rid, Kind::Event, "POST", "/invoke", &headers, &job.body)
        };
        let (failure, status, body) = match answer {
            Ok(r) if r.header("x-fc-status") != Some("404") => (None, r.status, r.text()),
            Ok(r) => (
                Some(format!("UnhandledInvocationError: {}", error_message(&r))),
                r.status,
                r.text(),
            ),
            Err(e) => (Some(e.to_string()), 502, String::new()),
        };
        let took = super::ms(started.elapsed());
        let Some(why) = failure else {
            say!("async invoke RequestId {rid}: attempt {attempt}/{attempts} -> {status} in {took} ms");
            destination(
                config.on_success.as_deref(),
                "onSuccess",
                rid,
                attempt,
                &job,
                status,
                &body,
                None,
            );
            return;
        };
        say!(
            "async invoke RequestId {rid}: attempt {attempt}/{attempts} failed in {took} ms: {why}"
        );
        let age = job.accepted.elapsed();
        if attempt < attempts && age + backoff(attempt) < config.max_age {
            let wait = backoff(attempt);
            say!(
                "async invoke RequestId {rid}: retrying in {} ms",
                wait.as_millis()
            );
            std::thread::sleep(wait);
            continue;
        }
        let reason = if attempt < attempts {
            format!(
                "the event is older than maxAsyncEventAgeInSeconds ({} s)",
                config.max_age.as_secs()
            )
        } else {
            format!(
                "{attempt} attempts (maxAsyncRetryAttempts {})",
                config.max_retries
            )
        };
        say!("async invoke RequestId {rid}: failed for good after {reason}");
        destination(
            config.on_failure.as_deref(),
            "onFailure",
            rid,
            attempt,
            &job,
            status,
            &body,
            Some(&why),
        );
        return;
    }
}

/// Logs what FC would send to a destination (the record FC's asynchronous invocation docs
/// describe: request context, payload, response), or nothing when none is configured.
#[allow(clippy::too_many_arguments)]
fn destination(
    arn: Option<&str>,
    which: &str,
    rid: &str,
    attempts: u32,
    job: &Job,
    status: u16,
    response: &str,
    error: Option<&str>,
) {
    let Some(arn) = arn else { return };
    let record = serde_json::json!({
        "requestContext": {
            "requestId": rid,
            "condition": if error.is_some() { "ErrorFunctionUnhandled" } else { "Success" },
            "approximateInvokeCount": attempts,
        },
        "requestPayload": String::from_utf8_lossy(&job.body),
        "responseContext": { "statusCode": status, "functionError": error },
        "responsePayload": response,
    });
    say!("async invoke RequestId {rid}: FC would send to {which} {arn}: {record}");
}
