//! The lifecycle hooks `local` calls and their limits: the flags (`--initializer`,
//! `--no-initializer`, `--init-timeout`, `--prestop-timeout`) over s.yaml's
//! `instanceLifecycleConfig` over FC's defaults.

use std::time::Duration;

use super::args::LocalArgs;
use crate::syaml::{InstanceLifecycleConfig, LifecycleHook};

/// Which hooks are called, and each call's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hooks {
    /// Whether to call POST /initialize.
    pub initializer: bool,
    /// Whether to call GET /pre-stop.
    pub pre_stop: bool,
    /// One /initialize call's limit.
    pub init_timeout: Duration,
    /// GET /pre-stop's limit.
    pub prestop_timeout: Duration,
}

/// The hooks for `a`, with `config` from s.yaml (`configured`: there is an s.yaml). FC calls
/// /initialize and /pre-stop only when the hook has a handler; without an s.yaml both are called.
/// A timeout of 0 in s.yaml is refused naming the prop, as the fc3 schema does (at least 1 s) and
/// as `cargo tinyfc check` calls it an error; the flags refuse 0 when parsed (`cli::limit_seconds`).
pub fn hooks(
    a: &LocalArgs,
    configured: bool,
    config: &InstanceLifecycleConfig,
) -> Result<Hooks, String> {
    let set = |h: &Option<LifecycleHook>| {
        h.as_ref()
            .is_some_and(|h| h.handler.as_deref().is_some_and(|s| !s.is_empty()))
    };
    let limit = |flag: Option<Duration>, name: &str, h: &Option<LifecycleHook>, default: u64| match (
        flag,
        h.as_ref().and_then(|h| h.timeout),
    ) {
        (Some(t), _) => Ok(t),
        (None, Some(0)) => Err(format!(
            "instanceLifecycleConfig.{name}.timeout: 0 is less than 1 second, as FC"
        )),
        (None, t) => Ok(Duration::from_secs(t.map_or(default, u64::from))),
    };
    Ok(Hooks {
        initializer: !a.no_initializer
            && (a.initializer || !configured || set(&config.initializer)),
        pre_stop: !configured || set(&config.pre_stop),
        init_timeout: limit(a.init_timeout, "initializer", &config.initializer, 60)?,
        prestop_timeout: limit(a.prestop_timeout, "preStop", &config.pre_stop, 20)?,
    })
}
