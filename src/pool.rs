//! Threads, bounded and started on demand. [`Workers`] counts the threads that wait on the
//! poller and serve connections (`server.rs` runs them) and lists them, so the main thread can see
//! whether one is asleep in a call; [`Pool`] is a job queue with its own threads (the control
//! thread). Idle threads retire after a while (all but one), so the thread count follows the load.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::lock;
use crate::ranked::{Rank, Ranked};

/// The worker threads' count, bound and list; what they run is `server.rs`'s.
pub(crate) struct Workers {
    started: AtomicUsize,
    max: usize,
    /// A worker idle this long exits, unless it is the last one.
    pub(crate) idle_exit: Duration,
    /// The running workers, each listed by its [`Enlisted`] for its life.
    listed: Ranked<Vec<Arc<WorkerEntry>>>,
}

/// What a look at the workers in a call found ([`Workers::look`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Look {
    /// One is asleep in the call it was asleep in at the last look.
    Blocked,
    /// One is asleep in a call, none yet at two looks.
    Asleep,
    /// None is asleep in a call.
    Running,
}

/// A worker as the main thread sees it: whether it is in a call, and its thread's scheduler
/// state.
pub(crate) struct WorkerEntry {
    /// Bumped when the worker starts a call and when it ends one (see `server.rs`): odd while
    /// in a call, and a different value for each call.
    pub(crate) calls: AtomicU32,
    /// The main thread's: the value of `calls` when it last found the worker asleep.
    asleep_in: AtomicU32,
    /// The thread's stat file in /proc (None without /proc: such a worker is never seen
    /// asleep). A started worker opens its /proc/thread-self/stat when it is listed; for the
    /// process's first thread the main thread opens /proc/self/stat (the first thread's) when it
    /// first looks, so that no open comes before the platform's first calls.
    stat: Mutex<Option<File>>,
    /// The process's first thread.
    first: bool,
}

impl WorkerEntry {
    /// True if the thread sleeps (state S or D in /proc: it waits on I/O, a lock, a timer), as
    /// opposed to running or waiting for a CPU (R).
    fn asleep(&self) -> bool {
        matches!(self.state(), Some(b'S' | b'D'))
    }

    /// True if the thread runs or waits for a CPU (state R in /proc).
    fn runnable(&self) -> bool {
        self.state() == Some(b'R')
    }

    /// The thread's state letter in /proc (None if it cannot be read).
    fn state(&self) -> Option<u8> {
        // "TID (NAME) STATE ...": the state follows the last ')' (a name may hold one), and the
        // name is at most 15 bytes, so the first 64 bytes hold it.
        let mut head = [0u8; 64];
        let mut stat = lock(&self.stat);
        if stat.is_none() && self.first {
            *stat = File::open("/proc/self/stat").ok();
        }
        let n = stat.as_ref()?.read_at(&mut head, 0).ok()?;
        let head = head.get(..n)?;
        let at = head.iter().rposition(|&b| b == b')')?;
        head.get(at + 2).copied()
    }
}

/// A worker's place in [`Workers`]' list, held for the worker's life: dropped (however the
/// thread ends), it takes the worker off the list.
pub(crate) struct Enlisted<'a> {
    workers: &'a Workers,
    /// What the main thread reads.
    pub(crate) entry: Arc<WorkerEntry>,
}

impl Drop for Enlisted<'_> {
    fn drop(&mut self) {
        let mut listed = self.workers.listed.lock();
        if let Some(i) = listed.iter().position(|e| Arc::ptr_eq(e, &self.entry)) {
            listed.swap_remove(i);
        }
    }
}

impl Workers {
    pub(crate) fn new(max: usize, idle_exit: Duration) -> Workers {
        Workers {
            started: AtomicUsize::new(0),
            max: max.max(1),
            idle_exit,
            listed: Ranked::new(Rank::Workers, Vec::new()),
        }
    }

    /// Lists the calling thread (`first`: the process's first thread) for as long as the result
    /// lives.
    #[cold]
    pub(crate) fn enlist(&self, first: bool) -> Enlisted<'_> {
        let stat = if first {
            None
        } else {
            File::open("/proc/thread-self/stat").ok()
        };
        let entry = Arc::new(WorkerEntry {
            calls: AtomicU32::new(0),
            asleep_in: AtomicU32::new(0),
            stat: Mutex::new(stat),
            first,
        });
        self.listed.lock().push(entry.clone());
        Enlisted {
            workers: self,
            entry,
        }
    }

    /// What the workers in a call are doing, at this look: one is blocked in its call (asleep in
    /// it now, and when the main thread last looked, a tick before at the earliest), one is
    /// asleep in it for the first time, or all run. A blocked one waits on something other than
    /// a CPU, so another thread would get work done meanwhile; a short wait (a lock held by a
    /// preempted thread) is rarely seen twice.
    pub(crate) fn look(&self) -> Look {
        let listed = self.listed.lock();
        let mut look = Look::Running;
        for w in listed.iter() {
            let calls = w.calls.load(Ordering::Relaxed);
            if calls % 2 == 0 || !w.asleep() {
                continue;
            }
            if w.asleep_in.swap(calls, Ordering::Relaxed) == calls {
                return Look::Blocked;
            }
            look = Look::Asleep;
        }
        look
    }

    /// True if a worker runs or waits for a CPU (/proc's state R).
    pub(crate) fn any_runnable(&self) -> bool {
        self.listed.lock().iter().any(|w| w.runnable())
    }

    /// Workers running (or starting).
    pub(crate) fn count(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// True once `max` workers run.
    pub(crate) fn at_max(&self) -> bool {
        self.started.load(Ordering::SeqCst) >= self.max
    }

    /// Starts one more worker running `run`, if the bound allows; false if none started.
    pub(crate) fn start(&self, run: impl FnOnce() + Send + 'static) -> bool {
        if self
            .started
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_err()
        {
            return false;
        }
        match crate::signals::spawn("tinyfc-worker", run) {
            Ok(()) => true,
            Err(e) => {
                self.started.fetch_sub(1, Ordering::SeqCst);
                log::error!("cannot start a worker thread: {e}");
                false
            }
        }
    }

    /// Counts the calling thread as a worker (the first one, which is not started here).
    pub(crate) fn adopt(&self) {
        self.started.fetch_add(1, Ordering::SeqCst);
    }

    /// For a worker that found no work for `idle_exit`: true if it should exit (it is not the
    /// last one, and it is now uncounted).
    pub(crate) fn retire(&self) -> bool {
        self.started
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n > 1).then_some(n - 1)
            })
            .is_ok()
    }
}

/// The CPUs the process may use: its affinity, lowered to its cgroup's CPU quota rounded up (FC
/// gives an instance a fraction of a CPU that way). std's `available_parallelism` reads the same
/// but added 12 KB to the binary (this: 4 KB) and, in some runs, 8-13% to the first answer; this
/// reads the one cgroup the process is in, v2 or v1.
pub(crate) fn usable_cpus() -> usize {
    let cpus = crate::sys::affinity_cpus();
    quota_cpus().map_or(cpus, |q| q.clamp(1, cpus))
}

/// The CPU quota of the process's cgroup, in CPUs rounded up; None without one.
fn quota_cpus() -> Option<usize> {
    // 2 KiB holds /proc/self/cgroup under cgroup v2 (one line) and v1 (a dozen); a longer one is
    // cut there. Not more: a 4 KiB buffer cost the main thread a stack page (RssAnon +4 kB).
    let mut groups = [0u8; 2048];
    let groups = read_small("/proc/self/cgroup", &mut groups)?;
    groups.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let mut buf = [0u8; 64];
        let (quota, period) = if controllers.is_empty() {
            // v2: "max 100000" or "50000 100000".
            let max = read_small(&format!("/sys/fs/cgroup{path}/cpu.max"), &mut buf)?;
            let mut words = max.split_whitespace();
            (number(words.next()?)?, number(words.next()?)?)
        } else if controllers.split(',').any(|c| c == "cpu") {
            let dir = format!("/sys/fs/cgroup/{controllers}{path}");
            let quota = number(read_small(&format!("{dir}/cpu.cfs_quota_us"), &mut buf)?)?;
            let period = number(read_small(&format!("{dir}/cpu.cfs_period_us"), &mut buf)?)?;
            (quota, period)
        } else {
            return None;
        };
        (period > 0).then(|| quota.div_ceil(period) as usize)
    })
}

/// A whole number; None for "max" (v2) or -1 (v1): no quota.
fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// The text of a small file (what fits `buf`): /proc and cgroup files, read without
/// `read_to_string`'s growing buffer (1.4 KB of code in every function).
fn read_small<'b>(path: &str, buf: &'b mut [u8]) -> Option<&'b str> {
    use std::io::Read;
    let mut file = File::open(path).ok()?;
    let mut len = 0;
    while let Some(rest) = buf.get_mut(len..).filter(|r| !r.is_empty()) {
        match file.read(rest) {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
    }
    std::str::from_utf8(buf.get(..len)?).ok()
}

/// The work a job is handed to.
type Work<J> = dyn Fn(J) + Send + Sync;

struct Queue<J> {
    jobs: VecDeque<J>,
    /// Workers waiting for a job.
    idle: usize,
    /// Workers started so far.
    started: usize,
    /// Closed ([`Pool::close`]): idle workers exit.
    closed: bool,
}

/// A pool of at most `max` threads running `work` on each submitted job.
pub(crate) struct Pool<J> {
    queue: Mutex<Queue<J>>,
    wake: Condvar,
    /// Notified when a job ends: see [`Pool::wait_settled`].
    settled: Condvar,
    max: usize,
    /// A worker idle this long exits, unless it is the last one.
    idle_exit: Duration,
    name: &'static str,
    work: Box<Work<J>>,
}

impl<J: Send + 'static> Pool<J> {
    pub(crate) fn new(
        name: &'static str,
        max: usize,
        idle_exit: Duration,
        work: impl Fn(J) + Send + Sync + 'static,
    ) -> Arc<Pool<J>> {
        Arc::new(Pool {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                idle: 0,
                started: 0,
                closed: false,
            }),
            wake: Condvar::new(),
            settled: Condvar::new(),
            max,
            idle_exit,
            name,
            work: Box::new(work),
        })
    }

    /// Queues a job; starts a worker if none is free and the bound allows.
    pub(crate) fn submit(self: &Arc<Self>, job: J) {
        let mut q = lock(&self.queue);
        q.jobs.push_back(job);
        if q.jobs.len() > q.idle {
            self.start_worker(&mut q);
        }
        drop(q);
        self.wake.notify_one();
    }

    #[cold]
    #[inline(never)]
    fn start_worker(self: &Arc<Self>, q: &mut Queue<J>) {
        if q.started >= self.max {
            return;
        }
        let pool = self.clone();
        match crate::signals::spawn(self.name, move || pool.worker()) {
            // Counted idle until it first takes the lock: a job submitted while it is still
            // starting waits for it rather than starting yet another thread.
            Ok(()) => {
                q.started += 1;
                q.idle += 1;
            }
            // Out of threads: the queued job waits for a running worker.
            Err(e) => log::error!("cannot start a {} thread: {e}", self.name),
        }
    }

    /// Waits up to `timeout` until no job is queued or running; false if some still are.
    pub(crate) fn wait_settled(&self, timeout: Duration) -> bool {
        let q = lock(&self.queue);
        let busy = |q: &mut Queue<J>| !q.jobs.is_empty() || q.idle < q.started;
        let (q, _) = self
            .settled
            .wait_timeout_while(q, timeout, busy)
            .unwrap_or_else(|e| e.into_inner());
        q.jobs.is_empty() && q.idle >= q.started
    }

    /// Closes the pool (a test server's, when it is dropped): every worker exits once no job is
    /// left.
    pub(crate) fn close(&self) {
        lock(&self.queue).closed = true;
        self.wake.notify_all();
    }

    fn worker(&self) {
        let mut q = lock(&self.queue);
        q.idle -= 1; // counted idle since it was started
        loop {
            if let Some(job) = q.jobs.pop_front() {
                drop(q);
                // The work catches user panics itself; this keeps a bug of ours from killing a worker.
                if catch_unwind(AssertUnwindSafe(|| (self.work)(job))).is_err() {
                    log::error!("a {} thread recovered from a panic", self.name);
                }
                q = lock(&self.queue);
                self.settled.notify_all();
            } else if q.closed {
                q.started -= 1;
                return;
            } else {
                q.idle += 1;
                let (guard, waited) = self
                    .wake
                    .wait_timeout(q, self.idle_exit)
                    .unwrap_or_else(|e| e.into_inner());
                q = guard;
                q.idle -= 1;
                if waited.timed_out() && q.jobs.is_empty() && q.started > 1 {
                    q.started -= 1;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::thread;

    #[test]
    fn never_starts_more_than_max_threads() {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let pool = Pool::new("t", 2, Duration::from_secs(60), move |n: u32| {
            thread::sleep(Duration::from_millis(20));
            tx.lock().unwrap().send(n).unwrap();
        });
        for n in 0..6 {
            pool.submit(n);
        }
        let mut got: Vec<u32> = (0..6).map(|_| rx.recv().unwrap()).collect();
        got.sort();
        assert_eq!(got, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(pool.queue.lock().unwrap().started, 2);
    }

    #[test]
    fn idle_workers_retire_down_to_one() {
        let pool = Pool::new("t", 4, Duration::from_millis(50), |_: u32| {
            thread::sleep(Duration::from_millis(20))
        });
        for n in 0..4 {
            pool.submit(n);
        }
        thread::sleep(Duration::from_millis(10));
        assert_eq!(pool.queue.lock().unwrap().started, 4);
        thread::sleep(Duration::from_millis(400));
        assert_eq!(pool.queue.lock().unwrap().started, 1);
    }
}
