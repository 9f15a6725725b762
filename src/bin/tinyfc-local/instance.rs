//! One function instance: the child process, started with FC's environment, and how it is stopped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::options::Options;
use crate::say;

/// A started instance.
pub struct Instance {
    child: Child,
    /// Where the function listens (on 127.0.0.1).
    pub addr: SocketAddr,
    /// FC_INSTANCE_ID given to it.
    pub id: String,
    /// When it was started.
    pub started: Instant,
}

impl Instance {
    /// Starts the command with FC's environment; its stdout and stderr pass through.
    pub fn start(opts: &Options) -> std::io::Result<Instance> {
        let port = match opts.port {
            Some(p) => p,
            None => free_port()?,
        };
        let id = format!("c-{}", crate::random_hex(24));
        let mut cmd = Command::new(&opts.command[0]);
        cmd.args(&opts.command[1..])
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
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", &opts.credentials.0)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", &opts.credentials.1)
            .env("ALIBABA_CLOUD_SECURITY_TOKEN", &opts.credentials.2)
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            // Its own process group: a terminal's Ctrl-C reaches tinyfc-local only, which then
            // stops the instance in FC's order (pre-stop, then SIGTERM).
            .process_group(0);
        let child = cmd.spawn()?;
        say!("instance {id} started: pid {}, port {port}", child.id());
        Ok(Instance {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            id,
            started: Instant::now(),
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the function accepts connections. Err: it exited, or `limit` passed.
    pub fn wait_listening(&mut self, limit: Duration) -> Result<Duration, String> {
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() {
                return Ok(self.started.elapsed());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the instance exited before listening ({status})"));
            }
            if self.started.elapsed() > limit {
                return Err(format!(
                    "the instance did not listen within {} s",
                    limit.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// True once the process has exited.
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then SIGKILL if it lingers past `grace`, as FC does. Returns how it exited.
    pub fn stop(mut self, grace: Duration) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let until = Instant::now() + grace;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        say!(
            "instance {} lingered past {} s: killed",
            self.id,
            grace.as_secs()
        );
        let _ = self.child.kill();
        self.child.wait().ok()
    }

    /// Kills at once (restart after a fatal error or a timeout).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
