//! `cargo tinyfc local`'s command line (clap's derive): options, their help and defaults, written
//! once. What s.yaml can set is an `Option` here, so a flag given overrides it and one not given
//! leaves s.yaml's value (src/local/options.rs merges them).

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{limit_seconds, seconds};
use crate::syaml::ManifestArgs;

/// `--help`'s text after the options.
const AFTER_HELP: &str = "\
Configuration: in a directory with s.yaml (or with --config FILE; --resource NAME when it has
several functions) the function's props are the defaults: functionName, region, memorySize,
timeout, instanceConcurrency, environmentVariables, the initializer and preStop hooks and their
timeouts, customRuntimeConfig (port, command, args, healthCheckConfig), asyncInvokeConfig and the
HTTP trigger's methods. Flags override them. What `cargo tinyfc check` calls an fc3 schema or FC
error in them (flags included: --memory 100 as memorySize: 100) is a usage error before anything
starts, as `s deploy` would refuse it; its warnings are printed.

examples:
  cargo tinyfc local --once --event-example oss   # in a crate: builds and runs its binary
  cargo tinyfc local --once -- target/debug/examples/hello
  cargo tinyfc local --once --http GET /hello --base-path -- target/debug/examples/hello
  cargo tinyfc local --listen 127.0.0.1:9000 --idle-stop 300 -- ./target/debug/my-function
  cargo tinyfc local --watch --bin my-function --env-file .env --concurrency 4

Front door: every request becomes an HTTP invocation; POST /2023-03-30/functions/NAME/invocations
an event invocation (x-fc-invocation-type: Async: 202 at once, retried as asyncInvokeConfig says).
Stop: GET /pre-stop, SIGTERM, SIGKILL to the instance's process group after --grace; a second
Ctrl-C kills at once. Exit codes: 0 every step succeeded, 1 a step failed, 2 usage, 130 a second
signal.

Credentials sent in x-fc-access-key-id/-secret/x-fc-security-token (and the instance's
ALIBABA_CLOUD_* variables) come from ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and
ALIBABA_CLOUD_SECURITY_TOKEN in your environment, else dummies.";

/// `cargo tinyfc local [OPTIONS] -- COMMAND [ARGS...]`.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(
    about = "Run a Function Compute custom runtime locally, driven as FC drives it.",
    override_usage = "cargo tinyfc local [OPTIONS] [-- COMMAND [ARGS...]]\n       \
                      cargo tinyfc local [--watch] (--bin NAME | --example NAME) [OPTIONS] [-- ARGS...]",
    after_help = AFTER_HELP
)]
pub struct LocalArgs {
    /// Which s.yaml and which function in it.
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// Front door address (port 0: any free port; the line `front door on http://...` says which).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000")]
    pub listen: String,
    /// The function's port, FC_SERVER_PORT (default: customRuntimeConfig.port, else a free port;
    /// 0: a free port).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// The function already listens on --port, started outside `local` (a debugger, a test's
    /// stand-in); COMMAND still runs as the instance. Skips the checks that the port is free
    /// before the start and that the function listens on all addresses.
    #[arg(long, requires = "port")]
    pub external_function: bool,
    /// FC_FUNCTION_NAME and x-fc-function-name (default: functionName, else local-function).
    #[arg(long, value_name = "NAME")]
    pub function_name: Option<String>,
    /// FC_REGION and x-fc-region (default: region, else cn-hangzhou).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// FC_ACCOUNT_ID and x-fc-account-id.
    #[arg(long, value_name = "ID", default_value = "1234567890")]
    pub account_id: String,
    /// FC_FUNCTION_MEMORY_SIZE and x-fc-function-memory in MB (default: memorySize, else 512);
    /// held to memorySize's rule: a multiple of 64 from 128 to 32768.
    #[arg(long, value_name = "MB")]
    pub memory: Option<u32>,
    /// x-fc-function-timeout, 1 to 86400 s; past it an invocation times out (default: timeout,
    /// else 60).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub timeout: Option<u32>,
    /// FC_SERVICE_NAME and x-fc-service-name.
    #[arg(long, value_name = "NAME", default_value = "local-service")]
    pub service_name: String,
    /// FC_QUALIFIER and x-fc-qualifier.
    #[arg(long, value_name = "Q", default_value = "LATEST")]
    pub qualifier: String,
    /// Call POST /initialize after start-up (default: when s.yaml configures an initializer, or
    /// when there is no s.yaml).
    #[arg(long, overrides_with = "no_initializer")]
    pub initializer: bool,
    /// Never call POST /initialize (the function's first invocation runs its initializer).
    #[arg(long)]
    pub no_initializer: bool,
    /// Limit for one /initialize call, above 0; past it the instance restarts (default: the
    /// initializer's timeout, else 60).
    #[arg(long, value_name = "SECS", value_parser = limit_seconds)]
    pub init_timeout: Option<Duration>,
    /// Retries after a 400/404 answer to /initialize before giving up.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub init_retries: u32,
    /// Restarts after a 500, a crash or a timeout of /initialize before giving up; also restarts
    /// for failed health checks in a row before the platform gives up (exit 1).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_restarts: u32,
    /// How long the instance may take to listen (FC: 120 s).
    #[arg(long, value_name = "SECS", default_value = "120", value_parser = seconds)]
    pub start_timeout: Duration,
    /// KEY=VALUE lines for the instance's environment, over s.yaml's environmentVariables.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<String>,
    /// Invocations in the instance at once, 1 to 200 (default: instanceConcurrency, else 1, FC's
    /// default); the rest wait in the front door.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=200))]
    pub concurrency: Option<u16>,
    /// Invocations that may wait for a place (0 to 1024); past it: 429 ResourceThrottled.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub queue_limit: u16,
    /// Build the crate's --bin/--example, run it, rebuild and restart it when src/, examples/ or
    /// Cargo.toml change (a failed build keeps the old one).
    #[arg(long)]
    pub watch: bool,
    /// Run the binary `cargo build --bin NAME` builds (the arguments after -- go to it); needed
    /// with --watch, and without a command when the crate has several binaries.
    #[arg(long, value_name = "NAME", conflicts_with = "example")]
    pub bin: Option<String>,
    /// Run the example `cargo build --example NAME` builds, as --bin.
    #[arg(long, value_name = "NAME")]
    pub example: Option<String>,
    /// The crate to build and run (default: ./Cargo.toml), as --bin.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<String>,
    /// What --once and --invoke send.
    #[command(flatten)]
    pub call: crate::cli::CallArgs,
    /// With --http: call as FC does without a custom domain, PATH under
    /// /2016-08-15/proxy/SERVICE/FUNCTION/ and that prefix in x-fc-base-path.
    #[arg(long, requires = "http")]
    pub base_path: bool,
    /// Start, initialize, one invocation, pre-stop, stop; exit 0 only if every step succeeded.
    #[arg(long, conflicts_with_all = ["invoke", "watch"])]
    pub once: bool,
    /// Like --once with N invocations, one after the other.
    #[arg(long, value_name = "N", conflicts_with = "watch")]
    pub invoke: Option<u32>,
    /// With --once/--invoke: initialize, invoke, pre-stop N times on the same instance, as FC
    /// freezes and thaws it.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub lives: u32,
    /// Serving: stop after SECS without a request.
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub idle_stop: Option<Duration>,
    /// After SIGTERM, how long before SIGKILL.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub grace: Duration,
    /// Limit for GET /pre-stop, above 0 (default: the preStop hook's timeout, else 20; the
    /// runtime drains in-flight invocations first).
    #[arg(long, value_name = "SECS", value_parser = limit_seconds)]
    pub prestop_timeout: Option<Duration>,
    /// The function's command and arguments (with --watch, --bin, --example or --manifest-path:
    /// the arguments only). Default: s.yaml's customRuntimeConfig command and args, else
    /// bootstrap in its code directory, else the binary of the cargo package here, built.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl LocalArgs {
    /// The s.yaml to read: `--config`'s, else s.yaml or s.yml here if there is one.
    pub fn manifest_file(&self) -> Option<PathBuf> {
        if let Some(file) = &self.manifest.config {
            return Some(file.clone());
        }
        crate::syaml::DEFAULT_FILES
            .iter()
            .map(PathBuf::from)
            .find(|f| f.is_file())
    }
}
