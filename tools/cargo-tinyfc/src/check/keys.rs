//! Keys the fc3 schema does not know, at the top of the props and in the objects check models
//! (the lifecycle hooks, customRuntimeConfig, customContainerConfig, their healthCheckConfig,
//! asyncInvokeConfig and its destinations, logConfig, an OSS `code`, each trigger and an HTTP
//! trigger's config): most likely misspelt (`preStop.timout`), and `s deploy` ignores them, so
//! the default applies. A warning each. The lists are the schema's `properties` (devsapp/fc3
//! `src/schema.json`). Other trigger types' configs are not looked into: the schema's lists
//! for them are incomplete (tablestore's is empty).

use yaml_serde::Value;

use super::{Findings, Source};

/// The schema's top-level `properties`.
#[rustfmt::skip]
const PROPS: &[&str] = &[
    "annotations", "asyncInvokeConfig", "code", "concurrencyConfig", "cpu",
    "customContainerConfig", "customDNS", "customRuntimeConfig", "description", "diskSize",
    "enableLongLiving", "endpoint", "environmentVariables", "functionName", "gpuConfig", "handler",
    "instanceIsolationMode", "instanceLifecycleConfig", "internetAccess", "layers", "logConfig",
    "memorySize", "nasConfig", "ossMountConfig", "provisionConfig", "region", "resourceGroupId",
    "role", "runtime", "scalingConfig", "sessionAffinity", "sessionAffinityConfig", "supplement",
    "tags", "timeout", "instanceConcurrency", "tracingConfig", "triggers", "vpcBinding",
    "vpcConfig",
];

/// `ILifecycleHook`.
const HOOK: &[&str] = &["command", "handler", "timeout"];

/// `IHealthCheckConfig`.
#[rustfmt::skip]
const HEALTH: &[&str] = &[
    "failureThreshold", "httpGetUrl", "initialDelaySeconds", "periodSeconds", "successThreshold",
    "timeoutSeconds",
];

/// `IDestination`.
const DESTINATION: &[&str] = &["destination"];

/// Each nested object (its path under `props`, when it is a map) and the keys its definition
/// lists.
#[rustfmt::skip]
const OBJECTS: &[(&str, &[&str])] = &[
    ("instanceLifecycleConfig", &["initializer", "preStop"]),
    ("instanceLifecycleConfig.initializer", HOOK),
    ("instanceLifecycleConfig.preStop", HOOK),
    ("customRuntimeConfig", &["args", "command", "healthCheckConfig", "port"]),
    ("customRuntimeConfig.healthCheckConfig", HEALTH),
    (
        "customContainerConfig",
        &["command", "entrypoint", "healthCheckConfig", "image", "port", "registryConfig"],
    ),
    ("customContainerConfig.healthCheckConfig", HEALTH),
    (
        "asyncInvokeConfig",
        &["asyncTask", "destinationConfig", "maxAsyncEventAgeInSeconds", "maxAsyncRetryAttempts",
          "qualifier"],
    ),
    ("asyncInvokeConfig.destinationConfig", &["onFailure", "onSuccess"]),
    ("asyncInvokeConfig.destinationConfig.onFailure", DESTINATION),
    ("asyncInvokeConfig.destinationConfig.onSuccess", DESTINATION),
    (
        "logConfig",
        &["enableInstanceMetrics", "enableLlmMetrics", "enableRequestMetrics", "logBeginRule",
          "logstore", "project"],
    ),
    ("code", &["ossBucketName", "ossObjectName", "src"]),
];

/// `ITrigger`.
#[rustfmt::skip]
const TRIGGER: &[&str] = &[
    "description", "invocationRole", "qualifier", "sourceArn", "triggerConfig", "triggerName",
    "triggerType",
];

/// `IHttpTriggerConfig`.
const HTTP_CONFIG: &[&str] = &["authConfig", "authType", "disableURLInternet", "methods"];

/// Warns of each key of `raw` (the props as written) the schema does not know where it is.
pub fn check(raw: &Value, out: &mut Findings) {
    unknown(raw, "", PROPS, out);
    for (path, keys) in OBJECTS {
        if let Some(object) = path.split('.').try_fold(raw, |v, key| v.get(key)) {
            unknown(object, &format!("{path}."), keys, out);
        }
    }
    let triggers = raw.get("triggers").and_then(Value::as_sequence);
    for (i, trigger) in triggers.into_iter().flatten().enumerate() {
        let at = format!("triggers[{i}].");
        unknown(trigger, &at, TRIGGER, out);
        if trigger.get("triggerType").and_then(Value::as_str) == Some("http") {
            if let Some(config) = trigger.get("triggerConfig") {
                unknown(config, &format!("{at}triggerConfig."), HTTP_CONFIG, out);
            }
        }
    }
}

/// Warns of each key of `object` (when it is a map) not in `keys`; `at` is its path, with a dot.
fn unknown(object: &Value, at: &str, keys: &[&str], out: &mut Findings) {
    let Some(map) = object.as_mapping() else {
        return;
    };
    for key in map.keys().filter_map(Value::as_str) {
        if !keys.contains(&key) {
            let rule = if at.is_empty() {
                "not an fc3 prop: s deploy ignores it (misspelt?)"
            } else {
                "not a key the fc3 schema knows here: s deploy ignores it (misspelt?)"
            };
            out.warn(Source::Schema, format!("{at}{key}"), rule.into());
        }
    }
}
