//! Asynchronous invocations (`x-fc-invocation-type: Async`): FC answers 202 at once and runs the
//! event later. Here a bounded queue feeds a fixed number of threads, so a burst of them never
//! starts a thread each; past the queue's capacity the caller gets 429, as FC throttles.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
    /// Counts as activity (for --idle-stop) until it has run.
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

/// Sends one asynchronous invocation and logs its outcome (the caller has its 202 already).
fn run(platform: &Arc<Platform>, job: Job) {
    let started = Instant::now();
    let rid = &job.rid;
    let _permit = platform.gate.enter_queued();
    let answer = platform.invoke(rid, Kind::Event, "POST", "/invoke", &job.headers, &job.body);
    let outcome = match answer {
        Ok(r) if r.header("x-fc-status") == Some("200") => format!("-> {}", r.status),
        Ok(r) => format!(
            "-> {} UnhandledInvocationError: {}",
            r.status,
            error_message(&r)
        ),
        Err(e) => format!("failed: {e}"),
    };
    say!(
        "async invoke RequestId {rid}: {outcome} in {} ms",
        super::ms(started.elapsed())
    );
    drop(job.busy);
}
