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
/// s.yaml's timeouts are at least 1 s (`cargo tinyfc check`'s rule, applied before:
/// src/local/deploy_rules.rs); the flags refuse 0 when parsed (`cli::limit_seconds`).
pub fn hooks(a: &LocalArgs, configured: bool, config: &InstanceLifecycleConfig) -> Hooks {
    let set = |h: &Option<LifecycleHook>| {
        h.as_ref()
            .is_some_and(|h| h.handler.as_deref().is_some_and(|s| !s.is_empty()))
    };
    let limit = |flag: Option<Duration>, h: &Option<LifecycleHook>, default: u64| {
        flag.unwrap_or_else(|| {
            let t = h.as_ref().and_then(|h| h.timeout);
            Duration::from_secs(t.map_or(default, u64::from))
        })
    };
    Hooks {
        initializer: !a.no_initializer
            && (a.initializer || !configured || set(&config.initializer)),
        pre_stop: !configured || set(&config.pre_stop),
        init_timeout: limit(a.init_timeout, &config.initializer, 60),
        prestop_timeout: limit(a.prestop_timeout, &config.pre_stop, 20),
    }
}
