//! Test harness of tinyfc's and its tools' integration tests (a `publish = false` workspace
//! crate, a dev-dependency of both): starts an example binary as a function instance on a free
//! port and talks to it over real sockets.

#![warn(missing_docs)]

mod capture;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use capture::Capture;

pub use tinyfc::client::{Connection, Response};

/// Generous bound that only catches hangs.
pub const HANG: Duration = Duration::from_secs(20);

/// A running example binary.
pub struct Function {
    child: Child,
    /// The port it listens on (from its listening line).
    pub port: u16,
    stdout: Capture,
    stderr: Capture,
}

/// The path of a built example. `cargo test` builds examples, but `cargo test --test NAME` does
/// not, so the first call builds them (a no-op when they are up to date).
pub fn example(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap(); // target/<profile>/deps/..
    BUILT.call_once(|| {
        let mut cargo = Command::new(env!("CARGO"));
        // -p: the tools' tests (tools/cargo-tinyfc) use this harness for tinyfc's examples too.
        cargo.args(["build", "--quiet", "-p", "tinyfc", "--examples"]);
        // Always with every optional feature, whichever test binary asks: the examples that need
        // one (json_event, the probe's /ws) build, and the runtime's and the tools' tests, which
        // share this file, do not rebuild the examples back and forth.
        cargo.args(["--features", "json,events,websocket"]);
        if profile_dir.ends_with("release") {
            cargo.arg("--release");
        }
        let status = cargo
            // This crate's directory: any directory in the workspace builds `-p tinyfc`.
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building the examples failed");
    });
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} not built: run `cargo test` (it builds examples)",
        path.display()
    );
    path
}

impl Function {
    /// Starts `examples/<name>` with FC_SERVER_PORT=0 and `env`; waits for its listening line.
    pub fn start(name: &str, env: &[(&str, &str)]) -> Function {
        let mut cmd = Command::new(example(name));
        cmd.env("FC_SERVER_PORT", "0").env("RUST_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Function::spawn(cmd, "tinyfc listening on 0.0.0.0:")
    }

    /// Starts `cmd` with stdout and stderr captured; waits for a stdout line containing `marker`
    /// followed by the port to talk to.
    pub fn spawn(mut cmd: Command, marker: &'static str) -> Function {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = Capture::start(child.stdout.take().unwrap(), Some((marker, tx)));
        let stderr = Capture::start(child.stderr.take().unwrap(), None);
        let port = rx
            .recv_timeout(HANG)
            .expect("the process never printed the line with its port");
        Function {
            child,
            port,
            stdout,
            stderr,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A new keep-alive connection.
    pub fn connect(&self) -> Connection {
        Connection::connect(self.addr(), HANG).unwrap()
    }

    /// A raw socket, for malformed requests.
    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr()).unwrap();
        s.set_read_timeout(Some(HANG)).unwrap();
        s
    }

    /// One request on a fresh connection.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.connect().request(method, path, headers, body).unwrap()
    }

    /// An HTTP invocation (`x-fc-control-path: /http-invoke`).
    pub fn http(&self, method: &str, path: &str) -> Response {
        self.request(method, path, &[("x-fc-control-path", "/http-invoke")], b"")
    }

    /// An event invocation (POST /invoke) with a request id.
    pub fn invoke(&self, request_id: &str, event: &[u8]) -> Response {
        let h = [
            ("x-fc-request-id", request_id),
            ("x-fc-control-path", "/invoke"),
        ];
        self.request("POST", "/invoke", &h, event)
    }

    /// POST /initialize with a request id.
    pub fn initialize(&self, request_id: &str) -> Response {
        let h = [
            ("x-fc-request-id", request_id),
            ("x-fc-control-path", "/initialize"),
        ];
        self.request("POST", "/initialize", &h, b"")
    }

    /// GET /pre-stop with a request id.
    pub fn pre_stop(&self, request_id: &str) -> Response {
        let h = [
            ("x-fc-request-id", request_id),
            ("x-fc-control-path", "/pre-stop"),
        ];
        self.request("GET", "/pre-stop", &h, b"")
    }

    /// The probe's counters: (init_runs, invocations, prestop_runs).
    pub fn state(&self) -> (u64, u64, u64) {
        let s = self.counters();
        (s[0], s[1], s[2])
    }

    /// The probe's counters: [init_runs, invocations, prestop_runs, drops]. Like any invocation,
    /// /state begins a new life after pre-stop.
    pub fn counters(&self) -> [u64; 4] {
        let r = self.http("GET", "/state");
        assert_eq!(r.status, 200, "/state failed: {}", r.text());
        let t = r.text();
        ["init_runs", "invocations", "prestop_runs", "drops"].map(|k| {
            let at = t.find(&format!("\"{k}\":")).unwrap() + k.len() + 3;
            t[at..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
                .parse()
                .unwrap()
        })
    }

    /// Every line it printed on stdout so far: a line printed before an answer the test got is in
    /// it (the pipe is read to its current end first).
    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    /// Every line it printed on stderr so far, as [`Function::stdout`].
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Waits until stdout contains `needle`.
    pub fn wait_stdout(&self, needle: &str) -> bool {
        let until = Instant::now() + HANG;
        while Instant::now() < until {
            if self.stdout().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Sends signal `sig` to the instance.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for the process to exit (None if it is still running after `limit`).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status); // `stdout()` reads what the pipe still holds
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// A field of `/proc/<pid>/status`, e.g. "Threads" or "VmRSS" (kB).
    pub fn proc_status(&self, key: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = s
            .lines()
            .find(|l| l.starts_with(&format!("{key}:")))
            .unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Its thread count (/proc/PID/status).
    pub fn threads(&self) -> u64 {
        self.proc_status("Threads")
    }

    /// The main loop's thread (`tinyfc-main`): its /proc/PID/task/TID directory.
    pub fn main_thread(&self) -> std::path::PathBuf {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid())).unwrap();
        tasks
            .map(|t| t.unwrap().path())
            .find(|t| std::fs::read_to_string(t.join("comm")).unwrap().trim() == "tinyfc-main")
            .expect("a tinyfc-main thread")
    }

    /// The CPU time (user and system) the main loop's thread has used, in clock ticks
    /// (/proc/PID/task/TID/stat: hundredths of a second on Linux).
    pub fn main_thread_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(self.main_thread().join("stat")).unwrap();
        // After the command name in parentheses: the state is field 3, utime 14, stime 15.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `bytes` on a raw socket and reads until the server closes it (or HANG).
/// Opens `n` connections, each sending `GET <path>` as an HTTP invocation with
/// `Connection: close`; the answers are left unread.
pub fn calls_in_flight(f: &Function, n: usize, path: &str) -> Vec<TcpStream> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: t\r\nx-fc-control-path: /http-invoke\r\nconnection: close\r\n\r\n"
    );
    (0..n)
        .map(|_| {
            let mut s = f.raw();
            s.write_all(request.as_bytes()).unwrap();
            s
        })
        .collect()
}

/// Sends `bytes` on a new connection and reads until the function closes it.
pub fn send_raw(f: &Function, bytes: &[u8]) -> String {
    let mut s = f.raw();
    let _ = s.write_all(bytes);
    read_to_close(&mut s)
}

/// Reads until EOF, a reset, or HANG; returns what arrived as text.
pub fn read_to_close(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads until what arrived ends with `end`, or EOF, a reset, or HANG; returns it as text.
pub fn read_until(s: &mut TcpStream, end: &[u8]) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(end) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads until the server closes (true), or nothing comes for `limit` (false): the bytes, and
/// whether it closed.
pub fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// The status code of the first response in `text` (0 if none).
pub fn status_of(text: &str) -> u16 {
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Asserts the function still answers a well-formed request on a new connection.
pub fn assert_still_serving(f: &Function) {
    let r = f.http("GET", "/still-alive");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello");
}

/// Counts occurrences of `needle` in `hay`.
pub fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// A chunked answer read off a raw socket as it arrives.
pub struct Chunked {
    /// The head, up to its blank line.
    pub head: String,
    /// Each chunk's data with when it arrived.
    pub chunks: Vec<(Instant, Vec<u8>)>,
    /// The terminating (empty) chunk arrived.
    pub terminated: bool,
}

/// Reads one chunked answer from `s`, chunk by chunk, stopping after the terminating chunk, at
/// the end of input or an error (a cut stream), or after `max_chunks` data chunks.
pub fn read_chunked(s: &mut TcpStream, max_chunks: usize) -> Chunked {
    let mut buf = Vec::new();
    let mut fill = |buf: &mut Vec<u8>| -> bool {
        let mut b = [0u8; 4096];
        match s.read(&mut b) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                buf.extend_from_slice(&b[..n]);
                true
            }
        }
    };
    let find = |buf: &[u8], from: usize| {
        buf[from..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| p + from)
    };
    let mut out = Chunked {
        head: String::new(),
        chunks: Vec::new(),
        terminated: false,
    };
    loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            out.head = String::from_utf8_lossy(&buf[..p + 4]).into_owned();
            buf.drain(..p + 4);
            break;
        }
        if !fill(&mut buf) {
            return out;
        }
    }
    while out.chunks.len() < max_chunks {
        let Some(eol) = find(&buf, 0) else {
            if fill(&mut buf) {
                continue;
            }
            return out;
        };
        let size = std::str::from_utf8(&buf[..eol])
            .ok()
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .expect("a chunk size line");
        if size == 0 {
            while find(&buf, eol + 2) != Some(eol + 2) {
                if !fill(&mut buf) {
                    return out;
                }
            }
            out.terminated = true;
            return out;
        }
        while buf.len() < eol + 2 + size + 2 {
            if !fill(&mut buf) {
                return out;
            }
        }
        assert_eq!(&buf[eol + 2 + size..eol + 4 + size], b"\r\n", "chunk end");
        out.chunks
            .push((Instant::now(), buf[eol + 2..eol + 2 + size].to_vec()));
        buf.drain(..eol + 4 + size);
    }
    out
}
