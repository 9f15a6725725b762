//! The rules s deploy and FC apply to a function's props: the fc3 component's `src/schema.json`
//! (required props, enums, ranges, trigger configs) and what FC's API and docs add to it (the
//! function name, the vCPU step and memory ratio, the environment's size, health-check ranges).

use yaml_serde::Value;

use super::{Findings, Source};
use crate::syaml::{FunctionProps, LogConfig};

/// The fc3 schema's `IRegion`.
#[rustfmt::skip]
const REGIONS: &[&str] = &[
    "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ap-southeast-5", "ap-southeast-7", "cn-beijing", "cn-chengdu",
    "cn-hangzhou", "cn-heyuan-acdr-1", "cn-hongkong", "cn-huhehaote", "cn-qingdao", "cn-shanghai",
    "cn-shanghai-cloudspe", "cn-shanghai-finance-1", "cn-shenzhen", "cn-wulanchabu",
    "cn-zhangjiakou", "eu-central-1", "eu-west-1", "me-central-1", "us-east-1", "us-west-1",
];

/// The fc3 schema's `IRuntime`.
#[rustfmt::skip]
const RUNTIMES: &[&str] = &[
    "custom", "custom-container", "micro-sandbox", "custom.debian10", "custom.debian11",
    "custom.debian12", "dotnetcore2.1", "dotnetcore3.1", "go1", "java11", "java8", "nodejs10",
    "nodejs12", "nodejs14", "nodejs16", "nodejs18", "nodejs20", "nodejs8", "php7.2", "python2.7",
    "python3", "python3.10", "python3.12", "python3.9",
];

/// Checks `p` (and `raw`, the props as written) against the fc3 schema and FC's rules.
pub fn check(p: &FunctionProps, raw: &Value, out: &mut Findings) {
    required(p, out);
    let s = Source::Schema;
    if let Some(region) = &p.region {
        if !REGIONS.contains(&region.as_str()) {
            out.error(s, "region", format!("{region:?} is not an FC region"));
        }
    }
    if let Some(runtime) = &p.runtime {
        if !RUNTIMES.contains(&runtime.as_str()) {
            out.error(
                s,
                "runtime",
                format!("{runtime:?} is not one of {}", RUNTIMES.join(", ")),
            );
        }
    }
    if let Some(name) = &p.function_name {
        function_name(name, out);
    }
    if let Some(m) = p.memory_size {
        if m % 64 != 0 || !(128..=32768).contains(&m) {
            let rule = "a multiple of 64 from 128 to 32768 (MB)";
            out.error(s, "memorySize", format!("{m} is not {rule}"));
        }
    }
    if let Some(cpu) = p.cpu {
        cpu_rules(cpu, p.memory_size.unwrap_or(512), out);
    }
    if let Some(d) = p.disk_size {
        if d != 512 && d != 10240 {
            out.error(s, "diskSize", format!("{d} is neither 512 nor 10240 (MB)"));
        }
    }
    range(out, s, "timeout", p.timeout, 1, 86400);
    range(
        out,
        s,
        "instanceConcurrency",
        p.instance_concurrency,
        1,
        200,
    );
    if let Some(hooks) = &p.instance_lifecycle_config {
        for (name, hook) in [
            ("initializer", &hooks.initializer),
            ("preStop", &hooks.pre_stop),
        ] {
            let field = format!("instanceLifecycleConfig.{name}.timeout");
            range(
                out,
                s,
                &field,
                hook.as_ref().and_then(|h| h.timeout),
                1,
                u32::MAX,
            );
        }
    }
    let health = [
        (
            "customRuntimeConfig",
            p.custom_runtime_config
                .as_ref()
                .and_then(|c| c.health_check_config.as_ref()),
        ),
        (
            "customContainerConfig",
            p.custom_container_config
                .as_ref()
                .and_then(|c| c.health_check_config.as_ref()),
        ),
    ];
    for (parent, hc) in health {
        let Some(hc) = hc else { continue };
        let at = |f: &str| format!("{parent}.healthCheckConfig.{f}");
        // FC's health-check page: these ranges.
        range(
            out,
            Source::Fc,
            &at("initialDelaySeconds"),
            hc.initial_delay_seconds,
            0,
            120,
        );
        range(
            out,
            Source::Fc,
            &at("periodSeconds"),
            hc.period_seconds,
            1,
            120,
        );
        range(
            out,
            Source::Fc,
            &at("timeoutSeconds"),
            hc.timeout_seconds,
            1,
            3,
        );
        range(
            out,
            Source::Fc,
            &at("failureThreshold"),
            hc.failure_threshold,
            1,
            120,
        );
        range(
            out,
            Source::Fc,
            &at("successThreshold"),
            hc.success_threshold,
            1,
            120,
        );
        if hc
            .http_get_url
            .as_deref()
            .is_some_and(|u| !u.starts_with('/'))
        {
            out.error(
                Source::Fc,
                at("httpGetUrl"),
                "a path starting with /".into(),
            );
        }
    }
    if let Some(a) = &p.async_invoke_config {
        let age = a.max_async_event_age_in_seconds;
        range(
            out,
            s,
            "asyncInvokeConfig.maxAsyncEventAgeInSeconds",
            age,
            1,
            2_592_000,
        );
        let retries = a.max_async_retry_attempts;
        range(
            out,
            s,
            "asyncInvokeConfig.maxAsyncRetryAttempts",
            retries,
            0,
            8,
        );
    }
    match &p.log_config {
        Some(LogConfig::Auto(v)) if v != "auto" => {
            out.error(
                s,
                "logConfig",
                format!("{v:?}: `auto` or {{project, logstore}}"),
            );
        }
        Some(LogConfig::Sls(l)) => {
            if l.project.is_none() || l.logstore.is_none() {
                out.error(s, "logConfig", "needs both project and logstore".into());
            }
            let rule = l.log_begin_rule.as_deref();
            if rule.is_some_and(|r| r != "DefaultRegex" && r != "None") {
                out.error(s, "logConfig.logBeginRule", "DefaultRegex or None".into());
            }
        }
        _ => {}
    }
    environment(p, out);
    super::triggers::check(p, out);
    super::keys::check(raw, out);
}

/// The schema's `required`, and its if/then/else on `runtime`.
fn required(p: &FunctionProps, out: &mut Findings) {
    let runtime = p.runtime.as_deref().unwrap_or_default();
    let present = [
        ("region", p.region.is_some()),
        ("functionName", p.function_name.is_some()),
        ("runtime", p.runtime.is_some()),
    ];
    let mut missing: Vec<&str> = present
        .iter()
        .filter(|(_, here)| !here)
        .map(|(n, _)| *n)
        .collect();
    if p.runtime.is_some() {
        if runtime == "custom-container" || runtime == "micro-sandbox" {
            if p.custom_container_config.is_none() {
                missing.push("customContainerConfig");
            }
        } else {
            if p.code.is_none() {
                missing.push("code");
            }
            if !runtime.starts_with("custom") && p.handler.is_none() {
                missing.push("handler");
            }
        }
    }
    for field in missing {
        out.error(Source::Schema, field, "required".into());
    }
}

/// FC's CreateFunction (FC 3.0 API): letters, digits, _ and -, not starting with a digit or -,
/// 1 to 128 characters.
fn function_name(name: &str, out: &mut Findings) {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let ok_start = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    if !(ok_chars && ok_start && (1..=128).contains(&name.len())) {
        let rule = "letters, digits, _ and -, starting with a letter or _, 1 to 128 characters";
        out.error(Source::Fc, "functionName", format!("{name:?}: {rule}"));
    }
}

/// The schema's 0.05-16, and FC's rules: a multiple of 0.05, 1 to 4 GB of memory per vCPU.
fn cpu_rules(cpu: f64, memory_mb: u32, out: &mut Findings) {
    if !(0.05..=16.0).contains(&cpu) {
        out.error(
            Source::Schema,
            "cpu",
            format!("{cpu} is not from 0.05 to 16 (vCPUs)"),
        );
        return;
    }
    let steps = cpu / 0.05;
    if (steps - steps.round()).abs() > 1e-6 {
        out.error(
            Source::Fc,
            "cpu",
            format!("{cpu} is not a multiple of 0.05"),
        );
    }
    let gb_per_cpu = f64::from(memory_mb) / 1024.0 / cpu;
    if !(1.0 - 1e-9..=4.0 + 1e-9).contains(&gb_per_cpu) {
        let rule = format!(
            "memorySize {memory_mb} MB for {cpu} vCPU is {gb_per_cpu:.2} GB per vCPU; FC takes 1 to 4"
        );
        out.error(Source::Fc, "cpu", rule);
    }
}

/// FC's environment-variable page: `FC_*` is the platform's, and the user's variables take 4 KB
/// in all.
fn environment(p: &FunctionProps, out: &mut Findings) {
    let mut size = 0;
    for (name, value) in p.environment_variables.iter() {
        size += name.len() + value.len();
        if name.starts_with("FC_") {
            let field = format!("environmentVariables.{name}");
            out.error(
                Source::Fc,
                field,
                "FC_* names are reserved for the platform".into(),
            );
        }
    }
    if size > 4096 {
        let rule = format!("{size} bytes of names and values; FC takes 4 KB in all");
        out.error(Source::Fc, "environmentVariables", rule);
    }
}

/// `value`, when given, is from `min` to `max`.
fn range(out: &mut Findings, source: Source, field: &str, value: Option<u32>, min: u32, max: u32) {
    if let Some(v) = value.filter(|v| !(min..=max).contains(v)) {
        let rule = if max == u32::MAX {
            format!("{v} is less than {min}")
        } else {
            format!("{v} is not from {min} to {max}")
        };
        out.error(source, field, rule);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(cpu: f64, memory_mb: u32) -> Vec<String> {
        let mut out = Findings::default();
        cpu_rules(cpu, memory_mb, &mut out);
        out.0.into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn cpu_is_a_multiple_of_005_with_1_to_4_gb_per_vcpu() {
        for (c, m) in [
            (0.1, 128),
            (0.05, 128),
            (0.35, 512),
            (1.0, 1024),
            (1.0, 4096),
            (16.0, 32768),
        ] {
            assert!(cpu(c, m).is_empty(), "{c} vCPU, {m} MB: {:?}", cpu(c, m));
        }
        assert!(cpu(1.0, 512)[0].contains("0.50 GB per vCPU"));
        assert!(cpu(0.1, 512)[0].contains("5.00 GB per vCPU"));
        assert!(cpu(0.12, 128)[0].contains("multiple of 0.05"));
        assert!(cpu(0.0, 128)[0].contains("from 0.05 to 16"));
    }
}
