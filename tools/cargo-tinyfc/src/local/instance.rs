//! One function instance: the child process, started with FC's environment, and how it is stopped.
//!
//! The instance runs in its own process group (a terminal's Ctrl-C reaches the platform only, which
//! then stops the instance in FC's order). SIGTERM goes to the instance's own process, as FC sends it
//! to the bootstrap; SIGKILL goes to the whole group, as tearing down a container kills everything in
//! it, so a wrapper script's children never outlive the instance. The group is only signalled while
//! the leader is not yet reaped (its pid cannot be reused until then). Should the platform itself be
//! killed, the instance gets SIGKILL from the kernel (PR_SET_PDEATHSIG).

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::logs::Logs;
use super::options::Options;
use crate::say;

/// A started instance. Shared between the boot thread, the front door and the stopper.
pub struct Instance {
    /// The child and, once reaped, its exit status.
    child: Mutex<(Child, Option<ExitStatus>)>,
    /// The leader's pid, also the process group id.
    pid: u32,
    /// Where the function listens (on 127.0.0.1).
    pub addr: SocketAddr,
    /// FC_INSTANCE_ID given to it.
    pub id: String,
    /// Started outside `local` (`--external-function`): not checked for its listening address.
    external: bool,
    /// When it was started.
    pub started: Instant,
    /// Set once it accepted a connection.
    listened: AtomicBool,
}

impl Instance {
    /// Starts the command with FC's environment; its stdout and stderr pass through `logs`.
    pub fn start(opts: &Options, logs: &Arc<Logs>) -> std::io::Result<Instance> {
        let port = match opts.port {
            Some(p) if opts.external_function => p,
            Some(p) => port_not_taken(p).map(|()| p)?,
            None => free_port()?,
        };
        let id = format!("c-{}", super::random_hex(24));
        let mut cmd = Command::new(&opts.command[0]);
        // --env-file first: the platform's own variables win, as FC reserves them.
        cmd.args(&opts.command[1..])
            .envs(opts.env.iter().map(|(k, v)| (k, v)))
            .env("FC_SERVER_PORT", port.to_string())
            .env("FC_FUNCTION_NAME", &opts.function_name)
            .env("FC_FUNCTION_HANDLER", "index.handler")
            .env("FC_FUNCTION_MEMORY_SIZE", opts.memory_mb.to_string())
            .env("FC_REGION", &opts.region)
            .env("FC_ACCOUNT_ID", &opts.account_id)
            .env("FC_INSTANCE_ID", &id)
            .env("FC_QUALIFIER", &opts.qualifier)
            .env("FC_SERVICE_NAME", &opts.service_name)
            .env("FC_FUNC_CODE_PATH", "/code")
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", &opts.credentials.key_id)
            .env(
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                &opts.credentials.key_secret,
            )
            .env(
                "ALIBABA_CLOUD_SECURITY_TOKEN",
                &opts.credentials.security_token,
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let parent = std::process::id();
        // SAFETY: prctl(2) and getppid(2) are async-signal-safe; nothing else runs in the child
        // before exec.
        unsafe {
            cmd.pre_exec(move || {
                // If the platform dies without stopping the instance (SIGKILL, a crash), the
                // instance dies too instead of living on unattended.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::other(
                        "the platform exited during the start",
                    ));
                }
                Ok(())
            });
        }
        let mut child = spawn(cmd)?;
        let pid = child.id();
        if let Some(out) = child.stdout.take() {
            logs.forward(out, false);
        }
        if let Some(err) = child.stderr.take() {
            logs.forward(err, true);
        }
        say!("instance {id} started: pid {pid}, port {port}");
        Ok(Instance {
            child: Mutex::new((child, None)),
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            id,
            external: opts.external_function,
            started: Instant::now(),
            listened: AtomicBool::new(false),
        })
    }

    /// The child and its status, locked.
    fn child(&self) -> MutexGuard<'_, (Child, Option<ExitStatus>)> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The child's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether it ever accepted a connection.
    pub fn listened(&self) -> bool {
        self.listened.load(Ordering::SeqCst)
    }

    /// Waits until the function accepts connections. Err: it exited, `limit` passed, or `abort()`
    /// turned true (the platform is stopping).
    pub fn wait_listening(
        &self,
        limit: Duration,
        abort: impl Fn() -> bool,
    ) -> Result<Duration, String> {
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() {
                self.listened.store(true, Ordering::SeqCst);
                if !self.external && !self.reachable_from_outside() {
                    return Err(format!(
                        "the instance listens on 127.0.0.1:{} only: FC connects to an instance \
                         on its own address, so it reports FunctionNotStarted (listen on 0.0.0.0)",
                        self.addr.port()
                    ));
                }
                return Ok(self.started.elapsed());
            }
            if self.exited() {
                return Err(format!(
                    "the instance exited before listening ({})",
                    describe(self.reap())
                ));
            }
            if abort() {
                return Err("the platform is stopping".into());
            }
            if self.started.elapsed() > limit {
                return Err(format!(
                    "the instance did not listen within {} s",
                    limit.as_secs_f64()
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Whether the instance also accepts on this machine's own address, as FC connects to an
    /// instance. True when the machine has none but loopback (nothing to tell then).
    fn reachable_from_outside(&self) -> bool {
        let Some(ip) = own_address() else {
            return true;
        };
        let addr = SocketAddr::new(ip, self.addr.port());
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
    }

    /// True once the instance's process has exited.
    pub fn exited(&self) -> bool {
        let guard = self.child();
        guard.1.is_some() || zombie(self.pid)
    }

    /// Kills whatever is left of the instance's process group and reaps the leader; returns its
    /// exit status. Idempotent.
    pub fn reap(&self) -> Option<ExitStatus> {
        let mut guard = self.child();
        if guard.1.is_none() {
            // SAFETY: kill(2) on our own child's group; the leader is not reaped yet, so the id
            // still names that group.
            unsafe { libc::kill(-(self.pid as i32), libc::SIGKILL) };
            guard.1 = guard.0.wait().ok();
        }
        guard.1
    }

    /// SIGTERM to the instance, then SIGKILL to its group if it lingers past `grace`, as FC does.
    /// Returns how it exited.
    pub fn stop(&self, grace: Duration) -> Option<ExitStatus> {
        {
            let guard = self.child();
            if guard.1.is_some() {
                return guard.1;
            }
            // SAFETY: kill(2) on our own child, not reaped yet (we hold the lock that reaps).
            unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        }
        let until = Instant::now() + grace;
        while Instant::now() < until {
            if self.exited() {
                return self.reap();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        say!(
            "instance {} lingered past {} s after SIGTERM: killed",
            self.id,
            grace.as_secs_f64()
        );
        self.reap()
    }
}

impl Drop for Instance {
    /// An instance is never left running: whatever is left of it is killed.
    fn drop(&mut self) {
        self.reap();
    }
}

/// Spawns `cmd` on a thread that lives as long as the platform: the parent-death signal fires when
/// the thread that forked the child ends, so that must not be a short-lived boot thread.
fn spawn(cmd: Command) -> std::io::Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("spawner".into())
            .spawn(move || {
                for (mut cmd, answer) in queue {
                    let _ = answer.send(cmd.spawn());
                }
            })
            .expect("cannot start the spawner thread");
        jobs
    });
    let gone = || std::io::Error::other("the spawner thread is gone");
    let (answer, child) = mpsc::channel();
    spawner.send((cmd, answer)).map_err(|_| gone())?;
    child.recv().map_err(|_| gone())?
}

/// True once our child `pid` has exited but is not reaped yet (waitid with WNOWAIT leaves it so).
fn zombie(pid: u32) -> bool {
    // SAFETY: waitid(2) with WNOWAIT only inspects our own child; siginfo_t is plain data.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        rc == 0 && info.si_pid() != 0
    }
}

/// An exit status for the platform's view.
pub fn describe(status: Option<ExitStatus>) -> String {
    match status {
        Some(s) => s.to_string(),
        None => "exit status unknown".into(),
    }
}

/// Fails when something on this machine already listens on `port` (the s.yaml's, or `--port`):
/// the platform would call that process instead of the instance. On FC an instance has its
/// network to itself.
fn port_not_taken(port: u16) -> std::io::Result<()> {
    match TcpListener::bind(("0.0.0.0", port)) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(std::io::Error::new(
            e.kind(),
            format!(
                "port {port} is already in use on this machine: stop what listens there, or \
                 give the function another port (customRuntimeConfig.port, --port)"
            ),
        )),
        _ => Ok(()), // free, or not ours to bind (the function will say so itself)
    }
}

/// This machine's address on its default route (a UDP connect sends nothing), if it has one.
fn own_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?; // TEST-NET-1: routed by a default route, never reached
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// A port that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
