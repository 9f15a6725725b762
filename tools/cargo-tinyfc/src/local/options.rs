//! Command-line options (std only).

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Args, Stop};

/// `--help`'s text.
pub const USAGE: &str = "\
cargo tinyfc local: run a Function Compute custom runtime locally, driven as FC drives it.

usage: cargo tinyfc local [options] -- COMMAND [ARGS...]
       cargo tinyfc local --watch (--bin NAME | --example NAME) [--manifest-path PATH] [options]
                          [-- ARGS...]

  --listen ADDR          front door address (default 127.0.0.1:8000; port 0 = any free port)
  --port PORT            the function's port, FC_SERVER_PORT (default: a free port)
  --function-name NAME   FC_FUNCTION_NAME and x-fc-function-name (default: local-function)
  --region REGION        (default cn-hangzhou)       --account-id ID (default 1234567890)
  --memory MB            (default 512)               --timeout SECS  (default 60)
  --service-name NAME    (default local-service)     --qualifier Q   (default LATEST)
  --initializer          call POST /initialize after start-up (the default)
  --no-initializer       do not call POST /initialize (the function's first invocation runs it)
  --init-timeout SECS    limit for one /initialize call (default 60); past it the instance restarts
  --init-retries N       retries after a 400/404 answer before giving up (default 10)
  --max-restarts N       restarts after a 500, a crash or a timeout before giving up (default 3)
  --start-timeout SECS   how long the instance may take to listen (default 120, as FC)
  --env-file FILE        KEY=VALUE lines for the instance's environment (# comments; quotes)
  --concurrency N        invocations in the instance at once (default 1, FC's default instance
                         concurrency; 1..=200); the rest wait in the front door
  --queue-limit N        invocations that may wait (default 16); past it: 429 ResourceThrottled
  --watch                build the crate's --bin/--example, run it, rebuild and restart it when
                         src/, examples/ or Cargo.toml change (a failed build keeps the old one)
  --bin NAME, --example NAME, --manifest-path PATH   what --watch builds (`cargo build`)
  --event FILE           event body for --once and --invoke (default: empty; - for stdin)
  --event-example NAME   the documented sample event of a trigger instead (oss, timer, mns-topic,
                         mns-queue, sls, tablestore, cdn, eventbridge, http, ...; a wrong name
                         lists them all)
  --once                 start, initialize, one event invocation, pre-stop, stop; exit 0 only if
                         every step succeeded
  --invoke N             like --once with N event invocations
  --lives N              with --once/--invoke: initialize, invoke, pre-stop N times on the same
                         instance, as FC freezes and thaws it (default 1)
  --idle-stop SECS       serving: stop after SECS without a request
  --grace SECS           after SIGTERM, how long before SIGKILL (default 10)
  --prestop-timeout SECS limit for GET /pre-stop (default 20: the runtime drains
                         in-flight invocations first, 10 s by default)
  -h, --help             this text

examples:
  cargo tinyfc local --once -- target/debug/examples/hello
  cargo tinyfc local --listen 127.0.0.1:9000 --idle-stop 300 -- ./target/debug/my-function
  cargo tinyfc local --watch --bin my-function --env-file .env --concurrency 4

Front door: every request becomes an HTTP invocation; POST /2023-03-30/functions/NAME/invocations
an event invocation (x-fc-invocation-type: Async: 202 at once). Stop: GET /pre-stop, SIGTERM, SIGKILL
to the instance's process group after --grace; a second Ctrl-C kills at once.
Exit codes: 0 every step succeeded, 1 a step failed, 2 usage, 130 a second signal.

Credentials sent in x-fc-access-key-id/-secret/x-fc-security-token (and the instance's
ALIBABA_CLOUD_* variables) come from ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and
ALIBABA_CLOUD_SECURITY_TOKEN in your environment, else dummies.
";

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Front door address (`--listen`).
    pub listen: String,
    /// The function's port (`--port`); None: a free one.
    pub port: Option<u16>,
    /// `--function-name`.
    pub function_name: String,
    /// `--region`.
    pub region: String,
    /// `--account-id`.
    pub account_id: String,
    /// `--memory`, in MB.
    pub memory_mb: u32,
    /// `--timeout`, in seconds.
    pub timeout_s: u32,
    /// `--service-name`.
    pub service_name: String,
    /// `--qualifier`.
    pub qualifier: String,
    /// Whether to call POST /initialize (`--no-initializer` turns it off).
    pub initializer: bool,
    /// `--init-timeout`: one /initialize call's limit.
    pub init_timeout: Duration,
    /// `--init-retries`: retries after 400/404.
    pub init_retries: u32,
    /// `--max-restarts`: restarts after 500, a crash or a timeout.
    pub max_restarts: u32,
    /// `--start-timeout`: how long the instance may take to listen.
    pub start_timeout: Duration,
    /// `--event`: the event file for one-shot invocations (`-`: stdin).
    pub event: Option<String>,
    /// `--event-example`: a trigger's documented sample event for one-shot invocations.
    pub event_example: Option<&'static str>,
    /// One-shot invocations (`--once` is 1); None: serve the front door.
    pub invocations: Option<u32>,
    /// `--idle-stop`: stop serving after this long without a request.
    pub idle_stop: Option<Duration>,
    /// `--grace`: SIGTERM to SIGKILL.
    pub grace: Duration,
    /// `--prestop-timeout`: GET /pre-stop's limit.
    pub prestop_timeout: Duration,
    /// (access key id, secret, security token).
    pub credentials: (String, String, String),
    /// The function's command and arguments (after `--`); with `--watch`, the arguments only
    /// until the first build names the executable.
    pub command: Vec<String>,
    /// `--env-file`: variables for the instance, in the file's order.
    pub env: Vec<(String, String)>,
    /// `--concurrency`: invocations in the instance at once.
    pub concurrency: usize,
    /// `--queue-limit`: invocations that may wait for the instance.
    pub queue_limit: usize,
    /// `--lives`: lives of the instance for one-shot invocations.
    pub lives: u32,
    /// `--watch`: what to build and watch.
    pub watch: Option<Target>,
}

/// What `--watch` builds.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// `--bin NAME`.
    pub bin: Option<String>,
    /// `--example NAME`.
    pub example: Option<String>,
    /// `--manifest-path PATH` (default: ./Cargo.toml).
    pub manifest_path: Option<String>,
}

impl Target {
    /// The crate's Cargo.toml.
    pub fn manifest(&self) -> PathBuf {
        PathBuf::from(self.manifest_path.as_deref().unwrap_or("Cargo.toml"))
    }

    /// The crate's directory.
    pub fn dir(&self) -> PathBuf {
        match self.manifest().parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// FC's largest instance concurrency.
pub const MAX_CONCURRENCY: usize = 200;
/// FC's longest function timeout, in seconds.
pub const MAX_TIMEOUT: u32 = 86_400;
/// The longest `--queue-limit`: each waiting invocation holds a front-door thread.
pub const MAX_QUEUE: usize = 1024;

impl Options {
    /// Parses `args` (without the program name).
    pub fn parse(args: &[String]) -> Result<Options, Stop> {
        let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
        let mut o = Options {
            listen: "127.0.0.1:8000".into(),
            port: None,
            function_name: "local-function".into(),
            region: "cn-hangzhou".into(),
            account_id: "1234567890".into(),
            memory_mb: 512,
            timeout_s: 60,
            service_name: "local-service".into(),
            qualifier: "LATEST".into(),
            initializer: true,
            init_timeout: Duration::from_secs(60),
            init_retries: 10,
            max_restarts: 3,
            start_timeout: Duration::from_secs(120),
            event: None,
            event_example: None,
            invocations: None,
            idle_stop: None,
            grace: Duration::from_secs(10),
            prestop_timeout: Duration::from_secs(20),
            credentials: (
                env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-local-dummy-key-id"),
                env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "local-dummy-key-secret"),
                env("ALIBABA_CLOUD_SECURITY_TOKEN", "local-dummy-security-token"),
            ),
            command: Vec::new(),
            env: Vec::new(),
            concurrency: 1,
            queue_limit: 16,
            lives: 1,
            watch: None,
        };
        let mut watch = false;
        let mut target = Target::default();
        let mut it = Args::new(args);
        while let Some(arg) = it.next()? {
            match arg {
                "--" => {
                    o.command = it.remaining();
                    break;
                }
                "--listen" => o.listen = it.value(arg)?.into(),
                "--port" => o.port = Some(it.parsed(arg)?),
                "--function-name" => o.function_name = it.value(arg)?.into(),
                "--region" => o.region = it.value(arg)?.into(),
                "--account-id" => o.account_id = it.value(arg)?.into(),
                "--memory" => o.memory_mb = it.parsed(arg)?,
                "--timeout" => o.timeout_s = it.parsed(arg)?,
                "--service-name" => o.service_name = it.value(arg)?.into(),
                "--qualifier" => o.qualifier = it.value(arg)?.into(),
                "--initializer" => o.initializer = true,
                "--no-initializer" => o.initializer = false,
                "--init-timeout" => o.init_timeout = it.secs(arg)?,
                "--init-retries" => o.init_retries = it.parsed(arg)?,
                "--max-restarts" => o.max_restarts = it.parsed(arg)?,
                "--start-timeout" => o.start_timeout = it.secs(arg)?,
                "--event" => o.event = Some(it.value(arg)?.into()),
                "--event-example" => o.event_example = Some(event_example(it.value(arg)?)?),
                "--once" => o.invocations = Some(1),
                "--invoke" => o.invocations = Some(it.parsed(arg)?),
                "--idle-stop" => o.idle_stop = Some(it.secs(arg)?),
                "--grace" => o.grace = it.secs(arg)?,
                "--prestop-timeout" => o.prestop_timeout = it.secs(arg)?,
                "--env-file" => {
                    let path = it.value(arg)?;
                    o.env = super::env_file::read(path)?;
                }
                "--concurrency" => o.concurrency = it.parsed(arg)?,
                "--queue-limit" => o.queue_limit = it.parsed(arg)?,
                "--lives" => o.lives = it.parsed(arg)?,
                "--watch" => watch = true,
                "--bin" => target.bin = Some(it.value(arg)?.into()),
                "--example" => target.example = Some(it.value(arg)?.into()),
                "--manifest-path" => target.manifest_path = Some(it.value(arg)?.into()),
                other => return Err(format!("unknown option {other}").into()),
            }
        }
        if !(1..=MAX_CONCURRENCY).contains(&o.concurrency) {
            return Err(format!("--concurrency: from 1 to {MAX_CONCURRENCY}, as FC").into());
        }
        if !(1..=MAX_TIMEOUT).contains(&o.timeout_s) {
            return Err(format!("--timeout: from 1 to {MAX_TIMEOUT} seconds, as FC").into());
        }
        if o.queue_limit > MAX_QUEUE {
            return Err(format!("--queue-limit: at most {MAX_QUEUE}").into());
        }
        if o.event.is_some() && o.event_example.is_some() {
            return Err("--event and --event-example: one or the other"
                .to_string()
                .into());
        }
        if o.event_example.is_some() && o.invocations.is_none() {
            return Err("--event-example needs --once or --invoke N"
                .to_string()
                .into());
        }
        if o.lives == 0 {
            return Err("--lives: at least 1".to_string().into());
        }
        if o.lives > 1 && o.invocations.is_none() {
            return Err("--lives needs --once or --invoke N".to_string().into());
        }
        let selected = target.bin.is_some() || target.example.is_some();
        if watch {
            if o.invocations.is_some() {
                return Err("--watch serves: it does not go with --once/--invoke"
                    .to_string()
                    .into());
            }
            if target.bin.is_some() == target.example.is_some() {
                return Err("--watch needs one --bin NAME or --example NAME"
                    .to_string()
                    .into());
            }
            o.watch = Some(target);
        } else if selected || target.manifest_path.is_some() {
            return Err("--bin, --example and --manifest-path go with --watch"
                .to_string()
                .into());
        } else if o.command.is_empty() {
            return Err(Stop::Usage("no function command: give it after --".into()));
        }
        Ok(o)
    }
}

/// The sample event named `name`; Err lists the names.
fn event_example(name: &str) -> Result<&'static str, String> {
    use tinyfc::events::fixtures;
    fixtures::example(name).ok_or_else(|| {
        format!(
            "--event-example: no example {name:?}; the examples: {}",
            fixtures::NAMES.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, Stop> {
        Options::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn command_follows_double_dash_and_options_override_defaults() {
        let o = parse(&["--once", "--memory", "1024", "--", "./f", "--flag"]).unwrap();
        assert_eq!(o.command, ["./f", "--flag"]);
        assert_eq!(
            (o.invocations, o.memory_mb, o.initializer),
            (Some(1), 1024, true)
        );
    }

    #[test]
    fn missing_command_and_bad_numbers_are_errors() {
        assert!(parse(&["--once"]).is_err());
        assert!(parse(&["--grace", "soon", "--", "x"]).is_err());
        assert!(parse(&["--bogus", "--", "x"]).is_err());
    }
}
