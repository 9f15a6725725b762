//! What `local` runs with: the flags (src/local/args.rs) over the function's s.yaml props over
//! FC's defaults, checked once by `cargo tinyfc check`'s rules (src/local/deploy_rules.rs), so the
//! platform never sees a value FC would refuse.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::args::LocalArgs;
use crate::syaml::{HealthCheckConfig, Manifest};

/// The credentials sent to the function: secrets, so their `Debug` says nothing of them.
#[derive(Clone)]
pub struct Credentials {
    /// x-fc-access-key-id, ALIBABA_CLOUD_ACCESS_KEY_ID.
    pub key_id: String,
    /// x-fc-access-key-secret, ALIBABA_CLOUD_ACCESS_KEY_SECRET.
    pub key_secret: String,
    /// x-fc-security-token, ALIBABA_CLOUD_SECURITY_TOKEN.
    pub security_token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(redacted)")
    }
}

/// The instance's variables, in order. Values are where users put secrets, so `Debug` shows the
/// names only.
#[derive(Clone, Default)]
pub struct Variables(pub Vec<(String, String)>);

impl std::ops::Deref for Variables {
    type Target = Vec<(String, String)>;

    fn deref(&self) -> &Vec<(String, String)> {
        &self.0
    }
}

impl std::fmt::Debug for Variables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, _)| (k, "<redacted>")))
            .finish()
    }
}

/// Asynchronous invocations as `asyncInvokeConfig` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncConfig {
    /// `maxAsyncRetryAttempts`: retries after a failed attempt (FC's default 3, 0 to 8).
    pub max_retries: u32,
    /// `maxAsyncEventAgeInSeconds`: no attempt starts past this age (FC's default 18000 s).
    pub max_age: Duration,
    /// `destinationConfig.onSuccess.destination`.
    pub on_success: Option<String>,
    /// `destinationConfig.onFailure.destination`.
    pub on_failure: Option<String>,
}

impl Default for AsyncConfig {
    fn default() -> AsyncConfig {
        AsyncConfig {
            max_retries: 3,
            max_age: Duration::from_secs(18_000),
            on_success: None,
            on_failure: None,
        }
    }
}

/// What the platform runs with.
#[derive(Debug, Clone)]
pub struct Options {
    /// Front door address (`--listen`).
    pub listen: String,
    /// The function's port (`--port`, customRuntimeConfig.port); None: a free one.
    pub port: Option<u16>,
    /// `--external-function`: the function on `port` was started outside `local`.
    pub external_function: bool,
    /// `--function-name`, functionName.
    pub function_name: String,
    /// `--region`, region.
    pub region: String,
    /// `--account-id`.
    pub account_id: String,
    /// `--memory`, memorySize, in MB.
    pub memory_mb: u32,
    /// `--timeout`, timeout, in seconds (1 to 86400).
    pub timeout_s: u32,
    /// `--service-name`.
    pub service_name: String,
    /// `--qualifier`.
    pub qualifier: String,
    /// Whether to call POST /initialize (`--no-initializer`; s.yaml without an initializer).
    pub initializer: bool,
    /// Whether to call GET /pre-stop (s.yaml without a preStop hook: FC does not call it).
    pub pre_stop: bool,
    /// `--init-timeout`, the initializer's timeout: one /initialize call's limit.
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
    /// `--http METHOD PATH`: one-shot invocations are HTTP ones.
    pub http: Option<(String, String)>,
    /// `--base-path`: the prefix FC puts before PATH without a custom domain (x-fc-base-path).
    pub base_path: Option<String>,
    /// One-shot invocations (`--once` is 1); None: serve the front door.
    pub invocations: Option<u32>,
    /// `--idle-stop`: stop serving after this long without a request.
    pub idle_stop: Option<Duration>,
    /// `--grace`: SIGTERM to SIGKILL.
    pub grace: Duration,
    /// `--prestop-timeout`, the preStop hook's timeout: GET /pre-stop's limit.
    pub prestop_timeout: Duration,
    /// The credentials (from the environment, else dummies).
    pub credentials: Credentials,
    /// The function's command and arguments (after `--`, or customRuntimeConfig's); with
    /// `build`, the arguments only until the first build names the executable.
    pub command: Vec<String>,
    /// environmentVariables, then `--env-file`'s: the instance's variables, in that order.
    pub env: Variables,
    /// `--concurrency`, instanceConcurrency: invocations in the instance at once.
    pub concurrency: usize,
    /// `--queue-limit`: invocations that may wait for the instance.
    pub queue_limit: usize,
    /// `--lives`: lives of the instance for one-shot invocations.
    pub lives: u32,
    /// The binary to build with cargo and run (`--watch`, `--bin`, or the crate here).
    pub build: Option<Build>,
    /// customRuntimeConfig.healthCheckConfig.
    pub health_check: Option<HealthCheckConfig>,
    /// asyncInvokeConfig.
    pub asynchronous: AsyncConfig,
    /// The HTTP trigger's `methods` (None: any).
    pub http_methods: Option<Vec<String>>,
    /// Where the configuration came from (`s.yaml, resource hello`), for the log.
    pub source: Option<String>,
    /// What `cargo tinyfc check` warns of in the configuration, one line each, said at the start.
    pub warnings: Vec<String>,
}

/// The function `local` builds with cargo before it starts it.
#[derive(Debug, Clone)]
pub struct Build {
    /// What cargo builds.
    pub target: Target,
    /// `--watch`: rebuild and restart when the sources change.
    pub watch: bool,
}

/// What cargo builds: `--bin`, `--example` or the crate's only binary.
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

impl Options {
    /// The flags over the function's s.yaml props (when there is an s.yaml) over FC's defaults.
    pub fn from_args(a: LocalArgs) -> Result<Options, String> {
        let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
        let (manifest, function) = match a.manifest_file() {
            Some(file) => {
                let manifest =
                    Manifest::find(Some(&file), Path::new(".")).map_err(|e| e.to_string())?;
                let function = manifest
                    .select(a.manifest.resource.as_deref())
                    .map_err(|e| e.to_string())?
                    .clone();
                (Some(manifest), Some(function))
            }
            None if a.manifest.resource.is_some() => {
                return Err("--resource: there is no s.yaml (--config FILE names one)".into())
            }
            None => (None, None),
        };
        let warnings = super::deploy_rules::apply(&a, manifest.as_ref(), function.as_ref())?;
        let p = function
            .as_ref()
            .map(|f| f.props.clone())
            .unwrap_or_default();
        let hooks = p.instance_lifecycle_config.clone().unwrap_or_default();
        let runtime = p.custom_runtime_config.clone().unwrap_or_default();
        let hooks = super::hooks::hooks(&a, function.is_some(), &hooks);
        // In FC's ranges: deploy_rules refused anything else.
        let timeout_s = a.timeout.or(p.timeout).unwrap_or(60);
        let concurrency = a
            .concurrency
            .map(usize::from)
            .or(p.instance_concurrency.map(|c| c as usize))
            .unwrap_or(1);
        let mut vars: Vec<(String, String)> =
            p.environment_variables.0.clone().into_iter().collect();
        if let Some(path) = &a.env_file {
            vars.extend(super::env_file::read(path)?);
        }
        let event_example = a
            .call
            .event_example
            .as_deref()
            .map(crate::cli::event_example)
            .transpose()?;
        let invocations = match (a.once, a.invoke) {
            (true, _) => Some(1),
            (false, n) => n,
        };
        if (a.call.event_example.is_some() || a.call.http.is_some()) && invocations.is_none() {
            return Err("--event-example and --http need --once or --invoke N".into());
        }
        if a.lives > 1 && invocations.is_none() {
            return Err("--lives needs --once or --invoke N".into());
        }
        let function_name = a
            .function_name
            .or(p.function_name.clone())
            .unwrap_or_else(|| "local-function".into());
        let http = a
            .call
            .http
            .map(|v| (v[0].to_ascii_uppercase(), v[1].clone()));
        if let Some((_, path)) = &http {
            if !path.starts_with('/') {
                return Err(format!("--http: the path {path:?} must start with /"));
            }
        }
        let base_path = a
            .base_path
            .then(|| format!("/2016-08-15/proxy/{}/{function_name}", a.service_name));
        let target = Target {
            bin: a.bin,
            example: a.example,
            manifest_path: a.manifest_path,
        };
        let named = target.bin.is_some() || target.example.is_some();
        if a.watch && !named {
            return Err("--watch needs one --bin NAME or --example NAME".into());
        }
        let (build, command) = if a.watch || named || target.manifest_path.is_some() {
            (Some(target), a.command)
        } else if !a.command.is_empty() {
            (None, a.command)
        } else {
            match configured_command(manifest.as_ref(), &p) {
                Ok(command) => (None, command),
                // No command and no bootstrap: the binary of the cargo package here.
                Err(_) if target.manifest().is_file() => (Some(target), Vec::new()),
                Err(e) => return Err(e),
            }
        };
        let build = build.map(|target| Build {
            target,
            watch: a.watch,
        });
        let http_methods = p
            .triggers
            .iter()
            .find_map(|t| t.http())
            .and_then(|c| c.ok())
            .map(|c| c.methods);
        let http_methods = http_methods.filter(|m| !m.is_empty());
        let asynchronous = async_config(p.async_invoke_config.as_ref());
        let source = function
            .as_ref()
            .zip(manifest.as_ref())
            .map(|(f, m)| format!("{}, resource {}", m.file.display(), f.resource));
        Ok(Options {
            listen: a.listen,
            port: match a.port.or(runtime.port) {
                Some(0) | None => None,
                port => port,
            },
            external_function: a.external_function,
            function_name,
            region: a
                .region
                .or(p.region.clone())
                .unwrap_or_else(|| "cn-hangzhou".into()),
            account_id: a.account_id,
            memory_mb: a.memory.or(p.memory_size).unwrap_or(512),
            timeout_s,
            service_name: a.service_name,
            qualifier: a.qualifier,
            initializer: hooks.initializer,
            pre_stop: hooks.pre_stop,
            init_timeout: hooks.init_timeout,
            init_retries: a.init_retries,
            max_restarts: a.max_restarts,
            start_timeout: a.start_timeout,
            event: a.call.event,
            event_example,
            http,
            base_path,
            invocations,
            idle_stop: a.idle_stop,
            grace: a.grace,
            prestop_timeout: hooks.prestop_timeout,
            credentials: Credentials {
                key_id: env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-local-dummy-key-id"),
                key_secret: env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "local-dummy-key-secret"),
                security_token: env("ALIBABA_CLOUD_SECURITY_TOKEN", "local-dummy-security-token"),
            },
            command,
            env: Variables(vars),
            concurrency,
            queue_limit: usize::from(a.queue_limit),
            lives: a.lives,
            build,
            health_check: runtime.health_check_config.clone(),
            asynchronous,
            http_methods,
            source,
            warnings,
        })
    }
}

/// The command s.yaml gives: customRuntimeConfig's command and args (`/code/...` is the code
/// directory), else `bootstrap` in the code directory, as FC runs `/code/bootstrap`.
fn configured_command(
    manifest: Option<&Manifest>,
    p: &crate::syaml::FunctionProps,
) -> Result<Vec<String>, String> {
    const NONE: &str = "no function command: give it after -- (or in s.yaml's \
                        customRuntimeConfig, or run in a cargo package)";
    let Some(manifest) = manifest else {
        return Err(NONE.into());
    };
    let base = manifest
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let code = p
        .code
        .as_ref()
        .and_then(|c| c.local_path())
        .map(|c| base.join(c));
    let code_dir = code.filter(|c| c.is_dir());
    let on_disk = |arg: &str| -> String {
        match (arg.strip_prefix("/code/"), &code_dir) {
            (Some(rest), Some(dir)) => dir.join(rest).display().to_string(),
            _ => arg.to_string(),
        }
    };
    let runtime = p.custom_runtime_config.clone().unwrap_or_default();
    if !runtime.command.is_empty() {
        return Ok(runtime
            .command
            .iter()
            .chain(&runtime.args)
            .map(|a| on_disk(a))
            .collect());
    }
    match code_dir
        .map(|d| d.join("bootstrap"))
        .filter(|b| b.is_file())
    {
        Some(bootstrap) => Ok(vec![bootstrap.display().to_string()]),
        None => Err(format!(
            "{NONE}; {} has no code directory with a bootstrap",
            manifest.file.display()
        )),
    }
}

/// asyncInvokeConfig (in FC's ranges: deploy_rules refused anything else), with FC's defaults.
fn async_config(c: Option<&crate::syaml::AsyncInvokeConfig>) -> AsyncConfig {
    let mut out = AsyncConfig::default();
    let Some(c) = c else { return out };
    if let Some(n) = c.max_async_retry_attempts {
        out.max_retries = n;
    }
    if let Some(age) = c.max_async_event_age_in_seconds {
        out.max_age = Duration::from_secs(age.into());
    }
    let arn =
        |d: &Option<crate::syaml::Destination>| d.as_ref().and_then(|d| d.destination.clone());
    if let Some(d) = &c.destination_config {
        out.on_success = arn(&d.on_success);
        out.on_failure = arn(&d.on_failure);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: LocalArgs,
    }

    fn parse(args: &[&str]) -> Result<Options, String> {
        let cli = Cli::try_parse_from(std::iter::once("local").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Options::from_args(cli.args)
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
    fn without_a_command_the_crate_here_is_built_and_bad_numbers_are_errors() {
        // Without a command, the crate here (this tool's) is built and run.
        assert!(parse(&["--once"]).is_ok_and(|o| o.build.is_some()));
        assert!(parse(&["--watch"]).is_err(), "--watch needs --bin");
        assert!(parse(&["--grace", "soon", "--", "x"]).is_err());
        assert!(parse(&["--bogus", "--", "x"]).is_err());
        assert!(parse(&["--timeout", "0", "--", "x"]).is_err());
        assert!(parse(&["--concurrency", "201", "--", "x"]).is_err());
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let o = parse(&["--", "x"]).unwrap();
        let shown = format!("{o:?}");
        assert!(!shown.contains(&o.credentials.key_secret), "{shown}");
        assert!(!shown.contains(&o.credentials.security_token), "{shown}");
    }
}
