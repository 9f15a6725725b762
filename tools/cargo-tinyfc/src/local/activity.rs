//! What the platform is doing, for `--idle-stop`: requests, asynchronous invocations and open
//! WebSockets in progress, and when the last one began or ended.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the front door is doing, for --idle-stop: requests (and async invocations) in progress,
/// and when the last one began or ended.
pub struct Activity {
    /// (units of work in progress, when the last one began or ended).
    state: Mutex<(usize, Instant)>,
}

impl Activity {
    /// No request yet: idle since now.
    pub fn new() -> Activity {
        Activity {
            state: Mutex::new((0, Instant::now())),
        }
    }

    /// One unit of work began (+1) or ended (-1).
    fn update(&self, delta: isize) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.0 = st.0.saturating_add_signed(delta);
        st.1 = Instant::now();
    }

    /// Marks one unit of work as started until the guard is dropped.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.update(1);
        Busy(self.clone())
    }

    /// How long nothing has been in progress (zero while something is).
    pub fn idle(&self) -> Duration {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.0 > 0 {
            Duration::ZERO
        } else {
            st.1.elapsed()
        }
    }
}

/// Work in progress; ends when dropped.
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.update(-1);
    }
}
