//! SIGTERM and SIGINT, which the main loop turns into a drain (see `main_loop.rs`).

use std::io;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

/// SIGTERM and SIGINT, which the main loop turns into a drain. Their actions are installed by the
/// main loop's thread as it starts, which then lets them through; every other tinyfc thread holds
/// them ([`hold`]), so a handler's blocking calls are never interrupted by one, and the first
/// thread, which serves the platform's first calls, spends nothing on them. The first thread
/// holds them before it starts any other, so one that comes before the actions are installed waits
/// and is not lost (two of a kind that come while held count as one, as the kernel keeps one
/// pending). A thread the function started before `run` does not hold them: one delivered there
/// first takes its default action, as it would before `run`.
pub(crate) struct Signals {
    /// The wake socket's write side, where each action writes a non-zero byte; None: never
    /// install (a server inside a test process keeps the process's own actions).
    tx: Option<Arc<UnixStream>>,
    /// The number of the last signal that came (0: none yet).
    last: Arc<AtomicUsize>,
}

impl Signals {
    /// Signals whose actions will write to `tx`.
    pub(crate) fn new(tx: Arc<UnixStream>) -> Signals {
        Signals {
            tx: Some(tx),
            last: Arc::default(),
        }
    }

    /// Signals whose actions are never installed (a server inside a test process: SIGTERM and
    /// SIGINT keep the process's own actions).
    pub(crate) fn never() -> Signals {
        Signals {
            tx: None,
            last: Arc::default(),
        }
    }

    /// The number of the last signal that came (0: none yet).
    pub(crate) fn last(&self) -> i32 {
        self.last.load(Ordering::SeqCst) as i32
    }

    /// Installs the actions and lets the signals through on the calling thread (the main loop's,
    /// once). One action per signal notes its number (for the exit code of a second one), then
    /// writes a byte to the wake socket. One action, not signal-hook's `flag::register_usize` and
    /// `pipe::register_raw` (two each): signal-hook copies its table of actions at every
    /// registration, and four left musl's allocator a page more in about three starts of four
    /// (RssAnon at the first answer, `make bench`).
    pub(crate) fn install(&self) {
        let Some(tx) = &self.tx else { return };
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            let (last, tx) = (self.last.clone(), tx.clone());
            let action = move || {
                last.store(sig as usize, Ordering::SeqCst);
                let _ = (&*tx).write(&[1]); // a full socket already means "wake up"
            };
            // SAFETY: the action only stores to an atomic and makes one send(2) through std's
            // `UnixStream` (no allocation or lock: an error is an OS code), all async-signal-safe
            // (signal-hook restores errno around it); the action owns its handle on the socket.
            if let Err(e) = unsafe { signal_hook::low_level::register(sig, action) } {
                log::error!("cannot handle signal {sig}: {e}"); // it keeps its default action
            }
        }
        mask_stop_signals(libc::SIG_UNBLOCK);
    }
}

/// Holds SIGTERM and SIGINT on the calling thread (see [`Signals`]).
pub(crate) fn hold() {
    mask_stop_signals(libc::SIG_BLOCK);
}

/// Starts a tinyfc thread named `name` that runs `f` holding SIGTERM and SIGINT: a worker, the
/// control thread or the drain thread (its starter, the main loop's thread, lets them through).
pub(crate) fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            hold();
            f()
        })
        .map(drop)
}

/// Blocks (`SIG_BLOCK`) or unblocks (`SIG_UNBLOCK`) SIGTERM and SIGINT on the calling thread.
fn mask_stop_signals(how: i32) {
    crate::sys::mask_signals(how, &[libc::SIGTERM, libc::SIGINT]);
}
