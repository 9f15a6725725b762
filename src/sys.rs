//! The system calls std does not offer, each behind a safe function: epoll and eventfd, poll(2),
//! listen's backlog, SO_LINGER, the descriptor limit, signal masks, the CPU affinity, unlocked
//! writes to descriptor 1, and glibc's mmap threshold. This is the runtime's one module of system
//! calls; every `unsafe` block here says why it is sound, and the crate denies one that does not.

use std::fs::File;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// One epoll event: the events that came, and the token the descriptor was added with.
pub(crate) type EpollEvent = libc::epoll_event;

/// An empty epoll event, to fill.
pub(crate) const NO_EVENT: EpollEvent = libc::epoll_event { events: 0, u64: 0 };

/// A new epoll set, close-on-exec, and a non-blocking, close-on-exec eventfd to put in it (the
/// poller's two descriptors). Each 8-byte write to the eventfd adds to its counter and is a new
/// edge for the set; a read takes the counter and resets it.
pub(crate) fn epoll_and_eventfd() -> io::Result<(OwnedFd, File)> {
    let flags = libc::EFD_CLOEXEC | libc::EFD_NONBLOCK;
    // SAFETY: neither call takes a pointer; each descriptor is checked, then owned at once (the
    // first is closed by its OwnedFd if the second fails).
    unsafe {
        let epoll = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        if epoll < 0 {
            return Err(io::Error::last_os_error());
        }
        let epoll = OwnedFd::from_raw_fd(epoll);
        let event = libc::eventfd(0, flags);
        if event < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((epoll, File::from_raw_fd(event)))
    }
}

/// Adds (`EPOLL_CTL_ADD`), re-arms (`EPOLL_CTL_MOD`) or removes (`EPOLL_CTL_DEL`) `fd` in `epoll`,
/// for edge-triggered input and hang-up events carrying `token`.
pub(crate) fn epoll_ctl(epoll: BorrowedFd, op: i32, fd: BorrowedFd, token: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
        u64: token,
    };
    // SAFETY: `ev` is a valid epoll_event for the call's length; the kernel copies it.
    let r = unsafe { libc::epoll_ctl(epoll.as_raw_fd(), op, fd.as_raw_fd(), &mut ev) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits up to `timeout` (rounded up to milliseconds) for events on `epoll`, filling the start of
/// `events`; how many came (0 on a timeout or a signal).
pub(crate) fn epoll_wait(epoll: BorrowedFd, events: &mut [EpollEvent], timeout: Duration) -> usize {
    let max = events.len().min(i32::MAX as usize) as i32;
    // SAFETY: the kernel writes at most `max` events, all within `events`, which we borrow
    // exclusively for the call.
    let n =
        unsafe { libc::epoll_wait(epoll.as_raw_fd(), events.as_mut_ptr(), max, millis(timeout)) };
    n.max(0) as usize
}

/// poll(2) on `fds` for up to `timeout` (None: no limit); how many are ready, or the error
/// (`Interrupted` for a signal).
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    let ms = timeout.map_or(-1, millis);
    // SAFETY: the kernel reads and writes exactly `fds.len()` pollfd structs, all within `fds`,
    // which we borrow exclusively for the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// A timeout in whole milliseconds for poll and epoll_wait, rounded up (a wait never ends before
/// its deadline), at most `i32::MAX`.
fn millis(d: Duration) -> i32 {
    d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
}

/// Listens again with a deeper backlog (std listens with 128).
pub(crate) fn listen(socket: &TcpListener, backlog: i32) {
    // SAFETY: takes no pointer; `socket` is a listening socket we own.
    unsafe { libc::listen(socket.as_raw_fd(), backlog) };
}

/// Makes closing `stream` reset it (`SO_LINGER` 0), dropping what its client has not read.
pub(crate) fn reset_on_close(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let size = std::mem::size_of::<libc::linger>() as libc::socklen_t;
    // SAFETY: setsockopt reads `size` bytes: exactly the live `linger` struct.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            size,
        )
    };
}

/// Raises the descriptor limit (`RLIMIT_NOFILE`) to its hard limit; the limit now in force,
/// None if unlimited or unknown.
pub(crate) fn raise_descriptor_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the one rlimit struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
            }
        }
    }
    (lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

/// Blocks (`SIG_BLOCK`) or unblocks (`SIG_UNBLOCK`) `signals` on the calling thread.
pub(crate) fn mask_signals(how: i32, signals: &[i32]) {
    // SAFETY: `set` is a sigset_t on our stack, initialised by sigemptyset before use; each call
    // takes a pointer to it (or null for the old mask we do not want) for the call's length.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// The CPUs this thread may run on (its affinity mask), at least 1.
pub(crate) fn affinity_cpus() -> usize {
    // SAFETY: an all-zero cpu_set_t is a valid empty set; the kernel fills at most its size, and
    // CPU_COUNT only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return 1;
        }
        (libc::CPU_COUNT(&set) as usize).max(1)
    }
}

/// The CPU time all the process's threads have used (`CLOCK_PROCESS_CPUTIME_ID`).
pub(crate) fn process_cpu_time() -> Option<Duration> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the kernel writes one timespec, into `t`, which lives across the call.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) } != 0 {
        return None;
    }
    Some(Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
}

/// One write(2) of `buf` to descriptor 1, without std's stdout (see `logging.rs`).
pub(crate) fn write_stdout(buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the kernel reads at most `buf.len()` bytes, all within `buf`. Descriptor 1 is not
    // owned by any Rust value here; a write to it (or its failure, if closed) affects no memory.
    let n = unsafe { libc::write(libc::STDOUT_FILENO, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Sets glibc's mmap threshold to `bytes` (see `budget::return_large_blocks`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn set_mmap_threshold(bytes: libc::c_int) {
    // SAFETY: mallopt(3) takes no pointer and sets an allocator parameter under the allocator's
    // own lock.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, bytes) };
}
