//! tinyfc's own rules: what the props must say for the runtime inside to work as documented. The
//! runtime's settings are read from `environmentVariables` by `tinyfc::Config::from_lookup`, as
//! the runtime reads them on FC, so the defaults and the parsing are the runtime's own.

use std::io::Read;
use std::path::Path;

use super::{Findings, Source};
use crate::syaml::FunctionProps;

/// FC's default port (`customRuntimeConfig.port` / `customContainerConfig.port` unset).
const FC_DEFAULT_PORT: u16 = 9000;

/// Seconds the preStop timeout keeps over the drain: the pre_stop hook itself, and the answer.
const PRE_STOP_MARGIN_S: u64 = 5;

/// Checks the props against the runtime's settings; `base` is s.yaml's directory (the code path
/// is relative to it).
pub fn check(p: &FunctionProps, base: &Path, out: &mut Findings) {
    let s = Source::Tinyfc;
    if p.runtime.as_deref() == Some("custom.debian10") {
        let rule =
            "custom.debian10 is end of life: custom.debian12 (or 11) runs the same static binary";
        out.warn(Source::Fc, "runtime", rule.into());
    }
    let port = p
        .custom_runtime_config
        .as_ref()
        .and_then(|c| c.port)
        .or(p.custom_container_config.as_ref().and_then(|c| c.port))
        .unwrap_or(FC_DEFAULT_PORT);
    // FC tells the instance its port in FC_CUSTOM_LISTEN_PORT; the user's variables come on top.
    let env = &p.environment_variables;
    let lookup = |key: &str| match env.get(key) {
        Some(v) => Some(v.clone()),
        None => (key == "FC_CUSTOM_LISTEN_PORT").then(|| port.to_string()),
    };
    let config = match tinyfc::Config::from_lookup(lookup) {
        Ok(c) => c,
        Err(e) => {
            out.error(
                s,
                "environmentVariables",
                format!("the runtime refuses it: {e}"),
            );
            return;
        }
    };
    if config.port != port {
        let rule = format!(
            "the runtime would listen on {} (from the environment) but FC sends to port {port}",
            config.port
        );
        out.error(s, "environmentVariables", rule);
    }
    let health_url = [
        p.custom_runtime_config
            .as_ref()
            .and_then(|c| c.health_check_config.as_ref()),
        p.custom_container_config
            .as_ref()
            .and_then(|c| c.health_check_config.as_ref()),
    ]
    .into_iter()
    .flatten()
    .find_map(|h| h.http_get_url.as_deref());
    match (&config.health_path, health_url) {
        (Some(ours), Some(fcs)) if ours != fcs.split('?').next().unwrap_or(fcs) => {
            let rule = format!(
                "TINYFC_HEALTH_PATH {ours} is not healthCheckConfig.httpGetUrl {fcs}: FC's checks \
                 would reach the handler instead"
            );
            out.error(s, "environmentVariables.TINYFC_HEALTH_PATH", rule);
        }
        (Some(ours), None) => {
            let rule =
                format!("TINYFC_HEALTH_PATH {ours} without a healthCheckConfig: FC never GETs it");
            out.warn(s, "environmentVariables.TINYFC_HEALTH_PATH", rule);
        }
        _ => {}
    }
    let concurrency = p.instance_concurrency.unwrap_or(1);
    if (config.workers as u64) < u64::from(concurrency) {
        let rule = format!(
            "TINYFC_WORKERS {} is less than instanceConcurrency {concurrency}: invocations FC sends \
             at once would wait inside the instance, on its timeout",
            config.workers
        );
        out.error(s, "environmentVariables.TINYFC_WORKERS", rule);
    }
    let memory_mb = u64::from(p.memory_size.unwrap_or(512));
    let bodies = u64::from(concurrency) * config.max_body_bytes as u64;
    if bodies > memory_mb * 1024 * 1024 / 2 {
        let rule = format!(
            "instanceConcurrency {concurrency} x TINYFC_MAX_BODY_BYTES {} = {} MB of request bodies \
             at once, over half of memorySize {memory_mb} MB: lower TINYFC_MAX_BODY_BYTES or \
             instanceConcurrency, or raise memorySize",
            config.max_body_bytes,
            bodies / (1024 * 1024)
        );
        out.error(s, "environmentVariables.TINYFC_MAX_BODY_BYTES", rule);
    }
    let pre_stop = p
        .instance_lifecycle_config
        .as_ref()
        .and_then(|h| h.pre_stop.as_ref());
    if let Some(timeout) = pre_stop.and_then(|h| h.timeout) {
        let need = (config.drain.as_millis() as u64).div_ceil(1000) + PRE_STOP_MARGIN_S;
        let drain_ms = config.drain.as_millis();
        if u64::from(timeout) < need {
            let rule = format!(
                "{timeout} s leaves no room after the drain (TINYFC_DRAIN_MS {drain_ms}) for the \
                 pre_stop hook: at least {need} s (the drain + {PRE_STOP_MARGIN_S} s)"
            );
            out.error(s, "instanceLifecycleConfig.preStop.timeout", rule);
        }
    }
    let starts_bootstrap = p
        .runtime
        .as_deref()
        .is_some_and(|r| r.starts_with("custom"))
        && p.runtime.as_deref() != Some("custom-container")
        && p.custom_runtime_config
            .as_ref()
            .is_none_or(|c| c.command.is_empty());
    let code = p.code.as_ref().and_then(|c| c.local_path());
    if let (true, Some(code)) = (starts_bootstrap, code) {
        if let Err(rule) = bootstrap(&base.join(code)) {
            out.error(s, "code", format!("{code}: {rule}"));
        }
    }
}

/// With no `command`, FC runs `/code/bootstrap`: the package must hold an executable `bootstrap`
/// at its root. A package not built yet is not checked.
fn bootstrap(code: &Path) -> Result<(), String> {
    const NO_EXEC: &str = "bootstrap is not executable (FC runs it as it is: mode 0755)";
    if code.is_dir() {
        use std::os::unix::fs::PermissionsExt;
        return match std::fs::metadata(code.join("bootstrap")) {
            Ok(m) if m.permissions().mode() & 0o111 == 0 => Err(NO_EXEC.into()),
            Ok(_) => Ok(()),
            Err(_) => Err("no bootstrap in this directory, which FC starts (no command)".into()),
        };
    }
    let Ok(file) = std::fs::File::open(code) else {
        return Ok(());
    };
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("not a zip: {e}"))?;
    let entry = match zip.by_name("bootstrap") {
        Ok(entry) => entry,
        Err(_) => {
            let rule = "no bootstrap at the zip's root, which FC starts (no command); \
                        `cargo tinyfc zip BINARY OUT.zip` puts it there";
            return Err(rule.into());
        }
    };
    if entry.unix_mode().is_some_and(|m| m & 0o111 == 0) {
        return Err(NO_EXEC.into());
    }
    elf_or_script(entry)
}

/// Whether FC can start `file` as `bootstrap`: an ELF executable or a script (`#!`); Err says
/// it cannot. `check` asks it of a code package's bootstrap and `zip` of the binary it packages.
/// A file that cannot be read is not judged here (opening or zipping it says why).
pub fn elf_or_script(file: impl Read) -> Result<(), String> {
    let mut magic = Vec::with_capacity(4);
    if file.take(4).read_to_end(&mut magic).is_err()
        || magic.starts_with(b"\x7fELF")
        || magic.starts_with(b"#!")
    {
        return Ok(());
    }
    Err("bootstrap is neither an ELF binary nor a script".into())
}
