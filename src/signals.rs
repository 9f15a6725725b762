//! SIGTERM and SIGINT, which the main loop turns into a drain (see `main_loop.rs`).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// SIGTERM and SIGINT, which the main loop turns into a drain. Their actions are installed once,
/// by the first tinyfc thread with nothing to do (a worker about to wait, or the main loop one tick
/// in): registering them is work, and code, that the platform's first calls right after listening
/// need not wait for. Until then every tinyfc thread holds them, so one that comes early waits
/// and is not lost (two of a kind that come while held count as one, as the kernel keeps one
/// pending); each thread lets them through once they are installed. (A thread the function
/// started before `run` does not hold them: one delivered there first takes its default action,
/// as it would before `run`.)
pub(crate) struct Signals {
    /// The wake socket's write side, where each action writes its signal's number.
    tx: RawFd,
    /// Set by the thread that installs the actions (once).
    claimed: AtomicBool,
    /// Set once they are installed.
    installed: AtomicBool,
}

impl Signals {
    /// Signals not yet installed, whose actions will write to `tx` (open for the life of the
    /// process: `Shared` owns it).
    pub(crate) fn new(tx: RawFd) -> Signals {
        Signals {
            tx,
            claimed: AtomicBool::new(false),
            installed: AtomicBool::new(false),
        }
    }

    /// Signals whose actions are never installed (a server inside a test process: SIGTERM and
    /// SIGINT keep the process's own actions).
    pub(crate) fn never() -> Signals {
        Signals {
            tx: -1,
            claimed: AtomicBool::new(true),
            installed: AtomicBool::new(false),
        }
    }

    /// True once the actions are installed.
    pub(crate) fn installed(&self) -> bool {
        self.installed.load(Ordering::SeqCst)
    }

    /// Installs the actions if no thread has yet, then lets the signals through on this thread.
    /// Each action writes its signal's number to the wake socket: the main loop learns which
    /// signal came (for the exit code of a second one) without a second registration.
    pub(crate) fn let_through(&self) {
        if !self.claimed.swap(true, Ordering::SeqCst) {
            let tx = self.tx;
            for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
                let action = move || {
                    let byte = sig as u8;
                    // SAFETY: send(2) is async-signal-safe; a full socket already means "wake up".
                    unsafe { libc::send(tx, (&byte as *const u8).cast(), 1, libc::MSG_DONTWAIT) };
                };
                // SAFETY: the action only calls send(2), which is async-signal-safe; `tx` stays
                // open for the life of the process (`Shared` owns it).
                if let Err(e) = unsafe { signal_hook::low_level::register(sig, action) } {
                    log::error!("cannot handle signal {sig}: {e}"); // it keeps its default action
                }
            }
            self.installed.store(true, Ordering::SeqCst);
        }
        if self.installed() {
            mask_stop_signals(libc::SIG_UNBLOCK);
        }
    }
}

/// Blocks (`SIG_BLOCK`) or unblocks (`SIG_UNBLOCK`) SIGTERM and SIGINT on the calling thread.
pub(crate) fn mask_stop_signals(how: i32) {
    // SAFETY: an empty set, filled with two signals, passed by pointer to pthread_sigmask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}
