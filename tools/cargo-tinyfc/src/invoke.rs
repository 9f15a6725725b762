//! `cargo tinyfc invoke`: one call to a `cargo tinyfc local` that is already serving, as
//! `cargo lambda invoke` calls `cargo lambda watch`: an event through FC's InvokeFunction path, or
//! an HTTP request of the user's choice. The answer's body goes to stdout, its status and FC's
//! headers to stderr.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use tinyfc::client;

use crate::cli::{event_example, read_event, seconds, CallArgs, Exit, UsageError};
use crate::syaml::{Manifest, ManifestArgs};

/// `cargo tinyfc invoke [--event FILE | --event-example NAME] [--http METHOD PATH]`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    about = "Call a `cargo tinyfc local` that is serving: an event, or an HTTP request.",
    after_help = "examples:
  cargo tinyfc invoke --event event.json
  cargo tinyfc invoke --event-example oss --async
  cargo tinyfc invoke --http GET /hello
  cargo tinyfc invoke --http POST /items --event item.json --address 127.0.0.1:9000

Exit codes: 0 the function succeeded (a 2xx/3xx answer without X-Fc-Error-Type; 202 for
--async), 1 it failed or local could not be reached, 2 usage."
)]
pub struct InvokeArgs {
    /// The front door of the running `cargo tinyfc local` (its --listen).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000")]
    pub address: String,
    /// What to send.
    #[command(flatten)]
    pub call: CallArgs,
    /// An asynchronous event invocation (x-fc-invocation-type: Async): 202 at once.
    #[arg(long = "async", conflicts_with = "http")]
    pub asynchronous: bool,
    /// The function's name in the InvokeFunction path (default: s.yaml's functionName, else
    /// local-function).
    #[arg(long, value_name = "NAME")]
    pub function_name: Option<String>,
    /// Which s.yaml (for the function's name).
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// How long to wait for the answer.
    #[arg(long, value_name = "SECS", default_value = "900", value_parser = seconds)]
    pub timeout: Duration,
}

/// `cargo tinyfc invoke ARGS`.
pub fn main(a: InvokeArgs) -> Exit {
    let body = match (&a.call.event, &a.call.event_example) {
        (_, Some(name)) => event_example(name).map_err(UsageError)?.as_bytes().to_vec(),
        (path, None) => read_event(path.as_deref()).map_err(UsageError)?,
    };
    let (method, path, mut headers) = match &a.call.http {
        Some(mh) => (mh[0].to_ascii_uppercase(), mh[1].clone(), Vec::new()),
        None => {
            let name = match &a.function_name {
                Some(n) => n.clone(),
                None => function_name(&a.manifest)?,
            };
            let path = format!("/2023-03-30/functions/{name}/invocations");
            (String::from("POST"), path, Vec::new())
        }
    };
    if a.asynchronous {
        headers.push(("x-fc-invocation-type", "Async"));
    }
    let answer = client::request(
        a.address.as_str(),
        &method,
        &path,
        &headers,
        &body,
        a.timeout,
    );
    let r = match answer {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "cargo tinyfc invoke: {method} http://{}{path}: {e} (is `cargo tinyfc local --listen {}` serving?)",
                a.address, a.address
            );
            return Ok(1);
        }
    };
    let error_type = r.header("x-fc-error-type");
    eprintln!("{method} {path} -> {}", r.status);
    for name in ["x-fc-request-id", "x-fc-error-type", "content-type"] {
        if let Some(v) = r.header(name) {
            eprintln!("{name}: {v}");
        }
    }
    let _ = std::io::stdout().write_all(&r.body);
    if !r.body.is_empty() && !r.body.ends_with(b"\n") {
        println!();
    }
    let ok = if a.asynchronous {
        r.status == 202
    } else {
        (200..400).contains(&r.status) && error_type.is_none()
    };
    Ok(if ok { 0 } else { 1 })
}

/// s.yaml's functionName (when there is an s.yaml), else `local-function`, as `local` names it.
fn function_name(manifest: &ManifestArgs) -> Result<String, UsageError> {
    let has_file = manifest.config.is_some()
        || crate::syaml::DEFAULT_FILES
            .iter()
            .any(|f| Path::new(f).is_file());
    if !has_file {
        return Ok("local-function".into());
    }
    let file = Manifest::find(manifest.config.as_deref(), Path::new("."))
        .map_err(|e| UsageError(e.to_string()))?;
    let function = file
        .select(manifest.resource.as_deref())
        .map_err(|e| UsageError(e.to_string()))?;
    Ok(function
        .props
        .function_name
        .clone()
        .unwrap_or_else(|| "local-function".into()))
}
